//! Bundlers and linters: webpack, esbuild, ESLint stylish.

use crate::blocks::StreamState;
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Finding, Kind, Severity};

impl StreamState {
    /// webpack `ERROR in ./src/a.js 3:7` / `ERROR in ./src/a.js 2:0-24` /
    /// `WARNING in asset size limit: ...`; webpack columns are 0-based.
    pub(crate) fn start_webpack(&mut self, t: &[u8], at: usize, kind: Kind, seq: u64, ts: i64) {
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
        } else if contains(rest, b": ") || rest.ends_with(b":") {
            // a message, not a module (`WARNING in webpack performance recommendations:`)
            r.message = lossy(rest);
        }
        self.open(r);
    }

    /// esbuild `✘ [ERROR] Could not resolve "./x"` / `▲ [WARNING] msg [code]`
    pub(crate) fn start_esbuild(&mut self, t: &[u8], at: usize, kind: Kind, seq: u64, ts: i64) {
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
}

/// ESLint stylish file header: an absolute path alone on its line
/// (`/home/u/app/src/a.js`, `C:\app\src\a.js`). `colon` is the first ':'.
pub(crate) fn is_eslint_header(t: &[u8], colon: Option<usize>) -> bool {
    // (relative paths too: yamllint `deploy/app.yaml`; a problem line must follow)
    let abs = match colon {
        None => memchr::memchr(b' ', t).is_none(),
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
pub(crate) fn eslint_problem(pid: u32, file: &[u8], tw: &[u8], seq: u64) -> Option<Finding> {
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
        Some(p) if p > 0 && body[p - 1] == b' ' => {
            // yamllint puts the rule in parentheses: `msg  (document-start)`
            let rule = &body[p + 1..];
            let rule = rule.strip_prefix(b"(").and_then(|r| r.strip_suffix(b")")).unwrap_or(rule);
            (trim(&body[..p]), Some(lossy(rule)))
        }
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

pub(crate) fn cont_webpack(r: &mut Rec, t: &[u8], _tw: &[u8], _ws: bool) -> Cont {
    use Cont::*;
    if r.lines > 200 {
        return Reject;
    }
    r.lines += 1;
    if r.message.is_empty() {
        r.message = lossy(trim(t));
    }
    Accept
}

pub(crate) fn cont_esbuild(r: &mut Rec, _t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
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

/// Create React App's ESLint lines `  Line 4:9:   msg  rule` under a file
/// header: warnings after `Compiled with warnings.`, errors after `Failed to
/// compile.` (`error`).
pub(crate) fn cra_problem(pid: u32, file: &[u8], tw: &[u8], error: bool, seq: u64) -> Option<Finding> {
    let rest = tw.strip_prefix(b"Line ")?;
    let (line, n) = parse_num(rest)?;
    let (col, m) = parse_num(rest.get(n + 1..)?)?;
    let body = trim(rest.get(n + 1 + m..)?.strip_prefix(b":")?);
    let (msg, code) = match find(body, b"  ") {
        Some(_) => {
            let p = memchr::memrchr(b' ', body)?;
            (trim(&body[..p]), Some(lossy(&body[p + 1..])))
        }
        None => (body, None),
    };
    let (kind, severity) = if error { (Kind::Error, Severity::Error) } else { (Kind::Warning, Severity::Warning) };
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

/// Unindented problem lines under a file header: `next lint`'s `7:29  Error:
/// msg  rule` / `13:7  Warning: msg  rule`, CRA's `Syntax error: msg (8:4)`.
pub(crate) fn lint_report_line(pid: u32, file: &[u8], t: &[u8], seq: u64) -> Option<Finding> {
    let finding = |kind, severity, msg: &[u8], line, col, code| Finding {
        process: pid,
        kind,
        severity,
        message: lossy(msg),
        first_seq: seq,
        last_seq: seq,
        file: Some(lossy(file)),
        line: Some(line),
        column: col,
        code,
        language: language_of(file).map(str::to_string),
        fields: Vec::new(),
    };
    if let Some(m) = t.strip_prefix(b"Syntax error: ") {
        let (_, line, col) = crate::locations::paren_loc_at_end(m)?;
        let msg = &m[..find(m, b" (").unwrap_or(m.len())];
        return Some(finding(Kind::Error, Severity::Error, msg, line, col, None));
    }
    let (line, n) = parse_num(t)?;
    let (col, m) = parse_num(t.get(n + 1..)?).filter(|_| t.get(n) == Some(&b':'))?;
    let rest = trim_start(&t[n + 1 + m..]);
    let (kind, sev, body) = if let Some(b) = rest.strip_prefix(b"Error: ") {
        (Kind::Error, Severity::Error, b)
    } else if let Some(b) = rest.strip_prefix(b"Warning: ") {
        (Kind::Warning, Severity::Warning, b)
    } else {
        return None;
    };
    let body = trim(body);
    let (msg, code) = match memchr::memrchr(b' ', body) {
        Some(p) if p > 0 && body[p - 1] == b' ' => (trim(&body[..p]), Some(lossy(&body[p + 1..]))),
        _ => (body, None),
    };
    Some(finding(kind, sev, msg, line, Some(col), code))
}
