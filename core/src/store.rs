//! The ring store: recent output of one process, bounded in bytes.
//!
//! Leaf module: depends on `ringbuf` and `memchr` only. Each process owns one
//! [`Ring`]: a byte ring holding line contents back to back and an index ring
//! of fixed-size records (seq, time, stream, length). Every line is charged
//! its length plus [`RECORD_COST`] against the budget; pushing a line evicts
//! the oldest lines until it fits, and evictions are counted. Pushing never
//! allocates: both rings are allocated once (untouched pages cost no RSS).

use memchr::memmem;
use ringbuf::LocalRb;
use ringbuf::storage::Heap;
use ringbuf::traits::{Consumer, Observer, Producer};

/// Budget charged per line on top of its bytes, so that many tiny lines are
/// bounded too.
pub const RECORD_COST: usize = 32;

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Index entry for one stored line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    /// Milliseconds since the Unix epoch when the line was read.
    pub ts_ms: i64,
    pub stream: Stream,
    /// The line was cut at the maximum length and continues in the next one.
    pub truncated: bool,
    pub len: u32,
    /// Absolute offset of the first byte in the byte ring's history.
    start: u64,
}

/// Totals since the ring was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingStats {
    pub pushed_lines: u64,
    pub evicted_lines: u64,
    pub evicted_bytes: u64,
}

/// Per-process bounded line store.
pub struct Ring {
    bytes: LocalRb<Heap<u8>>,
    index: LocalRb<Heap<Record>>,
    budget: usize,
    used: usize,
    /// Absolute offset of the oldest byte still held.
    head: u64,
    /// Absolute offset one past the newest byte.
    tail: u64,
    stats: RingStats,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("budget", &self.budget)
            .field("used", &self.used)
            .field("lines", &self.index.occupied_len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Ring {
    /// A ring holding at most `budget` bytes (line bytes plus
    /// [`RECORD_COST`] per line). Lines longer than the budget are stored
    /// cut to fit (callers keep lines far shorter via the splitter's cap).
    pub fn new(budget: usize) -> Self {
        let budget = budget.max(RECORD_COST * 4);
        Ring {
            bytes: LocalRb::new(budget),
            // lines shorter than RECORD_COST are evicted by count sooner;
            // a smaller index keeps the ring near 1.5x its budget in memory
            index: LocalRb::new((budget / (2 * RECORD_COST)).max(64)),
            budget,
            used: 0,
            head: 0,
            tail: 0,
            stats: RingStats::default(),
            scratch: Vec::new(),
        }
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Bytes charged right now (line bytes plus record cost).
    pub fn used(&self) -> usize {
        self.used
    }

    pub fn len(&self) -> usize {
        self.index.occupied_len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn stats(&self) -> RingStats {
        self.stats
    }

    /// Stores one line; returns how many old lines were evicted for it.
    pub fn push(&mut self, seq: u64, ts_ms: i64, stream: Stream, truncated: bool, line: &[u8]) -> u32 {
        let line = &line[..line.len().min(self.budget - RECORD_COST)];
        let cost = line.len() + RECORD_COST;
        let mut evicted = 0u32;
        while self.used + cost > self.budget || self.index.is_full() {
            if !self.evict_one() {
                break;
            }
            evicted += 1;
        }
        let record = Record { seq, ts_ms, stream, truncated, len: line.len() as u32, start: self.tail };
        let pushed = self.bytes.push_slice(line);
        debug_assert_eq!(pushed, line.len());
        let _ = self.index.try_push(record);
        self.tail += line.len() as u64;
        self.used += cost;
        self.stats.pushed_lines += 1;
        evicted
    }

    fn evict_one(&mut self) -> bool {
        let Some(old) = self.index.try_pop() else {
            return false;
        };
        let n = old.len as usize;
        self.bytes.skip(n);
        self.head += n as u64;
        self.used -= n + RECORD_COST;
        self.stats.evicted_lines += 1;
        self.stats.evicted_bytes += n as u64;
        true
    }

    /// Oldest seq still held.
    pub fn first_seq(&self) -> Option<u64> {
        self.index.first().map(|r| r.seq)
    }

    /// Calls `f` for every stored line from oldest to newest, with `from`
    /// skipping the oldest lines. Stops when `f` returns false.
    pub fn for_each(&mut self, mut f: impl FnMut(&Record, &[u8]) -> bool) {
        let (a, b) = self.bytes.as_slices();
        let (ia, ib) = self.index.as_slices();
        for rec in ia.iter().chain(ib.iter()) {
            let rel = (rec.start - self.head) as usize;
            let len = rec.len as usize;
            let bytes: &[u8] = if rel + len <= a.len() {
                &a[rel..rel + len]
            } else if rel >= a.len() {
                &b[rel - a.len()..rel - a.len() + len]
            } else {
                self.scratch.clear();
                self.scratch.extend_from_slice(&a[rel..]);
                self.scratch.extend_from_slice(&b[..len - (a.len() - rel)]);
                &self.scratch
            };
            if !f(rec, bytes) {
                break;
            }
        }
    }

    /// Stored lines containing `needle`, oldest first (at most `limit`, the
    /// newest ones when there are more). Returns matches and total count.
    pub fn search(&mut self, needle: &[u8], limit: usize) -> (Vec<(Record, Vec<u8>)>, usize) {
        let finder = memmem::Finder::new(needle);
        let mut found = std::collections::VecDeque::new();
        let mut total = 0usize;
        self.for_each(|rec, bytes| {
            if finder.find(bytes).is_some() {
                total += 1;
                if found.len() == limit {
                    found.pop_front();
                }
                if limit > 0 {
                    found.push_back((*rec, bytes.to_vec()));
                }
            }
            true
        });
        (found.into_iter().collect(), total)
    }

    /// Number of stored lines containing `needle` (no copies).
    pub fn count_matches(&mut self, needle: &[u8]) -> usize {
        let finder = memmem::Finder::new(needle);
        let mut n = 0;
        self.for_each(|_, bytes| {
            n += finder.find(bytes).is_some() as usize;
            true
        });
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(r: &mut Ring) -> Vec<(u64, Vec<u8>)> {
        let mut v = Vec::new();
        r.for_each(|rec, b| {
            v.push((rec.seq, b.to_vec()));
            true
        });
        v
    }

    #[test]
    fn evicts_oldest_to_stay_in_budget() {
        let mut r = Ring::new(RECORD_COST * 4 + 20);
        for i in 0..100u64 {
            let line = format!("line-{i:03}");
            r.push(i, 0, Stream::Stdout, false, line.as_bytes());
            assert!(r.used() <= r.budget());
        }
        let got = contents(&mut r);
        // 8 bytes + 32 per line = 40; budget 148 holds 3 lines
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (97, b"line-097".to_vec()));
        assert_eq!(got[2], (99, b"line-099".to_vec()));
        assert_eq!(r.stats().evicted_lines, 97);
        assert_eq!(r.stats().pushed_lines, 100);
    }

    #[test]
    fn lines_that_wrap_around_the_ring_read_back_whole() {
        let mut r = Ring::new(1000);
        let mut want = Vec::new();
        for i in 0..500u64 {
            let line = vec![b'a' + (i % 26) as u8; (i as usize * 7) % 90];
            r.push(i, i as i64, Stream::Stderr, false, &line);
            want.push((i, line));
            let held = contents(&mut r);
            let expect: Vec<_> = want[want.len() - held.len()..].to_vec();
            assert_eq!(held, expect);
        }
    }

    #[test]
    fn search_finds_across_eviction_boundaries() {
        let mut r = Ring::new(4096);
        for i in 0..1000u64 {
            let line = if i % 10 == 0 { format!("{i} ERROR boom") } else { format!("{i} ok") };
            r.push(i, 0, Stream::Stdout, false, line.as_bytes());
        }
        let first = r.first_seq().expect("lines held");
        let (hits, total) = r.search(b"ERROR", 3);
        let expect_total = (first..1000).filter(|i| i % 10 == 0).count();
        assert_eq!(total, expect_total);
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[2].0.seq, 990);
        assert_eq!(hits[2].1, b"990 ERROR boom");
        assert_eq!(r.count_matches(b"ERROR"), expect_total);
    }

    #[test]
    fn oversized_line_is_cut_to_budget() {
        let mut r = Ring::new(256);
        r.push(1, 0, Stream::Stdout, false, &[b'x'; 1000]);
        assert!(r.used() <= 256);
        assert_eq!(contents(&mut r)[0].1.len(), 256 - RECORD_COST);
    }
}
