//! Which record an indented line starts when none is open: test runners'
//! per-test lines (jest `●`, vitest ` FAIL `, mocha `1)`, node --test `✖`,
//! nextest `FAIL [`), ESLint-style problem lines, cargo's `Finished`, go
//! test logs, Python warnings. Unindented lines are `dispatch`'s and `general`'s.

use crate::blocks::*;
use crate::families::{builds::*, bundlers::*, runners::*};
use crate::frames::py_frame;
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Finding, Kind, Severity};

impl StreamState {
    pub(crate) fn start_indented(&mut self, pid: u32, t: &[u8], seq: u64, ts: i64, out: &mut Vec<Finding>) {
        let tw = trim_start(t);
        if let Some(c) = self.ctx {
            // `                 from main.cpp:2:` continuation of "In file included from"
            if c.1 + 1 == seq && starts(tw, b"from ") {
                self.ctx = Some((c.0, seq));
                return;
            }
        }
        let Some(&c0) = tw.first() else { return };
        if let Some(p) = self.pre
            && p.1 + 1 == seq
            && crate::lookahead::is_caret(tw)
        {
            // the caret under a code frame's line
            self.pre = Some((p.0, seq));
            return;
        }
        if c0 == b'^' && self.shellcheck_line(pid, t, seq, out) {
            // ShellCheck's second marker under the same source line
            return;
        }
        if c0 == b'L' && self.eslint_next == seq && starts(tw, b"Line ") {
            if let Some(f) = cra_problem(pid, &self.eslint_file, tw, self.cra_failed, seq) {
                self.eslint_next = seq + 1;
                out.push(f);
            }
            return;
        }
        if c0 == 0xE2 && build_line(pid, tw, seq, out) {
            return;
        }
        if self.junit_failures && t.len() - tw.len() == 2 {
            return self.start_junit_failure(tw, seq, ts);
        }
        if t.len() - tw.len() == 2 && (c0 == b'/' || c0.is_ascii_alphabetic()) && self.start_py_warning(tw, seq, ts) {
            return;
        }
        match c0 {
            b'F' if starts(tw, b"File \"") && starts(t, b"  File \"") => {
                // Python SyntaxError printed without a Traceback header
                let mut r = Rec::new(Mode::PyTb, Kind::Error, Severity::Error, String::new(), seq, ts);
                r.language = Some("python");
                r.confirmed = false;
                py_frame(&mut r, tw);
                self.open(r);
            }
            b'F' if starts(tw, b"Failed test '") || starts(tw, b"Failed test at ") => self.start_test_more(tw, seq, ts),
            b'F' if starts(tw, b"Finished ") => {
                if let Some(p) = find(tw, b" target(s) in ") {
                    emit_build(pid, "cargo", true, parse_duration_ms(&tw[p + 14..]), t, seq, out);
                }
            }
            // (jest's coloured ` FAIL  path` has no `>` and no `[ path ]`)
            b'F' if starts(tw, b"FAIL  ")
                && t.len() - tw.len() == 1
                && (contains(tw, b" > ") || contains(tw, b" [ ")) =>
            {
                // vitest ` FAIL  sum.test.js > suite > test`
                let name = trim(&tw[6..]);
                let mut r = Rec::new(Mode::Vitest, Kind::Error, Severity::Error, String::new(), seq, ts);
                r.confirmed = false;
                if let Some(p) = find(name, b" > ") {
                    r.test = Some(lossy(&name[p + 3..]));
                } else {
                    // a suite that failed to load: ` FAIL  test/a.test.js [ test/a.test.js ]`
                    let file = &name[..memchr::memchr(b' ', name).unwrap_or(name.len())];
                    if has_extension(file) {
                        r.file = Some(lossy(file));
                    }
                }
                self.open(r);
            }
            b'T' if starts(tw, b"Tests ") && !self.in_frame => emit_test(pid, "vitest", t, seq, out),
            b'F' if starts(tw, b"FAIL [") => {
                let Some(p) = find(tw, b"] ") else { return };
                let mut name = trim(&tw[p + 2..]);
                if name.first() == Some(&b'(')
                    && let Some(q) = find(name, b") ")
                {
                    name = &name[q + 2..];
                }
                let mut r = Rec::new(Mode::Nextest, Kind::Error, Severity::Error, String::new(), seq, ts);
                r.confirmed = false;
                r.test = Some(lossy(name));
                self.open(r);
            }
            // nextest `     Summary [   0.008s] 2 tests run: 2 passed, 1 skipped`
            b'S' if starts(tw, b"Summary [") => {
                if let Some(p) = memchr::memchr(b']', tw) {
                    let mut f = Vec::new();
                    emit_test(pid, "nextest", &tw[p + 1..], seq, &mut f);
                    for mut x in f {
                        x.message = lossy(trim(tw));
                        out.push(x);
                    }
                }
            }
            b'-' if starts(tw, b"--- ") => {
                self.count_go(tw);
                self.start_go_fail(tw, t.len() - tw.len(), seq, ts);
            }
            b'n' if starts(tw, b"not ok ") => self.start_tap(tw, t.len() - tw.len(), seq, ts),
            b'#' if self.tap_subtest(tw, seq) => {}
            b'0'..=b'9' => {
                let ind = t.len() - tw.len();
                if ind == 2 && self.eslint_next == seq {
                    if let Some(f) = eslint_problem(pid, &self.eslint_file, tw, seq) {
                        self.eslint_next = seq + 1;
                        out.push(f);
                    }
                    return;
                }
                if ind == 2 && self.rspec_failures && mocha_header(tw) {
                    return self.start_rspec(tw, seq, ts);
                }
                if ind == 2 && mocha_header(tw) && starts(&tw[count_digits(tw) + 2..], b"test ") {
                    // ExUnit `  1) test balance of one (LedgerTest)`
                    return self.start_exunit(tw, seq, ts);
                }
                if ind == 2 && self.mocha_failing && mocha_header(tw) {
                    // `  1) suite` (title continues on following lines) or `  1) test:`
                    let n = count_digits(tw);
                    let mut title = trim(&tw[n + 2..]);
                    let mut r = Rec::new(Mode::Mocha, Kind::Error, Severity::Error, String::new(), seq, ts);
                    if let Some(x) = title.strip_suffix(b":") {
                        title = x;
                        r.stage = 1;
                    }
                    r.test = Some(lossy(title));
                    r.indent = ind;
                    self.open(r);
                    return;
                }
                if let Some((n, len)) = parse_num(tw)
                    && &tw[len..] == b" pass"
                {
                    // bun ` 1 pass` / ` 2 fail` / ` 2 expect() calls` / `Ran 3 tests across 1 file.`
                    let mut r = Rec::new(Mode::TestBlock, Kind::Test, Severity::Info, lossy(tw), seq, ts);
                    r.framework = "bun";
                    r.counts[0] = n;
                    self.open(r);
                    return;
                }
                if let Some((n, len)) = parse_num(tw)
                    && starts(&tw[len..], b" passing")
                {
                    self.mocha_failing = false;
                    let mut r = Rec::new(Mode::TestBlock, Kind::Test, Severity::Info, lossy(trim(t)), seq, ts);
                    r.framework = "mocha";
                    r.counts[0] = n;
                    self.open(r);
                }
            }
            0xE2 if starts(tw, "✓ built in ".as_bytes()) => {
                emit_build(pid, "vite", true, parse_duration_ms(&tw[13..]), t, seq, out);
            }
            0xE2 if starts(tw, "✖ ".as_bytes()) && ends_with_duration(tw) && !self.spec_list => {
                self.start_spec_fail(tw, t.len() - tw.len(), seq, ts);
            }
            0xE2 if starts(tw, "ℹ tests ".as_bytes()) => self.start_spec_summary(tw, seq, ts),
            0xE2 if starts(tw, "● ".as_bytes()) && t.len() - tw.len() == 2 => {
                // Jest `  ● suite › test` (also `● Test suite failed to run`;
                // `● Console` blocks and the repeated summary are swallowed)
                let name = trim(&tw["● ".len()..]);
                let mut r = Rec::new(Mode::Jest, Kind::Error, Severity::Error, String::new(), seq, ts);
                if name == b"Console" || self.jest_summary {
                    r.confirmed = false;
                } else if name != b"Test suite failed to run" {
                    r.test = Some(lossy(name));
                } else if self.fail_seq + 1 == seq {
                    // `FAIL __tests__/api.test.js` names the suite that failed to run
                    r.first_seq = self.fail_seq;
                }
                self.open(r);
            }
            // go test failure location `    calc_test.go:13: Add(2,2) = 4, want 5`
            b'a'..=b'z' | b'A'..=b'Z' if starts(t, b"    ") => {
                if let Some(loc) = parse_loc(tw)
                    && loc.path.ends_with(b"_test.go")
                    && !loc.rest.is_empty()
                {
                    // go test -v: a log line of the running test, a failure
                    // only if its `--- FAIL: TestX` follows
                    let mut r = Rec::new(Mode::GoTest, Kind::Error, Severity::Error, lossy(trim(loc.rest)), seq, ts);
                    r.set_loc(loc.path, loc.line, loc.col);
                    r.indent = t.len() - tw.len();
                    if !self.go_run.is_empty() {
                        r.test = Some(lossy(&self.go_run));
                        r.confirmed = false;
                        r.stage = 1;
                    }
                    self.open(r);
                }
            }
            _ => {}
        }
    }
}
