//! The fast reject, the detector's first layer: on the raw bytes of a line,
//! before any normalization, whether it can start a record at all. A stream
//! with nothing open skips the lines that cannot — most lines of healthy
//! output — without copying or allocating. Kept in step with `dispatch`
//! (the forms that start records); the corpus test checks that skipping
//! changes no finding. Imports only `text`.

mod batch;
mod words;

pub use batch::{Memo, Specials};
use words::{is_count_word, is_notice_verb, is_starter_word};

/// The fast reject, on the raw bytes before any normalization: true when
/// the line cannot start a record, so a stream with nothing open can skip
/// it. Every form `dispatch` and `general` start a record from either has a ':' (or a
/// `|` prefix, or a `\r` redraw), or begins — after escapes and
/// indentation — with a byte other than a letter, or with one of the
/// starter words or an exception-like word. Most lines of healthy output
/// (`GET /api 200 in 12ms`, `   Compiling serde v1`) are decided with a
/// look at their first word and one scan for those three bytes.
/// `tests/fixtures.rs` checks on the whole corpus that skipping changes no
/// finding.
#[inline]
pub fn cannot_start(raw: &[u8]) -> bool {
    let block = classes16(raw);
    // (the scan for ':' last: lines that cannot be rejected mostly say so
    // in their first word, which spares them the scan)
    rejects(raw, block.as_ref(), |m| match m {
        Some(m) => m.special != 0 || has_colon_bar_cr(&raw[16..]),
        None => has_colon_bar_cr(raw),
    })
}

/// The last step of [`rejects`], on the whole line: written after a
/// spinner's last frame, on its line; Perl `bad port 80a at lib/Conf.pm
/// line 9.`
#[inline(always)]
fn tail_rejects(raw: &[u8]) -> bool {
    !(raw.last() == Some(&b'.') && (raw.ends_with(b"Failed to compile.") || crate::text::contains(raw, b" line ")))
}

/// The classes of the first sixteen bytes at once, in the plugin (wasm
/// with SIMD: a few vector operations); natively, in the plugin's tests,
/// the byte loops are cheaper (None).
#[inline(always)]
fn classes16(raw: &[u8]) -> Option<Classes> {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return raw.get(..16).map(Classes::of);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let _ = raw;
        None
    }
}

/// The body of [`cannot_start`]: the first word first, `special` (whether
/// the line holds a ':', '|' or '\r') when that did not decide.
#[inline(always)]
fn rejects(raw: &[u8], block: Option<&Classes>, special: impl FnOnce(Option<&Classes>) -> bool) -> bool {
    let (number, start, end) = match block.and_then(|m| head16(raw, m)).unwrap_or_else(|| head(raw)) {
        Head::Keep => return false,
        // nothing but blanks and escape sequences: a stream with nothing
        // open ignores a blank line
        Head::Blank => return true,
        Head::Word { number, start, end } => (number, start, end),
    };
    let w = &raw[start..end];
    if number && is_count_word(w) {
        return false;
    }
    if w.is_empty()
        || matches!(raw.get(end), Some(b'/' | b'.' | b'_' | b'-'))
        || (matches!(raw.get(end), Some(b'0'..=b'9')) && !is_name_with_digits(w, &raw[end..]))
    {
        // a path (`deploy/app.yaml`, a linter's file header) or a code (`F401`)
        return false;
    }
    if is_starter_word(w) || special(block) {
        return false;
    }
    if matches!(raw.get(end + 1), Some(b'e' | b'd' | b'h'))
        && raw[end] == b' '
        && raw[start].is_ascii_uppercase()
        && is_notice_verb(&raw[end + 1..])
    {
        // a library's runtime notice `React encountered ...` (`notices`)
        return false;
    }
    tail_rejects(raw)
}

/// Whether letters `w` and the digits in `after` that follow them are a
/// name (`p0`, `web2`, `worker12`: a process or host name in front of its
/// request log) rather than a lint code (`F401`, `SC2164`: capitals) or the
/// start of a path (`src2/app.js`): lowercase somewhere, and the word ends
/// at a space or the end of the line.
#[inline(always)]
fn is_name_with_digits(w: &[u8], after: &[u8]) -> bool {
    let alnum = count(after, |b| b.is_ascii_alphanumeric());
    w.iter().any(u8::is_ascii_lowercase) && matches!(after.get(alnum), None | Some(b' '))
}

/// What starts a line, after its indentation and escape sequences.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// the line may start a record whatever follows (a synchronized-update
    /// frame's escape, a number not followed by a space: `3%`, `1/3`,
    /// `2024-05-01`, `1)`)
    Keep,
    /// blanks, escape sequences and `\r` only
    Blank,
    /// its first word: `raw[start..end]` (letters, possibly none), after a
    /// leading number and spaces when `number` (a count, `2 failed`, or a
    /// request id in front of ordinary text)
    Word { number: bool, start: usize, end: usize },
}

/// [`Head`] byte by byte.
fn head(raw: &[u8]) -> Head {
    let mut i = 0;
    loop {
        i += count(&raw[i..], |b| b == b' ' || b == b'\t');
        if raw.get(i) != Some(&0x1b) || raw.get(i + 1) != Some(&b'[') {
            break;
        }
        if raw[i + 2..].starts_with(b"?2026") {
            // opens or closes a synchronized-update frame: tracked
            return Head::Keep;
        }
        i += 2;
        i += count(&raw[i..], |b| (0x20..=0x3f).contains(&b)) + 1;
        i = i.min(raw.len());
    }
    if raw[i..].iter().all(|&b| b == b'\r') {
        return Head::Blank;
    }
    let digits = count(&raw[i..], |b| b.is_ascii_digit());
    if digits > 0 {
        i += digits;
        if raw.get(i) != Some(&b' ') {
            return Head::Keep;
        }
        i += count(&raw[i..], |b| b == b' ');
    }
    let start = i;
    i += count(&raw[i..], |b| b.is_ascii_alphabetic());
    Head::Word { number: digits > 0, start, end: i }
}

/// [`Head`] from the classes `m` of the first sixteen bytes at once, when
/// it lies within them and no escape sequence comes first (None: ask
/// [`head`]).
#[inline(always)]
fn head16(raw: &[u8], m: &Classes) -> Option<Head> {
    // how many bytes from `from` on are in the class (`from` <= 16)
    let run = |class: u32, from: usize| ((!class) >> from).trailing_zeros() as usize;
    let mut i = run(m.blank, 0);
    if i == 16 || raw[i] == 0x1b || raw[i] == b'\r' {
        return None;
    }
    let digits = run(m.digit, i);
    if digits > 0 {
        i += digits;
        if i == 16 {
            return None;
        }
        if raw[i] != b' ' {
            return Some(Head::Keep);
        }
        i += run(m.space, i);
        if i == 16 {
            return None;
        }
    }
    let end = i + run(m.alpha, i);
    (end < 16).then_some(Head::Word { number: digits > 0, start: i, end })
}

/// Bit `i` set when byte `i` of a 16-byte block is in the class.
struct Classes {
    /// ' ' or '\t'
    blank: u32,
    space: u32,
    digit: u32,
    alpha: u32,
    /// lowercase ASCII letters
    lower: u32,
    /// ':', '|' or '\r'
    special: u32,
}

impl Classes {
    /// In the plugin (wasm with SIMD): four compares of the whole block.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[inline(always)]
    fn of(c: &[u8]) -> Classes {
        use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_lt, u8x16_shl, u8x16_splat, u8x16_sub, v128, v128_or};
        let v = load16(c);
        let bits = |x: v128| u32::from(u8x16_bitmask(x));
        let space = u8x16_eq(v, u8x16_splat(b' '));
        let alpha = bits(u8x16_lt(u8x16_sub(v128_or(v, u8x16_splat(0x20)), u8x16_splat(b'a')), u8x16_splat(26)));
        Classes {
            // (bit 5 of a letter: lowercase)
            lower: alpha & bits(u8x16_shl(v, 2)),
            blank: bits(v128_or(space, u8x16_eq(v, u8x16_splat(b'\t')))),
            space: bits(space),
            digit: bits(u8x16_lt(u8x16_sub(v, u8x16_splat(b'0')), u8x16_splat(10))),
            alpha,
            special: bits(v128_or(
                v128_or(u8x16_eq(v, u8x16_splat(b':')), u8x16_eq(v, u8x16_splat(b'|'))),
                u8x16_eq(v, u8x16_splat(b'\r')),
            )),
        }
    }

    /// The digits only.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[inline(always)]
    fn digits_of(c: &[u8; 16]) -> u32 {
        use core::arch::wasm32::{u8x16_bitmask, u8x16_lt, u8x16_splat, u8x16_sub};
        u32::from(u8x16_bitmask(u8x16_lt(u8x16_sub(load16(c), u8x16_splat(b'0')), u8x16_splat(10))))
    }

    /// Natively, byte by byte (the plugin's tests, which check that the
    /// block's head is the byte loop's).
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    fn of(c: &[u8]) -> Classes {
        let mut m = Classes { blank: 0, space: 0, digit: 0, alpha: 0, lower: 0, special: 0 };
        for (i, &b) in c.iter().take(16).enumerate() {
            let bit = 1u32 << i;
            m.blank |= if b == b' ' || b == b'\t' { bit } else { 0 };
            m.space |= if b == b' ' { bit } else { 0 };
            m.digit |= if b.is_ascii_digit() { bit } else { 0 };
            m.alpha |= if b.is_ascii_alphabetic() { bit } else { 0 };
            m.lower |= if b.is_ascii_lowercase() { bit } else { 0 };
            m.special |= if matches!(b, b':' | b'|' | b'\r') { bit } else { 0 };
        }
        m
    }

    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    fn digits_of(c: &[u8; 16]) -> u32 {
        Classes::of(c).digit
    }
}

/// Sixteen bytes as one vector (without an unaligned-pointer read).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn load16(c: &[u8]) -> core::arch::wasm32::v128 {
    let (mut lo, mut hi) = ([0u8; 8], [0u8; 8]);
    lo.copy_from_slice(&c[..8]);
    hi.copy_from_slice(&c[8..16]);
    core::arch::wasm32::u64x2(u64::from_le_bytes(lo), u64::from_le_bytes(hi))
}

/// How many bytes at the start of `s` satisfy `f`.
#[inline]
fn count(s: &[u8], f: impl Fn(u8) -> bool) -> usize {
    s.iter().position(|&b| !f(b)).unwrap_or(s.len())
}

/// Whether `s` holds a ':', a '|' or a '\r'. In the plugin (wasm with
/// SIMD) sixteen bytes at a time, the last sixteen overlapping: lines are
/// short, and setting up a general vector search per line costs more than
/// the search.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn has_colon_bar_cr(s: &[u8]) -> bool {
    use core::arch::wasm32::{u8x16_eq, u8x16_splat, v128, v128_any_true, v128_or};
    let hit = |v: v128| {
        let any = v128_or(
            v128_or(u8x16_eq(v, u8x16_splat(b':')), u8x16_eq(v, u8x16_splat(b'|'))),
            u8x16_eq(v, u8x16_splat(b'\r')),
        );
        v128_any_true(any)
    };
    if s.len() < 16 {
        return s.iter().any(|b| matches!(b, b':' | b'|' | b'\r'));
    }
    let mut i = 0;
    while i + 16 < s.len() {
        if hit(load16(&s[i..i + 16])) {
            return true;
        }
        i += 16;
    }
    hit(load16(&s[s.len() - 16..]))
}

/// Natively (the plugin's tests): memchr's vector search.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
fn has_colon_bar_cr(s: &[u8]) -> bool {
    memchr::memchr3(b':', b'|', b'\r', s).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_head_is_the_byte_head() {
        let lines: [&[u8]; 12] = [
            b"000123 GET /api/items?page=3 200 in 4ms",
            b"   Compiling serde v1.0.200 (registry)",
            b"\t\tat foo (src/a.js:1:2) and more text",
            b"2 failed, 3 passed in 0.02s and more",
            b"2024-05-01T10:00:00Z starting the app",
            b"                        deeply indented",
            b"abcdefghijklmnopqrstuvwxyz long word",
            b"12  spaces after the number, then words",
            b"\x1b[32m  colored\x1b[0m text and more text",
            b"123456789012345678 a number past 16",
            b"x y z",
            b"3% done, more text, more text, more",
        ];
        let mut corpus = Vec::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for d in std::fs::read_dir(root).expect("fixtures").flatten() {
            for f in ["output.log", "output.color.log", "output.pty.log"] {
                if let Ok(b) = std::fs::read(d.path().join(f)) {
                    corpus.extend(b.split(|&c| c == b'\n').map(<[u8]>::to_vec));
                }
            }
        }
        assert!(corpus.len() > 10_000);
        let mut fast = 0;
        for l in lines.iter().copied().chain(corpus.iter().map(Vec::as_slice)) {
            if let Some(h) = l.get(..16).and_then(|b| head16(l, &Classes::of(b))) {
                assert_eq!(h, head(l), "{:?}", String::from_utf8_lossy(l));
                fast += 1;
            }
        }
        assert!(fast > 5_000, "{fast}");
    }

    #[test]
    fn rejects_ordinary_lines_only() {
        assert!(cannot_start(b"000123 GET /api/items?page=3 200 in 4ms"));
        assert!(cannot_start(b"   Compiling serde v1.0.200"));
        // a name with digits in front of a request log is a word; a lint
        // code or a path that starts the same way is not
        assert!(cannot_start(b"p0 0000000001 GET /api/items?page=1 200 in 3ms - lorem"));
        assert!(cannot_start(b"worker12 GET /health 200"));
        assert!(!cannot_start(b"F401 [*] `os` imported but unused"));
        assert!(!cannot_start(b"SC2164 (warning) Use cd ... || exit"));
        assert!(!cannot_start(b"src2/app.js"));
        assert!(!cannot_start(b"app1.py line 3 failed"));
        assert!(!cannot_start(b"2 failed, 3 passed in 0.02s"));
        assert!(!cannot_start(b"33% tests passed, 2 tests failed out of 3"));
        assert!(!cannot_start(b"thread 'main' panicked at src/main.rs:2:5:"));
        assert!(!cannot_start(b"web-1  | ready"));
        assert!(!cannot_start(b"Compiling\r\x1b[2KFailed"));
        assert!(cannot_start(b""));
        assert!(cannot_start(b"   \t  \r"));
        assert!(cannot_start(b"\x1b[0m\x1b[2K  "));
        assert!(!cannot_start(b"\x1b[?2026h"));
        // a library's runtime notice (`notices`): its verb after its name
        assert!(!cannot_start(b"React encountered an empty buffer when writing"));
        assert!(!cannot_start(b"React has detected a change in the order of Hooks"));
        assert!(cannot_start(b"React Router ready in 12ms"));
        assert!(cannot_start(b"deprecated option ignored"));
        for n in 0..24 {
            // the scan finds a ':' at any place, in the words and the remainder
            let mut l = vec![b'a'; n];
            l.insert(n / 2, b':');
            assert!(has_colon_bar_cr(&l), "{n}");
            assert!(!has_colon_bar_cr(&vec![b'a'; n]));
        }
    }
}
