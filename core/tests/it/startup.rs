//! Start-up never waits on a compile: a plugin not in the cache is compiled
//! by a child process while the processes run and `brum ps` answers; once
//! ready it catches up on the lines it missed (and the processes' starts
//! and ends), so no finding is lost; what it can never see is counted. The
//! cache is filled by sessions and `brum plugins check` alike, refusals
//! included.
//!
//! The slow plugin is the misbehave fixture (it reports "boom" lines) with
//! a large core module appended: thousands of functions that wasmtime
//! compiles (seconds in a debug build) and nothing ever calls.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::*;

/// Compiling four plugins at once on a loaded machine, in a debug build.
const SLOW_LIMIT: Duration = Duration::from_secs(300);

fn leb(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn sleb(mut n: i64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if (n == 0 && b & 0x40 == 0) || (n == -1 && b & 0x40 != 0) {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb(body.len() as u64, out);
    out.extend_from_slice(body);
}

/// A core module of `functions` functions, each summing 200 constants;
/// `broken`: the last one adds with nothing on the stack (invalid, found
/// only when the module is validated, that is compiled).
fn big_module(functions: usize, broken: bool) -> Vec<u8> {
    let mut types = Vec::new();
    leb(1, &mut types);
    types.extend_from_slice(&[0x60, 0, 1, 0x7f]); // () -> i32
    let mut funcs = Vec::new();
    leb(functions as u64, &mut funcs);
    funcs.extend(std::iter::repeat_n(0u8, functions));
    let mut code = Vec::new();
    leb(functions as u64, &mut code);
    for f in 0..functions {
        let mut body = vec![1, 1, 0x7f]; // one i32 local
        if broken && f == functions - 1 {
            body.push(0x6a); // i32.add on an empty stack
        }
        body.push(0x41);
        sleb(f as i64, &mut body);
        for i in 0..200i64 {
            body.push(0x41);
            sleb(i * 7 + f as i64, &mut body);
            body.push(0x6a);
            if i % 4 == 3 {
                body.extend_from_slice(&[0x22, 0]); // local.tee 0
            }
        }
        body.push(0x0b);
        leb(body.len() as u64, &mut code);
        code.extend_from_slice(&body);
    }
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    section(1, &types, &mut m);
    section(3, &funcs, &mut m);
    section(10, &code, &mut m);
    m
}

/// The misbehave fixture with a big module inside (written once per test
/// run, the same bytes every time).
fn slow_plugin(broken: bool) -> PathBuf {
    static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = WRITING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(if broken { "broken.wasm" } else { "slow.wasm" });
    let mut wasm = std::fs::read(plugin_wasm("misbehave")).expect("fixture");
    section(1, &big_module(400, broken), &mut wasm);
    if std::fs::read(&file).ok().as_deref() != Some(&wasm[..]) {
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &wasm).expect("write");
        std::fs::rename(&tmp, &file).expect("rename");
    }
    file
}

/// Runs brum with its own (empty at first) compiled-plugin cache.
fn with_cache(p: &Project, cache: &Path, args: &[&str], limit: Duration) -> Outcome {
    let mut cmd = p.cmd(args);
    cmd.env("BRUM_CACHE_DIR", cache).stdout(Stdio::piped()).stderr(Stdio::piped());
    finish(cmd.spawn().expect("spawn brum"), limit)
}

/// [`with_cache`] for `brum run --json`: its events too.
fn run_with_cache(p: &Project, cache: &Path, args: &[&str], limit: Duration) -> (Vec<Value>, Outcome) {
    let out = with_cache(p, cache, args, limit);
    (parse_events(&out.stdout), out)
}

fn seq(e: &Value) -> u64 {
    e["seq"].as_u64().expect("seq")
}

#[test]
fn a_slow_plugin_never_delays_start_up_and_misses_no_line() {
    let cache = tempfile::tempdir().expect("tempdir");
    let p = Project::with_toml(
        r#"
[process.app]
cmd = "echo boom 1; echo boom 2; echo boom 3; while [ ! -e go ]; do sleep 0.05; done; echo boom 4"
[process.api]
cmd = '''printf 'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n    main()\nValueError: bad port\n' >&2'''
"#,
    );
    p.add_plugin("slow_boom", &slow_plugin(false));
    let mut cmd = p.cmd(&["run", "--json"]);
    cmd.env("BRUM_CACHE_DIR", cache.path());
    let mut live = Live::spawn(cmd);
    let mut events = live.until(|e| e["type"] == "log.line" && e["text"] == "boom 3");
    // everything started, and the control socket answers, while the
    // plugins (the built-ins too: the cache is empty) are still compiling
    let started: Vec<u64> = of_type(&events, "process.started").into_iter().map(seq).collect();
    assert_eq!(started.len(), 2, "{events:#?}");
    assert!(of_type(&events, "plugin.loaded").is_empty(), "{events:#?}");
    let (ps, _) = ask_timed(&p, &json!({"cmd": "ps"}));
    let plugins = ps["plugins"].as_array().cloned().unwrap_or_default();
    let slow = plugins.iter().find(|x| x["name"] == "slow_boom").unwrap_or_else(|| panic!("{ps}"));
    assert_eq!(slow["state"], "compiling", "{ps}");
    p.write("go", "");
    let (rest, code) = live.rest(SLOW_LIMIT);
    assert_eq!(code, Some(0));
    events.extend(rest);
    let loaded: Vec<&Value> = of_type(&events, "plugin.loaded");
    assert_eq!(loaded.len(), 3, "{loaded:#?}");
    assert!(loaded.iter().all(|l| l["cached"] == false));
    let slow_loaded = loaded.iter().find(|l| l["plugin"] == "misbehave").expect("loaded");
    assert!(started.iter().all(|&s| s < seq(slow_loaded)), "processes started first");
    // the lines printed before it was ready were given to it
    let booms: Vec<&Value> = of_type(&events, "finding").into_iter().filter(|f| f["kind"] == "boom").collect();
    let texts: Vec<&str> = booms.iter().map(|f| f["message"].as_str().expect("message")).collect();
    assert_eq!(texts, ["boom 1", "boom 2", "boom 3", "boom 4"], "{events:#?}");
    assert!(booms[..3].iter().all(|f| f["first_seq"].as_u64().expect("seq") < seq(slow_loaded)));
    // and the errors plugin, ready after `api` ended, was told it ended:
    // the traceback (flushed at the end of the process) is found
    let errors = of_type(&events, "error.detected");
    assert_eq!(errors.len(), 1, "{events:#?}");
    assert_eq!((&errors[0]["process"], &errors[0]["message"]), (&json!("api"), &json!("ValueError: bad port")));
    assert!(of_type(&events, "plugin.skipped").is_empty());

    // warm: everything is loaded from the cache before anything starts
    let (events, out) = run_with_cache(&p, cache.path(), &["run", "--json"], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let loaded = of_type(&events, "plugin.loaded");
    assert_eq!(loaded.len(), 3);
    assert!(loaded.iter().all(|l| l["cached"] == true), "{loaded:#?}");
    assert_eq!(of_type(&events, "finding").len(), 4);
    assert_eq!(of_type(&events, "error.detected").len(), 1);
}

#[test]
fn lines_pushed_out_before_a_plugin_is_ready_are_counted() {
    let cache = tempfile::tempdir().expect("tempdir");
    let p = Project::with_toml(
        "ring_bytes = \"64KiB\"\nmax_line_bytes = \"1KiB\"\n[process.flood]\ncmd = \"seq 1 20000 | sed 's/^/boom /'\"\n",
    );
    let slow = slow_plugin(false);
    let (events, out) = run_with_cache(
        &p,
        cache.path(),
        &["run", "--json", "--no-plugins", "--plugin", slow.to_str().expect("path")],
        SLOW_LIMIT,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let found = of_type(&events, "finding").len() as u64;
    let skipped = of_type(&events, "plugin.skipped");
    assert_eq!(skipped.len(), 1, "{skipped:#?}");
    let s = skipped[0];
    assert_eq!((&s["plugin"], &s["reason"]), (&json!("misbehave"), &json!("ring_evicted")));
    let (count, given) = (s["count"].as_u64().expect("count"), s["given"].as_u64().expect("given"));
    assert!(count > 0 && given > 0, "{s}");
    // (lines printed after it was ready, if the flood outlasted the compile,
    // it saw live)
    assert!(given <= found, "every line it was given was looked at: {s}");
    assert_eq!(count + found, 20_000, "every line is either seen or counted");
    // the lines it was given are the newest (the ring keeps those)
    let last = of_type(&events, "finding").last().map(|f| f["message"].clone());
    assert_eq!(last, Some(json!("boom 20000")));
}

#[test]
fn plugins_check_fills_the_cache_and_refusals_are_cached_too() {
    let cache = tempfile::tempdir().expect("tempdir");
    let p = Project::with_toml("[process.a]\ncmd = \"echo boom\"\n");
    let slow = slow_plugin(false);
    let components = cache.path().join("components");
    let files = |ext: &str| -> usize {
        std::fs::read_dir(&components)
            .map(|d| d.flatten().filter(|e| e.path().extension().is_some_and(|x| x == ext)).count())
            .unwrap_or(0)
    };
    let out = with_cache(&p, cache.path(), &["plugins", "check", slow.to_str().expect("path")], SLOW_LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(files("cwasm"), 1);
    let plugin = ["run", "--json", "--no-plugins", "--plugin", slow.to_str().expect("path")];
    let (events, out) = run_with_cache(&p, cache.path(), &plugin, LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let loaded = of_type(&events, "plugin.loaded");
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0]["cached"], true, "a session uses what `brum plugins check` compiled");
    // a component that is refused when compiled: the refusal is cached
    let broken = slow_plugin(true);
    let check = ["plugins", "check", broken.to_str().expect("path")];
    let first = with_cache(&p, cache.path(), &check, SLOW_LIMIT);
    assert_eq!(first.code, Some(2));
    assert!(first.stderr.contains("broken.wasm is not valid WebAssembly"), "{}", first.stderr);
    assert_eq!(files("rejected"), 1);
    let again = with_cache(&p, cache.path(), &check, LIMIT);
    assert_eq!((again.code, &again.stderr), (Some(2), &first.stderr), "the same refusal, from the cache");
    let (events, _) = run_with_cache(
        &p,
        cache.path(),
        &["run", "--json", "--no-plugins", "--plugin", broken.to_str().expect("path")],
        LIMIT,
    );
    let failed = of_type(&events, "plugin.failed");
    assert_eq!(failed.len(), 1, "{events:#?}");
    assert_eq!(failed[0]["action"], "rejected");
    assert!(first.stderr.contains(failed[0]["reason"].as_str().expect("reason")));
}

#[test]
fn a_plugin_catches_up_on_at_most_its_bound_and_the_rest_is_counted() {
    let cache = tempfile::tempdir().expect("tempdir");
    let p = Project::with_toml("[process.flood]\ncmd = \"seq 1 120000\"\n");
    let slow = slow_plugin(false);
    let (events, out) = run_with_cache(
        &p,
        cache.path(),
        &["run", "--json", "--no-plugins", "--plugin", slow.to_str().expect("path")],
        SLOW_LIMIT,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(lines_of(&events, "flood", "stdout").len(), 120_000);
    let skipped = of_type(&events, "plugin.skipped");
    assert_eq!(skipped.len(), 1, "{skipped:#?}");
    assert_eq!((&skipped[0]["reason"], &skipped[0]["given"]), (&json!("catch_up_limit"), &json!(100_000)));
    // the rest, but what came after it went live (when the flood outlasted
    // the compile)
    let count = skipped[0]["count"].as_u64().expect("count");
    assert!(count > 0 && count <= 20_000, "{count}");
}
