//! Non-candidate lines must not allocate: counts heap allocations made by
//! the detector while it is fed ordinary output (plain, coloured, `\r`
//! progress redraws, prefixed, stdout and stderr of two processes).
//! Only allocations of the test's own thread are counted: the test harness
//! allocates on its main thread concurrently (which made the count flaky).

use brum_plugin_errors::{Batch, Detector, LineIn, Settings, Stream};

// brum's one counting allocator (per thread: the harness's threads are never
// counted)
#[path = "../../../core/tests/support/alloc.rs"]
mod alloc_count;

const NOISE: &[&str] = &[
    "GET /api/users 200 in 12ms",
    "\x1b[32m✓\x1b[39m compiled client and server successfully in 1532 ms (812 modules)",
    "[web] 12:00:01 ready - started server on 0.0.0.0:3000, url: http://localhost:3000",
    "2024-05-01T10:00:00.123Z info: connected to database (0 errors)",
    "   Compiling serde v1.0.200",
    "  10% building 1/3 modules 2 active\r  55% building 2/3 modules\r 100% emitting",
    "npm WARN deprecated inflight@1.0.6: This module is not supported",
    "INFO:     Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)",
    "the error handler is installed, errors: 0",
    "    at the end of the day this is only an indented line",
    "",
    "=== RUN   TestAdd",
    "test tests::adds ... ok",
    "asset main.js 3.18 KiB [emitted] (name: main)",
    "  ./src/a.js 20 bytes [built] [code generated]",
    "/usr/share/app/config.json",
    "  1) not a mocha failure",
    "    \x1b[32m✔\x1b[39m reads a value",
];

#[test]
fn non_candidate_lines_do_not_allocate() {
    // with the fast reject most of them never reach normalization: check the
    // full path too
    for fast_reject in [true, false] {
        no_allocation(Settings { fast_reject, ..Settings::default() });
    }
}

fn no_allocation(settings: Settings) {
    let mut d = Detector::new(settings);
    let mut out = Vec::with_capacity(16);
    let mut seq = 0u64;
    let mut feed = |d: &mut Detector, out: &mut Vec<_>, rounds: usize| {
        for _ in 0..rounds {
            for (i, l) in NOISE.iter().enumerate() {
                seq += 1;
                let (process, stream) = if i % 3 == 0 { (2, Stream::Stderr) } else { (1, Stream::Stdout) };
                d.on_line(
                    &LineIn { process, pipe: stream, truncated: false, seq, ts_ms: seq as i64, bytes: l.as_bytes() },
                    out,
                );
            }
        }
    };
    // warm up: creates per-stream state and grows the ANSI buffer once
    feed(&mut d, &mut out, 2);
    let allocs = alloc_count::allocs_during(|| feed(&mut d, &mut out, 1000));
    assert!(out.is_empty(), "noise produced findings: {out:#?}");
    assert_eq!(allocs, 0, "allocations while feeding {} noise lines", 1000 * NOISE.len());
}

/// The same through `Detector::on_batch` (the component's way: one search
/// over the batch, remembered first words): the batches are made before
/// counting.
#[test]
fn non_candidate_lines_of_a_batch_do_not_allocate() {
    let mut batch = Batch {
        data: Vec::new(),
        process: Vec::new(),
        seq: Vec::new(),
        ts_ms: Vec::new(),
        start: Vec::new(),
        len: Vec::new(),
        flags: Vec::new(),
        now_ms: 0,
    };
    for (i, l) in NOISE.iter().enumerate() {
        let (process, flags) = if i % 3 == 0 { (2, 1) } else { (1, 0) };
        batch.process.push(process);
        batch.flags.push(flags);
        batch.start.push(batch.data.len() as u32);
        batch.len.push(l.len() as u32);
        batch.data.extend_from_slice(l.as_bytes());
    }
    let batches: Vec<Batch> = (0..1002u64)
        .map(|r| Batch {
            seq: (0..NOISE.len() as u64).map(|i| r * 100 + i + 1).collect(),
            ts_ms: (0..NOISE.len() as i64).map(|i| r as i64 * 100 + i + 1).collect(),
            ..batch.clone()
        })
        .collect();
    let mut d = Detector::new(Settings::default());
    let mut out = Vec::with_capacity(16);
    for b in &batches[..2] {
        d.on_batch(b, &mut out);
    }
    let allocs = alloc_count::allocs_during(|| batches[2..].iter().for_each(|b| d.on_batch(b, &mut out)));
    assert!(out.is_empty(), "noise produced findings: {out:#?}");
    assert_eq!(allocs, 0, "allocations while feeding {} noise lines in batches", 1000 * NOISE.len());
}

/// How many allocations the findings of the corpus cost (a figure, not a
/// check): `cargo test --release -p brum-plugin-errors --test alloc
/// allocations_per_finding -- --ignored --nocapture`
#[test]
#[ignore]
fn allocations_per_finding() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<_> = std::fs::read_dir(root).expect("fixtures").flatten().map(|d| d.path()).collect();
    dirs.sort();
    let logs: Vec<Vec<u8>> = dirs.iter().filter_map(|d| std::fs::read(d.join("output.log")).ok()).collect();
    let (mut lines, mut findings) = (0, 0);
    let allocs = alloc_count::allocs_during(|| {
        for log in &logs {
            let mut d = Detector::new(Settings::default());
            let mut out = Vec::new();
            for (i, l) in log.split(|&b| b == b'\n').enumerate() {
                let seq = i as u64 + 1;
                d.on_line(
                    &LineIn { process: 1, pipe: Stream::Stdout, truncated: false, seq, ts_ms: seq as i64, bytes: l },
                    &mut out,
                );
                lines += 1;
            }
            d.on_process_end(1, &mut out);
            findings += out.len();
        }
    });
    println!(
        "{allocs} allocations, {lines} lines, {findings} findings: {:.2} a line, {:.1} a finding",
        allocs as f64 / lines as f64,
        allocs as f64 / findings as f64
    );
}
