//! What hostile or huge traffic through the proxy may not do: crash brum,
//! stall the reactor (control answers, children's output), or grow its
//! memory with the size of a body. Bounds are generous for a shared 2-core
//! machine.

use std::io::{BufReader, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::proxy::{NODE_WEB, Session, connect, get};

/// What brum answers to `request` on a fresh connection that sends nothing
/// more (the whole reply, up to the connection's end).
fn answer(addr: &str, request: &[u8]) -> String {
    let mut c = connect(addr);
    // a refusal may come before everything is written
    let _ = c.write_all(request);
    let _ = c.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn malformed_requests_get_4xx_or_5xx_answers_and_the_proxy_goes_on() {
    let mut s = Session::start(NODE_WEB, &[]);
    let (proxy, _) = s.proxy();
    let many: String = (0..200).map(|i| format!("X-{i}: v\r\n")).collect();
    let long = format!("GET / HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\r\n", "c".repeat(20_000));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), "400"),
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), "400"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(), "400"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc".to_vec(), "400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n".to_vec(), "400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n".to_vec(), "400"),
        (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n".to_vec(), "400"),
        (format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").into_bytes(), "431"),
        (long.into_bytes(), "431"),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n".to_vec(), "505"),
        (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec(), "501"),
    ];
    for (req, status) in &cases {
        let got = answer(&proxy, req);
        assert!(got.starts_with(&format!("HTTP/1.1 {status} ")), "{:?} → {got:?}", String::from_utf8_lossy(req));
        assert!(got.contains("Connection: close\r\n"), "{got}");
    }
    // a head cut by the end of the connection, a chunked body that lies
    assert_eq!(answer(&proxy, b"GET /hello HTTP/1.1\r\nHo"), "");
    let bad_chunks = answer(&proxy, b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    assert!(!bad_chunks.contains("HTTP/1.1 5"), "{bad_chunks}");
    let (h, body) = get(&proxy, "/hello");
    assert!(h.starts_with("HTTP/1.1 200") && body.starts_with(b"hello"), "{h}");
    let ps = s.ask(json!({"cmd": "ps"}));
    assert_eq!(ps["ok"], true);
}

#[test]
fn slowloris_and_ten_thousand_malformed_requests_leave_brum_answering() {
    let toml =
        format!("{NODE_WEB}[process.tick]\ncmd = \"i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done\"\n");
    let mut s = Session::start(&toml, &[]);
    let (proxy, _) = s.proxy();
    s.wait("a tick", |e| e["process"] == "tick" && e["type"] == "log.line");
    // 300 connections that never finish their head
    let slow: Vec<std::net::TcpStream> = (0..300)
        .map(|_| {
            let mut c = connect(&proxy);
            c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").expect("send");
            c
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let flood: Vec<_> = (0..4)
        .map(|_| {
            let (proxy, stop, sent) = (proxy.clone(), stop.clone(), sent.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) || sent.load(Ordering::Relaxed) < 10_000 {
                    let got = answer(&proxy, b"\x00\x01BAD REQUEST\r\n\r\n");
                    assert!(got.starts_with("HTTP/1.1 400 "), "{got:?}");
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // while the flood goes on: ps answers and the ticker's lines keep coming
    let started = sent.load(Ordering::Relaxed);
    for _ in 0..5 {
        let v = s.ask(json!({"cmd": "ps"}));
        assert_eq!(v["ok"], true, "{v}");
        s.wait("a tick during the flood", |e| e["process"] == "tick" && e["type"] == "log.line");
    }
    assert!(!flood.iter().all(|t| t.is_finished()), "the flood went on meanwhile");
    let during = sent.load(Ordering::Relaxed) - started;
    stop.store(true, Ordering::Relaxed);
    for t in flood {
        t.join().expect("every malformed request got its 400");
    }
    assert!(sent.load(Ordering::Relaxed) >= 10_000);
    assert!(during > 0, "requests were answered while ps and the ticker were checked");
    // the slow heads are cut (408) once their time is up
    let mut c = slow.into_iter().next().expect("one");
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 408 "), "{out:?}");
    let (h, _) = get(&proxy, "/hello");
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

#[test]
fn a_100_mb_download_through_the_proxy_keeps_brums_memory_flat() {
    let mut s = Session::start(NODE_WEB, &[]);
    let (proxy, _) = s.proxy();
    let (_, warm) = get(&proxy, "/big?bytes=2000000");
    assert_eq!(warm.len(), 2_000_000);
    let base = rss_kib(s.pid());
    const TOTAL: usize = 100 << 20;
    let mut c = connect(&proxy);
    write!(c, "GET /big?bytes={TOTAL} HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
    let mut r = BufReader::with_capacity(1 << 16, c);
    // a browser that stops reading for a while: everything backs up
    let mut first = [0u8; 4096];
    r.read_exact(&mut first).expect("the start");
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut peak = 0;
    while Instant::now() < deadline {
        peak = peak.max(rss_kib(s.pid()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut got = first.len();
    let mut buf = vec![0u8; 1 << 16];
    let mut next_sample = 0;
    loop {
        let n = r.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        got += n;
        if got >= next_sample {
            peak = peak.max(rss_kib(s.pid()));
            next_sample = got + (4 << 20);
        }
        if got >= TOTAL + 100 {
            break;
        }
    }
    let head = String::from_utf8_lossy(&first[..200]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body_start = first.windows(4).position(|w| w == b"\r\n\r\n").expect("head end") + 4;
    assert_eq!(got - body_start, TOTAL, "every byte");
    let grown = peak.saturating_sub(base);
    assert!(grown < 16 << 10, "brum's RSS grew by {grown} KiB for a 100 MiB body (base {base} KiB)");
    let ev =
        s.wait("the download's event", |e| e["type"] == "proxy.request" && e["path"] == format!("/big?bytes={TOTAL}"));
    assert!(ev["bytes_out"].as_u64().expect("bytes") > TOTAL as u64);
}

#[test]
fn connections_beyond_the_cap_get_a_503_and_the_rest_are_served() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    let want = 4096.min(lim.maximum.unwrap_or(4096));
    assert!(want > 1100, "the test needs 1,100 open files (hard limit {:?})", lim.maximum);
    lim.current = Some(want.max(lim.current.unwrap_or(0)));
    setrlimit(Resource::Nofile, lim).expect("raise the open-files limit");
    let mut s = Session::start(NODE_WEB, &[]);
    let (proxy, _) = s.proxy();
    let held: Vec<std::net::TcpStream> = (0..1024).map(|_| connect(&proxy)).collect();
    let busy = answer(&proxy, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(busy.starts_with("HTTP/1.1 503 "), "{busy:?}");
    drop(held);
    // once those are gone, connections are served again
    let start = Instant::now();
    loop {
        let got = answer(&proxy, b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        if got.starts_with("HTTP/1.1 200 ") {
            break;
        }
        assert!(start.elapsed() < crate::LIMIT, "{got:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(s.ask(json!({"cmd": "ps"}))["ok"], true);
}
