//! The record: one finding being assembled from one or more lines, the
//! mode that says which lines may continue it, and the helpers that turn a
//! record or a summary line into a [`Finding`]. Imports `text` and
//! `locations` only.

use crate::locations::*;
use crate::text::*;
use crate::{Finding, Kind, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
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
    /// pytest `____ test_x ____` failure / error section
    Pytest,
    /// JUnit console launcher `Failures (N):` entry
    JUnit,
    /// cargo nextest `FAIL [ 0.1s] crate tests::x` block
    Nextest,
    /// Biome `path:l:c category ━━━` diagnostic
    Biome,
    /// an interpreter's error line and its indented frames (Ruby, PHP, Lua, Elixir)
    Script,
    /// RSpec `  1) description` failure after `Failures:`
    RSpec,
    /// `CMake Error at path:l (fn):` + message + call stack
    CMake,
    /// a failed CTest test and its output
    CTest,
    /// Deno ` ERRORS ` entry `name => path:l:c`
    Deno,
    /// Go race detector report
    GoRace,
    /// pytest --tb=line `E   msg` + `path:N: msg`
    PytestLine,
    /// AddressSanitizer / valgrind report
    Memcheck,
    /// one line, optionally with indented continuation lines
    Single,
}

pub(crate) struct Rec {
    pub(crate) mode: Mode,
    pub(crate) kind: Kind,
    pub(crate) severity: Severity,
    pub(crate) message: String,
    pub(crate) first_seq: u64,
    pub(crate) last_seq: u64,
    pub(crate) last_ts: i64,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
    pub(crate) col: Option<u32>,
    pub(crate) code: Option<String>,
    pub(crate) language: Option<&'static str>,
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) confirmed: bool,
    pub(crate) stage: u8,
    pub(crate) blanks: u8,
    pub(crate) lines: u16,
    pub(crate) frames: u16,
    pub(crate) loc_locked: bool,
    pub(crate) node_origin: bool,
    /// Single: accept indented continuation lines
    pub(crate) cont_ws: bool,
    /// Single: accept the unindented lines of its paragraph (a notice's)
    pub(crate) paragraph: bool,
    /// Single: a following `Traceback (most recent call last):` continues
    /// this record (log line `ERROR request failed` / `Exception in thread
    /// Thread-1 (worker):` + traceback)
    pub(crate) tb_merge: bool,
    /// Stack started by a phrase like `Internal server error: x` (vite):
    /// indented detail lines (`File: path:l:c`, code frame) precede frames
    pub(crate) loose: bool,
    /// Stack (loose): the message was taken from a detail line
    pub(crate) detail: bool,
    pub(crate) fallback: Option<(String, u32, Option<u32>)>,
    /// where the error was raised (the innermost frame, whoever's code it
    /// is); a `raised_at` field when the location chosen is another frame
    pub(crate) raised: Option<(String, u32)>,
    /// a second text the family may need (pytest: the first `E` line)
    pub(crate) note: Option<String>,
    /// passed, failed, skipped
    pub(crate) counts: [u32; 3],
    pub(crate) framework: &'static str,
    /// full name of the failing test (pushed as the `test` field)
    pub(crate) test: Option<String>,
    /// indentation of the line that opened the record (TAP, mocha)
    pub(crate) indent: usize,
    /// trailing lines that may introduce the next record rather than
    /// continue this one: (their first seq, `last_seq` before them)
    pub(crate) tail: Option<(u64, u64)>,
    /// indentation of the first stack frame (`    at f (a.js:1:2)`)
    pub(crate) frame_ind: u16,
}

impl Rec {
    pub(crate) fn new(mode: Mode, kind: Kind, severity: Severity, message: String, seq: u64, ts: i64) -> Rec {
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
            paragraph: false,
            tb_merge: false,
            loose: false,
            detail: false,
            fallback: None,
            raised: None,
            note: None,
            counts: [0; 3],
            framework: "",
            test: None,
            indent: 0,
            tail: None,
            frame_ind: 0,
        }
    }

    pub(crate) fn set_loc(&mut self, path: &[u8], line: u32, col: Option<u32>) {
        self.file = Some(lossy(path));
        self.line = Some(line);
        self.col = col;
        if self.language.is_none() {
            self.language = language_of(path);
        }
    }

    pub(crate) fn max_blanks(&self) -> u8 {
        match self.mode {
            Mode::Stack => {
                if (self.node_origin || self.loose) && self.frames == 0 {
                    2
                } else {
                    1
                }
            }
            // (node prints one blank line before the error; tsx two)
            Mode::NodeFrame => 2 * u8::from(self.stage == 2),
            Mode::PyTb => u8::from(self.stage > 0),
            Mode::RustDiag => 1,
            Mode::Tsc if self.stage == 1 => 2,
            Mode::GoPanic => 1,
            Mode::TestBlock => 1,
            Mode::Jest | Mode::Tap => 2,
            Mode::Mocha | Mode::Vitest | Mode::Esbuild => 1,
            Mode::Pytest => 50,
            Mode::JUnit => 0,
            Mode::Nextest => 2,
            Mode::Biome => 1,
            Mode::Script => 1,
            Mode::RSpec => 1,
            Mode::CMake => 1,
            Mode::CTest => 0,
            Mode::Deno => 2,
            Mode::GoRace => 1,
            Mode::PytestLine => 0,
            Mode::Memcheck => u8::from(self.stage == 0),
            _ => 0,
        }
    }
}

pub(crate) enum Cont {
    Accept,
    Blank,
    Reject,
    /// not known yet: held until a later line tells (see `lookahead`)
    Hold,
}

pub(crate) fn finish(mut r: Rec, pid: u32, out: &mut Vec<Finding>) {
    if !r.confirmed {
        return;
    }
    if r.mode == Mode::Pytest {
        crate::families::pytest::finish_pytest(&mut r);
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
    if let Some((f, l)) = r.raised.take()
        && (r.line != Some(l) || r.file.as_deref() != Some(f.as_str()))
    {
        r.fields.push(("raised_at".into(), format!("{f}:{l}")));
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

pub(crate) fn test_finding(pid: u32, framework: &str, line: &[u8], seq: u64, c: [u32; 3]) -> Finding {
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
pub(crate) fn emit_test(pid: u32, framework: &str, t: &[u8], seq: u64, out: &mut Vec<Finding>) {
    let mut c = [0u32; 3];
    let mut errors = 0;
    let mut any = false;
    for_each_count(t, |w, n| {
        any = true;
        match w {
            b"passed" => c[0] += n,
            b"failed" => c[1] += n,
            // (a todo is neither run nor skipped)
            b"skipped" | b"ignored" | b"pending" => c[2] += n,
            b"error" | b"errors" => errors += n,
            _ => {}
        }
    });
    // vitest in a terminal draws a live `Tests 0 passed (0)` before any test ran
    if !any || framework == "vitest" && c == [0, 0, 0] && errors == 0 {
        return;
    }
    c[1] += errors;
    out.push(test_finding(pid, framework, t, seq, c));
}

pub(crate) fn emit_build(pid: u32, tool: &str, ok: bool, dur: Option<u64>, t: &[u8], seq: u64, out: &mut Vec<Finding>) {
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
