//! go test: `--- FAIL: TestX` and the log lines of the failing test (with
//! `-v` they come before it, under `=== RUN`), a test's panic, the race
//! detector's report, the per-package `ok` / `FAIL` lines with counts.

use crate::blocks::StreamState;
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Finding, Kind, Severity};

impl StreamState {
    /// `--- FAIL: TestX (0.00s)`: a finding once a `x_test.go:N: msg` log
    /// line follows (a panic or a bare `t.Fail()` has no such line).
    pub(crate) fn start_go_fail(&mut self, tw: &[u8], ind: usize, seq: u64, ts: i64) {
        let Some(name) = go_fail_name(tw) else { return };
        let mut r = Rec::new(Mode::GoTest, Kind::Error, Severity::Error, String::new(), seq, ts);
        r.confirmed = false;
        r.language = Some("go");
        r.test = Some(lossy(name));
        r.indent = ind;
        self.open(r);
    }

    pub(crate) fn count_go(&mut self, t: &[u8]) {
        if starts(t, b"--- PASS: ") {
            self.go_counts[0] += 1;
        } else if starts(t, b"--- FAIL: ") {
            self.go_counts[1] += 1;
        } else if starts(t, b"--- SKIP: ") {
            self.go_counts[2] += 1;
        }
    }

    pub(crate) fn emit_go(&mut self, pid: u32, t: &[u8], ok: bool, seq: u64, out: &mut Vec<Finding>) {
        let mut parts = t.split(|b| *b == b'\t' || *b == b' ').filter(|p| !p.is_empty());
        parts.next();
        let Some(pkg) = parts.next() else { return };
        let mut c = std::mem::take(&mut self.go_counts);
        if !ok && c[1] == 0 {
            c[1] = 1;
        }
        let mut f = test_finding(pid, "go", trim(t), seq, c);
        f.fields.push(("package".into(), lossy(pkg)));
        if let Some(d) = parts.next().and_then(parse_duration_ms) {
            f.fields.push(("duration_ms".into(), d.to_string()));
        }
        f.language = Some("go".into());
        out.push(f);
    }

    /// Go's race detector `WARNING: DATA RACE` (between `=====` rules), then
    /// the test it failed: `--- FAIL: TestX` + `testing.go:N: race detected`
    pub(crate) fn start_go_race(&mut self, t: &[u8], seq: u64, ts: i64) {
        let mut r = Rec::new(Mode::GoRace, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
        r.language = Some("go");
        if self.rule_seq + 1 == seq {
            r.first_seq = self.rule_seq;
        }
        self.open(r);
    }
}

/// `--- FAIL: TestX/sub (0.00s)` → `TestX/sub`
pub(crate) fn go_fail_name(tw: &[u8]) -> Option<&[u8]> {
    let rest = tw.strip_prefix(b"--- FAIL: ")?;
    let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

pub(crate) fn cont_go_test(r: &mut Rec, _t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if r.stage == 9 {
        return Reject;
    }
    if r.stage == 1 {
        // go test -v: log lines of the running test (`=== RUN`), then its
        // result; other tests' results may come first (a parent's FAIL,
        // its passing subtests)
        let (i, rest) = if let Some(x) = tw.strip_prefix(b"--- FAIL: ") {
            (1, x)
        } else if let Some(x) = tw.strip_prefix(b"--- PASS: ") {
            (0, x)
        } else if let Some(x) = tw.strip_prefix(b"--- SKIP: ") {
            (2, x)
        } else {
            return if ws && !starts(tw, b"=== ") { Accept } else { Reject };
        };
        r.counts[i] += 1;
        let name = &rest[..memchr::memchr(b' ', rest).unwrap_or(rest.len())];
        if r.test.as_deref().map(str::as_bytes) == Some(name) {
            r.confirmed = i == 1;
            r.stage = 9;
        }
        return Accept;
    }
    if let Some(name) = go_fail_name(tw) {
        // a parent without logs of its own takes the name of its failing subtest
        if r.test.is_none() || r.file.is_none() {
            r.test = Some(lossy(name));
            r.counts[1] += 1;
            return Accept;
        }
        return Reject;
    }
    if r.file.is_none() && starts(tw, b"panic: ") {
        // the failing test panicked: its goroutine dump follows
        r.mode = Mode::GoPanic;
        r.message = lossy(trim(tw));
        r.confirmed = true;
        return Accept;
    }
    if !ws || starts(tw, b"--- ") || starts(tw, b"=== ") {
        return Reject;
    }
    if r.file.is_none()
        && let Some(loc) = parse_loc(tw)
        && loc.path.ends_with(b".go")
        && !loc.rest.is_empty()
    {
        r.message = lossy(trim(loc.rest));
        r.set_loc(loc.path, loc.line, loc.col);
        r.confirmed = true;
    }
    Accept
}

pub(crate) fn cont_go_race(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    match r.stage {
        0 => {
            if t.len() >= 10 && t.iter().all(|b| *b == b'=') {
                r.stage = 1;
            } else if ws && r.file.is_none() && !contains(tw, b"/src/runtime/") && !contains(tw, b"/src/testing/") {
                let end = find(tw, b" +0x").unwrap_or(tw.len());
                if let Some((p, l, c)) = loc_from_end(&tw[..end])
                    && language_of(p) == Some("go")
                {
                    r.set_loc(p, l, c);
                }
            }
            Accept
        }
        1 => match go_fail_name(t) {
            Some(name) => {
                r.test = Some(lossy(name));
                r.counts[1] += 1;
                r.stage = 2;
                Accept
            }
            None => Reject,
        },
        _ => {
            if ws && r.stage == 2 {
                r.stage = 3;
                Accept
            } else {
                Reject
            }
        }
    }
}
