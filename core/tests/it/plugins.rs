//! Plugins for real: the built-in components, a fixture plugin that
//! misbehaves on command, files that are not plugins, the sandbox, and the
//! example custom plugin built from source (guests in other languages:
//! `guests.rs`).

use std::time::Duration;

use serde_json::Value;

use crate::*;

/// A session where process `a` prints "boom" (the fixture's trigger) and,
/// later, a dev-server URL, while process `b` prints 2,000 numbered lines.
fn misbehaving(mode: &str, extra: &str) -> (Vec<Value>, Outcome) {
    let p = Project::with_toml(&format!(
        r#"
plugin_fuel = 50000000
plugin_memory = "16MiB"
[process.a]
cmd = "echo starting; sleep 0.2; echo boom; sleep 0.3; echo '  Local:   http://localhost:4321/'; sleep 0.2"
[process.b]
cmd = "sleep 0.1; seq 1 1000; sleep 0.5; seq 1001 2000"
[plugin.misbehave]
mode = "{mode}"
{extra}
"#
    ));
    p.add_plugin("misbehave", &plugin_wasm("misbehave"));
    p.run_json(&[], LIMIT)
}

fn assert_session_survived(events: &[Value], out: &Outcome) {
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let b: Vec<String> = lines_of(events, "b", "stdout");
    assert_eq!(b.len(), 2000, "process b's lines keep flowing");
    assert!(b.iter().enumerate().all(|(i, l)| *l == (i + 1).to_string()));
    let urls = of_type(events, "url.detected");
    assert!(
        urls.iter().any(|u| u["url"] == "http://localhost:4321/" && u["process"] == "a"),
        "the urls plugin keeps finding: {urls:#?}"
    );
}

fn failure_reason(events: &[Value]) -> String {
    let failed = of_type(events, "plugin.failed");
    assert!(!failed.is_empty(), "expected plugin.failed");
    assert_eq!(failed[0]["plugin"], "misbehave");
    failed[0]["reason"].as_str().expect("reason").to_string()
}

#[test]
fn a_trapping_plugin_is_reported_and_the_session_goes_on() {
    let (events, out) = misbehaving("trap", "");
    assert_session_survived(&events, &out);
    let reason = failure_reason(&events);
    assert!(reason.contains("unreachable") || reason.contains("panic"), "{reason}");
    assert_eq!(of_type(&events, "plugin.failed")[0]["action"], "restarting");
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let (events, out) = misbehaving("loop", "");
    assert_session_survived(&events, &out);
    let reason = failure_reason(&events);
    assert!(reason.contains("fuel"), "{reason}");
}

#[test]
fn a_memory_bomb_hits_the_cap() {
    let (events, out) = misbehaving("alloc", "");
    assert_session_survived(&events, &out);
    let reason = failure_reason(&events);
    // the host traps at the cap: not a panic (the fixture never panics
    // there) and not a refused allocation the plugin lived through
    assert!(reason.starts_with("memory limit exceeded"), "{reason}");
    assert!(reason.contains("growing memory"), "{reason}");
    assert!(!reason.contains('\n') && !reason.contains("backtrace"), "one readable line: {reason}");
    assert!(of_type(&events, "finding").iter().all(|f| f["kind"] != "alloc"), "the plugin lived through the cap");
}

#[test]
fn a_plugin_that_sleeps_is_stopped_not_waited_for() {
    let (events, out) = misbehaving("sleep", "");
    assert_session_survived(&events, &out);
    let reason = failure_reason(&events);
    assert!(reason.contains("may not wait"), "{reason}");
}

/// wasi:http is linked (componentize-js imports it) but sends nothing: a
/// request gets `HTTP-request-denied` at once, and a body write that would
/// wait forever (nothing reads it) stops the plugin instead of the reactor.
#[test]
fn http_is_refused_and_a_write_that_would_wait_stops_the_plugin() {
    let (events, out) = misbehaving("http", "");
    assert_session_survived(&events, &out);
    assert!(of_type(&events, "plugin.failed").is_empty(), "{events:#?}");
    let found: Vec<&Value> = of_type(&events, "finding").into_iter().filter(|f| f["kind"] == "http").collect();
    assert_eq!(found.len(), 1, "{events:#?}");
    assert_eq!(found[0]["message"], "http: refused (ErrorCode::HttpRequestDenied)");

    let (events, out) = misbehaving("http-wait", "");
    assert_session_survived(&events, &out);
    let reason = failure_reason(&events);
    assert!(reason.contains("plugins may not wait"), "{reason}");
    assert!(of_type(&events, "finding").iter().all(|f| f["kind"] != "http"), "the write never returned");
}

#[test]
fn garbage_results_are_rejected() {
    let (events, out) = misbehaving("garbage", "");
    assert_session_survived(&events, &out);
    let reason = failure_reason(&events);
    assert!(reason.starts_with("malformed result"), "{reason}");
    assert!(of_type(&events, "error.detected").iter().all(|e| e["message"] != "made up"));
}

#[test]
fn an_enormous_result_is_rejected() {
    let (events, out) = misbehaving("huge", "");
    assert_session_survived(&events, &out);
    let reason = failure_reason(&events);
    assert!(reason.contains("findings in one call"), "{reason}");
}

#[test]
fn a_crash_looping_plugin_is_disabled() {
    let p = Project::with_toml(
        r#"
[process.ticker]
cmd = "for i in $(seq 1 40); do echo line $i; sleep 0.1; done"
[plugin.misbehave]
mode = "every"
n = "1"
"#,
    );
    p.add_plugin("misbehave", &plugin_wasm("misbehave"));
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0));
    let failed = of_type(&events, "plugin.failed");
    let actions: Vec<&str> = failed.iter().map(|f| f["action"].as_str().expect("action")).collect();
    assert_eq!(actions.last(), Some(&"disabled"), "{failed:#?}");
    assert_eq!(actions.iter().filter(|a| **a == "disabled").count(), 1);
    assert!(actions.len() >= 5);
    assert_eq!(lines_of(&events, "ticker", "stdout").len(), 40, "nothing is lost meanwhile");
}

/// Failures are counted in a window, not reset by the successes between
/// them: a plugin that fails every other batch is disabled too.
#[test]
fn a_plugin_that_fails_every_other_call_is_disabled() {
    let p = Project::with_toml(
        r#"
[process.ticker]
cmd = "for i in $(seq 1 60); do echo line $i; sleep 0.1; done"
[plugin.misbehave]
mode = "every"
n = "2"
"#,
    );
    p.add_plugin("misbehave", &plugin_wasm("misbehave"));
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0));
    let failed = of_type(&events, "plugin.failed");
    let failures: Vec<u64> = failed.iter().filter_map(|f| f["failures"].as_u64()).collect();
    assert_eq!(failures, [1, 2, 3, 4, 5], "{failed:#?}");
    assert_eq!(failed.last().map(|f| &f["action"]), Some(&Value::from("disabled")));
    assert_eq!(lines_of(&events, "ticker", "stdout").len(), 60, "nothing is lost meanwhile");
}

#[test]
fn a_plugin_that_rejects_its_settings_is_not_used() {
    let p = Project::with_toml("[process.a]\ncmd = \"echo boom\"\n[plugin.misbehave]\nmode = \"fail-configure\"\n");
    p.add_plugin("misbehave", &plugin_wasm("misbehave"));
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0));
    let failed = of_type(&events, "plugin.failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["action"], "rejected");
    assert!(failed[0]["reason"].as_str().expect("reason").contains("refuses every configuration"));
    // what it said on stderr while refusing is not lost, and comes first
    let said = events
        .iter()
        .position(|e| {
            e["type"] == "plugin.log" && e["text"] == "misbehave: mode fail-configure, so no settings will do"
        })
        .unwrap_or_else(|| panic!("its stderr is logged: {events:#?}"));
    let rejected = events.iter().position(|e| e["type"] == "plugin.failed").expect("failed");
    assert!(said < rejected, "plugin.log before plugin.failed");
    assert_eq!(events[said]["plugin"], "misbehave");
    let strict = p.run(&["run", "--strict-plugins"], LIMIT);
    assert_eq!(strict.code, Some(2));
    assert!(strict.stderr.contains("misbehave.wasm: rejected its settings"), "{}", strict.stderr);
}

#[test]
fn files_that_are_not_plugins_are_rejected_clearly() {
    let p = Project::with_toml("[process.a]\ncmd = \"echo hi\"\n");
    let junk = p.write("junk.wasm", "definitely not wasm");
    // a core module (not a component): magic + version 1
    let core = p.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").expect("write");
    let intruder = plugin_wasm("intruder");
    let old = plugin_wasm("oldabi");
    for (file, want) in [
        (&junk, "is not valid WebAssembly"),
        (&core, "is not a WebAssembly component"),
        // every import beyond WASI named at once, in one message
        (&intruder, "imports `fixture:intruder/shell` and `fixture:intruder/keychain`, which brum plugins may not use"),
        (&old, "was built for another version of the plugin contract (it imports `brum:plugin/types@0.1.0`"),
    ] {
        let out = p.run(&["plugins", "check", file.to_str().expect("path")], LIMIT);
        assert_eq!(out.code, Some(2), "{}", file.display());
        assert!(out.stderr.contains(want), "{}: {}", file.display(), out.stderr);
        assert!(out.stderr.contains(&file.display().to_string()), "the message names the file");
    }
    // in a session they are skipped with an event, and the rest works
    let (events, out) =
        p.run_json(&["--plugin", junk.to_str().expect("path"), "--plugin", intruder.to_str().expect("path")], LIMIT);
    assert_eq!(out.code, Some(0));
    let rejected: Vec<&Value> = of_type(&events, "plugin.failed");
    assert_eq!(rejected.len(), 2);
    assert!(rejected.iter().all(|e| e["action"] == "rejected"));
    assert_eq!(lines_of(&events, "a", "stdout"), ["hi"]);
    let good = p.run(&["plugins", "check", plugin_wasm("misbehave").to_str().expect("path")], LIMIT);
    assert_eq!(good.code, Some(0), "{}", good.stderr);
    assert!(good.stdout_text().contains("name:        misbehave"));
}

#[test]
fn the_sandbox_gives_no_environment_and_no_clock() {
    let p = Project::with_toml("[process.a]\ncmd = \"echo hello\"\n[plugin.misbehave]\nmode = \"probe\"\n");
    p.add_plugin("misbehave", &plugin_wasm("misbehave"));
    let mut cmd = p.cmd(&["run", "--json"]);
    cmd.env("SECRET_TOKEN", "hunter2");
    let out = finish(
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn"),
        LIMIT,
    );
    let events = parse_events(&out.stdout);
    let probe = of_type(&events, "finding");
    assert_eq!(probe.len(), 1, "{events:#?}");
    assert_eq!(probe[0]["kind"], "probe");
    assert_eq!(probe[0]["message"], "env=0 args=0 wall=0 mono=0");
}

/// Files, sockets and name lookups are linked (so standard toolchains'
/// components load) but grant nothing: each attempt is an error the plugin
/// sees, not a trap, and the plugin goes on.
#[test]
fn the_sandbox_refuses_files_sockets_and_names_at_run_time() {
    let p = Project::with_toml("[process.a]\ncmd = \"echo one; echo two\"\n");
    p.add_plugin("snoop", &plugin_wasm("snoop"));
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(of_type(&events, "plugin.failed").is_empty(), "{events:#?}");
    let found = of_type(&events, "finding");
    assert_eq!(found.len(), 1, "{events:#?}");
    let msg = found[0]["message"].as_str().expect("message");
    for what in ["file: refused", "dir: refused", "tcp: refused", "udp: refused", "dns: refused"] {
        assert!(msg.contains(what), "{what}: {msg}");
    }
    assert!(!msg.contains("ALLOWED"), "{msg}");
}

/// A plugin restarted after a trap is told again which processes run,
/// with the command lines they were started with. The process waits for
/// the plugin to be loaded (a cold compile takes a while), then crashes it
/// and, well after its 100 ms backoff, asks what it knows.
#[test]
fn a_restarted_plugin_learns_the_running_processes_and_their_commands() {
    let cmd = "for i in $(seq 600); do [ -e go ] && break; sleep 0.05; done; echo crash; sleep 0.5; echo boom";
    let p = Project::with_toml(&format!("[process.a]\ncmd = \"{cmd}\"\n[plugin.misbehave]\nmode = \"starts\"\n"));
    p.add_plugin("misbehave", &plugin_wasm("misbehave"));
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "plugin.loaded" && e["plugin"] == "misbehave");
    p.write("go", "");
    let seen = live.until(|e| e["type"] == "finding" && e["plugin"] == "misbehave");
    let (_, code) = live.rest(LIMIT);
    assert_eq!(code, Some(0));
    assert_eq!(of_type(&seen, "plugin.failed").len(), 1, "the crash: {seen:#?}");
    let knows = of_type(&seen, "finding");
    assert_eq!(knows[0]["message"], format!("knows a={cmd}"), "{seen:#?}");
}

/// 100,000 lines to stderr in one call: 20 are shown and the note counts
/// every other one, those cut by the byte cap included.
#[test]
fn a_stderr_flood_is_cut_and_every_line_counted() {
    let p = Project::with_toml("[process.a]\ncmd = \"echo boom\"\n[plugin.misbehave]\nmode = \"flood\"\n");
    p.add_plugin("misbehave", &plugin_wasm("misbehave"));
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let logs: Vec<&str> = of_type(&events, "plugin.log").iter().map(|e| e["text"].as_str().expect("text")).collect();
    assert_eq!(logs.len(), 21, "{logs:#?}");
    assert_eq!(logs[0], "flood line 1");
    assert_eq!(logs[19], "flood line 20");
    assert!(logs[20].starts_with("(stderr rate limit: 99980 more lines not shown, "), "{}", logs[20]);
}

#[test]
fn plugin_stderr_becomes_plugin_log_and_no_thread_is_started() {
    let p = Project::with_toml(
        "[process.a]\ncmd = \"echo one; echo two; sleep 876010\"\n[plugin.misbehave]\nmode = \"stderr\"\n",
    );
    p.add_plugin("misbehave", &plugin_wasm("misbehave"));
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    let seen = live.until(|e| e["type"] == "plugin.log" && e["text"] == "saw: two");
    let tasks = std::fs::read_dir(format!("/proc/{}/task", live.child.id())).expect("task dir").count();
    live.signal(libc::SIGTERM);
    let (_, code) = live.rest(LIMIT);
    assert_eq!(code, Some(143));
    assert_eq!(tasks, 1, "brum must stay single-threaded with plugins loaded and writing");
    assert!(seen.iter().any(|e| e["type"] == "plugin.log" && e["text"] == "saw: one" && e["plugin"] == "misbehave"));
}

#[test]
fn builtin_plugins_find_errors_and_urls_in_a_session() {
    let p = Project::with_toml(
        r#"
[process.web]
cmd = '''printf '  \033[32m➜\033[39m  Local:   \033[36mhttp://localhost:\033[1m5173\033[22m/\033[39m\n'; echo 'docs: https://vitejs.dev/guide/''''
[process.api]
cmd = '''printf 'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n    main()\nValueError: bad port\n' >&2; exit 1'''
"#,
    );
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(1));
    let urls = of_type(&events, "url.detected");
    assert_eq!(urls.len(), 1, "{urls:#?}");
    assert_eq!(urls[0]["url"], "http://localhost:5173/");
    assert_eq!(urls[0]["process"], "web");
    let errors = of_type(&events, "error.detected");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = errors[0];
    assert_eq!(e["process"], "api");
    assert_eq!(e["plugin"], "errors");
    assert_eq!(e["message"], "ValueError: bad port");
    assert_eq!(e["file"], "app.py");
    assert_eq!(e["line"], 3);
    assert_eq!(e["language"], "python");
    // the finding covers the traceback's lines, and comes after them
    let first = e["first_seq"].as_u64().expect("seq");
    let last = e["last_seq"].as_u64().expect("seq");
    let tb: Vec<u64> = events
        .iter()
        .filter(|x| x["type"] == "log.line" && x["process"] == "api")
        .map(|x| x["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!((first, last), (tb[0], tb[3]));
    assert!(e["seq"].as_u64().expect("seq") > last);
    let loaded: Vec<&Value> = of_type(&events, "plugin.loaded").into_iter().map(|e| &e["plugin"]).collect();
    assert_eq!(loaded, ["errors", "urls"]);
    // human output announces them on their own lines
    let human = p.run(&["run"], LIMIT).stdout_text();
    assert!(human.contains("web  * url: http://localhost:5173/"), "{human}");
    assert!(human.contains("api  * error: ValueError: bad port (app.py:3)"), "{human}");
}

#[test]
fn no_plugins_means_no_findings() {
    let p = Project::new();
    let (events, _) = p.run_json(&["--no-plugins", "--", "echo", "http://localhost:3000"], LIMIT);
    assert!(of_type(&events, "url.detected").is_empty());
    assert!(of_type(&events, "plugin.loaded").is_empty());
}

#[test]
fn filter_rules_drop_and_tag_lines() {
    let p = Project::with_toml(
        r#"
[process.api]
cmd = "echo 'GET /health 200'; echo 'GET /api/items 200'; echo 'DeprecationWarning: old'; echo 'GET /health 200'"
[plugin.filter]
rule = [
  { match = "contains", pattern = "GET /health", action = "drop" },
  { match = "contains", pattern = "deprecation", action = "tag", tag = "deprecated", case_sensitive = false },
]
"#,
    );
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&Value> = of_type(&events, "log.line");
    let texts: Vec<&str> = lines.iter().map(|l| l["text"].as_str().expect("text")).collect();
    assert_eq!(texts, ["GET /api/items 200", "DeprecationWarning: old"]);
    assert_eq!(lines[1]["tag"], "deprecated");
    let human = p.run(&["run"], LIMIT).stdout_text();
    assert!(human.contains("api  | [deprecated] DeprecationWarning: old"), "{human}");
    assert!(!human.contains("| GET /health"), "{human}");
}

/// `brum reload` of an edited `[plugin.filter]` gives the running filter
/// its new rules at once, nothing restarted; rules the filter refuses leave
/// the running ones in place, and the reload says why and exits 1.
#[test]
fn reload_gives_the_filter_its_new_rules_and_keeps_the_old_ones_when_refused() {
    let talk = "[process.talk]\ncmd = \"while :; do echo alpha; echo beta; sleep 0.02; done\"\n";
    let rules = |word: &str, action: &str| {
        format!(
            "{talk}[plugin.filter]\nrule = [ {{ match = \"contains\", pattern = \"{word}\", action = \"{action}\" }} ]\n"
        )
    };
    // after the first line of `shown`, twenty of them and never one of `hidden`
    let holds = |live: &mut Live, shown: &str, hidden: &str| {
        live.until(|e| e["type"] == "log.line" && e["text"] == shown);
        let mut n = 0;
        let seen = live.until(|e| {
            n += usize::from(e["type"] == "log.line" && e["text"] == shown);
            n == 20
        });
        assert!(seen.iter().all(|e| e["text"] != hidden), "{hidden} dropped: {seen:#?}");
        assert!(seen.iter().all(|e| e["type"] != "process.started"), "nothing restarted: {seen:#?}");
    };
    let p = Project::with_toml(&rules("alpha", "drop"));
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    holds(&mut live, "beta", "alpha");
    wait_for_socket(&p);
    let reload = |p: &Project| {
        let out = p.run(&["reload", "--json"], LIMIT);
        (out.code, serde_json::from_slice::<Value>(&out.stdout).expect("json answer"))
    };
    p.write("brum.toml", &rules("beta", "drop"));
    let (code, answer) = reload(&p);
    assert_eq!(code, Some(0), "{answer}");
    assert_eq!(answer["reconfigured"], serde_json::json!(["filter"]), "{answer}");
    assert_eq!(answer["restart_needed"], serde_json::json!([]), "{answer}");
    holds(&mut live, "alpha", "beta");
    // refused: the rules that run stay
    p.write("brum.toml", &rules("alpha", "hide"));
    let out = p.run(&["reload"], LIMIT);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("[plugin.filter]")
            && out.stderr.contains("rule.0.action")
            && out.stderr.contains("the old settings stay"),
        "{}",
        out.stderr
    );
    holds(&mut live, "alpha", "beta");
    // a later reload compares with what runs: back to the first rules
    p.write("brum.toml", &rules("alpha", "drop"));
    let (code, answer) = reload(&p);
    assert_eq!((code, &answer["reconfigured"]), (Some(0), &serde_json::json!(["filter"])), "{answer}");
    holds(&mut live, "beta", "alpha");
    assert_eq!(p.run(&["down"], LIMIT).code, Some(0));
    let _ = live.rest(LIMIT);
}

#[test]
fn a_bad_filter_rule_is_reported_with_its_key() {
    let p = Project::with_toml(
        "[process.a]\ncmd = \"echo x\"\n[plugin.filter]\nrule = [ { match = \"contains\", pattern = \"x\", action = \"hide\" } ]\n",
    );
    let (events, _) = p.run_json(&[], LIMIT);
    let failed = of_type(&events, "plugin.failed");
    assert_eq!(failed.len(), 1);
    let reason = failed[0]["reason"].as_str().expect("reason");
    assert!(reason.contains("rule.0.action") && reason.contains("hide"), "{reason}");
}

#[test]
fn the_example_custom_plugin_builds_and_finds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root");
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("todo-plugin");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(root.join("examples/todo-plugin/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run cargo");
    // its log only when it fails: `cargo test` output stays readable
    assert!(
        status.status.success(),
        "building examples/todo-plugin failed:\n{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let wasm = target.join("wasm32-wasip2/release/todo_plugin.wasm");
    let p = Project::with_toml("[process.app]\ncmd = \"echo starting; echo 'TODO: wire the cache'; echo done\"\n");
    p.add_plugin("todo", &wasm);
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0));
    let found = of_type(&events, "finding");
    assert_eq!(found.len(), 1, "{events:#?}");
    assert_eq!(found[0]["kind"], "todo");
    assert_eq!(found[0]["plugin"], "todo");
    assert_eq!(found[0]["message"], "TODO: wire the cache");
    let _ = Duration::ZERO;
}

#[test]
fn a_component_of_another_world_is_rejected() {
    // an ordinary WASI command (a `fn main` program) is a component, but
    // not of the brum:plugin world
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("other-world");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("hello.rs"), "fn main() { println!(\"hello\"); }\n").expect("write");
    let wasm = dir.join("hello.wasm");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let status = std::process::Command::new(rustc)
        .args(["--edition", "2021", "--target", "wasm32-wasip2", "-O"])
        .arg(dir.join("hello.rs"))
        .arg("-o")
        .arg(&wasm)
        .status()
        .expect("rustc");
    assert!(status.success(), "building a wasip2 command failed");
    let p = Project::new();
    let out = p.run(&["plugins", "check", wasm.to_str().expect("path")], LIMIT);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("does not implement the brum:plugin@0.2.0 world") || out.stderr.contains("imports `wasi:"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hello.wasm"), "the message names the file: {}", out.stderr);
}
