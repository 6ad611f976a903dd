//! Linters and type checkers that print one problem per line or block:
//! flake8 / pylint / ruff (concise) `path:l:c: CODE msg`, ruff's full
//! format `CODE [*] msg` + ` --> path:l:c`, mypy's `[code]` suffix,
//! ShellCheck's `In path line N:` blocks, Biome's `path:l:c rule ━━━`
//! diagnostics.

use crate::blocks::StreamState;
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Finding, Kind, Severity};

/// A lint code: `F401`, `E741`, `C0114`, `SC2164`, `W291`.
fn lint_code(w: &[u8]) -> bool {
    let letters = w.iter().take_while(|b| b.is_ascii_uppercase()).count();
    (1..=3).contains(&letters) && w.len() > letters + 1 && w[letters..].iter().all(u8::is_ascii_digit)
}

/// `path:l:c: CODE msg` (flake8, ruff concise) / `path:l:c: C0114: msg (symbol)`
/// (pylint): `rest` is what follows the location. Pylint's convention,
/// refactor and warning codes are warnings; everything else an error.
pub(crate) fn lint_line(loc: &Loc<'_>, seq: u64, ts: i64) -> Option<Rec> {
    let rest = trim_start(loc.rest);
    let end = rest.iter().position(|b| *b == b' ' || *b == b':')?;
    let code = &rest[..end];
    if !lint_code(code) {
        return None;
    }
    let msg = trim(rest[end..].strip_prefix(b":").unwrap_or(&rest[end..]));
    let pylint = code.len() == 5 && rest.get(end) == Some(&b':');
    let warn = pylint && matches!(code[0], b'C' | b'R' | b'W' | b'I');
    let (kind, sev) = if warn { (Kind::Warning, Severity::Warning) } else { (Kind::Error, Severity::Error) };
    // pylint ends with the symbolic name: `... (missing-module-docstring)`
    let msg = match (pylint, msg.ends_with(b")"), memchr::memrchr(b'(', msg)) {
        (true, true, Some(p)) if p > 0 && msg[p - 1] == b' ' => trim(&msg[..p]),
        _ => msg,
    };
    let mut r = Rec::new(Mode::Single, kind, sev, lossy(msg), seq, ts);
    r.set_loc(loc.path, loc.line, loc.col);
    r.code = Some(lossy(code));
    Some(r)
}

/// mypy `msg  [union-attr]` → (`msg`, `union-attr`)
pub(crate) fn bracket_code(msg: &[u8]) -> Option<(&[u8], &[u8])> {
    if !msg.ends_with(b"]") {
        return None;
    }
    let p = memchr::memrchr(b'[', msg)?;
    let code = &msg[p + 1..msg.len() - 1];
    (p >= 2 && &msg[p - 2..p] == b"  " && !code.is_empty() && code.iter().all(|b| b.is_ascii_lowercase() || *b == b'-'))
        .then(|| (trim(&msg[..p]), code))
}

impl StreamState {
    /// ruff `F401 [*] \`os\` imported but unused` (its ` --> path:l:c` follows)
    pub(crate) fn start_code_header(&mut self, t: &[u8], seq: u64, ts: i64) -> bool {
        let end = memchr::memchr(b' ', t).unwrap_or(t.len());
        if !lint_code(&t[..end]) || end == t.len() {
            return false;
        }
        let msg = trim(&t[end..]);
        let msg = trim(msg.strip_prefix(b"[*]").unwrap_or(msg));
        let mut r = Rec::new(Mode::RustDiag, Kind::Error, Severity::Error, lossy(msg), seq, ts);
        r.code = Some(lossy(&t[..end]));
        r.confirmed = false;
        self.open(r);
        true
    }

    /// ShellCheck: `In scripts/a.sh line 10:` opens a location; each
    /// `^-- SC2164 (warning): msg` under it is a finding.
    pub(crate) fn shellcheck_line(&mut self, pid: u32, t: &[u8], seq: u64, out: &mut Vec<Finding>) -> bool {
        if let Some(rest) = t.strip_prefix(b"In ")
            && let Some(p) = find(rest, b" line ")
            && let Some((line, _)) = parse_num(&rest[p + 6..])
            && t.ends_with(b":")
        {
            self.sc_file.clear();
            self.sc_file.extend_from_slice(&rest[..p]);
            self.sc_line = line;
            return true;
        }
        if self.sc_line == 0 {
            return false;
        }
        let tw = trim_start(t);
        if !(starts(tw, b"^") || starts(tw, b"|")) {
            return false;
        }
        let Some(p) = find(tw, b" SC") else { return false };
        let rest = &tw[p + 1..];
        let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        let code = &rest[..end];
        let after = &rest[end..];
        let Some(q) = memchr::memchr(b')', after) else { return false };
        let level = trim(after[..q].strip_prefix(b" (").unwrap_or(b""));
        let (kind, severity) = match level {
            b"error" => (Kind::Error, Severity::Error),
            b"warning" => (Kind::Warning, Severity::Warning),
            // info / style: advice, not problems
            _ => return true,
        };
        let msg = trim(after[q + 1..].strip_prefix(b":").unwrap_or(&after[q + 1..]));
        out.push(Finding {
            process: pid,
            kind,
            severity,
            message: lossy(msg),
            first_seq: seq,
            last_seq: seq,
            file: Some(lossy(&self.sc_file)),
            line: Some(self.sc_line),
            column: None,
            code: Some(lossy(code)),
            language: Some("shell".into()),
            fields: Vec::new(),
        });
        true
    }

    /// Biome `src/app.js:1:8 lint/correctness/noUnusedImports  FIXABLE  ━━━`
    /// (or `src/app.js format ━━━`): the block's first `×` / `!` line says
    /// error / warning and gives the message (`i` only: no finding).
    pub(crate) fn start_biome(&mut self, t: &[u8], seq: u64, ts: i64) -> bool {
        let end = memchr::memchr(b' ', t).unwrap_or(t.len());
        let head = &t[..end];
        let mut r = Rec::new(Mode::Biome, Kind::Error, Severity::Error, String::new(), seq, ts);
        match parse_loc(head) {
            Some(l) => r.set_loc(l.path, l.line, l.col),
            None if has_extension(head) => {
                r.file = Some(lossy(head));
                r.language = language_of(head);
            }
            None => return false,
        }
        let rest = trim(&t[end..]);
        let cat = &rest[..memchr::memchr(b' ', rest).unwrap_or(rest.len())];
        r.code = Some(lossy(cat));
        r.confirmed = false;
        self.open(r);
        true
    }
}

pub(crate) fn cont_biome(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if !ws || contains(t, "━━━".as_bytes()) {
        return Reject;
    }
    if r.stage == 0 {
        // (a terminal gets `✖` `⚠` `ℹ` instead of `×` `!` `i`)
        let strip = |marks: [&str; 2]| marks.iter().find_map(|m| tw.strip_prefix(m.as_bytes()));
        let (kind, sev) = if let Some(m) = strip(["× ", "✖ "]) {
            r.message = lossy(trim(m));
            (Kind::Error, Severity::Error)
        } else if let Some(m) = strip(["! ", "⚠ "]) {
            r.message = lossy(trim(m));
            (Kind::Warning, Severity::Warning)
        } else if strip(["i ", "ℹ "]).is_some() {
            r.stage = 1;
            return Accept;
        } else {
            return Accept;
        };
        r.kind = kind;
        r.severity = sev;
        r.confirmed = true;
        r.stage = 1;
    }
    Accept
}
