//! End to end: `brum run --json -- cat FILE` writing to /dev/null versus
//! `cat FILE | cat > /dev/null` on the same machine in the same run.
//! Prints lines/s for both and brum's ratio to the `cat` baseline.
//!
//! `cargo bench --bench e2e` (set BRUM_E2E_LINES to change the size).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn time(mut cmd: Command) -> Duration {
    let start = Instant::now();
    let status = cmd.stdout(Stdio::null()).stderr(Stdio::inherit()).status().expect("run");
    assert!(status.success(), "{cmd:?} failed: {status}");
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("BRUM_E2E_LINES").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick {
        10_000
    } else {
        5_000_000
    });
    let reps = if quick { 1 } else { 7 };
    let dir = std::env::temp_dir().join(format!("brum-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("lines.txt");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).expect("create"));
        for i in 0..n {
            // 80 bytes with the newline
            writeln!(f, "{i:010} GET /api/items?page=1 200 in 3ms - lorem ipsum dolor sit amet con").expect("write");
        }
    }
    let brum = env!("CARGO_BIN_EXE_brum");
    let path = file.to_str().expect("utf-8 path");
    let (mut b, mut bp, mut c, mut start) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        // interleaved so machine noise hits all alike
        let mut cmd = Command::new(brum);
        cmd.args(["run", "--json", "--no-plugins", "--", "cat", path]);
        b.push(time(cmd));
        let mut cmd = Command::new(brum);
        cmd.args(["run", "--json", "--", "cat", path]);
        bp.push(time(cmd));
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("cat '{path}' | cat > /dev/null")]);
        c.push(time(cmd));
        // warm start: plugins loaded from the component cache, one process
        let mut cmd = Command::new(brum);
        cmd.args(["run", "--json", "--", "true"]);
        start.push(time(cmd));
    }
    let (bm, bpm, cm, sm) = (median(b), median(bp), median(c), median(start));
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!("e2e: {n} lines of 80 bytes, median of {reps}");
    println!("  cat | cat                      {:>8.2} M lines/s  ({cm:?})", rate(cm) / 1e6);
    println!(
        "  brum run --json --no-plugins   {:>8.2} M lines/s  ({bm:?})  {:.2}x of cat",
        rate(bm) / 1e6,
        rate(bm) / rate(cm)
    );
    println!(
        "  brum run --json (plugins*)     {:>8.2} M lines/s  ({bpm:?})  {:.2}x of cat",
        rate(bpm) / 1e6,
        rate(bpm) / rate(cm)
    );
    println!("  warm start + exit, `brum run --json -- true` with plugins: {sm:?}");
    println!("  (*) the built-in errors and urls plugins (filter loads only when configured)");
    let _ = std::fs::remove_dir_all(&dir);
}
