//! The command line's shape: every subcommand and option, parsed by clap.
//! What each command does is in `main.rs` (run, up, scripts, plugins) and
//! `cli.rs` (the control-socket clients).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use brum::config;

#[derive(Parser, Debug)]
#[command(
    name = "brum",
    version,
    about = "Run a project's dev processes, capture every line they print, and stream it as events.",
    long_about = "brum runs the processes of a development session (package scripts, servers, \
watchers, test runners, any command), captures every line they print, keeps recent output in \
memory and streams everything as readable prefixed lines or as NDJSON events (--json).\n\n\
Processes come from ./brum.toml ([process.NAME] tables), else from the scripts of \
./package.json, or from a command given after `--`."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Cmd {
    /// Run processes in the foreground and stream what they print.
    #[command(after_help = "Examples:\n  \
brum run                         autostart processes of ./brum.toml (else the `dev` script)\n  \
brum run web api                 these processes and what they depend on\n  \
brum run --json | jq .           NDJSON events (schema: docs/events.md)\n  \
brum run -- cargo watch -x test  one ad-hoc command\n  \
brum run --proxy                 a proxy on 127.0.0.1:20888.. per announced URL (brum requests)\n\n\
Output markers: `NAME | line` stdout, `NAME ! line` stderr, `NAME * ...` brum's own notes.\n\
Exit code: 0 when every process succeeded or was stopped by brum; otherwise the exit code of the \
first process that failed (128+N for signal N); 1 when a dependency never became ready; \
130/143 after Ctrl-C/SIGTERM; 2 for configuration errors.\n\n\
brum.toml: [process.NAME] tables with cmd/argv, cwd, env, env_file, autostart, restart, \
restart_delay, restart_max_delay, max_restarts, stop_signal, stop_timeout, depends_on, ready.*, \
health.*, color, raw_terminal; [proxy] enabled, port, inject; every key in docs/config.md.")]
    Run(RunArgs),
    /// List the processes brum would run here, with their resolved command lines.
    Scripts(ScriptsArgs),
    /// Follow the events of the brum running here (NDJSON when piped or with --json).
    Tail(TailArgs),
    /// The processes of the brum running here: state, pid, uptime, restarts, exit code, errors, URLs.
    Ps(ClientArgs),
    /// Search the recent output of a process kept by the brum running here.
    Logs(LogsArgs),
    /// Errors and warnings open right now in the brum running here (--all: with the resolved ones).
    Errors(ErrorsArgs),
    /// URLs the processes announced, found by the brum running here (with their proxy URLs).
    Urls(ClientArgs),
    /// Recent requests through the proxies of the brum running here (`brum run --proxy`).
    #[command(after_help = "Examples:\n  brum requests                 the last 50 requests\n  \
brum requests web --status 5xx  the failed ones of web\n  \
brum requests --status 404,500-599 -n 200 --json")]
    Requests(RequestsArgs),
    /// Start a process of the brum running here.
    Start(NameArgs),
    /// Stop a process of the brum running here (stop signal to its group, SIGKILL after stop_timeout).
    Stop(NameArgs),
    /// Restart a process of the brum running here.
    Restart(NameArgs),
    /// Re-read brum.toml in the brum running here: restart only the processes whose
    /// definition changed, start new ones, stop removed ones, and say what changed. A plugin whose
    /// [plugin.NAME] settings changed is configured afresh (if it refuses them, it keeps the old ones
    /// and the exit code is 1). Plugin files, a plugin switched on or off, [proxy] and the line and
    /// ring sizes load only when brum starts: their changes are listed as not applied.
    Reload(ClientArgs),
    /// Start brum in the background for this project and return when it is ready.
    Up(UpArgs),
    /// Stop the brum running in the background here, and everything it runs; return when all is gone.
    Down(ClientArgs),
    /// Whether a brum is running here (exit 0) or not (exit 3).
    Status(ClientArgs),
    /// Serve the Model Context Protocol on stdio, so AI coding agents can drive and read this session.
    #[command(after_help = "Register it with a client: brum mcp --print-config claude-code|cursor|vscode|windsurf\n\
Tools and resources: docs/mcp.md. It talks to the brum running in the project (starting one with `brum up` when none runs).")]
    Mcp(McpArgs),
    /// List the detector plugins brum would load here, or check one .wasm file.
    #[command(after_help = "Plugins come from: the built-in `errors` and `urls` (and `filter` when \
[plugin.filter] is configured), .brum/plugins/*.wasm in the project, `plugins_dir` in brum.toml, \
and --plugin PATH. Build your own with the SDK in plugins/sdk (see README.md).")]
    Plugins(PluginsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Examples:\n  brum completions bash > ~/.local/share/bash-completion/completions/brum\n  \
brum completions zsh > ~/.zfunc/_brum\n  brum completions fish > ~/.config/fish/completions/brum.fish")]
    Completions { shell: clap_complete::Shell },
    /// Print brum's man page (roff), e.g. `brum man > brum.1 && man ./brum.1`.
    Man,
    /// Compile one plugin into the cache and answer `ok` or `rejected` and
    /// why (brum runs this itself, so that no start-up waits on a compile).
    #[command(name = "__compile", hide = true)]
    Compile(CompileArgs),
}

#[derive(Args, Debug)]
pub(crate) struct CompileArgs {
    /// The cache folder to fill.
    #[arg(long, value_name = "DIR")]
    pub(crate) cache: PathBuf,
    /// A built-in plugin, by name.
    #[arg(long, value_name = "NAME", conflicts_with = "file", required_unless_present = "file")]
    pub(crate) builtin: Option<String>,
    /// A plugin file.
    #[arg(long, value_name = "FILE.wasm")]
    pub(crate) file: Option<PathBuf>,
}

/// How a client command finds the running brum.
#[derive(Args, Debug, Clone)]
pub(crate) struct ClientArgs {
    /// Control socket of the brum to talk to (default: .brum/brum.sock in the project directory).
    #[arg(long, value_name = "PATH", global = true)]
    pub(crate) socket: Option<PathBuf>,
    /// Configuration file whose directory is the project (default: the current directory's).
    #[arg(short, long, value_name = "PATH", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct McpArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// Print the JSON that registers brum with this client, and exit.
    #[arg(long, value_name = "CLIENT")]
    pub(crate) print_config: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct TailArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// Only events of this type (repeatable; `process.*` matches a prefix).
    #[arg(long = "type", value_name = "TYPE")]
    pub(crate) types: Vec<String>,
    /// Only events of this process (repeatable).
    #[arg(long = "process", short = 'p', value_name = "NAME")]
    pub(crate) processes: Vec<String>,
    /// Start with the events after this seq (no gap, no duplicate), then follow.
    #[arg(long, value_name = "SEQ", conflicts_with = "last")]
    pub(crate) since: Option<u64>,
    /// Start with the last N matching events, then follow.
    #[arg(long, value_name = "N")]
    pub(crate) last: Option<usize>,
    /// Print the history asked for and stop.
    #[arg(long)]
    pub(crate) no_follow: bool,
    /// Readable lines (as `brum run` prints them) even when piped; the
    /// default is readable on a terminal, NDJSON otherwise.
    #[arg(long, conflicts_with = "json")]
    pub(crate) human: bool,
}

#[derive(Args, Debug)]
pub(crate) struct LogsArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// The process (default: every process, lines merged in order).
    pub(crate) name: Option<String>,
    /// At most this many lines (the newest).
    #[arg(short = 'n', long, default_value_t = 100)]
    pub(crate) lines: usize,
    /// Only lines containing this text.
    #[arg(long, value_name = "TEXT", conflicts_with = "regex")]
    pub(crate) grep: Option<String>,
    /// Only lines matching this regular expression.
    #[arg(long, value_name = "RE")]
    pub(crate) regex: Option<String>,
    /// Only this stream.
    #[arg(long, value_name = "STREAM", value_parser = ["stdout", "stderr"])]
    pub(crate) stream: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct ErrorsArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// Only this process.
    pub(crate) name: Option<String>,
    /// At most this many (the newest).
    #[arg(short = 'n', long, default_value_t = 50)]
    pub(crate) limit: usize,
    /// Also the errors already resolved (fixed by a clean re-check or a
    /// healthy later run); by default only the open ones.
    #[arg(long)]
    pub(crate) all: bool,
}

#[derive(Args, Debug)]
pub(crate) struct RequestsArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// Only this process.
    pub(crate) name: Option<String>,
    /// Only these statuses: codes (404), classes (5xx), ranges (400-499), comma-separated.
    #[arg(long, value_name = "STATUS")]
    pub(crate) status: Option<String>,
    /// At most this many (the newest).
    #[arg(short = 'n', long, default_value_t = 50)]
    pub(crate) limit: usize,
}

#[derive(Args, Debug)]
pub(crate) struct NameArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// The process.
    pub(crate) name: String,
}

#[derive(Args, Debug)]
pub(crate) struct UpArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// Processes to run (default: every autostart process).
    #[arg(value_name = "NAME")]
    pub(crate) names: Vec<String>,
    /// Put a reverse proxy in front of every http:// URL a process announces (see `brum run --proxy`).
    #[arg(long)]
    pub(crate) proxy: bool,
}

#[derive(Args, Debug)]
pub(crate) struct PluginsArgs {
    #[command(subcommand)]
    pub(crate) action: Option<PluginsAction>,
    /// Configuration file (brum.toml or package.json) instead of the one in the current directory.
    #[arg(short, long, value_name = "PATH", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Also load this plugin (repeatable).
    #[arg(long = "plugin", value_name = "PATH", global = true)]
    pub(crate) plugins: Vec<PathBuf>,
    /// One JSON object per plugin: name, version, source, state (loaded,
    /// off, rejected), filter, cached, load_ms, reason.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum PluginsAction {
    /// Validate one .wasm file: a component of the brum:plugin@0.2.0 world that loads and describes itself
    /// (compiled once: the compiled code, or the refusal, is cached like a session's).
    Check {
        #[arg(value_name = "FILE.wasm")]
        file: PathBuf,
    },
}

/// Plugin options shared by `run`.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct PluginOpts {
    /// Load this detector plugin (.wasm component) too (repeatable).
    #[arg(long = "plugin", value_name = "PATH")]
    pub(crate) plugins: Vec<PathBuf>,
    /// Load no plugins at all (not even the built-in ones).
    #[arg(long)]
    pub(crate) no_plugins: bool,
    /// Exit 2 if a plugin cannot be loaded, instead of going on without it. Plugins not compiled yet
    /// are then compiled before anything starts (without it, processes start at once and such a
    /// plugin catches up on their output when it is ready).
    #[arg(long)]
    pub(crate) strict_plugins: bool,
}

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Processes to run (default: every autostart process).
    #[arg(value_name = "NAME")]
    pub(crate) names: Vec<String>,

    /// Configuration file (brum.toml or package.json) instead of the one in the current directory.
    #[arg(short, long, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,

    /// Write NDJSON events to stdout (one JSON object per line) instead of readable lines; same as --format json.
    #[arg(long)]
    pub(crate) json: bool,

    /// Output format: readable lines, NDJSON events, or GitHub Actions (groups per process, errors and
    /// warnings as ::error/::warning annotations). Default: github when GITHUB_ACTIONS=true and stdout is
    /// not a terminal, else human.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub(crate) format: Option<FormatChoice>,

    /// Exit 1 when detectors found errors (or errors and warnings), even if every process exited 0.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub(crate) fail_on: Option<FailOnChoice>,

    /// Colour in readable output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub(crate) color: ColorChoice,

    /// Name of the ad-hoc command given after `--` (default: the program's file name).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,

    /// When a process fails (and will not be restarted), stop all the others.
    #[arg(long)]
    pub(crate) kill_others_on_fail: bool,

    /// Longest line emitted in one piece; longer lines are split into pieces flagged `truncated` (e.g. 65536, 64KiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) max_line_bytes: Option<usize>,

    /// Memory kept for recent output of each process (e.g. 8MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) ring_bytes: Option<usize>,

    #[command(flatten)]
    pub(crate) plugin: PluginOpts,

    /// Control socket to serve (default: .brum/brum.sock in the project directory; none for a command
    /// given after `--` unless this is set).
    #[arg(long, value_name = "PATH")]
    pub(crate) socket: Option<PathBuf>,

    /// Do not serve the control socket.
    #[arg(long, conflicts_with = "socket")]
    pub(crate) no_socket: bool,

    /// Put a reverse proxy on 127.0.0.1 in front of every http:// URL a process announces (as
    /// `[proxy]` in brum.toml does): requests become `proxy.request` events, failures errors.
    #[arg(long)]
    pub(crate) proxy: bool,

    /// No proxy, even if brum.toml's `[proxy]` asks for one.
    #[arg(long, conflicts_with = "proxy")]
    pub(crate) no_proxy: bool,

    /// Keep running when every process has ended, until `brum down` (used by `brum up`).
    #[arg(long, hide = true)]
    pub(crate) daemon: bool,

    /// Write NDJSON events to this file (rotated at 10 MiB) instead of stdout (used by `brum up`).
    #[arg(long, hide = true, value_name = "PATH")]
    pub(crate) log_file: Option<PathBuf>,

    /// Run this one command (argv, no shell) instead of configured processes.
    #[arg(last = true, value_name = "CMD")]
    pub(crate) command: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct ScriptsArgs {
    /// Configuration file (brum.toml or package.json) instead of the one in the current directory.
    #[arg(short, long, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// One JSON object: source, package manager, processes (name, command,
    /// cwd, autostart, depends_on, script) and what a bare `brum run` starts.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FormatChoice {
    Human,
    Json,
    Github,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOnChoice {
    Error,
    Warning,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

fn parse_size(s: &str) -> Result<usize, String> {
    config::parse_size(s).ok_or_else(|| format!("expected a size such as 65536, 64KiB or 8MiB, got \"{s}\""))
}
