//! Blocks: where one error starts and where it ends. Per (process, stream)
//! state; a line either continues the open record (the mode's `cont_*`
//! function says so) or closes it and may start a new one. Tool families
//! (`families/`) add their starters and continuation rules here.

use crate::families::{
    bundlers::*, compilers::*, gotest::*, junit::*, linters::*, native::*, pytest::*, runners::*, scripting::*,
};
use crate::frames::*;
use crate::normalize::Level;
use crate::record::*;
use crate::text::*;
use crate::{Finding, Kind, Severity};

#[derive(Default)]
pub struct StreamState {
    pub(crate) rec: Option<Rec>,
    /// gcc "In function 'main':" / "In file included from" context lines:
    /// (first seq, last seq)
    pub(crate) ctx: Option<(u64, u64)>,
    pub(crate) in_cargo_test: bool,
    pub(crate) go_counts: [u32; 3],
    /// first `E   ...` line of the current pytest failure section
    pub(crate) pytest_e: Option<String>,
    /// last pytest traceback location `test_imp.py:1: in <module>`
    pub(crate) pytest_loc: Option<(String, u32)>,
    /// after mocha's `N failing`: `  1) title` lines start failure records
    pub(crate) mocha_failing: bool,
    /// after Jest's `Summary of all failing tests` (repeats every failure)
    pub(crate) jest_summary: bool,
    /// ESLint stylish: current file header (reused buffer) and the seq the
    /// next problem line must have (0: none)
    pub(crate) eslint_file: Vec<u8>,
    pub(crate) eslint_next: u64,
    /// where the current lint header's block starts
    pub(crate) eslint_head: u64,
    /// seq of the last line that was only a tag (`[eslint]`)
    pub(crate) tag_seq: u64,
    /// pytest printed failure / error sections: its short summary repeats them
    pub(crate) pytest_sections: bool,
    /// seq of the last pytest node id line (`tests/test_a.py::test_old`)
    pub(crate) nodeid_seq: u64,
    /// cargo test `---- tests::x stdout ----`: the test and its seq
    pub(crate) cargo_test_out: Option<(String, u64)>,
    /// inside JUnit's `Failures (N):` section
    pub(crate) junit_failures: bool,
    /// JUnit's closing table: successful, failed, skipped
    pub(crate) junit_counts: [u32; 3],
    /// go test -v: the test of the last `=== RUN` (empty: none)
    pub(crate) go_run: Vec<u8>,
    /// after JUnit 4's `There were N failures:`
    pub(crate) junit4_failures: bool,
    /// the stream is a Maven build (its lines carry `[INFO]` / `[ERROR]` levels)
    pub(crate) maven: bool,
    /// after Maven's `[ERROR] Failed to execute goal`: the rest restates
    pub(crate) mvn_goal_failed: bool,
    /// ShellCheck's current `In path line N:` (line 0: none)
    pub(crate) sc_file: Vec<u8>,
    pub(crate) sc_line: u32,
    /// seq of the last jest `FAIL path` line
    pub(crate) fail_seq: u64,
    /// after RSpec's `Failures:`: `  1) name` lines start failures
    pub(crate) rspec_failures: bool,
    /// Deno: 1 inside ` ERRORS `, 2 inside ` FAILURES `
    pub(crate) deno_section: u8,
    /// seq of the last `=====` rule line (Go's race reports open with one)
    pub(crate) rule_seq: u64,
    /// pytest --tb=line failures waiting for their test ids in the short summary
    pub(crate) pytest_pending: Vec<Finding>,
    /// pytest failure / error sections, emitted at the run's closing count
    /// line: the short summary between gives their node ids
    pub(crate) pytest_held: Vec<Finding>,
    /// pytest printed its `=== FAILURES ===` header
    pub(crate) pytest_failures: bool,
    /// after node --test spec's `✖ failing tests:` (a repeat of the failures)
    pub(crate) spec_list: bool,
    /// the first project location of gcc's `required from` chain (context)
    pub(crate) ctx_loc: Option<(String, u32, Option<u32>)>,
    /// Create React App said `Failed to compile.` (its lint lines are errors)
    pub(crate) cra_failed: bool,
    /// inside a terminal synchronized-update frame: vitest's live status,
    /// whose counts are not the run's summary
    pub(crate) in_frame: bool,
    /// lines the open record holds until it knows they are its own
    pub(crate) held: crate::lookahead::Held,
    /// the last line was a failed build's verdict that its error follows
    pub(crate) announced: bool,
    /// errors reported since the last build started (see `Detector::settle`)
    pub(crate) build_errors: u32,
    /// a build started: `build_errors` restarts after this line's findings
    pub(crate) build_reset: bool,
    /// a code frame with nothing open (first seq, last seq): the error it
    /// shows may follow (bun prints the frame, a caret, then the error)
    pub(crate) pre: Option<(u64, u64)>,
    /// prove's `Files=2, Tests=5` and the failed tests of its report
    pub(crate) prove_tests: u32,
    pub(crate) prove_failed: u32,
    /// node --test TAP: the last `# Subtest: name` (seq, name)
    pub(crate) subtest: (u64, Vec<u8>),
}

impl StreamState {
    /// Nothing open and no list whose entries are told apart from noise
    /// only by what came before: a line that starts nothing may be skipped.
    pub fn idle(&self) -> bool {
        self.rec.is_none()
            && !self.mocha_failing
            && !self.junit_failures
            && !self.junit4_failures
            && !self.rspec_failures
            && self.ctx.is_none()
            && !self.announced
    }

    pub fn open_since(&self) -> Option<i64> {
        self.rec.as_ref().map(|r| r.last_ts)
    }

    pub fn flush(&mut self, pid: u32, out: &mut Vec<Finding>) {
        if let Some(r) = self.rec.take() {
            match r.mode {
                // `--- FAIL:` lines absorbed by a go test record still count
                Mode::GoTest => (0..3).for_each(|i| self.go_counts[i] += r.counts[i]),
                Mode::TestBlock if r.framework == "mocha" && r.counts[1] > 0 => self.mocha_failing = true,
                _ => {}
            }
            if r.mode == Mode::PytestLine {
                let mut f = Vec::new();
                finish(r, pid, &mut f);
                self.pytest_pending.append(&mut f);
                return;
            }
            if r.mode == Mode::Pytest {
                // until the short summary names the test (see `pytest_summary_names`)
                finish(r, pid, &mut self.pytest_held);
                return;
            }
            finish(r, pid, out);
        }
    }

    /// Flushes the open record and whatever waits for a later line.
    pub fn flush_all(&mut self, pid: u32, out: &mut Vec<Finding>) {
        while self.rec.is_some() || !self.held.is_empty() {
            self.release(pid, out);
        }
        out.append(&mut self.pytest_held);
        out.append(&mut self.pytest_pending);
    }

    pub fn on_line(&mut self, pid: u32, t: &[u8], level: Level, seq: u64, ts: i64, out: &mut Vec<Finding>) {
        if !self.held.is_empty() && self.on_held(pid, t, level, seq, ts, out) {
            return;
        }
        let blank = is_blank(t);
        if let Some(rec) = self.rec.as_mut() {
            // a logger's error marker starts a new error (Next.js `⨯` lines)
            let fresh = level == Level::Error && rec.mode == Mode::Stack && !rec.message.is_empty();
            if rec.kind == Kind::Error
                && rec.test.is_none()
                && let Some(name) = fail_verdict(t)
            {
                // a runner that names the failed test after its error (bun
                // `(fail) suite > test [0.15ms]`): the verdict closes the block
                rec.test = Some(lossy(name));
                rec.last_seq = seq;
                self.flush(pid, out);
                return;
            }
            match if fresh { Cont::Reject } else { cont(rec, t, blank) } {
                Cont::Accept => {
                    rec.last_seq = seq;
                    rec.last_ts = ts;
                    rec.blanks = 0;
                    return;
                }
                Cont::Blank => {
                    rec.blanks += 1;
                    if rec.blanks <= rec.max_blanks() {
                        return;
                    }
                }
                Cont::Hold => {
                    self.hold(t, seq, ts, level);
                    return;
                }
                Cont::Reject => {}
            }
            if let Some((first, before)) = rec.tail.take() {
                // trailing context lines (gcc's `In file included from`)
                // introduce the next diagnostic, not this one
                rec.last_seq = before;
                self.ctx = Some((first, seq - 1));
            }
            self.flush(pid, out);
        }
        if blank {
            return;
        }
        let announced = std::mem::take(&mut self.announced);
        let n = out.len();
        self.start(pid, t, seq, ts, out);
        let unclaimed = out.len() == n && self.rec.as_ref().is_none_or(|r| r.first_seq != seq);
        if unclaimed && announced && !matches!(t[0], b' ' | b'\t') {
            // the error a failed build's verdict announced: its message,
            // then its details (`Location:` + path, stack)
            let mut r = Rec::new(Mode::Stack, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
            r.loose = true;
            self.open(r);
        } else if level != Level::None && unclaimed {
            // a logger's line at error / warn level that no form claimed
            self.start_level_line(t, level, seq, ts);
        } else if unclaimed && !matches!(t[0], b' ' | b'\t') && crate::notices::is_notice(t) {
            // a deprecation or a library's runtime notice, and its paragraph
            let mut r = Rec::new(Mode::Single, Kind::Warning, Severity::Warning, lossy(trim(t)), seq, ts);
            r.paragraph = true;
            self.open(r);
        }
    }

    fn start_level_line(&mut self, t: &[u8], level: Level, seq: u64, ts: i64) {
        let (kind, sev) = match level {
            Level::Error => (Kind::Error, Severity::Error),
            Level::Warn => (Kind::Warning, Severity::Warning),
            _ => return,
        };
        if starts(t, b"Code style issues") {
            // Prettier's closing count: the `[warn] path` lines were the findings
            return;
        }
        let mut r = Rec::new(Mode::Single, kind, sev, lossy(trim(t)), seq, ts);
        // `[ERROR] job failed` + Traceback (Python logging.exception)
        r.tb_merge = kind == Kind::Error;
        if crate::locations::has_extension(t) && memchr::memchr(b' ', t).is_none() {
            // Prettier `[warn] src/a.js`: a file
            r.file = Some(lossy(t));
            r.language = crate::locations::language_of(t);
        }
        self.open(r);
    }

    pub(crate) fn open(&mut self, mut r: Rec) {
        if let Some((first, last)) = self.pre.take()
            && last + 1 == r.first_seq
        {
            // the code frame printed before its error (bun)
            r.first_seq = first;
        }
        self.rec = Some(r);
    }
}

/// A failed test's verdict line after its error block: bun's `(fail) name
/// [0.15ms]` (`✗ name [0.15ms]` in colour) → the name.
pub(crate) fn fail_verdict(t: &[u8]) -> Option<&[u8]> {
    let name = t.strip_prefix(b"(fail) ").or_else(|| t.strip_prefix("✗ ".as_bytes()))?;
    let name = match memchr::memrchr(b'[', name) {
        Some(p) if name.ends_with(b"]") && p > 0 => &name[..p],
        _ => name,
    };
    let name = trim(name);
    (!name.is_empty()).then_some(name)
}

/// `TypeError: msg`, `java.lang.IllegalStateException: boom`,
/// `AssertionError [ERR_ASSERTION]: x`, `Uncaught Error: x`,
/// `[UnhandledPromiseRejection: ...]`. Returns the end of the name.
pub(crate) fn exc_line(t: &[u8]) -> Option<usize> {
    let mut s = t;
    if let Some(r) = s.strip_prefix(b"Uncaught ") {
        s = r;
    }
    if let Some(r) = s.strip_prefix(b"[") {
        s = r;
    }
    if !s.first()?.is_ascii_alphabetic() {
        return None;
    }
    let n = s.iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$')).count();
    let name = &s[..n];
    if !(name.ends_with(b"Error") || name.ends_with(b"Exception") || name.ends_with(b"Rejection")) {
        return None;
    }
    let after = &s[n..];
    if after.is_empty() || starts(after, b": ") || after == b":" || starts(after, b" [") && contains(after, b"]: ") {
        Some(n.max(1))
    } else {
        None
    }
}

/// `...Error: ` or `...Exception: ` glued to a longer word (`TypeError: `,
/// `IllegalStateException: `), found with one pass over the colons.
pub(crate) fn error_word_colon(t: &[u8]) -> bool {
    // the first `Error: ` wins over any `Exception: `
    let mut exception = None;
    for c in memchr::memchr_iter(b':', t) {
        if t.get(c + 1) != Some(&b' ') {
            continue;
        }
        if c > 5 && t[..c].ends_with(b"Error") {
            return t[c - 6].is_ascii_alphanumeric();
        }
        if exception.is_none() && c > 9 && t[..c].ends_with(b"Exception") {
            exception = Some(c - 9);
        }
    }
    exception.is_some_and(|p| t[p - 1].is_ascii_alphanumeric())
}

/// A short phrase ending in "error" then `: `: `Internal server error: x`,
/// `Pre-transform error: x`, `Build error: x`.
pub(crate) fn phrase_error(t: &[u8]) -> bool {
    let lim = t.len().min(48);
    let Some(c) = memchr::memchr(b':', &t[..lim]) else {
        return false;
    };
    let phrase = &t[..c];
    phrase.len() > 5
        && t.get(c + 1) == Some(&b' ')
        && phrase.iter().all(|b| b.is_ascii_alphabetic() || matches!(b, b' ' | b'-'))
        && phrase[phrase.len() - 5..].eq_ignore_ascii_case(b"error")
        && memchr::memchr(b' ', phrase).is_some()
}

/// Log lines at error level: `ERROR: x`, `ERROR request failed`,
/// `[ERROR] x`, `FATAL x`, `CRITICAL x`, `fatal: x` (git).
pub(crate) fn is_level_error(t: &[u8]) -> bool {
    if !matches!(t.first(), Some(b'E' | b'[' | b'F' | b'C' | b'f' | b'P')) {
        return false;
    }
    for w in [&b"ERROR"[..], b"[ERROR]", b"FATAL", b"[FATAL]", b"CRITICAL", b"fatal:", b"PANIC"] {
        if let Some(r) = t.strip_prefix(w) {
            return matches!(r.first(), None | Some(b' ' | b':' | b'\t'));
        }
    }
    false
}

pub(crate) fn is_caret_line(tw: &[u8]) -> bool {
    !tw.is_empty() && tw.iter().all(|b| matches!(b, b'^' | b'~' | b' ' | b'\t'))
}

pub(crate) fn cont(r: &mut Rec, t: &[u8], blank: bool) -> Cont {
    if blank && !t.is_empty() && (r.mode == Mode::Biome || r.mode == Mode::Stack && r.loose && r.frames == 0) {
        // an indented empty line inside a code frame (Vite's esbuild frame)
        return Cont::Accept;
    }
    if blank {
        return if r.max_blanks() > 0 { Cont::Blank } else { Cont::Reject };
    }
    let tw = trim_start(t);
    let ws = tw.len() != t.len();
    match r.mode {
        Mode::Stack => cont_stack(r, t, tw, ws),
        Mode::NodeFrame => cont_node_frame(r, t, tw, ws),
        Mode::PyTb => cont_py_tb(r, t, tw, ws),
        Mode::RustDiag => cont_rust_diag(r, t, tw, ws),
        Mode::RustPanic => cont_rust_panic(r, t, tw, ws),
        Mode::CDiag => cont_c_diag(r, t, tw, ws),
        Mode::Javac => cont_javac(r, t, tw, ws),
        Mode::Tsc => cont_tsc(r, t, tw, ws),
        Mode::GoBuild => cont_go_build(r, t, tw, ws),
        Mode::GoPanic => cont_go_panic(r, t, tw, ws),
        Mode::TestBlock => cont_test_block(r, t, tw, ws),
        Mode::Npm => cont_npm(r, t, tw, ws),
        Mode::Jest => cont_jest(r, t, tw, ws),
        Mode::Mocha => cont_mocha(r, t, tw, ws),
        Mode::Vitest => cont_vitest(r, t, tw, ws),
        Mode::Tap => cont_tap(r, t, tw, ws),
        Mode::GoTest => cont_go_test(r, t, tw, ws),
        Mode::Webpack => cont_webpack(r, t, tw, ws),
        Mode::Esbuild => cont_esbuild(r, t, tw, ws),
        Mode::Pytest => cont_pytest(r, t, tw, ws),
        Mode::JUnit => cont_junit(r, t, tw, ws),
        Mode::Nextest => cont_nextest(r, t, tw, ws),
        Mode::Biome => cont_biome(r, t, tw, ws),
        Mode::Script => cont_script(r, t, tw, ws),
        Mode::RSpec => cont_rspec(r, t, tw, ws),
        Mode::CMake => cont_cmake(r, t, tw, ws),
        Mode::CTest => cont_ctest(r, t, tw, ws),
        Mode::Deno => cont_deno(r, t, tw, ws),
        Mode::GoRace => cont_go_race(r, t, tw, ws),
        Mode::PytestLine => cont_pytest_line(r, t, tw, ws),
        Mode::Memcheck => cont_memcheck(r, t, tw, ws),
        Mode::Single => cont_single(r, t, tw, ws),
    }
}

/// `word: ...`: the first space-separated word ends with `:`
pub(crate) fn first_word_ends_colon(s: &[u8]) -> bool {
    let w = &s[..memchr::memchr(b' ', s).unwrap_or(s.len())];
    w.ends_with(b":")
}

/// Django system check `obj: (fields.E300) msg` → `fields.E300` (`colon`
/// is the first ':')
pub(crate) fn django_check(t: &[u8], colon: usize) -> Option<&[u8]> {
    let rest = t[colon + 1..].strip_prefix(b" (")?;
    let end = memchr::memchr(b')', rest)?;
    let code = &rest[..end];
    let dot = memchr::memrchr(b'.', code)?;
    let id = &code[dot + 1..];
    (id.len() >= 2
        && matches!(id[0], b'E' | b'W' | b'C' | b'I')
        && id[1..].iter().all(u8::is_ascii_digit)
        && code[..dot].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
        && rest.get(end + 1) == Some(&b' '))
    .then_some(code)
}
