//! The capture path (pipe bytes → lines → ring store → encoded `log.line`
//! events → output write) makes no heap allocation per line in steady
//! state. A counting global allocator is the witness; it lives in its own
//! test binary so no other test's allocations are counted.

use brum::capture::Capture;
use brum::config::Settings;
use brum::emit::Emitter;
use brum::events::ProcRef;
use brum::output::{Flush, Format, Output};
use brum::store::Stream;

#[path = "support/alloc.rs"]
mod alloc_count;

fn chunk() -> Vec<u8> {
    let mut data = Vec::new();
    for i in 0..1000 {
        data.extend_from_slice(format!("{i:06} GET /api/items?page={i} 200 in 3ms \"quoted\" \t tab\n").as_bytes());
    }
    data.extend_from_slice(b"\xff\xfe not utf-8\r\n");
    data.extend_from_slice(&[b'x'; 70_000]); // a line longer than the cap
    data.push(b'\n');
    data.extend_from_slice(b"partial line carried to the next chunk ");
    data
}

#[test]
fn capture_path_allocates_nothing_per_line() {
    let settings = Settings { max_line_bytes: 64 * 1024, ring_bytes: 1 << 20 };
    let mut cap = Capture::new(&settings);
    let devnull = std::fs::OpenOptions::new().write(true).open("/dev/null").expect("/dev/null");
    let mut em = Emitter::new(Output::to_fd(devnull.into(), Format::Json, 1 << 20));
    let p = ProcRef { name: "web", index: 0 };
    let data = chunk();
    let pass = |cap: &mut Capture, em: &mut Emitter| {
        for piece in data.chunks(8 * 1024) {
            cap.ingest(p, Stream::Stdout, piece, 1_795_704_462_007, em);
            if em.output().is_full() {
                assert_eq!(em.output_mut().flush(), Flush::Drained);
            }
        }
        assert_eq!(em.output_mut().flush(), Flush::Drained);
    };
    // warm up: buffers grow to their working size, the ring wraps
    for _ in 0..20 {
        pass(&mut cap, &mut em);
    }
    let lines_before = cap.lines;
    let allocs = alloc_count::allocs_during(|| {
        for _ in 0..100 {
            pass(&mut cap, &mut em);
        }
    });
    let lines = cap.lines - lines_before;
    assert!(lines > 100_000, "the test must push many lines ({lines})");
    assert!(cap.ring.stats().evicted_lines > 0, "the ring must be evicting in steady state");
    assert_eq!(allocs, 0, "{allocs} heap allocations for {lines} lines");
}

/// The witness itself works: without this, a counter that counts nothing
/// would make the test above pass.
#[test]
fn the_counter_sees_an_allocation() {
    let n = alloc_count::allocs_during(|| drop(std::hint::black_box(vec![1u8; 64])));
    assert_eq!(n, 1);
}
