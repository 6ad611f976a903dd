//! Tail clients: where each one is in the shared event history, replayed by
//! position as it reads (never copied per client), plus the findings kept
//! for `errors`/`urls`, and `logs` searches advanced a slice per turn.

use serde_json::json;

use super::super::Reactor;
use super::*;
use crate::control::{self, Tail};
use crate::output::HistoryView;
use ringbuf::traits::RingBuffer;

/// Bytes of events queued for one tail client at a time; the rest waits in
/// the shared history, so a tail that does not read costs this much.
pub(super) const TAIL_WINDOW: usize = 128 << 10;

/// Queues the tail's next events from the shared history, up to
/// [`TAIL_WINDOW`] unsent; a tail without follow ends when its history is
/// out.
pub(super) fn fill_tail(c: &mut Client, history: &HistoryView<'_>) {
    if c.tail.is_none() {
        return;
    }
    catch_up(c, history);
    let Some(t) = c.tail.as_ref() else { return };
    let end = c.until.map_or(history.end().index, |u| u.min(history.end().index));
    if c.cursor.index < end && c.unsent() < TAIL_WINDOW {
        if c.unsent() == 0 {
            c.last_progress = Instant::now();
        }
        // what was sent goes, so the buffer never grows past the window
        // (plus one event): a stuck tail costs TAIL_WINDOW, not twice it
        if c.sent > 0 {
            c.outbox.drain(..c.sent);
            c.sent = 0;
        }
        let since = t.since.unwrap_or(0);
        let Client { outbox, cursor, .. } = c;
        *cursor = history.scan(*cursor, |at, line| {
            if at.index >= end {
                return false;
            }
            if let Some(m) = control::event_meta(line)
                && m.seq > since
                && t.wants(&m)
            {
                if !outbox.is_empty() && outbox.len() + line.len() > TAIL_WINDOW {
                    return false; // next time
                }
                if outbox.capacity() < outbox.len() + line.len() {
                    outbox.reserve_exact((outbox.len() + line.len()).max(TAIL_WINDOW) - outbox.len());
                }
                outbox.extend_from_slice(line);
            }
            true
        });
    }
    if c.until.is_some_and(|u| c.cursor.index >= u) {
        c.tail = None;
        c.close_after_flush = true;
    }
}

/// A tail whose place was pushed out of the history before it took those
/// events counts them as missed and goes on from the oldest held.
fn catch_up(c: &mut Client, history: &HistoryView<'_>) {
    let first = history.first();
    if c.cursor.index < first.index {
        c.missed += first.index - c.cursor.index;
        c.missed_last_seq = c.missed_last_seq.max(history.first_seq().unwrap_or(0).saturating_sub(1));
        c.cursor = first;
    }
}

impl Reactor {
    /// Runs client `slot`'s search for at most `budget`, and answers when
    /// it is done.
    pub(super) fn advance_search(&mut self, slot: usize, budget: std::time::Duration) {
        let Some(mut search) = self.client_mut(slot).and_then(|c| c.search.take()) else { return };
        let p = &self.procs[search.process()];
        match search.advance(&p.capture.ring, p.capture.evicted_total, budget) {
            Some(answer) => {
                let line = control::ok_line(search.id(), answer);
                self.reply(slot, &line);
            }
            None => {
                if let Some(c) = self.client_mut(slot) {
                    c.search = Some(search);
                }
            }
        }
    }

    /// The history's position after its newest event.
    pub(super) fn history_end(&self) -> u64 {
        self.em.output().history_view().map_or(0, |h| h.end().index)
    }

    pub(super) fn start_tail(&mut self, slot: usize, id: &Value, t: Tail) {
        self.pump_control();
        let seq = self.em.seq();
        let Some(ctl) = self.control.as_mut() else { return };
        let Some(history) = self.em.output().history_view() else { return };
        let first = history.first_seq();
        let missed = match (t.since, first) {
            (Some(s), Some(f)) if f > s + 1 => f - s - 1,
            _ => 0,
        };
        let ack = control::ok_line(
            id,
            json!({ "tail": true, "seq": seq, "history_from": first, "missed": missed, "follow": t.follow }),
        );
        let end = history.end();
        // where in the history this tail begins: the history is replayed
        // from the shared blocks by position, never copied per client
        let mut start = end;
        if t.since.is_some() || t.last.is_some() {
            let since = t.since.unwrap_or(0);
            let wanted = |bytes: &[u8]| control::event_meta(bytes).is_some_and(|m| m.seq > since && t.wants(&m));
            let mut count = 0usize;
            history.scan(history.first(), |_, bytes| {
                count += wanted(bytes) as usize;
                true
            });
            let skip = t.last.map_or(0, |n| count.saturating_sub(n));
            let mut k = 0usize;
            start = history.scan(history.first(), |_, bytes| {
                if wanted(bytes) {
                    if k == skip {
                        return false;
                    }
                    k += 1;
                }
                true
            });
        }
        let Some(c) = ctl.clients.get_mut(slot).and_then(Option::as_mut) else { return };
        c.outbox.extend_from_slice(&ack);
        c.cursor = start;
        c.until = (!t.follow).then_some(end.index);
        c.tail = Some(t);
        self.pump_control();
    }

    /// Hands the events published since the last call to the tail clients
    /// (and keeps the URLs for `urls`; errors live in the error book), then writes what
    /// clients can take. With nobody tailing that is nothing but the
    /// findings: the history already holds every event.
    pub(in crate::reactor) fn pump_control(&mut self) {
        let Some(ctl) = self.control.as_mut() else { return };
        let Some(h) = self.em.output_mut().history_mut() else { return };
        for line in h.found.drain(..) {
            if control::event_meta(&line).is_some_and(|m| m.ty == "url.detected") {
                // the oldest goes when it is full
                ctl.urls.push_overwrite(line);
            }
        }
        let Some(history) = self.em.output().history_view() else { return };
        let mut slow = Vec::new();
        for (slot, c) in ctl.clients.iter_mut().enumerate() {
            let Some(c) = c.as_mut() else { continue };
            if c.tail.is_none() {
                continue;
            }
            if c.unsent() > 0 && c.last_progress.elapsed() >= STUCK_AFTER {
                slow.push((slot, c.unsent()));
                continue;
            }
            fill_tail(c, &history);
        }
        for (slot, queued) in slow {
            self.drop_client(slot, Some(queued));
        }
        let busy: Vec<usize> = self
            .control
            .as_ref()
            .map(|ctl| {
                ctl.clients
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.as_ref().is_some_and(|c| c.outbox.len() > c.sent || c.close_after_flush))
                    .map(|(i, _)| i)
                    .collect()
            })
            .unwrap_or_default();
        for slot in busy {
            self.client_write(slot);
        }
        self.arm_client_sweep();
    }
}
