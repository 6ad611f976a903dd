//! The `brum` command line: parse arguments → load configuration → run the
//! reactor → exit with the session's exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use brum::config::{self, Config, ConfigErrors, Source};
use brum::events::human::HumanStyle;
use brum::output::{Format, Output};
use brum::plugins::{self, Budgets, Notice, PluginHost, PluginSpec, Source as PluginSource};
use brum::reactor::{self, FailOn, RunOptions};

mod cli;
mod mcp;

/// Exit code for bad usage or configuration.
const EXIT_USAGE: u8 = 2;

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
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run processes in the foreground and stream what they print.
    #[command(after_help = "Examples:\n  brum run                     all autostart processes of ./brum.toml \
(or the `dev` script of ./package.json)\n  brum run web api             these processes and what they depend on\n  \
brum run --json | jq .        NDJSON events (schema: docs/events.md)\n  brum run -- cargo watch -x test   one ad-hoc command\n\n\
Output markers: `NAME | line` stdout, `NAME ! line` stderr, `NAME * ...` brum's own notes.\n\
Exit code: 0 when every process succeeded or was stopped by brum; otherwise the exit code of the \
first process that failed (128+N for signal N); 130/143 after Ctrl-C/SIGTERM; 2 for configuration errors.")]
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
    /// URLs the processes announced, found by the brum running here.
    Urls(ClientArgs),
    /// Start a process of the brum running here.
    Start(NameArgs),
    /// Stop a process of the brum running here (stop signal to its group, SIGKILL after stop_timeout).
    Stop(NameArgs),
    /// Restart a process of the brum running here.
    Restart(NameArgs),
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
}

/// How a client command finds the running brum.
#[derive(Args, Debug, Clone)]
struct ClientArgs {
    /// Control socket of the brum to talk to (default: .brum/brum.sock in the project directory).
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
    /// Configuration file whose directory is the project (default: the current directory's).
    #[arg(short, long, value_name = "PATH", global = true)]
    config: Option<PathBuf>,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Args, Debug)]
struct McpArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Print the JSON that registers brum with this client, and exit.
    #[arg(long, value_name = "CLIENT")]
    print_config: Option<String>,
}

#[derive(Args, Debug)]
struct TailArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Only events of this type (repeatable; `process.*` matches a prefix).
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<String>,
    /// Only events of this process (repeatable).
    #[arg(long = "process", short = 'p', value_name = "NAME")]
    processes: Vec<String>,
    /// Start with the events after this seq (no gap, no duplicate), then follow.
    #[arg(long, value_name = "SEQ", conflicts_with = "last")]
    since: Option<u64>,
    /// Start with the last N matching events, then follow.
    #[arg(long, value_name = "N")]
    last: Option<usize>,
    /// Print the history asked for and stop.
    #[arg(long)]
    no_follow: bool,
}

#[derive(Args, Debug)]
struct LogsArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The process.
    name: String,
    /// At most this many lines (the newest).
    #[arg(short = 'n', long, default_value_t = 100)]
    lines: usize,
    /// Only lines containing this text.
    #[arg(long, value_name = "TEXT", conflicts_with = "regex")]
    grep: Option<String>,
    /// Only lines matching this regular expression.
    #[arg(long, value_name = "RE")]
    regex: Option<String>,
    /// Only this stream.
    #[arg(long, value_name = "STREAM", value_parser = ["stdout", "stderr"])]
    stream: Option<String>,
}

#[derive(Args, Debug)]
struct ErrorsArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Only this process.
    name: Option<String>,
    /// At most this many (the newest).
    #[arg(short = 'n', long, default_value_t = 50)]
    limit: usize,
    /// Also the errors already resolved (fixed by a clean re-check or a
    /// healthy later run); by default only the open ones.
    #[arg(long)]
    all: bool,
}

#[derive(Args, Debug)]
struct NameArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The process.
    name: String,
}

#[derive(Args, Debug)]
struct UpArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Processes to run (default: every autostart process).
    #[arg(value_name = "NAME")]
    names: Vec<String>,
}

#[derive(Args, Debug)]
struct PluginsArgs {
    #[command(subcommand)]
    action: Option<PluginsAction>,
    /// Configuration file (brum.toml or package.json) instead of the one in the current directory.
    #[arg(short, long, value_name = "PATH", global = true)]
    config: Option<PathBuf>,
    /// Also load this plugin (repeatable).
    #[arg(long = "plugin", value_name = "PATH", global = true)]
    plugins: Vec<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum PluginsAction {
    /// Validate one .wasm file: a component of the brum:plugin@0.1.0 world that loads and describes itself.
    Check {
        #[arg(value_name = "FILE.wasm")]
        file: PathBuf,
    },
}

/// Plugin options shared by `run`.
#[derive(Args, Debug, Clone, Default)]
struct PluginOpts {
    /// Load this detector plugin (.wasm component) too (repeatable).
    #[arg(long = "plugin", value_name = "PATH")]
    plugins: Vec<PathBuf>,
    /// Load no plugins at all (not even the built-in ones).
    #[arg(long)]
    no_plugins: bool,
    /// Exit 2 if a plugin cannot be loaded, instead of going on without it.
    #[arg(long)]
    strict_plugins: bool,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Processes to run (default: every autostart process).
    #[arg(value_name = "NAME")]
    names: Vec<String>,

    /// Configuration file (brum.toml or package.json) instead of the one in the current directory.
    #[arg(short, long, value_name = "PATH")]
    config: Option<PathBuf>,

    /// Write NDJSON events to stdout (one JSON object per line) instead of readable lines; same as --format json.
    #[arg(long)]
    json: bool,

    /// Output format: readable lines, NDJSON events, or GitHub Actions (groups per process, errors and
    /// warnings as ::error/::warning annotations). Default: github when GITHUB_ACTIONS=true and stdout is
    /// not a terminal, else human.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<FormatChoice>,

    /// Exit 1 when detectors found errors (or errors and warnings), even if every process exited 0.
    #[arg(long, value_enum, value_name = "LEVEL")]
    fail_on: Option<FailOnChoice>,

    /// Colour in readable output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    color: ColorChoice,

    /// Name of the ad-hoc command given after `--` (default: the program's file name).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    /// When a process fails (and will not be restarted), stop all the others.
    #[arg(long)]
    kill_others_on_fail: bool,

    /// Longest line emitted in one piece; longer lines are split into pieces flagged `truncated` (e.g. 65536, 64KiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_line_bytes: Option<usize>,

    /// Memory kept for recent output of each process (e.g. 8MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    ring_bytes: Option<usize>,

    #[command(flatten)]
    plugin: PluginOpts,

    /// Control socket to serve (default: .brum/brum.sock in the project directory; none for a command
    /// given after `--` unless this is set).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,

    /// Do not serve the control socket.
    #[arg(long, conflicts_with = "socket")]
    no_socket: bool,

    /// Keep running when every process has ended, until `brum down` (used by `brum up`).
    #[arg(long, hide = true)]
    daemon: bool,

    /// Write NDJSON events to this file (rotated at 10 MiB) instead of stdout (used by `brum up`).
    #[arg(long, hide = true, value_name = "PATH")]
    log_file: Option<PathBuf>,

    /// Run this one command (argv, no shell) instead of configured processes.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
}

#[derive(Args, Debug)]
struct ScriptsArgs {
    /// Configuration file (brum.toml or package.json) instead of the one in the current directory.
    #[arg(short, long, value_name = "PATH")]
    config: Option<PathBuf>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum FormatChoice {
    Human,
    Json,
    Github,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum FailOnChoice {
    Error,
    Warning,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

fn parse_size(s: &str) -> Result<usize, String> {
    config::parse_size(s).ok_or_else(|| format!("expected a size such as 65536, 64KiB or 8MiB, got \"{s}\""))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Run(args) => run(args),
        Cmd::Scripts(args) => scripts(args),
        Cmd::Plugins(args) => plugins_cmd(args),
        Cmd::Tail(a) => client_cmd(&a.client.clone(), |sock| cli::tail(sock, &a)),
        Cmd::Ps(a) => client_cmd(&a, |sock| cli::ps(sock, a.json)),
        Cmd::Logs(a) => client_cmd(&a.client.clone(), |sock| cli::logs(sock, &a)),
        Cmd::Errors(a) => client_cmd(&a.client.clone(), |sock| cli::errors(sock, &a)),
        Cmd::Urls(a) => client_cmd(&a, |sock| cli::urls(sock, a.json)),
        Cmd::Start(a) => client_cmd(&a.client.clone(), |sock| cli::lifecycle(sock, "start", &a.name, a.client.json)),
        Cmd::Stop(a) => client_cmd(&a.client.clone(), |sock| cli::lifecycle(sock, "stop", &a.name, a.client.json)),
        Cmd::Restart(a) => {
            client_cmd(&a.client.clone(), |sock| cli::lifecycle(sock, "restart", &a.name, a.client.json))
        }
        Cmd::Up(a) => up(a),
        Cmd::Mcp(a) => match &a.print_config {
            Some(c) => match mcp::print_config(c) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            },
            None => {
                let sock = mcp::socket_for(a.client.socket.as_deref(), a.client.config.as_deref());
                mcp::run(sock, a.client.config.clone())
            }
        },
        Cmd::Down(a) => client_cmd(&a, |sock| cli::down(sock, a.json)),
        Cmd::Status(a) => client_cmd(&a, |sock| cli::status(sock, a.json)),
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("brum: {msg}");
    ExitCode::from(EXIT_USAGE)
}

fn load(explicit: Option<&std::path::Path>) -> Result<Config, ConfigErrors> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    config::discover(&cwd, explicit)
}

fn run(args: RunArgs) -> ExitCode {
    let mut cfg = if !args.command.is_empty() {
        if !args.names.is_empty() {
            return fail("give either process names or a command after `--`, not both");
        }
        config::ad_hoc(args.command.clone(), args.name.clone())
    } else {
        if args.name.is_some() {
            return fail("--name names the command given after `--`; no command was given");
        }
        match load(args.config.as_deref()) {
            Ok(c) => c,
            Err(e) => return fail(e),
        }
    };
    if let Some(n) = args.max_line_bytes {
        cfg.settings.max_line_bytes = n;
    }
    if let Some(n) = args.ring_bytes {
        cfg.settings.ring_bytes = n;
    }
    if let Err(msg) = cfg.settings.check_limits() {
        return fail(msg);
    }
    if cfg.settings.ring_bytes < 2 * cfg.settings.max_line_bytes {
        return fail(format!(
            "ring size ({} bytes) must be at least twice the maximum line length ({} bytes)",
            cfg.settings.ring_bytes, cfg.settings.max_line_bytes
        ));
    }
    let selection = match cfg.select(&args.names) {
        Ok(s) => s,
        Err(e) => {
            let file = cfg.source_path().map(|p| format!("{}: ", p.display())).unwrap_or_default();
            return fail(format!("{file}{e}"));
        }
    };
    // a daemon may start with nothing running (`brum start NAME` later)
    if selection.is_empty() && !args.daemon {
        if let Source::PackageJson { path, .. } = &cfg.source {
            eprintln!("brum: {} has no \"dev\" script; name the scripts to run:", path.display());
            eprint!("{}", list_processes(&cfg));
            return ExitCode::from(EXIT_USAGE);
        }
        return fail("no process to run: every process has autostart = false; name the ones to run");
    }
    let stdout_tty = std::io::stdout().is_terminal();
    let choice = match (args.json, args.format) {
        (true, Some(f)) if f != FormatChoice::Json => {
            return fail("--json and --format disagree; give one of them");
        }
        (true, _) => FormatChoice::Json,
        (false, Some(f)) => f,
        (false, None) if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") && !stdout_tty => {
            FormatChoice::Github
        }
        (false, None) => FormatChoice::Human,
    };
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let width = selection.iter().map(|&i| cfg.processes[i].name.chars().count()).max().unwrap_or(0).max(4);
    let format = match choice {
        FormatChoice::Json => Format::Json,
        FormatChoice::Human => Format::Human(HumanStyle { color, width }),
        FormatChoice::Github => Format::Github(HumanStyle { color: false, width }),
    };
    let host = match load_plugins(&cfg, &args.plugin) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let out = match &args.log_file {
        Some(path) => match Output::log_file(path, 10 << 20) {
            Ok(o) => o,
            Err(e) => return fail(e.to_string()),
        },
        // small: a quiet process's line never waits behind much chatty output
        None => Output::stdout(format, 128 << 10),
    };
    let socket = if args.no_socket {
        None
    } else if let Some(s) = &args.socket {
        Some(s.clone())
    } else if cfg.source_path().is_some() {
        Some(project_dir(&cfg).join(".brum").join("brum.sock"))
    } else {
        None
    };
    let fail_on = args.fail_on.map(|f| match f {
        FailOnChoice::Error => FailOn::Error,
        FailOnChoice::Warning => FailOn::Warning,
    });
    let opts =
        RunOptions { selection, kill_others_on_fail: args.kill_others_on_fail, fail_on, socket, daemon: args.daemon };
    match reactor::run(&cfg, &opts, out, host) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(reactor::ReactorError::Control(e)) => fail(e),
        Err(e) => {
            eprintln!("brum: {e}");
            ExitCode::from(1)
        }
    }
}

fn list_processes(cfg: &Config) -> String {
    let width = cfg.processes.iter().map(|p| p.name.chars().count()).max().unwrap_or(0);
    let cmd_width = cfg.processes.iter().map(|p| p.display.chars().count()).max().unwrap_or(0);
    let mut s = String::new();
    for (p, script) in cfg.processes.iter().zip(&cfg.scripts) {
        let mut line = format!("  {:width$}  {}", p.name, p.display);
        if let Some(body) = script {
            line = format!("  {:width$}  {:cmd_width$}  # {body}", p.name, p.display);
        } else if !p.autostart {
            line.push_str("  (autostart = false)");
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

fn scripts(args: ScriptsArgs) -> ExitCode {
    let cfg = match load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match &cfg.source {
        Source::Toml(p) => println!("Processes in {}:", p.display()),
        Source::PackageJson { path, manager } => {
            println!("Scripts in {} (run with {}):", path.display(), manager.program())
        }
        Source::AdHoc => {}
    }
    print!("{}", list_processes(&cfg));
    if let Ok(sel) = cfg.select(&[]) {
        let names: Vec<&str> = sel.iter().map(|&i| cfg.processes[i].name.as_str()).collect();
        if names.is_empty() {
            println!("`brum run` alone starts nothing here; name what to run.");
        } else {
            println!("`brum run` alone starts: {}", names.join(", "));
        }
    }
    ExitCode::SUCCESS
}

/// The project directory: where the configuration file lives, else the
/// current directory.
fn project_dir(cfg: &Config) -> PathBuf {
    cfg.source_path()
        .and_then(|p| p.parent())
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

fn wasm_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "wasm")).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// What to load, in order: built-ins, the project's .brum/plugins, the
/// configured plugins_dir, then --plugin files.
fn plugin_specs(cfg: &Config, opts: &PluginOpts) -> Vec<PluginSpec> {
    let mut specs = Vec::new();
    let table = |name: &str| cfg.plugins.table(name);
    if !opts.no_plugins {
        for b in &plugins::BUILTINS {
            let enabled = table(b.name).map(|t| t.enabled).unwrap_or(b.default_on);
            if enabled {
                let settings = table(b.name).map(|t| t.settings.clone()).unwrap_or_default();
                specs.push(PluginSpec { source: PluginSource::Builtin(b), settings });
            }
        }
    }
    let mut files = Vec::new();
    if !opts.no_plugins {
        files.extend(wasm_files(&project_dir(cfg).join(".brum").join("plugins")));
        if let Some(d) = &cfg.plugins.dir {
            files.extend(wasm_files(d));
        }
    }
    files.extend(opts.plugins.iter().cloned());
    for f in files {
        let stem = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if table(&stem).is_some_and(|t| !t.enabled) {
            continue;
        }
        let settings = table(&stem).map(|t| t.settings.clone()).unwrap_or_default();
        specs.push(PluginSpec { source: PluginSource::File(f), settings });
    }
    specs
}

fn new_host(cfg: &Config) -> Result<PluginHost, ExitCode> {
    let budgets = Budgets {
        fuel: cfg.plugins.fuel.unwrap_or(plugins::DEFAULT_FUEL),
        memory: cfg.plugins.memory.unwrap_or(plugins::DEFAULT_MEMORY),
    };
    let names = cfg.processes.iter().map(|p| p.name.clone()).collect();
    PluginHost::new(budgets, names).map_err(|e| {
        eprintln!("brum: {e}");
        ExitCode::from(1)
    })
}

fn load_plugins(cfg: &Config, opts: &PluginOpts) -> Result<Option<PluginHost>, ExitCode> {
    let specs = plugin_specs(cfg, opts);
    if specs.is_empty() {
        return Ok(None);
    }
    let mut host = new_host(cfg)?;
    let cache = plugins::cache_dir();
    for spec in &specs {
        if let Err(reason) = host.load(spec, cache.as_deref())
            && opts.strict_plugins
        {
            eprintln!("brum: plugin {}: {reason}", spec.source.describe());
            return Err(ExitCode::from(EXIT_USAGE));
        }
    }
    Ok(Some(host))
}

fn plugins_cmd(args: PluginsArgs) -> ExitCode {
    if let Some(PluginsAction::Check { file }) = &args.action {
        return match plugins::check_file(file) {
            Ok((info, imports)) => {
                println!("{}: ok", file.display());
                println!("  name:        {}", info.name);
                println!("  version:     {}", info.version);
                println!("  description: {}", info.description);
                println!("  filter:      {}", info.filter);
                println!("  imports:     {}", if imports.is_empty() { "none".to_string() } else { imports.join(", ") });
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    let cfg = match load(args.config.as_deref()) {
        Ok(c) => c,
        Err(ConfigErrors(errs)) if errs.iter().all(|e| e.message.starts_with("no brum.toml")) => {
            config::ad_hoc(vec!["true".into()], None)
        }
        Err(e) => return fail(e),
    };
    let opts = PluginOpts { plugins: args.plugins.clone(), ..PluginOpts::default() };
    for b in &plugins::BUILTINS {
        if !cfg.plugins.table(b.name).map(|t| t.enabled).unwrap_or(b.default_on) {
            println!(
                "{:<10} {:<8} {:<22} off (enable with [plugin.{}])",
                b.name,
                "-",
                format!("builtin:{}", b.name),
                b.name
            );
        }
    }
    let specs = plugin_specs(&cfg, &opts);
    let mut host = match new_host(&cfg) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let cache = plugins::cache_dir();
    let mut bad = false;
    for spec in &specs {
        let _ = host.load(spec, cache.as_deref());
        for n in host.take_notices() {
            match n {
                Notice::Loaded { plugin, version, source, filter, cached, load_ms } => {
                    let kind = if filter { "filter" } else { "detector" };
                    let how = if cached { "cached" } else { "compiled" };
                    println!("{plugin:<10} {version:<8} {source:<22} loaded ({kind}, {how} in {load_ms} ms)");
                }
                Notice::Rejected { plugin, source, reason } => {
                    bad = true;
                    println!("{plugin:<10} {:<8} {source:<22} REJECTED: {reason}", "-");
                }
                Notice::Failed { .. } | Notice::Log { .. } => {}
            }
        }
    }
    if bad { ExitCode::from(EXIT_USAGE) } else { ExitCode::SUCCESS }
}

/// The socket a client command talks to.
fn socket_path(a: &ClientArgs) -> PathBuf {
    if let Some(s) = &a.socket {
        return s.clone();
    }
    let dir = match &a.config {
        Some(c) => c.parent().filter(|p| !p.as_os_str().is_empty()).map(PathBuf::from).unwrap_or_else(|| ".".into()),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    dir.join(".brum").join("brum.sock")
}

fn client_cmd(
    a: &ClientArgs,
    f: impl FnOnce(&std::path::Path) -> Result<ExitCode, brum::control::client::ClientError>,
) -> ExitCode {
    let sock = socket_path(a);
    match f(&sock) {
        Ok(code) => code,
        Err(brum::control::client::ClientError::NotRunning(p)) => {
            eprintln!(
                "brum: no brum is running here (nothing listens on {}); start one with `brum up` or `brum run`",
                p.display()
            );
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("brum: {e}");
            ExitCode::from(1)
        }
    }
}

/// `brum up`: checks the configuration here, then starts `brum run
/// --daemon` in its own session with events going to .brum/brum.log, and
/// waits until it answers on its socket.
fn up(a: UpArgs) -> ExitCode {
    let cfg = match load(a.client.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Err(e) = cfg.select(&a.names) {
        return fail(e);
    }
    let dir = project_dir(&cfg);
    let sock = a.client.socket.clone().unwrap_or_else(|| dir.join(".brum").join("brum.sock"));
    if let Ok(v) = brum::control::client::call(&sock, &serde_json::json!({"cmd": "hello"})) {
        return fail(format!("brum is already running here (pid {}, socket {})", v["pid"], sock.display()));
    }
    let log = dir.join(".brum").join("brum.log");
    if let Err(e) = brum::files::private_dir(&dir.join(".brum")) {
        return fail(e.to_string());
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return fail(format!("cannot find brum's own binary: {e}")),
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("run").arg("--daemon").arg("--log-file").arg(&log).arg("--socket").arg(&sock);
    if let Some(c) = &a.client.config {
        cmd.arg("--config").arg(c);
    }
    cmd.args(&a.names).current_dir(&dir);
    let err_file = match brum::files::private_file(&dir.join(".brum").join("brum.err"), false) {
        Ok(f) => f,
        Err(e) => return fail(e.to_string()),
    };
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(err_file);
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid in the child before exec: async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot start brum in the background: {e}")),
    };
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(30) {
        if let Ok(v) = brum::control::client::call(&sock, &serde_json::json!({"cmd": "hello"})) {
            if a.client.json {
                println!("{v}");
            } else {
                println!(
                    "brum is running in the background (pid {}): socket {}, events in {}",
                    v["pid"],
                    sock.display(),
                    log.display()
                );
            }
            return ExitCode::SUCCESS;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let err = std::fs::read_to_string(dir.join(".brum").join("brum.err")).unwrap_or_default();
            return fail(format!("brum stopped right away ({status}): {}", err.trim()));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    fail("brum did not answer on its socket within 30 s; see .brum/brum.err and .brum/brum.log")
}
