//! The control socket: tail, queries, lifecycle, up/down, and what bad
//! clients cannot break.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::*;

fn ask(p: &Project, req: Value) -> Value {
    ask_timed(p, &req).0
}

/// A `brum tail --since 0` as a child, its events collected until
/// `daemon.stopped`. Returns once it is attached: it has printed its first
/// event (the replayed `daemon.started`).
fn spawn_tail(p: &Project, args: &[&str]) -> std::thread::JoinHandle<Vec<Value>> {
    let mut full = vec!["tail", "--since", "0"];
    full.extend_from_slice(args);
    let mut child = p
        .cmd(&full)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn tail");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut out = Vec::new();
    stdout.read_until(b'\n', &mut out).expect("the tail's first event");
    std::thread::spawn(move || {
        stdout.read_to_end(&mut out).expect("read");
        let _ = child.wait();
        parse_events(&out)
    })
}

/// A shell command that waits until the test creates `file` in the project
/// (so a process prints only once the test's clients are attached), for 60 s
/// at most: a test that never creates it fails on its assertions instead of
/// hanging.
fn after(file: &str, then: &str) -> String {
    format!("i=0; until [ -e {file} ] || [ $i -ge 6000 ]; do sleep 0.01; i=$((i+1)); done; {then}")
}

#[test]
fn tail_sees_exactly_what_run_json_prints() {
    let p = Project::with_toml(&format!(
        "[process.a]\ncmd = \"{}\"\n[process.b]\ncmd = \"{}\"\n",
        after("go", "seq 1 20000"),
        after("go", "seq 1 5000 >&2; echo 'http://localhost:3000'"),
    ));
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "daemon.started");
    wait_for_socket(&p);
    let t1 = spawn_tail(&p, &[]);
    p.write("go", "");
    let (rest, code) = live.rest(LIMIT);
    assert_eq!(code, Some(0));
    let tailed = t1.join().expect("tail");
    // run --json printed events 1.. ; `rest` starts after the daemon.started we consumed
    assert!(tailed.len() > 25_000);
    assert_eq!(tailed[0]["type"], "daemon.started");
    assert_eq!(&tailed[1..], &rest[..], "tail and run --json must agree event for event");
    // resuming from any seq gives the rest, no gap and no duplicate
    let seqs: Vec<u64> = tailed.iter().map(|e| e["seq"].as_u64().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
}

#[test]
fn since_and_last_resume_without_gap_or_duplicate() {
    let p = Project::with_toml("[process.a]\ncmd = \"seq 1 3000; sleep 876020\"\n");
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "log.line" && e["text"] == "3000");
    wait_for_socket(&p);
    let all = p.run(&["tail", "--since", "0", "--no-follow", "--json"], LIMIT);
    let all = parse_events(&all.stdout);
    let k = all[1000]["seq"].as_u64().expect("seq");
    let resumed = parse_events(&p.run(&["tail", "--since", &k.to_string(), "--no-follow"], LIMIT).stdout);
    assert_eq!(&resumed[..], &all[1001..]);
    let last = parse_events(&p.run(&["tail", "--last", "3", "--no-follow", "--type", "log.line"], LIMIT).stdout);
    let texts: Vec<&Value> = last.iter().map(|e| &e["text"]).collect();
    assert_eq!(texts, ["2998", "2999", "3000"]);
    live.signal(libc::SIGTERM);
    let _ = live.rest(LIMIT);
}

#[test]
fn a_client_that_never_reads_is_dropped_and_nobody_else_waits() {
    // the last lines come after the stuck client was dropped
    let p = Project::with_toml(&format!(
        "[process.spew]\ncmd = \"{}\"\n",
        after("go", &format!("seq 1 400000; {}", after("dropped", "seq 400001 400010")))
    ));
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "daemon.started");
    wait_for_socket(&p);
    // a tail that reads its acknowledgement, then nothing
    let stuck = UnixStream::connect(sock(&p)).expect("connect");
    (&stuck).write_all(b"{\"cmd\":\"tail\"}\n").expect("send");
    let mut ack = String::new();
    BufReader::new(&stuck).read_line(&mut ack).expect("ack");
    assert!(ack.contains("\"ok\":true"), "{ack}");
    // and one that does
    let good = spawn_tail(&p, &["--json", "--type", "daemon.started", "--type", "log.line"]);
    p.write("go", "");
    let mut events = live.until(|e| e["type"] == "client.dropped");
    p.write("dropped", "");
    let (rest, code) = live.rest(LIMIT);
    events.extend(rest);
    let rest = events;
    assert_eq!(code, Some(0));
    assert_eq!(lines_of(&rest, "spew", "stdout").len(), 400_010, "the children's output keeps flowing");
    let dropped = of_type(&rest, "client.dropped");
    assert_eq!(dropped.len(), 1, "the stuck client is dropped once");
    let got = good.join().expect("tail");
    // the reading tail gets every line, or is told exactly how many it missed
    let lines = got.iter().filter(|e| e["type"] == "log.line").count() as u64;
    let missed: u64 =
        got.iter().filter(|e| e["type"] == "log.dropped").map(|e| e["count"].as_u64().expect("count")).sum();
    assert_eq!(lines + missed, 400_010, "every line is delivered or counted");
    drop(stuck);
}

#[test]
fn two_hundred_tail_clients_are_served() {
    let p = Project::with_toml(&format!("[process.a]\ncmd = \"{}\"\n", after("go", "seq 1 1000")));
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "daemon.started");
    wait_for_socket(&p);
    let mut clients = Vec::new();
    for _ in 0..200 {
        let mut s = UnixStream::connect(sock(&p)).expect("connect");
        s.write_all(b"{\"cmd\":\"tail\",\"types\":[\"log.line\"]}\n").expect("send");
        clients.push(s);
    }
    // every client attached (acknowledged) before the process prints
    let readers: Vec<_> = clients
        .into_iter()
        .map(|s| {
            let mut lines = BufReader::new(s).lines();
            let ack = lines.next().expect("ack").expect("line");
            assert!(ack.contains("\"ok\":true"), "{ack}");
            std::thread::spawn(move || lines.map_while(Result::ok).count())
        })
        .collect();
    p.write("go", "");
    let (_, code) = live.rest(LIMIT);
    assert_eq!(code, Some(0));
    for r in readers {
        assert_eq!(r.join().expect("reader"), 1000);
    }
}

#[test]
fn garbage_partial_and_huge_requests_get_errors_not_crashes() {
    let p = Project::with_toml("[process.a]\ncmd = \"echo up; sleep 876021\"\n");
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "log.line");
    wait_for_socket(&p);
    for (req, want) in [
        (&b"not json at all\n"[..], "not JSON"),
        (b"{\"cmd\":\"explode\"}\n", "unknown cmd"),
        (b"[1,2,3]\n", "a request is a JSON object"),
        (b"{\"cmd\":\"logs\",\"process\":\"nope\"}\n", "unknown process \"nope\""),
        (b"{\"cmd\":\"logs\",\"process\":\"a\",\"regex\":\"(\"}\n", "regex:"),
    ] {
        let mut s = UnixStream::connect(sock(&p)).expect("connect");
        s.write_all(req).expect("send");
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).expect("answer");
        let v: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["ok"], false);
        assert!(v["error"].as_str().expect("error").contains(want), "{line}");
    }
    // half a request, then hang up
    let mut s = UnixStream::connect(sock(&p)).expect("connect");
    s.write_all(b"{\"cmd\":\"p").expect("send");
    drop(s);
    // a huge request without a newline
    let mut s = UnixStream::connect(sock(&p)).expect("connect");
    let _ = s.write_all(&vec![b'x'; 200_000]);
    let mut answer = String::new();
    let _ = BufReader::new(&s).read_line(&mut answer);
    assert!(answer.contains("request too large"), "{answer}");
    // a flood of requests on one connection
    let mut s = UnixStream::connect(sock(&p)).expect("connect");
    let flood: String = (0..2000).map(|i| format!("{{\"id\":{i},\"cmd\":\"ps\"}}\n")).collect();
    s.write_all(flood.as_bytes()).expect("send");
    s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let answers = BufReader::new(s).lines().map_while(Result::ok).count();
    assert_eq!(answers, 2000);
    // still fine
    let ps = ask(&p, json!({"cmd": "ps"}));
    assert_eq!(ps["processes"][0]["state"], "running");
    live.signal(libc::SIGTERM);
    let (_, code) = live.rest(LIMIT);
    assert_eq!(code, Some(143));
}

#[test]
fn one_brum_per_project_stale_sockets_replaced_and_owner_only() {
    let p = Project::with_toml("[process.a]\ncmd = \"echo up; sleep 876022\"\n");
    // a stale socket file from a brum that died
    std::fs::create_dir_all(p.path().join(".brum")).expect("mkdir");
    drop(std::os::unix::net::UnixListener::bind(sock(&p)).expect("bind"));
    assert!(sock(&p).exists());
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "log.line");
    wait_for_socket(&p);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(sock(&p)).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the socket is for its owner only");
    let second = p.run(&["run", "--json"], LIMIT);
    assert_eq!(second.code, Some(2));
    assert!(second.stderr.contains("another brum is already running here"), "{}", second.stderr);
    live.signal(libc::SIGTERM);
    let _ = live.rest(LIMIT);
    assert!(!sock(&p).exists(), "brum removes its socket when it ends");
}

/// Connects to the project's socket as uid/gid 65534 (nobody) and reads
/// one line without sending anything (brum answers a refused peer at once,
/// before reading).
fn connect_as_nobody(p: &Project) -> (bool, String) {
    const READ_ONE_LINE: &str = "import socket, sys\n\
        s = socket.socket(socket.AF_UNIX)\n\
        s.settimeout(10)\n\
        s.connect(sys.argv[1])\n\
        sys.stdout.write(s.makefile().readline())\n";
    let out = std::process::Command::new("setpriv")
        // the system's python: a user's (pyenv under /root) is out of reach
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", READ_ONE_LINE])
        .arg(sock(p))
        .output()
        .expect("setpriv (util-linux) and python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Another user is kept out twice: by the socket's 0600 mode, and — should
/// the mode be opened up — by brum checking the peer's uid (SO_PEERCRED).
#[test]
#[ignore = "needs root"]
fn another_user_is_refused_by_the_socket_mode_and_by_its_peer_uid_as_root() {
    assert!(is_root(), "switching users needs root (CI runs these with --ignored)");
    let p = Project::with_toml("[process.a]\ncmd = \"echo up; sleep 876441\"\n");
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "log.line");
    wait_for_socket(&p);
    // let the other user reach the socket: only the socket itself guards it
    use std::os::unix::fs::PermissionsExt;
    let open = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    open(p.path(), 0o711);
    open(&p.path().join(".brum"), 0o711);
    let (ok, out) = connect_as_nobody(&p);
    assert!(!ok && out.contains("PermissionError"), "the 0600 mode refuses first: {out}");
    open(&sock(&p), 0o666);
    let (ok, out) = connect_as_nobody(&p);
    assert!(ok && out.contains("refused: another user's process"), "brum checks the peer's uid: {out}");
    // brum's own client says so too, whether its request went out before
    // brum's close or met a closed socket (a copy of brum the other user
    // may run: the build folder may be private)
    let client = p.path().join("brum-client");
    std::fs::copy(brum_bin(), &client).expect("copy brum");
    open(&client, 0o755);
    for _ in 0..20 {
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&client)
            .args(["ps", "--socket"])
            .arg(sock(&p))
            .output()
            .expect("setpriv");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("refused: another user's process") && !err.contains("pipe"), "{err}");
    }
    // and its owner is still served
    assert_eq!(ask(&p, json!({"cmd": "ps"}))["processes"][0]["name"], "a");
    live.signal(libc::SIGTERM);
    let _ = live.rest(LIMIT);
}

#[test]
fn ps_logs_errors_urls_and_restart_while_others_run() {
    let p = Project::with_toml(
        r#"
ring_bytes = "128KiB"
[process.api]
cmd = '''for i in $(seq 1 5000); do echo "line $i"; done; echo 'listening on http://127.0.0.1:4000'; printf 'Traceback (most recent call last):\n  File "srv.py", line 9, in <module>\nKeyError: x\n' >&2; sleep 876023'''
[process.worker]
cmd = "echo worker up; sleep 876023"
"#,
    );
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "error.detected");
    wait_for_socket(&p);
    let ps = p.run(&["ps", "--json"], LIMIT);
    let rows: Value = serde_json::from_slice(&ps.stdout).expect("ps json");
    let api = rows.as_array().expect("rows").iter().find(|r| r["name"] == "api").expect("api").clone();
    assert_eq!(api["state"], "running");
    assert_eq!(api["errors"], 1);
    assert_eq!(api["urls"][0], "http://127.0.0.1:4000");
    // search across the ring's eviction boundary: only held lines, newest
    let logs: Value =
        serde_json::from_slice(&p.run(&["logs", "api", "--grep", "line 4", "-n", "5", "--json"], LIMIT).stdout)
            .expect("logs json");
    assert!(logs["evicted"].as_u64().expect("evicted") > 0, "the small ring must have evicted");
    let texts: Vec<&str> =
        logs["lines"].as_array().expect("lines").iter().map(|l| l["text"].as_str().expect("t")).collect();
    assert_eq!(texts, ["line 4995", "line 4996", "line 4997", "line 4998", "line 4999"]);
    let total = logs["total"].as_u64().expect("total");
    assert!(total < 1111 && total > 100, "only lines still held are searched ({total})");
    let re: Value = serde_json::from_slice(&p.run(&["logs", "api", "--regex", "^line 50{3}$", "--json"], LIMIT).stdout)
        .expect("json");
    assert_eq!(re["lines"][0]["text"], "line 5000");
    let errors: Value = serde_json::from_slice(&p.run(&["errors", "--json"], LIMIT).stdout).expect("json");
    assert_eq!(errors["errors"][0]["message"], "KeyError: x");
    assert_eq!(errors["errors"][0]["file"], "srv.py");
    let urls = p.run(&["urls"], LIMIT).stdout_text();
    assert!(urls.contains("api  http://127.0.0.1:4000"), "{urls}");
    // restart one while the other keeps running
    let worker_pid = api_pid(&p, "worker");
    let old_api = api_pid(&p, "api");
    let r = p.run(&["restart", "api"], LIMIT);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let start = Instant::now();
    while api_pid(&p, "api") == old_api || api_pid(&p, "api") == 0 {
        assert!(start.elapsed() < Duration::from_secs(20), "api did not come back");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(api_pid(&p, "worker"), worker_pid, "the worker was not touched");
    let stop = p.run(&["stop", "worker"], LIMIT);
    assert_eq!(stop.code, Some(0));
    let bad = p.run(&["start", "nope"], LIMIT);
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("unknown process \"nope\""), "{}", bad.stderr);
    live.signal(libc::SIGTERM);
    let (rest, _) = live.rest(LIMIT);
    let restarted = of_type(&rest, "process.started").into_iter().filter(|e| e["process"] == "api").count();
    assert_eq!(restarted, 1);
    assert!(processes_matching("876023").is_empty());
}

fn api_pid(p: &Project, name: &str) -> i64 {
    let v = ask(p, json!({"cmd": "ps"}));
    v["processes"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["name"] == name)
        .and_then(|r| r["pid"].as_i64())
        .unwrap_or(0)
}

#[test]
fn up_and_down_leave_nothing_behind() {
    let p = Project::with_toml(
        "[process.a]\ncmd = \"echo hello from a; sleep 876024\"\n[process.b]\ncmd = \"trap '' TERM; sleep 876024\"\nstop_timeout = \"500ms\"\n",
    );
    let up = p.run(&["up"], LIMIT);
    assert_eq!(up.code, Some(0), "{}", up.stderr);
    assert!(up.stdout_text().contains("brum is running in the background"), "{}", up.stdout_text());
    let status = p.run(&["status"], LIMIT);
    assert_eq!(status.code, Some(0));
    let again = p.run(&["up"], LIMIT);
    assert_eq!(again.code, Some(2), "a second up refuses");
    assert!(again.stderr.contains("already running"), "{}", again.stderr);
    let start = Instant::now();
    loop {
        let log = std::fs::read_to_string(p.path().join(".brum/brum.log")).unwrap_or_default();
        if log.contains("hello from a") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the log file gets the events: {log}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let down = p.run(&["down"], LIMIT);
    assert_eq!(down.code, Some(0), "{}", down.stderr);
    assert!(processes_matching("876024").is_empty(), "down leaves nothing behind");
    let status = p.run(&["status"], LIMIT);
    assert_eq!(status.code, Some(3));
    let log = std::fs::read_to_string(p.path().join(".brum/brum.log")).expect("log");
    assert!(log.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()), "the log is NDJSON");
    assert!(log.contains("\"type\":\"daemon.stopped\""));
}
