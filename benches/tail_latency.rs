//! Latency from a child writing a line to a `tail` client receiving its
//! event over the control socket, at Brummer's typical peak (265 lines/s)
//! and at 100,000 lines/s. The child stamps each line with
//! CLOCK_MONOTONIC; the client compares on arrival. Prints p50/p99/max.
//!
//! `cargo bench --bench tail_latency` (BRUM_LATENCY_SECS sets the duration
//! of each rate, default 10).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mono_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

const PRODUCER: &str = r#"
import sys, time
rate, secs = float(sys.argv[1]), float(sys.argv[2])
per_tick = max(1, int(rate / 1000)) if rate >= 1000 else 1
interval = per_tick / rate
end = time.monotonic() + secs
nxt = time.monotonic()
out = sys.stdout
while time.monotonic() < end:
    t = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    out.write(("%d\n" % t) * per_tick)
    out.flush()
    nxt += interval
    d = nxt - time.monotonic()
    if d > 0:
        time.sleep(d)
"#;

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn measure(brum: &str, rate: u32, secs: u32) {
    let dir = std::env::temp_dir().join(format!("brum-lat-{}-{rate}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("produce.py"), PRODUCER).expect("write");
    std::fs::write(
        dir.join("brum.toml"),
        format!("[process.p]\nargv = [\"python3\", \"produce.py\", \"{rate}\", \"{secs}\"]\n"),
    )
    .expect("write");
    let mut child =
        Command::new(brum).args(["run", "--json"]).current_dir(&dir).stdout(Stdio::null()).spawn().expect("brum");
    let sock = dir.join(".brum/brum.sock");
    let start = Instant::now();
    let stream = loop {
        if let Ok(s) = UnixStream::connect(&sock) {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no socket");
        std::thread::sleep(Duration::from_millis(5));
    };
    (&stream).write_all(b"{\"cmd\":\"tail\",\"types\":[\"log.line\"]}\n").expect("send");
    let mut lat = Vec::new();
    let mut lines = BufReader::new(stream).lines();
    let _ack = lines.next();
    for line in lines.map_while(Result::ok) {
        let now = mono_ns();
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        if let Some(t) = v["text"].as_str().and_then(|t| t.parse::<u64>().ok()) {
            lat.push(now.saturating_sub(t));
        }
    }
    let _ = child.wait();
    lat.sort_unstable();
    if lat.is_empty() {
        println!("{rate:>7} lines/s: no lines received");
        return;
    }
    let us = |ns: u64| ns as f64 / 1000.0;
    println!(
        "{rate:>7} lines/s: {} lines, latency p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        lat.len(),
        us(percentile(&lat, 0.5)),
        us(percentile(&lat, 0.99)),
        us(*lat.last().unwrap_or(&0))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let secs =
        std::env::var("BRUM_LATENCY_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(if quick { 1 } else { 10 });
    let brum = env!("CARGO_BIN_EXE_brum");
    println!("child write -> brum tail receive, over the control socket ({secs} s per rate)");
    for rate in [265, 100_000] {
        measure(brum, rate, secs);
    }
}
