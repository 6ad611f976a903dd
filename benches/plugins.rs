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
    lines
}

fn fill(host: &mut PluginHost, lines: &[Vec<u8>], seq: &mut u64) {
    for l in lines {
        *seq += 1;
        host.push_line(0, Pipe::Stdout, *seq, 0, false, l);
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
    for b in BUILTINS.iter().filter(|b| b.name != "filter") {
        let mut host = host_with(Origin::Builtin(b));
        let (mut found, mut verdicts, mut seq) = (Vec::new(), Vec::new(), 0u64);
        g.bench_function(b.name, |bench| {
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
