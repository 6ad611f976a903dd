//! Catching up a plugin that became ready while processes ran (its compile
//! took a while): it is given what it missed, in the order it happened —
//! the lines, from the processes' rings, merged by seq, and the processes'
//! starts and ends, from a journal kept while any plugin is not ready — one
//! bounded batch per turn, so the reactor goes on serving meanwhile. Then
//! it sees new lines like every other plugin.
//!
//! Bounded: at most [`MAX_LINES`] lines per plugin (the rest up to the
//! moment it hits the bound is skipped), and the journal holds at most
//! [`JOURNAL_CAP`] starts and ends (past that, the catch-up stops there).
//! Whatever a plugin never sees — lines pushed out of the rings before it
//! was ready, or beyond the bounds — is counted in a `plugin.skipped`
//! event. Afterwards its idea of which processes run is brought in line
//! with the truth (starts and ends it missed are replayed).

use std::collections::VecDeque;

use super::Reactor;
use crate::events::{Event, now_ms};
use crate::plugins::{Life, Pipe};
use crate::store::Stream;

/// Lines one plugin may catch up on, at most.
pub(super) const MAX_LINES: u64 = 100_000;
/// Lines per catch-up batch (one per reactor turn).
const BATCH_LINES: usize = 1024;
/// Bytes per catch-up batch.
const BATCH_BYTES: usize = 256 * 1024;
/// Process starts and ends kept for plugins that are not ready yet.
pub(super) const JOURNAL_CAP: usize = 4096;

/// The starts and ends of processes since the session began, kept while a
/// plugin is compiling or catching up.
#[derive(Debug, Default)]
pub(super) struct Journal {
    /// (number, seq, what): a start at the seq of its `process.started`, an
    /// end at the last seq before its `process.exited` (after its lines).
    entries: VecDeque<(u64, u64, Life)>,
    next_n: u64,
    /// Full: nothing was recorded from this number on.
    full_at: Option<u64>,
}

impl Journal {
    pub(super) fn record(&mut self, seq: u64, life: Life) {
        if self.full_at.is_some() {
            return;
        }
        if self.entries.len() >= JOURNAL_CAP {
            self.full_at = Some(self.next_n);
            return;
        }
        self.entries.push_back((self.next_n, seq, life));
        self.next_n += 1;
    }

    fn get(&self, n: u64) -> Option<&(u64, u64, Life)> {
        let first = self.entries.front()?.0;
        self.entries.get(n.checked_sub(first)? as usize)
    }

    pub(super) fn clear(&mut self) {
        *self = Journal::default();
    }
}

/// One plugin catching up.
#[derive(Debug)]
pub(super) struct CatchUp {
    plugin: String,
    /// Lines from this seq on are still to be given.
    next_seq: u64,
    /// Journal entries from this number on are still to be given.
    next_n: u64,
    /// The processes it was told run.
    told_running: Vec<bool>,
    /// Lines looked at per process (given, or not wanted by pipe).
    looked: Vec<u64>,
    given: u64,
}

impl CatchUp {
    pub(super) fn new(plugin: String) -> CatchUp {
        CatchUp { plugin, next_seq: 1, next_n: 0, told_running: Vec::new(), looked: Vec::new(), given: 0 }
    }

    pub(super) fn plugin(&self) -> &str {
        &self.plugin
    }
}

/// Why a catch-up ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    CaughtUp,
    Limit,
    Failed,
}

impl Reactor {
    /// Records a process start or end while some plugin may need it later.
    pub(super) fn journal(&mut self, seq: u64, life: Life) {
        let needed = !self.loading.catchups.is_empty() || self.host.as_ref().is_some_and(|h| !h.pending().is_empty());
        if needed {
            self.loading.journal.record(seq, life);
        }
    }

    /// Whether a plugin is catching up (the loop then does not sleep).
    pub(super) fn catching_up(&self) -> bool {
        !self.loading.catchups.is_empty()
    }

    /// One step of the first plugin catching up: the starts and ends due,
    /// then one batch of lines. Called once per turn, after the turn's own
    /// batch went out.
    pub(super) fn catch_up_step(&mut self) {
        if self.loading.catchups.is_empty() {
            return;
        }
        self.flush_batch();
        let Some(host) = self.host.as_mut() else {
            self.loading.catchups.clear();
            return;
        };
        let mut c = self.loading.catchups.remove(0);
        let Some(i) = host.catching_up(&c.plugin) else {
            // it failed while catching up (and restarts as any plugin does)
            self.end_catch_up(c, End::Failed);
            return;
        };
        let n_procs = self.procs.len();
        c.told_running.resize(n_procs, false);
        c.looked.resize(n_procs, 0);
        let wants: Vec<bool> = (0..n_procs).map(|p| host.wants_process(i, p as u32)).collect();
        let now = now_ms();
        // the next line still to give, over every process it wants
        let next_line = |c: &CatchUp, procs: &[super::Proc]| -> Option<u64> {
            let mut best: Option<u64> = None;
            for (p, proc_) in procs.iter().enumerate() {
                if !wants[p] {
                    continue;
                }
                let ring = &proc_.capture.ring;
                let pos = ring.position_before(c.next_seq);
                ring.for_each_range(pos, pos + 1, |rec, _| {
                    best = Some(best.map_or(rec.seq, |b: u64| b.min(rec.seq)));
                    false
                });
            }
            best
        };
        // starts and ends that come before the next line
        let mut calls = 0;
        loop {
            if self.loading.journal.full_at == Some(c.next_n) {
                self.after_plugins();
                self.end_catch_up(c, End::Limit);
                return;
            }
            let Some(&(n, seq, ref life)) = self.loading.journal.get(c.next_n) else { break };
            let line = next_line(&c, &self.procs);
            if line.is_some_and(|l| l <= seq) || calls >= 64 {
                break;
            }
            let life = life.clone();
            c.next_n = n + 1;
            calls += 1;
            match life {
                Life::Started { process } => c.told_running[process as usize] = true,
                Life::Ended { process, .. } => c.told_running[process as usize] = false,
            }
            let Some(host) = self.host.as_mut() else { return };
            host.catch_up_life(i, &life, now, &mut self.found);
        }
        // lines, up to the next start or end (or the newest line)
        let upto = self.loading.journal.get(c.next_n).map_or(u64::MAX, |e| e.1);
        let Some(host) = self.host.as_mut() else { return };
        host.catch_up_clear();
        let mut bytes = 0;
        let mut pos: Vec<usize> = self.procs.iter().map(|p| p.capture.ring.position_before(c.next_seq)).collect();
        while host.catch_up_len() < BATCH_LINES && bytes < BATCH_BYTES && c.given < MAX_LINES {
            // the process whose next line is the oldest
            let mut pick: Option<(u64, usize)> = None;
            for (p, proc_) in self.procs.iter().enumerate() {
                if !wants[p] {
                    continue;
                }
                proc_.capture.ring.for_each_range(pos[p], pos[p] + 1, |rec, _| {
                    if rec.seq <= upto && pick.is_none_or(|(s, _)| rec.seq < s) {
                        pick = Some((rec.seq, p));
                    }
                    false
                });
            }
            let Some((seq, p)) = pick else { break };
            self.procs[p].capture.ring.for_each_range(pos[p], pos[p] + 1, |rec, line| {
                let pipe = if rec.stream == Stream::Stderr { Pipe::Stderr } else { Pipe::Stdout };
                if host.catch_up_push(i, p as u32, pipe, rec.seq, rec.ts_ms, rec.truncated, line) {
                    bytes += line.len();
                    c.given += 1;
                }
                false
            });
            pos[p] += 1;
            c.looked[p] += 1;
            c.next_seq = seq + 1;
        }
        host.catch_up_batch(i, now, &mut self.found);
        self.after_plugins();
        let more_lines = next_line(&c, &self.procs).is_some();
        let more_life = self.loading.journal.get(c.next_n).is_some();
        if c.given >= MAX_LINES && more_lines {
            self.end_catch_up(c, End::Limit);
        } else if !more_lines && !more_life {
            self.end_catch_up(c, End::CaughtUp);
        } else {
            self.loading.catchups.push(c);
        }
    }

    /// Ends a catch-up: what the plugin never saw is counted, its idea of
    /// which processes run is corrected, and it joins the live batches.
    fn end_catch_up(&mut self, c: CatchUp, why: End) {
        let Some(host) = self.host.as_mut() else { return };
        let now = now_ms();
        let i = host.catching_up(&c.plugin);
        let mut missed = 0;
        for (p, proc_) in self.procs.iter().enumerate() {
            let wanted = i.is_none_or(|i| host.wants_process(i, p as u32));
            if wanted {
                missed += proc_.capture.lines.saturating_sub(c.looked.get(p).copied().unwrap_or(0));
            }
        }
        if let Some(i) = i {
            for p in 0..self.procs.len() {
                let told = c.told_running.get(p).copied().unwrap_or(false);
                let runs = host.is_running(p as u32);
                let life = match (told, runs) {
                    (false, true) => Life::Started { process: p as u32 },
                    (true, false) => Life::Ended { process: p as u32, code: None, signal: None, now_ms: now },
                    _ => continue,
                };
                host.catch_up_life(i, &life, now, &mut self.found);
            }
            host.catch_up_done(i);
        }
        if missed > 0 {
            let reason = match why {
                End::Failed => "failed",
                End::Limit => "catch_up_limit",
                End::CaughtUp => "ring_evicted",
            };
            self.em.publish(&Event::PluginSkipped { plugin: &c.plugin, count: missed, given: c.given, reason });
        }
        self.after_plugins();
        self.forget_journal_if_done();
    }

    /// No plugin compiling or catching up: the journal is not needed.
    pub(super) fn forget_journal_if_done(&mut self) {
        let pending = self.host.as_ref().is_some_and(|h| !h.pending().is_empty());
        if self.loading.catchups.is_empty() && !pending {
            self.loading.journal.clear();
        }
    }
}
