//! Maven: every line carries a level (`[INFO] `, `[WARNING] `, `[ERROR] `).
//! Findings are the compiler diagnostics (`[ERROR] /abs/A.java:[13,36] msg`),
//! surefire's failing tests (`[ERROR] name(Class)  Time elapsed: 0 s  <<<
//! FAILURE!` + exception + frames) and the closing `Tests run:` count. The
//! rest of the `[ERROR]` lines restate those (the "Failed to execute goal"
//! block, the Results list) or give advice: no findings.

use crate::blocks::StreamState;
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Finding, Kind, Severity};

impl StreamState {
    /// A line of a Maven build (`maven` is set by its first `[INFO] `).
    /// Returns true when the line was Maven's.
    pub(crate) fn maven_line(&mut self, pid: u32, t: &[u8], seq: u64, ts: i64, out: &mut Vec<Finding>) -> bool {
        let (kind, body) = if let Some(b) = t.strip_prefix(b"[ERROR]") {
            (Kind::Error, b)
        } else if let Some(b) = t.strip_prefix(b"[WARNING]") {
            (Kind::Warning, b)
        } else if let Some(b) = t.strip_prefix(b"[INFO]") {
            (Kind::Build, b)
        } else {
            return false;
        };
        let body = body.strip_prefix(b" ").unwrap_or(body);
        if kind == Kind::Build {
            self.mvn_goal_failed = false;
            if starts(body, b"Tests run: ") && !contains(body, b"Time elapsed") {
                surefire_counts(pid, body, seq, out);
            }
            // BUILD SUCCESS / FAILURE: `builds`
            return !starts(body, b"BUILD ");
        }
        if self.mvn_goal_failed {
            return true;
        }
        if starts(body, b"Failed to execute goal ") {
            // what follows restates the errors found above
            self.mvn_goal_failed = true;
            return true;
        }
        if kind == Kind::Error && starts(body, b"Tests run: ") {
            if !contains(body, b"Time elapsed") {
                surefire_counts(pid, body, seq, out);
            }
            return true;
        }
        if kind == Kind::Error && (body.ends_with(b"<<< FAILURE!") || body.ends_with(b"<<< ERROR!")) {
            // surefire `name(com.acme.EdgeTest)  Time elapsed: 0 s  <<< ERROR!`
            let name = &body[..find(body, b"  ").unwrap_or(body.len())];
            let mut r = Rec::new(Mode::Stack, Kind::Error, Severity::Error, String::new(), seq, ts);
            r.test = Some(lossy(trim(name)));
            r.language = Some("java");
            r.confirmed = false;
            self.open(r);
            return true;
        }
        if let Some(Loc { path, line, col, rest: msg, .. }) = bracket_loc(body) {
            // javac through maven-compiler-plugin
            let sev = if kind == Kind::Error { Severity::Error } else { Severity::Warning };
            let mut r = Rec::new(Mode::Javac, kind, sev, lossy(trim(msg)), seq, ts);
            r.set_loc(path, line, col);
            r.stage = 1;
            self.open(r);
        }
        true
    }
}

/// `Tests run: 5, Failures: 1, Errors: 1, Skipped: 1`
fn surefire_counts(pid: u32, body: &[u8], seq: u64, out: &mut Vec<Finding>) {
    let num = |key: &[u8]| find(body, key).and_then(|p| parse_num(&body[p + key.len()..])).map_or(0, |x| x.0);
    let (run, failures, errors, skipped) =
        (num(b"Tests run: "), num(b"Failures: "), num(b"Errors: "), num(b"Skipped: "));
    let failed = failures + errors;
    out.push(test_finding(pid, "surefire", body, seq, [run.saturating_sub(failed + skipped), failed, skipped]));
}

/// `/abs/src/A.java:[13,36] msg` → path, 13, 36, rest ` msg`
pub(crate) fn bracket_loc(s: &[u8]) -> Option<Loc<'_>> {
    let p = find(s, b":[")?;
    let path = &s[..p];
    if !has_extension(path) || memchr::memchr(b' ', path).is_some() {
        return None;
    }
    let rest = &s[p + 2..];
    let (line, n) = parse_num(rest)?;
    let mut i = n;
    let mut col = None;
    if rest.get(i) == Some(&b',') {
        let (c, m) = parse_num(&rest[i + 1..])?;
        col = Some(c);
        i += 1 + m;
    }
    if rest.get(i) != Some(&b']') {
        return None;
    }
    Some(Loc { path, line, col, rest: &rest[i + 1..], paren: false })
}
