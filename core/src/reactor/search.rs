//! `logs` searches over a process's ring, run a slice at a time so that no
//! search holds up the loop: each turn a search looks at lines for a few
//! milliseconds, newest first, and goes on in the next turn; it answers when
//! it has looked at every line that was held when it began. Lines that
//! arrive meanwhile are not searched (the answer is the ring as it was);
//! lines evicted before the search reached them are counted as `evicted`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::control::Logs;
use crate::events::json as jsonenc;
use crate::store::{Ring, Stream};

/// Lines searched between looks at the clock.
const SLICE: usize = 1024;
/// Text of lines in one answer, at most (the newest are kept).
const MAX_ANSWER: usize = 4 << 20;
/// Search time after which a search answers with what it found
/// (`truncated`): a pathological regex cannot keep a client waiting forever.
const MAX_TIME: Duration = Duration::from_secs(5);

/// One search under way.
#[derive(Debug)]
pub(super) struct Search {
    id: Value,
    process: usize,
    name: String,
    stream: Option<Stream>,
    since: Option<u64>,
    until: Option<u64>,
    finder: Option<memchr::memmem::Finder<'static>>,
    re: Option<regex::bytes::Regex>,
    n: usize,
    /// Lines below this seq are still to be searched (None: from the newest).
    before: Option<u64>,
    found: VecDeque<Value>,
    found_bytes: usize,
    total: usize,
    spent: Duration,
}

impl Search {
    /// Checks the request and sets the search up for process `process`.
    pub(super) fn start(id: Value, l: &Logs, process: usize) -> Result<Search, String> {
        let stream = match l.stream.as_deref() {
            None => None,
            Some("stdout") => Some(Stream::Stdout),
            Some("stderr") => Some(Stream::Stderr),
            Some(other) => return Err(format!("stream: expected stdout or stderr, found \"{other}\"")),
        };
        if l.grep.is_some() && l.regex.is_some() {
            return Err("give either grep or regex, not both".into());
        }
        let re = match &l.regex {
            Some(r) => Some(
                regex::bytes::RegexBuilder::new(r)
                    .size_limit(1 << 22)
                    .dfa_size_limit(1 << 22)
                    .build()
                    .map_err(|e| format!("regex: {e}"))?,
            ),
            None => None,
        };
        Ok(Search {
            id,
            process,
            name: l.process.clone(),
            stream,
            since: l.since,
            until: l.until,
            finder: l.grep.as_ref().map(|g| memchr::memmem::Finder::new(g.as_bytes()).into_owned()),
            re,
            n: l.n.unwrap_or(100).min(10_000),
            before: None,
            found: VecDeque::new(),
            found_bytes: 0,
            total: 0,
            spent: Duration::ZERO,
        })
    }

    pub(super) fn id(&self) -> &Value {
        &self.id
    }

    pub(super) fn process(&self) -> usize {
        self.process
    }

    /// Searches on for at most `budget`; returns the answer once done.
    pub(super) fn advance(&mut self, ring: &Ring, evicted: u64, budget: Duration) -> Option<Value> {
        let started = Instant::now();
        let mut slice: Vec<Value> = Vec::new();
        // at least one slice per call, however small the budget
        let mut scanned = false;
        loop {
            let to = match self.before {
                Some(seq) => ring.position_before(seq),
                None => {
                    // the newest line now is where this search begins
                    self.before = Some(ring.last_seq().map_or(0, |s| s + 1));
                    ring.len()
                }
            };
            if to == 0 {
                return Some(self.answer(evicted, None));
            }
            let spent = self.spent + started.elapsed();
            if spent >= MAX_TIME {
                return Some(self.answer(evicted, Some((ring, to))));
            }
            if scanned && started.elapsed() >= budget {
                self.spent = spent;
                return None;
            }
            scanned = true;
            let from = to.saturating_sub(SLICE);
            slice.clear();
            let mut first_seq = None;
            ring.for_each_range(from, to, |rec, bytes| {
                first_seq.get_or_insert(rec.seq);
                if self.matches(rec.stream, rec.seq, bytes) {
                    self.total += 1;
                    if self.n > 0 {
                        slice.push(line_json(rec.seq, rec.ts_ms, rec.stream, rec.truncated, bytes));
                    }
                }
                true
            });
            self.before = first_seq;
            // this slice is older than everything found so far
            for v in slice.drain(..).rev() {
                let size = v.get("text").or_else(|| v.get("bytes")).and_then(Value::as_str).map_or(0, str::len) + 64;
                if self.found.len() < self.n && self.found_bytes + size <= MAX_ANSWER {
                    self.found_bytes += size;
                    self.found.push_front(v);
                }
            }
        }
    }

    fn matches(&self, stream: Stream, seq: u64, bytes: &[u8]) -> bool {
        self.stream.is_none_or(|s| s == stream)
            && self.since.is_none_or(|s| seq > s)
            && self.until.is_none_or(|u| seq <= u)
            && self.finder.as_ref().is_none_or(|f| f.find(bytes).is_some())
            && self.re.as_ref().is_none_or(|r| r.is_match(bytes))
    }

    /// The answer; `cut` when it stopped at its time limit with lines left.
    fn answer(&mut self, evicted: u64, cut: Option<(&Ring, usize)>) -> Value {
        let lines: Vec<Value> = std::mem::take(&mut self.found).into();
        let shown = lines.len();
        let mut answer = json!({
            "process": self.name,
            "lines": lines,
            "total": self.total,
            "more": self.total - shown,
            "evicted": evicted,
        });
        if let Some((ring, left)) = cut {
            let mut oldest_searched = None;
            ring.for_each_range(left, left + 1, |rec, _| {
                oldest_searched = Some(rec.seq);
                false
            });
            answer["truncated"] = true.into();
            answer["searched_from_seq"] = oldest_searched.into();
            answer["not_searched"] = left.into();
        }
        answer
    }
}

fn line_json(seq: u64, ts_ms: i64, stream: Stream, truncated: bool, bytes: &[u8]) -> Value {
    let mut v = json!({ "seq": seq, "ts_ms": ts_ms, "stream": stream.as_str() });
    match std::str::from_utf8(bytes) {
        Ok(t) => v["text"] = t.into(),
        Err(_) => {
            let mut b64 = Vec::new();
            jsonenc::push_base64(&mut b64, bytes);
            v["bytes"] = String::from_utf8_lossy(&b64).into_owned().into();
        }
    }
    if truncated {
        v["truncated"] = true.into();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_of(n: u64) -> Ring {
        let mut r = Ring::new(1 << 20);
        for seq in 1..=n {
            r.push(seq, 0, Stream::Stdout, false, format!("line {seq}").as_bytes());
        }
        r
    }

    fn logs(grep: Option<&str>, n: usize) -> Logs {
        serde_json::from_value(json!({"process": "p", "grep": grep, "n": n})).expect("logs")
    }

    #[test]
    fn a_search_in_slices_finds_what_one_pass_finds_and_ignores_later_lines() {
        let mut ring = ring_of(5000);
        let mut s = Search::start(Value::Null, &logs(Some("7"), 3), 0).expect("valid");
        // no time at all per turn: one slice per call
        let mut turns = 0;
        let answer = loop {
            turns += 1;
            if let Some(a) = s.advance(&ring, 0, Duration::ZERO) {
                break a;
            }
            // lines arriving while it runs are not part of it
            ring.push(9000 + turns, 0, Stream::Stdout, false, b"line 7777777");
        };
        assert!(turns > 3, "it went on over several turns ({turns})");
        let expected = (1..=5000).filter(|i| i.to_string().contains('7')).count();
        assert_eq!(answer["total"], expected);
        let seqs: Vec<u64> =
            answer["lines"].as_array().expect("lines").iter().filter_map(|l| l["seq"].as_u64()).collect();
        let want: Vec<u64> = (1..=5000u64).filter(|i| i.to_string().contains('7')).collect();
        assert_eq!(seqs, want[want.len() - 3..], "the newest three, oldest first");
        assert_eq!(answer["more"], expected - 3);
        assert!(answer.get("truncated").is_none());
    }
}
