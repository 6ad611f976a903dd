//! JSON log lines (pino, bunyan, structured loggers): `{"level":50,...,
//! "msg":"..."}` / `"level":"error"`. At error level (pino ≥ 50) a line is
//! an error, at warn (40) a warning; the message is `err.message` or `msg`,
//! the location the first project frame of an `err.stack` string.

use crate::blocks::StreamState;
use crate::frames::is_library_path;
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Kind, Severity};

/// The string value of `"key":"..."` (escapes kept as written).
fn json_str<'a>(t: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(p) = find(&t[from..], key) {
        let at = from + p;
        let rest = &t[at + key.len()..];
        if at > 0 && t[at - 1] == b'"' && rest.starts_with(b"\":\"") {
            let v = &rest[3..];
            let mut i = 0;
            while i < v.len() && v[i] != b'"' {
                i += if v[i] == b'\\' { 2 } else { 1 };
            }
            return Some(&v[..i.min(v.len())]);
        }
        from = at + key.len();
    }
    None
}

impl StreamState {
    /// Returns true when the line was a JSON log record.
    pub(crate) fn json_log_line(&mut self, t: &[u8], seq: u64, ts: i64) -> bool {
        let Some(p) = find(t, b"\"level\":") else { return false };
        let v = &t[p + 8..];
        let (kind, sev) = if let Some((n, _)) = parse_num(v) {
            match n {
                50.. => (Kind::Error, Severity::Error),
                40..50 => (Kind::Warning, Severity::Warning),
                _ => return true,
            }
        } else if starts(v, b"\"error\"") || starts(v, b"\"fatal\"") {
            (Kind::Error, Severity::Error)
        } else if starts(v, b"\"warn\"") || starts(v, b"\"warning\"") {
            (Kind::Warning, Severity::Warning)
        } else {
            return true;
        };
        let msg = json_str(t, b"message").or_else(|| json_str(t, b"msg")).unwrap_or(b"");
        let mut r = Rec::new(Mode::Single, kind, sev, lossy(msg), seq, ts);
        if let Some(stack) = json_str(t, b"stack") {
            // frames are `\n    at fn (path:l:c)`
            for frame in split_escaped(stack).skip(1) {
                let f = trim(frame);
                let f = f.strip_prefix(b"at ").unwrap_or(f);
                let inner = match (f.ends_with(b")"), memchr::memrchr(b'(', f)) {
                    (true, Some(q)) => &f[q + 1..f.len() - 1],
                    _ => f,
                };
                if let Some((path, l, c)) = loc_from_end(inner)
                    && !is_library_path(path)
                {
                    r.set_loc(path, l, c);
                    break;
                }
            }
        }
        self.open(r);
        true
    }
}

/// The pieces of a JSON string between its `\n` escapes.
fn split_escaped(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match find(rest, b"\\n") {
            Some(p) => {
                let piece = &rest[..p];
                rest = &rest[p + 2..];
                Some(piece)
            }
            None => Some(std::mem::take(&mut rest)),
        }
    })
}
