//! Readiness and health: dependents start when what they need is ready.
//! Real processes: a "db" that opens a TCP listener late, an HTTP server,
//! one-shot migrations.

use serde_json::Value;

use crate::*;

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn pos(events: &[Value], pred: impl Fn(&Value) -> bool) -> usize {
    events.iter().position(pred).unwrap_or_else(|| panic!("event not found in {events:#?}"))
}

fn started(name: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["type"] == "process.started" && e["process"] == name
}

fn ready(name: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["type"] == "process.ready" && e["process"] == name
}

/// A db that listens on `port` only after a second (python, real socket).
fn late_listener(port: u16) -> String {
    format!(
        "python3 -c \\\"import socket,time; time.sleep(1); s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1',{port})); s.listen(); print('ready to accept connections', flush=True); time.sleep(3)\\\""
    )
}

#[test]
fn a_tcp_probe_holds_the_dependent_until_the_port_answers() {
    let port = free_port();
    let p = Project::with_toml(&format!(
        "[process.db]\ncmd = \"{}\"\nready.tcp = {port}\nready.interval = \"100ms\"\n[process.api]\ncmd = \"echo api up\"\ndepends_on = [\"db\"]\n",
        late_listener(port)
    ));
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let r = pos(&events, ready("db"));
    assert!(pos(&events, started("api")) > r, "api started before db was ready");
    assert_eq!(events[r]["probe"], "tcp");
    assert!(events[r]["after_ms"].as_u64().unwrap_or(0) >= 900, "{}", events[r]);
    let summary = &of_type(&events, "run.summary")[0];
    assert!(summary["processes"][0]["ready_ms"].as_u64().is_some(), "{summary}");
}

#[test]
fn a_log_probe_and_a_url_probe() {
    let p = Project::with_toml(
        "[process.db]\ncmd = \"sleep 0.5; echo 'LOG: database system is ready to accept connections'; sleep 1\"\nready.log = \"ready to accept connections\"\n\
         [process.web]\ncmd = \"sleep 0.3; echo '  Local:   http://localhost:5173/'; sleep 1\"\nready.url = true\n\
         [process.e2e]\ncmd = \"echo testing\"\ndepends_on = [\"db\", \"web\"]\n",
    );
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let s = pos(&events, started("e2e"));
    assert!(s > pos(&events, ready("db")) && s > pos(&events, ready("web")));
    assert_eq!(events[pos(&events, ready("web"))]["probe"], "url");
}

#[test]
fn an_http_probe_waits_for_a_2xx() {
    let port = free_port();
    let p = Project::with_toml(&format!(
        "[process.api]\ncmd = \"sleep 0.5; python3 -m http.server {port} --bind 127.0.0.1 & sleep 3; kill $!\"\nready.http = \"http://127.0.0.1:{port}/\"\nready.interval = \"100ms\"\n\
         [process.client]\ncmd = \"echo calling\"\ndepends_on = [\"api\"]\n"
    ));
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(pos(&events, started("client")) > pos(&events, ready("api")));
    assert_eq!(events[pos(&events, ready("api"))]["probe"], "http");
}

#[test]
fn a_migration_gates_its_dependents_by_exit_code() {
    let p = Project::with_toml(
        "[process.migrate]\ncmd = \"sleep 0.3; echo migrated\"\nready.exit = 0\n[process.api]\ncmd = \"echo api up\"\ndepends_on = [\"migrate\"]\n",
    );
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let exited = pos(&events, |e| e["type"] == "process.exited" && e["process"] == "migrate");
    assert!(pos(&events, ready("migrate")) > exited);
    assert!(pos(&events, started("api")) > pos(&events, ready("migrate")));
    // a failing migration blocks them
    let p = Project::with_toml(
        "[process.migrate]\ncmd = \"echo boom; exit 3\"\nready.exit = 0\n[process.api]\ncmd = \"echo api up\"\ndepends_on = [\"migrate\"]\n",
    );
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(of_type(&events, "process.started").iter().all(|e| e["process"] != "api"), "api must not start");
    let unready = &of_type(&events, "process.unready")[0];
    assert!(unready["reason"].as_str().is_some_and(|r| r.contains("code 3")), "{unready}");
    let blocked = &of_type(&events, "process.blocked")[0];
    assert_eq!((blocked["process"].as_str(), blocked["dependency"].as_str()), (Some("api"), Some("migrate")));
}

#[test]
fn a_probe_that_times_out_is_unready_and_its_dependents_never_start() {
    let port = free_port();
    let p = Project::with_toml(&format!(
        "[process.db]\ncmd = \"sleep 2\"\nready.tcp = {port}\nready.timeout = \"500ms\"\nready.interval = \"100ms\"\n\
         [process.api]\ncmd = \"echo api up\"\ndepends_on = [\"db\"]\n"
    ));
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(1), "a dependency that is never ready fails the run: {}", out.stderr);
    let u = &of_type(&events, "process.unready")[0];
    assert_eq!(u["process"], "db");
    assert!(u["waited_ms"].as_u64().unwrap_or(0) >= 450, "{u}");
    assert!(of_type(&events, "process.started").iter().all(|e| e["process"] != "api"));
    assert_eq!(of_type(&events, "process.blocked")[0]["process"], "api");
    // refused connections while waiting are normal: no error finding, no failure event before
    assert!(pos(&events, |e| e["type"] == "process.unready") < pos(&events, |e| e["type"] == "process.exited"));
}

#[test]
fn a_failing_health_check_restarts_the_process() {
    let port = free_port();
    // answers 200 twice, then 500 for ever
    let server = format!(
        "import http.server\nn = 0\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        global n\n        n += 1\n        self.send_response(200 if n <= 2 else 500)\n        self.end_headers()\n    def log_message(self, *a):\n        pass\nprint('serving', flush=True)\nhttp.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    );
    let p = Project::new();
    p.write("server.py", &server);
    p.write(
        "brum.toml",
        &format!(
            "[process.web]\ncmd = \"python3 server.py\"\nrestart = \"always\"\nrestart_delay = \"100ms\"\nready.http = \"http://127.0.0.1:{port}/\"\nready.interval = \"100ms\"\nhealth.http = \"http://127.0.0.1:{port}/\"\nhealth.interval = \"100ms\"\nhealth.failures = 2\n"
        ),
    );
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    let seen = live.until(|e| e["type"] == "process.started" && e["run"] == 2);
    let u = pos(&seen, |e| e["type"] == "process.unhealthy");
    assert_eq!((seen[u]["probe"].as_str(), seen[u]["failures"].as_u64()), (Some("http"), Some(2)));
    assert!(u > pos(&seen, ready("web")));
    live.signal(libc::SIGTERM);
    let (_, code) = live.rest(LIMIT);
    assert_eq!(code, Some(143));
}

#[test]
fn probe_mistakes_are_config_errors() {
    for (toml, want) in [
        ("[process.a]\ncmd = \"x\"\nready.tcpp = 5\n", "process.a.ready.tcpp: unknown key in [process.a.ready]"),
        ("[process.a]\ncmd = \"x\"\nready.tcp = 5\nready.log = \"up\"\n", "one probe per table"),
        ("[process.a]\ncmd = \"x\"\nready.tcp = 70000\n", "a port is 1 to 65535"),
        ("[process.a]\ncmd = \"x\"\nready.http = \"https://x/\"\n", "expected an http:// URL"),
        ("[process.a]\ncmd = \"x\"\nready.timeout = \"5s\"\n", "needs one probe"),
        (
            "[process.m]\ncmd = \"x\"\nautostart = false\nready.exit = 0\n[process.a]\ncmd = \"y\"\ndepends_on = [\"m\"]\n",
            "process.m.ready.exit: a one-shot task with autostart = false",
        ),
    ] {
        let p = Project::with_toml(toml);
        let out = p.run(&["run"], LIMIT);
        assert_eq!(out.code, Some(2), "{toml}: {}", out.stderr);
        assert!(out.stderr.contains(want), "want {want:?} for {toml:?} in:\n{}", out.stderr);
    }
}

/// After a restart the probe waits for the new run: the line the previous
/// run printed (still in the ring) does not count.
#[test]
fn a_restarted_process_is_ready_only_when_its_new_run_is() {
    let p = Project::with_toml(
        "[process.web]\ncmd = \"echo 'Local: http://localhost:5183/'; sleep 0.4; echo 'warmed up'; sleep 876803\"\nready.log = \"warmed up\"\n[process.keep]\ncmd = \"sleep 876803\"\n",
    );
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "process.ready" && e["run"] == 1);
    wait_for_socket(&p);
    let out = p.run(&["restart", "web"], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let seen = live.until(|e| e["type"] == "process.ready");
    let r = seen.last().expect("ready");
    assert_eq!(r["run"], 2, "{r}");
    assert!(r["after_ms"].as_u64().unwrap_or(0) >= 300, "ready before the new run printed its line: {r}");
    // a stopped process announces nothing any more
    let out = p.run(&["stop", "web"], LIMIT);
    assert_eq!(out.code, Some(0));
    live.until(|e| e["type"] == "process.exited");
    let (ps, _) = ask_timed(&p, &serde_json::json!({"cmd": "ps"}));
    assert_eq!(ps["processes"][0]["urls"], serde_json::json!([]), "{ps}");
    assert_eq!(ps["processes"][0]["probe"], "log");
    let (urls, _) = ask_timed(&p, &serde_json::json!({"cmd": "urls"}));
    assert_eq!(urls["total"], 0, "{urls}");
    let down = p.run(&["down"], LIMIT);
    assert_eq!(down.code, Some(0));
    let _ = live.rest(LIMIT);
}

#[test]
fn a_regex_probe() {
    let p = Project::with_toml(
        "[process.db]\ncmd = \"echo 'listening on port 5432 (3 connections)'; sleep 0.3\"\nready.regex = 'port \\d+ \\(\\d+ connections\\)'\n[process.app]\ncmd = \"echo up\"\ndepends_on = [\"db\"]\n",
    );
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(events[pos(&events, ready("db"))]["probe"], "regex");
    assert!(pos(&events, started("app")) > pos(&events, ready("db")));
}
