//! Test runners: jest, mocha, vitest, node --test (TAP and spec), go test,
//! pytest, cargo test: per-test failure records and run summaries.

use crate::blocks::StreamState;
use crate::frames::*;
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Kind, Severity};

/// A test's time at the end of its line: `keeps the rest (1.869638ms)`.
pub(crate) fn ends_with_duration(t: &[u8]) -> bool {
    t.ends_with(b"ms)") && memchr::memrchr(b'(', t).is_some_and(|p| t.get(p + 1).is_some_and(u8::is_ascii_digit))
}

impl StreamState {
    /// node --test spec reporter `✖ keeps the rest (1.8ms)` at any depth: the
    /// failure's body is indented under it (a suite's line has none). A test
    /// named by a path (a file that failed to load) is located at that file.
    pub(crate) fn start_spec_fail(&mut self, tw: &[u8], ind: usize, seq: u64, ts: i64) {
        let name = trim(&tw["✖ ".len()..]);
        let name = trim(&name[..memchr::memrchr(b'(', name).unwrap_or(name.len())]);
        let mut r = Rec::new(Mode::Jest, Kind::Error, Severity::Error, String::new(), seq, ts);
        r.test = Some(lossy(name));
        r.framework = "node";
        r.indent = ind;
        r.confirmed = false;
        if (name.first() == Some(&b'/') || starts(name, b"./")) && has_extension(name) {
            r.file = Some(lossy(name));
            r.language = language_of(name);
        }
        self.open(r);
    }

    /// node --test spec reporter `ℹ tests 3` + `ℹ pass 1` ...
    pub(crate) fn start_spec_summary(&mut self, tw: &[u8], seq: u64, ts: i64) {
        let mut r = Rec::new(Mode::TestBlock, Kind::Test, Severity::Info, lossy(trim(tw)), seq, ts);
        r.framework = "node";
        self.open(r);
    }

    /// node --test TAP `not ok 3 - multiplies` (`# SKIP` / `# TODO` are not failures)
    pub(crate) fn start_tap(&mut self, tw: &[u8], ind: usize, seq: u64, ts: i64) {
        let rest = &tw[7..];
        let n = count_digits(rest);
        let name = trim(rest[n..].strip_prefix(b" - ").unwrap_or(&rest[n..]));
        if contains(name, b" # SKIP") || contains(name, b" # TODO") {
            return;
        }
        let mut r = Rec::new(Mode::Tap, Kind::Error, Severity::Error, String::new(), seq, ts);
        if self.subtest.0 + 1 == seq && self.subtest.1 == name {
            // `# Subtest: name` right before: the test's TAP block starts there
            r.first_seq = self.subtest.0;
        }
        r.test = Some(lossy(name));
        r.indent = ind;
        self.open(r);
    }

    /// node --test TAP `# Subtest: name` (at any depth): remembered for the
    /// `not ok` line that may follow it
    pub(crate) fn tap_subtest(&mut self, tw: &[u8], seq: u64) -> bool {
        let Some(name) = tw.strip_prefix(b"# Subtest: ") else { return false };
        self.subtest.0 = seq;
        self.subtest.1.clear();
        self.subtest.1.extend_from_slice(trim(name));
        true
    }

    /// pytest short summary `ERROR test_imp.py` / `ERROR test_x.py::test_a - msg`
    /// (collection and fixture errors, which have no `file:N: Error` line).
    pub(crate) fn start_pytest_error(&mut self, t: &[u8], seq: u64, ts: i64) -> bool {
        let rest = &t[6..];
        let tok_end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        let tok = &rest[..tok_end];
        let path = match find(tok, b"::") {
            Some(p) => &tok[..p],
            None => tok,
        };
        if !path.ends_with(b".py") {
            return false;
        }
        let msg = match self.pytest_e.take() {
            Some(e) => e,
            None => lossy(trim(rest)),
        };
        let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, msg, seq, ts);
        r.file = Some(lossy(path));
        r.language = Some("python");
        if let Some((f, l)) = self.pytest_loc.take()
            && f.as_bytes().ends_with(path)
        {
            r.line = Some(l);
        }
        self.open(r);
        true
    }
}

/// mocha failure header `1) title` (after the indentation)
pub(crate) fn mocha_header(tw: &[u8]) -> bool {
    let n = count_digits(tw);
    n > 0 && tw[n..].starts_with(b") ")
}

/// `'quoted'` → `quoted`
pub(crate) fn unquote(v: &[u8]) -> &[u8] {
    let v = trim(v);
    let quoted = |q| v.len() >= 2 && v[0] == q && v[v.len() - 1] == q;
    if quoted(b'\'') || quoted(b'"') { &v[1..v.len() - 1] } else { v }
}

pub(crate) fn cont_test_block(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if r.framework == "unittest" {
        if r.stage == 9 {
            return Reject;
        }
        // `Ran 3 tests in 0.001s`, blank, `OK` / `OK (skipped=1)` / `FAILED (failures=1, errors=1)`
        if starts(t, b"OK") || starts(t, b"FAILED") {
            let mut failed = 0;
            let mut skipped = 0;
            let mut i = 0;
            while let Some(p) = find(&t[i..], b"=") {
                let key_start = t[..i + p].iter().rposition(|b| !b.is_ascii_alphabetic()).map_or(0, |x| x + 1);
                let n = parse_num(&t[i + p + 1..]).map_or(0, |x| x.0);
                match &t[key_start..i + p] {
                    b"failures" | b"errors" => failed += n,
                    b"skipped" => skipped += n,
                    _ => {}
                }
                i += p + 1;
            }
            r.counts = [r.counts[0].saturating_sub(failed + skipped), failed, skipped];
            r.stage = 9;
            return Accept;
        }
        return Reject;
    }
    if r.framework == "bun" {
        if r.stage == 9 {
            return Reject;
        }
        if starts(t, b"Ran ") && contains(t, b" across ") {
            r.stage = 9;
            return Accept;
        }
        let Some((n, len)) = parse_num(tw).filter(|_| ws) else { return Reject };
        match &tw[len..] {
            b" fail" => r.counts[1] = n,
            b" skip" => r.counts[2] = n,
            // (unhandled errors between tests fail the run too)
            b" error" | b" errors" => r.counts[1] += n,
            b" todo" => {}
            w if starts(w, b" expect() call") => return Accept,
            _ => return Reject,
        }
        r.message.push_str(", ");
        r.message.push_str(&String::from_utf8_lossy(tw));
        return Accept;
    }
    if r.framework == "node" {
        // TAP `# pass 3`, spec reporter `ℹ pass 3`
        if let Some(body) = t.strip_prefix(b"# ").or_else(|| t.strip_prefix("ℹ ".as_bytes())) {
            let w = body.iter().take_while(|b| b.is_ascii_alphabetic() || **b == b'_').count();
            let key = &body[..w];
            let val = trim(&body[w..]);
            match key {
                b"pass" => r.counts[0] = parse_num(val).map_or(0, |x| x.0),
                b"fail" => r.counts[1] += parse_num(val).map_or(0, |x| x.0),
                b"cancelled" => r.counts[1] += parse_num(val).map_or(0, |x| x.0),
                b"skipped" => r.counts[2] += parse_num(val).map_or(0, |x| x.0),
                b"duration_ms" => {
                    let ms = val.iter().take_while(|b| b.is_ascii_digit()).count();
                    if ms > 0 {
                        r.fields.push(("duration_ms".into(), lossy(&val[..ms])));
                    }
                }
                b"tests" | b"suites" | b"todo" => {}
                _ => return Reject,
            }
            return Accept;
        }
        return Reject;
    }
    // mocha
    if ws && let Some((n, len)) = parse_num(tw) {
        let w = &tw[len..];
        if starts(w, b" failing") {
            r.counts[1] = n;
            return Accept;
        }
        if starts(w, b" pending") {
            r.counts[2] = n;
            return Accept;
        }
    }
    Reject
}

pub(crate) fn cont_jest(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if !ws || (t.len() - tw.len() == 2 && starts(tw, "● ".as_bytes())) {
        return Reject;
    }
    if r.framework == "node" {
        // node --test spec: the body is indented under its `✖ name` line
        if t.len() - tw.len() <= r.indent {
            return Reject;
        }
        r.confirmed = true;
    } else if t.len() - tw.len() < 2 {
        // less indented than the `  ● name` header: the run's own lines
        // (` › 1 snapshot failed.`)
        return Reject;
    }
    if starts(tw, b"at ") {
        if let Some((p, l, c)) = frame_loc(&tw[3..]) {
            test_frame(r, p, l, c);
        }
    } else if r.message.is_empty() {
        r.message = lossy(trim(tw));
    }
    Accept
}

pub(crate) fn cont_mocha(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    let ind = t.len() - tw.len();
    if ind == r.indent && mocha_header(tw) {
        return Reject;
    }
    if r.stage == 0 {
        // title lines: `       values` ... `         reads a string:`
        if !ws {
            return Reject;
        }
        let mut part = trim(tw);
        if let Some(x) = part.strip_suffix(b":") {
            part = x;
            r.stage = 1;
        }
        if let Some(name) = r.test.as_mut() {
            name.push(' ');
            name.push_str(&String::from_utf8_lossy(part));
        }
        return Accept;
    }
    if ws && starts(tw, b"at ") {
        r.frames += 1;
        if let Some((p, l, c)) = frame_loc(&tw[3..]) {
            test_frame(r, p, l, c);
        }
        return Accept;
    }
    // the error message may span unindented lines; frames end it
    if r.frames > 0 || r.lines > 60 {
        return Reject;
    }
    r.lines += 1;
    if r.message.is_empty() {
        r.message = lossy(trim(tw));
    }
    Accept
}

pub(crate) fn cont_vitest(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if starts(t, "⎯".as_bytes()) || starts(t, b" FAIL ") || starts(tw, b"Test Files ") || r.lines > 200 {
        return Reject;
    }
    r.lines += 1;
    if let Some(f) = tw.strip_prefix("❯ ".as_bytes()) {
        // ` ❯ Module.area src/geo.js:2:12` / ` ❯ sum.test.js:4:46`
        let f = trim(f);
        let f = memchr::memrchr(b' ', f).map_or(f, |p| &f[p + 1..]);
        if let Some((p, l, c)) = loc_from_end(f) {
            test_frame(r, p, l, c);
        }
    } else if r.message.is_empty() && !ws {
        r.message = lossy(trim(t));
        r.confirmed = true;
    }
    Accept
}

pub(crate) fn cont_tap(r: &mut Rec, t: &[u8], tw: &[u8], _ws: bool) -> Cont {
    use Cont::*;
    let ind = t.len() - tw.len();
    if ind <= r.indent || r.stage == 9 {
        return Reject;
    }
    if ind == r.indent + 2 {
        // YAML keys of the diagnostic block
        r.stage = 3;
        if tw == b"..." {
            r.stage = 9;
        } else if let Some(v) = tw.strip_prefix(b"location: ") {
            if let Some((p, l, c)) = loc_from_end(unquote(v))
                && r.fallback.is_none()
            {
                r.fallback = Some((lossy(p), l, c));
            }
        } else if starts(tw, b"failureType: 'subtestsFailed'") {
            // the parent of failing subtests: each subtest is a finding
            r.confirmed = false;
        } else if let Some(v) = tw.strip_prefix(b"error: ") {
            if starts(v, b"|") {
                r.stage = 1;
            } else {
                r.message = lossy(unquote(v));
            }
        } else if let Some(v) = tw.strip_prefix(b"name: ") {
            let name = unquote(v);
            if !r.message.is_empty() && !r.message.as_bytes().starts_with(name) {
                r.message = format!("{}: {}", lossy(name), r.message);
            }
        } else if starts(tw, b"stack: ") {
            r.stage = 2;
        }
        return Accept;
    }
    match r.stage {
        1 => {
            let v = trim(tw);
            if r.message.is_empty() {
                r.message = lossy(v);
            } else if r.lines == 0 {
                // `Expected values to be strictly equal:` + `4 !== 5`
                if r.message.ends_with(':') && !starts(v, b"+ actual") {
                    r.message.push(' ');
                    r.message.push_str(&String::from_utf8_lossy(v));
                }
                r.lines = 1;
            }
        }
        2 => {
            if let Some((p, l, c)) = frame_loc(tw) {
                test_frame(r, p, l, c);
            }
        }
        _ => {}
    }
    Accept
}

/// nextest `FAIL [   0.067s] (3/4) queue tests::pops_empty` and its
/// indented stdout / stderr: a finding once a panic is seen in it.
pub(crate) fn cont_nextest(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if !ws
        || starts(tw, "────".as_bytes())
        || ["Cancelling", "Summary [", "PASS [", "FAIL [", "SIGSEGV", "SIGABRT", "TIMEOUT", "Starting "]
            .iter()
            .any(|p| starts(tw, p.as_bytes()))
    {
        return Reject;
    }
    if r.stage == 1 {
        r.message = lossy(trim(tw));
        r.stage = 2;
    } else if starts(tw, b"thread '")
        && let Some(p) = find(tw, b" panicked at ")
    {
        let loc = trim(&tw[p + 13..]);
        if let Some((path, l, c)) = loc_from_end(loc.strip_suffix(b":").unwrap_or(loc)) {
            r.set_loc(path, l, c);
            r.language = Some("rust");
        }
        r.confirmed = true;
        r.stage = 1;
    }
    let _ = t;
    Accept
}

impl StreamState {
    /// Deno's ` ERRORS ` section: `mean of none => ./math.test.ts:6:8`
    pub(crate) fn start_deno(&mut self, t: &[u8], seq: u64, ts: i64) -> bool {
        if !is_deno_header(t) {
            return false;
        }
        let p = find(t, b" => ").unwrap_or(0);
        if self.deno_section == 1 {
            let mut r = Rec::new(Mode::Deno, Kind::Error, Severity::Error, String::new(), seq, ts);
            r.test = Some(lossy(&t[..p]));
            r.confirmed = false;
            self.open(r);
        }
        // (in ` FAILURES ` the same lines only list them again)
        true
    }

    /// Gradle `com.acme.EdgeTest > noCents FAILED` + `    java.lang.X at EdgeTest.java:10`
    pub(crate) fn start_gradle_test(&mut self, t: &[u8], seq: u64, ts: i64) -> bool {
        let Some(name) = t.strip_suffix(b" FAILED") else { return false };
        if find(name, b" > ").is_none() {
            return false;
        }
        let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, String::new(), seq, ts);
        r.test = Some(lossy(name));
        r.language = Some("java");
        r.cont_ws = true;
        r.confirmed = false;
        r.stage = 7;
        self.open(r);
        true
    }
}

pub(crate) fn cont_deno(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if (!ws && is_deno_header(t)) || t == b" FAILURES " {
        return Reject;
    }
    if r.message.is_empty()
        && let Some(m) = t.strip_prefix(b"error: ")
    {
        r.message = lossy(trim(m));
        r.confirmed = true;
    } else if ws
        && starts(tw, b"at ")
        && let Some((p, l, c)) = frame_loc(&tw[3..])
    {
        crate::frames::test_frame(r, p, l, c);
    }
    Accept
}

/// `mean of none => ./math.test.ts:6:8`
fn is_deno_header(t: &[u8]) -> bool {
    find(t, b" => ").is_some_and(|p| {
        let rhs = &t[p + 4..];
        parse_loc(rhs.strip_prefix(b"./").unwrap_or(rhs)).is_some_and(|l| l.rest.is_empty())
    })
}

impl StreamState {
    /// ExUnit `  1) test balance of one (LedgerTest)`: the test's file:line,
    /// the message, `stacktrace:` frames (the first in the project locates it)
    pub(crate) fn start_exunit(&mut self, tw: &[u8], seq: u64, ts: i64) {
        let n = count_digits(tw);
        let mut r = Rec::new(Mode::Script, Kind::Error, Severity::Error, String::new(), seq, ts);
        r.test = Some(lossy(trim(&tw[n + 2..])));
        r.language = Some("elixir");
        r.stage = 3;
        r.confirmed = false;
        self.open(r);
    }
}
