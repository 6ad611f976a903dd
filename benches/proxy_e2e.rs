//! End to end: brum's reverse proxy against the dev server it fronts, in the
//! same run. Two dev servers, each started by `brum run --proxy`: this
//! program (`--serve`: a thread per connection, a 1 KB body per GET,
//! keep-alive — as fast as a server gets, so brum's cost shows whole) and
//! Node's `http` module answering the same (what dev servers are built on).
//! The load is keep-alive GETs on C connections for T seconds, direct,
//! through brum and through the peer proxies that are installed (nginx with
//! one worker, haproxy with one thread: event loops of brum's shape, each
//! logging its requests), interleaved. Prints for each: requests/s, p50/p99
//! latency, the share of direct throughput, and where the CPU went per
//! request (the load, the dev server, the proxy; the machine's busy share);
//! then the time from the line announcing the URL to `proxy.started`
//! reaching brum's reader, and the head bookkeeping per request (parse and
//! rewrite both heads, encode the event).
//!
//! `cargo bench --bench proxy_e2e` (BRUM_PROXY_SECS, BRUM_PROXY_REPS to change
//! the length; `cargo test --benches` runs a short smoke pass). `--load ADDR
//! CONNS SECS` runs only the load, to profile a proxy under it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
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
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let addr = addr.to_string();
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
                        assert!(r.read_line(&mut line).expect("head") > 0, "{addr} closed the connection");
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            len = v.trim().parse().expect("length");
                        }
                    }
                    assert_eq!(len, BODY);
                    r.read_exact(&mut body).expect("body");
                    lat.push(t.elapsed().as_micros() as u32);
                }
                lat
            })
        })
        .collect();
    let mut all: Vec<u32> = threads.into_iter().flat_map(|t| t.join().expect("a load connection failed")).collect();
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
    // `--load ADDR CONNS SECS`: only the load, to profile a proxy under it
    if let [_, flag, addr, conns, secs] = &args[..]
        && flag == "--load"
    {
        let (rps, lat) = load(addr, conns.parse().expect("CONNS"), secs.parse().expect("SECS"));
        return println!("{rps:.0} req/s, p50 {} µs, p99 {} µs", pct(&lat, 0.5), pct(&lat, 0.99));
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
    println!("{secs} s per run, {reps} runs each, direct and through each proxy interleaved");
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
        let server_pid = child_of(child.id()).expect("the dev server runs under brum");
        let mut targets = vec![Target { name: "brum", addr: proxy, pid: child.id() }];
        let peers: Vec<Child> = peers::start(&dir, &direct, &mut targets);
        println!("dev server: {name}");
        compare(&direct, server_pid, &targets, secs, reps);
        peers.into_iter().for_each(stop);
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

/// A proxy in front of the dev server: brum, or a peer measured in the same run.
struct Target {
    name: &'static str,
    addr: String,
    pid: u32,
}

/// CPU time (ns) of a process, its ended threads included (`/proc/PID/stat`,
/// in clock ticks).
fn cpu_ns(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // after the command's closing parenthesis: state is field 3, utime 14, stime 15
    let f: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    (ticks(11) + ticks(12)) * 1_000_000_000 / hz
}

/// CPU time (ns) of this process, threads that ended included: the load.
fn own_cpu_ns() -> u64 {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    (us(u.ru_utime) + us(u.ru_stime)) * 1000
}

/// Busy and total jiffies of the whole machine (`/proc/stat`).
fn machine() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|n| n.parse().ok()).collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// The first process whose parent is `pid`.
fn child_of(pid: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let child: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        let ppid: u32 = stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == pid).then_some(child)
    })
}

/// One load run and where its CPU went.
struct Run {
    rps: f64,
    p50: u32,
    p99: u32,
    /// µs of CPU per request: the load, the dev server, the proxy (0 direct)
    cpu: [f64; 3],
    /// share of the machine's CPU time that was busy
    busy: f64,
}

fn measure(addr: &str, conns: usize, secs: f64, server: u32, proxy: Option<u32>) -> Run {
    let before = (own_cpu_ns(), cpu_ns(server), proxy.map_or(0, cpu_ns), machine());
    let (rps, lat) = load(addr, conns, secs);
    let after = (own_cpu_ns(), cpu_ns(server), proxy.map_or(0, cpu_ns), machine());
    let n = rps * secs;
    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / 1000.0 / n;
    Run {
        rps,
        p50: pct(&lat, 0.5),
        p99: pct(&lat, 0.99),
        cpu: [per(after.0, before.0), per(after.1, before.1), per(after.2, before.2)],
        busy: (after.3.0 - before.3.0) as f64 / (after.3.1 - before.3.1).max(1) as f64,
    }
}

/// The median run of each field.
fn medians(runs: &[Run]) -> Run {
    let m = |f: &dyn Fn(&Run) -> f64| median(runs.iter().map(f).collect());
    Run {
        rps: m(&|r| r.rps),
        p50: m(&|r| f64::from(r.p50)) as u32,
        p99: m(&|r| f64::from(r.p99)) as u32,
        cpu: [m(&|r| r.cpu[0]), m(&|r| r.cpu[1]), m(&|r| r.cpu[2])],
        busy: m(&|r| r.busy),
    }
}

/// Load direct and through each proxy, interleaved; prints the medians
/// and where the CPU went (µs per request).
fn compare(direct: &str, server: u32, targets: &[Target], secs: f64, reps: usize) {
    for conns in [1usize, 4] {
        let mut d_runs = Vec::new();
        let mut p_runs: Vec<Vec<Run>> = targets.iter().map(|_| Vec::new()).collect();
        for _ in 0..reps {
            d_runs.push(measure(direct, conns, secs, server, None));
            for (t, runs) in targets.iter().zip(&mut p_runs) {
                runs.push(measure(&t.addr, conns, secs, server, Some(t.pid)));
            }
        }
        let d = medians(&d_runs);
        println!("  {conns} connection(s):");
        let row = |name: &str, r: &Run| {
            println!(
                "    {name:<22} {:>7.0} req/s ({:>3.0} % of direct) p50 {:>4} µs (+{:>3}) p99 {:>4} µs | \
                 CPU µs/req: load {:.1}, server {:.1}, proxy {:.1} | machine busy {:.0} %",
                r.rps,
                100.0 * r.rps / d.rps,
                r.p50,
                r.p50.saturating_sub(d.p50),
                r.p99,
                r.cpu[0],
                r.cpu[1],
                r.cpu[2],
                100.0 * r.busy
            )
        };
        row("direct", &d);
        for (t, runs) in targets.iter().zip(&p_runs) {
            row(t.name, &medians(runs));
        }
    }
}

/// Peer reverse proxies, measured against the same dev server in the same
/// run when installed (`apt-get install nginx-light haproxy`): each one
/// process, one thread — brum's shape — and logging each request as brum does.
mod peers {
    use super::{Child, Command, Stdio, Target};
    use std::path::Path;

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
    }

    fn wait_listening(addr: &str) -> bool {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < until {
            if std::net::TcpStream::connect(addr).is_ok() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    fn spawn(name: &'static str, cmd: &mut Command, addr: String, out: &mut Vec<Target>) -> Option<Child> {
        let Ok(child) = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn() else {
            println!("({name} is not installed: left out)");
            return None;
        };
        if !wait_listening(&addr) {
            println!("({name} did not start: left out)");
            super::stop(child);
            return None;
        }
        out.push(Target { name, addr, pid: child.id() });
        Some(child)
    }

    pub fn start(dir: &Path, upstream: &str, out: &mut Vec<Target>) -> Vec<Child> {
        let mut children = Vec::new();
        let d = dir.display();
        let port = free_port();
        let conf = format!(
            "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid; error_log stderr warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log {d}/access.log combined buffer=64k flush=1s;\n\
             client_body_temp_path {d}/cb; proxy_temp_path {d}/pt; fastcgi_temp_path {d}/ft; uwsgi_temp_path {d}/ut; scgi_temp_path {d}/st;\n\
             upstream dev {{ server {upstream}; keepalive 16; keepalive_requests 100000000; }}\n\
             server {{ listen 127.0.0.1:{port}; keepalive_requests 100000000; location / {{ proxy_pass http://dev; proxy_http_version 1.1; \
             proxy_set_header Connection \"\"; }} }} }}\n"
        );
        if std::fs::write(dir.join("nginx.conf"), conf).is_ok()
            && let Some(c) = spawn(
                "nginx (1 worker)",
                Command::new("nginx").arg("-p").arg(dir).arg("-c").arg(dir.join("nginx.conf")),
                format!("127.0.0.1:{port}"),
                out,
            )
        {
            children.push(c);
        }
        let port = free_port();
        let conf = format!(
            "global\n  nbthread 1\n  log stdout format raw local0\ndefaults\n  mode http\n  log global\n  option httplog\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
             frontend f\n  bind 127.0.0.1:{port}\n  default_backend b\nbackend b\n  server s {upstream}\n"
        );
        if std::fs::write(dir.join("haproxy.cfg"), conf).is_ok()
            && let Some(c) = spawn(
                "haproxy (1 thread)",
                Command::new("haproxy").arg("-f").arg(dir.join("haproxy.cfg")).arg("-db"),
                format!("127.0.0.1:{port}"),
                out,
            )
        {
            children.push(c);
        }
        children
    }
}

fn stop(mut child: Child) {
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = child.wait();
}
