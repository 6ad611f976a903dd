//! Integration tests: the real `brum` binary driving real children through
//! real pipes and signals. Shared helpers live here; one module per area.

mod attack;
mod browser;
mod config_errors;
mod control;
mod detect;
mod faults;
mod guests;
mod lifecycle;
mod mcp;
mod plugins;
mod proxy;
mod proxy_attack;
mod proxy_browser;
mod proxy_maps;
mod ready;
mod run;
mod settings;
mod startup;
mod view;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One component cache for the whole test run (compiling a plugin in a
/// debug build takes seconds; loading it from the cache milliseconds).
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("brum-cache")
}

/// A compiled plugin from build.rs's output (fixtures included).
pub fn plugin_wasm(name: &str) -> PathBuf {
    PathBuf::from(brum::plugins::fixture_wasm_dir()).join(format!("{name}.wasm"))
}

/// Compiles the built-in plugins into brum's cache once, before any test
/// runs brum: otherwise, after a plugin changed, every brum the tests start
/// at once compiles them itself (seconds each in a debug build), and a
/// loaded 2-core machine misses deadlines.
fn warm_plugin_cache() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("brum.toml"), "[process.x]\ncmd = \"true\"\n[plugin.filter]\n").expect("write");
        let out = Command::new(brum_bin()).arg("plugins").current_dir(dir.path()).output().expect("brum plugins");
        assert!(out.status.success(), "brum plugins: {}", String::from_utf8_lossy(&out.stdout));
    });
}

pub fn brum_bin() -> &'static str {
    env!("CARGO_BIN_EXE_brum")
}

/// The control socket of the project's brum.
pub fn sock(p: &Project) -> PathBuf {
    brum::files::default_socket(p.path())
}

/// Waits until the project's brum accepts connections on its socket.
pub fn wait_for_socket(p: &Project) {
    let start = Instant::now();
    while std::os::unix::net::UnixStream::connect(sock(p)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "brum never opened its socket");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One request over the control socket on a fresh connection: the answer
/// and how long it took (connect to answer line).
pub fn ask_timed(p: &Project, req: &Value) -> (Value, Duration) {
    let start = Instant::now();
    let mut s = std::os::unix::net::UnixStream::connect(sock(p)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    std::io::Write::write_all(&mut s, format!("{req}\n").as_bytes()).expect("send");
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).expect("answer");
    let took = start.elapsed();
    (serde_json::from_str(&line).unwrap_or_else(|e| panic!("answer {line:?}: {e}")), took)
}

/// A scratch project directory, removed at the end of the test.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Default for Project {
    fn default() -> Self {
        Project::new()
    }
}

impl Project {
    pub fn new() -> Project {
        Project { dir: tempfile::Builder::new().prefix("brum-it-").tempdir().expect("tempdir") }
    }

    pub fn with_toml(toml: &str) -> Project {
        let p = Project::new();
        p.write("brum.toml", toml);
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Drops a plugin into the project's `.brum/plugins/` as `NAME.wasm`.
    pub fn add_plugin(&self, name: &str, wasm: &Path) {
        let dir = self.path().join(".brum").join("plugins");
        std::fs::create_dir_all(&dir).expect("mkdir .brum/plugins");
        std::fs::copy(wasm, dir.join(format!("{name}.wasm"))).expect("copy plugin");
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        warm_plugin_cache();
        let mut c = Command::new(brum_bin());
        c.args(args).current_dir(self.path()).env_remove("NO_COLOR").env_remove("GITHUB_ACTIONS");
        c
    }

    /// Runs brum to completion (killing it after `limit`), returning stdout,
    /// stderr and the exit code.
    pub fn run(&self, args: &[&str], limit: Duration) -> Outcome {
        let child = self.cmd(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn brum");
        finish(child, limit)
    }

    pub fn run_json(&self, args: &[&str], limit: Duration) -> (Vec<Value>, Outcome) {
        let mut full = vec!["run", "--json"];
        full.extend_from_slice(args);
        let out = self.run(&full, limit);
        (parse_events(&out.stdout), out)
    }
}

pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub code: Option<i32>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Waits for `child`, reading its output; kills it if it overruns `limit`
/// (the test then fails on the missing exit code, not by hanging).
pub fn finish(mut child: Child, limit: Duration) -> Outcome {
    let start = Instant::now();
    let mut so = child.stdout.take().expect("stdout piped");
    let mut se = child.stderr.take().expect("stderr piped");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = String::new();
        let _ = se.read_to_string(&mut v);
        v
    });
    let code = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status.code().or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                status.signal().map(|s| 128 + s)
            });
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    Outcome { stdout: t_out.join().expect("join"), stderr: t_err.join().expect("join"), code, elapsed }
}

pub fn parse_events(stdout: &[u8]) -> Vec<Value> {
    stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice(l)
                .unwrap_or_else(|e| panic!("invalid JSON line {:?}: {e}", String::from_utf8_lossy(l)))
        })
        .collect()
}

pub fn of_type<'a>(events: &'a [Value], ty: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == ty).collect()
}

/// Text of the `log.line` events of one process and stream.
pub fn lines_of(events: &[Value], process: &str, stream: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "log.line" && e["process"] == process && e["stream"] == stream)
        .map(|e| e["text"].as_str().expect("text line").to_string())
        .collect()
}

/// Pids of live processes whose command line contains `marker`.
pub fn processes_matching(marker: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == std::process::id() as i32 {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(marker) {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // zombies waiting for a reaper are not survivors
            if !state.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z') {
                found.push(pid);
            }
        }
    }
    found
}

/// A running brum whose stdout the test reads line by line.
pub struct Live {
    pub child: Child,
    pub reader: BufReader<std::process::ChildStdout>,
}

impl Live {
    pub fn spawn(mut cmd: Command) -> Live {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn brum");
        let reader = BufReader::new(child.stdout.take().expect("stdout"));
        Live { child, reader }
    }

    /// Reads events until one satisfies `pred`; returns all read so far.
    pub fn until(&mut self, mut pred: impl FnMut(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.reader.read_line(&mut line).expect("read event");
            assert!(n > 0, "brum ended before the expected event; saw {seen:#?}");
            let v: Value = serde_json::from_str(&line).expect("json event");
            let hit = pred(&v);
            seen.push(v);
            if hit {
                return seen;
            }
        }
    }

    pub fn rest(mut self, limit: Duration) -> (Vec<Value>, Option<i32>) {
        let mut buf = Vec::new();
        let start = Instant::now();
        let _ = self.reader.read_to_end(&mut buf);
        let code = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s.code();
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        (parse_events(&buf), code)
    }

    pub fn signal(&self, sig: i32) {
        kill(self.child.id() as i32, sig);
    }
}

/// Sends signal `sig` (a `libc::SIG*` number) to process `pid`; a process
/// already gone is not an error.
pub fn kill(pid: i32, sig: i32) {
    let pid = rustix::process::Pid::from_raw(pid).expect("a pid > 0");
    let sig = rustix::process::Signal::from_named_raw(sig).expect("a named signal");
    let _ = rustix::process::kill_process(pid, sig);
}

/// Waits until the pipe `reader` reads is full: its writer is blocked. A
/// default pipe holds 64 KiB; a writer whose writes of up to PIPE_BUF
/// (4 KiB) are atomic stops short of that by less than 4 KiB.
pub fn wait_until_pipe_full(reader: &impl std::os::fd::AsFd) {
    let start = Instant::now();
    while rustix::io::ioctl_fionread(reader).expect("FIONREAD") < (64 - 4) << 10 {
        assert!(start.elapsed() < LIMIT, "the pipe never filled");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether the tests run as root. A test that needs root is marked
/// `#[ignore = "needs root"]`, named `…_as_root` and asserts this: it never
/// passes by returning early. `.ci/run` (root) runs them with
/// `cargo test -- --ignored _as_root`.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

pub const LIMIT: Duration = Duration::from_secs(60);
