//! Compilers and build tools: rustc / cargo, gcc / clang / ld, javac, tsc,
//! go build, make.

use crate::blocks::StreamState;
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Finding, Kind, Severity};

impl StreamState {
    pub(crate) fn start_rust_panic(&mut self, t: &[u8], at: usize, seq: u64, ts: i64) {
        let sev = if self.in_cargo_test { Severity::Error } else { Severity::Critical };
        let rest = trim(&t[at..]);
        let mut r = Rec::new(Mode::RustPanic, Kind::Error, sev, String::new(), seq, ts);
        r.language = Some("rust");
        // cargo test: `---- tests::x stdout ----` names the test and opens its output
        // (a doc test's panic is in thread 'main': `---- src/lib.rs - f (line 12) stdout ----`)
        let doctest =
            self.cargo_test_out.as_ref().and_then(|(n, _)| doctest_line(n.as_bytes()).map(|(f, l)| (f.to_vec(), l)));
        if let Some((name, at)) = self.cargo_test_out.take()
            && (t.get(8..8 + name.len()) == Some(name.as_bytes()) || doctest.is_some())
        {
            if doctest.is_some() {
                // its header is the doc test's location: the finding starts there
                r.first_seq = at;
            }
            r.test = Some(name);
        }
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
            if let Some((file, line)) = &doctest
                && r.file.as_deref().is_some_and(|f| f.contains("rustdoctest"))
            {
                // the panic is in rustdoc's temporary bundle: locate the doc test
                r.raised = r.file.take().zip(r.line);
                r.set_loc(file, *line, None);
            }
        }
        self.open(r);
    }

    pub(crate) fn start_rust_like(&mut self, pid: u32, t: &[u8], seq: u64, ts: i64, out: &mut Vec<Finding>) {
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
            if starts(msg, b"aborting due to") {
                // rustc run directly; under cargo, `could not compile` says it
                emit_build(pid, "rustc", false, None, t, seq, out);
                return;
            }
            if starts(msg, b"test failed, to rerun")
                || starts(msg, b"doctest failed, to rerun")
                || msg == b"test run failed"
                || msg == b"Test failed"
                || starts(msg, b"process didn't exit successfully")
                || starts(msg, b"Recipe `")
            {
                return;
            }
        } else if msg.ends_with(b"warning emitted")
            || msg.ends_with(b"warnings emitted")
            || (contains(msg, b" generated ") && contains(msg, b" warning"))
            || starts(msg, b"build failed, waiting")
            || contains(msg, b" tests were not run due to test failure")
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

    pub(crate) fn start_loc(&mut self, loc: Loc<'_>, ctx: Option<(u64, u64)>, seq: u64, ts: i64) {
        let rest = trim_start(loc.rest);
        let lang = language_of(loc.path);
        if ctx.is_some() && (starts(loc.rest, b"   required from") || starts(loc.rest, b"   required by")) {
            // gcc's instantiation chain before an error in a system header:
            // the first link in the project is where the user's code is
            self.ctx = ctx.map(|c| (c.0, seq));
            if self.ctx_loc.is_none() && !crate::frames::is_library_path(loc.path) {
                self.ctx_loc = Some((lossy(loc.path), loc.line, loc.col));
            }
            return;
        }
        let ctx_loc = self.ctx_loc.take();
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
        if starts(rest, b"runtime error: ") {
            // UBSan `calc.c:4:14: runtime error: signed integer overflow: ...`
            let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(trim(rest)), seq, ts);
            r.set_loc(loc.path, loc.line, loc.col);
            self.open(r);
            return;
        }
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
            if let Some((m, c)) = crate::families::linters::bracket_code(msg) {
                // mypy `msg  [union-attr]`
                msg = m;
                code = Some(lossy(c));
            }
            if msg.ends_with(b"]")
                && let Some(p) = memchr::memrchr(b'[', msg)
                && msg.get(p + 1) == Some(&b'-')
            {
                code = Some(lossy(&msg[p + 1..msg.len() - 1]));
                msg = trim(&msg[..p]);
            } else if lang == Some("java")
                && msg.first() == Some(&b'[')
                && let Some(p) = memchr::memchr(b']', msg)
                && msg[1..p].iter().all(|b| b.is_ascii_lowercase() || *b == b'-')
            {
                // javac -Xlint `warning: [unchecked] unchecked conversion`
                code = Some(lossy(&msg[1..p]));
                msg = trim(&msg[p + 1..]);
            }
            let mode = if lang == Some("java") { Mode::Javac } else { Mode::CDiag };
            let mut r = Rec::new(mode, kind, sev, lossy(msg), seq, ts);
            r.code = code;
            r.set_loc(loc.path, loc.line, loc.col);
            if let Some(c) = ctx {
                r.first_seq = c.0;
                if let Some((f, l, col)) = ctx_loc
                    && crate::frames::is_library_path(loc.path)
                {
                    r.raised = r.file.take().zip(r.line);
                    r.file = Some(f);
                    r.line = Some(l);
                    r.col = col;
                }
            }
            self.open(r);
            return;
        }
        if starts(rest, b"note:") {
            return;
        }
        if lang == Some("ruby") && self.start_ruby(&loc, seq, ts) {
            return;
        }
        if let Some(r) = crate::families::linters::lint_line(&loc, seq, ts) {
            self.open(r);
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
            Some("javascript") | Some("typescript") if rest.is_empty() && loc.col.is_some() => {
                // Next.js type check `./app/page.tsx:5:9` + `Type error: msg` + code frame
                let mut r = Rec::new(Mode::Stack, Kind::Error, Severity::Error, String::new(), seq, ts);
                r.set_loc(loc.path.strip_prefix(b"./").unwrap_or(loc.path), loc.line, loc.col);
                r.loc_locked = true;
                r.loose = true;
                r.confirmed = false;
                self.open(r);
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
}

pub(crate) fn ident_len(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'.').count()
}

pub(crate) fn is_c_context(t: &[u8]) -> bool {
    if starts(t, b"In file included from ") {
        return true;
    }
    if !t.ends_with(b":") {
        return false;
    }
    // (one pass over the ": " of the line for every kind of context)
    let scopes: [&[u8]; 6] =
        [b"function ", b"member function ", b"constructor ", b"destructor ", b"instantiation of ", b"lambda function"];
    memchr::memchr_iter(b':', t).any(|c| {
        let after = &t[c + 1..];
        match after.strip_prefix(b" In ") {
            Some(rest) => scopes.iter().any(|s| starts(rest, s)),
            None => starts(after, b" At top level"),
        }
    })
}

/// GNU make `Makefile:4: *** missing separator.  Stop.` (`colon` is the
/// first ':'); `make: *** [Makefile:2: all] Error 1` is not one.
pub(crate) fn make_error(t: &[u8], colon: usize) -> Option<(&[u8], u32, &[u8])> {
    let path = &t[..colon];
    if !(path.ends_with(b"akefile") || path.ends_with(b".mk")) || memchr::memchr(b' ', path).is_some() {
        return None;
    }
    let (line, n) = parse_num(&t[colon + 1..])?;
    let msg = t[colon + 1 + n..].strip_prefix(b": *** ")?;
    Some((path, line, make_msg(msg)))
}

/// `missing separator.  Stop.` → `missing separator`
pub(crate) fn make_msg(msg: &[u8]) -> &[u8] {
    let msg = trim(msg);
    let msg = msg.strip_suffix(b"  Stop.").unwrap_or(msg);
    msg.strip_suffix(b".").unwrap_or(msg)
}

pub(crate) fn cont_rust_diag(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if r.file.is_none() && r.code.is_none() && crate::details::is_assertion_detail(t) {
        // not a compiler's `error: msg`: a JS test runner's failed assertion
        // (bun `error: expect(received).toBe(expected)` + diff + frames)
        r.mode = Mode::Stack;
        r.loose = true;
        return Accept;
    }
    if starts(tw, b"--> ") || starts(tw, b"::: ") {
        if r.file.is_none()
            && starts(tw, b"--> ")
            && let Some(l) = parse_loc(trim(&tw[4..]))
        {
            r.set_loc(l.path, l.line, l.col);
            // (ruff's `F401 msg` header waits for its location)
            r.confirmed = true;
        }
        return Accept;
    }
    if ws
        && r.file.is_none()
        && r.code.is_none()
        && let Some(l) = parse_loc(tw)
        && l.rest.first() == Some(&b' ')
    {
        // Elixir `warning: msg` + `  lib/report.ex:5: Report.render/1`
        r.set_loc(l.path, l.line, l.col);
        return Accept;
    }
    if ws && r.file.is_none() && t.len() - tw.len() >= 3 && is_cargo_status(tw) {
        // `    Finished ...` after a located-nowhere `warning: pkg@0.1.0: msg`
        return Reject;
    }
    if ws {
        if r.code.is_none() && starts(tw, b"= note: `#[") {
            // `#[warn(unused_mut)]` → lint name as code
            if let Some(p) = memchr::memchr(b'(', tw)
                && let Some(q) = memchr::memchr(b')', &tw[p..])
            {
                r.code = Some(lossy(&tw[p + 1..p + q]));
            }
        } else if r.code.is_none()
            && starts(tw, b"= help: for further information visit ")
            && contains(tw, b"/rust-clippy/")
            && let Some(p) = memchr::memrchr(b'#', tw)
        {
            // a clippy lint denied by an attribute names itself only here
            r.code = Some(format!("clippy::{}", lossy(&tw[p + 1..])));
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

pub(crate) fn cont_rust_panic(r: &mut Rec, t: &[u8], _tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
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

pub(crate) fn cont_c_diag(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if ws {
        if crate::lookahead::is_caret(tw) {
            r.stage = 1;
        }
        return Accept;
    }
    if starts(t, b"In file included from ") {
        // the context of a note in another file, or of the next diagnostic
        if r.tail.is_none() {
            r.tail = Some((r.last_seq + 1, r.last_seq));
        }
        return Accept;
    }
    if t == b"compilation terminated." {
        // gcc after a fatal error
        return Accept;
    }
    if let Some(l) = parse_loc(t) {
        let rest = l.rest;
        if starts(trim_start(rest), b"note:") || starts(rest, b"   required from") || starts(rest, b"   required by") {
            // an error inside a system header (a template instantiated by the
            // user's code): the first note in the project locates it
            if r.file.as_deref().is_some_and(|f| crate::frames::is_library_path(f.as_bytes()))
                && !crate::frames::is_library_path(l.path)
            {
                r.raised = r.file.take().zip(r.line);
                r.set_loc(l.path, l.line, l.col);
            }
            r.tail = None;
            r.stage = 0;
            return Accept;
        }
        return Reject;
    }
    if r.stage == 0 && r.tail.is_none() && !is_c_context(t) {
        // right after a diagnostic or note: clang's unindented source echo,
        // kotlinc's message lines; theirs if a caret line follows
        return Hold;
    }
    Reject
}

pub(crate) fn cont_javac(r: &mut Rec, t: &[u8], _tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
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

pub(crate) fn cont_tsc(r: &mut Rec, t: &[u8], _tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if ws {
        return Accept;
    }
    if r.stage == 1 && count_digits(t) > 0 && !starts(t, b"Found ") {
        return Accept;
    }
    Reject
}

pub(crate) fn cont_go_build(_r: &mut Rec, _t: &[u8], _tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if ws { Accept } else { Reject }
}

/// A doc test's name `src/lib.rs - whisper (line 12)` → (`src/lib.rs`, 12)
fn doctest_line(name: &[u8]) -> Option<(&[u8], u32)> {
    let p = find(name, b" - ")?;
    let q = find(name, b" (line ")?;
    let (line, _) = parse_num(&name[q + 7..])?;
    (name.ends_with(b")") && has_extension(&name[..p])).then_some((&name[..p], line))
}

/// cargo's right-aligned status lines: `   Compiling x`, `    Finished ...`
fn is_cargo_status(tw: &[u8]) -> bool {
    let w = &tw[..tw.iter().take_while(|b| b.is_ascii_alphabetic()).count()];
    matches!(
        w,
        b"Compiling" | b"Finished" | b"Checking" | b"Running" | b"Building" | b"Fresh" | b"Documenting" | b"Doc"
    ) && tw.get(w.len()) == Some(&b' ')
}
