//! The recent requests through the proxies, for `brum requests` and MCP's
//! `list_requests`: a bounded ring of fixed-size records (the oldest
//! overwritten), so recording a request allocates nothing.
//!
//! Leaf: no I/O.

use std::collections::VecDeque;

/// Requests remembered.
pub const CAPACITY: usize = 1000;
/// Bytes of a request's path kept (longer ones are cut, and say so).
pub const PATH_BYTES: usize = 200;
const METHOD_BYTES: usize = 16;

/// One request as it ended.
#[derive(Debug, Clone, Copy)]
pub struct Record {
    /// Seq of its `proxy.request` event.
    pub seq: u64,
    pub ts_ms: i64,
    pub process: usize,
    pub status: u16,
    pub upgrade: bool,
    pub duration_us: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// What went wrong when brum answered or cut the response.
    pub error: Option<&'static str>,
    method: [u8; METHOD_BYTES],
    method_len: u8,
    path: [u8; PATH_BYTES],
    path_len: u8,
    path_cut: bool,
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    &s[..s.floor_char_boundary(max)]
}

impl Record {
    #[allow(clippy::too_many_arguments)]
    pub fn new(process: usize, method: &str, path: &str, status: u16) -> Self {
        let mut r = Record {
            seq: 0,
            ts_ms: 0,
            process,
            status,
            upgrade: false,
            duration_us: 0,
            bytes_in: 0,
            bytes_out: 0,
            error: None,
            method: [0; METHOD_BYTES],
            method_len: 0,
            path: [0; PATH_BYTES],
            path_len: 0,
            path_cut: path.len() > PATH_BYTES,
        };
        let m = cut(method, METHOD_BYTES);
        r.method[..m.len()].copy_from_slice(m.as_bytes());
        r.method_len = m.len() as u8;
        let p = cut(path, PATH_BYTES.min(u8::MAX as usize));
        r.path[..p.len()].copy_from_slice(p.as_bytes());
        r.path_len = p.len() as u8;
        r
    }

    pub fn method(&self) -> &str {
        std::str::from_utf8(&self.method[..self.method_len as usize]).unwrap_or("?")
    }

    pub fn path(&self) -> &str {
        std::str::from_utf8(&self.path[..self.path_len as usize]).unwrap_or("?")
    }

    /// The path was longer than what is kept.
    pub fn path_cut(&self) -> bool {
        self.path_cut
    }
}

/// The ring of recent requests.
#[derive(Debug, Default)]
pub struct History {
    ring: VecDeque<Record>,
    /// Requests recorded since the start (those before the ring's oldest
    /// were overwritten).
    pub total: u64,
}

impl History {
    pub fn push(&mut self, r: Record) {
        if self.ring.capacity() == 0 {
            self.ring.reserve_exact(CAPACITY);
        }
        if self.ring.len() == CAPACITY {
            self.ring.pop_front();
        }
        self.ring.push_back(r);
        self.total += 1;
    }

    /// Recorded requests, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Record> {
        self.ring.iter().rev()
    }
}

/// Which statuses to show: codes (`404`), classes (`5xx`) and ranges
/// (`400-499`), comma-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFilter(Vec<(u16, u16)>);

impl StatusFilter {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |part: &str| {
            format!(
                "status filter \"{part}\": expected a code (404), a class (5xx) or a range (400-499), comma-separated"
            )
        };
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim) {
            let lower = part.to_ascii_lowercase();
            let range = if let Some(class) = lower.strip_suffix("xx") {
                let d: u16 = class.parse().map_err(|_| bad(part))?;
                if !(1..=5).contains(&d) || class.len() != 1 {
                    return Err(bad(part));
                }
                (d * 100, d * 100 + 99)
            } else if let Some((a, b)) = lower.split_once('-') {
                let (a, b): (u16, u16) =
                    (a.trim().parse().map_err(|_| bad(part))?, b.trim().parse().map_err(|_| bad(part))?);
                if a > b {
                    return Err(bad(part));
                }
                (a, b)
            } else {
                let c: u16 = lower.parse().map_err(|_| bad(part))?;
                (c, c)
            };
            ranges.push(range);
        }
        Ok(StatusFilter(ranges))
    }

    pub fn matches(&self, status: u16) -> bool {
        self.0.iter().any(|&(a, b)| (a..=b).contains(&status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_and_counts_all() {
        let mut h = History::default();
        for i in 0..CAPACITY + 5 {
            let mut r = Record::new(0, "GET", &format!("/{i}"), 200);
            r.seq = i as u64;
            h.push(r);
        }
        assert_eq!(h.total, (CAPACITY + 5) as u64);
        let seqs: Vec<u64> = h.newest_first().map(|r| r.seq).collect();
        assert_eq!(seqs.len(), CAPACITY);
        assert_eq!((seqs[0], seqs[CAPACITY - 1]), ((CAPACITY + 4) as u64, 5));
    }

    #[test]
    fn long_paths_are_cut_at_a_character_boundary() {
        let path = format!("/{}", "é".repeat(300));
        let r = Record::new(0, "VERYLONGMETHODNAMEXX", &path, 200);
        assert!(r.path_cut() && r.path().len() <= PATH_BYTES && path.starts_with(r.path()));
        assert_eq!(r.method(), "VERYLONGMETHODNA");
    }

    #[test]
    fn status_filters() {
        let f = StatusFilter::parse("404, 5xx,300-302").expect("valid");
        assert!(f.matches(404) && f.matches(503) && f.matches(301));
        assert!(!f.matches(200) && !f.matches(405) && !f.matches(303));
        for bad in ["", "abc", "6xx", "55xx", "500-400", "4x"] {
            assert!(StatusFilter::parse(bad).is_err(), "{bad}");
        }
    }
}
