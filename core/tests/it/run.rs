//! `brum run`: lines, exit codes, stopping, restarting, cleanup.

use std::time::Duration;

use serde_json::Value;

use crate::*;

#[test]
fn three_chatty_children_deliver_every_line_once_in_order() {
    let p = Project::with_toml(
        r#"
[process.a]
cmd = "seq 1 200000"
[process.b]
cmd = "seq 1 200000 >&2"
[process.c]
cmd = "seq 1 100000; seq 100001 200000 >&2"
"#,
    );
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let expect = |lines: Vec<String>, from: u32, to: u32, what: &str| {
        assert_eq!(lines.len() as u32, to - from + 1, "{what}: line count");
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l, &(from + i as u32).to_string(), "{what}: line {i}");
        }
    };
    expect(lines_of(&events, "a", "stdout"), 1, 200_000, "a stdout");
    expect(lines_of(&events, "b", "stderr"), 1, 200_000, "b stderr");
    expect(lines_of(&events, "c", "stdout"), 1, 100_000, "c stdout");
    expect(lines_of(&events, "c", "stderr"), 100_001, 200_000, "c stderr");
    // seq is strictly increasing over the whole stream
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "seq must increase by one");
    assert_eq!(events[0]["type"], "daemon.started");
    assert_eq!(events.last().expect("events")["type"], "daemon.stopped");
    // every line of a process comes before its process.exited
    for name in ["a", "b", "c"] {
        let exit_at =
            events.iter().position(|e| e["type"] == "process.exited" && e["process"] == name).expect("exited");
        let last_line = events.iter().rposition(|e| e["type"] == "log.line" && e["process"] == name).expect("lines");
        assert!(last_line < exit_at, "{name}: a line arrived after process.exited");
    }
}

/// Streams one line of `size` bytes with no newline through brum and
/// returns brum's peak RSS (KiB) once nearly all of it went through.
fn giant_line_peak_rss(size: usize, extra: &[&str]) -> u64 {
    let p = Project::new();
    let script = format!("head -c {size} /dev/zero | tr '\\0' x; sleep 0.3");
    let mut args = vec!["run", "--json", "--ring-bytes", "1MiB"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", &script]);
    let mut live = Live::spawn(p.cmd(&args));
    let pid = live.child.id();
    let mut got = 0usize;
    let seen = live.until(|e| {
        if e["type"] == "log.line" {
            let t = e["text"].as_str().expect("text");
            assert!(t.len() <= 64 * 1024);
            assert!(t.bytes().all(|b| b == b'x'));
            got += t.len();
        }
        got >= size - 64 * 1024
    });
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (rest, code) = live.rest(LIMIT);
    assert_eq!(code, Some(0));
    let all: Vec<Value> = seen.into_iter().chain(rest).collect();
    let pieces: Vec<&Value> = all.iter().filter(|e| e["type"] == "log.line").collect();
    let total: usize = pieces.iter().map(|e| e["text"].as_str().expect("text").len()).sum();
    assert_eq!(total, size, "every byte of the giant line arrives");
    assert_eq!(pieces.len(), size / (64 * 1024));
    assert!(pieces[..pieces.len() - 1].iter().all(|e| e["truncated"] == true));
    assert!(pieces.last().expect("piece").get("truncated").is_none(), "the last piece ends the line");
    assert!(peak_kib > 0, "could not read brum's peak RSS");
    peak_kib
}

/// A burst of small writes is written out together (the reader woken about
/// once a millisecond), and what was held back goes out on its own: the
/// last lines of a burst arrive while the process, now silent, runs on.
#[test]
fn the_end_of_a_burst_reaches_the_output_while_the_process_runs_on_silent() {
    let p = Project::new();
    let script = "import sys, time\nfor i in range(200):\n    print(f'line{i}', flush=True)\n    time.sleep(0.0001)\ntime.sleep(60)";
    let mut child = p
        .cmd(&["run", "--json", "--no-plugins", "--name", "burst", "--", "python3", "-c", script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn brum");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while !seen.iter().any(|t: &String| t == "line199") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(line) = rx.recv_timeout(left) else { break };
        let ev: Value = serde_json::from_str(&line).expect("event");
        if ev["type"] == "log.line" {
            seen.push(ev["text"].as_str().unwrap_or_default().to_string());
        }
    }
    kill(child.id() as i32, libc::SIGTERM);
    let _ = child.wait();
    let want: Vec<String> = (0..200).map(|i| format!("line{i}")).collect();
    assert_eq!(seen, want, "every line, in order, before the process ended");
}

#[test]
fn giant_line_is_cut_into_pieces_with_bounded_memory() {
    // memory must not grow with the line: 8x the bytes, same peak
    let small = giant_line_peak_rss(8 << 20, &["--no-plugins"]);
    let big = giant_line_peak_rss(64 << 20, &["--no-plugins"]);
    assert!(big < small + 8 * 1024, "peak RSS grew from {small} KiB (8 MiB line) to {big} KiB (64 MiB line)");
}

#[test]
fn giant_line_through_the_plugins_is_bounded_too() {
    let small = giant_line_peak_rss(8 << 20, &[]);
    let big = giant_line_peak_rss(64 << 20, &[]);
    assert!(big < small + 8 * 1024, "peak RSS grew from {small} KiB (8 MiB line) to {big} KiB (64 MiB line)");
}

#[test]
fn non_utf8_output_survives_losslessly() {
    let p = Project::new();
    let (events, out) = p.run_json(&["--", "printf", "\\377\\376ok\\n\\303\\251t\\303\\251\\n"], LIMIT);
    assert_eq!(out.code, Some(0));
    let lines = of_type(&events, "log.line");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["bytes"], "//5vaw==", "invalid UTF-8 comes as base64 bytes");
    assert_eq!(lines[1]["text"], "été");
}

#[test]
fn exit_code_is_the_first_failure() {
    let p = Project::with_toml(
        r#"
[process.ok]
cmd = "sleep 0.3; exit 0"
[process.bad]
cmd = "sleep 0.1; exit 3"
[process.worse]
cmd = "sleep 0.2; exit 5"
"#,
    );
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(3));
    let exits = of_type(&events, "process.exited");
    let bad = exits.iter().find(|e| e["process"] == "bad").expect("bad exited");
    assert_eq!(bad["code"], 3);
    assert_eq!(bad["state"], "failed");
    let ok = exits.iter().find(|e| e["process"] == "ok").expect("ok exited");
    assert_eq!(ok["state"], "success");
    assert_eq!(of_type(&events, "daemon.stopped")[0]["exit_code"], 3);
}

#[test]
fn killed_by_a_signal_exits_128_plus_n() {
    let p = Project::new();
    let (events, out) = p.run_json(&["--", "sh", "-c", "kill -9 $$"], LIMIT);
    assert_eq!(out.code, Some(137));
    let ex = &of_type(&events, "process.exited")[0];
    assert_eq!(ex["signal"], "SIGKILL");
    assert_eq!(ex["code"], Value::Null);
}

#[test]
fn missing_program_fails_with_127_and_says_why() {
    let p = Project::new();
    let (events, out) = p.run_json(&["--", "definitely-not-a-program-xyz"], LIMIT);
    assert_eq!(out.code, Some(127));
    let ex = &of_type(&events, "process.exited")[0];
    assert_eq!(ex["state"], "failed");
    assert!(ex["error"].as_str().expect("error").contains("definitely-not-a-program-xyz"));
}

#[test]
fn kill_others_on_fail_stops_the_rest() {
    let p = Project::with_toml(
        r#"
[process.fails]
cmd = "sleep 0.2; exit 4"
[process.server]
cmd = "sleep 876001"
"#,
    );
    let (events, out) = p.run_json(&["--kill-others-on-fail"], LIMIT);
    assert_eq!(out.code, Some(4));
    assert!(out.elapsed < Duration::from_secs(20));
    let server =
        of_type(&events, "process.exited").into_iter().find(|e| e["process"] == "server").cloned().expect("server");
    assert_eq!(server["state"], "stopped");
    assert_eq!(server["signal"], "SIGTERM");
    assert!(processes_matching("876001").is_empty());
}

#[test]
fn restart_on_failure_backs_off_and_gives_up() {
    let p = Project::with_toml(
        r#"
[process.flaky]
cmd = "echo try; exit 3"
restart = "on-failure"
restart_delay = "50ms"
restart_max_delay = "1s"
max_restarts = 3
"#,
    );
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(3));
    assert_eq!(of_type(&events, "process.started").len(), 4);
    assert_eq!(lines_of(&events, "flaky", "stdout").len(), 4);
    let restarts = of_type(&events, "process.restarting");
    let delays: Vec<u64> = restarts.iter().map(|e| e["delay_ms"].as_u64().expect("delay")).collect();
    let attempts: Vec<u64> = restarts.iter().map(|e| e["attempt"].as_u64().expect("attempt")).collect();
    assert_eq!(delays, [50, 100, 200]);
    assert_eq!(attempts, [1, 2, 3]);
    let started: Vec<u64> =
        of_type(&events, "process.started").iter().map(|e| e["restart"].as_u64().expect("n")).collect();
    assert_eq!(started, [0, 1, 2, 3]);
}

#[test]
fn restart_always_restarts_successes_too() {
    let p = Project::with_toml(
        "[process.tick]\ncmd = \"echo tick\"\nrestart = \"always\"\nrestart_delay = \"10ms\"\nmax_restarts = 2\n",
    );
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0));
    assert_eq!(lines_of(&events, "tick", "stdout"), ["tick", "tick", "tick"]);
}

#[test]
fn a_child_ignoring_sigterm_is_killed_after_stop_timeout() {
    let p = Project::with_toml(
        r#"
[process.stubborn]
cmd = "trap '' TERM; echo ready; sleep 876002; echo never"
stop_timeout = "300ms"
"#,
    );
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "log.line" && e["text"] == "ready");
    live.signal(libc::SIGTERM);
    let (events, code) = live.rest(LIMIT);
    assert_eq!(code, Some(143));
    let ex = &of_type(&events, "process.exited")[0];
    assert_eq!(ex["state"], "stopped");
    assert_eq!(ex["signal"], "SIGKILL", "{ex}");
    assert!(processes_matching("876002").is_empty(), "the stubborn child survived");
}

#[test]
fn sigint_stops_everything_and_exits_130() {
    let p = Project::with_toml("[process.a]\ncmd = \"echo up; sleep 876003\"\n[process.b]\ncmd = \"sleep 876003\"\n");
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "log.line" && e["text"] == "up");
    live.signal(libc::SIGINT);
    let (events, code) = live.rest(LIMIT);
    assert_eq!(code, Some(130));
    let states: Vec<&Value> = of_type(&events, "process.exited").iter().map(|e| &e["state"]).collect();
    assert_eq!(states, ["stopped", "stopped"]);
    assert!(processes_matching("876003").is_empty());
}

#[test]
fn second_signal_kills_immediately() {
    let p = Project::with_toml(
        "[process.stubborn]\ncmd = \"trap '' TERM INT; echo ready; sleep 876004\"\nstop_timeout = \"60s\"\n",
    );
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "log.line" && e["text"] == "ready");
    let start = std::time::Instant::now();
    // Ctrl-C twice: the second one kills, however soon it comes
    live.signal(libc::SIGINT);
    live.until(|e| e["type"] == "daemon.stopping" && e["reason"] == "SIGINT");
    live.signal(libc::SIGINT);
    let (_, code) = live.rest(LIMIT);
    assert_eq!(code, Some(130));
    assert!(start.elapsed() < Duration::from_secs(30), "the second signal must not wait for stop_timeout");
    assert!(processes_matching("876004").is_empty());
}

/// `timeout 10 brum run`: coreutils sends TERM to brum and then to its
/// group, brum included. That is one stop request, not an escalation: the
/// child gets its graceful stop.
#[test]
fn the_same_term_twice_at_once_is_one_stop_request() {
    let p = Project::with_toml(
        "[process.polite]\ncmd = \"trap 'sleep 0.5; echo bye; exit 0' TERM; echo ready; while :; do sleep 0.1; done\"\n",
    );
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "log.line" && e["text"] == "ready");
    live.signal(libc::SIGTERM);
    live.signal(libc::SIGTERM);
    let (events, code) = live.rest(LIMIT);
    assert_eq!(code, Some(143));
    assert_eq!(of_type(&events, "daemon.stopping").len(), 1, "one stop request");
    assert!(events.iter().any(|e| e["text"] == "bye"), "the child's graceful stop ran");
    let ex = &of_type(&events, "process.exited")[0];
    assert_eq!((ex["state"].as_str(), ex["signal"].as_str()), (Some("stopped"), None), "{ex}");
}

#[test]
fn background_grandchildren_are_not_left_behind() {
    let p = Project::new();
    let (events, out) = p.run_json(&["--", "sh", "-c", "sleep 876005 & echo spawned"], LIMIT);
    assert_eq!(out.code, Some(0));
    assert_eq!(lines_of(&events, "sh", "stdout"), ["spawned"]);
    assert!(processes_matching("876005").is_empty(), "the background sleep outlived brum");
}

#[test]
fn setsid_escapees_are_reaped_at_the_end() {
    // A grandchild in its own session escapes the process group; as the
    // subreaper brum still finds it once its parent is gone.
    let p = Project::new();
    let (_, out) = p.run_json(&["--", "sh", "-c", "setsid sleep 876006 >/dev/null 2>&1 & sleep 0.2"], LIMIT);
    assert_eq!(out.code, Some(0));
    assert!(processes_matching("876006").is_empty(), "the setsid grandchild outlived brum");
}

#[test]
fn brum_runs_exactly_one_thread() {
    let p = Project::with_toml("[process.a]\ncmd = \"echo up; sleep 876007\"\n[process.b]\ncmd = \"sleep 876007\"\n");
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "log.line" && e["text"] == "up");
    let tasks = std::fs::read_dir(format!("/proc/{}/task", live.child.id())).expect("task dir").count();
    live.signal(libc::SIGTERM);
    let (_, code) = live.rest(LIMIT);
    assert_eq!(tasks, 1, "brum must be single-threaded");
    assert_eq!(code, Some(143));
}

#[test]
fn a_slow_reader_loses_nothing() {
    // brum's stdout is a pipe the test does not read for a while: brum must
    // hold back (backpressure) rather than drop lines.
    let p = Project::new();
    let mut cmd = p.cmd(&["run", "--json", "--", "seq", "1", "300000"]);
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    // brum's stdout is full: it must be holding back now
    wait_until_pipe_full(child.stdout.as_ref().expect("stdout"));
    let out = finish(child, LIMIT);
    assert_eq!(out.code, Some(0));
    let events = parse_events(&out.stdout);
    let lines = lines_of(&events, "seq", "stdout");
    assert_eq!(lines.len(), 300_000);
    assert!(lines.iter().enumerate().all(|(i, l)| *l == (i + 1).to_string()));
}

#[test]
fn what_a_lingering_grandchild_left_in_the_pipe_is_read_at_the_end() {
    // The leader exits; a grandchild that ignores SIGTERM has put ~700 KB
    // into the pipe and holds it open. brum's own stdout is not read, so
    // brum cannot read the pipe before the stop timeout; then the group is
    // killed and what is in the pipe must still come out (read in whole
    // chunks, not in the small slices used while the output is full).
    //
    // Once flaky (0 of 7,071 lines in CI): the leader exited after a fixed
    // 0.1 s, and on a loaded machine the stop timeout killed the group
    // before the grandchild had written anything — brum right, test wrong.
    // Now the leader exits only once everything is in the pipe (`written`
    // names the pid of the grandchild's sleep), and the test reads brum's
    // stdout only after brum has killed that sleep.
    let p = Project::with_toml(
        "[process.a]\n\
         cmd = \"(trap '' TERM; head -c 700000 /dev/zero | tr '\\\\0' x | fold -w 99; sleep 876009 & echo $! > pid.tmp; mv pid.tmp written; wait) & while [ ! -e written ]; do sleep 0.01; done\"\n\
         stop_timeout = \"300ms\"\n",
    );
    let mut cmd = p.cmd(&["run", "--json"]);
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let written = p.path().join("written");
    let start = std::time::Instant::now();
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&written).ok().and_then(|s| s.trim().parse::<i32>().ok()) {
            break pid;
        }
        assert!(start.elapsed() < LIMIT, "the grandchild never finished writing");
        std::thread::sleep(Duration::from_millis(10));
    };
    // killed (and reaped by brum, its subreaper) while nobody reads brum
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(start.elapsed() < LIMIT, "brum never stopped the lingering grandchild");
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = finish(child, LIMIT);
    assert!(processes_matching("876009").is_empty(), "the grandchild outlived brum");
    let events = parse_events(&out.stdout);
    let lines = lines_of(&events, "a", "stdout");
    assert_eq!(lines.len(), 700_000 / 99 + 1, "every line the grandchild wrote");
    assert!(lines.iter().all(|l| !l.is_empty() && l.bytes().all(|b| b == b'x')));
}

#[test]
fn closed_stdout_ends_brum_cleanly() {
    let p = Project::new();
    let mut cmd = p.cmd(&["run", "--json", "--", "sh", "-c", "yes 876008"]);
    cmd.stdout(std::process::Stdio::piped());
    let mut live = Live::spawn(cmd);
    live.until(|e| e["type"] == "log.line");
    let Live { mut child, reader } = live;
    drop(reader); // like `| head -1`
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let status = status.expect("brum must end when its reader goes away");
    assert!(status.code().is_some(), "brum must exit, not die of SIGPIPE: {status:?}");
    assert!(processes_matching("876008").is_empty());
}

#[test]
fn dependencies_start_first_and_env_cwd_apply() {
    let p = Project::with_toml(
        r#"
[process.web]
cmd = "echo web $PORT $FROM_FILE $(basename $(pwd))"
env = { PORT = 3000 }
env_file = ".env"
cwd = "sub"
depends_on = ["db"]
[process.db]
argv = ["echo", "db up"]
"#,
    );
    std::fs::create_dir(p.path().join("sub")).expect("mkdir");
    p.write(".env", "FROM_FILE=dotenv\n");
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let order: Vec<&Value> = of_type(&events, "process.started").iter().map(|e| &e["process"]).collect();
    assert_eq!(order, ["db", "web"]);
    assert_eq!(lines_of(&events, "web", "stdout"), ["web 3000 dotenv sub"]);
    assert_eq!(lines_of(&events, "db", "stdout"), ["db up"]);
}

#[test]
fn named_processes_only_with_their_dependencies() {
    let p = Project::with_toml(
        "[process.a]\ncmd = \"echo a\"\n[process.b]\ncmd = \"echo b\"\ndepends_on = [\"a\"]\n[process.c]\ncmd = \"echo c\"\n",
    );
    let (events, out) = p.run_json(&["b"], LIMIT);
    assert_eq!(out.code, Some(0));
    let order: Vec<&Value> = of_type(&events, "process.started").iter().map(|e| &e["process"]).collect();
    assert_eq!(order, ["a", "b"]);
}

#[test]
fn human_output_prefixes_marks_and_reports() {
    let p = Project::with_toml(
        "[process.api]\ncmd = \"echo hello; echo oops >&2; exit 2\"\n[process.w]\ncmd = \"echo hi\"\n",
    );
    let out = p.run(&["run"], LIMIT);
    assert_eq!(out.code, Some(2));
    let text = out.stdout_text();
    assert!(!text.contains('\x1b'), "no colour when stdout is not a terminal");
    assert!(text.contains("api  | hello\n"), "{text}");
    assert!(text.contains("api  ! oops\n"), "{text}");
    assert!(text.contains("w    | hi\n"), "{text}");
    assert!(text.contains("api  * started (pid "), "{text}");
    assert!(text.contains("api  * exited with code 2 after "), "{text}");
    let forced = p.run(&["run", "--color", "always"], LIMIT);
    assert!(forced.stdout_text().contains("\x1b["), "--color always colours");
}

#[test]
fn ad_hoc_name_option() {
    let p = Project::new();
    let (events, _) = p.run_json(&["--name", "greeter", "--", "echo", "hi"], LIMIT);
    assert_eq!(lines_of(&events, "greeter", "stdout"), ["hi"]);
}

#[test]
fn package_json_dev_script_runs_through_npm() {
    let p = Project::new();
    p.write("package.json", r#"{"name":"x","scripts":{"dev":"echo dev-876009","build":"echo build"}}"#);
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let started = &of_type(&events, "process.started")[0];
    assert_eq!(started["process"], "dev");
    assert_eq!(started["command"], "npm run dev");
    assert!(lines_of(&events, "dev", "stdout").iter().any(|l| l == "dev-876009"));
}

#[test]
fn package_json_without_dev_lists_scripts_and_exits_2() {
    let p = Project::new();
    p.write("package.json", r#"{"scripts":{"build":"tsc -p .","test":"jest"}}"#);
    p.write("yarn.lock", "");
    let out = p.run(&["run"], LIMIT);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("no \"dev\" script"), "{}", out.stderr);
    assert!(out.stderr.contains("yarn run build"), "{}", out.stderr);
    let scripts = p.run(&["scripts"], LIMIT);
    assert_eq!(scripts.code, Some(0));
    let text = scripts.stdout_text();
    assert!(text.contains("(run with yarn)"), "{text}");
    assert!(text.contains("build  yarn run build  # tsc -p ."), "{text}");
}

#[test]
fn scripts_lists_package_managers_from_lockfiles() {
    for (lock, pm) in
        [("bun.lockb", "bun"), ("bun.lock", "bun"), ("pnpm-lock.yaml", "pnpm"), ("package-lock.json", "npm")]
    {
        let p = Project::new();
        p.write("package.json", r#"{"scripts":{"dev":"vite"}}"#);
        p.write(lock, "");
        let out = p.run(&["scripts"], LIMIT);
        assert!(out.stdout_text().contains(&format!("dev  {pm} run dev  # vite")), "{lock}: {}", out.stdout_text());
    }
    let p = Project::new();
    p.write("package.json", r#"{"packageManager":"pnpm@9.0.0","scripts":{"dev":"vite"}}"#);
    p.write("yarn.lock", "");
    assert!(p.run(&["scripts"], LIMIT).stdout_text().contains("pnpm run dev"));
}

#[test]
fn regression_kill_others_on_fail_when_the_first_process_cannot_start() {
    let p = Project::with_toml(
        "[process.broken]\nargv = [\"no-such-program-876012\"]\n[process.server]\ncmd = \"sleep 876012\"\n",
    );
    let (events, out) = p.run_json(&["--kill-others-on-fail"], LIMIT);
    assert_eq!(out.code, Some(127));
    assert!(out.elapsed < Duration::from_secs(20), "the others must not be left running");
    assert!(of_type(&events, "process.started").iter().all(|e| e["process"] != "server"));
    assert!(processes_matching("876012").is_empty());
}

#[test]
fn regression_leftovers_are_stopped_when_the_leader_exits_with_pipes_closed() {
    let p = Project::with_toml(
        r#"
[process.spawner]
cmd = "sleep 876013 >/dev/null 2>&1 & exit 0"
[process.check]
cmd = "sleep 0.8; if grep -qs 8760''13 /proc/[0-9]*/cmdline; then echo alive; else echo gone; fi"
"#,
    );
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0));
    assert_eq!(lines_of(&events, "check", "stdout"), ["gone"], "the orphan must be stopped while the session runs");
}

#[test]
fn regression_absurd_durations_are_config_errors_not_panics() {
    let p = Project::with_toml(
        "[process.a]\ncmd = \"true\"\nstop_timeout = 9223372036854775807\nrestart_delay = \"1e20s\"\n",
    );
    let out = p.run(&["run"], LIMIT);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("process.a.stop_timeout: expected a duration"), "{}", out.stderr);
    assert!(out.stderr.contains("process.a.restart_delay: expected a duration"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"));
}
