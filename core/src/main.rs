//! The `brum` command line: parse arguments → load configuration → run the
//! reactor → exit with the session's exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use brum::config::{self, Config, ConfigErrors, Source};
use brum::events::human::HumanStyle;
use brum::files;
use brum::output::{Format, Output};
use brum::reactor::{self, FailOn, RunOptions};

mod args;
mod cli;
mod mcp;
mod plugin_cmds;

use args::{Cli, ClientArgs, Cmd, ColorChoice, FailOnChoice, FormatChoice, RunArgs, ScriptsArgs, UpArgs};
use plugin_cmds::{load_plugins, plugins_cmd};
// the client commands in cli.rs name these as crate::…
use args::{ErrorsArgs, LogsArgs, RequestsArgs, TailArgs};

/// Exit code for bad usage or configuration.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Run(args) => run(args),
        Cmd::Scripts(args) => scripts(args),
        Cmd::Plugins(args) => plugins_cmd(args),
        Cmd::Compile(args) => plugin_cmds::compile_cmd(args),
        Cmd::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // into a buffer first: clap_complete panics when its writer fails
            // (`brum completions bash | head`)
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "brum", &mut buf);
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &buf);
            ExitCode::SUCCESS
        }
        Cmd::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            match clap_mangen::Man::new(cmd).render(&mut buf) {
                Ok(()) => {
                    let _ = std::io::Write::write_all(&mut std::io::stdout(), &buf);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("cannot write the man page: {e}")),
            }
        }
        Cmd::Tail(a) => client_cmd(&a.client.clone(), |sock| cli::tail(sock, &a)),
        Cmd::Ps(a) => client_cmd(&a, |sock| cli::ps(sock, a.json)),
        Cmd::Logs(a) => client_cmd(&a.client.clone(), |sock| cli::logs(sock, &a)),
        Cmd::Errors(a) => client_cmd(&a.client.clone(), |sock| cli::errors(sock, &a)),
        Cmd::Urls(a) => client_cmd(&a, |sock| cli::urls(sock, a.json)),
        Cmd::Requests(a) => client_cmd(&a.client.clone(), |sock| cli::requests(sock, &a)),
        Cmd::Start(a) => client_cmd(&a.client.clone(), |sock| cli::lifecycle(sock, "start", &a.name, a.client.json)),
        Cmd::Stop(a) => client_cmd(&a.client.clone(), |sock| cli::lifecycle(sock, "stop", &a.name, a.client.json)),
        Cmd::Restart(a) => {
            client_cmd(&a.client.clone(), |sock| cli::lifecycle(sock, "restart", &a.name, a.client.json))
        }
        Cmd::Reload(a) => client_cmd(&a, |sock| cli::reload(sock, a.json)),
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
        let mut cfg = config::ad_hoc(args.command.clone(), args.name.clone());
        // plugin settings from the brum.toml here (or --config), if any
        match plugin_cmds::ad_hoc_plugin_settings(args.config.as_deref()) {
            Ok(p) => cfg.plugins = p,
            Err(e) => return fail(e),
        }
        cfg
    } else {
        if args.name.is_some() {
            return fail("--name names the command given after `--`; no command was given");
        }
        match load(args.config.as_deref()) {
            Ok(c) => c,
            Err(e) => return fail(e),
        }
    };
    // what the file says, before the overrides below: a reload compares with it
    let start_only = reactor::start_only(&cfg, !args.plugin.no_plugins);
    if let Some(n) = args.max_line_bytes {
        cfg.settings.max_line_bytes = n;
    }
    if let Some(n) = args.ring_bytes {
        cfg.settings.ring_bytes = n;
    }
    if args.proxy {
        cfg.proxy.enabled = true;
    } else if args.no_proxy {
        cfg.proxy.enabled = false;
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
        Some(files::default_socket(&project_dir(&cfg)))
    } else {
        None
    };
    let fail_on = args.fail_on.map(|f| match f {
        FailOnChoice::Error => FailOn::Error,
        FailOnChoice::Warning => FailOn::Warning,
    });
    let opts = RunOptions {
        selection,
        kill_others_on_fail: args.kill_others_on_fail,
        fail_on,
        socket,
        daemon: args.daemon,
        // children get colour when brum's own readable output has it
        child_color: color && matches!(choice, FormatChoice::Human),
        start_only,
        plugin_files: !args.plugin.no_plugins,
    };
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
    if args.json {
        let (source, manager) = match &cfg.source {
            Source::Toml(p) => (Some(p.display().to_string()), None),
            Source::PackageJson { path, manager } => (Some(path.display().to_string()), Some(manager.program())),
            Source::AdHoc => (None, None),
        };
        let processes: Vec<serde_json::Value> = cfg
            .processes
            .iter()
            .enumerate()
            .map(|(i, p)| {
                serde_json::json!({
                    "name": p.name,
                    "command": p.display,
                    "cwd": p.cwd.as_ref().map(|c| c.display().to_string()),
                    "autostart": p.autostart,
                    "depends_on": p.depends_on.iter().map(|&d| cfg.processes[d].name.clone()).collect::<Vec<_>>(),
                    "script": cfg.scripts.get(i).cloned().flatten(),
                    "ready": p.ready.as_ref().map(|r| r.probe.kind()),
                })
            })
            .collect();
        let starts: Vec<&str> = cfg
            .select(&[])
            .map(|sel| sel.iter().map(|&i| cfg.processes[i].name.as_str()).collect())
            .unwrap_or_default();
        println!(
            "{}",
            serde_json::json!({"source": source, "package_manager": manager, "processes": processes, "run_starts": starts})
        );
        return ExitCode::SUCCESS;
    }
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

/// The socket a client command talks to.
fn socket_path(a: &ClientArgs) -> PathBuf {
    files::client_socket(a.socket.as_deref(), a.config.as_deref())
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
    let sock = a.client.socket.clone().unwrap_or_else(|| files::default_socket(&dir));
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
    if a.proxy {
        cmd.arg("--proxy");
    }
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
    // SAFETY: the closure runs in the forked child between fork and exec,
    // where only async-signal-safe calls are sound: setsid(2) is one, and the
    // closure neither allocates nor takes a lock. (Its one failure, EPERM for
    // a group leader, cannot happen to a freshly forked child.)
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
