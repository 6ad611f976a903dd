//! Native toolchains around the compiler: CMake's `CMake Error at
//! path:line (fn):` blocks with their call stack, CTest's per-test results
//! and summary, the C runtime's assertion and sanitizer lines.

use crate::blocks::StreamState;
use crate::frames::is_library_path;
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Finding, Kind, Severity};

/// `CMake Error at /usr/share/cmake/X.cmake:230 (message):` → its path and line
fn cmake_at(rest: &[u8]) -> Option<(&[u8], u32)> {
    let rest = rest.strip_prefix(b" at ")?;
    let end = find(rest, b" (").unwrap_or(rest.len());
    let at = &rest[..end];
    // `CMake Error at CMakeLists.txt:6:` (a parse error names no command)
    let (p, l, _) = loc_from_end(at.strip_suffix(b":").unwrap_or(at))?;
    Some((p, l))
}

impl StreamState {
    pub(crate) fn start_cmake(&mut self, t: &[u8], seq: u64, ts: i64) -> bool {
        // `CMake Error at`, `CMake Warning (dev) at`, `CMake Deprecation Warning at`
        let mut rest = &t[6..];
        let (kind, sev) = loop {
            let w = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
            match &rest[..w] {
                b"Error" => break (Kind::Error, Severity::Error),
                b"Warning" => break (Kind::Warning, Severity::Warning),
                // (at most a qualifier or two before it)
                _ if w > 0 && rest.get(w) == Some(&b' ') && t.len() - rest.len() < 24 => rest = &rest[w + 1..],
                _ => return false,
            }
        };
        let rest = &rest[if kind == Kind::Error { 5 } else { 7 }..];
        let rest = rest.strip_prefix(b" (dev)").unwrap_or(rest);
        let mut r = Rec::new(Mode::CMake, kind, sev, String::new(), seq, ts);
        r.language = Some("cmake");
        if let Some((p, l)) = cmake_at(rest) {
            r.raised = Some((lossy(p), l));
            if !is_library_path(p) && !starts(p, b"/usr/share/cmake") {
                r.file = Some(lossy(p));
                r.line = Some(l);
            }
        } else if let Some(m) = rest.strip_prefix(b": ") {
            r.message = lossy(trim(m));
        }
        self.open(r);
        true
    }

    /// CTest `2/3 Test #2: sub ....***Failed    0.00 sec`
    pub(crate) fn ctest_line(&mut self, t: &[u8], seq: u64, ts: i64) -> bool {
        let Some(p) = find(t, b" Test #") else { return false };
        let rest = &t[p + 7..];
        let Some(c) = find(rest, b": ") else { return false };
        let tail = &rest[c + 2..];
        let name = &tail[..memchr::memchr(b' ', tail).unwrap_or(tail.len())];
        if contains(tail, b"   Passed") || !contains(tail, b"***") {
            return true;
        }
        let mut r = Rec::new(Mode::CTest, Kind::Error, Severity::Error, String::new(), seq, ts);
        r.test = Some(lossy(name));
        self.open(r);
        true
    }
}

/// `33% tests passed, 2 tests failed out of 3`
pub(crate) fn ctest_summary(pid: u32, t: &[u8], seq: u64, out: &mut Vec<Finding>) -> bool {
    let Some(p) = find(t, b" tests failed out of ") else { return false };
    let failed = t[..p].iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let failed = parse_num(&t[p - failed..]).map_or(0, |x| x.0);
    let total = parse_num(&t[p + 21..]).map_or(0, |x| x.0);
    out.push(test_finding(pid, "ctest", t, seq, [total.saturating_sub(failed), failed, 0]));
    true
}

pub(crate) fn cont_cmake(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if starts(t, b"Call Stack (most recent call first):") {
        r.stage = 1;
        return Accept;
    }
    if !ws {
        return Reject;
    }
    if r.stage == 1 {
        // `  CMakeLists.txt:5 (find_package)`: the first frame in the project
        let end = find(tw, b" (").unwrap_or(tw.len());
        if r.file.is_none()
            && let Some((p, l, _)) = loc_from_end(&tw[..end])
            && !is_library_path(p)
            && !starts(p, b"/usr/share/cmake")
        {
            r.file = Some(lossy(p));
            r.line = Some(l);
        }
    } else if r.message.is_empty() {
        r.message = lossy(trim(tw));
    }
    Accept
}

/// A failed CTest test's output: unindented lines up to a blank line.
pub(crate) fn cont_ctest(r: &mut Rec, t: &[u8], tw: &[u8], _ws: bool) -> Cont {
    use Cont::*;
    if contains(t, b" Test #") || starts(tw, b"Start ") {
        return Reject;
    }
    if r.message.is_empty() {
        r.message = lossy(trim(t));
        r.confirmed = true;
    }
    // glibc's `prog: src/calc_test.c:14: main: Assertion `x' failed.`
    if r.file.is_none()
        && let Some(p) = find(t, b": ")
        && let Some(loc) = parse_loc(&t[p + 2..])
    {
        r.set_loc(loc.path, loc.line, loc.col);
        if let Some(a) = find(t, b"Assertion ") {
            r.message = lossy(trim(&t[a..]));
        }
    }
    Accept
}

/// `==20996==` / `==21028== ` (sanitizers, valgrind) → the text after it
pub(crate) fn pid_banner(t: &[u8]) -> Option<&[u8]> {
    let rest = t.strip_prefix(b"==")?;
    let d = count_digits(rest);
    (d > 0 && rest[d..].starts_with(b"==")).then(|| &rest[d + 2..])
}

impl StreamState {
    /// `==20996==ERROR: AddressSanitizer: heap-buffer-overflow ...` (a crash
    /// report up to `==20996==ABORTING`), valgrind `==21028== Invalid read of
    /// size 4` (a block up to its blank `==21028== ` line). Located at the
    /// first frame in the project.
    pub(crate) fn start_memcheck(&mut self, t: &[u8], seq: u64, ts: i64) -> bool {
        let Some(rest) = pid_banner(t) else { return false };
        let body = trim(rest);
        let (msg, sev, stage) = if let Some(m) = body.strip_prefix(b"ERROR: ") {
            (m, Severity::Critical, 0)
        } else if starts(body, b"Invalid ")
            || starts(body, b"Conditional jump")
            || starts(body, b"Use of uninitialised")
            || starts(body, b"Mismatched free")
            || (contains(body, b" bytes in ") && contains(body, b" lost in loss record"))
        {
            (body, Severity::Error, 1)
        } else {
            return true;
        };
        let msg = &msg[..find(msg, b" on address").unwrap_or(msg.len())];
        let mut r = Rec::new(Mode::Memcheck, Kind::Error, sev, lossy(trim(msg)), seq, ts);
        r.stage = stage;
        if self.rule_seq + 1 == seq {
            r.first_seq = self.rule_seq;
        }
        self.open(r);
        true
    }
}

pub(crate) fn cont_memcheck(r: &mut Rec, t: &[u8], tw: &[u8], _ws: bool) -> Cont {
    use Cont::*;
    if r.stage == 9 {
        return Reject;
    }
    let body = pid_banner(t);
    if r.stage == 1 {
        // valgrind: the block ends at its empty `==PID== ` line
        let Some(b) = body else { return Reject };
        if is_blank(b) {
            return Reject;
        }
        frame(r, trim(b));
        return Accept;
    }
    if let Some(b) = body
        && starts(b, b"ABORTING")
    {
        r.stage = 9;
        return Accept;
    }
    frame(r, tw);
    Accept
}

/// `#0 0x564d in ring_sum src/ring.c:10` / `at 0x109195: main (list.c:8)`
fn frame(r: &mut Rec, f: &[u8]) {
    if r.file.is_some() || !(starts(f, b"#") || starts(f, b"at ") || starts(f, b"by ")) {
        return;
    }
    let f = f.strip_suffix(b")").unwrap_or(f);
    let tail = &f[memchr::memrchr2(b' ', b'(', f).map_or(0, |p| p + 1)..];
    if let Some((p, l, c)) = loc_from_end(tail)
        && !is_library_path(p)
        && !starts(p, b"../")
        && !contains(p, b"libsanitizer")
    {
        r.set_loc(p, l, c);
    }
}
