//! The deadline heap: what the reactor must do at a future instant. The
//! nearest deadline becomes the poll timeout; with no timers armed the
//! reactor sleeps until something happens. Timers are never cancelled:
//! each carries the generation of the process run it belongs to, and a
//! stale one is ignored when it fires.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    /// Stop timeout passed: SIGKILL the group.
    Kill { proc: usize, generation: u64 },
    /// The leader exited but its pipes are still held open: give up on them.
    Linger { proc: usize, generation: u64 },
    /// Backoff passed: start the process again.
    Restart { proc: usize, generation: u64 },
    /// Report ring evictions as `log.dropped`.
    EvictReport,
    /// Write the events held back since the last write (see
    /// `Reactor::flush_output`).
    FlushOutput,
    /// A plugin asked to be ticked after a quiet period.
    PluginTick,
    /// Look for idle and unread control clients.
    ClientSweep,
    /// Time out the proxies' idle and slow connections.
    ProxySweep,
    /// A source map fetch, or an error waiting for its map, is due.
    ProxyMaps,
    /// A restarted run has been up for the grace period.
    Healthy { proc: usize, generation: u64 },
    /// A readiness or health probe's try, deadline or timeout.
    Probe { proc: usize, generation: u64, attempt: u64, what: super::probes::ProbeTimer },
}

#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64, TimerKind)>>,
    serial: u64,
}

impl Timers {
    pub fn arm(&mut self, at: Instant, kind: TimerKind) {
        self.serial += 1;
        self.heap.push(Reverse((at, self.serial, kind)));
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The next timer due at `now`, earliest first.
    pub fn pop_due(&mut self, now: Instant) -> Option<TimerKind> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse((_, _, k))| k),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fires_in_deadline_order() {
        let mut t = Timers::default();
        let now = Instant::now();
        t.arm(now + Duration::from_millis(30), TimerKind::EvictReport);
        t.arm(now + Duration::from_millis(10), TimerKind::Kill { proc: 1, generation: 1 });
        t.arm(now + Duration::from_millis(20), TimerKind::Restart { proc: 2, generation: 1 });
        assert_eq!(t.next_deadline(), Some(now + Duration::from_millis(10)));
        assert_eq!(t.pop_due(now), None);
        let later = now + Duration::from_millis(25);
        assert_eq!(t.pop_due(later), Some(TimerKind::Kill { proc: 1, generation: 1 }));
        assert_eq!(t.pop_due(later), Some(TimerKind::Restart { proc: 2, generation: 1 }));
        assert_eq!(t.pop_due(later), None);
    }
}
