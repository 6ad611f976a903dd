//! Per-stream state machine: starting, continuing and finishing records.

use crate::text::*;
use crate::{Finding, Kind, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `XxxError: msg` / `Exception in thread ...` + `at ...` frames (JS, Java)
    Stack,
    /// node's `/path/file.js:3` + source + caret + blank, then the error line
    NodeFrame,
    /// Python `Traceback (most recent call last):` (stage 0 frames, 1 after
    /// the exception line, 2 after a "During handling..." chain line)
    PyTb,
    /// rustc / cargo `error[E..]: ` / `warning: ` + ` --> ` + `|` lines
    RustDiag,
    /// `thread 'x' panicked at ...` (stage 0: waiting for the message line)
    RustPanic,
    /// gcc / clang `file:l:c: error: ` + source / caret / note lines
    CDiag,
    /// javac `Foo.java:3: error: ` + source + caret + symbol/location
    Javac,
    /// tsc; stage 1 = pretty (code frame follows)
    Tsc,
    /// `./main.go:5:2: msg` (+ tab-indented have/want lines)
    GoBuild,
    /// `panic: ` + goroutine dump
    GoPanic,
    /// node --test `# tests N` block / mocha `N passing` block
    TestBlock,
    /// `npm ERR!` / `npm error` block
    Npm,
    /// Jest `  ● suite › test` failure block (indented, blank-separated)
    Jest,
    /// Mocha `  1) suite` + title lines ending in `:` + error + frames
    /// (stage 0 while the title is being collected)
    Mocha,
    /// Vitest ` FAIL  file > test` block up to the `⎯⎯⎯` separator
    Vitest,
    /// node --test TAP `not ok N - name` + YAML block (stage: 1 = inside
    /// `error: |-`, 2 = inside `stack: |-`, 3 = other key)
    Tap,
    /// go test `--- FAIL: TestX` and/or its `x_test.go:N: msg` log lines
    GoTest,
    /// webpack `ERROR in ./src/a.js 3:7` + message lines up to a blank line
    Webpack,
    /// esbuild `✘ [ERROR] msg` / `▲ [WARNING] msg` + indented location block
    Esbuild,
    /// one line, optionally with indented continuation lines
    Single,
}

struct Rec {
    mode: Mode,
    kind: Kind,
    severity: Severity,
    message: String,
    first_seq: u64,
    last_seq: u64,
    last_ts: i64,
    file: Option<String>,
    line: Option<u32>,
    col: Option<u32>,
    code: Option<String>,
    language: Option<&'static str>,
    fields: Vec<(String, String)>,
    confirmed: bool,
    stage: u8,
    blanks: u8,
    lines: u16,
    frames: u16,
    loc_locked: bool,
    node_origin: bool,
    /// Single: accept indented continuation lines
    cont_ws: bool,
    /// Single: a following `Traceback (most recent call last):` continues
    /// this record (log line `ERROR request failed` / `Exception in thread
    /// Thread-1 (worker):` + traceback)
    tb_merge: bool,
    /// Stack started by a phrase like `Internal server error: x` (vite):
    /// indented detail lines (`File: path:l:c`, code frame) precede frames
    loose: bool,
    fallback: Option<(String, u32, Option<u32>)>,
    /// passed, failed, skipped
    counts: [u32; 3],
    framework: &'static str,
    /// full name of the failing test (pushed as the `test` field)
    test: Option<String>,
    /// indentation of the line that opened the record (TAP, mocha)
    indent: usize,
}

impl Rec {
    fn new(mode: Mode, kind: Kind, severity: Severity, message: String, seq: u64, ts: i64) -> Rec {
        Rec {
            mode,
            kind,
            severity,
            message,
            first_seq: seq,
            last_seq: seq,
            last_ts: ts,
            file: None,
            line: None,
            col: None,
            code: None,
            language: None,
            fields: Vec::new(),
            confirmed: true,
            stage: 0,
            blanks: 0,
            lines: 0,
            frames: 0,
            loc_locked: false,
            node_origin: false,
            cont_ws: false,
            tb_merge: false,
            loose: false,
            fallback: None,
            counts: [0; 3],
            framework: "",
            test: None,
            indent: 0,
        }
    }

    fn set_loc(&mut self, path: &[u8], line: u32, col: Option<u32>) {
        self.file = Some(lossy(path));
        self.line = Some(line);
        self.col = col;
        if self.language.is_none() {
            self.language = language_of(path);
        }
    }

    fn max_blanks(&self) -> u8 {
        match self.mode {
            Mode::Stack => {
                if self.node_origin && self.frames == 0 {
                    2
                } else {
                    1
                }
            }
            Mode::NodeFrame => u8::from(self.stage == 2),
            Mode::PyTb => u8::from(self.stage > 0),
            Mode::RustDiag => 1,
            Mode::Tsc if self.stage == 1 => 2,
            Mode::GoPanic => 1,
            Mode::TestBlock => 1,
            Mode::Jest | Mode::Tap => 2,
            Mode::Mocha | Mode::Vitest | Mode::Esbuild => 1,
            _ => 0,
        }
    }
}

enum Cont {
    Accept,
    Blank,
    Reject,
}

#[derive(Default)]
pub struct StreamState {
    rec: Option<Rec>,
    /// gcc "In function 'main':" / "In file included from" context lines:
    /// (first seq, last seq)
    ctx: Option<(u64, u64)>,
    in_cargo_test: bool,
    go_counts: [u32; 3],
    /// first `E   ...` line of the current pytest failure section
    pytest_e: Option<String>,
    /// last pytest traceback location `test_imp.py:1: in <module>`
    pytest_loc: Option<(String, u32)>,
    /// after mocha's `N failing`: `  1) title` lines start failure records
    mocha_failing: bool,
    /// after Jest's `Summary of all failing tests` (repeats every failure)
    jest_summary: bool,
    /// ESLint stylish: current file header (reused buffer) and the seq the
    /// next problem line must have (0: none)
    eslint_file: Vec<u8>,
    eslint_next: u64,
}

fn starts(s: &[u8], p: &[u8]) -> bool {
    s.starts_with(p)
}

impl StreamState {
    pub fn open_since(&self) -> Option<i64> {
        self.rec.as_ref().map(|r| r.last_ts)
    }

    pub fn flush(&mut self, pid: u32, out: &mut Vec<Finding>) {
        if let Some(r) = self.rec.take() {
            match r.mode {
                // `--- FAIL:` lines absorbed by a go test record still count
                Mode::GoTest => self.go_counts[1] += r.counts[1],
                Mode::TestBlock if r.framework == "mocha" && r.counts[1] > 0 => self.mocha_failing = true,
                _ => {}
            }
            finish(r, pid, out);
        }
    }

    pub fn on_line(&mut self, pid: u32, t: &[u8], seq: u64, ts: i64, out: &mut Vec<Finding>) {
        let blank = is_blank(t);
        if let Some(rec) = self.rec.as_mut() {
            match cont(rec, t, blank) {
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
                Cont::Reject => {}
            }
            self.flush(pid, out);
        }
        if blank {
            return;
        }
        self.start(pid, t, seq, ts, out);
    }

    fn open(&mut self, r: Rec) {
        self.rec = Some(r);
    }

    fn start(&mut self, pid: u32, t: &[u8], seq: u64, ts: i64, out: &mut Vec<Finding>) {
        let b0 = t[0];
        if b0 == b' ' || b0 == b'\t' {
            return self.start_indented(pid, t, seq, ts, out);
        }
        // keep gcc context only while context lines are adjacent
        let ctx = self.ctx.take().filter(|c| c.1 + 1 == seq);
        // mocha failure headers are indented; any unindented line ends the list
        self.mocha_failing = false;
        match b0 {
            b'T' if starts(t, b"Traceback (most recent call last)") => {
                let mut r = Rec::new(Mode::PyTb, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
                r.language = Some("python");
                self.open(r);
            }
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
                if self.pytest_e.is_none() {
                    self.pytest_e = Some(lossy(trim(&t[1..])));
                }
            }
            b'_' if starts(t, b"____") => self.pytest_e = None,
            b'e' | b'w' if starts(t, b"error") || starts(t, b"warning") => self.start_rust_like(pid, t, seq, ts, out),
            b'r' if starts(t, b"running ") && (t.ends_with(b" tests") || t.ends_with(b" test")) => {
                self.in_cargo_test = true;
            }
            b'F' if starts(t, b"Found ") => emit_tsc_found(pid, t, seq, out),
            b'F' if starts(t, b"FAIL\t") => self.emit_go(pid, t, false, seq, out),
            b'o' if starts(t, b"ok  \t") || starts(t, b"ok \t") || starts(t, b"ok\t") => {
                self.emit_go(pid, t, true, seq, out)
            }
            b'-' if starts(t, b"--- ") => {
                self.count_go(t);
                self.start_go_fail(t, 0, seq, ts);
            }
            b'#' if starts(t, b"# tests ") => {
                let mut r = Rec::new(Mode::TestBlock, Kind::Test, Severity::Info, lossy(trim(t)), seq, ts);
                r.framework = "node";
                self.open(r);
            }
            b'=' if starts(t, b"==") => {
                if contains(t, b" in ")
                    && (contains(t, b" passed") || contains(t, b" failed") || contains(t, b" error"))
                {
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
            b'E' if starts(t, b"ERROR in ") => self.start_webpack(t, 9, Kind::Error, seq, ts),
            b'W' if starts(t, b"WARNING in ") => self.start_webpack(t, 11, Kind::Warning, seq, ts),
            b'w' if starts(t, b"webpack ") => emit_webpack_done(pid, t, seq, out),
            _ => {
                if let Some(loc) = parse_loc(t) {
                    return self.start_loc(pid, t, loc, ctx, seq, ts);
                }
                if is_c_context(t) {
                    self.ctx = Some((ctx.map_or(seq, |c| c.0), seq));
                    return;
                }
                if let Some(name_end) = exc_line(t) {
                    let mut r = Rec::new(Mode::Stack, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
                    if name_end == 0 {
                        r.mode = Mode::Single;
                    }
                    self.open(r);
                    return;
                }
                if starts(t, b"ERROR ") && self.start_pytest_error(t, seq, ts) {
                    return;
                }
                if is_level_error(t) {
                    let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
                    r.tb_merge = true;
                    self.open(r);
                    return;
                }
                if starts(t, b"Exception in thread ") {
                    // Python: `Exception in thread Thread-1 (worker):` + traceback
                    let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
                    r.tb_merge = true;
                    r.confirmed = false;
                    self.open(r);
                    return;
                }
                // Everything below needs a ':' somewhere; most log lines
                // without one are done after this single memchr.
                let colon = memchr::memchr(b':', t);
                if (b0 == b'/' || colon == Some(1)) && is_eslint_header(t, colon) {
                    // ESLint stylish file header: problem lines follow
                    self.eslint_file.clear();
                    self.eslint_file.extend_from_slice(t);
                    self.eslint_next = seq + 1;
                    return;
                }
                let Some(colon) = colon else {
                    if starts(t, b"/usr/bin/ld") || starts(t, b"ld") {
                        return self.start_ld(t, ctx, seq, ts);
                    }
                    return;
                };
                if let Some((path, line, msg)) = make_error(t, colon) {
                    // `Makefile:4: *** missing separator.  Stop.`
                    let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(msg), seq, ts);
                    r.file = Some(lossy(path));
                    r.line = Some(line);
                    self.open(r);
                    return;
                }
                self.start_ld(t, ctx, seq, ts);
            }
        }
    }

    /// linker lines, phrase errors, `job 1 failed: TypeError: x`
    fn start_ld(&mut self, t: &[u8], ctx: Option<(u64, u64)>, seq: u64, ts: i64) {
        if let Some(p) = find(t, b"undefined reference to ") {
            // linker: `main.c:(.text+0xa): undefined reference to `helper'`
            let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(trim(&t[p..])), seq, ts);
            if let Some(q) = find(&t[..p], b":(") {
                r.file = Some(lossy(&t[..q]));
                r.language = language_of(&t[..q]);
            }
            if let Some(c) = ctx {
                r.first_seq = c.0;
            }
            self.open(r);
            return;
        }
        if starts(t, b"/usr/bin/ld: ") || starts(t, b"ld: ") {
            if t.ends_with(b"':") && contains(t, b": in function `") {
                self.ctx = Some((ctx.map_or(seq, |c| c.0), seq));
            } else if contains(t, b"cannot find ") || contains(t, b"error: ") {
                self.open(Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts));
            }
            return;
        }
        if phrase_error(t) {
            // `Internal server error: Failed to resolve import` (vite), `Pre-transform error: x`
            let mut r = Rec::new(Mode::Stack, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
            r.loose = true;
            self.open(r);
            return;
        }
        // `job 1 failed: TypeError: x` — only a finding when stack frames follow
        if error_word_colon(t) {
            let mut r = Rec::new(Mode::Stack, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
            r.confirmed = false;
            self.open(r);
        }
    }

    fn start_indented(&mut self, pid: u32, t: &[u8], seq: u64, ts: i64, out: &mut Vec<Finding>) {
        let tw = trim_start(t);
        if let Some(c) = self.ctx {
            // `                 from main.cpp:2:` continuation of "In file included from"
            if c.1 + 1 == seq && starts(tw, b"from ") {
                self.ctx = Some((c.0, seq));
                return;
            }
        }
        let Some(&c0) = tw.first() else { return };
        match c0 {
            b'F' if starts(tw, b"File \"") && starts(t, b"  File \"") => {
                // Python SyntaxError printed without a Traceback header
                let mut r = Rec::new(Mode::PyTb, Kind::Error, Severity::Error, String::new(), seq, ts);
                r.language = Some("python");
                r.confirmed = false;
                py_frame(&mut r, tw);
                self.open(r);
            }
            b'F' if starts(tw, b"Finished ") => {
                if let Some(p) = find(tw, b" target(s) in ") {
                    emit_build(pid, "cargo", true, parse_duration_ms(&tw[p + 14..]), t, seq, out);
                }
            }
            b'F' if starts(tw, b"FAIL  ") && t.len() - tw.len() == 1 => {
                // vitest ` FAIL  sum.test.js > suite > test`
                let name = trim(&tw[6..]);
                let mut r = Rec::new(Mode::Vitest, Kind::Error, Severity::Error, String::new(), seq, ts);
                r.confirmed = false;
                if let Some(p) = find(name, b" > ") {
                    r.test = Some(lossy(&name[p + 3..]));
                }
                self.open(r);
            }
            b'T' if starts(tw, b"Tests ") => emit_test(pid, "vitest", t, seq, out),
            b'-' if starts(tw, b"--- ") => {
                self.count_go(tw);
                self.start_go_fail(tw, t.len() - tw.len(), seq, ts);
            }
            b'n' if starts(tw, b"not ok ") => self.start_tap(tw, t.len() - tw.len(), seq, ts),
            b'0'..=b'9' => {
                let ind = t.len() - tw.len();
                if ind == 2 && self.eslint_next == seq {
                    if let Some(f) = eslint_problem(pid, &self.eslint_file, tw, seq) {
                        self.eslint_next = seq + 1;
                        out.push(f);
                    }
                    return;
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
            0xE2 if starts(tw, "● ".as_bytes()) && t.len() - tw.len() == 2 => {
                // Jest `  ● suite › test` (also `● Test suite failed to run`;
                // `● Console` blocks and the repeated summary are swallowed)
                let name = trim(&tw["● ".len()..]);
                let mut r = Rec::new(Mode::Jest, Kind::Error, Severity::Error, String::new(), seq, ts);
                if name == b"Console" || self.jest_summary {
                    r.confirmed = false;
                } else if name != b"Test suite failed to run" {
                    r.test = Some(lossy(name));
                }
                self.open(r);
            }
            // go test failure location `    calc_test.go:13: Add(2,2) = 4, want 5`
            b'a'..=b'z' | b'A'..=b'Z' if starts(t, b"    ") => {
                if let Some(loc) = parse_loc(tw)
                    && loc.path.ends_with(b"_test.go")
                    && !loc.rest.is_empty()
                {
                    // named by the `--- FAIL: TestX` line that follows (go test -v)
                    let mut r = Rec::new(Mode::GoTest, Kind::Error, Severity::Error, lossy(trim(loc.rest)), seq, ts);
                    r.set_loc(loc.path, loc.line, loc.col);
                    r.indent = t.len() - tw.len();
                    self.open(r);
                }
            }
            _ => {}
        }
    }

    /// `--- FAIL: TestX (0.00s)`: a finding once a `x_test.go:N: msg` log
    /// line follows (a panic or a bare `t.Fail()` has no such line).
    fn start_go_fail(&mut self, tw: &[u8], ind: usize, seq: u64, ts: i64) {
        let Some(name) = go_fail_name(tw) else { return };
        let mut r = Rec::new(Mode::GoTest, Kind::Error, Severity::Error, String::new(), seq, ts);
        r.confirmed = false;
        r.language = Some("go");
        r.test = Some(lossy(name));
        r.indent = ind;
        self.open(r);
    }

    /// node --test TAP `not ok 3 - multiplies` (`# SKIP` / `# TODO` are not failures)
    fn start_tap(&mut self, tw: &[u8], ind: usize, seq: u64, ts: i64) {
        let rest = &tw[7..];
        let n = count_digits(rest);
        let name = trim(rest[n..].strip_prefix(b" - ").unwrap_or(&rest[n..]));
        if contains(name, b" # SKIP") || contains(name, b" # TODO") {
            return;
        }
        let mut r = Rec::new(Mode::Tap, Kind::Error, Severity::Error, String::new(), seq, ts);
        r.test = Some(lossy(name));
        r.indent = ind;
        self.open(r);
    }

    /// webpack `ERROR in ./src/a.js 3:7` / `ERROR in ./src/a.js 2:0-24` /
    /// `WARNING in asset size limit: ...`; webpack columns are 0-based.
    fn start_webpack(&mut self, t: &[u8], at: usize, kind: Kind, seq: u64, ts: i64) {
        let sev = if kind == Kind::Error { Severity::Error } else { Severity::Warning };
        let rest = trim(&t[at..]);
        let mut r = Rec::new(Mode::Webpack, kind, sev, String::new(), seq, ts);
        let tok_end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        let tok = &rest[..tok_end];
        if let Some(l) = parse_loc(tok) {
            r.set_loc(l.path, l.line, l.col);
        } else if has_extension(tok) && !contains(tok, b":") {
            r.file = Some(lossy(tok));
            r.language = language_of(tok);
            let after = trim_start(&rest[tok_end..]);
            if let Some((l, n)) = parse_num(after)
                && after.get(n) == Some(&b':')
                && let Some((c, _)) = parse_num(&after[n + 1..])
            {
                r.line = Some(l);
                r.col = Some(c + 1);
            }
        } else if contains(rest, b": ") {
            r.message = lossy(rest);
        }
        self.open(r);
    }

    /// esbuild `✘ [ERROR] Could not resolve "./x"` / `▲ [WARNING] msg [code]`
    fn start_esbuild(&mut self, t: &[u8], at: usize, kind: Kind, seq: u64, ts: i64) {
        let sev = if kind == Kind::Error { Severity::Error } else { Severity::Warning };
        let mut msg = trim(&t[at..]);
        let mut code = None;
        if msg.ends_with(b"]")
            && let Some(p) = memchr::memrchr(b'[', msg)
            && p > 0
            && msg[p - 1] == b' '
            && msg[p + 1..msg.len() - 1].iter().all(|b| b.is_ascii_lowercase() || *b == b'-')
        {
            code = Some(lossy(&msg[p + 1..msg.len() - 1]));
            msg = trim(&msg[..p]);
        }
        let mut r = Rec::new(Mode::Esbuild, kind, sev, lossy(msg), seq, ts);
        r.code = code;
        self.open(r);
    }

    fn start_rust_panic(&mut self, t: &[u8], at: usize, seq: u64, ts: i64) {
        let sev = if self.in_cargo_test { Severity::Error } else { Severity::Critical };
        let rest = trim(&t[at..]);
        let mut r = Rec::new(Mode::RustPanic, Kind::Error, sev, String::new(), seq, ts);
        r.language = Some("rust");
        if rest.first() == Some(&b'\'') {
            // old format: panicked at 'msg', src/main.rs:2:5
            let body = &rest[1..];
            match memchr::memrchr(b'\'', body) {
                Some(q) => {
                    r.message = lossy(&body[..q]);
                    let after = trim_start(body[q + 1..].strip_prefix(b",").unwrap_or(&body[q + 1..]));
                    if let Some((p, l, c)) = loc_from_end(after) {
                        r.set_loc(p, l, c);
                    }
                }
                None => r.message = lossy(body),
            }
            r.stage = 1;
        } else {
            let loc = rest.strip_suffix(b":").unwrap_or(rest);
            if let Some((p, l, c)) = loc_from_end(loc) {
                r.set_loc(p, l, c);
            }
            r.message = lossy(trim(t));
            r.stage = if rest.ends_with(b":") { 0 } else { 1 };
        }
        self.open(r);
    }

    fn start_rust_like(&mut self, pid: u32, t: &[u8], seq: u64, ts: i64, out: &mut Vec<Finding>) {
        let (kind, sev, mut i) =
            if starts(t, b"error") { (Kind::Error, Severity::Error, 5) } else { (Kind::Warning, Severity::Warning, 7) };
        if kind == Kind::Error && starts(&t[i..], b" TS") {
            // tsc global diagnostic: `error TS6053: File 'x' not found.`
            let code_len = t[i + 1..].iter().take_while(|b| b.is_ascii_alphanumeric()).count();
            let mut r = Rec::new(Mode::Single, kind, sev, String::new(), seq, ts);
            r.code = Some(lossy(&t[i + 1..i + 1 + code_len]));
            r.message = lossy(trim(t[i + 1 + code_len..].strip_prefix(b":").unwrap_or(&t[i + 1 + code_len..])));
            r.language = Some("typescript");
            r.cont_ws = true;
            self.open(r);
            return;
        }
        let mut code = None;
        if t.get(i) == Some(&b'[') {
            let Some(p) = memchr::memchr(b']', &t[i..]) else {
                return;
            };
            let end = i + p;
            code = Some(&t[i + 1..end]);
            i = end + 1;
        }
        if t.get(i) != Some(&b':') || t.get(i + 1) != Some(&b' ') {
            return;
        }
        let msg = trim(&t[i + 2..]);
        if kind == Kind::Error {
            if starts(msg, b"could not compile") {
                emit_build(pid, "cargo", false, None, t, seq, out);
                return;
            }
            if starts(msg, b"aborting due to")
                || starts(msg, b"test failed, to rerun")
                || starts(msg, b"process didn't exit successfully")
                || starts(msg, b"Recipe `")
            {
                return;
            }
        } else if msg.ends_with(b"warning emitted")
            || msg.ends_with(b"warnings emitted")
            || (contains(msg, b" generated ") && contains(msg, b" warning"))
            || starts(msg, b"build failed, waiting")
        {
            return;
        }
        let mut r = Rec::new(Mode::RustDiag, kind, sev, lossy(msg), seq, ts);
        if let Some(c) = code {
            if c.len() == 5 && c[0] == b'E' && c[1..].iter().all(u8::is_ascii_digit) {
                r.language = Some("rust");
            }
            r.code = Some(lossy(c));
        }
        self.open(r);
    }

    fn start_loc(&mut self, _pid: u32, _t: &[u8], loc: Loc<'_>, ctx: Option<(u64, u64)>, seq: u64, ts: i64) {
        let rest = trim_start(loc.rest);
        let lang = language_of(loc.path);
        // tsc, both styles
        if (starts(rest, b"error TS") || starts(rest, b"warning TS")) && (loc.paren || loc.col.is_some()) {
            let is_err = rest[0] == b'e';
            let w = if is_err { 6 } else { 8 };
            let code_len = rest[w..].iter().take_while(|b| b.is_ascii_alphanumeric()).count();
            let after = &rest[w + code_len..];
            let msg = trim(after.strip_prefix(b":").unwrap_or(after));
            let (kind, sev) = if is_err { (Kind::Error, Severity::Error) } else { (Kind::Warning, Severity::Warning) };
            let mut r = Rec::new(Mode::Tsc, kind, sev, lossy(msg), seq, ts);
            r.code = Some(lossy(&rest[w..w + code_len]));
            r.set_loc(loc.path, loc.line, loc.col);
            r.language = Some(if lang == Some("javascript") { "javascript" } else { "typescript" });
            r.stage = u8::from(!loc.paren);
            self.open(r);
            return;
        }
        // gcc / clang / javac / generic `file:line:col: error: msg`
        let sevword = if starts(rest, b"error:") {
            Some((Kind::Error, Severity::Error, 6))
        } else if starts(rest, b"fatal error:") {
            Some((Kind::Error, Severity::Error, 12))
        } else if starts(rest, b"warning:") {
            Some((Kind::Warning, Severity::Warning, 8))
        } else {
            None
        };
        if let Some((kind, sev, w)) = sevword {
            let mut msg = trim(&rest[w..]);
            let mut code = None;
            if msg.ends_with(b"]")
                && let Some(p) = memchr::memrchr(b'[', msg)
                && msg.get(p + 1) == Some(&b'-')
            {
                code = Some(lossy(&msg[p + 1..msg.len() - 1]));
                msg = trim(&msg[..p]);
            }
            let mode = if lang == Some("java") { Mode::Javac } else { Mode::CDiag };
            let mut r = Rec::new(mode, kind, sev, lossy(msg), seq, ts);
            r.code = code;
            r.set_loc(loc.path, loc.line, loc.col);
            if let Some(c) = ctx {
                r.first_seq = c.0;
            }
            self.open(r);
            return;
        }
        if starts(rest, b"note:") {
            return;
        }
        if loc.col.is_none() && starts(rest, b"*** ") {
            // make syntax error in an included makefile `rules.mk:12: *** x.  Stop.`
            let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(make_msg(&rest[4..])), seq, ts);
            r.file = Some(lossy(loc.path));
            r.line = Some(loc.line);
            self.open(r);
            return;
        }
        match lang {
            Some("go") if loc.col.is_some() && !rest.is_empty() => {
                let mut r = Rec::new(Mode::GoBuild, Kind::Error, Severity::Error, lossy(trim(rest)), seq, ts);
                r.set_loc(loc.path, loc.line, loc.col);
                self.open(r);
            }
            Some("python") if starts(rest, b"in ") => {
                // pytest traceback entry `test_imp.py:1: in <module>`
                self.pytest_loc = Some((lossy(loc.path), loc.line));
            }
            Some("python") => {
                let n = ident_len(rest);
                if n == 0 {
                    return;
                }
                let name = &rest[..n];
                let after = &rest[n..];
                if name.ends_with(b"Warning") && starts(after, b":") {
                    let mut r = Rec::new(Mode::Single, Kind::Warning, Severity::Warning, lossy(trim(rest)), seq, ts);
                    r.set_loc(loc.path, loc.line, loc.col);
                    r.code = Some(lossy(name));
                    r.cont_ws = true;
                    self.open(r);
                } else if (name.ends_with(b"Error") || name.ends_with(b"Exception")) && trim(after).is_empty() {
                    // pytest failure location `test_calc.py:8: AssertionError`
                    let msg = match self.pytest_e.take() {
                        Some(e) if e.as_bytes().starts_with(name) => e,
                        Some(e) => format!("{}: {}", lossy(name), e),
                        None => lossy(name),
                    };
                    let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, msg, seq, ts);
                    r.set_loc(loc.path, loc.line, loc.col);
                    self.open(r);
                }
            }
            Some("javascript") | Some("typescript") if rest.is_empty() && loc.col.is_none() => {
                let mut r = Rec::new(Mode::NodeFrame, Kind::Error, Severity::Error, String::new(), seq, ts);
                r.set_loc(loc.path, loc.line, None);
                r.loc_locked = true;
                r.confirmed = false;
                self.open(r);
            }
            _ => {}
        }
    }

    /// pytest short summary `ERROR test_imp.py` / `ERROR test_x.py::test_a - msg`
    /// (collection and fixture errors, which have no `file:N: Error` line).
    fn start_pytest_error(&mut self, t: &[u8], seq: u64, ts: i64) -> bool {
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

    fn count_go(&mut self, t: &[u8]) {
        if starts(t, b"--- PASS: ") {
            self.go_counts[0] += 1;
        } else if starts(t, b"--- FAIL: ") {
            self.go_counts[1] += 1;
        } else if starts(t, b"--- SKIP: ") {
            self.go_counts[2] += 1;
        }
    }

    fn emit_go(&mut self, pid: u32, t: &[u8], ok: bool, seq: u64, out: &mut Vec<Finding>) {
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
}

fn ident_len(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'.').count()
}

/// `TypeError: msg`, `java.lang.IllegalStateException: boom`,
/// `AssertionError [ERR_ASSERTION]: x`, `Uncaught Error: x`,
/// `[UnhandledPromiseRejection: ...]`. Returns the end of the name.
fn exc_line(t: &[u8]) -> Option<usize> {
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
fn error_word_colon(t: &[u8]) -> bool {
    let first = |word: &[u8]| {
        memchr::memchr_iter(b':', t)
            .find(|&c| t.get(c + 1) == Some(&b' ') && t[..c].ends_with(word) && c > word.len())
            .map(|c| c - word.len())
    };
    first(b"Error").or_else(|| first(b"Exception")).is_some_and(|p| t[p - 1].is_ascii_alphanumeric())
}

/// A short phrase ending in "error" then `: `: `Internal server error: x`,
/// `Pre-transform error: x`, `Build error: x`.
fn phrase_error(t: &[u8]) -> bool {
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
fn is_level_error(t: &[u8]) -> bool {
    for w in [&b"ERROR"[..], b"[ERROR]", b"FATAL", b"[FATAL]", b"CRITICAL", b"fatal:", b"PANIC"] {
        if let Some(r) = t.strip_prefix(w) {
            return matches!(r.first(), None | Some(b' ' | b':' | b'\t'));
        }
    }
    false
}

fn is_c_context(t: &[u8]) -> bool {
    starts(t, b"In file included from ")
        || (t.ends_with(b":")
            && (contains(t, b": In function ")
                || contains(t, b": In member function ")
                || contains(t, b": In constructor ")
                || contains(t, b": In destructor ")
                || contains(t, b": In instantiation of ")
                || contains(t, b": In lambda function")
                || contains(t, b": At top level")))
}

fn py_frame(r: &mut Rec, tw: &[u8]) {
    // File "/path/x.py", line 3, in main
    let body = &tw[6..];
    let Some(q) = memchr::memchr(b'"', body) else {
        return;
    };
    let path = &body[..q];
    let after = &body[q + 1..];
    if let Some(p) = find(after, b"line ")
        && let Some((l, _)) = parse_num(&after[p + 5..])
    {
        r.file = Some(lossy(path));
        r.line = Some(l);
        r.col = None;
    }
}

fn is_caret_line(tw: &[u8]) -> bool {
    !tw.is_empty() && tw.iter().all(|b| matches!(b, b'^' | b'~' | b' ' | b'\t'))
}

fn cont(r: &mut Rec, t: &[u8], blank: bool) -> Cont {
    if blank {
        return if r.max_blanks() > 0 { Cont::Blank } else { Cont::Reject };
    }
    let tw = trim_start(t);
    let ws = tw.len() != t.len();
    use Cont::*;
    match r.mode {
        Mode::Stack => {
            if ws && starts(tw, b"at ") {
                stack_frame(r, t, tw);
                return Accept;
            }
            if ws && starts(tw, b"...") && tw.ends_with(b" more") {
                return Accept;
            }
            if starts(tw, b"Caused by: ") || (ws && starts(tw, b"Suppressed: ")) {
                return Accept;
            }
            if r.frames == 0 {
                if r.loose && ws && r.lines < 40 {
                    r.lines += 1;
                    if let Some(f) = tw.strip_prefix(b"File: ")
                        && let Some(l) = parse_loc(trim(f))
                    {
                        r.set_loc(l.path, l.line, l.col);
                        r.loc_locked = true;
                    }
                    return Accept;
                }
                if r.node_origin && r.lines < 8 {
                    r.lines += 1;
                    return Accept;
                }
                if starts(t, b"Require stack:") {
                    r.stage = 1;
                    return Accept;
                }
                if r.stage == 1 && starts(t, b"- ") {
                    return Accept;
                }
                return Reject;
            }
            let js = r.language != Some("java");
            if js && (ws || starts(t, b"}") || starts(t, b"Node.js v") || starts(t, b"Emitted 'error' event")) {
                return Accept;
            }
            Reject
        }
        Mode::NodeFrame => match r.stage {
            0 => {
                r.stage = 1;
                Accept
            }
            1 => {
                if is_caret_line(tw) && contains(tw, b"^") {
                    r.stage = 2;
                    Accept
                } else {
                    Reject
                }
            }
            _ => {
                r.message = lossy(trim(t));
                r.confirmed = true;
                r.mode = Mode::Stack;
                r.node_origin = true;
                if r.language.is_none() {
                    r.language = Some("javascript");
                }
                Accept
            }
        },
        Mode::PyTb => match r.stage {
            0 => {
                if ws {
                    if starts(tw, b"File \"") {
                        py_frame(r, tw);
                    }
                    return Accept;
                }
                if starts(t, b"During handling of the above exception")
                    || starts(t, b"The above exception was the direct cause")
                {
                    r.stage = 2;
                    return Accept;
                }
                if !r.confirmed
                    && exc_line(t).is_none()
                    && !t
                        .iter()
                        .take_while(|b| **b != b':')
                        .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
                {
                    return Reject;
                }
                r.message = lossy(trim(t));
                r.confirmed = true;
                r.stage = 1;
                Accept
            }
            1 => {
                if starts(t, b"During handling of the above exception")
                    || starts(t, b"The above exception was the direct cause")
                {
                    r.stage = 2;
                    Accept
                } else {
                    Reject
                }
            }
            _ => {
                if starts(t, b"Traceback (most recent call last)") {
                    r.stage = 0;
                    Accept
                } else {
                    Reject
                }
            }
        },
        Mode::RustDiag => {
            if starts(tw, b"--> ") || starts(tw, b"::: ") {
                if r.file.is_none()
                    && starts(tw, b"--> ")
                    && let Some(l) = parse_loc(trim(&tw[4..]))
                {
                    r.set_loc(l.path, l.line, l.col);
                }
                return Accept;
            }
            if ws {
                if r.code.is_none() && starts(tw, b"= note: `#[") {
                    // `#[warn(unused_mut)]` → lint name as code
                    if let Some(p) = memchr::memchr(b'(', tw)
                        && let Some(q) = memchr::memchr(b')', &tw[p..])
                    {
                        r.code = Some(lossy(&tw[p + 1..p + q]));
                    }
                }
                return Accept;
            }
            let d = count_digits(t);
            if d > 0 {
                let after = trim_start(&t[d..]);
                if matches!(after.first(), Some(b'|' | b'+' | b'~' | b'-')) {
                    return Accept;
                }
            }
            if starts(t, b"note: ") || starts(t, b"help: ") || starts(t, b"note[") || starts(t, b"...") {
                return Accept;
            }
            Reject
        }
        Mode::RustPanic => {
            if r.stage == 0 {
                r.message = lossy(trim(t));
                r.stage = 1;
                return Accept;
            }
            if ws || starts(t, b"note: ") || starts(t, b"stack backtrace:") {
                return Accept;
            }
            Reject
        }
        Mode::CDiag => {
            if ws || starts(t, b"In file included from ") {
                return Accept;
            }
            if let Some(l) = parse_loc(t) {
                let rest = l.rest;
                if starts(trim_start(rest), b"note:")
                    || starts(rest, b"   required from")
                    || starts(rest, b"   required by")
                {
                    return Accept;
                }
            }
            Reject
        }
        Mode::Javac => {
            if ws {
                r.stage = 1;
                return Accept;
            }
            if r.stage == 0 {
                if let Some(l) = parse_loc(t)
                    && language_of(l.path) == Some("java")
                {
                    return Reject;
                }
                r.stage = 1;
                return Accept;
            }
            Reject
        }
        Mode::Tsc => {
            if ws {
                return Accept;
            }
            if r.stage == 1 && count_digits(t) > 0 && !starts(t, b"Found ") {
                return Accept;
            }
            Reject
        }
        Mode::GoBuild => {
            if ws {
                Accept
            } else {
                Reject
            }
        }
        Mode::GoPanic => {
            if ws {
                if r.file.is_none() && !contains(tw, b"/src/runtime/") && !contains(tw, b"/src/testing/") {
                    let end = find(tw, b" +0x").unwrap_or(tw.len());
                    if let Some((p, l, c)) = loc_from_end(&tw[..end])
                        && language_of(p) == Some("go")
                    {
                        r.set_loc(p, l, c);
                    }
                }
                return Accept;
            }
            if starts(t, b"goroutine ") || starts(t, b"created by ") || starts(t, b"[signal ") || starts(t, b"panic: ")
            {
                return Accept;
            }
            if t.ends_with(b")") && memchr::memchr(b'(', t).is_some_and(|p| memchr::memchr(b' ', &t[..p]).is_none()) {
                return Accept;
            }
            Reject
        }
        Mode::TestBlock => {
            if r.framework == "node" {
                if let Some(body) = t.strip_prefix(b"# ") {
                    let w = body.iter().take_while(|b| b.is_ascii_alphabetic() || **b == b'_').count();
                    let key = &body[..w];
                    let val = trim(&body[w..]);
                    match key {
                        b"pass" => r.counts[0] = parse_num(val).map_or(0, |x| x.0),
                        b"fail" => r.counts[1] += parse_num(val).map_or(0, |x| x.0),
                        b"cancelled" => r.counts[1] += parse_num(val).map_or(0, |x| x.0),
                        b"skipped" | b"todo" => r.counts[2] += parse_num(val).map_or(0, |x| x.0),
                        b"duration_ms" => {
                            let ms = val.iter().take_while(|b| b.is_ascii_digit()).count();
                            if ms > 0 {
                                r.fields.push(("duration_ms".into(), lossy(&val[..ms])));
                            }
                        }
                        b"tests" | b"suites" => {}
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
        Mode::Npm => {
            if starts(t, b"npm ERR!") || starts(t, b"npm error") {
                Accept
            } else {
                Reject
            }
        }
        Mode::Jest => {
            if !ws || (t.len() - tw.len() == 2 && starts(tw, "● ".as_bytes())) {
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
        Mode::Mocha => {
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
        Mode::Vitest => {
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
        Mode::Tap => {
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
        Mode::GoTest => {
            if let Some(name) = go_fail_name(tw) {
                // -v prints the logs first, then `--- FAIL: TestX`; a parent
                // without logs of its own takes the name of its failing subtest
                if r.test.is_none() || r.file.is_none() {
                    r.test = Some(lossy(name));
                    r.counts[1] += 1;
                    return Accept;
                }
                return Reject;
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
        Mode::Webpack => {
            if r.lines > 200 {
                return Reject;
            }
            r.lines += 1;
            if r.message.is_empty() {
                r.message = lossy(trim(t));
            }
            Accept
        }
        Mode::Esbuild => {
            if !ws {
                return Reject;
            }
            if r.file.is_none()
                && let Some(l) = parse_loc(tw)
                && trim(l.rest).is_empty()
            {
                r.set_loc(l.path, l.line, l.col);
            }
            Accept
        }
        Mode::Single => {
            if r.tb_merge && starts(t, b"Traceback (most recent call last)") {
                r.mode = Mode::PyTb;
                r.stage = 0;
                r.confirmed = true;
                r.language = Some("python");
                return Accept;
            }
            if r.cont_ws && ws && r.lines < 20 {
                r.lines += 1;
                Accept
            } else {
                Reject
            }
        }
    }
}

fn stack_frame(r: &mut Rec, t: &[u8], tw: &[u8]) {
    r.frames += 1;
    r.confirmed = true;
    let mut body = &tw[3..];
    if let Some(b) = body.strip_suffix(b" {") {
        body = b;
    }
    let inner = if body.ends_with(b")") {
        match memchr::memrchr(b'(', body) {
            Some(p) => &body[p + 1..body.len() - 1],
            None => body,
        }
    } else {
        body
    };
    if r.language.is_none() || r.language == Some("javascript") && r.frames == 1 && r.file.is_none() {
        let java =
            t[0] == b'\t' || contains(inner, b".java:") || inner == b"Native Method" || inner == b"Unknown Source";
        if java {
            r.language = Some("java");
        } else if r.language.is_none() {
            r.language = Some("javascript");
        }
    }
    if r.loc_locked || r.file.is_some() {
        return;
    }
    if starts(inner, b"node:") || starts(inner, b"internal/") {
        return;
    }
    if let Some((p, l, c)) = loc_from_end(inner) {
        let jdk = r.language == Some("java") && {
            let f = body;
            starts(f, b"java.")
                || starts(f, b"jdk.")
                || starts(f, b"sun.")
                || starts(f, b"javax.")
                || starts(f, b"kotlin.")
                || starts(f, b"org.junit.")
        };
        if jdk || contains(p, b"node_modules") {
            if r.fallback.is_none() {
                r.fallback = Some((lossy(p), l, c));
            }
            return;
        }
        r.file = Some(lossy(p));
        r.line = Some(l);
        r.col = c;
        if let Some(lang) = language_of(p)
            && (lang == "typescript" || r.language != Some("java"))
        {
            r.language = Some(lang);
        }
    }
}

fn finish(mut r: Rec, pid: u32, out: &mut Vec<Finding>) {
    if !r.confirmed {
        return;
    }
    if r.file.is_none()
        && let Some((f, l, c)) = r.fallback.take()
    {
        r.file = Some(f);
        r.line = Some(l);
        r.col = c;
    }
    if let Some(t) = r.test.take() {
        r.fields.push(("test".into(), t));
    }
    if r.language.is_none()
        && let Some(f) = r.file.as_deref()
    {
        r.language = language_of(f.as_bytes());
    }
    if r.mode == Mode::TestBlock {
        let mut f = test_finding(pid, r.framework, r.message.as_bytes(), r.first_seq, r.counts);
        f.last_seq = r.last_seq;
        f.fields.extend(r.fields);
        out.push(f);
        return;
    }
    out.push(Finding {
        process: pid,
        kind: r.kind,
        severity: r.severity,
        message: r.message,
        first_seq: r.first_seq,
        last_seq: r.last_seq,
        file: r.file,
        line: r.line,
        column: r.col,
        code: r.code,
        language: r.language.map(str::to_string),
        fields: r.fields,
    });
}

fn test_finding(pid: u32, framework: &str, line: &[u8], seq: u64, c: [u32; 3]) -> Finding {
    Finding {
        process: pid,
        kind: Kind::Test,
        severity: if c[1] > 0 { Severity::Error } else { Severity::Info },
        message: lossy(trim(line)),
        first_seq: seq,
        last_seq: seq,
        file: None,
        line: None,
        column: None,
        code: None,
        language: None,
        fields: vec![
            ("passed".into(), c[0].to_string()),
            ("failed".into(), c[1].to_string()),
            ("skipped".into(), c[2].to_string()),
            ("framework".into(), framework.into()),
        ],
    }
}

/// Jest `Tests: 1 failed, 3 passed, 4 total`, Vitest `Tests  1 failed | 3
/// passed (4)`, pytest `== 2 failed, 2 passed in 0.02s ==`, cargo `test
/// result: FAILED. 2 passed; 1 failed; 1 ignored; ...`.
fn emit_test(pid: u32, framework: &str, t: &[u8], seq: u64, out: &mut Vec<Finding>) {
    let mut c = [0u32; 3];
    let mut errors = 0;
    let mut any = false;
    for_each_count(t, |w, n| {
        any = true;
        match w {
            b"passed" => c[0] += n,
            b"failed" => c[1] += n,
            b"skipped" | b"ignored" | b"todo" | b"pending" => c[2] += n,
            b"error" | b"errors" => errors += n,
            _ => {}
        }
    });
    if !any {
        return;
    }
    c[1] += errors;
    out.push(test_finding(pid, framework, t, seq, c));
}

fn emit_build(pid: u32, tool: &str, ok: bool, dur: Option<u64>, t: &[u8], seq: u64, out: &mut Vec<Finding>) {
    let mut fields =
        vec![("status".to_string(), if ok { "success" } else { "failure" }.to_string()), ("tool".into(), tool.into())];
    if let Some(d) = dur {
        fields.push(("duration_ms".into(), d.to_string()));
    }
    out.push(Finding {
        process: pid,
        kind: Kind::Build,
        severity: if ok { Severity::Info } else { Severity::Error },
        message: lossy(trim(t)),
        first_seq: seq,
        last_seq: seq,
        file: None,
        line: None,
        column: None,
        code: None,
        language: None,
        fields,
    });
}

/// tsc `Found 0 errors.` → build success; `Found 2 errors. Watching for
/// file changes.` → build failure. The final batch summary `Found 3 errors
/// in 2 files.` is not a finding (every error was reported already).
fn emit_tsc_found(pid: u32, t: &[u8], seq: u64, out: &mut Vec<Finding>) {
    let Some((n, len)) = parse_num(&t[6..]) else {
        return;
    };
    if !starts(&t[6 + len..], b" error") {
        return;
    }
    if n == 0 {
        emit_build(pid, "tsc", true, None, t, seq, out);
    } else if contains(t, b"Watching for file changes") {
        emit_build(pid, "tsc", false, None, t, seq, out);
    }
}

/// `--- FAIL: TestX/sub (0.00s)` → `TestX/sub`
fn go_fail_name(tw: &[u8]) -> Option<&[u8]> {
    let rest = tw.strip_prefix(b"--- FAIL: ")?;
    let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// mocha failure header `1) title` (after the indentation)
fn mocha_header(tw: &[u8]) -> bool {
    let n = count_digits(tw);
    n > 0 && tw[n..].starts_with(b") ")
}

/// `'quoted'` → `quoted`
fn unquote(v: &[u8]) -> &[u8] {
    let v = trim(v);
    if v.len() >= 2 && v[0] == b'\'' && v[v.len() - 1] == b'\'' { &v[1..v.len() - 1] } else { v }
}

/// A stack frame body (`Object.toBe (sum.test.js:3:46)`, `/a/b.js:3:7`) → location.
fn frame_loc(body: &[u8]) -> Option<(&[u8], u32, Option<u32>)> {
    let body = trim(body);
    let inner = if body.ends_with(b")") {
        match memchr::memrchr(b'(', body) {
            Some(p) => &body[p + 1..body.len() - 1],
            None => body,
        }
    } else {
        body
    };
    loc_from_end(inner)
}

/// A frame of a failing test: the first frame in a test file wins; else the
/// first frame outside node internals and node_modules (`fallback`).
fn test_frame(r: &mut Rec, p: &[u8], l: u32, c: Option<u32>) {
    if r.loc_locked || starts(p, b"node:") || starts(p, b"internal/") || contains(p, b"node_modules") {
        return;
    }
    if is_test_path(p) {
        r.set_loc(p, l, c);
        r.loc_locked = true;
    } else if r.fallback.is_none() {
        r.fallback = Some((lossy(p), l, c));
    }
}

fn is_test_path(p: &[u8]) -> bool {
    let base = memchr::memrchr2(b'/', b'\\', p).map_or(p, |i| &p[i + 1..]);
    starts(base, b"test")
        || contains(base, b".test.")
        || contains(base, b".spec.")
        || contains(base, b"_test.")
        || contains(p, b"__tests__")
        || contains(p, b"/test/")
        || contains(p, b"/tests/")
}

/// ESLint stylish file header: an absolute path alone on its line
/// (`/home/u/app/src/a.js`, `C:\app\src\a.js`). `colon` is the first ':'.
fn is_eslint_header(t: &[u8], colon: Option<usize>) -> bool {
    let abs = match colon {
        None => t[0] == b'/',
        Some(1) => {
            t[0].is_ascii_alphabetic()
                && matches!(t.get(2), Some(b'\\' | b'/'))
                && memchr::memchr(b':', &t[2..]).is_none()
        }
        _ => false,
    };
    abs && has_extension(t) && find(t, b"  ").is_none()
}

/// ESLint stylish problem `1:7   error    'fs' is assigned ...  no-unused-vars`
/// (after the two-space indentation).
fn eslint_problem(pid: u32, file: &[u8], tw: &[u8], seq: u64) -> Option<Finding> {
    let (line, n) = parse_num(tw)?;
    if tw.get(n) != Some(&b':') {
        return None;
    }
    let (col, m) = parse_num(&tw[n + 1..])?;
    let rest = trim_start(&tw[n + 1 + m..]);
    let (kind, severity, w) = if starts(rest, b"error ") {
        (Kind::Error, Severity::Error, 5)
    } else if starts(rest, b"warning ") {
        (Kind::Warning, Severity::Warning, 7)
    } else {
        return None;
    };
    let body = trim(&rest[w..]);
    // the rule id is the last column, separated by at least two spaces
    let (msg, code) = match memchr::memrchr(b' ', body) {
        Some(p) if p > 0 && body[p - 1] == b' ' => (trim(&body[..p]), Some(lossy(&body[p + 1..]))),
        _ => (body, None),
    };
    Some(Finding {
        process: pid,
        kind,
        severity,
        message: lossy(msg),
        first_seq: seq,
        last_seq: seq,
        file: Some(lossy(file)),
        line: Some(line),
        column: Some(col),
        code,
        language: language_of(file).map(str::to_string),
        fields: Vec::new(),
    })
}

/// GNU make `Makefile:4: *** missing separator.  Stop.` (`colon` is the
/// first ':'); `make: *** [Makefile:2: all] Error 1` is not one.
fn make_error(t: &[u8], colon: usize) -> Option<(&[u8], u32, &[u8])> {
    let path = &t[..colon];
    if !(path.ends_with(b"akefile") || path.ends_with(b".mk")) || memchr::memchr(b' ', path).is_some() {
        return None;
    }
    let (line, n) = parse_num(&t[colon + 1..])?;
    let msg = t[colon + 1 + n..].strip_prefix(b": *** ")?;
    Some((path, line, make_msg(msg)))
}

/// `missing separator.  Stop.` → `missing separator`
fn make_msg(msg: &[u8]) -> &[u8] {
    let msg = trim(msg);
    let msg = msg.strip_suffix(b"  Stop.").unwrap_or(msg);
    msg.strip_suffix(b".").unwrap_or(msg)
}

/// `webpack 5.113.0 compiled successfully in 122 ms` / `... compiled with 2
/// errors in 121 ms` / `webpack compiled with 1 warning`.
fn emit_webpack_done(pid: u32, t: &[u8], seq: u64, out: &mut Vec<Finding>) {
    let Some(p) = find(t, b" compiled ") else { return };
    if p > 30 {
        return;
    }
    let rest = &t[p + 10..];
    let ok = if starts(rest, b"successfully") {
        true
    } else if starts(rest, b"with ") {
        !contains(rest, b" error")
    } else {
        return;
    };
    let dur = find(rest, b" in ").and_then(|q| parse_duration_ms(&rest[q + 4..]));
    emit_build(pid, "webpack", ok, dur, t, seq, out);
}
