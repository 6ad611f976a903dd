//! Ring store: push throughput (with eviction in steady state) and substring
//! search over one million stored lines.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use brum::store::{Ring, Stream};

fn bench(c: &mut Criterion) {
    let lines: Vec<Vec<u8>> = (0..10_000)
        .map(|i| format!("{i:06} GET /api/items?page={i} 200 in 3ms - lorem ipsum dolor sit amet").into_bytes())
        .collect();
    let mut g = c.benchmark_group("ring");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("push_80B_evicting", |b| {
        let mut r = Ring::new(1 << 20);
        let mut seq = 0u64;
        b.iter(|| {
            for l in &lines {
                seq += 1;
                black_box(r.push(seq, 0, Stream::Stdout, false, l));
            }
        })
    });
    g.finish();

    let mut big = Ring::new(160 << 20);
    for i in 0..1_000_000u64 {
        let l = if i % 1000 == 7 {
            format!("{i:07} ERROR connect ECONNREFUSED 127.0.0.1:5432")
        } else {
            format!("{i:07} GET /api/items?page={i} 200 in 3ms - lorem ipsum dolor")
        };
        big.push(i, 0, Stream::Stdout, false, l.as_bytes());
    }
    assert_eq!(big.len(), 1_000_000);
    let mut g = c.benchmark_group("search_1M_lines");
    g.sample_size(20);
    g.throughput(Throughput::Elements(1_000_000));
    g.bench_function("substring_count", |b| b.iter(|| black_box(big.count_matches(b"ECONNREFUSED"))));
    g.bench_function("substring_last_100", |b| b.iter(|| black_box(big.search(b"ECONNREFUSED", 100).1)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
