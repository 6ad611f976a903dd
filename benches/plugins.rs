//! Plugin host costs: one call per batch size (a near-empty plugin), and
//! the built-in `errors` and `urls` components per line on a mixed corpus
//! of real tool output (the fixture corpus) plus ordinary log noise.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use brum::plugins::{BUILTINS, Budgets, Origin, Pipe, PluginHost, PluginSpec};

fn host_with(origin: Origin) -> PluginHost {
    let mut host = PluginHost::new(Budgets::default(), vec!["web".into()]).expect("engine");
    host.set_cache(Some(&std::env::temp_dir().join("brum-bench-cache")));
    host.load(&PluginSpec::new(origin)).expect("plugin loads");
    host
}

fn corpus() -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/errors/tests/fixtures");
    let mut lines = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(root).expect("fixtures").flatten().map(|e| e.path()).collect();
    dirs.sort();
    for d in dirs {
        if let Ok(bytes) = std::fs::read(d.join("output.log")) {
            lines.extend(bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec));
        }
    }
    // dev sessions are mostly ordinary lines: 9 of noise for each real one
    let real = lines.len();
    for i in 0..real * 9 {
        lines.push(format!("{i:06} GET /api/items?page={} 200 in {}ms", i % 50, i % 13).into_bytes());
    }
    // `BENCH_MIX=real|noise` keeps one part (to see where the time goes)
    match std::env::var("BENCH_MIX").as_deref() {
        Ok("real") => lines.truncate(real),
        Ok("noise") => drop(lines.drain(..real)),
        _ => {}
    }
    lines
}

fn fill(host: &mut PluginHost, lines: &[Vec<u8>], seq: &mut u64) {
    for l in lines {
        *seq += 1;
        host.push_line(0, Pipe::Stdout, *seq, 0, false, l);
    }
}

/// CPU time of this thread, in nanoseconds: on a shared machine the wall
/// clock measures the neighbours as much as the code.
fn cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `BENCH_CPU_ROUNDS=N`: the detectors (built-in and `BENCH_EXTRA_WASM`)
/// take turns over the corpus N times; prints each one's median thread CPU
/// time per line and lines/s, instead of criterion's wall-clock figures.
fn cpu_rounds(rounds: usize, plugins: Vec<(String, Origin)>, lines: &[Vec<u8>]) {
    let mut hosts: Vec<(String, PluginHost, Vec<u64>)> =
        plugins.into_iter().map(|(n, o)| (n, host_with(o), Vec::new())).collect();
    let (mut found, mut verdicts, mut seq) = (Vec::new(), Vec::new(), 0u64);
    for _ in 0..rounds {
        for (_, host, times) in hosts.iter_mut() {
            let t = cpu_ns();
            for chunk in lines.chunks(4096) {
                fill(host, chunk, &mut seq);
                host.run_batch(0, &mut found, &mut verdicts);
                host.clear_batch();
                found.clear();
            }
            times.push(cpu_ns() - t);
        }
    }
    for (name, _, times) in hosts.iter_mut() {
        times.sort_unstable();
        let ns = times[times.len() / 2] as f64 / lines.len() as f64;
        println!(
            "cpu {name:<16} {ns:7.1} ns/line  {:6.2} M lines/s  ({} lines, median of {rounds})",
            1e3 / ns,
            lines.len()
        );
    }
}

fn bench(c: &mut Criterion) {
    let null = brum::plugins::fixture_wasm_dir().to_string() + "/misbehave.wasm";
    let mut g = c.benchmark_group("plugin_call");
    for n in [1usize, 16, 256, 4096] {
        let lines: Vec<Vec<u8>> =
            (0..n).map(|i| format!("{i:06} GET /api/items 200 in 3ms - lorem ipsum").into_bytes()).collect();
        let mut host = host_with(Origin::File(null.clone().into()));
        let (mut found, mut verdicts, mut seq) = (Vec::new(), Vec::new(), 0u64);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("batch", n), &n, |b, _| {
            b.iter(|| {
                fill(&mut host, &lines, &mut seq);
                host.run_batch(0, &mut found, &mut verdicts);
                host.clear_batch();
                found.clear();
            })
        });
    }
    g.finish();

    let lines = corpus();
    let mut g = c.benchmark_group("detector_per_line");
    g.throughput(Throughput::Elements(lines.len() as u64));
    // `BENCH_EXTRA_WASM=a.wasm:b.wasm` also measures other builds of a
    // plugin in the same run (a detector before and after a change)
    let extra = std::env::var("BENCH_EXTRA_WASM").unwrap_or_default();
    let extra = extra.split(':').filter(|p| !p.is_empty()).map(|p| {
        let name = std::path::Path::new(p).file_stem().map_or(p.to_string(), |s| s.to_string_lossy().into_owned());
        (name, Origin::File(p.into()))
    });
    let builtins = BUILTINS.iter().filter(|b| b.name != "filter").map(|b| (b.name.to_string(), Origin::Builtin(b)));
    let plugins: Vec<(String, Origin)> = builtins.chain(extra).collect();
    if let Some(rounds) = std::env::var("BENCH_CPU_ROUNDS").ok().and_then(|r| r.parse().ok()) {
        g.finish();
        return cpu_rounds(rounds, plugins, &lines);
    }
    for (name, origin) in plugins {
        let mut host = host_with(origin);
        let (mut found, mut verdicts, mut seq) = (Vec::new(), Vec::new(), 0u64);
        g.bench_function(name, |bench| {
            bench.iter(|| {
                for chunk in lines.chunks(4096) {
                    fill(&mut host, chunk, &mut seq);
                    host.run_batch(0, &mut found, &mut verdicts);
                    host.clear_batch();
                    found.clear();
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
