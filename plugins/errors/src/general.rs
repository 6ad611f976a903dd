//! The general forms a line with nothing open may start, after the
//! anchored ones of `dispatch` let it through: locations, exception lines,
//! log levels, lint file headers, linker and errno lines. Healthy output
//! mostly leaves at the one `memchr` for a ':' in `start_other`: without a
//! ':' only a handful of forms (`start_without_colon`) can start anything.

use crate::blocks::*;
use crate::families::{bundlers::*, compilers::*, pytest::*};
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Kind, Severity};

impl StreamState {
    /// A lint report's file header: problem lines follow; it starts at the
    /// tool's tag alone on the line before (`[eslint]` + `src/App.js`).
    pub(crate) fn lint_header(&mut self, file: &[u8], seq: u64) {
        self.eslint_file.clear();
        self.eslint_file.extend_from_slice(file);
        self.eslint_next = seq + 1;
        self.eslint_head = if self.tag_seq + 1 == seq { self.tag_seq } else { seq };
    }

    /// An error header whose details (message, location, code frame) follow.
    pub(crate) fn start_details(&mut self, t: &[u8], seq: u64, ts: i64) {
        let mut r = Rec::new(Mode::Stack, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
        r.loose = true;
        self.open(r);
    }

    /// A line with no anchored start: the general forms.
    pub(crate) fn start_other(&mut self, t: &[u8], ctx: Option<(u64, u64)>, seq: u64, ts: i64) {
        if self.start_script(t, seq, ts) {
            return;
        }
        if t.ends_with(b")")
            && let Some(p) = find(t, b" (Wstat: ")
            && let Some(q) = find(&t[p..], b" Failed: ")
        {
            // prove's summary report: `t/calc.t (Wstat: 65280 (exited 255) Tests: 3 Failed: 1)`
            self.prove_failed += parse_num(&t[p + q + 9..]).map_or(0, |x| x.0);
            return;
        }
        if let Some((p, l, c)) = paren_loc(t) {
            // Next.js `⨯ lib/products.ts (4:22) @ items`, then the error and its stack
            let mut r = Rec::new(Mode::Stack, Kind::Error, Severity::Error, String::new(), seq, ts);
            r.set_loc(p, l, c);
            r.loc_locked = true;
            r.confirmed = false;
            self.open(r);
            return;
        }
        if self.deno_section > 0 && self.start_deno(t, seq, ts) {
            return;
        }
        if t.ends_with(b" FAILED") && self.start_gradle_test(t, seq, ts) {
            return;
        }
        if t[0].is_ascii_uppercase()
            && t.get(1).is_some_and(u8::is_ascii_alphanumeric)
            && self.start_code_header(t, seq, ts)
        {
            return;
        }
        let colon = memchr::memchr(b':', t);
        if colon.is_none() {
            return self.start_without_colon(t, ctx, seq, ts);
        }
        if t.ends_with("━".as_bytes()) && self.start_biome(t, seq, ts) {
            return;
        }
        if let Some(c) = colon
            && t.get(c + 1) == Some(&b':')
            && t[..c].ends_with(b".py")
            && memchr::memchr(b' ', t).is_none()
        {
            // pytest node id `tests/test_a.py::test_old` (warnings summary)
            self.nodeid_seq = seq;
            return;
        }
        if let Some(loc) = parse_loc(t) {
            return self.start_loc(loc, ctx, seq, ts);
        }
        if is_c_context(t) {
            if ctx.is_none() {
                self.ctx_loc = None;
            }
            self.ctx = Some((ctx.map_or(seq, |c| c.0), seq));
            return;
        }
        if let Some(name_end) = exc_line(t) {
            let mut r = Rec::new(Mode::Stack, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
            if name_end == 0 {
                r.mode = Mode::Single;
            }
            // `Error: Failed to scan for dependencies from entries:` announces details
            r.loose = trim(t).ends_with(b":");
            // Babel `SyntaxError: /app/src/App.js: Expected ... (8:4)`
            if let Some(p) = find(t, b": ")
                && let Some((path, line, col)) = detail_loc(trim(&t[p + 2..]))
            {
                r.set_loc(path, line, col);
                r.loc_locked = true;
            }
            self.open(r);
            return;
        }
        if self.start_error_word(t, seq, ts) {
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
        if (t[0] == b'/' || colon == Some(1)) && is_eslint_header(t, colon) {
            // ESLint stylish file header: problem lines follow
            self.lint_header(t, seq);
            return;
        }
        let Some(colon) = colon else {
            if starts(t, b"/usr/bin/ld") || starts(t, b"ld") {
                return self.start_ld(t, ctx, seq, ts);
            }
            return;
        };
        if let Some(code) = django_check(t, colon) {
            // `shop.Item.price: (fields.E130) DecimalFields must define ...`
            let (kind, sev) = if code.contains(&b'W') && !code.contains(&b'E') {
                (Kind::Warning, Severity::Warning)
            } else {
                (Kind::Error, Severity::Error)
            };
            let msg = trim(&t[colon + 1 + 2 + code.len() + 1..]);
            let mut r = Rec::new(Mode::Single, kind, sev, lossy(msg), seq, ts);
            r.code = Some(lossy(code));
            r.language = Some("python");
            r.cont_ws = true;
            self.open(r);
            return;
        }
        if let Some((path, line, msg)) = make_error(t, colon) {
            // `Makefile:4: *** missing separator.  Stop.`
            let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(msg), seq, ts);
            r.file = Some(lossy(path));
            r.line = Some(line);
            self.open(r);
            return;
        }
        if self.start_errno(t, seq, ts) {
            return;
        }
        self.start_ld(t, ctx, seq, ts);
    }

    /// A line that starts with ERROR: pytest's short-summary `ERROR id` (with
    /// sections printed, it only repeats them and names their tests) or a
    /// logger's `ERROR ...` line. True when it was one.
    fn start_error_word(&mut self, t: &[u8], seq: u64, ts: i64) -> bool {
        if starts(t, b"ERROR ") && is_pytest_summary_error(t) {
            if !self.pytest_sections {
                self.start_pytest_error(t, seq, ts);
            } else {
                self.pytest_summary_names(&t[6..]);
            }
            return true;
        }
        if is_level_error(t) {
            let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
            r.tb_merge = true;
            self.open(r);
            return true;
        }
        false
    }

    /// The fast reject: most lines of healthy output have no ':' and no
    /// anchored form; these are the only ones that can still start a record.
    fn start_without_colon(&mut self, t: &[u8], ctx: Option<(u64, u64)>, seq: u64, ts: i64) {
        let b0 = t[0];
        if b0.is_ascii_uppercase() && self.start_error_word(t, seq, ts) {
            return;
        }
        if (t.ends_with(b"Error") || t.ends_with(b"Exception") || t.ends_with(b"]"))
            && let Some(name_end) = exc_line(t)
        {
            // a bare exception name (`ReferenceError`), `[UnhandledPromiseRejection ...]`
            let mut r = Rec::new(Mode::Stack, Kind::Error, Severity::Error, lossy(trim(t)), seq, ts);
            if name_end == 0 {
                r.mode = Mode::Single;
            }
            self.open(r);
            return;
        }
        // tsc `src/a.ts(4,7) error ...` is the only location without a ':'
        if memchr::memchr(b'(', t).is_some_and(|p| t.get(p + 1).is_some_and(u8::is_ascii_digit))
            && let Some(loc) = parse_loc(t)
        {
            return self.start_loc(loc, ctx, seq, ts);
        }
        if t.ends_with("━".as_bytes()) && self.start_biome(t, seq, ts) {
            return;
        }
        if starts(t, b"./") && has_extension(t) && memchr::memchr(b' ', t).is_none() {
            // Next.js / webpack name the module, then its error: `./app/page.tsx` + `Error:` + frame
            let mut r = Rec::new(Mode::Stack, Kind::Error, Severity::Error, String::new(), seq, ts);
            r.file = Some(lossy(&t[2..]));
            r.language = language_of(t);
            r.loose = true;
            r.confirmed = false;
            self.open(r);
            // (or a lint report's file header: `next lint`)
            self.lint_header(&t[2..], seq);
            return;
        }
        if (b0 == b'/' || b0.is_ascii_alphanumeric() || b0 == b'.') && is_eslint_header(t, None) {
            // ESLint stylish file header: problem lines follow
            self.lint_header(t, seq);
            return;
        }
        if starts(t, b"/usr/bin/ld") || starts(t, b"ld") {
            self.start_ld(t, ctx, seq, ts);
        }
    }
}
