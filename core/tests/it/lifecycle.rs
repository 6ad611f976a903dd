//! The error lifecycle end to end, through the binary: an error is open
//! from `error.detected` until `error.resolved`, repeats count on one id,
//! and `brum errors` / `ps` / the summary answer "what is broken now".
//! Real tools: tsc --watch, a Vite dev server, a crash-looping Python app.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::*;

fn tools_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools")
}

/// Installs the pinned test tools (typescript, vite) from package-lock.json once.
pub fn ensure_tools() -> PathBuf {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let dir = tools_dir();
    ONCE.call_once(|| {
        if ["tsc", "vite"].iter().all(|t| dir.join("node_modules/.bin").join(t).exists()) {
            return;
        }
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .expect("npm (Node.js) is needed for the lifecycle tests");
        assert!(out.status.success(), "npm ci in {} failed:\n{}", dir.display(), String::from_utf8_lossy(&out.stderr));
    });
    dir.join("node_modules/.bin")
}

fn ask(p: &Project, req: Value) -> Value {
    let mut s = UnixStream::connect(p.path().join(".brum").join("brum.sock")).expect("connect");
    s.write_all(format!("{req}\n").as_bytes()).expect("send");
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).expect("answer");
    serde_json::from_str(&line).expect("json")
}

/// `tsc --watch`: two errors, then a fix: `Found 0 errors` resolves both,
/// and `brum errors` has none open, `--all` still lists them.
#[test]
fn a_tsc_watch_fix_cycle_resolves_its_errors() {
    let bin = ensure_tools();
    let p = Project::with_toml(&format!(
        "[process.types]\ncmd = \"{}/tsc --watch --preserveWatchOutput -p .\"\n",
        bin.display()
    ));
    p.write("tsconfig.json", r#"{"compilerOptions":{"strict":true,"noEmit":true},"include":["src"]}"#);
    std::fs::create_dir(p.path().join("src")).expect("mkdir");
    p.write("src/a.ts", "const x: number = \"one\";\nconst y: string = 2;\nexport { x, y };\n");
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    let seen = live.until(|e| e["type"] == "build.event" && e["status"] == "failure");
    let errors: Vec<&Value> = seen.iter().filter(|e| e["type"] == "error.detected").collect();
    assert_eq!(errors.len(), 2, "{seen:#?}");
    let ids: Vec<u64> = errors.iter().filter_map(|e| e["id"].as_u64()).collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    let v = ask(&p, json!({"cmd": "errors"}));
    assert_eq!(v["open"], 2, "{v}");
    let ps = ask(&p, json!({"cmd": "ps"}));
    assert_eq!(ps["processes"][0]["errors"], 2, "{ps}");
    // fix it
    p.write("src/a.ts", "const x: number = 1;\nconst y: string = \"two\";\nexport { x, y };\n");
    let mut clean = false;
    let mut resolved = 0;
    // the resolutions follow the clean report
    let after = live.until(|e| {
        clean |= e["type"] == "build.event" && e["status"] == "success";
        resolved += usize::from(e["type"] == "error.resolved");
        resolved == 2
    });
    assert!(clean, "a clean report came first: {after:#?}");
    let mut all: Vec<u64> =
        after.iter().filter(|e| e["type"] == "error.resolved").filter_map(|e| e["id"].as_u64()).collect();
    all.sort_unstable();
    assert_eq!(all, ids, "both errors resolved: {after:#?}");
    let v = ask(&p, json!({"cmd": "errors"}));
    assert_eq!((v["open"].as_u64(), v["errors"].as_array().map(Vec::len)), (Some(0), Some(0)), "{v}");
    let v = ask(&p, json!({"cmd": "errors", "all": true}));
    let listed: Vec<&Value> = v["errors"].as_array().expect("errors").iter().collect();
    assert_eq!(listed.len(), 2, "{v}");
    assert!(listed.iter().all(|e| e["open"] == false && e["resolved"] == "rebuilt clean"), "{v}");
    let out = p.run(&["errors"], LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no open errors"), "{text}");
    let out = p.run(&["errors", "--all"], LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[resolved: rebuilt clean]"), "{text}");
    let ps = ask(&p, json!({"cmd": "ps"}));
    assert_eq!(
        (ps["processes"][0]["errors"].as_u64(), ps["processes"][0]["errors_total"].as_u64()),
        (Some(0), Some(2))
    );
    ask(&p, json!({"cmd": "shutdown"}));
    let (events, code) = live.rest(LIMIT);
    assert_eq!(code, Some(0));
    let summary = &of_type(&events, "run.summary")[0];
    let row = &summary["processes"][0];
    assert_eq!((row["errors"].as_u64(), row["errors_open"].as_u64()), (Some(2), Some(0)), "{summary}");
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// `GET path` from a local server: the status code.
fn http_get(port: u16, path: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to vite");
    s.set_read_timeout(Some(LIMIT)).expect("timeout");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").as_bytes())
        .expect("request");
    let mut status = String::new();
    BufReader::new(s).read_line(&mut status).expect("status line");
    status.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("status line {status:?}"))
}

/// Stops brum (SIGTERM: it stops its processes) if the test is not done
/// within `limit`, so that a missing event fails the test instead of
/// hanging it. Drop the returned sender to disarm.
fn deadline(live: &Live, limit: Duration) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let pid = live.child.id() as i32;
    std::thread::spawn(move || {
        if rx.recv_timeout(limit) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            kill(pid, libc::SIGTERM);
        }
    });
    tx
}

const GREET_OK: &str = "export function greet(name: string) {\n  return `hi ${name}`;\n}\n";
const GREET_BROKEN: &str = "export function greet(name: string) {\n  return `hi ${name}`;\n}}\n";

/// A Vite dev server: a broken module is reported when it is requested (as
/// a browser does: Vite transforms modules on request), with its file and
/// line; once it is fixed, Vite's `page reload` of the module (its watcher
/// saw a module it had tried to serve change) resolves it.
#[test]
fn a_vite_fix_cycle_resolves_its_error() {
    let bin = ensure_tools();
    let port = free_port();
    let p = Project::with_toml(&format!(
        "[process.web]\ncmd = \"{}/vite --port {port} --strictPort --host 127.0.0.1\"\n",
        bin.display()
    ));
    // The module is broken before Vite starts, and there is no index.html:
    // no edit races Vite's watcher or its dependency scan at startup, the
    // first request of the module fails and Vite logs why
    std::fs::create_dir(p.path().join("src")).expect("mkdir");
    p.write("src/greet.ts", GREET_BROKEN);
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    let armed = deadline(&live, Duration::from_secs(120));
    live.until(|e| e["type"] == "log.line" && e["text"].as_str().is_some_and(|t| t.contains("ready in")));
    assert_eq!(http_get(port, "/src/greet.ts"), 500);
    let seen = live.until(|e| e["type"] == "error.detected");
    let err = seen.last().expect("error");
    assert!(err["file"].as_str().is_some_and(|f| f.ends_with("src/greet.ts")), "{err:#}");
    assert_eq!(err["line"], 3, "{err:#}");
    let id = err["id"].as_u64().expect("id");
    let v = ask(&p, json!({"cmd": "errors"}));
    assert_eq!(v["open"], 1, "{v}");
    // fix it: Vite reloads the module's page, the error is resolved
    p.write("src/greet.ts", GREET_OK);
    let after = live.until(|e| e["type"] == "error.resolved");
    let reload = after.iter().position(|e| e["type"] == "build.event" && e["status"] == "success");
    assert!(reload.is_some_and(|i| i + 1 < after.len()), "a successful rebuild came first: {after:#?}");
    let r = after.last().expect("resolved");
    assert_eq!((r["id"].as_u64(), r["reason"].as_str()), (Some(id), Some("rebuilt clean")), "{r}");
    assert_eq!(http_get(port, "/src/greet.ts"), 200);
    let v = ask(&p, json!({"cmd": "errors"}));
    assert_eq!(v["open"], 0, "{v}");
    ask(&p, json!({"cmd": "shutdown"}));
    drop(armed);
    let (_, code) = live.rest(LIMIT);
    assert_eq!(code, Some(0));
}

/// A crash loop: the same crash in every run is one open error whose count
/// grows; once a run stays up, it is resolved.
#[test]
fn a_crash_loop_keeps_one_error_open_until_a_run_stays_up() {
    let p = Project::with_toml(
        "[process.api]\ncmd = \"python3 app.py\"\nrestart = \"on-failure\"\nrestart_delay = \"100ms\"\n",
    );
    p.write(
        "app.py",
        "import os, sys, time\nn = len(os.listdir('runs')) if os.path.isdir('runs') else 0\nos.makedirs('runs', exist_ok=True)\n\
         open(f'runs/{n}', 'w').close()\nif n < 3:\n    print('booting', flush=True)\n    os.environ['DATABASE_URL']\n\
         print('up and serving', flush=True)\ntime.sleep(876701)\n",
    );
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    let seen = live.until(|e| e["type"] == "log.line" && e["text"] == "up and serving");
    let errors: Vec<&Value> = seen.iter().filter(|e| e["type"] == "error.detected").collect();
    assert_eq!(errors.len(), 3, "one per crash: {errors:#?}");
    let ids: Vec<u64> = errors.iter().filter_map(|e| e["id"].as_u64()).collect();
    assert!(ids.iter().all(|&i| i == ids[0]), "the same error each run: {ids:?}");
    let counts: Vec<u64> = errors.iter().filter_map(|e| e["count"].as_u64()).collect();
    assert_eq!(counts, [1, 2, 3]);
    assert!(seen.iter().all(|e| e["type"] != "error.resolved"), "still open while it crashes");
    let v = ask(&p, json!({"cmd": "errors"}));
    assert_eq!(v["open"], 1, "{v}");
    assert_eq!(v["errors"][0]["count"], 3, "{v}");
    // the fourth run stays up: after the grace period the crash is over
    let start = Instant::now();
    let resolved = live.until(|e| e["type"] == "error.resolved");
    assert!(start.elapsed() >= Duration::from_secs(5), "resolved before the grace period");
    let r = resolved.last().expect("resolved");
    assert_eq!(r["id"].as_u64(), Some(ids[0]));
    assert!(r["reason"].as_str().is_some_and(|s| s.starts_with("recovered")), "{r}");
    let v = ask(&p, json!({"cmd": "errors"}));
    assert_eq!(v["open"], 0, "{v}");
    ask(&p, json!({"cmd": "shutdown"}));
    let (_, code) = live.rest(LIMIT);
    assert_eq!(code, Some(0));
}
