//! Faults survived: children that die in every way, brum killed, plugins
//! that fail, output sinks that fail, too few file descriptors, many
//! processes, a giant line, and a short load test. Each test asserts what a
//! user would check; docs/reliability.md lists the cases and the limits.
//!
//! Every brum started here carries `BRUM_FAULT_MARK=<unique>` in its
//! environment, which every descendant inherits, so "nothing left behind"
//! is checked by scanning `/proc/*/environ` for the mark — whatever the
//! leftovers' command lines.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::*;

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

const MARK_VAR: &str = "BRUM_FAULT_MARK";

/// A mark unique to this test run and call. Dropping it SIGKILLs whatever
/// still carries it (brum included), so a failing test leaves nothing
/// running either.
struct Mark(String);

impl std::ops::Deref for Mark {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        kill_all(&marked(&self.0));
    }
}

fn new_mark() -> Mark {
    static N: AtomicU32 = AtomicU32::new(0);
    Mark(format!("bfm{}x{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
}

/// `p.cmd(args)` with the mark in the environment.
fn marked_cmd(p: &Project, mark: &str, args: &[&str]) -> Command {
    let mut c = p.cmd(args);
    c.env(MARK_VAR, mark);
    c
}

/// Live (non-zombie) processes carrying `mark`, with their command lines.
fn marked(mark: &str) -> Vec<(i32, String)> {
    let needle = format!("{MARK_VAR}={mark}\0");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        if !env.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            continue;
        }
        if proc_state(pid) == Some('Z') {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        found.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ").trim().to_string()));
    }
    found
}

/// Waits up to `grace` for every marked process to be gone; returns the
/// ones still there (then kills them, so one failure does not leak).
fn leftovers(mark: &str, grace: Duration) -> Vec<(i32, String)> {
    let start = Instant::now();
    loop {
        let left = marked(mark);
        if left.is_empty() || start.elapsed() > grace {
            kill_all(&left);
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill_all(procs: &[(i32, String)]) {
    for (pid, _) in procs {
        kill(*pid, libc::SIGKILL);
    }
}

/// State letter and parent pid from /proc/PID/stat.
fn proc_stat(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    Some((state, ppid))
}

fn proc_state(pid: i32) -> Option<char> {
    proc_stat(pid).map(|s| s.0)
}

/// Zombies whose parent is `ppid`.
fn zombies_of(ppid: i32) -> Vec<i32> {
    children_of(ppid).into_iter().filter(|&(_, state)| state == 'Z').map(|(pid, _)| pid).collect()
}

/// The children of `ppid`, zombies included, with their state letter.
fn children_of(ppid: i32) -> Vec<(i32, char)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Some((state, parent)) = proc_stat(pid)
            && parent == ppid
        {
            out.push((pid, state));
        }
    }
    out
}

/// A `/proc/PID/status` field in KiB (VmRSS, VmHWM).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn ps_state(p: &Project, name: &str) -> String {
    let (v, _) = ask_timed(p, &json!({"cmd": "ps"}));
    v["processes"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["name"] == name)
        .map(|r| r["state"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

fn exited<'a>(events: &'a [Value], name: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["type"] == "process.exited" && e["process"] == name)
        .unwrap_or_else(|| panic!("no process.exited for {name}"))
}

fn no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "brum panicked:\n{stderr}");
}

// ---------------------------------------------------------------------------
// children that die in every way
// ---------------------------------------------------------------------------

#[test]
fn every_common_signal_gives_128_plus_n_and_its_name() {
    let p = Project::new();
    let signals = [
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGXCPU, "SIGXCPU"),
        (libc::SIGXFSZ, "SIGXFSZ"),
        (libc::SIGVTALRM, "SIGVTALRM"),
        (libc::SIGPROF, "SIGPROF"),
        (libc::SIGSYS, "SIGSYS"),
    ];
    for (sig, name) in signals {
        // no core files; the child kills itself with the signal, which also
        // shows brum hands children default dispositions (SIGPIPE included)
        let script = format!("ulimit -c 0; echo before; kill -{sig} $$; echo after");
        let (events, out) = p.run_json(&["--no-plugins", "--", "sh", "-c", &script], LIMIT);
        no_panic(&out.stderr);
        assert_eq!(out.code, Some(128 + sig), "{name}: brum's exit code");
        let ex = exited(&events, "sh");
        assert_eq!(ex["signal"], name, "{name}: {ex}");
        assert_eq!(ex["code"], Value::Null, "{name}");
        assert_eq!(ex["state"], "failed", "{name}: a signal brum did not send is a failure");
        assert_eq!(lines_of(&events, "sh", "stdout"), ["before"], "{name}");
        assert_eq!(of_type(&events, "daemon.stopped")[0]["exit_code"], 128 + sig);
    }
}

#[test]
fn children_that_exit_at_once_are_all_reported() {
    let mut toml = String::new();
    let kinds: [(&str, i64); 6] = [
        ("argv = [\"true\"]", 0),
        ("argv = [\"false\"]", 1),
        ("cmd = \"exit 42\"", 42),
        ("cmd = \"printf no-newline\"", 0),
        ("cmd = \"exec echo exec-ed\"", 0),
        ("cmd = \"echo out; echo err >&2; exit 3\"", 3),
    ];
    for i in 0..30 {
        toml.push_str(&format!("[process.p{i}]\n{}\n", kinds[i % kinds.len()].0));
    }
    let p = Project::with_toml(&toml);
    let mark = new_mark();
    let child = marked_cmd(&p, &mark, &["run", "--json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let out = finish(child.expect("spawn"), LIMIT);
    no_panic(&out.stderr);
    let events = parse_events(&out.stdout);
    assert!(matches!(out.code, Some(1 | 3 | 42)), "the first failure's code: {:?}", out.code);
    for i in 0..30 {
        let name = format!("p{i}");
        let (_, want) = kinds[i % kinds.len()];
        let ex = exited(&events, &name);
        assert_eq!(ex["code"], want, "{name}: {ex}");
        assert_eq!(ex["state"], if want == 0 { "success" } else { "failed" }, "{name}");
        let outl = lines_of(&events, &name, "stdout");
        match i % kinds.len() {
            3 => assert_eq!(outl, ["no-newline"], "{name}: the unterminated line is delivered"),
            4 => assert_eq!(outl, ["exec-ed"]),
            5 => {
                assert_eq!(outl, ["out"]);
                assert_eq!(lines_of(&events, &name, "stderr"), ["err"]);
            }
            _ => assert!(outl.is_empty()),
        }
    }
    assert_eq!(of_type(&events, "process.started").len(), 30);
    assert!(leftovers(&mark, Duration::from_secs(2)).is_empty());
}

#[test]
fn children_get_an_empty_stdin_even_when_brum_has_an_open_one() {
    // brum's own stdin is a pipe that stays open and silent: a child that
    // reads stdin must see end-of-file at once, not hang.
    let p = Project::with_toml(
        r#"
[process.cat]
cmd = "cat; echo cat-done"
[process.reader]
cmd = "read x; echo \"read:[$x]\""
[process.counter]
cmd = "wc -c"
"#,
    );
    let mark = new_mark();
    let mut cmd = marked_cmd(&p, &mark, &["run", "--json"]);
    cmd.stdin(Stdio::piped());
    let live = Live::spawn(cmd);
    let start = Instant::now();
    let (events, code) = live.rest(Duration::from_secs(20));
    assert_eq!(code, Some(0), "children reading stdin must not hang ({:?})", start.elapsed());
    assert_eq!(lines_of(&events, "cat", "stdout"), ["cat-done"]);
    assert_eq!(lines_of(&events, "reader", "stdout"), ["read:[]"]);
    assert_eq!(lines_of(&events, "counter", "stdout"), ["0"]);
    assert!(leftovers(&mark, Duration::from_secs(2)).is_empty());
}

#[test]
fn a_child_that_closes_its_output_is_still_seen_to_run_and_to_exit() {
    let p = Project::with_toml(
        r#"
[process.quiet]
cmd = "echo before; exec >&- 2>&-; sleep 0.8; exit 7"
[process.mute]
cmd = "echo muted; exec >/dev/null 2>&1; exec sleep 876401"
"#,
    );
    let mark = new_mark();
    let mut live = Live::spawn(marked_cmd(&p, &mark, &["run", "--json"]));
    let mut seen = live.until(|e| e["type"] == "log.line" && e["text"] == "muted");
    wait_for_socket(&p);
    // `mute` has closed its pipes once it is the exec'd sleep
    let start = Instant::now();
    while processes_matching("876401").is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "mute never became its sleep");
        std::thread::sleep(Duration::from_millis(10));
    }
    // both pipes of `mute` are at EOF, but the process is alive
    assert_eq!(ps_state(&p, "mute"), "running", "EOF on the pipes is not an exit");
    seen.extend(live.until(|e| e["type"] == "process.exited" && e["process"] == "quiet"));
    let q = exited(&seen, "quiet");
    assert_eq!(q["code"], 7, "{q}");
    assert!(q["duration_ms"].as_u64().expect("duration") >= 750, "seen to exit when it exits: {q}");
    assert_eq!(lines_of(&seen, "quiet", "stdout"), ["before"]);
    assert_eq!(ps_state(&p, "mute"), "running");
    live.signal(libc::SIGTERM);
    let (rest, code) = live.rest(LIMIT);
    assert_eq!(code, Some(143));
    assert_eq!(exited(&rest, "mute")["state"], "stopped");
    assert!(leftovers(&mark, Duration::from_secs(2)).is_empty());
}

#[test]
fn two_hundred_grandchildren_leave_nothing_behind() {
    // one parent forks 200 and exits at once; another forks 200 and waits
    // until brum is told to stop
    let p = Project::with_toml(
        r#"
[process.forker]
cmd = "for i in $(seq 1 200); do sleep 876402 & done; echo forked; exit 0"
[process.waiter]
cmd = "for i in $(seq 1 200); do sleep 876403 & done; echo forked; wait"
"#,
    );
    let mark = new_mark();
    let mut live = Live::spawn(marked_cmd(&p, &mark, &["run", "--json"]));
    let mut forked = 0;
    live.until(|e| {
        forked += usize::from(e["type"] == "log.line" && e["text"] == "forked");
        forked == 2
    });
    // the forker's 200 are stopped as soon as it exits ...
    let start = Instant::now();
    while marked(&mark).iter().any(|(_, c)| c == "sleep 876402") {
        assert!(start.elapsed() < Duration::from_secs(10), "the forker's children outlived it");
        std::thread::sleep(Duration::from_millis(20));
    }
    // ... and the waiter's are all there until brum stops
    let waiting = marked(&mark).iter().filter(|(_, c)| c == "sleep 876403").count();
    assert_eq!(waiting, 200);
    live.signal(libc::SIGTERM);
    let (events, code) = live.rest(LIMIT);
    assert_eq!(code, Some(143));
    assert_eq!(exited(&events, "waiter")["state"], "stopped");
    let left = leftovers(&mark, Duration::from_secs(2));
    assert!(left.is_empty(), "{} descendants left behind: {:?}", left.len(), &left[..left.len().min(5)]);
}

#[test]
fn zombies_of_a_careless_parent_are_reaped() {
    // `keeper` forks 20 children that exit soon, and becomes a `sleep` that
    // never waits for them: 20 zombies. `dropper` forks 20 and exits, leaving
    // them to brum (the subreaper).
    let p = Project::with_toml(
        r#"
[process.keeper]
cmd = "for i in $(seq 1 20); do sleep 0.3 & done; echo spawned; exec sleep 876404"
[process.dropper]
cmd = "for i in $(seq 1 20); do (sleep 0.3) & done; echo dropped"
"#,
    );
    let mark = new_mark();
    let mut live = Live::spawn(marked_cmd(&p, &mark, &["run", "--json"]));
    let brum_pid = live.child.id() as i32;
    let seen = live.until(|e| e["type"] == "process.exited" && e["process"] == "dropper");
    let keeper = seen
        .iter()
        .find(|e| e["type"] == "process.started" && e["process"] == "keeper")
        .and_then(|e| e["pid"].as_i64())
        .expect("keeper pid") as i32;
    let start = Instant::now();
    while zombies_of(keeper).len() < 20 {
        assert!(start.elapsed() < Duration::from_secs(10), "the fixture should have made 20 zombies");
        std::thread::sleep(Duration::from_millis(20));
    }
    // the dropper's 20 were re-parented to brum: once they have all exited
    // and been reaped, keeper is brum's only child (a zombie still counts)
    while children_of(brum_pid).iter().any(|&(pid, _)| pid != keeper) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "brum reaps what is re-parented to it: children {:?}",
            children_of(brum_pid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    live.signal(libc::SIGTERM);
    let (_, code) = live.rest(LIMIT);
    assert_eq!(code, Some(143));
    assert!(leftovers(&mark, Duration::from_secs(2)).is_empty());
    assert!(zombies_of(keeper).is_empty());
}

#[test]
fn a_whole_tree_ignoring_sigterm_is_killed_after_stop_timeout() {
    let p = Project::with_toml(
        r#"
[process.stubborn]
cmd = "trap '' TERM; for i in 1 2 3; do sh -c \"trap '' TERM; sleep 876405\" & done; echo ready; wait"
stop_timeout = "400ms"
"#,
    );
    let mark = new_mark();
    let mut live = Live::spawn(marked_cmd(&p, &mark, &["run", "--json"]));
    live.until(|e| e["type"] == "log.line" && e["text"] == "ready");
    let start = Instant::now();
    live.signal(libc::SIGTERM);
    let (events, code) = live.rest(LIMIT);
    let took = start.elapsed();
    assert_eq!(code, Some(143));
    let ex = exited(&events, "stubborn");
    assert_eq!(ex["state"], "stopped");
    assert_eq!(ex["signal"], "SIGKILL", "{ex}");
    assert!(took >= Duration::from_millis(380), "SIGKILL only after stop_timeout ({took:?})");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(leftovers(&mark, Duration::from_secs(2)).is_empty());
}

#[test]
fn setsid_escapees_live_while_their_parent_runs_and_die_with_the_session() {
    // An escapee (own session, own group) is out of reach of a stop of its
    // process while its parent lives; once the parent is gone it is
    // re-parented to brum, and at the end of the session it is killed.
    let p = Project::with_toml(
        r#"
[process.parent]
cmd = "setsid sh -c 'sleep 876406 & exec sleep 876407' >/dev/null 2>&1 & echo ready; wait"
[process.other]
cmd = "sleep 876408"
"#,
    );
    let mark = new_mark();
    let mut live = Live::spawn(marked_cmd(&p, &mark, &["run", "--json"]));
    live.until(|e| e["type"] == "log.line" && e["text"] == "ready");
    wait_for_socket(&p);
    let escapees = |m: &str| -> Vec<String> {
        marked(m).into_iter().map(|(_, c)| c).filter(|c| c == "sleep 876406" || c == "sleep 876407").collect()
    };
    let start = Instant::now();
    while escapees(&mark).len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(10), "fixture did not start: {:?}", marked(&mark));
        std::thread::sleep(Duration::from_millis(20));
    }
    // stop only `parent`: the escapees are not in its group
    let (v, _) = ask_timed(&p, &json!({"cmd": "stop", "process": "parent"}));
    assert_eq!(v["ok"], true, "{v}");
    live.until(|e| e["type"] == "process.exited" && e["process"] == "parent");
    eprintln!("escapees alive after `stop parent` while brum runs: {:?}", escapees(&mark));
    assert_eq!(ps_state(&p, "other"), "running");
    live.signal(libc::SIGTERM);
    let (_, code) = live.rest(LIMIT);
    assert_eq!(code, Some(143));
    let left = leftovers(&mark, Duration::from_secs(2));
    assert!(left.is_empty(), "escapees must not outlive the session: {left:?}");
}

#[test]
fn brum_killed_with_sigkill_takes_its_direct_children_along() {
    // What survives `kill -9 <brum>` is measured and documented in
    // docs/reliability.md: PR_SET_PDEATHSIG kills every direct child; it is
    // not inherited across fork, so grandchildren (background jobs of a
    // shell, setsid daemons) are re-parented to init and live on.
    let p = Project::with_toml(
        r#"
[process.direct]
argv = ["sleep", "876410"]
[process.shell]
cmd = "sleep 876411 & echo ready; wait"
[process.daemonizer]
cmd = "setsid sleep 876412 >/dev/null 2>&1 & echo ready; wait"
"#,
    );
    let mark = new_mark();
    let mut live = Live::spawn(marked_cmd(&p, &mark, &["run", "--json"]));
    let mut ready = 0;
    let seen = live.until(|e| {
        ready += usize::from(e["type"] == "log.line" && e["text"] == "ready");
        ready == 2
    });
    let direct_pids: Vec<i32> = seen
        .iter()
        .filter(|e| e["type"] == "process.started")
        .map(|e| e["pid"].as_i64().expect("pid") as i32)
        .collect();
    assert_eq!(direct_pids.len(), 3);
    // brum and its five, and the grandchildren exec'd (a forked shell not yet
    // turned into its sleep would be counted, then survive as a shell)
    let start = Instant::now();
    let started = |m: &str| {
        let cmds: Vec<String> = marked(m).into_iter().map(|(_, c)| c).collect();
        cmds.len() == 6 && ["sleep 876410", "sleep 876411", "sleep 876412"].iter().all(|c| cmds.iter().any(|x| x == c))
    };
    while !started(&mark) {
        assert!(start.elapsed() < Duration::from_secs(10), "fixture did not start: {:?}", marked(&mark));
        std::thread::sleep(Duration::from_millis(20));
    }
    live.signal(libc::SIGKILL);
    let _ = live.child.wait();
    // PR_SET_PDEATHSIG is delivered as brum dies; wait for it to take effect
    let start = Instant::now();
    while direct_pids.iter().any(|&pid| proc_state(pid).is_some_and(|s| s != 'Z')) {
        if start.elapsed() > Duration::from_secs(10) {
            break; // the assertion below names the survivor
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let survivors = marked(&mark);
    kill_all(&survivors);
    eprintln!("survivors of SIGKILL to brum: {survivors:?}");
    for pid in &direct_pids {
        assert!(!survivors.iter().any(|(s, _)| s == pid), "direct child {pid} survived brum's SIGKILL: {survivors:?}");
    }
    // only grandchildren may survive (the documented limit)
    for (_, cmd) in &survivors {
        assert!(cmd == "sleep 876411" || cmd == "sleep 876412", "unexpected survivor {cmd:?}");
    }
    // the next brum replaces the stale socket and runs
    let again = p.run(&["run", "--json", "--no-plugins", "--", "echo", "again"], LIMIT);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
}

// ---------------------------------------------------------------------------
// plugins
// ---------------------------------------------------------------------------

#[test]
fn plugins_failing_at_load_at_configure_and_every_third_call_keep_the_session_alive() {
    let p = Project::with_toml(
        r#"
[process.ticker]
cmd = "for i in $(seq 1 60); do echo line $i; sleep 0.02; done; echo '  Local:   http://localhost:4999/'"
[plugin.misbehave]
mode = "every"
n = "3"
"#,
    );
    // a file that is not wasm, and the filter built-in with a rule it
    // refuses at configure
    p.add_plugin("misbehave", &plugin_wasm("misbehave"));
    let plugins = p.path().join(".brum/plugins");
    std::fs::write(plugins.join("junk.wasm"), b"\0asm but not really").expect("write");
    let toml = std::fs::read_to_string(p.path().join("brum.toml")).expect("read");
    p.write(
        "brum.toml",
        &format!(
            "{toml}\n[plugin.filter]\nrule = [ {{ match = \"contains\", pattern = \"x\", action = \"hide\" }} ]\n"
        ),
    );
    let mark = new_mark();
    let child = marked_cmd(&p, &mark, &["run", "--json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let out = finish(child.expect("spawn"), LIMIT);
    no_panic(&out.stderr);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let events = parse_events(&out.stdout);
    let lines = lines_of(&events, "ticker", "stdout");
    assert_eq!(lines.len(), 61, "every line is delivered");
    let failed = of_type(&events, "plugin.failed");
    let rejected: Vec<&&Value> = failed.iter().filter(|f| f["action"] == "rejected").collect();
    assert_eq!(rejected.len(), 2, "junk.wasm and the filter: {failed:#?}");
    assert!(rejected.iter().any(|f| f["reason"].as_str().unwrap_or("").contains("junk.wasm")), "{rejected:#?}");
    assert!(rejected.iter().any(|f| f["plugin"] == "filter" && f["reason"].as_str().unwrap_or("").contains("hide")));
    let restarting: Vec<&&Value> = failed.iter().filter(|f| f["action"] == "restarting").collect();
    assert!(restarting.len() >= 3, "the every-3rd-call plugin fails repeatedly: {failed:#?}");
    // failures count within a minute and a success in between does not
    // wipe the slate: 1, 2, 3, … and disabled at the fifth
    let counts: Vec<u64> = failed
        .iter()
        .filter(|f| f["action"] == "restarting" || f["action"] == "disabled")
        .map(|f| f["failures"].as_u64().expect("failures"))
        .collect();
    assert_eq!(counts, (1..=counts.len() as u64).collect::<Vec<_>>(), "{failed:#?}");
    assert!(failed.iter().filter(|f| f["action"] == "disabled").all(|f| f["failures"] == 5), "{failed:#?}");
    // the built-in detectors keep working
    assert!(of_type(&events, "url.detected").iter().any(|u| u["url"] == "http://localhost:4999/"));
    assert!(leftovers(&mark, Duration::from_secs(2)).is_empty());
}

// ---------------------------------------------------------------------------
// output sinks
// ---------------------------------------------------------------------------

/// A pipe whose read end is already closed: the first write gets EPIPE.
fn broken_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Stdio::from(writer)
}

#[test]
fn stdout_closed_from_the_start_stops_everything_without_dying_of_sigpipe() {
    let p = Project::with_toml("[process.a]\ncmd = \"sleep 876420\"\n[process.b]\ncmd = \"yes 876421\"\n");
    let mark = new_mark();
    for format in ["--json", "--format=human"] {
        let child = marked_cmd(&p, &mark, &["run", format])
            .stdout(broken_pipe())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let (err, code) = finish_err(child, Duration::from_secs(20));
        no_panic(&err);
        let code = code.expect("brum must end when its stdout is closed");
        assert!(code < 128, "{format}: brum must exit, not die of a signal: {code}");
        let left = leftovers(&mark, Duration::from_secs(2));
        assert!(left.is_empty(), "{format}: {left:?}");
    }
}

#[test]
fn stdout_on_a_full_disk_stops_everything_and_ends() {
    // /dev/full: every write fails with ENOSPC
    let p = Project::with_toml("[process.a]\ncmd = \"seq 1 100000; sleep 876422\"\n");
    let mark = new_mark();
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let child = marked_cmd(&p, &mark, &["run", "--json"]).stdout(full).stderr(Stdio::piped()).spawn().expect("spawn");
    let start = Instant::now();
    let out = finish_err(child, Duration::from_secs(30));
    assert!(out.1.is_some(), "brum must end on a full disk, not hang ({:?})", start.elapsed());
    no_panic(&out.0);
    assert!(leftovers(&mark, Duration::from_secs(2)).is_empty());
}

#[test]
fn stdout_on_a_full_disk_is_reported_and_fails_the_run() {
    let p = Project::with_toml("[process.a]\ncmd = \"seq 1 100000; sleep 876423\"\n");
    let mark = new_mark();
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let child = marked_cmd(&p, &mark, &["run", "--json"]).stdout(full).stderr(Stdio::piped()).spawn().expect("spawn");
    let (err, code) = finish_err(child, Duration::from_secs(30));
    assert!(leftovers(&mark, Duration::from_secs(2)).is_empty());
    assert!(err.contains("No space left on device"), "the write error is reported on stderr: {err:?}");
    assert!(code.is_some_and(|c| c != 0), "a run cut short by a failing output must not exit 0: {code:?}");
}

/// Waits for a child whose stdout is not piped: (stderr, exit code).
fn finish_err(mut child: std::process::Child, limit: Duration) -> (String, Option<i32>) {
    let mut se = child.stderr.take().expect("stderr piped");
    let t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            use std::os::unix::process::ExitStatusExt;
            break s.code().or_else(|| s.signal().map(|n| 128 + n));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (t.join().expect("join"), code)
}

#[test]
fn stdout_file_over_the_file_size_limit_is_an_error_not_a_crash() {
    let p = Project::with_toml("[process.a]\ncmd = \"seq 1 200000; sleep 876424 & sleep 876425\"\n");
    let mark = new_mark();
    let events = p.path().join("events.ndjson");
    let script = format!("ulimit -f 64; exec {} run --json > {}", brum_bin(), events.display());
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]).current_dir(p.path()).env(MARK_VAR, &*mark);
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
    let (err, code) = finish_err(child, Duration::from_secs(30));
    let left = leftovers(&mark, Duration::from_secs(2));
    no_panic(&err);
    assert_ne!(code, Some(128 + libc::SIGXFSZ), "brum must not die of SIGXFSZ: {err}");
    assert!(code.is_some(), "brum must end");
    assert!(left.is_empty(), "nothing left behind: {left:?}");
}

#[test]
#[ignore = "needs root"]
fn daemon_log_on_a_full_disk_keeps_the_session_running_as_root() {
    assert!(is_root(), "mounting a 64 KiB tmpfs on the project's .brum/ needs root (CI runs these with --ignored)");
    let p = Project::with_toml("[process.chatty]\ncmd = \"seq 1 20000; echo done; sleep 876426\"\n");
    let dot = p.path().join(".brum");
    std::fs::create_dir(&dot).expect("mkdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&dot)
        .status()
        .is_ok_and(|s| s.success());
    assert!(mounted, "cannot mount a tmpfs here");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(dot.clone());
    let mark = new_mark();
    let up = finish(
        marked_cmd(&p, &mark, &["up"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("up"),
        LIMIT,
    );
    assert_eq!(up.code, Some(0), "{}", up.stderr);
    // brum.err is on the same full disk: the reason is in the event stream
    let start = Instant::now();
    let told = loop {
        let told = p.run(&["tail", "--since", "0", "--no-follow", "--type", "output.failed"], LIMIT).stdout_text();
        if told.contains("No space left on device") || start.elapsed() > LIMIT {
            break told;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = p.run(&["ps", "--json"], LIMIT);
    let alive = status.code == Some(0);
    let err = std::fs::read_to_string(dot.join("brum.err")).unwrap_or_default();
    let _ = p.run(&["down"], LIMIT);
    let left = leftovers(&mark, Duration::from_secs(2));
    assert!(alive, "the daemon must keep supervising when its log cannot be written: ps said {}", status.stderr);
    assert!(
        err.contains("No space left on device") || told.contains("No space left on device"),
        "and say why the log stopped: brum.err = {err:?}, output.failed events: {told:?}"
    );
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn stdout_nobody_reads_does_not_block_the_control_socket() {
    let p = Project::with_toml("[process.spew]\ncmd = \"yes 876430\"\n[process.idle]\ncmd = \"sleep 876431\"\n");
    let mark = new_mark();
    let mut child =
        marked_cmd(&p, &mark, &["run", "--json"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn");
    let brum_pid = child.id();
    wait_for_socket(&p);
    wait_until_pipe_full(child.stdout.as_ref().expect("stdout")); // the stdout pipe is full
    let mut took = Vec::new();
    for _ in 0..20 {
        let (v, t) = ask_timed(&p, &json!({"cmd": "ps"}));
        assert_eq!(v["ok"], true);
        assert_eq!(v["processes"][0]["state"], "running");
        took.push(t);
        std::thread::sleep(Duration::from_millis(25));
    }
    took.sort();
    let (logs, _) = ask_timed(&p, &json!({"cmd": "logs", "process": "spew", "n": 1}));
    assert_eq!(logs["lines"][0]["text"], "876430");
    // blocked, brum holds a bounded buffer and the children wait
    let rss = status_kib(brum_pid, "VmRSS:");
    // now read: brum stops and ends
    let mut so = child.stdout.take().expect("stdout");
    let drain = std::thread::spawn(move || std::io::copy(&mut so, &mut std::io::sink()).unwrap_or(0));
    kill(brum_pid as i32, libc::SIGTERM);
    let status = child.wait().expect("wait");
    drain.join().expect("drain");
    assert_eq!(status.code(), Some(143));
    // 19 of 20 within 100 ms, none near a second (other tests share the CPUs)
    assert!(took[18] < Duration::from_millis(100), "ps round trips while stdout was blocked: {took:?}");
    assert!(took[19] < Duration::from_secs(1), "ps round trips while stdout was blocked: {took:?}");
    assert!(rss < 96 * 1024, "brum's RSS {rss} KiB while its stdout is blocked");
    assert!(leftovers(&mark, Duration::from_secs(2)).is_empty());
}

#[test]
fn no_network_socket_is_opened_by_default() {
    // brum with plugins loaded and its control socket up: every socket it
    // holds is a Unix socket, none is TCP or UDP (listening or not)
    let p = Project::with_toml("[process.a]\ncmd = \"echo up; sleep 876432\"\n");
    let mark = new_mark();
    let mut live = Live::spawn(marked_cmd(&p, &mark, &["run", "--json"]));
    live.until(|e| e["type"] == "log.line" && e["text"] == "up");
    wait_for_socket(&p);
    let pid = live.child.id();
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            l.to_str().and_then(|s| s.strip_prefix("socket:[")).map(|s| s.trim_end_matches(']').to_string())
        })
        .collect();
    assert!(!inodes.is_empty(), "the control socket at least");
    let mut inet = Vec::new();
    for table in ["tcp", "tcp6", "udp", "udp6"] {
        let text = std::fs::read_to_string(format!("/proc/net/{table}")).unwrap_or_default();
        for row in text.lines().skip(1) {
            // the inode is the 10th column
            if let Some(inode) = row.split_whitespace().nth(9)
                && inodes.iter().any(|i| i == inode)
            {
                inet.push(format!("{table}: {row}"));
            }
        }
    }
    live.signal(libc::SIGTERM);
    let (_, code) = live.rest(LIMIT);
    assert_eq!(code, Some(143));
    assert!(inet.is_empty(), "brum holds network sockets: {inet:#?}");
    assert!(leftovers(&mark, Duration::from_secs(2)).is_empty());
}

// ---------------------------------------------------------------------------
// resources
// ---------------------------------------------------------------------------

#[test]
fn too_few_file_descriptors_give_clear_errors_not_a_crash() {
    let mut toml = String::new();
    for i in 0..30 {
        toml.push_str(&format!("[process.p{i}]\ncmd = \"echo hello {i}; sleep 0.3\"\n"));
    }
    let p = Project::with_toml(&toml);
    let mark = new_mark();
    // hard and soft limit 20: brum cannot raise it
    let script = format!("ulimit -n 20; exec {} run --json", brum_bin());
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]).current_dir(p.path()).env(MARK_VAR, &*mark);
    let out = finish(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn"), LIMIT);
    no_panic(&out.stderr);
    let code = out.code.expect("brum must end");
    assert!(code < 128, "brum must not die of a signal: {code}");
    let events = parse_events(&out.stdout);
    assert_eq!(events.last().expect("events")["type"], "daemon.stopped");
    let (mut ran, mut refused) = (0, 0);
    for i in 0..30 {
        let name = format!("p{i}");
        let ex = exited(&events, &name);
        if ex["state"] == "success" {
            assert_eq!(lines_of(&events, &name, "stdout"), [format!("hello {i}")]);
            ran += 1;
        } else {
            assert_eq!(ex["state"], "failed", "{ex}");
            assert_eq!(ex["code"], 127);
            let why = ex["error"].as_str().expect("error");
            assert!(why.contains("Too many open files"), "a clear reason: {why}");
            refused += 1;
        }
    }
    assert!(ran >= 1, "what fits still runs");
    assert!(refused >= 1, "the limit was reached (else the test proves nothing)");
    assert_eq!(code, 127, "the exit code says a process could not be started");
    assert!(leftovers(&mark, Duration::from_secs(2)).is_empty());
}

#[test]
fn a_low_soft_fd_limit_is_raised_for_many_processes() {
    let n = 200;
    let mut toml = String::new();
    for i in 0..n {
        toml.push_str(&format!("[process.p{i}]\nargv = [\"seq\", \"1\", \"3\"]\n"));
    }
    let p = Project::with_toml(&toml);
    // soft limit 64 (far too few for 400 pipes), hard limit untouched
    let script = format!("ulimit -S -n 64; exec {} run --json --no-plugins", brum_bin());
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]).current_dir(p.path());
    let out = finish(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn"), LIMIT);
    no_panic(&out.stderr);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let events = parse_events(&out.stdout);
    for i in 0..n {
        assert_eq!(lines_of(&events, &format!("p{i}"), "stdout"), ["1", "2", "3"]);
    }
}

#[test]
fn five_hundred_processes_in_one_brum_deliver_every_line() {
    let n = 500;
    let mut toml = String::from("ring_bytes = \"128KiB\"\n");
    for i in 0..n {
        toml.push_str(&format!("[process.p{i}]\ncmd = \"echo start {i}; seq 1 100; sleep 0.5; seq 101 200\"\n"));
    }
    let p = Project::with_toml(&toml);
    let mark = new_mark();
    let mut live = Live::spawn(marked_cmd(&p, &mark, &["run", "--json"]));
    let brum_pid = live.child.id();
    let mut started = 0;
    // start-up is spread over turns: the first processes' lines come
    // before the last one starts
    let early = live.until(|e| {
        started += usize::from(e["type"] == "process.started");
        started == n
    });
    // all 500 alive at once under one brum, and it still answers
    wait_for_socket(&p);
    let (ps, took) = ask_timed(&p, &json!({"cmd": "ps"}));
    assert_eq!(ps["processes"].as_array().expect("rows").len(), n);
    let fds = std::fs::read_dir(format!("/proc/{brum_pid}/fd")).map(|d| d.count()).unwrap_or(0);
    let (events, code) = live.rest(LIMIT);
    assert_eq!(code, Some(0));
    let mut by_process: std::collections::HashMap<&str, Vec<String>> = std::collections::HashMap::new();
    for e in early.iter().chain(events.iter()).filter(|e| e["type"] == "log.line") {
        let name = e["process"].as_str().expect("process");
        by_process.entry(name).or_default().push(e["text"].as_str().expect("text").to_string());
    }
    for i in 0..n {
        let name = format!("p{i}");
        let lines = by_process.remove(name.as_str()).unwrap_or_default();
        assert_eq!(lines.len(), 201, "{name}");
        assert_eq!(lines[0], format!("start {i}"));
        assert!(lines[1..].iter().enumerate().all(|(k, l)| *l == (k + 1).to_string()), "{name} in order");
    }
    eprintln!("500 processes: ps answered in {took:?}; brum held {fds} fds");
    assert!(leftovers(&mark, Duration::from_secs(2)).is_empty());
}

/// Reads brum's NDJSON and calls `f(process, text, truncated)` for each
/// `log.line` with a `text`, without a JSON parser (fast enough for
/// millions of lines in a debug build: the keys come in the documented
/// order, the timestamp has a fixed width); other events go to `other`.
fn scan_lines(
    r: impl Read,
    mut f: impl FnMut(&[u8], &[u8], bool),
    mut other: impl FnMut(&[u8]),
) -> std::io::Result<()> {
    let mut r = BufReader::with_capacity(1 << 20, r);
    let mut line = Vec::with_capacity(1 << 17);
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        match parse_log_line(&line) {
            Some((process, text, truncated)) => f(process, text, truncated),
            None => other(&line),
        }
    }
}

fn parse_log_line(line: &[u8]) -> Option<(&[u8], &[u8], bool)> {
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let digits = rest.iter().position(|b| !b.is_ascii_digit())?;
    let rest = rest[digits..].strip_prefix(b",\"ts\":\"")?;
    let rest = rest.get(24..)?.strip_prefix(b"\",\"type\":\"log.line\",\"process\":\"")?;
    let q = rest.iter().position(|&b| b == b'"')?;
    let (process, rest) = rest.split_at(q);
    let rest = rest.strip_prefix(b"\",\"stream\":\"")?;
    let rest = rest.strip_prefix(b"stdout\",\"text\":\"").or_else(|| rest.strip_prefix(b"stderr\",\"text\":\""))?;
    let q = rest.iter().position(|&b| b == b'"')?;
    Some((process, &rest[..q], rest[q + 1..].starts_with(b",\"truncated\":true")))
}

#[test]
fn a_200_mb_line_without_a_newline_is_delivered_in_pieces_with_bounded_memory() {
    let size: usize = 200 << 20;
    let piece = 64 * 1024;
    let p = Project::new();
    let script = format!("head -c {size} /dev/zero | tr '\\0' x; sleep 0.2");
    let mut child = p
        .cmd(&["run", "--json", "--no-plugins", "--ring-bytes", "1MiB", "--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let so = child.stdout.take().expect("stdout");
    let (mut total, mut pieces, mut flagged, mut last_flag) = (0usize, 0usize, 0usize, true);
    let mut bad = 0usize;
    let mut peak = 0u64;
    scan_lines(
        so,
        |_, text, truncated| {
            total += text.len();
            pieces += 1;
            flagged += usize::from(truncated);
            last_flag = truncated;
            bad += usize::from(text.len() > piece || text.iter().any(|&b| b != b'x'));
            if pieces % 256 == 0 {
                peak = peak.max(status_kib(pid, "VmHWM:"));
            }
        },
        |_| {},
    )
    .expect("read");
    let mut err = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("stderr");
    let status = child.wait().expect("wait");
    no_panic(&err);
    assert_eq!(status.code(), Some(0));
    assert_eq!(bad, 0, "pieces of at most 64 KiB of the line's bytes");
    assert_eq!(total, size, "every byte arrives");
    assert_eq!(pieces, size / piece);
    assert_eq!(flagged, pieces - 1, "every piece but the last says the line continues");
    assert!(!last_flag);
    eprintln!("200 MiB line: brum's peak RSS {peak} KiB");
    assert!(peak > 0, "could not read brum's VmHWM");
    assert!(peak < 32 * 1024, "brum's peak RSS {peak} KiB for a 200 MiB line");
}

// ---------------------------------------------------------------------------
// load
// ---------------------------------------------------------------------------

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct LoadResult {
    procs: usize,
    secs: u64,
    ring_kib: u64,
    /// ps round trips (connect to answer), sorted.
    latencies: Vec<Duration>,
    /// brum's VmRSS samples (KiB), in time order.
    rss: Vec<u64>,
}

/// `BRUM_LOAD_PROCS` processes (default 50), each printing numbered lines
/// at `BRUM_LOAD_RATE` lines/s (default 10,000) for `BRUM_SOAK_SECS`
/// seconds (default 5), with brum's stdout read as fast as the test can.
/// Asserts every line arrives, in order; measures `ps` round trips (every
/// 100 ms) and brum's RSS meanwhile.
fn load_run() -> LoadResult {
    let procs = env_or("BRUM_LOAD_PROCS", 50) as usize;
    let rate = env_or("BRUM_LOAD_RATE", 10_000);
    let secs = env_or("BRUM_SOAK_SECS", 5);
    let rounds = secs * 10;
    let per_round = (rate / 10).max(1);
    let ring_kib = 256u64;
    let mut toml = format!("ring_bytes = \"{ring_kib}KiB\"\n");
    for i in 0..procs {
        toml.push_str(&format!(
            "[process.p{i}]\ncmd = \"i=0; while [ $i -lt {rounds} ]; do seq $((i*{per_round}+1)) $((i*{per_round}+{per_round})); sleep 0.1; i=$((i+1)); done\"\n"
        ));
    }
    let want = rounds * per_round;
    let p = Project::with_toml(&toml);
    let mark = new_mark();
    let mut child =
        marked_cmd(&p, &mark, &["run", "--json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id();
    let so = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut next = vec![1u64; procs];
        let mut errors = Vec::new();
        let mut others = 0usize;
        let mut total = 0u64;
        scan_lines(
            so,
            |process, text, _| {
                total += 1;
                let i: usize = std::str::from_utf8(&process[1..]).ok().and_then(|s| s.parse().ok()).expect("p<i>");
                let n: u64 = std::str::from_utf8(text).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
                if n != next[i] && errors.len() < 10 {
                    errors.push(format!("p{i}: expected line {} got {n}", next[i]));
                }
                next[i] = n + 1;
            },
            |_| others += 1,
        )
        .expect("read");
        (next, errors, total, others)
    });
    let t0 = Instant::now();
    wait_for_socket(&p);
    let mut latencies = Vec::new();
    let mut rss = Vec::new();
    let stderr = child.stderr.take().expect("stderr");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut s);
        s
    });
    let code = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s.code();
        }
        assert!(t0.elapsed() < Duration::from_secs(secs * 30 + 60), "the load run did not finish");
        rss.push(status_kib(pid, "VmRSS:"));
        if let Ok(mut s) = UnixStream::connect(sock(&p)) {
            let start = Instant::now();
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            if s.write_all(b"{\"cmd\":\"ps\"}\n").is_ok() {
                let mut line = String::new();
                if BufReader::new(s).read_line(&mut line).is_ok() && line.contains("\"ok\":true") {
                    latencies.push(start.elapsed());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let elapsed = t0.elapsed();
    let err = err_reader.join().expect("stderr");
    let (next, errors, total, others) = reader.join().expect("reader");
    no_panic(&err);
    assert_eq!(code, Some(0), "{err}");
    assert!(errors.is_empty(), "lines lost or out of order: {errors:?}");
    for (i, n) in next.iter().enumerate() {
        assert_eq!(n - 1, want, "p{i}: every line arrives");
    }
    assert_eq!(total, want * procs as u64);
    assert!(leftovers(&mark, Duration::from_secs(2)).is_empty());
    latencies.sort();
    rss.retain(|&r| r > 0);
    let worst = latencies.last().copied().unwrap_or_default();
    let median = latencies.get(latencies.len() / 2).copied().unwrap_or_default();
    let p90 = latencies.get(latencies.len() * 9 / 10).copied().unwrap_or_default();
    eprintln!(
        "load: {procs} × {rate} lines/s × {secs} s = {total} lines in {elapsed:?} ({:.0} lines/s, {others} other \
         events); ps: {} answers, median {median:?}, p90 {p90:?}, worst {worst:?}; RSS KiB: peak {}, samples {:?}",
        total as f64 / elapsed.as_secs_f64(),
        latencies.len(),
        rss.iter().max().copied().unwrap_or(0),
        rss.iter().step_by((rss.len() / 10).max(1)).collect::<Vec<_>>(),
    );
    LoadResult { procs, secs, ring_kib, latencies, rss }
}

#[test]
fn load_many_chatty_processes_lose_no_line() {
    let r = load_run();
    assert!(!r.latencies.is_empty(), "ps answered during the load");
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "latency and memory limits hold for optimized builds; .ci/run runs this with --release"
)]
fn load_ps_answers_within_100ms_and_rss_stays_within_budget() {
    let r = load_run();
    let worst = r.latencies.last().copied().unwrap_or_default();
    assert!(r.latencies.len() >= r.secs as usize, "ps was asked throughout ({} answers)", r.latencies.len());
    // the requirement is 100 ms; a shared 2-core machine can stall any
    // process now and then, so 9 in 10 answers must meet it and none may
    // take a second (measured: median 0.3 ms, p90 1.2 ms, worst 77 ms)
    let p90 = r.latencies[r.latencies.len() * 9 / 10];
    assert!(p90 < Duration::from_millis(100), "ps p90 {p90:?} under load (worst {worst:?})");
    assert!(worst < Duration::from_secs(1), "ps took {worst:?} under load");
    // rings (procs × ring) + a fixed allowance for the binary, wasmtime,
    // the plugins, the event history (8 MiB) and the output buffer
    let peak = r.rss.iter().copied().max().unwrap_or(0);
    let budget = r.procs as u64 * r.ring_kib + 80 * 1024;
    assert!(peak < budget, "peak RSS {peak} KiB over the budget {budget} KiB");
    // no growth beyond what the bounded stores may still fill after the
    // first quarter: the rings (bytes plus their line index: 1.5 × their
    // budget, store.rs), the event history (8 MiB) and the one evicted
    // block it keeps for reuse (≤ 4 MiB). A leak of 10 bytes a line adds
    // 12 MiB between the two samples (1.25 M lines). (The old allowance, the
    // rings' budget + 8 MiB, failed once by 1 MiB while RSS levelled off:
    // 57,776 → 59,008 KiB over the last quarter.)
    let early = r.rss.get(r.rss.len() / 4).copied().unwrap_or(0);
    let late = r.rss.get(r.rss.len() * 3 / 4).copied().unwrap_or(0);
    let fill = r.procs as u64 * r.ring_kib * 3 / 2 + (8 + 4) * 1024;
    assert!(late <= early + fill, "RSS keeps growing: {early} → {late} KiB (allowed: + {fill} KiB)");
}
