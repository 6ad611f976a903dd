//! NDJSON encoding of `log.line` events and the whole in-process capture
//! path (split → store → encode) per line.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use brum::capture::Capture;
use brum::config::Settings;
use brum::emit::Emitter;
use brum::events::{Event, ProcRef, Timestamps, json};
use brum::output::{Format, Output};
use brum::store::Stream;

fn bench(c: &mut Criterion) {
    let p = ProcRef { name: "web", index: 0 };
    let line = b"  VITE v5.4.0  ready in 312 ms -> Local: http://localhost:5173/ \"ok\"";
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("log_line_json", |b| {
        let mut out = Vec::with_capacity(1 << 16);
        let mut ts = Timestamps::new();
        let mut seq = 0u64;
        b.iter(|| {
            if out.len() > 60_000 {
                out.clear();
            }
            seq += 1;
            let ev =
                Event::LogLine { process: p, stream: Stream::Stdout, line, truncated: false, boost: false, tag: None };
            json::encode(&mut out, &mut ts, seq, 1_795_704_462_007, black_box(&ev));
        })
    });
    g.finish();

    let mut data = Vec::new();
    for i in 0..10_000 {
        data.extend_from_slice(
            format!("{i:06} GET /api/items?page={i} 200 in 3ms - lorem ipsum dolor sit am\n").as_bytes(),
        );
    }
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("split_store_encode_80B", |b| {
        let settings = Settings { max_line_bytes: 64 * 1024, ring_bytes: 8 << 20 };
        let mut cap = Capture::new(&settings);
        let mut em = Emitter::new(Output::discard(Format::Json, 4 << 20));
        b.iter(|| {
            for chunk in data.chunks(128 * 1024) {
                cap.ingest(p, Stream::Stdout, chunk, 1_795_704_462_007, &mut em);
            }
            em.output_mut().clear();
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
