//! The capture path for one process: bytes read from its pipes → lines →
//! ring store → `log.line` events in the output buffer.
//!
//! No mio, no fds: the reactor hands in what it read. This is the hot path,
//! and it allocates nothing per line once buffers have grown (a counting
//! allocator test holds it to that).

use crate::config::Settings;
use crate::events::{Event, ProcRef};
use crate::lines::LineSplitter;
use crate::output::Output;
use crate::store::{Ring, Stream};

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

impl Capture {
    pub fn new(settings: &Settings) -> Self {
        Capture {
            splitters: [
                LineSplitter::new(settings.max_line_bytes),
                LineSplitter::new(settings.max_line_bytes),
            ],
            ring: Ring::new(settings.ring_bytes),
            evicted_unreported: 0,
            evicted_total: 0,
            lines: 0,
        }
    }

    /// Takes one chunk read from `stream`; every complete line gets the next
    /// `seq`, is stored, and is encoded into `out`.
    #[inline]
    pub fn ingest(
        &mut self,
        p: ProcRef<'_>,
        stream: Stream,
        data: &[u8],
        ts_ms: i64,
        seq: &mut u64,
        out: &mut Output,
    ) {
        let Capture {
            splitters,
            ring,
            evicted_unreported,
            evicted_total,
            lines,
        } = self;
        splitters[slot(stream)].feed(data, |line, truncated| {
            *seq += 1;
            *lines += 1;
            let ev = ring.push(*seq, ts_ms, stream, truncated, line);
            *evicted_unreported += u64::from(ev);
            *evicted_total += u64::from(ev);
            out.emit(
                *seq,
                ts_ms,
                &Event::LogLine {
                    process: p,
                    stream,
                    line,
                    truncated,
                },
            );
        });
    }

    /// End of `stream`: emits its unterminated last line, if any.
    pub fn finish(
        &mut self,
        p: ProcRef<'_>,
        stream: Stream,
        ts_ms: i64,
        seq: &mut u64,
        out: &mut Output,
    ) {
        let Capture {
            splitters,
            ring,
            evicted_unreported,
            evicted_total,
            lines,
        } = self;
        splitters[slot(stream)].finish(|line, truncated| {
            *seq += 1;
            *lines += 1;
            let ev = ring.push(*seq, ts_ms, stream, truncated, line);
            *evicted_unreported += u64::from(ev);
            *evicted_total += u64::from(ev);
            out.emit(
                *seq,
                ts_ms,
                &Event::LogLine {
                    process: p,
                    stream,
                    line,
                    truncated,
                },
            );
        });
    }
}
