//! pytest: a failure or error section (`____ test_name ____` up to the next
//! section) is one finding. Its location is the innermost traceback entry
//! in the project (`src/app.py:3: KeyError`, `E   File "x.py", line 5`),
//! its message the exception line among the `E   ` lines, its `test` field
//! the node id (`tests/test_a.py::TestCart::test_total`). Also the
//! warnings summary and the closing count line with or without `====`.

use crate::blocks::{StreamState, exc_line};
use crate::frames::is_library_path;
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Kind, Severity};

/// `______ test_name ______` / `____ ERROR collecting tests/x.py ____` /
/// `____ ERROR at setup of test_x ____` → the name between the rules.
pub(crate) fn section_name(t: &[u8]) -> Option<&[u8]> {
    if !starts(t, b"___") || !t.ends_with(b"_") {
        return None;
    }
    let inner = trim(t.strip_prefix(b"_").map_or(t, |s| s));
    let a = inner.iter().position(|b| *b != b'_')?;
    let b = inner.iter().rposition(|b| *b != b'_')?;
    let name = trim(&inner[a..=b]);
    (!name.is_empty() && !starts(name, b"_ ")).then_some(name)
}

impl StreamState {
    pub(crate) fn start_pytest_section(&mut self, name: &[u8], seq: u64, ts: i64) {
        self.pytest_sections = true;
        let mut r = Rec::new(Mode::Pytest, Kind::Error, Severity::Error, String::new(), seq, ts);
        r.language = Some("python");
        r.confirmed = false;
        let test = if let Some(x) = name.strip_prefix(b"ERROR at setup of ") {
            Some(x)
        } else if let Some(x) = name.strip_prefix(b"ERROR at teardown of ") {
            Some(x)
        } else if starts(name, b"ERROR collecting ") || memchr::memchr(b' ', name).is_some() {
            None
        } else {
            Some(name)
        };
        // `TestCart.test_total` → `TestCart::test_total`; the file is added
        // from the first traceback entry
        r.test = test.map(|t| lossy(t).replace('.', "::"));
        self.open(r);
    }

    /// pytest's warnings summary `  /abs/tests/test_a.py:6: DeprecationWarning: msg`
    /// (indented; the node id line before it belongs to the finding).
    pub(crate) fn start_py_warning(&mut self, tw: &[u8], seq: u64, ts: i64) -> bool {
        let Some(loc) = parse_loc(tw) else { return false };
        let rest = trim_start(loc.rest);
        let n = rest.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
        if n == 0 || !rest[..n].ends_with(b"Warning") || rest.get(n) != Some(&b':') {
            return false;
        }
        let mut r = Rec::new(Mode::Single, Kind::Warning, Severity::Warning, lossy(trim(rest)), seq, ts);
        r.set_loc(loc.path, loc.line, loc.col);
        r.code = Some(lossy(&rest[..n]));
        r.cont_ws = true;
        if self.nodeid_seq + 1 == seq {
            r.first_seq = self.nodeid_seq;
        }
        self.open(r);
        true
    }
}

/// `2 failed, 3 passed in 0.02s` (pytest -q, without the `====` frame).
pub(crate) fn is_pytest_counts(t: &[u8]) -> bool {
    let t = trim(t);
    let Some(p) = find(t, b" in ") else { return false };
    let tail = &t[p + 4..];
    if count_digits(tail) == 0 || !(tail.ends_with(b"s") || tail.ends_with(b")")) {
        return false;
    }
    let mut ok = true;
    let mut any = false;
    for_each_count(&t[..p], |w, _| {
        any = true;
        ok &= matches!(
            w,
            b"passed"
                | b"failed"
                | b"error"
                | b"errors"
                | b"skipped"
                | b"xfailed"
                | b"xpassed"
                | b"deselected"
                | b"warning"
                | b"warnings"
                | b"rerun"
        );
    });
    any && ok
}

pub(crate) fn cont_pytest(r: &mut Rec, t: &[u8], _tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if starts(t, b"===") || section_name(t).is_some() || r.lines > 4000 {
        return Reject;
    }
    r.lines += 1;
    if starts(t, b"----") && contains(t, b" Captured ") {
        // captured output and logs: nothing in them locates the failure
        r.stage = 1;
        return Accept;
    }
    if r.stage == 1 {
        return Accept;
    }
    if let Some(e) = t.strip_prefix(b"E ") {
        let e = trim(e);
        if let Some(f) = e.strip_prefix(b"File \"") {
            py_loc(r, f);
        } else if r.message.is_empty() && exc_line(e).is_some() {
            r.message = lossy(e);
        } else if r.note.is_none() && !e.is_empty() {
            r.note = Some(lossy(e));
        }
        return Accept;
    }
    if !ws && let Some(loc) = parse_loc(t) {
        // traceback entry `tests/test_a.py:5: in test_a` or the raising
        // one `src/app.py:3: KeyError`
        if r.test.is_some() && !r.confirmed {
            let name = r.test.take().unwrap_or_default();
            r.test = Some(format!("{}::{name}", lossy(loc.path)));
        }
        r.confirmed = true;
        let rest = trim(loc.rest);
        r.raised = Some((lossy(loc.path), loc.line));
        if !is_library_path(loc.path) || !r.loc_locked {
            r.file = Some(lossy(loc.path));
            r.line = Some(loc.line);
            r.loc_locked |= !is_library_path(loc.path);
        }
        if !starts(rest, b"in ") && r.code.is_none() && !rest.is_empty() {
            // the exception name, used when no `E   Name: msg` line says it
            r.code = Some(lossy(rest));
        }
    }
    Accept
}

/// `E     File "/abs/tests/test_syntax.py", line 5` (a SyntaxError inside
/// pytest's report)
fn py_loc(r: &mut Rec, f: &[u8]) {
    let Some(q) = memchr::memchr(b'"', f) else { return };
    let path = &f[..q];
    if let Some(p) = find(&f[q..], b"line ")
        && let Some((l, _)) = parse_num(&f[q + p + 5..])
    {
        r.confirmed = true;
        r.raised = Some((lossy(path), l));
        if !is_library_path(path) {
            r.file = Some(lossy(path));
            r.line = Some(l);
            r.loc_locked = true;
        }
    }
}

/// Completes a pytest record before it is emitted: the message falls back
/// to `Name: first E line`; the exception name is no code.
pub(crate) fn finish_pytest(r: &mut Rec) {
    let name = r.code.take();
    if r.message.is_empty() {
        r.message = match (name, r.note.take()) {
            (Some(n), Some(e)) if !e.starts_with(&n) => format!("{n}: {e}"),
            (_, Some(e)) => e,
            (Some(n), None) => n,
            (None, None) => String::new(),
        };
    }
}

/// pytest's short summary `ERROR tests/test_a.py` / `ERROR tests/test_a.py::test_x - msg`
pub(crate) fn is_pytest_summary_error(t: &[u8]) -> bool {
    let rest = &t[6..];
    let tok = &rest[..memchr::memchr(b' ', rest).unwrap_or(rest.len())];
    let path = find(tok, b"::").map_or(tok, |p| &tok[..p]);
    path.ends_with(b".py")
}

impl StreamState {
    /// pytest --tb=line: `E   AssertionError: assert 4 == 5` opens a failure
    /// that its `path:7: AssertionError: ...` line locates; the test ids come
    /// in the short summary, in the same order.
    pub(crate) fn start_pytest_line(&mut self, t: &[u8], seq: u64, ts: i64) {
        let mut r = Rec::new(Mode::PytestLine, Kind::Error, Severity::Error, lossy(trim(&t[1..])), seq, ts);
        r.language = Some("python");
        r.confirmed = false;
        self.open(r);
    }

    /// A short-summary `FAILED tests/a.py::test_x - msg` / `ERROR ...` line
    /// (`id` after the word) while sections are held: the section of the same
    /// test gets the node id (a fixture's error is located in conftest.py,
    /// its test is in another file).
    pub(crate) fn pytest_summary_names(&mut self, id: &[u8]) {
        let id = trim(&id[..find(id, b" - ").unwrap_or(id.len())]);
        let Some(p) = find(id, b"::") else { return };
        let name = lossy(&id[p..]);
        let mut tests = self
            .pytest_held
            .iter_mut()
            .filter_map(|f| f.fields.iter_mut().find(|(k, _)| k == "test"))
            .map(|x| &mut x.1);
        let mut candidate = None;
        for test in &mut tests {
            if test.as_bytes() == id {
                return;
            }
            if candidate.is_none() && test.find("::").is_some_and(|q| test[q..] == name) {
                candidate = Some(test);
            }
        }
        if let Some(test) = candidate {
            *test = lossy(id);
        }
    }

    /// A short-summary `FAILED tests/a.py::test_x - msg` line: the next
    /// waiting --tb=line failure is that test.
    pub(crate) fn pytest_summary_failed(&mut self, t: &[u8], out: &mut Vec<crate::Finding>) {
        if self.pytest_pending.is_empty() {
            return;
        }
        let mut f = self.pytest_pending.remove(0);
        let id = &t[7..];
        let id = &id[..find(id, b" - ").unwrap_or(id.len())];
        f.fields.push(("test".into(), lossy(trim(id))));
        out.push(f);
    }
}

pub(crate) fn cont_pytest_line(r: &mut Rec, t: &[u8], _tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if ws {
        return Accept;
    }
    if let Some(loc) = parse_loc(t) {
        r.set_loc(loc.path, loc.line, loc.col);
        // the message without the module path: `app.pricing.PricingError: x` → `PricingError: x`
        let m = trim(loc.rest);
        let name_end = m.iter().position(|b| *b == b':').unwrap_or(m.len());
        let short = memchr::memrchr(b'.', &m[..name_end]).map_or(m, |d| &m[d + 1..]);
        r.message = lossy(short);
        r.confirmed = true;
        r.stage = 9;
        return Accept;
    }
    Reject
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_names() {
        assert_eq!(section_name(b"_____ test_c _____"), Some(&b"test_c"[..]));
        assert_eq!(section_name(b"___ ERROR collecting t.py ___"), Some(&b"ERROR collecting t.py"[..]));
        assert_eq!(section_name(b"_ _ _ _ _ _ _"), None);
        assert_eq!(section_name(b"____"), None);
        assert!(is_pytest_counts(b"2 failed, 3 passed in 0.02s"));
        assert!(!is_pytest_counts(b"3 items in 2 files"));
    }
}
