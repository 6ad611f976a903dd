//! Line splitting throughput: 80-byte lines, 4 KiB lines, and input with no
//! newline at all (cut at the 64 KiB cap).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use brum::lines::LineSplitter;

fn input(line_len: usize, total: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(total);
    let mut i = 0u64;
    while v.len() + line_len <= total {
        let start = v.len();
        v.extend_from_slice(format!("{i:08} ").as_bytes());
        while v.len() < start + line_len - 1 {
            v.push(b'a' + (v.len() % 26) as u8);
        }
        v.push(b'\n');
        i += 1;
    }
    v
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("split");
    let cases =
        [("80B_lines", input(80, 8 << 20)), ("4KiB_lines", input(4096, 8 << 20)), ("no_newline", vec![b'x'; 8 << 20])];
    for (name, data) in &cases {
        let lines = data.iter().filter(|&&b| b == b'\n').count().max(data.len() / (64 * 1024));
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(format!("{name}/bytes"), |b| {
            let mut s = LineSplitter::new(64 * 1024);
            b.iter(|| {
                let mut n = 0usize;
                for chunk in data.chunks(128 * 1024) {
                    s.feed(chunk, |l, _| n += l.len());
                }
                s.finish(|l, _| n += l.len());
                black_box(n)
            })
        });
        g.throughput(Throughput::Elements(lines as u64));
        g.bench_function(format!("{name}/lines"), |b| {
            let mut s = LineSplitter::new(64 * 1024);
            b.iter(|| {
                let mut n = 0usize;
                for chunk in data.chunks(128 * 1024) {
                    s.feed(chunk, |_, _| n += 1);
                }
                s.finish(|_, _| n += 1);
                black_box(n)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
