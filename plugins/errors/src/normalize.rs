//! Line normalization, the first layer of the detector: turns one raw line
//! into the text the detector reads. ANSI escapes, `\r` redraws, timestamps
//! and `[name]` / `name |` prefixes go. Borrows the input when there is
//! nothing to strip; otherwise writes into a caller-owned buffer, so a
//! line costs no allocation. Imports only `text` helpers.

use crate::text::*;
use memchr::memchr;

/// Cleans one raw line: strips ANSI escapes (CSI, OSC, two-byte escapes),
/// the trailing newline, keeps only the text after the last `\r` redraw,
/// then removes leading timestamps and `[name]` / `name |` prefixes.
/// Borrows `raw` when there is nothing to strip; otherwise writes to `buf`.
pub fn clean_line<'a>(raw: &'a [u8], buf: &'a mut Vec<u8>) -> &'a [u8] {
    clean_line_level(raw, buf).0
}

/// `clean_line` and the log level its prefix gave (see `strip_prefixes_level`).
pub fn clean_line_level<'a>(raw: &'a [u8], buf: &'a mut Vec<u8>) -> (&'a [u8], Level) {
    strip_prefixes_level(clean_text(raw, buf))
}

/// `clean_line` without the prefixes: ANSI escapes, the newline and `\r`
/// redraws only.
pub fn clean_text<'a>(raw: &'a [u8], buf: &'a mut Vec<u8>) -> &'a [u8] {
    let mut s = raw;
    while let [rest @ .., b'\n' | b'\r'] = s {
        s = rest;
    }
    // one pass for the three bytes that need more than borrowing
    if memchr::memchr3(0x1b, 0x9b, b'\r', s).is_none() {
        return s;
    }
    let s: &[u8] = if memchr::memchr2(0x1b, 0x9b, s).is_some() {
        strip_ansi_redraw(s, buf);
        &buf[..]
    } else {
        s
    };
    after_last_cr(s)
}

/// A TAP comment carries the test process's own output (node --test prints
/// a crashing file's stderr as `# ` lines, Test::More its diagnostics):
/// its text is read without the `# `. TAP's own comments — `# Subtest:
/// name`, `# tests 3`, `# pass 2` — are kept.
pub fn strip_tap_comment(t: &[u8]) -> &[u8] {
    let Some(rest) = t.strip_prefix(b"# ") else { return t };
    if starts(rest, b"Subtest: ") {
        return t;
    }
    let w = rest.iter().take_while(|b| b.is_ascii_lowercase() || **b == b'_').count();
    if w > 0 && rest.get(w) == Some(&b' ') && rest.get(w + 1).is_some_and(u8::is_ascii_digit) {
        return t;
    }
    rest
}

/// The SDK's ANSI stripping (CSI incl. 8-bit, OSC, string sequences,
/// two-byte escapes), watching for line redraws in the same pass: an
/// erase-line or cursor-to-column-1 sequence (`ESC[2K`, `ESC[1G`, `ESC[G`)
/// redraws the line like a `\r` (spinners, Prettier's file list), so only
/// the text after the last one is kept — unless that is blank.
fn strip_ansi_redraw(src: &[u8], dst: &mut Vec<u8>) {
    let mut cut = None;
    brum_plugin_sdk::text::strip_ansi_seeing_csi(src, dst, |params, fin, at| {
        if (fin == b'K' && params == b"2") || (fin == b'G' && matches!(params, b"" | b"1")) {
            cut = Some(at);
        }
    });
    if let Some(c) = cut
        && c < dst.len()
        && !is_blank(&dst[c..])
    {
        dst.drain(..c);
    }
}

/// Whether a line leaves the terminal inside a synchronized-update frame
/// (`ESC[?2026h` opens one, `ESC[?2026l` closes it; the last one wins);
/// None when it has neither. Terminal UIs draw transient status in them.
pub fn frame_state(raw: &[u8]) -> Option<bool> {
    let open = memchr::memmem::rfind(raw, b"\x1b[?2026h");
    let close = memchr::memmem::rfind(raw, b"\x1b[?2026l");
    match (open, close) {
        (None, None) => None,
        (Some(_), None) => Some(true),
        (None, Some(_)) => Some(false),
        (Some(o), Some(c)) => Some(o > c),
    }
}

/// Text after the last `\r` (progress redraws); if that part is blank the
/// last non-blank segment is used.
fn after_last_cr(s: &[u8]) -> &[u8] {
    if memchr(b'\r', s).is_none() {
        return s;
    }
    let mut end = s.len();
    loop {
        match memchr::memrchr(b'\r', &s[..end]) {
            Some(p) => {
                let seg = &s[p + 1..end];
                if !is_blank(seg) {
                    return seg;
                }
                end = p;
            }
            None => return &s[..end],
        }
    }
}

/// Strips up to four leading prefixes: ISO/clock timestamps, `[name]`
/// groups without spaces (or starting with a digit: `[3:04:05 PM]`) and
/// `name |` (docker compose). One separating space is removed, further
/// indentation is kept.
pub fn strip_prefixes(s: &[u8]) -> &[u8] {
    strip_prefixes_level(s).0
}

/// The level a log line was written at, when a logger's prefix says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    None,
    Info,
    Warn,
    Error,
}

/// `strip_prefixes`, and after a timestamp or `[name]` prefix also a log
/// level word (`error:` `warn:` `INFO` `[ERROR]` ...), returned apart: the
/// text after it is what the detector reads (`error: SyntaxError: x` is a
/// stack trace), the level decides what a line nothing else claims is.
/// A level word opening a line on its own is the tool's text (`error: could
/// not compile`), never stripped.
pub fn strip_prefixes_level(mut s: &[u8]) -> (&[u8], Level) {
    let mut stripped = false;
    match s.first() {
        // Next.js marks errors ` ⨯ TypeError: x`
        Some(b' ' | 0xE2) => {
            if let Some(rest) = trim_start(s).strip_prefix("⨯ ".as_bytes()) {
                return (rest, Level::Error);
            }
            // (an indented line has no other prefix)
            if s[0] == b' ' {
                return (s, Level::None);
            }
        }
        Some(b'[' | b'(' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z') => {}
        _ => return (s, Level::None),
    }
    // lowercase bracketed levels open a line (Prettier `[warn] src/a.js`)
    if s.first() == Some(&b'[')
        && s.get(1).is_some_and(u8::is_ascii_lowercase)
        && let Some((level, n)) = level_word(s)
    {
        return (trim_start(&s[n..]), level);
    }
    for _ in 0..4 {
        let Some(&b0) = s.first() else { return (s, Level::None) };
        if stripped && let Some((level, n)) = level_word(s) {
            // and the logger's tag after its level (Astro `[ERROR] [vite] msg`)
            let rest = trim_start(&s[n..]);
            let tag = if rest.first() == Some(&b'[') { bracket_prefix(rest) } else { 0 };
            return (trim_start(&rest[tag..]), level);
        }
        let n = if b0 == b'[' {
            bracket_prefix(s)
        } else if b0.is_ascii_digit() {
            timestamp_prefix(s)
        } else if b0.is_ascii_alphabetic() {
            compose_prefix(s)
        } else if b0 == b'(' {
            env_prefix(s)
        } else {
            0
        };
        if n == 0 {
            return (s, Level::None);
        }
        stripped = true;
        s = &s[n..];
        if s.first() == Some(&b' ') {
            s = &s[1..];
        }
    }
    (s, Level::None)
}

/// `error:` `warn:` (winston), `ERROR ` `WARN ` `INFO ` (most loggers),
/// `[ERROR]` `[WARN]` (log4j, Python's `%(levelname)s` in brackets).
fn level_word(s: &[u8]) -> Option<(Level, usize)> {
    let (inner, n) = if s[0] == b'[' {
        let close = memchr(b']', &s[..s.len().min(10)])?;
        (&s[1..close], close + 1)
    } else {
        let w = s.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let sep = match s.get(w) {
            Some(b':') if matches!(s.get(w + 1), None | Some(b' ')) => w + 1,
            Some(b' ') if s[..w].iter().all(u8::is_ascii_uppercase) => w,
            None if s[..w].iter().all(u8::is_ascii_uppercase) => w,
            _ => return None,
        };
        (&s[..w], sep)
    };
    let level = match inner {
        b"error" | b"ERROR" | b"err" | b"ERR" | b"fatal" | b"FATAL" | b"CRITICAL" | b"critical" => Level::Error,
        b"warn" | b"WARN" | b"warning" | b"WARNING" => Level::Warn,
        b"info" | b"INFO" | b"debug" | b"DEBUG" | b"trace" | b"TRACE" | b"verbose" | b"notice" | b"NOTICE" => {
            Level::Info
        }
        _ => return None,
    };
    Some((level, n))
}

fn bracket_prefix(s: &[u8]) -> usize {
    let lim = s.len().min(42);
    let Some(close) = memchr(b']', &s[..lim]) else {
        return 0;
    };
    let inner = &s[1..close];
    if inner.is_empty() {
        return 0;
    }
    let digit_start = inner[0].is_ascii_digit();
    let has_space = memchr(b' ', inner).is_some();
    // (`[vite:esbuild]` / `[builtin:vite-transform]` are plugin ids, not names)
    if (has_space || memchr(b':', inner).is_some()) && !digit_start {
        return 0;
    }
    // `[ERROR]`-like level markers are kept; they are not names.
    // (and codes: `[PARSE_ERROR] Expected ...`)
    if inner.iter().all(|b| b.is_ascii_uppercase() || *b == b'_') {
        return 0;
    }
    // ninja style `[1/3]` progress is a prefix too; anything after `]` must
    // be a space or end
    match s.get(close + 1) {
        None | Some(b' ') => close + 1,
        _ => 0,
    }
}

/// `2024-01-02T03:04:05.123Z`, `2024-01-02 03:04:05,123`, `12:34:56`,
/// `3:04:05 PM`, optionally followed by ` -` (tsc watch). Returns the
/// length consumed or 0.
fn timestamp_prefix(s: &[u8]) -> usize {
    let mut i = 0;
    // date part
    if s.len() >= 10 && s[4] == b'-' && s[7] == b'-' && digits_at(s, 0, 4) && digits_at(s, 5, 2) && digits_at(s, 8, 2) {
        i = 10;
        match s.get(i) {
            Some(b'T') | Some(b' ') => i += 1,
            _ => return 0,
        }
    }
    // clock part H:MM:SS or HH:MM:SS
    let h = count_digits(&s[i..]);
    if h == 0 || h > 2 {
        return 0;
    }
    let j = i + h;
    if s.get(j) != Some(&b':') || !digits_at(s, j + 1, 2) || s.get(j + 3) != Some(&b':') || !digits_at(s, j + 4, 2) {
        return 0;
    }
    let mut k = j + 6;
    if matches!(s.get(k), Some(b'.') | Some(b',')) {
        let d = count_digits(&s[k + 1..]);
        if d > 0 {
            k += 1 + d;
        }
    }
    if s.get(k) == Some(&b'Z') {
        k += 1;
    } else if matches!(s.get(k), Some(b'+') | Some(b'-')) && digits_at(s, k + 1, 2) {
        k += 3;
        if s.get(k) == Some(&b':') && digits_at(s, k + 1, 2) {
            k += 3;
        } else if digits_at(s, k, 2) {
            k += 2;
        }
    }
    if s[k..].starts_with(b" AM") || s[k..].starts_with(b" PM") {
        k += 3;
    }
    if s[k..].starts_with(b" - ") {
        k += 2;
    }
    match s.get(k) {
        None | Some(b' ') | Some(b'\t') => k,
        _ => 0,
    }
}

/// Vite 6+ names the environment: `(client) hmr update`, `(ssr) Error: x`
fn env_prefix(s: &[u8]) -> usize {
    let n = s[1..].iter().take_while(|b| b.is_ascii_lowercase()).count();
    if matches!(&s[1..=n], b"pass" | b"fail" | b"skip" | b"todo") {
        // bun's test verdicts `(fail) name`, not an environment
        return 0;
    }
    if n > 0 && s.get(n + 1) == Some(&b')') && s.get(n + 2) == Some(&b' ') { n + 2 } else { 0 }
}

/// `web-1  | ...` (docker compose): a name starting with a letter, spaces,
/// `|`, space.
fn compose_prefix(s: &[u8]) -> usize {
    let mut i = 0;
    while i < s.len() && i < 40 && (s[i].is_ascii_alphanumeric() || matches!(s[i], b'-' | b'_' | b'.')) {
        i += 1;
    }
    let name_end = i;
    // Deno's `ok | 3 passed | 0 failed`, `FAILED | 1 passed | 2 failed`: a
    // verdict, not a service
    if &s[..i] == b"ok" || s[..i].iter().all(|b| b.is_ascii_uppercase()) {
        return 0;
    }
    while i < s.len() && s[i] == b' ' {
        i += 1;
    }
    if i > name_end && s.get(i) == Some(&b'|') && matches!(s.get(i + 1), None | Some(b' ')) { i + 1 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &[u8]) -> String {
        let mut b = Vec::new();
        lossy(clean_line(s, &mut b))
    }

    #[test]
    fn strips_ansi_and_osc() {
        assert_eq!(clean(b"\x1b[1m\x1b[91merror\x1b[0m: boom\n"), "error: boom");
        assert_eq!(clean(b"\x1b]8;;file:///a\x07link\x1b]8;;\x07 text"), "link text");
        assert_eq!(clean(b"\x1b]0;title\x1b\\ok"), "ok");
        assert_eq!(clean(b"\x1bcFound 0 errors."), "Found 0 errors.");
        let mut a = Vec::new();
        let mut b = Vec::new();
        for s in [
            &b"a\x1b[1;31mb\x1b[0mc"[..],
            b"a\x1b(Bb\x1b=c",
            b"a\x1b]0;t\x07b",
            b"ab\x1b[",
            b"ab\x1b",
            b"\x1b]8;;u\x1b\\l\x1b]8;;\x1b\\",
        ] {
            strip_ansi_redraw(s, &mut a);
            brum_plugin_sdk::text::strip_ansi_into(s, &mut b);
            assert_eq!(a, b, "{s:?}");
        }
        assert_eq!(clean(b"at x (/tmp/\x1b[39ma.js:2:3\x1b[90m)"), "at x (/tmp/a.js:2:3)");
        assert_eq!(clean(b"\x1b[96msrc/a.ts\x1b[0m:\x1b[93m4\x1b[0m:\x1b[93m7\x1b[0m - x"), "src/a.ts:4:7 - x");
    }

    #[test]
    fn eight_bit_csi_and_utf8() {
        assert_eq!(clean(b"\x9b31merror\x9b0m: x"), "error: x");
        // 0x9b inside a UTF-8 character is not a CSI
        assert_eq!(clean("⛔ \x1b[1mstop\x1b[0m".as_bytes()), "⛔ stop");
        // clear screen, inverse video
        assert_eq!(clean(b"\x1b[2J\x1b[3J\x1b[H\x1b[7m FAIL \x1b[27m src/a.test.ts"), " FAIL  src/a.test.ts");
    }

    #[test]
    fn erase_line_redraws() {
        assert_eq!(clean(b"src/a.js\x1b[2K\x1b[1G[\x1b[33mwarn\x1b[39m] src/a.js"), "src/a.js");
        assert_eq!(clean(b" Linting .\x1b[2K\x1b[1GFailed to compile."), "Failed to compile.");
    }

    #[test]
    fn carriage_return_redraws() {
        assert_eq!(clean(b"10%\r50%\r100% done\r\n"), "100% done");
        assert_eq!(clean(b"building\r\x1b[K"), "building");
        assert_eq!(clean(b"line\r\n"), "line");
    }

    #[test]
    fn prefixes() {
        assert_eq!(clean(b"[api] 12:00:01     at f (a.js:1:2)"), "    at f (a.js:1:2)");
        assert_eq!(clean(b"2024-05-01T10:00:00.123Z TypeError: x"), "TypeError: x");
        assert_eq!(clean(b"2024-05-01 10:00:00,123 ERROR boom"), "boom");
        let mut b = Vec::new();
        assert_eq!(
            clean_line_level(b"2024-05-01T10:00:00Z error: TypeError: x", &mut b),
            (&b"TypeError: x"[..], Level::Error)
        );
        assert_eq!(clean_line_level(b"[12:00:01] WARN  slow", &mut b), (&b"slow"[..], Level::Warn));
        assert_eq!(
            clean_line_level(b"error: could not compile", &mut b),
            (&b"error: could not compile"[..], Level::None)
        );
        assert_eq!(clean(b"[3:04:05 PM] Found 0 errors."), "Found 0 errors.");
        assert_eq!(clean(b"3:01:35 PM - Found 0 errors."), "Found 0 errors.");
        assert_eq!(clean(b"web-1  | panic: x"), "panic: x");
        assert_eq!(clean(b"5:27:38 AM [vite] (client) Pre-transform error: x"), "Pre-transform error: x");
        assert_eq!(clean(b"[ERROR] keep me"), "[ERROR] keep me");
        assert_eq!(clean(b"5 |     let x"), "5 |     let x");
        assert_eq!(clean(b"[UnhandledPromiseRejection: x y]"), "[UnhandledPromiseRejection: x y]");
    }
}
