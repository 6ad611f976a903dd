//! Process-level messages that are neither a tool's report nor a stack
//! trace: linker errors, a shell's or command's errno failures, node's
//! process warnings.

use crate::blocks::*;
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Kind, Severity};

impl StreamState {
    /// linker lines, phrase errors, `job 1 failed: TypeError: x`
    pub(crate) fn start_ld(&mut self, t: &[u8], ctx: Option<(u64, u64)>, seq: u64, ts: i64) {
        // (linker lines end with the symbol's quote: one cheap test first)
        if t.ends_with(b"'")
            && let Some(p) = find(t, b"undefined reference to ")
        {
            // linker: `main.c:(.text+0xa): undefined reference to `helper'`
            let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, lossy(trim(&t[p..])), seq, ts);
            if let Some(q) = find(&t[..p], b":(") {
                // (`/usr/bin/ld: net.cpp:(.text+0x26): ...`: the linker names itself first)
                let at = find(&t[..q], b": ").map_or(0, |c| c + 2);
                r.file = Some(lossy(&t[at..q]));
                r.language = language_of(&t[at..q]);
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

    /// Node's process warnings `(node:18360) [DEP0005] DeprecationWarning: msg`
    /// (+ its `(Use \`node --trace-...\`)` hint).
    pub(crate) fn start_node_warning(&mut self, t: &[u8], seq: u64, ts: i64) {
        let Some(p) = find(t, b") ") else { return };
        let mut rest = &t[p + 2..];
        let mut code = None;
        if rest.first() == Some(&b'[')
            && let Some(q) = memchr::memchr(b']', rest)
        {
            code = Some(lossy(&rest[1..q]));
            rest = trim_start(&rest[q + 1..]);
        }
        let name_end = rest.iter().position(|b| *b == b':').unwrap_or(0);
        let name = &rest[..name_end];
        if !name.ends_with(b"Warning") {
            return;
        }
        let mut r = Rec::new(Mode::Single, Kind::Warning, Severity::Warning, lossy(trim(rest)), seq, ts);
        r.code = code.or_else(|| Some(lossy(name)));
        r.language = Some("javascript");
        r.stage = 6;
        self.open(r);
    }

    /// A shell's or a command's failure: `./build.sh: line 3: rsynk: command
    /// not found`, `cp: cannot stat 'x': No such file or directory`.
    pub(crate) fn start_errno(&mut self, t: &[u8], seq: u64, ts: i64) -> bool {
        let errno = [&b": No such file or directory"[..], b": command not found", b": Permission denied"]
            .iter()
            .any(|e| t.ends_with(e));
        if !errno {
            return false;
        }
        let mut r = Rec::new(Mode::Single, Kind::Error, Severity::Error, String::new(), seq, ts);
        match find(t, b": line ") {
            Some(p) if has_extension(&t[..p]) => {
                let path = t[..p].strip_prefix(b"./").unwrap_or(&t[..p]);
                let line = parse_num(&t[p + 7..]);
                r.file = Some(lossy(path));
                r.line = line.map(|x| x.0);
                let after = line.map_or(p + 7, |x| p + 7 + x.1);
                r.message = lossy(trim(t[after..].strip_prefix(b":").unwrap_or(&t[after..])));
                r.language = Some("shell");
            }
            _ => r.message = lossy(trim(t)),
        }
        self.open(r);
        true
    }
}
