//! The ring store: recent output of one process, bounded in bytes.
//!
//! Leaf module: depends on `memchr` only. Each process owns one [`Ring`]: a
//! byte buffer holding line contents back to back and an index of fixed-size
//! records (seq, time, stream, length, position). Every line is charged its
//! length plus [`RECORD_COST`] against the budget; pushing a line evicts the
//! oldest lines until it fits, and evictions are counted. Pushing never
//! allocates: the buffer and the index are allocated once (untouched pages
//! cost no RSS).
//!
//! A line is never split across the end of the buffer: one that does not fit
//! in the space left before the end starts again at offset 0 (the few bytes
//! skipped are charged to nobody, they just make the oldest lines go a little
//! sooner). So every stored line is one contiguous slice, a push is one
//! `memcpy` plus a record, and no step divides. This replaced `ringbuf`,
//! whose index arithmetic (a modulo per slice and per index move) cost 22 ns
//! per push, on the hot path twice per line (process ring and event
//! history); see BENCHMARKS.md.

use std::collections::VecDeque;

use memchr::memmem;

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
    /// Absolute offset of the first byte, counting the skipped ends of the
    /// buffer: the span held is `newest end - oldest start`, and the bytes
    /// are at `start % buffer length`.
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
    bytes: Box<[u8]>,
    index: VecDeque<Record>,
    /// Most records held at once (the index never grows past it).
    max_lines: usize,
    budget: usize,
    used: usize,
    /// Absolute offset one past the newest byte.
    tail: u64,
    /// Buffer position of `tail`.
    tail_at: usize,
    stats: RingStats,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("budget", &self.budget)
            .field("used", &self.used)
            .field("lines", &self.index.len())
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
        // lines shorter than RECORD_COST are evicted by count sooner; a
        // smaller index keeps the ring near 1.5x its budget in memory
        let max_lines = (budget / (2 * RECORD_COST)).max(64);
        Ring {
            bytes: vec![0u8; budget].into_boxed_slice(),
            index: VecDeque::with_capacity(max_lines),
            max_lines,
            budget,
            used: 0,
            tail: 0,
            tail_at: 0,
            stats: RingStats::default(),
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
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn stats(&self) -> RingStats {
        self.stats
    }

    /// Stores one line; returns how many old lines were evicted for it.
    #[inline]
    pub fn push(&mut self, seq: u64, ts_ms: i64, stream: Stream, truncated: bool, line: &[u8]) -> u32 {
        let line = &line[..line.len().min(self.budget - RECORD_COST)];
        let len = line.len();
        let cost = len + RECORD_COST;
        // where it goes: right after the newest line, or at the start of
        // the buffer when the end is too short (the rest of the end skipped)
        let (start, at) = if self.tail_at + len <= self.bytes.len() {
            (self.tail, self.tail_at)
        } else {
            (self.tail + (self.bytes.len() - self.tail_at) as u64, 0)
        };
        let end = start + len as u64;
        let mut evicted = 0u32;
        while let Some(old) = self.index.front() {
            let overlaps = end - old.start > self.bytes.len() as u64;
            if !overlaps && self.used + cost <= self.budget && self.index.len() < self.max_lines {
                break;
            }
            self.evict_front();
            evicted += 1;
        }
        self.bytes[at..at + len].copy_from_slice(line);
        self.index.push_back(Record { seq, ts_ms, stream, truncated, len: len as u32, start });
        self.tail = end;
        self.tail_at = at + len;
        self.used += cost;
        self.stats.pushed_lines += 1;
        evicted
    }

    fn evict_front(&mut self) {
        if let Some(old) = self.index.pop_front() {
            let n = old.len as usize;
            self.used -= n + RECORD_COST;
            self.stats.evicted_lines += 1;
            self.stats.evicted_bytes += n as u64;
        }
    }

    /// Oldest seq still held.
    pub fn first_seq(&self) -> Option<u64> {
        self.index.front().map(|r| r.seq)
    }

    /// Newest seq held.
    pub fn last_seq(&self) -> Option<u64> {
        self.index.back().map(|r| r.seq)
    }

    /// Calls `f` for every stored line from oldest to newest. Stops when
    /// `f` returns false.
    pub fn for_each(&self, f: impl FnMut(&Record, &[u8]) -> bool) {
        self.for_each_from(0, f);
    }

    /// Like [`Ring::for_each`] for the newest `n` lines (all if fewer are
    /// held).
    pub fn for_each_last(&self, n: usize, f: impl FnMut(&Record, &[u8]) -> bool) {
        self.for_each_from(self.index.len().saturating_sub(n), f);
    }

    /// How many held lines have a seq below `seq` (lines are held in seq
    /// order): the position to search back from.
    pub fn position_before(&self, seq: u64) -> usize {
        self.index.partition_point(|r| r.seq < seq)
    }

    /// Like [`Ring::for_each`] for the lines at positions `from..to` (0 is
    /// the oldest held), so a caller can scan in slices, newest first.
    pub fn for_each_range(&self, from: usize, to: usize, f: impl FnMut(&Record, &[u8]) -> bool) {
        let to = to.min(self.index.len());
        let mut f = f;
        let mut left = to.saturating_sub(from);
        self.for_each_from(from, |rec, bytes| {
            if left == 0 {
                return false;
            }
            left -= 1;
            f(rec, bytes)
        });
    }

    fn for_each_from(&self, from: usize, mut f: impl FnMut(&Record, &[u8]) -> bool) {
        let cap = self.bytes.len();
        // where the previous line ended (absolute, in the buffer): as in
        // `push`, the next one starts there if it fits before the end, else
        // at 0
        let mut prev: Option<(u64, usize)> = None;
        for rec in self.index.range(from..) {
            let len = rec.len as usize;
            let at = match prev {
                Some((end, end_at)) if rec.start == end && end_at + len <= cap => end_at,
                Some(_) => 0,
                None => (rec.start % cap as u64) as usize,
            };
            if !f(rec, &self.bytes[at..at + len]) {
                break;
            }
            prev = Some((rec.start + len as u64, at + len));
        }
    }

    /// Stored lines containing `needle`, oldest first (at most `limit`, the
    /// newest ones when there are more). Returns matches and total count.
    pub fn search(&self, needle: &[u8], limit: usize) -> (Vec<(Record, Vec<u8>)>, usize) {
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
    pub fn count_matches(&self, needle: &[u8]) -> usize {
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
    fn a_line_that_does_not_fit_before_the_end_starts_over_whole() {
        // 200-byte buffer, 60-byte lines: the fourth cannot fit in the 20
        // bytes left at the end, goes to offset 0, and evicts what it covers
        let mut r = Ring::new(200);
        for i in 0..4u64 {
            r.push(i, 0, Stream::Stdout, false, &[b'a' + i as u8; 60]);
        }
        let got = contents(&mut r);
        assert_eq!(got.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![2, 3]);
        assert!(got.iter().all(|(s, b)| b == &vec![b'a' + *s as u8; 60]));
        assert_eq!(r.stats().evicted_lines, 2);
        // empty lines and lines that exactly fill the end
        let mut r = Ring::new(128);
        for i in 0..50u64 {
            let len = [0usize, 32, 64, 96][i as usize % 4];
            r.push(i, 0, Stream::Stdout, false, &vec![b'x'; len]);
            assert!(r.used() <= r.budget());
            let held = contents(&mut r);
            assert_eq!(held.last().map(|(s, b)| (*s, b.len())), Some((i, len)));
        }
    }

    #[test]
    fn a_line_after_an_empty_one_at_the_very_end_reads_back() {
        let mut r = Ring::new(256);
        r.push(1, 0, Stream::Stdout, false, &[b'a'; 100]);
        r.push(2, 0, Stream::Stdout, false, &[b'b'; 156]); // ends exactly at the end
        r.push(3, 0, Stream::Stdout, false, b"");
        r.push(4, 0, Stream::Stdout, false, &[b'c'; 4]); // wraps to 0; 2 and 3 stay
        let got = contents(&mut r);
        assert_eq!(got.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(got[0].1, vec![b'b'; 156]);
        assert_eq!(got[2].1, vec![b'c'; 4]);
        assert_eq!(got.iter().find(|(s, _)| *s == 3).map(|(_, b)| b.len()), Some(0));
        let mut after = Vec::new();
        r.for_each_last(1, |rec, b| {
            after.push((rec.seq, b.to_vec()));
            true
        });
        assert_eq!(after, vec![(4, vec![b'c'; 4])]);
    }

    #[test]
    fn for_each_last_walks_the_newest_lines() {
        let mut r = Ring::new(1 << 12);
        for i in (10..100u64).step_by(3) {
            r.push(i, 0, Stream::Stdout, false, format!("{i}").as_bytes());
        }
        let mut seen = Vec::new();
        r.for_each_last(3, |rec, b| {
            seen.push((rec.seq, b.to_vec()));
            true
        });
        assert_eq!(seen, vec![(91, b"91".to_vec()), (94, b"94".to_vec()), (97, b"97".to_vec())]);
        let mut all = 0;
        r.for_each_last(1000, |_, _| {
            all += 1;
            true
        });
        assert_eq!(all, r.len());
        r.for_each_last(0, |_, _| panic!("nothing asked for"));
    }

    #[test]
    fn the_index_bounds_how_many_tiny_lines_are_held() {
        let mut r = Ring::new(1 << 13);
        for i in 0..10_000u64 {
            r.push(i, 0, Stream::Stdout, false, b"");
        }
        assert_eq!(r.len(), (1 << 13) / (2 * RECORD_COST));
        assert_eq!(r.first_seq(), Some(10_000 - r.len() as u64));
    }

    #[test]
    fn oversized_line_is_cut_to_budget() {
        let mut r = Ring::new(256);
        r.push(1, 0, Stream::Stdout, false, &[b'x'; 1000]);
        assert!(r.used() <= 256);
        assert_eq!(contents(&mut r)[0].1.len(), 256 - RECORD_COST);
    }
}
