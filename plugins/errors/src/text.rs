//! Byte-level helpers the other layers are built from: trimming, anchored
//! number parsing, substring search, counts and durations. Nothing here
//! allocates except `lossy`. Imports nothing internal.

use memchr::memchr;

pub fn starts(s: &[u8], p: &[u8]) -> bool {
    s.starts_with(p)
}

pub fn digits_at(s: &[u8], at: usize, n: usize) -> bool {
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
/// searcher for every call (which dominated profiles inside wasm). The
/// byte looked for is the needle's first that is not a space (`" tests
/// completed"`): a space occurs every few bytes of a line, each a memchr
/// call and a compare.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let k = needle.iter().position(|&b| b != b' ').unwrap_or(0);
    let anchor = needle[k];
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        let p = i + memchr(anchor, &hay[i + k..=last_start + k])?;
        if &hay[p..p + needle.len()] == needle {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

/// Whether `s` holds ` deprecated` (a deprecation notice's word, see
/// `notices`), found by its 'p': rarer in text than a space, 'd' or 'e'.
pub fn has_deprecated(s: &[u8]) -> bool {
    memchr::memchr_iter(b'p', s).any(|p| p >= 3 && s[p - 3..].starts_with(b" deprecated"))
}

pub fn lossy(s: &[u8]) -> String {
    // (valid UTF-8 is checked faster than `from_utf8_lossy` walks it)
    match std::str::from_utf8(s) {
        Ok(v) => v.to_owned(),
        Err(_) => String::from_utf8_lossy(s).into_owned(),
    }
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

    #[test]
    fn counts_and_durations() {
        let mut v = Vec::new();
        for_each_count(b"Tests:  1 failed, 3 passed, 4 total", |w, n| v.push((lossy(w), n)));
        assert_eq!(v, vec![("failed".into(), 1), ("passed".into(), 3), ("total".into(), 4)]);
        assert_eq!(parse_duration_ms(b"1.23s"), Some(1230));
        assert_eq!(parse_duration_ms(b"59ms"), Some(59));
        assert_eq!(parse_duration_ms(b"112 ms"), Some(112));
    }

    #[test]
    fn deprecated_found_by_its_p() {
        assert!(has_deprecated(b" deprecated"));
        assert!(has_deprecated(b"the API is deprecated and will be removed"));
        assert!(!has_deprecated(b"deprecated option"));
        assert!(!has_deprecated(b"ppp deprecate p"));
    }

    #[test]
    fn find_is_the_first_occurrence() {
        for (hay, needle) in [
            (&b"a b  tests completed"[..], &b" tests completed"[..]),
            (b"  x", b"  x"),
            (b"   ", b" "),
            (b"ab", b"abc"),
            (b"x: y: z", b": z"),
            (b"1 tests, 1 tests, ", b" tests, "),
            (b"", b"a"),
            (b"abc", b""),
        ] {
            let want = hay.windows(needle.len().max(1)).position(|w| w == needle).filter(|_| !needle.is_empty());
            assert_eq!(find(hay, needle), want, "{:?} in {:?}", lossy(needle), lossy(hay));
        }
    }
}
