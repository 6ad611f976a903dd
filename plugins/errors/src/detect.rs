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
        match b0 {
            b'T' if starts(t, b"Traceback (most recent call last)") => {
                let mut r = Rec::new(Mode::PyTb, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
                r.language = Some("python");
                self.open(r);
            }
            b'T' if starts(t, b"Tests:") => {
                emit_test(pid, "jest", t, seq, out);
            }
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
            b'-' if starts(t, b"--- ") => self.count_go(t),
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
                let has_colon = memchr::memchr(b':', t).is_some();
                if !has_colon && !starts(t, b"/usr/bin/ld") && !starts(t, b"ld") {
                    return;
                }
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
            b'T' if starts(tw, b"Tests ") => emit_test(pid, "vitest", t, seq, out),
            b'-' if starts(tw, b"--- ") => self.count_go(tw),
            b'0'..=b'9' => {
                if let Some((n, len)) = parse_num(tw)
                    && starts(&tw[len..], b" passing")
                {
                    let mut r = Rec::new(Mode::TestBlock, Kind::Test, Severity::Info, lossy(trim(t)), seq, ts);
                    r.framework = "mocha";
                    r.counts[0] = n;
                    self.open(r);
                }
            }
            0xE2 if starts(tw, "✓ built in ".as_bytes()) => {
                emit_build(pid, "vite", true, parse_duration_ms(&tw[13..]), t, seq, out);
            }
            // go test failure location `    calc_test.go:13: Add(2,2) = 4, want 5`
            b'a'..=b'z' | b'A'..=b'Z' if starts(t, b"    ") => {
                if let Some(loc) = parse_loc(tw)
                    && loc.path.ends_with(b"_test.go")
                    && !loc.rest.is_empty()
                {
                    let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(trim(loc.rest)), seq, ts);
                    r.set_loc(loc.path, loc.line, loc.col);
                    self.open(r);
                }
            }
            _ => {}
        }
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
