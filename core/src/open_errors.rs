//! The error lifecycle: which errors are open right now. A finding of kind
//! error or warning opens an error, identified by an `id`; the same error
//! again (same fingerprint, same process) while it is open bumps its
//! `count` instead of opening another. An error is resolved when its
//! process
//! - reports a clean re-check (a build or type check with no errors, a test
//!   run with no failures): all its open errors;
//! - ends a full report of a watcher (`report=full` on a build finding)
//!   that no longer contains it: the errors not reported again since the
//!   previous full report;
//! - has a later run that is healthy (exits 0, or stays up for a grace
//!   period, or passes its readiness probe): the errors of earlier runs;
//! - answers again through brum's proxy the request that failed (see
//!   `reactor/proxy`): that error ([`OpenErrors::resolve`]).
//!
//! Leaf-level logic: no I/O, no clock; the reactor feeds it what the
//! plugins found and publishes the `error.resolved` events it returns.

use std::collections::VecDeque;

/// Open errors tracked at once; past it the oldest open one is forgotten
/// (reported as resolved with reason `forgotten`).
const MAX_OPEN: usize = 10_000;
/// Resolved errors kept for `brum errors --all`.
const MAX_RESOLVED: usize = 1_000;

/// One error, open or resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: u64,
    pub process: usize,
    pub fingerprint: u64,
    /// A warning (not an error).
    pub warning: bool,
    /// The run of the process that reported it last.
    pub run: u32,
    pub count: u32,
    /// Seq of the last line of its latest occurrence.
    pub last_seq: u64,
    /// Its latest `error.detected` event, as JSON.
    pub json: Vec<u8>,
    /// Why it was resolved, once it is.
    pub resolved: Option<&'static str>,
}

/// An error that was just resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub id: u64,
    pub process: usize,
    pub fingerprint: u64,
    pub reason: &'static str,
}

/// Open errors and the recent history of resolved ones.
#[derive(Debug, Default)]
pub struct OpenErrors {
    open: Vec<Entry>,
    resolved: VecDeque<Entry>,
    next_id: u64,
}

impl OpenErrors {
    /// An error (or warning) was found: returns its id and how many times
    /// it has been seen while open.
    pub fn seen(&mut self, process: usize, fingerprint: u64, warning: bool, run: u32, last_seq: u64) -> (u64, u32) {
        if let Some(e) = self.open.iter_mut().find(|e| e.process == process && e.fingerprint == fingerprint) {
            e.count = e.count.saturating_add(1);
            e.run = run;
            e.last_seq = last_seq;
            return (e.id, e.count);
        }
        if self.open.len() >= MAX_OPEN {
            let old = self.open.remove(0);
            self.keep_resolved(old, "forgotten");
        }
        self.next_id += 1;
        let id = self.next_id;
        self.open.push(Entry {
            id,
            process,
            fingerprint,
            warning,
            run,
            count: 1,
            last_seq,
            json: Vec::new(),
            resolved: None,
        });
        (id, 1)
    }

    /// Keeps the latest `error.detected` JSON of open error `id`.
    pub fn set_json(&mut self, id: u64, json: &[u8]) {
        if let Some(e) = self.open.iter_mut().find(|e| e.id == id) {
            e.json.clear();
            e.json.extend_from_slice(json);
        }
    }

    fn keep_resolved(&mut self, mut e: Entry, reason: &'static str) {
        e.resolved = Some(reason);
        if self.resolved.len() == MAX_RESOLVED {
            self.resolved.pop_front();
        }
        self.resolved.push_back(e);
    }

    fn resolve_where(&mut self, reason: &'static str, pred: impl Fn(&Entry) -> bool) -> Vec<Resolved> {
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.open.len() {
            if pred(&self.open[i]) {
                let e = self.open.remove(i);
                done.push(Resolved { id: e.id, process: e.process, fingerprint: e.fingerprint, reason });
                self.keep_resolved(e, reason);
            } else {
                i += 1;
            }
        }
        done
    }

    /// Open error `id` is fixed (brum saw it work again), if it is open.
    pub fn resolve(&mut self, id: u64, reason: &'static str) -> Option<Resolved> {
        self.resolve_where(reason, |e| e.id == id).pop()
    }

    /// `process` reported a clean re-check: every open error of it is fixed.
    pub fn clean(&mut self, process: usize, reason: &'static str) -> Vec<Resolved> {
        self.resolve_where(reason, |e| e.process == process)
    }

    /// `process` ended a full report; the errors it did not report again
    /// after `since` (the end of its previous full report) are fixed.
    pub fn full_report(&mut self, process: usize, since: u64) -> Vec<Resolved> {
        self.resolve_where("not in the latest report", |e| e.process == process && e.last_seq <= since)
    }

    /// Run `run` of `process` is healthy: what earlier runs reported is
    /// over.
    pub fn healthy_run(&mut self, process: usize, run: u32, reason: &'static str) -> Vec<Resolved> {
        self.resolve_where(reason, |e| e.process == process && e.run < run)
    }

    /// Open errors (and warnings), oldest first.
    pub fn open(&self) -> impl Iterator<Item = &Entry> {
        self.open.iter()
    }

    /// Resolved errors still remembered, oldest first.
    pub fn resolved(&self) -> impl Iterator<Item = &Entry> {
        self.resolved.iter()
    }

    /// Errors (and warnings) of `process` resolved so far (those still
    /// remembered).
    pub fn resolved_count(&self, process: usize) -> u32 {
        self.resolved.iter().filter(|e| e.process == process).count() as u32
    }

    /// Open errors and open warnings of `process`.
    pub fn open_counts(&self, process: usize) -> (u32, u32) {
        self.open.iter().filter(|e| e.process == process).fold(
            (0, 0),
            |(e, w), x| {
                if x.warning { (e, w + 1) } else { (e + 1, w) }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_count_on_one_id_and_a_clean_check_resolves() {
        let mut b = OpenErrors::default();
        let (a, n) = b.seen(0, 11, false, 1, 5);
        assert_eq!(n, 1);
        assert_eq!(b.seen(0, 11, false, 1, 9), (a, 2), "the same error again: same id, count 2");
        let (other, _) = b.seen(1, 11, false, 1, 10);
        assert_ne!(other, a, "another process's error is another error");
        assert_eq!(b.open_counts(0), (1, 0));
        let done = b.clean(0, "rebuilt clean");
        assert_eq!(done, [Resolved { id: a, process: 0, fingerprint: 11, reason: "rebuilt clean" }]);
        assert_eq!(b.open_counts(0), (0, 0));
        assert_eq!(b.open().count(), 1, "process 1's error stays open");
        // the same error after the fix is a new error
        let (again, n) = b.seen(0, 11, false, 1, 20);
        assert!(again != a && n == 1);
        assert_eq!(b.resolved().map(|e| e.id).collect::<Vec<_>>(), [a]);
    }

    #[test]
    fn a_full_report_resolves_what_it_no_longer_contains() {
        let mut b = OpenErrors::default();
        let (x, _) = b.seen(0, 1, false, 1, 10);
        let (y, _) = b.seen(0, 2, false, 1, 11);
        // report 1 ended at seq 12; the next report repeats y only
        b.seen(0, 2, false, 1, 20);
        let done = b.full_report(0, 12);
        assert_eq!(done.iter().map(|r| r.id).collect::<Vec<_>>(), [x]);
        assert_eq!(b.open().map(|e| e.id).collect::<Vec<_>>(), [y]);
    }

    #[test]
    fn a_healthy_later_run_resolves_earlier_runs_only() {
        let mut b = OpenErrors::default();
        // a crash loop: the same crash in runs 1..3 is one error, last seen in run 3
        for run in 1..=3 {
            b.seen(0, 7, false, run, u64::from(run) * 10);
        }
        assert!(b.healthy_run(0, 3, "recovered").is_empty(), "run 3 crashed with it");
        let done = b.healthy_run(0, 4, "recovered");
        assert_eq!(done.len(), 1);
        assert_eq!(b.resolved().next().map(|e| e.count), Some(3));
    }
}
