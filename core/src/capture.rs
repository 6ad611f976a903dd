//! The capture path for one process: bytes read from its pipes → lines →
//! ring store → `log.line` events in the output buffer.
//!
//! No mio, no fds: the reactor hands in what it read. This is the hot path,
//! and it allocates nothing per line once buffers have grown (a counting
//! allocator test holds it to that).

use crate::config::Settings;
use crate::events::ProcRef;
use crate::lines::LineSplitter;
use crate::store::{Ring, Stream};

/// Where captured lines go next: straight to the output (the
/// [`crate::emit::Emitter`]), or into the batch the plugins see first. The
/// sink gives each line its seq.
pub trait LineSink {
    /// Takes one line and returns the seq it was given.
    fn line(&mut self, p: ProcRef<'_>, stream: Stream, ts_ms: i64, truncated: bool, bytes: &[u8]) -> u64;
}

/// Line state and recent output of one process (kept across restarts).
#[derive(Debug)]
pub struct Capture {
    splitters: [LineSplitter; 2],
    pub ring: Ring,
    /// Lines evicted from the ring and not yet reported as `log.dropped`.
    pub evicted_unreported: u64,
    pub evicted_total: u64,
    /// Lines captured in total.
    pub lines: u64,
}

fn slot(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

struct Counters<'a> {
    ring: &'a mut Ring,
    evicted_unreported: &'a mut u64,
    evicted_total: &'a mut u64,
    lines: &'a mut u64,
    stream: Stream,
    ts_ms: i64,
}

impl Counters<'_> {
    #[inline]
    fn take<S: LineSink>(&mut self, p: ProcRef<'_>, line: &[u8], truncated: bool, out: &mut S) {
        *self.lines += 1;
        let seq = out.line(p, self.stream, self.ts_ms, truncated, line);
        let ev = u64::from(self.ring.push(seq, self.ts_ms, self.stream, truncated, line));
        *self.evicted_unreported += ev;
        *self.evicted_total += ev;
    }
}

impl Capture {
    pub fn new(settings: &Settings) -> Self {
        Capture {
            splitters: [LineSplitter::new(settings.max_line_bytes), LineSplitter::new(settings.max_line_bytes)],
            ring: Ring::new(settings.ring_bytes),
            evicted_unreported: 0,
            evicted_total: 0,
            lines: 0,
        }
    }

    fn parts(&mut self, stream: Stream, ts_ms: i64) -> (&mut LineSplitter, Counters<'_>) {
        let Capture { splitters, ring, evicted_unreported, evicted_total, lines } = self;
        let counters = Counters { ring, evicted_unreported, evicted_total, lines, stream, ts_ms };
        (&mut splitters[slot(stream)], counters)
    }

    /// Takes one chunk read from `stream`; every complete line goes to
    /// `out` (which gives it its seq) and is stored.
    #[inline]
    pub fn ingest<S: LineSink>(&mut self, p: ProcRef<'_>, stream: Stream, data: &[u8], ts_ms: i64, out: &mut S) {
        let (splitter, mut c) = self.parts(stream, ts_ms);
        splitter.feed(data, |line, truncated| c.take(p, line, truncated, out));
    }

    /// End of `stream`: its unterminated last line, if any.
    pub fn finish<S: LineSink>(&mut self, p: ProcRef<'_>, stream: Stream, ts_ms: i64, out: &mut S) {
        let (splitter, mut c) = self.parts(stream, ts_ms);
        splitter.finish(|line, truncated| c.take(p, line, truncated, out));
    }
}
