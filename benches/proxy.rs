//! The proxy's pure parts: inserting the telemetry script into pages as
//! they stream through (10 KB and 100 KB pages, and a page without a
//! `<head>`, the worst case: the 4 KiB prefix scanned byte by byte), and
//! the telemetry endpoint taking a typical batch from the browser.
//! Brummer's figures for the injection: 245 µs (< 10 KB) and 2.8 ms
//! (> 100 KB), holding twice the page in memory.

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use brum::proxy::inject::Injector;
use brum::proxy::telemetry::Telemetry;

/// A page of about `size` bytes shaped like a dev server's: a doctype, a
/// head with meta tags and module scripts, then body markup. `late`: a
/// 5 KB licence comment first, so the whole 4 KiB prefix is scanned byte by
/// byte before the injector gives up on `<head>` (the worst case).
fn page(size: usize, head: bool, late: bool) -> Vec<u8> {
    let mut p = String::from("<!DOCTYPE html>\n");
    if late {
        p.push_str("<!--\n");
        while p.len() < 5000 {
            p.push_str("  Permission is hereby granted, free of charge, to any person obtaining a copy\n");
        }
        p.push_str("-->\n");
    }
    p.push_str("<html lang=\"en\">\n");
    if head {
        p.push_str("  <head>\n");
    }
    p.push_str("    <meta charset=\"UTF-8\" />\n    <link rel=\"icon\" type=\"image/svg+xml\" href=\"/vite.svg\" />\n");
    p.push_str("    <meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\" />\n");
    p.push_str("    <script type=\"module\" src=\"/@vite/client\"></script>\n    <title>Vite + React + TS</title>\n");
    if head {
        p.push_str("  </head>\n");
    }
    p.push_str("  <body>\n    <div id=\"root\">\n");
    let mut i = 0;
    while p.len() < size - 60 {
        p.push_str(&format!("      <p class=\"row\">item {i} lorem ipsum dolor sit amet</p>\n"));
        i += 1;
    }
    p.push_str("    </div>\n    <script type=\"module\" src=\"/src/main.tsx\"></script>\n  </body>\n</html>\n");
    p.into_bytes()
}

/// Streams `page` through an injector in `read`-sized chunks into `out`;
/// the most it ever held back.
fn stream(page: &[u8], read: usize, out: &mut Vec<u8>) -> usize {
    let mut inj = Injector::new();
    let mut held = 0;
    for chunk in page.chunks(read) {
        inj.push(chunk, out);
        held = held.max(inj.held());
    }
    inj.finish(out);
    held
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("inject");
    for (name, size, head, late) in [
        ("10KB", 10_000, true, false),
        ("100KB", 100_000, true, false),
        ("100KB_no_head", 100_000, false, false),
        ("100KB_head_past_4KiB", 100_000, true, true),
    ] {
        let p = page(size, head, late);
        let mut out = Vec::with_capacity(p.len() + 64);
        let held = stream(&p, 16 * 1024, &mut out);
        out.clear();
        let held_small = stream(&p, 1024, &mut out);
        eprintln!(
            "inject {name}: page {} bytes, held back at most {held} bytes with 16 KiB reads, {held_small} with 1 KiB reads",
            p.len()
        );
        g.throughput(Throughput::Bytes(p.len() as u64));
        g.bench_with_input(BenchmarkId::new("page", name), &p, |b, p| {
            b.iter(|| {
                out.clear();
                stream(black_box(p), 16 * 1024, &mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();

    // what t.js sends after a page threw, failed a fetch and logged
    let batch = br#"{"v":1,"dropped":0,"events":[{"kind":"console","level":"error","message":"Warning: Each child in a list should have a unique \"key\" prop.","page":"http://127.0.0.1:20888/"},{"kind":"fetch","message":"fetch GET /api/items failed: 503 Service Unavailable","stack":"    at here (http://127.0.0.1:20888/__brum__/t.js:38:13)\n    at window.fetch (http://127.0.0.1:20888/__brum__/t.js:137:19)\n    at load (http://127.0.0.1:20888/src/api.ts?t=1712:12:10)\n    at http://127.0.0.1:20888/src/App.tsx?t=1712:20:5","page":"http://127.0.0.1:20888/"},{"kind":"error","message":"Uncaught TypeError: Cannot read properties of undefined (reading 'map')","stack":"TypeError: Cannot read properties of undefined (reading 'map')\n    at App (http://127.0.0.1:20888/src/App.tsx?t=1712:24:18)\n    at renderWithHooks (http://127.0.0.1:20888/node_modules/.vite/deps/react-dom_client.js?v=9d3f:11548:26)\n    at mountIndeterminateComponent (http://127.0.0.1:20888/node_modules/.vite/deps/react-dom_client.js?v=9d3f:14926:21)","url":"http://127.0.0.1:20888/src/App.tsx?t=1712","line":24,"col":18,"page":"http://127.0.0.1:20888/"},{"kind":"page","title":"Vite + React + TS","load_ms":312,"page":"http://127.0.0.1:20888/"}]}"#;
    let mut g = c.benchmark_group("telemetry");
    g.throughput(Throughput::Elements(4));
    g.bench_function("accept_batch_of_4", |b| {
        let mut t = Telemetry::new();
        let now = Instant::now();
        let mut k = 0u64;
        b.iter(|| {
            // a fresh second each time: the rate limits never bite
            k += 1;
            let r = t.accept(black_box(batch), now + std::time::Duration::from_secs(k)).expect("valid batch");
            black_box(r.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
