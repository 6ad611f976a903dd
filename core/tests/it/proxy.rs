//! brum's reverse proxy with real dev servers (a small Node server,
//! `proxy_server.js`, and Python's http.server) and the real binary: bytes
//! through the proxy are the server's bytes, connections are kept, upgraded
//! and streamed, failures become 502 pages and errors, and hostile or huge
//! traffic leaves brum answering with flat memory. Synchronised on events;
//! every wait has a generous deadline.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::*;

const SERVER: &str = include_str!("proxy_server.js");

/// The web process: the Node server on a port of the system's choosing; the
/// proxy likewise.
pub const NODE_WEB: &str = "[process.web]\ncmd = \"exec node server.js\"\n[proxy]\nport = 0\n";

/// A running `brum run --json` whose events a reader thread collects.
pub struct Session {
    pub p: Project,
    child: Child,
    rx: mpsc::Receiver<Value>,
    pub seen: Vec<Value>,
    taken: HashSet<usize>,
}

impl Session {
    pub fn start(toml: &str, args: &[&str]) -> Session {
        require_node();
        let p = Project::with_toml(toml);
        p.write("server.js", SERVER);
        let mut full = vec!["run", "--json"];
        full.extend_from_slice(args);
        let mut child = p.cmd(&full).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("spawn brum");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Session { p, child, rx, seen: Vec::new(), taken: HashSet::new() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Takes the events received so far.
    pub fn pump(&mut self) {
        while let Ok(v) = self.rx.try_recv() {
            self.seen.push(v);
        }
    }

    /// The first event matching `pred` not returned before, waiting for it.
    pub fn wait(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + LIMIT;
        let mut from = 0;
        loop {
            self.pump();
            for i in from..self.seen.len() {
                if !self.taken.contains(&i) && pred(&self.seen[i]) {
                    self.taken.insert(i);
                    return self.seen[i].clone();
                }
            }
            from = self.seen.len();
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {what} within {LIMIT:?}; events: {:#?}", self.tail());
            match self.rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(v) => self.seen.push(v),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("brum ended before {what}; events: {:#?}", self.tail())
                }
            }
        }
    }

    pub fn wait_type(&mut self, ty: &str) -> Value {
        self.wait(ty, |e| e["type"] == ty)
    }

    fn tail(&self) -> Vec<String> {
        self.seen.iter().rev().take(30).rev().map(|v| v.to_string()).collect()
    }

    /// The proxy's `host:port` from its `proxy.started`, and the dev
    /// server's.
    pub fn proxy(&mut self) -> (String, String) {
        let ev = self.wait_type("proxy.started");
        (authority(&ev["proxy_url"]), authority(&ev["url"]).replace("localhost", "127.0.0.1"))
    }

    /// Stops brum (SIGTERM) and returns its `run.summary`.
    pub fn end(&mut self) -> Value {
        kill(self.child.id() as i32, libc::SIGTERM);
        self.wait_type("run.summary")
    }

    pub fn ask(&self, req: Value) -> Value {
        ask_timed(&self.p, &req).0
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        kill(self.child.id() as i32, libc::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The proxy tests' dev server is Node (a fresh machine has it; `.ci/run`
/// relies on that): without it they fail saying so, not by timing out.
fn require_node() {
    let ok = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(ok, "the proxy tests need `node` on PATH (their dev server is core/tests/it/proxy_server.js)");
}

pub fn authority(url: &Value) -> String {
    let u = url.as_str().expect("a URL");
    let rest = u.strip_prefix("http://").expect("http URL");
    rest.split('/').next().expect("authority").to_string()
}

pub fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(LIMIT)).expect("timeout");
    s
}

/// One response read off `r`: its head and its body as sent (a chunked
/// body with its chunk framing).
pub fn read_response(r: &mut BufReader<TcpStream>) -> (String, Vec<u8>) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).expect("read head");
        assert!(n > 0, "the connection ended before a complete head: {head:?}");
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let lower = head.to_ascii_lowercase();
    let mut body = Vec::new();
    if lower.contains("transfer-encoding: chunked") {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).expect("chunk size");
            body.extend_from_slice(size.as_bytes());
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16).expect("hex size");
            let mut data = vec![0; n + 2];
            r.read_exact(&mut data).expect("chunk");
            body.extend_from_slice(&data);
            if n == 0 {
                break;
            }
        }
    } else if let Some(i) = lower.find("content-length:") {
        let n: usize = lower[i + 15..].lines().next().unwrap_or("").trim().parse().expect("length");
        body.resize(n, 0);
        r.read_exact(&mut body).expect("body");
    } else if !head.starts_with("HTTP/1.1 1") && !head.starts_with("HTTP/1.1 204") && !head.starts_with("HTTP/1.1 304")
    {
        r.read_to_end(&mut body).expect("body until close");
    }
    (head, body)
}

/// A whole request on a new connection.
pub fn get(addr: &str, path: &str) -> (String, Vec<u8>) {
    let mut s = connect(addr);
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("send");
    read_response(&mut BufReader::new(s))
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn a_get_through_the_proxy_is_the_servers_response_byte_for_byte() {
    let mut s = Session::start(NODE_WEB, &[]);
    let (proxy, direct) = s.proxy();
    for path in ["/big?bytes=300000", "/chunked", "/nope"] {
        let (ph, pb) = get(&proxy, path);
        let (dh, db) = get(&direct, path);
        assert_eq!(ph.lines().next(), dh.lines().next(), "{path}: the same status");
        assert!(pb == db, "{path}: the same body ({} and {} bytes)", pb.len(), db.len());
    }
    // the dev server saw brum's forwarding headers
    let (_, body) = get(&proxy, "/hello");
    let body = String::from_utf8(body).expect("utf-8");
    assert_eq!(body, format!("hello from {proxy} for 127.0.0.1 via {proxy}"));
    let ev = s.wait("the request's event", |e| e["type"] == "proxy.request" && e["path"] == "/big?bytes=300000");
    assert_eq!(
        (ev["process"].as_str(), ev["method"].as_str(), ev["status"].as_u64()),
        (Some("web"), Some("GET"), Some(200))
    );
    assert_eq!(ev["upgrade"], false);
    assert!(ev["bytes_out"].as_u64().expect("bytes_out") > 300_000 && ev["bytes_in"].as_u64().expect("in") > 30);
    assert!(ev["duration_ms"].as_f64().is_some(), "{ev}");
    let nope = s.wait("the 404's event", |e| e["type"] == "proxy.request" && e["path"] == "/nope");
    assert_eq!(nope["status"], 404);
}

#[test]
fn a_kept_alive_connection_serves_several_requests_and_pipelined_ones_in_order() {
    let mut s = Session::start(NODE_WEB, &[]);
    let (proxy, _) = s.proxy();
    let mut conn = BufReader::new(connect(&proxy));
    for i in 0..5 {
        write!(conn.get_mut(), "GET /hello?{i} HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
        let (head, body) = read_response(&mut conn);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(header(&head, "connection").is_none(), "kept alive: {head}");
        assert!(body.starts_with(b"hello from x"));
    }
    // three at once: three answers, in order
    let burst: String = (0..3).map(|i| format!("GET /hello?p{i} HTTP/1.1\r\nHost: p{i}\r\n\r\n")).collect();
    conn.get_mut().write_all(burst.as_bytes()).expect("send");
    for i in 0..3 {
        let (_, body) = read_response(&mut conn);
        assert!(String::from_utf8_lossy(&body).starts_with(&format!("hello from p{i}")), "answer {i}");
    }
    for i in 0..5 {
        s.wait("a kept-alive request", |e| e["type"] == "proxy.request" && e["path"] == format!("/hello?{i}"));
    }
}

#[test]
fn a_chunked_response_arrives_exactly_as_the_server_chunked_it() {
    let mut s = Session::start(NODE_WEB, &[]);
    let (proxy, direct) = s.proxy();
    let (ph, pb) = get(&proxy, "/chunked");
    let (_, db) = get(&direct, "/chunked");
    assert_eq!(header(&ph, "transfer-encoding"), Some("chunked"), "{ph}");
    assert_eq!(String::from_utf8_lossy(&pb), String::from_utf8_lossy(&db), "chunk for chunk");
    assert!(pb.ends_with(b"0\r\n\r\n"));
    // and a chunked request body travels both ways intact
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut conn = BufReader::new(connect(&proxy));
    let mut req = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in payload.chunks(7_000) {
        req.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        req.extend_from_slice(part);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let writer = {
        let mut w = conn.get_ref().try_clone().expect("clone");
        std::thread::spawn(move || w.write_all(&req).expect("send body"))
    };
    let (_, echoed) = read_response(&mut conn);
    writer.join().expect("writer");
    let mut decoded = Vec::new();
    let mut rest = &echoed[..];
    while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).expect("size"), 16).expect("hex");
        decoded.extend_from_slice(&rest[nl + 2..nl + 2 + n]);
        rest = &rest[nl + 4 + n..];
        if n == 0 {
            break;
        }
    }
    assert!(decoded == payload, "the echo is the body sent ({} of {} bytes)", decoded.len(), payload.len());
}

fn ws_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut f = vec![0x81];
    if payload.len() < 126 {
        f.push(0x80 | payload.len() as u8);
    } else {
        f.push(0x80 | 126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

fn ws_read(r: &mut impl Read) -> Vec<u8> {
    let mut h = [0u8; 2];
    r.read_exact(&mut h).expect("frame head");
    let mut len = (h[1] & 127) as usize;
    if len == 126 {
        let mut l = [0u8; 2];
        r.read_exact(&mut l).expect("length");
        len = u16::from_be_bytes(l) as usize;
    }
    let mut p = vec![0; len];
    r.read_exact(&mut p).expect("payload");
    p
}

#[test]
fn a_websocket_echoes_through_the_proxy() {
    let mut s = Session::start(NODE_WEB, &[]);
    let (proxy, _) = s.proxy();
    let mut ws = connect(&proxy);
    write!(
        ws,
        "GET /hmr HTTP/1.1\r\nHost: {proxy}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .expect("handshake");
    let mut r = BufReader::new(ws.try_clone().expect("clone"));
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        assert!(r.read_line(&mut head).expect("head") > 0, "{head}");
    }
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(header(&head, "sec-websocket-accept"), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    let ev = s.wait("the upgrade's event", |e| e["type"] == "proxy.request" && e["path"] == "/hmr");
    assert_eq!((ev["status"].as_u64(), ev["upgrade"].as_bool()), (Some(101), Some(true)), "{ev}");
    for msg in [b"hello".to_vec(), vec![b'z'; 5000], b"{\"type\":\"update\"}".to_vec()] {
        ws.write_all(&ws_frame(&msg)).expect("send frame");
        assert_eq!(ws_read(&mut r), msg);
    }
    // a close frame is answered and the tunnel ends
    ws.write_all(&[0x88, 0x80, 1, 2, 3, 4]).expect("close");
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).expect("until the end");
    assert_eq!(rest, [0x88, 0]);
}

#[test]
fn server_sent_events_arrive_before_the_response_ends() {
    let mut s = Session::start(NODE_WEB, &[]);
    let (proxy, direct) = s.proxy();
    let mut c = connect(&proxy);
    write!(c, "GET /sse HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n").expect("send");
    let mut r = BufReader::new(c);
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        r.read_line(&mut head).expect("head");
    }
    assert_eq!(header(&head, "content-type"), Some("text/event-stream"));
    // the first event comes while the stream is still open
    let mut got = String::new();
    while !got.contains("data: first") {
        r.read_line(&mut got).expect("first event");
    }
    let (_, ok) = get(&direct, "/sse-end");
    assert_eq!(ok, b"ok");
    while !got.contains("data: last") {
        assert!(r.read_line(&mut got).expect("last event") > 0, "{got}");
    }
    let ev = s.wait("the stream's event", |e| e["type"] == "proxy.request" && e["path"] == "/sse");
    assert_eq!(ev["status"], 200);
}

/// Open file descriptors of process `pid`.
pub fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).expect("fd dir").count()
}

/// Waits until `pid` has at most `n` fds open.
pub fn wait_fds(pid: u32, n: usize) {
    let start = Instant::now();
    while fds(pid) > n {
        assert!(start.elapsed() < LIMIT, "brum holds {} fds, {n} before", fds(pid));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_server_killed_mid_response_ends_the_connection_and_leaks_nothing() {
    let toml = format!("{NODE_WEB}[process.keep]\ncmd = \"sleep 600\"\n");
    let mut s = Session::start(&toml, &[]);
    let (proxy, _) = s.proxy();
    get(&proxy, "/hello");
    s.wait("the warm-up", |e| e["type"] == "proxy.request");
    let before = fds(s.pid());
    let mut c = BufReader::new(connect(&proxy));
    write!(c.get_mut(), "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        c.read_line(&mut head).expect("head");
    }
    assert_eq!(header(&head, "content-length"), Some("1000"));
    s.wait("the server hanging", |e| e["type"] == "log.line" && e["text"] == "hanging");
    let answer = s.ask(json!({"cmd": "stop", "process": "web"}));
    assert_eq!(answer["ok"], true, "{answer}");
    let mut body = Vec::new();
    c.read_to_end(&mut body).expect("the connection ends");
    assert!(body.len() < 1000, "a cut response: {} bytes", body.len());
    let ev = s.wait("the cut request", |e| e["type"] == "proxy.request" && e["path"] == "/hang");
    assert_eq!(ev["error"], "the dev server closed the connection mid-response", "{ev}");
    let err = s.wait("its error", |e| e["type"] == "error.detected" && e["source"] == "proxy");
    assert!(err["message"].as_str().expect("message").contains("/hang"), "{err}");
    // nothing answers now: a 502 page naming the process and its state
    s.wait("web's end", |e| e["type"] == "process.exited" && e["process"] == "web");
    let (h, page) = get(&proxy, "/after");
    assert!(h.starts_with("HTTP/1.1 502"), "{h}");
    let page = String::from_utf8(page).expect("utf-8");
    assert!(page.contains("<code>web</code> is not answering") && page.contains("not running"), "{page}");
    drop(c);
    wait_fds(s.pid(), before);
}

#[test]
fn a_refused_server_gets_a_502_page_with_its_last_error() {
    let toml = "[process.web]\ncmd = \"echo 'Local: http://localhost:1/'; \
                echo \\\"TypeError: Cannot read properties of undefined (reading 'x')\\\"; \
                echo '    at render (/app/src/App.js:12:5)'; sleep 600\"\n[proxy]\nport = 0\n";
    let mut s = Session::start(toml, &[]);
    let (proxy, _) = s.proxy();
    s.wait("the app's error", |e| e["type"] == "error.detected" && e["plugin"] == "errors");
    let (head, page) = get(&proxy, "/");
    assert!(head.starts_with("HTTP/1.1 502") && head.contains("text/html"), "{head}");
    let page = String::from_utf8(page).expect("utf-8");
    assert!(page.contains("<code>web</code>") && page.contains("connection refused"), "{page}");
    assert!(page.contains("TypeError: Cannot read properties of undefined (reading &#39;x&#39;)"), "{page}");
    assert!(page.contains("/app/src/App.js:12:5"), "{page}");
    let ev = s.wait("the 502's event", |e| e["type"] == "proxy.request" && e["status"] == 502);
    assert_eq!(ev["error"], "connection refused");
    let err = s.wait("the proxy's error", |e| e["type"] == "error.detected" && e["source"] == "proxy");
    assert_eq!((err["plugin"].as_str(), err["code"].as_str()), (Some("proxy"), Some("502")), "{err}");
    assert_eq!(err["message"], "GET / → 502: connection refused");
    assert_eq!(err["first_seq"], ev["seq"], "the error points at its request");
    get(&proxy, "/");
    let again = s.wait("the same error again", |e| e["type"] == "error.detected" && e["source"] == "proxy");
    assert_eq!((again["id"].clone(), again["count"].as_u64()), (err["id"].clone(), Some(2)));
    let open = s.ask(json!({"cmd": "errors"}));
    assert!(open["errors"].as_array().expect("errors").iter().any(|e| e["source"] == "proxy"), "{open}");
}

#[test]
fn a_5xx_is_an_error_resolved_when_the_request_works_again() {
    let mut s = Session::start(NODE_WEB, &[]);
    let (proxy, _) = s.proxy();
    let (h, _) = get(&proxy, "/flaky?try=1");
    assert!(h.starts_with("HTTP/1.1 500"), "{h}");
    let err = s.wait("the 500's error", |e| e["type"] == "error.detected" && e["source"] == "proxy");
    assert_eq!(err["message"], "GET /flaky → 500 Internal Server Error", "the query is not part of it");
    // another path working does not fix it; the same path working does
    get(&proxy, "/hello");
    s.wait("the good request", |e| e["type"] == "proxy.request" && e["path"] == "/hello");
    s.pump();
    assert!(!s.seen.iter().any(|e| e["type"] == "error.resolved"), "resolved by another request");
    let (h, _) = get(&proxy, "/flaky?try=2");
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
    let fixed = s.wait_type("error.resolved");
    assert_eq!((&fixed["id"], fixed["process"].as_str()), (&err["id"], Some("web")), "{fixed}");
    let open = s.ask(json!({"cmd": "errors"}));
    assert_eq!(open["open"], 0, "{open}");
}

#[test]
fn the_proxy_stays_across_a_restart_and_follows_a_new_port() {
    let toml = "[process.web]\ncmd = \"exec node server.js $(cat port.txt)\"\n[proxy]\nport = 0\n";
    let mut s = Session::start(toml, &[]);
    // the first run: a port of the system's choosing
    let first = s.wait_type("proxy.started");
    let (proxy, _) = (authority(&first["proxy_url"]), ());
    let (_, body) = get(&proxy, "/hello");
    assert!(body.starts_with(b"hello from"));
    // the same port again after a restart: the same proxy
    let port = authority(&first["url"]).rsplit(':').next().expect("port").to_string();
    s.p.write("port.txt", &port);
    assert_eq!(s.ask(json!({"cmd": "restart", "process": "web"}))["ok"], true);
    let second = s.wait("the second run's proxy", |e| e["type"] == "proxy.started");
    assert_eq!((&second["proxy_url"], &second["url"]), (&first["proxy_url"], &first["url"]));
    // a new port: the proxy follows it
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    s.p.write("port.txt", &free.to_string());
    assert_eq!(s.ask(json!({"cmd": "restart", "process": "web"}))["ok"], true);
    let third = s.wait("the third run's proxy", |e| e["type"] == "proxy.started");
    assert_eq!(third["proxy_url"], first["proxy_url"], "the browser's URL stays");
    assert_eq!(third["url"], format!("http://localhost:{free}/"));
    let (h, body) = get(&proxy, "/hello");
    assert!(h.starts_with("HTTP/1.1 200") && body.starts_with(b"hello from"), "{h}");
}

#[test]
fn https_urls_get_no_proxy_and_a_reason_once() {
    let toml = "[process.web]\ncmd = \"echo 'Local: https://localhost:8443/'; echo 'again https://localhost:8443/'; \
                sleep 600\"\n[proxy]\nport = 0\n";
    let mut s = Session::start(toml, &[]);
    let skipped = s.wait_type("proxy.skipped");
    assert_eq!(skipped["url"], "https://localhost:8443/");
    assert!(skipped["reason"].as_str().expect("reason").starts_with("https"), "{skipped}");
    let out = s.ask(json!({"cmd": "ps"}));
    assert_eq!(out["ok"], true);
    s.pump();
    assert_eq!(s.seen.iter().filter(|e| e["type"] == "proxy.skipped").count(), 1, "said once");
    assert!(!s.seen.iter().any(|e| e["type"] == "proxy.started"));
}

/// Inodes of the TCP sockets listening on the machine, with their local
/// address (`0100007F:5208` for 127.0.0.1:20999).
fn listening() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(file).unwrap_or_default().lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && f[3] == "0A" {
                out.push((f[9].to_string(), f[1].to_string()));
            }
        }
    }
    out
}

/// The local addresses of the TCP listeners process `pid` holds.
fn listeners_of(pid: u32) -> Vec<String> {
    let listening = listening();
    let mut out = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("fds").flatten() {
        let Ok(link) = std::fs::read_link(fd.path()) else { continue };
        let link = link.to_string_lossy().into_owned();
        let Some(inode) = link.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) else { continue };
        out.extend(listening.iter().filter(|(i, _)| i == inode).map(|(_, a)| a.clone()));
    }
    out
}

#[test]
fn no_tcp_listener_unless_asked_and_only_on_loopback_when_asked() {
    let without = "[process.web]\ncmd = \"exec node server.js\"\n";
    let mut s = Session::start(without, &[]);
    s.wait_type("url.detected");
    s.ask(json!({"cmd": "ps"}));
    assert!(listeners_of(s.pid()).is_empty(), "brum listens: {:?}", listeners_of(s.pid()));
    s.pump();
    assert!(!s.seen.iter().any(|e| e["type"].as_str().is_some_and(|t| t.starts_with("proxy."))));
    let out = s.p.run(&["requests"], LIMIT);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("the proxy is off in this session"), "{}", out.stderr);
    drop(s);
    let mut s = Session::start(without, &["--proxy"]);
    let (proxy, _) = s.proxy();
    let port: u16 = proxy.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    assert!(port >= brum::config::DEFAULT_PROXY_PORT, "from the default port on: {port}");
    let addrs = listeners_of(s.pid());
    assert_eq!(addrs, [format!("0100007F:{port:04X}")], "127.0.0.1 only");
}

#[test]
fn proxy_settings_are_checked() {
    let p = Project::with_toml("[process.a]\ncmd = \"true\"\n[proxy]\nport = 70000\nprot = 1\ninject = \"yes\"\n");
    let out = p.run(&["run"], LIMIT);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("proxy.prot: unknown key in [proxy]; the keys are enabled, port, inject"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("proxy.inject: expected true or false"), "{}", out.stderr);
    let p = Project::with_toml("[process.a]\ncmd = \"true\"\n[proxy]\nport = 70000\n");
    let out = p.run(&["run"], LIMIT);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("brum.toml:4:8: proxy.port: expected a TCP port from 1 to 65535"), "{}", out.stderr);
}

#[test]
fn urls_ps_and_requests_show_the_proxy() {
    let mut s = Session::start(NODE_WEB, &[]);
    let (proxy, _) = s.proxy();
    for path in ["/hello", "/500", "/nope?x=1"] {
        get(&proxy, path);
        s.wait("its event", |e| e["type"] == "proxy.request" && e["path"] == path);
    }
    let proxy_url = format!("http://{proxy}/");
    let urls = s.ask(json!({"cmd": "urls"}));
    assert_eq!(urls["urls"][0]["proxy_url"], proxy_url.as_str(), "{urls}");
    let ps = s.ask(json!({"cmd": "ps"}));
    assert_eq!(ps["processes"][0]["proxies"][0]["proxy_url"], proxy_url.as_str(), "{ps}");
    let out = s.p.run(&["urls"], LIMIT);
    assert!(out.stdout_text().contains(&format!("(proxy {proxy_url})")), "{}", out.stdout_text());
    let out = s.p.run(&["ps"], LIMIT);
    assert!(out.stdout_text().contains(&format!("(proxy {proxy_url})")), "{}", out.stdout_text());
    // every request, oldest first; filtered by status; limited
    let out = s.p.run(&["requests", "--json"], LIMIT);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let paths: Vec<&str> = v["requests"].as_array().expect("list").iter().filter_map(|r| r["path"].as_str()).collect();
    assert_eq!(paths, ["/hello", "/500", "/nope?x=1"], "{v}");
    assert_eq!(v["requests"][1]["status"], 500);
    assert!(v["requests"][0]["seq"].as_u64().is_some() && v["requests"][0]["duration_ms"].as_f64().is_some());
    let out = s.p.run(&["requests", "web", "--status", "5xx"], LIMIT);
    let text = out.stdout_text();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("web") && text.contains("GET") && text.contains(" 500 ") && text.contains("/500"), "{text}");
    let out = s.p.run(&["requests", "--status", "400-599", "-n", "1", "--json"], LIMIT);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (v["requests"][0]["path"].as_str(), v["more"].as_u64(), v["total"].as_u64()),
        (Some("/nope?x=1"), Some(1), Some(2))
    );
    let out = s.p.run(&["requests", "--status", "6xx"], LIMIT);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("status filter \"6xx\""), "{}", out.stderr);
}
