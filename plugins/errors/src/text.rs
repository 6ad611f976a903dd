//! Byte-level helpers: ANSI stripping, `\r` redraws, prefix removal and the
//! small anchored parsers the detector is built from. Nothing here allocates
//! except `clean_line`, which writes into a caller-owned reusable buffer.

use brum_plugin_sdk::text::strip_ansi_into;
use memchr::memchr;

/// Cleans one raw line: strips ANSI escapes (CSI, OSC, two-byte escapes),
/// the trailing newline, keeps only the text after the last `\r` redraw,
/// then removes leading timestamps and `[name]` / `name |` prefixes.
/// Borrows `raw` when there is nothing to strip; otherwise writes to `buf`.
pub fn clean_line<'a>(raw: &'a [u8], buf: &'a mut Vec<u8>) -> &'a [u8] {
    let mut s = raw;
    while let [rest @ .., b'\n' | b'\r'] = s {
        s = rest;
    }
    let s: &[u8] = if memchr(0x1b, s).is_some() {
        strip_ansi_into(s, buf);
        &buf[..]
    } else {
        s
    };
    let s = after_last_cr(s);
    strip_prefixes(s)
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
pub fn strip_prefixes(mut s: &[u8]) -> &[u8] {
    for _ in 0..4 {
        let Some(&b0) = s.first() else { return s };
        let n = if b0 == b'[' {
            bracket_prefix(s)
        } else if b0.is_ascii_digit() {
            timestamp_prefix(s)
        } else if b0.is_ascii_alphabetic() {
            compose_prefix(s)
        } else {
            0
        };
        if n == 0 {
            return s;
        }
        s = &s[n..];
        if s.first() == Some(&b' ') {
            s = &s[1..];
        }
    }
    s
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
    if has_space && !digit_start {
        return 0;
    }
    // `[ERROR]`-like level markers are kept; they are not names.
    if inner.iter().all(|b| b.is_ascii_uppercase()) {
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

/// `web-1  | ...` (docker compose): a name starting with a letter, spaces,
/// `|`, space.
fn compose_prefix(s: &[u8]) -> usize {
    let mut i = 0;
    while i < s.len() && i < 40 && (s[i].is_ascii_alphanumeric() || matches!(s[i], b'-' | b'_' | b'.')) {
        i += 1;
    }
    let name_end = i;
    while i < s.len() && s[i] == b' ' {
        i += 1;
    }
    if i > name_end && s.get(i) == Some(&b'|') && matches!(s.get(i + 1), None | Some(b' ')) { i + 1 } else { 0 }
}

fn digits_at(s: &[u8], at: usize, n: usize) -> bool {
    s.len() >= at + n && s[at..at + n].iter().all(u8::is_ascii_digit)
}

pub fn count_digits(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Parses leading decimal digits.
pub fn parse_num(s: &[u8]) -> Option<(u32, usize)> {
    let n = count_digits(s);
    if n == 0 || n > 9 {
        return None;
    }
    let mut v = 0u32;
    for &b in &s[..n] {
        v = v * 10 + (b - b'0') as u32;
    }
    Some((v, n))
}

pub fn is_blank(s: &[u8]) -> bool {
    s.iter().all(|b| b.is_ascii_whitespace())
}

pub fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

pub fn trim(s: &[u8]) -> &[u8] {
    let s = trim_start(s);
    let n = s.iter().rev().take_while(|b| b.is_ascii_whitespace()).count();
    &s[..s.len() - n]
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

/// Position of `needle` in `hay`. Lines are short and needles tiny, so a
/// memchr for the first byte and a compare beats building a `memmem`
/// searcher for every call (which dominated profiles inside wasm).
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    if hay.len() < needle.len() {
        return None;
    }
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        let p = i + memchr(first, &hay[i..=last_start])?;
        if &hay[p + 1..p + needle.len()] == rest {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

pub fn lossy(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

/// A `path:line[:col]` or `path(line,col)` location at the start of a line.
#[derive(Debug, Clone, Copy)]
pub struct Loc<'a> {
    pub path: &'a [u8],
    pub line: u32,
    pub col: Option<u32>,
    /// text after the location and its `:` (or ` -`) separator
    pub rest: &'a [u8],
    pub paren: bool,
}

/// Parses a location at the start of `s`. The path must not contain spaces
/// and its last component must have an extension (`main.c`, `a.ts`) so that
/// `make: ***` or `Makefile:2:` never match.
pub fn parse_loc(s: &[u8]) -> Option<Loc<'_>> {
    let s = s.strip_prefix(b"file://").unwrap_or(s);
    let mut i = 0;
    // Windows drive letter
    if s.len() > 2 && s[0].is_ascii_alphabetic() && s[1] == b':' && matches!(s[2], b'\\' | b'/') {
        i = 2;
    }
    let lim = s.len().min(512);
    while i < lim {
        let b = s[i];
        if b == b' ' || b == b'\t' {
            return None;
        }
        if (b == b':' || b == b'(') && i > 0 && s.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let path = &s[..i];
            if !has_extension(path) {
                return None;
            }
            let (line, n) = parse_num(&s[i + 1..])?;
            let mut j = i + 1 + n;
            let mut col = None;
            if b == b'(' {
                if s.get(j) == Some(&b',') {
                    let (c, m) = parse_num(&s[j + 1..])?;
                    col = Some(c);
                    j += 1 + m;
                }
                if s.get(j) != Some(&b')') {
                    return None;
                }
                j += 1;
            } else if s.get(j) == Some(&b':') && s.get(j + 1).is_some_and(u8::is_ascii_digit) {
                let (c, m) = parse_num(&s[j + 1..])?;
                col = Some(c);
                j += 1 + m;
            }
            let rest = &s[j..];
            let rest = if let Some(r) = rest.strip_prefix(b":") {
                r
            } else if let Some(r) = rest.strip_prefix(b" -") {
                r
            } else if rest.is_empty() || rest[0] == b' ' {
                rest
            } else {
                return None;
            };
            return Some(Loc { path, line, col, rest, paren: b == b'(' });
        }
        i += 1;
    }
    None
}

pub fn has_extension(path: &[u8]) -> bool {
    let last = match memchr::memrchr2(b'/', b'\\', path) {
        Some(p) => &path[p + 1..],
        None => path,
    };
    match memchr::memrchr(b'.', last) {
        Some(p) if p > 0 || last.len() > 1 => {
            let ext = &last[p + 1..];
            !ext.is_empty() && ext.len() <= 6 && ext.iter().all(|b| b.is_ascii_alphanumeric())
        }
        _ => false,
    }
}

/// Location at the END of `s`: `.../file.js:3:7`, `file.go:8` (+ trailing
/// text is the caller's business). Returns (path, line, col).
pub fn loc_from_end(s: &[u8]) -> Option<(&[u8], u32, Option<u32>)> {
    let s = trim(s);
    let (a, b) = split_last_num(s)?;
    if let Some((p, l)) = split_last_num(a)
        && !p.is_empty()
        && has_extension(strip_file_url(p))
    {
        return Some((strip_file_url(p), l, Some(b)));
    }
    if !a.is_empty() && has_extension(strip_file_url(a)) {
        return Some((strip_file_url(a), b, None));
    }
    None
}

fn strip_file_url(p: &[u8]) -> &[u8] {
    p.strip_prefix(b"file://").unwrap_or(p)
}

/// `xxx:123` → (`xxx`, 123)
fn split_last_num(s: &[u8]) -> Option<(&[u8], u32)> {
    let n = s.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || n > 9 || s.len() <= n || s[s.len() - n - 1] != b':' {
        return None;
    }
    let (v, _) = parse_num(&s[s.len() - n..])?;
    Some((&s[..s.len() - n - 1], v))
}

pub fn language_of(path: &[u8]) -> Option<&'static str> {
    let ext = match memchr::memrchr(b'.', path) {
        Some(p) => &path[p + 1..],
        None => return None,
    };
    Some(match ext {
        b"ts" | b"tsx" | b"mts" | b"cts" => "typescript",
        b"js" | b"jsx" | b"mjs" | b"cjs" => "javascript",
        b"py" => "python",
        b"rs" => "rust",
        b"go" => "go",
        b"java" => "java",
        b"kt" => "kotlin",
        b"c" | b"h" => "c",
        b"cc" | b"cpp" | b"cxx" | b"hpp" | b"hh" | b"hxx" | b"C" => "cpp",
        b"rb" => "ruby",
        b"php" => "php",
        b"cs" => "csharp",
        b"swift" => "swift",
        b"vue" => "vue",
        b"svelte" => "svelte",
        _ => return None,
    })
}

/// Counts like `1 failed, 3 passed, 4 total` / `1 failed | 3 passed (4)` /
/// `2 passed; 1 failed; 1 ignored`: calls `f(word, n)` for every `N word`.
pub fn for_each_count(s: &[u8], mut f: impl FnMut(&[u8], u32)) {
    let mut i = 0;
    while i < s.len() {
        if s[i].is_ascii_digit()
            && (i == 0 || !s[i - 1].is_ascii_alphanumeric())
            && let Some((n, len)) = parse_num(&s[i..])
        {
            let mut j = i + len;
            if s.get(j) == Some(&b' ') {
                j += 1;
                let w = s[j..].iter().take_while(|b| b.is_ascii_alphabetic()).count();
                if w > 0 {
                    f(&s[j..j + w], n);
                    i = j + w;
                    continue;
                }
            }
            i += len;
            continue;
        }
        i += 1;
    }
}

/// `1.23s`, `59ms`, `112 ms`, `0.07s` → milliseconds.
pub fn parse_duration_ms(s: &[u8]) -> Option<u64> {
    let s = trim_start(s);
    let int_len = count_digits(s);
    if int_len == 0 {
        return None;
    }
    let mut whole: u64 = 0;
    for &b in &s[..int_len] {
        whole = whole.saturating_mul(10).saturating_add((b - b'0') as u64);
    }
    let mut i = int_len;
    let mut frac = 0u64;
    let mut frac_div = 1u64;
    if s.get(i) == Some(&b'.') {
        i += 1;
        while let Some(b) = s.get(i).filter(|b| b.is_ascii_digit()) {
            if frac_div < 1_000_000 {
                frac = frac * 10 + (b - b'0') as u64;
                frac_div *= 10;
            }
            i += 1;
        }
    }
    if s.get(i) == Some(&b' ') {
        i += 1;
    }
    let unit = &s[i..];
    if unit.starts_with(b"ms") {
        Some(whole + frac / frac_div)
    } else if unit.starts_with(b"s") {
        Some(whole * 1000 + frac * 1000 / frac_div)
    } else if unit.starts_with(b"m") {
        Some(whole * 60_000 + frac * 60_000 / frac_div)
    } else {
        None
    }
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
        assert_eq!(clean(b"at x (/tmp/\x1b[39ma.js:2:3\x1b[90m)"), "at x (/tmp/a.js:2:3)");
        assert_eq!(clean(b"\x1b[96msrc/a.ts\x1b[0m:\x1b[93m4\x1b[0m:\x1b[93m7\x1b[0m - x"), "src/a.ts:4:7 - x");
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
        assert_eq!(clean(b"2024-05-01 10:00:00,123 ERROR boom"), "ERROR boom");
        assert_eq!(clean(b"[3:04:05 PM] Found 0 errors."), "Found 0 errors.");
        assert_eq!(clean(b"3:01:35 PM - Found 0 errors."), "Found 0 errors.");
        assert_eq!(clean(b"web-1  | panic: x"), "panic: x");
        assert_eq!(clean(b"[ERROR] keep me"), "[ERROR] keep me");
        assert_eq!(clean(b"5 |     let x"), "5 |     let x");
        assert_eq!(clean(b"[UnhandledPromiseRejection: x y]"), "[UnhandledPromiseRejection: x y]");
    }

    #[test]
    fn locations() {
        let l = parse_loc(b"src/a.ts(4,7): error TS2322: x").unwrap();
        assert_eq!((l.path, l.line, l.col, l.paren), (&b"src/a.ts"[..], 4, Some(7), true));
        let l = parse_loc(b"./main.go:5:2: undefined: y").unwrap();
        assert_eq!((l.path, l.line, l.col, l.rest), (&b"./main.go"[..], 5, Some(2), &b" undefined: y"[..]));
        let l = parse_loc(b"src/a.ts:4:7 - error TS2322: x").unwrap();
        assert_eq!(l.rest, b" error TS2322: x");
        let l = parse_loc(b"file:///tmp/a.mjs:3").unwrap();
        assert_eq!((l.path, l.line, l.col), (&b"/tmp/a.mjs"[..], 3, None));
        assert!(parse_loc(b"make: *** [Makefile:5: util.o] Error 1").is_none());
        assert!(parse_loc(b"Makefile:5: *** missing").is_none());
        assert!(parse_loc(b"http://localhost:5199/").is_none());
        assert_eq!(loc_from_end(b"/a/b.js:3:22"), Some((&b"/a/b.js"[..], 3, Some(22))));
        assert_eq!(loc_from_end(b"file:///a/b.mjs:3:9"), Some((&b"/a/b.mjs"[..], 3, Some(9))));
        assert_eq!(loc_from_end(b"App.java:7"), Some((&b"App.java"[..], 7, None)));
        assert_eq!(loc_from_end(b"node:internal/x:1:2").map(|x| x.1), None);
    }

    #[test]
    fn counts_and_durations() {
        let mut v = Vec::new();
        for_each_count(b"Tests:  1 failed, 3 passed, 4 total", |w, n| v.push((lossy(w), n)));
        assert_eq!(v, vec![("failed".into(), 1), ("passed".into(), 3), ("total".into(), 4)]);
        assert_eq!(parse_duration_ms(b"1.23s"), Some(1230));
        assert_eq!(parse_duration_ms(b"59ms"), Some(59));
        assert_eq!(parse_duration_ms(b"112 ms"), Some(112));
    }
}
