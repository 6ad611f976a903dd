//! End to end: brum's reverse proxy against the dev server it fronts, in the
//! same run. Two dev servers, each started by `brum run --proxy`: this
//! program (`--serve`: a thread per connection, a 1 KB body per GET,
//! keep-alive — as fast as a server gets, so brum's cost shows whole) and
//! Node's `http` module answering the same (what dev servers are built on).
//! The load is keep-alive GETs on C connections for T seconds, direct and
//! through the proxy, interleaved. Prints requests/s and p50/p99 latency of
//! both, the proxy's share of direct throughput and its p50 overhead; the
//! time from the line announcing the URL to `proxy.started` reaching brum's
//! reader; and the head bookkeeping per request (parse and rewrite both
//! heads, encode the event).
//!
//! `cargo bench --bench proxy_e2e` (BRUM_PROXY_SECS, BRUM_PROXY_REPS to change
//! the length; `cargo test --benches` runs a short smoke pass).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BODY: usize = 1024;

/// The same dev server in Node.
const NODE_SERVER: &str = "const body = Buffer.alloc(1024, 'x'); \
const s = require('http').createServer((req, res) => { \
res.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': body.length}); res.end(body); }); \
s.keepAliveTimeout = 60000; \
s.listen(0, '127.0.0.1', () => console.log('  Local:   http://127.0.0.1:' + s.address().port + '/ t=' + \
Math.round((performance.timeOrigin + performance.now()) * 1000)));";

fn unix_us() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0)
}

/// The dev server: 1 KB answers, keep-alive, a thread per connection.
fn serve() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    println!("  Local:   http://127.0.0.1:{port}/ t={}", unix_us());
    let _ = std::io::stdout().flush();
    let mut resp =
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {BODY}\r\n\r\n").into_bytes();
    resp.extend(std::iter::repeat_n(b'x', BODY));
    for c in l.incoming().flatten() {
        let resp = resp.clone();
        std::thread::spawn(move || {
            let _ = c.set_nodelay(true);
            let mut r = BufReader::new(c.try_clone().expect("clone"));
            let mut w = c;
            let mut line = String::new();
            loop {
                // a request head (GETs without a body)
                loop {
                    line.clear();
                    match r.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                if w.write_all(&resp).is_err() {
                    return;
                }
            }
        });
    }
}

/// Keep-alive GETs on `conns` connections for `secs`: requests/s and
/// sorted latencies (µs).
fn load(addr: &str, conns: usize, secs: f64) -> (f64, Vec<u32>) {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    for _ in 0..conns {
        let (tx, addr) = (tx.clone(), addr.to_string());
        std::thread::spawn(move || {
            let s = TcpStream::connect(&addr).expect("connect");
            let _ = s.set_nodelay(true);
            let mut r = BufReader::with_capacity(1 << 16, s.try_clone().expect("clone"));
            let mut w = s;
            let req = format!("GET /item/42 HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\nUser-Agent: bench\r\n\r\n");
            let mut lat = Vec::with_capacity(1 << 16);
            let mut line = String::new();
            let mut body = vec![0u8; BODY];
            while Instant::now() < until {
                let t = Instant::now();
                w.write_all(req.as_bytes()).expect("send");
                let mut len = 0;
                loop {
                    line.clear();
                    r.read_line(&mut line).expect("head");
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.trim().parse().expect("length");
                    }
                }
                assert_eq!(len, BODY);
                r.read_exact(&mut body).expect("body");
                lat.push(t.elapsed().as_micros() as u32);
            }
            let _ = tx.send(lat);
        });
    }
    drop(tx);
    let mut all: Vec<u32> = rx.iter().flatten().collect();
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    (all.len() as f64 / elapsed, all)
}

fn pct(sorted: &[u32], p: f64) -> u32 {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `brum run --json --proxy -- <this program> --serve`: the child, the
/// proxy's and the server's `host:port`, and the µs from the URL line to
/// `proxy.started` read.
// the child is returned (and stopped by the caller); a failed assert ends
// the benchmark, and brum with its stdout
#[allow(clippy::zombie_processes)]
fn start_brum(dir: &std::path::Path, server: &[String]) -> (Child, String, String, f64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_brum"))
        .args(["run", "--json", "--proxy", "--name", "web", "--"])
        .args(server)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("brum");
    let mut r = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut printed, mut line) = (0u128, String::new());
    loop {
        line.clear();
        assert!(r.read_line(&mut line).expect("event") > 0, "brum ended");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        if v["type"] == "log.line"
            && let Some(t) = v["text"].as_str().and_then(|t| t.rsplit("t=").next()).and_then(|t| t.parse().ok())
        {
            printed = t;
        }
        if v["type"] == "proxy.started" {
            let took = unix_us().saturating_sub(printed) as f64;
            let host = |k: &str| v[k].as_str().expect("url")[7..].trim_end_matches('/').to_string();
            // the rest of the events go nowhere
            std::thread::spawn(move || std::io::copy(&mut r, &mut std::io::sink()));
            return (child, host("proxy_url"), host("url"), took);
        }
    }
}

/// Head bookkeeping per request: parse and rewrite the request and the
/// response heads, encode the `proxy.request` event (ns).
fn bookkeeping(n: u32) -> f64 {
    use brum::events::{Event, ProcRef, Timestamps, json};
    use brum::proxy::http;
    let req =
        b"GET /src/components/App.tsx?t=1732900000000 HTTP/1.1\r\nHost: 127.0.0.1:20888\r\nConnection: keep-alive\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36\r\nAccept: */*\r\n\
Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\nReferer: http://127.0.0.1:20888/\r\n\
Sec-Fetch-Mode: cors\r\nCookie: session=abcdef0123456789\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Length: 1024\r\nCache-Control: no-cache\r\n\
Etag: W/\"400-abc\"\r\nDate: Mon, 30 Nov 2026 08:00:00 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n";
    let (mut out, mut ev_out, mut ts) = (Vec::with_capacity(4096), Vec::with_capacity(4096), Timestamps::new());
    let start = Instant::now();
    for i in 0..n {
        out.clear();
        ev_out.clear();
        let mut hs = [httparse::EMPTY_HEADER; http::MAX_HEADERS];
        let r = http::parse_request(req, &mut hs).expect("valid").expect("complete");
        let fwd = http::Forward { client_ip: [127, 0, 0, 1].into(), upstream_host: "localhost:5173", identity: false };
        http::write_request(&mut out, &r, &hs[..r.headers], &fwd);
        let mut hs2 = [httparse::EMPTY_HEADER; http::MAX_HEADERS];
        let s = http::parse_response(resp, &mut hs2, false).expect("valid").expect("complete");
        http::write_response(&mut out, &s, &hs2[..s.headers], false, false, 0);
        let ev = Event::ProxyRequest {
            process: ProcRef { name: "web", index: 0 },
            method: r.method,
            path: r.target,
            status: s.code,
            duration_us: 412,
            bytes_in: 500,
            bytes_out: 1300,
            upgrade: false,
            error: None,
        };
        json::encode(&mut ev_out, &mut ts, u64::from(i), 1_795_704_462_007, &ev);
        std::hint::black_box((&out, &ev_out));
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--serve") {
        return serve();
    }
    let quick = !args.iter().any(|a| a == "--bench");
    let env = |k: &str, d: f64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let secs = env("BRUM_PROXY_SECS", if quick { 0.3 } else { 3.0 });
    let reps = env("BRUM_PROXY_REPS", if quick { 1.0 } else { 5.0 }) as usize;
    let dir = std::env::temp_dir().join(format!("brum-proxy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let me = std::env::current_exe().expect("own path").display().to_string();
    let mut servers = vec![("this program (Rust)", vec![me, "--serve".to_string()])];
    if Command::new("node").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()) {
        servers.push(("Node's http", vec!["node".into(), "-e".into(), NODE_SERVER.into()]));
    } else {
        println!("(no node: the Node dev server is left out)");
    }
    println!("{secs} s per run, {reps} runs each, direct and through brum interleaved");
    let mut registers = Vec::new();
    for (name, server) in &servers {
        let mut session = None;
        for _ in 0..reps.max(1) {
            let (child, proxy, direct, took) = start_brum(&dir, server);
            registers.push(took);
            match session {
                None => session = Some((child, proxy, direct)),
                Some(_) => stop(child),
            }
        }
        let Some((child, proxy, direct)) = session else { return };
        println!("dev server: {name}");
        compare(&direct, &proxy, secs, reps);
        stop(child);
    }
    println!(
        "url line → proxy.started read: median {:.2} ms of {} starts",
        median(registers) / 1000.0,
        reps.max(1) * servers.len()
    );
    println!(
        "head bookkeeping per request (parse + rewrite both heads, encode the event): {:.0} ns",
        bookkeeping(200_000)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Load direct and through the proxy, interleaved; prints the medians.
fn compare(direct: &str, proxy: &str, secs: f64, reps: usize) {
    for conns in [1usize, 4] {
        let (mut d_rps, mut p_rps, mut d_lat, mut p_lat) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..reps {
            let (rps, lat) = load(direct, conns, secs);
            d_rps.push(rps);
            d_lat.push((pct(&lat, 0.5), pct(&lat, 0.99)));
            let (rps, lat) = load(proxy, conns, secs);
            p_rps.push(rps);
            p_lat.push((pct(&lat, 0.5), pct(&lat, 0.99)));
        }
        let m = |v: &[(u32, u32)], f: fn(&(u32, u32)) -> u32| median(v.iter().map(|x| f64::from(f(x))).collect());
        let (d, p) = (median(d_rps), median(p_rps));
        let (d50, p50) = (m(&d_lat, |x| x.0), m(&p_lat, |x| x.0));
        let (d99, p99) = (m(&d_lat, |x| x.1), m(&p_lat, |x| x.1));
        println!(
            "  {conns} connection(s): direct {d:.0} req/s (p50 {d50} µs, p99 {d99} µs) | through brum {p:.0} req/s \
             (p50 {p50} µs, p99 {p99} µs) | {:.0} % of direct, p50 +{:.0} µs",
            100.0 * p / d,
            p50 - d50
        );
    }
}

fn stop(mut child: Child) {
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = child.wait();
}
