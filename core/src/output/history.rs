//! The control socket's event history: the most recent events as NDJSON, in
//! the order they were published, in blocks of whole events.
//!
//! When the output is JSON the history costs nothing per event: the output's
//! buffer is the live block, and once it has been written (and holds at
//! least [`SEAL_BYTES`]) it is handed over whole as a sealed block and an
//! evicted block's buffer takes its place. When the output is readable text,
//! or gone, the history encodes events into a live block of its own.
//!
//! A place in the history is a [`Cursor`]: the event's index (events
//! published before it) and its byte offset, both counted from the start of
//! the run, so a tail keeps its place across seals and learns how many
//! events it missed when eviction passes it.

use std::collections::VecDeque;

use crate::events::meta::event_meta;
use crate::events::{Event, Timestamps, json};

/// A live block is sealed once it holds this much (and has been written).
pub const SEAL_BYTES: usize = 64 << 10;

/// An evicted buffer bigger than this is freed rather than reused.
const SPARE_MAX: usize = 4 << 20;

/// A place in the history: the event at `index` (counted from the first
/// event of the run) begins at byte `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    pub index: u64,
    pub offset: u64,
}

#[derive(Debug)]
struct Block {
    bytes: Vec<u8>,
    at: Cursor,
}

/// The most recent events as NDJSON, at most `budget` bytes of sealed
/// blocks (counted by capacity) plus the live block.
#[derive(Debug)]
pub struct History {
    blocks: VecDeque<Block>,
    held: usize,
    budget: usize,
    /// Where the live block begins, and how many events it holds.
    live_at: Cursor,
    live_events: u64,
    /// The live block when the history encodes events itself.
    own: Vec<u8>,
    /// An evicted block's buffer, reused for the next live block.
    spare: Option<Vec<u8>>,
    ts: Timestamps,
    /// `error.detected` / `url.detected` events since the control server
    /// last took them (kept apart: a busy turn may push them out of the
    /// history before it looks).
    pub found: Vec<Vec<u8>>,
}

impl History {
    /// A history of about `budget` bytes whose live block (an output's
    /// buffer) already holds `events` events.
    pub(super) fn new(budget: usize, events: u64) -> History {
        History {
            blocks: VecDeque::new(),
            held: 0,
            budget,
            live_at: Cursor::default(),
            live_events: events,
            own: Vec::new(),
            spare: None,
            ts: Timestamps::new(),
            found: Vec::new(),
        }
    }

    /// Counts one event the output has just encoded into the live block.
    #[inline]
    pub(super) fn record(&mut self, line: &[u8], ev: &Event<'_>) {
        self.live_events += 1;
        keep_found(&mut self.found, line, ev);
    }

    /// Encodes one event into the history's own live block (the output is
    /// not JSON, or is gone).
    pub(super) fn encode(&mut self, seq: u64, ts_ms: i64, ev: &Event<'_>) {
        let start = self.own.len();
        json::encode(&mut self.own, &mut self.ts, seq, ts_ms, ev);
        self.live_events += 1;
        keep_found(&mut self.found, &self.own[start..], ev);
        if self.own.len() >= SEAL_BYTES {
            let fresh = self.take_spare(SEAL_BYTES * 2);
            let full = std::mem::replace(&mut self.own, fresh);
            let events = self.live_events;
            self.seal(full, events);
        }
    }

    /// A buffer for the next live block: an evicted one, emptied, or a new
    /// one of `capacity`.
    pub(super) fn take_spare(&mut self, capacity: usize) -> Vec<u8> {
        match self.spare.take() {
            Some(mut v) => {
                v.clear();
                v
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// Events in the live block not yet sealed.
    pub(super) fn live_events(&self) -> u64 {
        self.live_events
    }

    /// Seals `bytes`, the first `events` events of the live block (whole
    /// events), and evicts the oldest blocks over the budget.
    pub(super) fn seal(&mut self, mut bytes: Vec<u8>, events: u64) {
        if bytes.is_empty() {
            return;
        }
        // a block sealed in a quiet moment would hold its buffer's whole
        // capacity for a few events
        if bytes.len() < bytes.capacity() / 2 {
            bytes.shrink_to_fit();
        }
        let at = self.live_at;
        self.live_at = Cursor { index: at.index + events, offset: at.offset + bytes.len() as u64 };
        self.live_events -= events;
        self.held += bytes.capacity();
        self.blocks.push_back(Block { bytes, at });
        // the newest block stays, however big: a tail sees the latest events
        while self.held > self.budget && self.blocks.len() > 1 {
            let Some(old) = self.blocks.pop_front() else { break };
            self.held -= old.bytes.capacity();
            if self.spare.is_none() && old.bytes.capacity() <= SPARE_MAX {
                self.spare = Some(old.bytes);
            }
        }
    }

    /// The history with `live` as its live block when the output shares its
    /// buffer, else with its own.
    pub(super) fn view<'a>(&'a self, shared: Option<&'a [u8]>) -> HistoryView<'a> {
        HistoryView {
            blocks: &self.blocks,
            live: shared.unwrap_or(&self.own),
            live_at: self.live_at,
            live_events: self.live_events,
        }
    }
}

/// Keeps a copy of an `error.detected` / `url.detected` event's line.
#[inline]
fn keep_found(found: &mut Vec<Vec<u8>>, line: &[u8], ev: &Event<'_>) {
    if let Event::Finding { finding, .. } = ev
        && matches!(finding.event_type(), "error.detected" | "url.detected")
    {
        found.push(line.to_vec());
    }
}

/// The events a [`History`] holds, oldest first.
#[derive(Debug, Clone, Copy)]
pub struct HistoryView<'a> {
    blocks: &'a VecDeque<Block>,
    live: &'a [u8],
    live_at: Cursor,
    live_events: u64,
}

impl HistoryView<'_> {
    /// The oldest event held (the end when nothing is).
    pub fn first(&self) -> Cursor {
        self.blocks.front().map_or(self.live_at, |b| b.at)
    }

    /// Just after the newest event.
    pub fn end(&self) -> Cursor {
        Cursor { index: self.live_at.index + self.live_events, offset: self.live_at.offset + self.live.len() as u64 }
    }

    /// How many events are held.
    pub fn len(&self) -> u64 {
        self.end().index - self.first().index
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The seq of the oldest event held.
    pub fn first_seq(&self) -> Option<u64> {
        let mut seq = None;
        self.scan(self.first(), |_, line| {
            seq = event_meta(line).map(|m| m.seq);
            false
        });
        seq
    }

    /// The seq of the newest event held.
    pub fn last_seq(&self) -> Option<u64> {
        let bytes = match self.live {
            [] => &self.blocks.back()?.bytes[..],
            live => live,
        };
        let body = &bytes[..bytes.len() - 1];
        let start = memchr::memrchr(b'\n', body).map_or(0, |i| i + 1);
        event_meta(&body[start..]).map(|m| m.seq)
    }

    /// Calls `f` with each held event from `from` on (from the oldest when
    /// `from` was evicted): its place and its line with the newline, until
    /// `f` returns false. Returns the place of the first event `f` did not
    /// take.
    pub fn scan(&self, from: Cursor, mut f: impl FnMut(Cursor, &[u8]) -> bool) -> Cursor {
        let mut cur = if from.index < self.first().index { self.first() } else { from };
        let skip = self.blocks.partition_point(|b| b.at.offset + (b.bytes.len() as u64) <= cur.offset);
        let blocks = self.blocks.range(skip..).map(|b| (b.at, &b.bytes[..]));
        for (at, bytes) in blocks.chain(std::iter::once((self.live_at, self.live))) {
            let mut i = cur.offset.saturating_sub(at.offset) as usize;
            while i < bytes.len() {
                let next = memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |n| i + n + 1);
                if !f(cur, &bytes[i..next]) {
                    return cur;
                }
                cur = Cursor { index: cur.index + 1, offset: cur.offset + (next - i) as u64 };
                i = next;
            }
        }
        cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::ProcRef;
    use crate::store::Stream;

    fn line_event(text: &[u8]) -> Event<'_> {
        Event::LogLine {
            process: ProcRef { name: "web", index: 0 },
            stream: Stream::Stdout,
            line: text,
            truncated: false,
            boost: false,
            tag: None,
        }
    }

    fn seqs(v: &HistoryView<'_>, from: Cursor) -> Vec<u64> {
        let mut out = Vec::new();
        v.scan(from, |_, line| {
            out.push(event_meta(line).expect("event").seq);
            true
        });
        out
    }

    #[test]
    fn a_place_survives_seals_and_eviction_says_how_much_was_missed() {
        let mut h = History::new(4 * SEAL_BYTES, 0);
        let text = [b'x'; 1000];
        let mut places = Vec::new();
        for seq in 1..=2000u64 {
            places.push(h.view(None).end());
            h.encode(seq, 0, &line_event(&text));
        }
        let v = h.view(None);
        // sealed blocks over the budget went, oldest first
        assert!(v.first().index > 0 && v.first().index < 2000);
        assert_eq!(v.end().index, 2000);
        assert_eq!(v.first_seq(), Some(v.first().index + 1));
        assert_eq!(v.last_seq(), Some(2000));
        assert_eq!(v.len(), 2000 - v.first().index);
        // any held place resumes exactly there, across blocks
        let mid = places[1990];
        assert_eq!(seqs(&v, mid), (1991..=2000).collect::<Vec<_>>());
        // an evicted place resumes at the oldest held event
        assert_eq!(seqs(&v, places[0]).first().copied(), v.first_seq());
        // a scan stops where asked and says where
        let stop = v.scan(mid, |c, _| c.index < 1995);
        assert_eq!(stop, places[1995]);
    }

    #[test]
    fn findings_are_kept_apart() {
        let mut h = History::new(SEAL_BYTES, 0);
        let fields = Vec::new();
        let f = crate::events::FindingView::new("error", "error", "boom", (1, 1), &fields);
        h.encode(1, 0, &Event::Finding { process: ProcRef { name: "web", index: 0 }, plugin: "errors", finding: &f });
        h.encode(2, 0, &line_event(b"hello"));
        assert_eq!(h.found.len(), 1);
        assert_eq!(event_meta(&h.found[0]).map(|m| m.ty), Some("error.detected"));
    }
}
