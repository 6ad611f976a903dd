//! Which record a line starts when none is open: an anchored match on the
//! first byte (a tool's own header, summary or verdict), then the general
//! forms of `general` (locations, exception lines, log levels).

use crate::blocks::*;
use crate::families::{builds::*, bundlers::*, native::*, pytest::*, runners::*};
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Finding, Kind, Severity};

impl StreamState {
    pub(crate) fn start(&mut self, pid: u32, t: &[u8], seq: u64, ts: i64, out: &mut Vec<Finding>) {
        let b0 = t[0];
        if b0 == b' ' && (t == b" ERRORS " || t == b" FAILURES ") {
            // Deno's sections
            self.deno_section = if t[1] == b'E' { 1 } else { 2 };
            return;
        }
        if self.eslint_next == seq && self.rec.is_none() {
            // problems right under a lint file header, unindented: `next lint`
            // `7:29  Error: msg  rule`, CRA `Syntax error: msg (8:4)`
            if let Some(mut f) = lint_report_line(pid, &self.eslint_file, t, seq) {
                self.eslint_next = seq + 1;
                if starts(t, b"Syntax error: ") {
                    // one message under its header, not a list: one block
                    f.first_seq = self.eslint_head;
                }
                out.push(f);
                return;
            }
        }
        if t == b"Failed to compile." || starts(t, b"Compiled with warnings") {
            self.cra_failed = t[0] == b'F';
        }
        if b0 != b'F' && t.ends_with(b"Failed to compile.") {
            // Next.js writes it after its spinner's last frame, on the same line
            return emit_build(pid, "next", false, None, b"Failed to compile.", seq, out);
        }
        if b0 == b' ' || b0 == b'\t' {
            return self.start_indented(pid, t, seq, ts, out);
        }
        if (b0.is_ascii_digit() || b0 == b'>') && crate::details::is_gutter_line(t) {
            // a code frame with nothing open: its error may follow
            self.pre = Some((self.pre.filter(|p| p.1 + 1 == seq).map_or(seq, |p| p.0), seq));
            return;
        }
        // keep gcc context only while context lines are adjacent
        let ctx = self.ctx.take().filter(|c| c.1 + 1 == seq);
        // mocha failure headers are indented; any unindented line ends the list
        self.mocha_failing = false;
        self.junit_failures = false;
        if starts(t, b"Finished in ") || starts(t, b"Failed examples") {
            self.rspec_failures = false;
        }
        if b0 == b'[' {
            if !self.maven && starts(t, b"[INFO] ") {
                self.maven = true;
            }
            if self.maven && self.maven_line(pid, t, seq, ts, out) {
                return;
            }
        }
        if matches!(b0, b'h' | b'p' | b'(' | b'[' | b'B' | b'C' | b'F' | b'x' | b'm' | b'g' | b'-' | 0xE2)
            && build_line(pid, t, seq, out)
        {
            self.announced = announces_error(t);
            return;
        }
        match b0 {
            b'{' if starts(t, b"{\"") && self.json_log_line(t, seq, ts) => {}
            b'I' | b'^' if self.shellcheck_line(pid, t, seq, out) => {}
            b'T' if starts(t, b"Traceback (most recent call last)") => {
                let mut r = Rec::new(Mode::PyTb, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
                r.language = Some("python");
                self.open(r);
            }
            b'F' if starts(t, b"Failures (") && t.ends_with(b"):") => self.junit_failures = true,
            b'F' if t == b"Failures:" => self.rspec_failures = true,
            b'n' if starts(t, b"note: test did not panic as expected") => {
                // cargo test: a #[should_panic] test that returned
                let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(&t[6..]), seq, ts);
                if let Some(p) = find(t, b" at ")
                    && let Some((f, l, c)) = loc_from_end(&t[p + 4..])
                {
                    r.set_loc(f, l, c);
                    r.message = lossy(&t[6..p]);
                }
                if let Some((name, _)) = self.cargo_test_out.take() {
                    r.test = Some(name);
                }
                r.language = Some("rust");
                self.open(r);
            }
            b'F' | b'o' if (starts(t, b"FAILED | ") || starts(t, b"ok | ")) && contains(t, b" passed") => {
                // Deno `FAILED | 1 passed | 2 failed (33ms)`
                self.deno_section = 0;
                emit_test(pid, "deno", t, seq, out);
            }
            b'0'..=b'9' if contains(t, b" tests completed") => {
                // Gradle `3 tests completed, 1 failed`
                let n = parse_num(t).map_or(0, |x| x.0);
                let mut failed = 0;
                let mut skipped = 0;
                for_each_count(t, |w, c| match w {
                    b"failed" => failed = c,
                    b"skipped" => skipped = c,
                    _ => {}
                });
                out.push(test_finding(pid, "gradle", t, seq, [n.saturating_sub(failed + skipped), failed, skipped]));
            }
            b'C' if starts(t, b"CMake ") && self.start_cmake(t, seq, ts) => {}
            b'0'..=b'9' if contains(t, b" Test #") && self.ctest_line(t, seq, ts) => {}
            b'0'..=b'9' if contains(t, b"% tests passed") && ctest_summary(pid, t, seq, out) => {}
            b'0'..=b'9' if contains(t, b" example") && (contains(t, b" failure") || contains(t, b"examples, 0")) => {
                // RSpec `3 examples, 1 failure, 1 pending`
                let (mut n, mut failed, mut pending) = (0, 0, 0);
                for_each_count(t, |w, c| match w {
                    b"examples" | b"example" => n = c,
                    b"failures" | b"failure" | b"errors" => failed += c,
                    b"pending" => pending = c,
                    _ => {}
                });
                self.rspec_failures = false;
                out.push(test_finding(pid, "rspec", t, seq, [n.saturating_sub(failed + pending), failed, pending]));
            }
            b'[' if t.ends_with(b"]") && t.get(1) == Some(&b' ') && self.junit_count(pid, t, seq, out) => {}
            b'E' | b'F' if (starts(t, b"ERROR: ") || starts(t, b"FAIL: ")) && t.ends_with(b")") => {
                // unittest `FAIL: test_x (pkg.mod.Class.test_x)` + rule + traceback
                let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
                r.tb_merge = true;
                r.confirmed = false;
                if let Some(p) = memchr::memrchr(b'(', t) {
                    r.test = Some(lossy(&t[p + 1..t.len() - 1]));
                }
                self.open(r);
            }
            b'T' if starts(t, b"There w") && (t.ends_with(b"failures:") || t.ends_with(b"failure:")) => {
                self.junit4_failures = true;
            }
            b'T' if starts(t, b"There w") && (t.ends_with(b"errors:") || t.ends_with(b"error:")) => {
                // PHPUnit lists errors apart from failures
                self.junit4_failures = true;
            }
            b'T' if starts(t, b"Tests: ") && contains(t, b"Assertions: ") => {
                // PHPUnit `Tests: 5, Assertions: 3, Errors: 1, Failures: 1, Skipped: 1.`
                let num = |k: &[u8]| find(t, k).and_then(|p| parse_num(&t[p + k.len()..])).map_or(0, |x| x.0);
                let (n, failed, skipped) =
                    (num(b"Tests: "), num(b"Errors: ") + num(b"Failures: "), num(b"Skipped: ") + num(b"Incomplete: "));
                self.junit4_failures = false;
                out.push(test_finding(pid, "phpunit", t, seq, [n.saturating_sub(failed + skipped), failed, skipped]));
            }
            b'0'..=b'9' if self.junit4_failures && mocha_header(t) && contains(t, b"::") => {
                // PHPUnit `1) CartTest::testTotalWrong`: message lines, blank, `path:line` frames
                let n = count_digits(t);
                let mut r = Rec::new(Mode::Script, Kind::Error, Severity::Error, String::new(), seq, ts);
                r.test = Some(lossy(trim(&t[n + 2..])));
                r.language = Some("php");
                r.stage = 5;
                r.confirmed = false;
                self.open(r);
            }
            b'0'..=b'9' if self.junit4_failures && mocha_header(t) => {
                // JUnit 4 `1) firstOfEmpty(com.acme.CartTest)`, the exception and frames follow
                let n = count_digits(t);
                let mut r = Rec::new(Mode::Stack, Kind::Error, Severity::Error, String::new(), seq, ts);
                r.test = Some(lossy(trim(&t[n + 2..])));
                r.language = Some("java");
                r.confirmed = false;
                self.open(r);
            }
            b'T' if starts(t, b"Tests run: ") && contains(t, b"Failures: ") => {
                // JUnit 4 `Tests run: 3,  Failures: 2`
                let total = parse_num(&t[11..]).map_or(0, |x| x.0);
                let failed = find(t, b"Failures: ").and_then(|p| parse_num(&t[p + 10..])).map_or(0, |x| x.0);
                self.junit4_failures = false;
                out.push(test_finding(pid, "junit", t, seq, [total.saturating_sub(failed), failed, 0]));
            }
            b'O' if starts(t, b"OK (") && contains(t, b" test") => {
                // JUnit 4 `OK (3 tests)`, PHPUnit `OK (2 tests, 2 assertions)`
                let n = parse_num(&t[4..]).map_or(0, |x| x.0);
                let framework = if contains(t, b" assertion") { "phpunit" } else { "junit" };
                out.push(test_finding(pid, framework, t, seq, [n, 0, 0]));
            }
            b'F' if starts(t, b"FAIL ") => self.fail_seq = seq,
            0xE2 if starts(t, "✖ failing tests:".as_bytes()) => self.spec_list = true,
            0xE2 if starts(t, "✖ ".as_bytes()) && ends_with_duration(t) && !self.spec_list => {
                self.start_spec_fail(t, 0, seq, ts)
            }
            0xE2 if starts(t, "ℹ tests ".as_bytes()) => self.start_spec_summary(t, seq, ts),
            b'0'..=b'9' if contains(t, b" tests, ") && contains(t, b" failure") => {
                // ExUnit `4 tests, 2 failures`
                let (mut n, mut failed, mut skipped) = (0, 0, 0);
                for_each_count(t, |w, c| match w {
                    b"tests" | b"test" => n = c,
                    b"failures" | b"failure" => failed = c,
                    b"skipped" | b"excluded" => skipped += c,
                    _ => {}
                });
                out.push(test_finding(pid, "exunit", t, seq, [n.saturating_sub(failed + skipped), failed, skipped]));
            }
            b'R' if starts(t, b"Ran ")
                && count_digits(&t[4..]) > 0
                && contains(t, b" test")
                && !contains(t, b" across ") =>
            {
                let mut r = Rec::new(Mode::TestBlock, Kind::Test, Severity::Info, lossy(trim(t)), seq, ts);
                r.framework = "unittest";
                r.counts[0] = parse_num(&t[4..]).map_or(0, |x| x.0);
                self.open(r);
            }
            // prove's closing report: `Files=2, Tests=5, ...`, per-file
            // `t/a.t (Wstat: 0 Tests: 3 Failed: 1)`, `Result: FAIL`
            b'F' if starts(t, b"Files=") && contains(t, b", Tests=") => {
                self.prove_tests = find(t, b", Tests=").and_then(|p| parse_num(&t[p + 8..])).map_or(0, |x| x.0);
            }
            b'R' if t == b"Result: FAIL" || t == b"Result: PASS" => {
                let (n, failed) = (self.prove_tests, std::mem::take(&mut self.prove_failed));
                out.push(test_finding(pid, "prove", t, seq, [n.saturating_sub(failed), failed, 0]));
            }
            b'E' if starts(t, b"ESLint found too many warnings") => {
                // `--max-warnings N` exceeded: the run fails on warnings
                let r = Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
                self.open(r);
            }
            // Django: the checks below it are the findings
            b'S' if starts(t, b"SystemCheckError: ") => {}
            b'T' if starts(t, b"Tests:") => {
                self.jest_summary = false;
                emit_test(pid, "jest", t, seq, out);
            }
            b'S' if starts(t, b"Summary of all failing tests") => self.jest_summary = true,
            b't' if starts(t, b"thread '") => {
                // `thread 'main' panicked at` / `thread 'main' (11397) panicked at`
                if let Some(p) = find(t, b" panicked at ") {
                    self.start_rust_panic(t, p + 13, seq, ts);
                }
            }
            b't' if starts(t, b"test result: ") => emit_test(pid, "cargo", t, seq, out),
            b'p' if starts(t, b"panic: ") => {
                let mut r = Rec::new(Mode::GoPanic, Kind::Error, Severity::Critical, lossy(trim(t)), seq, ts);
                r.language = Some("go");
                self.open(r);
            }
            b'E' if starts(t, b"Exception in thread \"") => {
                let msg = match find(&t[21..], b"\" ") {
                    Some(p) => &t[21 + p + 2..],
                    None => t,
                };
                let mut r = Rec::new(Mode::Stack, Kind::Error, Severity::Error, lossy(trim(msg)), seq, ts);
                r.language = Some("java");
                self.open(r);
            }
            b'E' if t.len() > 1 && t[1] == b' ' => {
                // pytest assertion detail `E       assert 4 == 5`
                if self.pytest_failures && !self.pytest_sections {
                    // --tb=line: no section headers
                    return self.start_pytest_line(t, seq, ts);
                }
                if self.pytest_e.is_none() {
                    self.pytest_e = Some(lossy(trim(&t[1..])));
                }
            }
            b'F' if starts(t, b"FAILED ") && !self.pytest_pending.is_empty() => self.pytest_summary_failed(t, out),
            b'F' if starts(t, b"FAILED ") && !self.pytest_held.is_empty() => self.pytest_summary_names(&t[7..]),
            b'=' if t.len() >= 10 && t.iter().all(|b| *b == b'=') => self.rule_seq = seq,
            b'=' if starts(t, b"==") && pid_banner(t).is_some() => {
                self.start_memcheck(t, seq, ts);
            }
            b'=' if starts(t, b"== Compilation error in file ") => self.rule_seq = seq,
            b'(' if starts(t, b"(node:") => self.start_node_warning(t, seq, ts),
            b'W' if starts(t, b"Warning: ") && !contains(t, b" on line ") => {
                // React development warnings `Warning: Each child in a list ...` + component stack
                let mut r = Rec::new(Mode::Stack, Kind::Warning, Severity::Warning, lossy(trim(&t[9..])), seq, ts);
                r.language = Some("javascript");
                r.loose = true;
                self.open(r);
            }
            b'=' if starts(t, b"===") && contains(t, b" FAILURES ") => self.pytest_failures = true,
            b'W' if starts(t, b"WARNING: DATA RACE") => self.start_go_race(t, seq, ts),
            b'_' if starts(t, b"____") => {
                self.pytest_e = None;
                if let Some(name) = section_name(t) {
                    self.start_pytest_section(name, seq, ts);
                }
            }
            // Vite / Rollup `error during build:` (details follow)
            b'e' if starts(t, b"error ") && t.len() < 40 && t.ends_with(b":") => self.start_details(t, seq, ts),
            // Rollup / Vite `(!) Failed to run dependency scan. ... Error: ...`
            b'(' if starts(t, b"(!) ") && contains(t, b"rror") => self.start_details(t, seq, ts),
            b'e' | b'w' if starts(t, b"error") || starts(t, b"warning") => self.start_rust_like(pid, t, seq, ts, out),
            b'r' if starts(t, b"running ") && (t.ends_with(b" tests") || t.ends_with(b" test")) => {
                self.in_cargo_test = true;
            }
            b'F' if starts(t, b"Found ") => emit_tsc_found(pid, t, seq, out),
            b'F' if starts(t, b"FAIL\t") => self.emit_go(pid, t, false, seq, out),
            b'o' if starts(t, b"ok  \t") || starts(t, b"ok \t") || starts(t, b"ok\t") => {
                self.emit_go(pid, t, true, seq, out)
            }
            b'-' if starts(t, b"---- ") && t.ends_with(b" stdout ----") => {
                self.cargo_test_out = Some((lossy(&t[5..t.len() - 12]), seq));
            }
            b'-' if starts(t, b"--- ") => {
                self.count_go(t);
                self.start_go_fail(t, 0, seq, ts);
            }
            b'#' if self.tap_subtest(t, seq) => {}
            b'#' if starts(t, b"# tests ") => {
                let mut r = Rec::new(Mode::TestBlock, Kind::Test, Severity::Info, lossy(trim(t)), seq, ts);
                r.framework = "node";
                self.open(r);
            }
            b'=' if starts(t, b"=== RUN ") => {
                // a reused buffer: healthy `go test -v` output must not allocate
                self.go_run.clear();
                self.go_run.extend_from_slice(trim(&t[8..]));
            }
            b'=' if starts(t, b"==") => {
                if contains(t, b" in ")
                    && (contains(t, b" passed") || contains(t, b" failed") || contains(t, b" error"))
                {
                    out.append(&mut self.pytest_held);
                    emit_test(pid, "pytest", t, seq, out);
                }
            }
            b'n' if starts(t, b"npm ERR!") || starts(t, b"npm error") => {
                let mut r = Rec::new(Mode::Npm, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
                r.language = Some("javascript");
                self.open(r);
            }
            b'n' if starts(t, b"not ok ") => self.start_tap(t, 0, seq, ts),
            b'n' if starts(t, b"node:") => {
                // node code frame pointing into node internals: `node:assert:90`
                if memchr::memchr(b' ', t).is_none() && t.last().is_some_and(u8::is_ascii_digit) {
                    let mut r = Rec::new(Mode::NodeFrame, Kind::Error, Severity::Error, String::new(), seq, ts);
                    r.confirmed = false;
                    r.language = Some("javascript");
                    self.open(r);
                }
            }
            0xE2 if starts(t, "✓ built in ".as_bytes()) => {
                emit_build(pid, "vite", true, parse_duration_ms(&t[13..]), t, seq, out);
            }
            0xE2 if starts(t, "✘ [ERROR] ".as_bytes()) => {
                self.start_esbuild(t, "✘ [ERROR] ".len(), Kind::Error, seq, ts)
            }
            0xE2 if starts(t, "▲ [WARNING] ".as_bytes()) => {
                self.start_esbuild(t, "▲ [WARNING] ".len(), Kind::Warning, seq, ts)
            }
            0xE2 if starts(t, "⚡ Done in ".as_bytes()) => {
                emit_build(pid, "esbuild", true, parse_duration_ms(&t["⚡ Done in ".len()..]), t, seq, out);
            }
            // webpack `ERROR in ./src/a.js 3:7`; not Flask's `ERROR in app: msg`
            b'E' if starts(t, b"ERROR in ") && !first_word_ends_colon(&t[9..]) => {
                self.start_webpack(t, 9, Kind::Error, seq, ts)
            }
            b'W' if starts(t, b"WARNING in ") => self.start_webpack(t, 11, Kind::Warning, seq, ts),
            b'w' if starts(t, b"webpack ") => emit_webpack_done(pid, t, seq, out),
            // esbuild --watch `[watch] build started` / `[watch] build finished`:
            // the verdict is the errors reported in between
            b'b' if starts(t, b"build started") => self.build_reset = true,
            b'b' if t == b"build finished" || starts(t, b"build finished, watching") => {
                emit_build_pending(pid, "esbuild", t, seq, out)
            }
            b'0'..=b'9' if is_pytest_counts(t) => {
                out.append(&mut self.pytest_held);
                emit_test(pid, "pytest", t, seq, out)
            }
            _ => self.start_other(t, ctx, seq, ts),
        }
    }
}
