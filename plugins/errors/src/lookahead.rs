//! Lines held back while an open record waits to know whether they are its
//! own. A compiler's diagnostic may be followed by lines that belong to it
//! only when a caret line comes after them: clang echoes the source line
//! unindented, kotlinc continues its message on unindented lines and a blank
//! one before the source and its caret. The same lines after a note without
//! source (`make: *** ... Error 1`) are the next thing's. The record holds
//! them (copied into one reused buffer, bounded); a caret line makes them
//! the record's, anything else flushes the record and replays them as if
//! they had just arrived. Imports `blocks`, `normalize` and `text`.

use crate::Finding;
use crate::blocks::{StreamState, is_caret_line};
use crate::normalize::Level;
use crate::text::*;

/// At most this many lines are held; the next one replays them.
const MAX_LINES: usize = 64;
/// ... and at most this many bytes.
const MAX_BYTES: usize = 16 * 1024;

#[derive(Default)]
pub struct Held {
    bytes: Vec<u8>,
    /// end offset in `bytes`, seq, ts, level of each held line
    lines: Vec<(usize, u64, i64, Level)>,
}

impl Held {
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    fn push(&mut self, t: &[u8], seq: u64, ts: i64, level: Level) {
        self.bytes.extend_from_slice(t);
        self.lines.push((self.bytes.len(), seq, ts, level));
    }

    fn full(&self, more: usize) -> bool {
        self.lines.len() >= MAX_LINES || self.bytes.len() + more > MAX_BYTES
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.lines.clear();
    }
}

/// A caret line under a source line: `   ^`, `  ^~~~`, `^      ~~~~~~~~~`.
pub(crate) fn is_caret(t: &[u8]) -> bool {
    let tw = trim_start(t);
    is_caret_line(tw) && contains(tw, b"^")
}

impl StreamState {
    /// Starts holding `t` for the open record (its `cont` said `Hold`).
    pub(crate) fn hold(&mut self, t: &[u8], seq: u64, ts: i64, level: Level) {
        self.held.push(t, seq, ts, level);
    }

    /// While lines are held: a caret line makes them the open record's
    /// (true: the line is consumed), another line is held too while there
    /// is room and it is no diagnostic of its own (true); otherwise the
    /// record is flushed, the held lines replayed, and the caller goes on
    /// with `t` (false).
    pub(crate) fn on_held(
        &mut self,
        pid: u32,
        t: &[u8],
        level: Level,
        seq: u64,
        ts: i64,
        out: &mut Vec<Finding>,
    ) -> bool {
        if is_caret(t)
            && let Some(r) = self.rec.as_mut()
        {
            r.last_seq = seq;
            r.last_ts = ts;
            r.blanks = 0;
            r.stage = 1;
            self.held.clear();
            return true;
        }
        let diag = crate::locations::parse_loc(t).is_some_and(|l| {
            let rest = trim_start(l.rest);
            starts(rest, b"error") || starts(rest, b"warning") || starts(rest, b"note") || starts(rest, b"fatal")
        });
        if !diag && !self.held.full(t.len()) {
            self.held.push(t, seq, ts, level);
            return true;
        }
        self.release(pid, out);
        false
    }

    /// Flushes the open record and replays the lines it held.
    pub(crate) fn release(&mut self, pid: u32, out: &mut Vec<Finding>) {
        self.flush(pid, out);
        if self.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.held);
        let mut start = 0;
        for &(end, seq, ts, level) in &held.lines {
            self.on_line(pid, &held.bytes[start..end], level, seq, ts, out);
            start = end;
        }
        if self.held.is_empty() {
            // keep the allocation
            self.held = held;
            self.held.clear();
        }
    }
}
