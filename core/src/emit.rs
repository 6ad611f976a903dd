//! The emitter: the one way an event is published. It owns the sequence
//! numbers and the primary output (which also fills the control history), so
//! an event can never be half-published — a seq taken without an event, or
//! an event written without a seq.
//!
//! Layer: above [`crate::output`] and [`crate::events`]; no mio, no fds of
//! its own. Lines are the one kind of event whose seq is taken before it is
//! published: a line gets its seq when it is captured (the ring stores it),
//! and with plugins on it is published after the filters have seen its batch
//! ([`Emitter::reserve`], then [`Emitter::publish_at`]).

use crate::capture::LineSink;
use crate::events::{Event, ProcRef, now_ms};
use crate::output::Output;
use crate::store::Stream;

/// Sequence numbers and the output they are published to.
#[derive(Debug)]
pub struct Emitter {
    out: Output,
    seq: u64,
}

impl Emitter {
    pub fn new(out: Output) -> Self {
        Emitter { out, seq: 0 }
    }

    /// Publishes `ev` now with the next seq, and returns that seq.
    #[inline]
    pub fn publish(&mut self, ev: &Event<'_>) -> u64 {
        self.seq += 1;
        self.out.emit(self.seq, now_ms(), ev);
        self.seq
    }

    /// Takes the next seq for an event published later with
    /// [`Emitter::publish_at`] (a captured line waiting for the plugins).
    #[inline]
    pub fn reserve(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Publishes an event under a seq taken earlier with [`Emitter::reserve`].
    #[inline]
    pub fn publish_at(&mut self, seq: u64, ts_ms: i64, ev: &Event<'_>) {
        debug_assert!(seq <= self.seq, "seq {seq} was never reserved");
        self.out.emit(seq, ts_ms, ev);
    }

    /// The last seq handed out.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn output(&self) -> &Output {
        &self.out
    }

    pub fn output_mut(&mut self) -> &mut Output {
        &mut self.out
    }
}

/// Without plugins, a captured line is published at once.
impl LineSink for Emitter {
    #[inline]
    fn line(&mut self, p: ProcRef<'_>, stream: Stream, ts_ms: i64, truncated: bool, bytes: &[u8]) -> u64 {
        let seq = self.reserve();
        let ev = Event::LogLine { process: p, stream, line: bytes, truncated, boost: false, tag: None };
        self.out.emit(seq, ts_ms, &ev);
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Format;

    #[test]
    fn every_seq_is_published_once_and_in_order() {
        let mut em = Emitter::new(Output::discard(Format::Json, 1 << 20));
        let p = ProcRef { name: "web", index: 0 };
        assert_eq!(em.publish(&Event::DaemonStopped { exit_code: 0 }), 1);
        let reserved = em.reserve();
        assert_eq!(em.line(p, Stream::Stdout, 5, false, b"hello"), 3);
        em.publish_at(
            reserved,
            4,
            &Event::LogLine {
                process: p,
                stream: Stream::Stderr,
                line: b"late",
                truncated: false,
                boost: false,
                tag: None,
            },
        );
        let text = String::from_utf8_lossy(em.output().buffer()).into_owned();
        let seqs: Vec<u64> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["seq"].as_u64().expect("seq"))
            .collect();
        assert_eq!(seqs, [1, 3, 2]);
        assert_eq!(em.seq(), 3);
    }
}
