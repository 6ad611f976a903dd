//! Plugins in Python and JavaScript, built by their languages' own tools with
//! default options — componentize-py (`examples/todo-python`) and
//! componentize-js (`examples/todo-js`) — and run through the real binary:
//! they load although they import files, sockets and HTTP, find what they
//! should, take their settings, reject bad ones with their own message, see
//! the sandbox's refusals as errors, and brum stays on one thread.
//!
//! `.ci/run` builds both examples first. Missing outputs fail the test in
//! CI; elsewhere the test builds them itself (pip into a venv, `npm ci`), and
//! skips only when python3 or npm is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::*;

/// Compiling a guest (12–18 MB of wasm) takes tens of seconds on a loaded
/// machine; loading it from the cache, milliseconds.
const COMPILE_LIMIT: Duration = Duration::from_secs(600);

struct Guest {
    /// Folder in `examples/`.
    dir: &'static str,
    /// What the build writes there.
    wasm: &'static str,
    /// The sources the build reads (a build older than one is redone).
    sources: &'static [&'static str],
    /// The name the plugin describes itself with.
    name: &'static str,
    /// The program the build needs.
    tool: &'static str,
}

const PYTHON: Guest = Guest {
    dir: "todo-python",
    wasm: "todo_python.wasm",
    sources: &["app.py", "requirements.txt", "build.sh"],
    name: "todo-python",
    tool: "python3",
};

const JAVASCRIPT: Guest = Guest {
    dir: "todo-js",
    wasm: "todo_js.wasm",
    sources: &["todo.js", "package.json", "package-lock.json"],
    name: "todo-js",
    tool: "npm",
};

fn modified(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn run_build(g: &Guest, dir: &Path) {
    let steps: Vec<Vec<&str>> = match g.tool {
        "python3" => vec![vec!["./build.sh"]],
        _ if dir.join("node_modules/.bin/componentize-js").exists() => vec![vec!["npm", "run", "build"]],
        _ => vec![vec!["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], vec!["npm", "run", "build"]],
    };
    for step in steps {
        let out = Command::new(step[0]).args(&step[1..]).current_dir(dir).output().expect("run the build");
        assert!(
            out.status.success(),
            "{} in {} failed:\n{}{}",
            step.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The example's component: built by `.ci/run` (in CI a missing one
/// fails), else built here when older than its sources; `None` (skip) only
/// outside CI on a machine without the tool.
fn built(g: &Guest) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(g.dir);
    let wasm = dir.join(g.wasm);
    let newest_source = g.sources.iter().filter_map(|s| modified(&dir.join(s))).max();
    let fresh = modified(&wasm).is_some_and(|w| newest_source.is_none_or(|s| w >= s));
    if fresh {
        return Some(wasm);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{} is missing or older than its sources: .ci/run builds it (examples/{}), so that step did not run or failed",
            wasm.display(),
            g.dir
        );
    }
    if !have(g.tool) {
        eprintln!("SKIPPED: {} needs {}, which is not installed here (CI always runs it)", g.dir, g.tool);
        return None;
    }
    run_build(g, &dir);
    Some(wasm)
}

/// The guest's own folder of compiled components, so the first run here
/// compiles (cold) and the next ones load from it (warm).
fn cache(g: &Guest) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("guests-cache").join(g.dir)
}

/// A session whose process prints `lines`, then waits; events are read
/// until `done` holds, then brum is stopped.
fn session(
    g: &Guest,
    wasm: &Path,
    settings: &str,
    lines: &str,
    done: impl FnMut(&Value) -> bool,
) -> (Vec<Value>, usize) {
    let p = Project::with_toml(&format!(
        "[process.app]\ncmd = \"printf '{lines}'; sleep 876013\"\n[plugin.{}]\n{settings}\n",
        g.name
    ));
    p.add_plugin(g.name, wasm);
    let mut cmd = p.cmd(&["run", "--json"]);
    cmd.env("BRUM_CACHE_DIR", cache(g));
    let mut live = Live::spawn(cmd);
    let mut seen = live.until(done);
    let tasks = std::fs::read_dir(format!("/proc/{}/task", live.child.id())).expect("task dir").count();
    live.signal(libc::SIGTERM);
    let (rest, code) = live.rest(COMPILE_LIMIT);
    assert_eq!(code, Some(143), "{seen:#?}");
    seen.extend(rest);
    (seen, tasks)
}

fn texts<'a>(events: &'a [Value], ty: &str, plugin: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter(|e| e["type"] == ty && e["plugin"] == plugin)
        .map(|e| e["text"].as_str().or(e["message"].as_str()).expect("text"))
        .collect()
}

fn loaded(events: &[Value], plugin: &str) -> (bool, u64) {
    let l = events
        .iter()
        .find(|e| e["type"] == "plugin.loaded" && e["plugin"] == plugin)
        .unwrap_or_else(|| panic!("{plugin} loaded: {events:#?}"));
    (l["cached"].as_bool().expect("cached"), l["load_ms"].as_u64().expect("load_ms"))
}

fn exercise(g: &Guest, probe_line: &str) {
    let Some(wasm) = built(g) else { return };
    let _ = std::fs::remove_dir_all(cache(g));

    // defaults: TODO and FIXME, severity info; what it prints to stderr
    // while configuring is a plugin.log
    let mut found = 0;
    let (events, tasks) = session(g, &wasm, "", r"start\nTODO: wire the cache\nXXX: later\nFIXME: leak\n", |e| {
        found += usize::from(e["type"] == "finding");
        found == 2
    });
    assert_eq!(tasks, 1, "brum stays on one thread with {} loaded", g.name);
    let cold = loaded(&events, g.name);
    assert!(!cold.0, "the first load compiles");
    assert_eq!(texts(&events, "finding", g.name), ["TODO: wire the cache", "FIXME: leak"]);
    let f = of_type(&events, "finding")[0];
    assert_eq!(
        (&f["kind"], &f["severity"], &f["process"]),
        (&Value::from("todo"), &Value::from("info"), &Value::from("app"))
    );
    assert!(texts(&events, "plugin.log", g.name).contains(&"looking for TODO, FIXME"), "{events:#?}");

    // settings change what it does; the sandbox's refusals are errors the
    // guest catches and reports (no trap, no thread)
    let settings = "markers = \"XXX, HACK\"\nseverity = \"warning\"\nprobe_sandbox = \"true\"";
    let (events, tasks) = session(g, &wasm, settings, r"TODO: not any more\nXXX: later\n", |e| e["type"] == "finding");
    assert_eq!(tasks, 1, "brum stays on one thread after the guest tried the network");
    let warm = loaded(&events, g.name);
    assert!(warm.0, "the second load comes from the cache");
    let f = of_type(&events, "finding");
    assert_eq!(f.len(), 1, "{events:#?}");
    assert_eq!((&f[0]["message"], &f[0]["severity"]), (&Value::from("XXX: later"), &Value::from("warning")));
    let logs = texts(&events, "plugin.log", g.name);
    assert!(logs.iter().any(|l| l.starts_with(probe_line)), "{probe_line}: {logs:#?}");
    assert!(logs.iter().all(|l| !l.ends_with(": allowed")), "{logs:#?}");
    assert!(logs.contains(&"looking for XXX, HACK"), "{logs:#?}");
    assert!(of_type(&events, "plugin.failed").is_empty(), "{events:#?}");

    // a bad setting: rejected with the plugin's own message, the session
    // goes on without it
    // (the refusal may come before or after the process's line: wait for both)
    let (mut refused, mut printed) = (false, false);
    let (events, _) = session(g, &wasm, "severity = \"loud\"", r"TODO: x\n", |e| {
        refused |= e["type"] == "plugin.failed";
        printed |= e["type"] == "log.line" && e["text"] == "TODO: x";
        refused && printed
    });
    let failed = of_type(&events, "plugin.failed");
    assert_eq!(failed[0]["action"], "rejected");
    let reason = failed[0]["reason"].as_str().expect("reason");
    assert!(reason.contains("rejected its settings: severity:") && reason.contains("loud"), "{reason}");
    assert!(reason.contains("not one of info, warning, error"), "{reason}");
    assert_eq!(lines_of(&events, "app", "stdout"), ["TODO: x"]);
    assert!(of_type(&events, "finding").is_empty());

    eprintln!("{}: {} bytes, load cold {} ms, warm {} ms (debug build)", g.name, wasm_len(&wasm), cold.1, warm.1);
}

fn wasm_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn a_componentize_py_plugin_loads_finds_and_takes_its_settings() {
    exercise(&PYTHON, "sandbox: connect to 127.0.0.1:9: refused");
}

#[test]
fn a_componentize_js_plugin_loads_finds_and_takes_its_settings() {
    exercise(&JAVASCRIPT, "sandbox: fetch http://127.0.0.1:9/: refused");
}
