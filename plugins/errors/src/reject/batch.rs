//! The fast reject of a whole batch (`Detector::on_batch`): which lines
//! hold a ':', '|' or '\r', from one search over the batch, and the first
//! words of the others, remembered from one line to the next.

use super::words::{COUNT_FIRST, STARTER_FIRST, is_count_word, is_notice_verb, is_starter_word};
use super::{Classes, Head, head16, rejects, tail_rejects};

/// [`super::cannot_start`] of lines the caller knows hold no ':', '|' or '\r'
/// ([`Specials`] finds that out for a whole batch at once), one after the
/// other: only a line's first word is looked at, and a line that begins
/// like the last one the first word let through (the same bytes up to
/// where that one was decided, digits where it had digits: `p0 0000000042
/// GET ...` after `p0 0000000041 GET ...`) only needs its last byte looked
/// at. The verdict is a function of the line's bytes alone; `Memo` only
/// remembers how the last one was reached.
#[derive(Default)]
pub struct Memo {
    /// the first sixteen bytes of the line, where `mask` has ones
    prefix: u128,
    /// ones over the bytes the verdict read (none: nothing remembered),
    /// but the digits of a leading number
    mask: u128,
    /// the positions of the leading number's digits (any digit will do)
    digits: u32,
}

impl Memo {
    /// Whether the line cannot start a record, knowing it holds no ':',
    /// '|' or '\r'.
    #[inline]
    pub fn cannot_start_plain(&mut self, raw: &[u8]) -> bool {
        let Some(b16) = raw.first_chunk::<16>() else {
            return rejects(raw, None, |_| false);
        };
        let p = u128::from_le_bytes(*b16);
        if self.mask != 0 && (p ^ self.prefix) & self.mask == 0 && (self.digits == 0 || self.digits_hold(b16)) {
            return tail_rejects(raw);
        }
        let m = Classes::of(b16);
        match plain16(raw, &m) {
            Plain::Ask => rejects(raw, Some(&m), |_| false),
            Plain::Keep => false,
            Plain::Word { read, digits } => {
                if read <= 16 {
                    let read_mask = if read == 16 { u128::MAX } else { (1u128 << (8 * read)) - 1 };
                    self.prefix = p;
                    self.digits = digits;
                    self.mask = read_mask & !spread(digits);
                }
                tail_rejects(raw)
            }
        }
    }

    /// The bytes at `self.digits` are digits.
    #[inline(always)]
    fn digits_hold(&self, b16: &[u8; 16]) -> bool {
        Classes::digits_of(b16) & self.digits == self.digits
    }
}

/// Bit `i` of `bits` as byte `i` of all ones.
#[inline(always)]
fn spread(bits: u32) -> u128 {
    let mut m = 0u128;
    let mut i = 0;
    while i < 16 {
        if bits >> i & 1 != 0 {
            m |= 0xff << (8 * i);
        }
        i += 1;
    }
    m
}

/// What the first sixteen bytes say of a line without ':', '|' or '\r'.
#[derive(Debug, PartialEq, Eq)]
enum Plain {
    /// they do not decide it: ask [`rejects`]
    Ask,
    /// it may start a record
    Keep,
    /// its first word starts nothing: [`tail_rejects`] decides, and any
    /// line with the same bytes in `..read` but possibly other digits at
    /// `digits` has the same first word (`read` may pass 16)
    Word { read: usize, digits: u32 },
}

/// [`rejects`] of a line without ':', '|' or '\r' on the classes `m` of its
/// first sixteen bytes (`raw.len() >= 16`), up to its tail: the same steps
/// on the classes' bits, the rare word sets behind a look at the word's
/// first and last letter, keeping count of the bytes read.
#[inline(always)]
fn plain16(raw: &[u8], m: &Classes) -> Plain {
    let Some(head) = head16(raw, m) else {
        return Plain::Ask;
    };
    let (number, start, end) = match head {
        Head::Keep => return Plain::Keep,
        // (head16 leaves blank lines to head)
        Head::Blank => return Plain::Ask,
        Head::Word { number, start, end } => (number, start, end),
    };
    // (head16: end < 16 <= raw.len())
    if end == start {
        return Plain::Keep;
    }
    let (first, last, next) = (raw[start], raw[end - 1], raw[end]);
    if number && (COUNT_FIRST >> (first - b'A')) & 1 != 0 && is_count_word(&raw[start..end]) {
        return Plain::Keep;
    }
    if matches!(next, b'/' | b'.' | b'_' | b'-') {
        return Plain::Keep;
    }
    // the bytes read: the head up to the byte after the word, and the one
    // after that (below)
    let mut read = end + 2;
    if next.is_ascii_digit() {
        // is_name_with_digits: the letters and digits up to a space, with
        // lowercase among the letters
        let alnum = ((!(m.alpha | m.digit)) >> end).trailing_zeros() as usize;
        if end + alnum >= 16 {
            return Plain::Ask;
        }
        let word_bits = ((1u32 << (end - start)) - 1) << start;
        if m.lower & word_bits == 0 || raw[end + alnum] != b' ' {
            return Plain::Keep;
        }
        read = read.max(end + alnum + 1);
    }
    if ((STARTER_FIRST >> (first - b'A')) & 1 != 0 || matches!(last, b'r' | b'n' | b'g'))
        && is_starter_word(&raw[start..end])
    {
        return Plain::Keep;
    }
    if matches!(raw.get(end + 1), Some(b'e' | b'd' | b'h')) {
        if next == b' ' && first.is_ascii_uppercase() && is_notice_verb(&raw[end + 1..]) {
            return Plain::Keep;
        }
        // (the longest verb)
        read = read.max(end + 1 + b"has detected ".len());
    }
    // the leading number's digits, which head16 read as a class
    let blank = ((!m.blank) & 0xffff).trailing_zeros() as usize;
    let digits = if number { m.digit & (((1u32 << (end - blank)) - 1) << blank) } else { 0 };
    Plain::Word { read, digits }
}

/// Which lines of a batch hold a ':', '|' or '\r', from one search over
/// the batch's bytes instead of one per line: lines lie back to back in
/// the batch, in order, so the position of the next such byte answers for
/// every line before it. Right for lines in any order (a line before the
/// part already searched is searched alone), fast for lines in order.
pub struct Specials<'a> {
    data: &'a [u8],
    /// no special byte in `data[from..next]`; `data[next]` is one (or
    /// `next` is the end)
    from: usize,
    next: usize,
}

impl<'a> Specials<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        let next = memchr::memchr3(b':', b'|', b'\r', data).unwrap_or(data.len());
        Specials { data, from: 0, next }
    }

    /// Whether `data[start..end]` holds a ':', '|' or '\r' (an empty or
    /// outside range holds none).
    #[inline]
    pub fn within(&mut self, start: usize, end: usize) -> bool {
        let end = end.min(self.data.len());
        if start >= end {
            return false;
        }
        if start < self.from {
            return memchr::memchr3(b':', b'|', b'\r', &self.data[start..end]).is_some();
        }
        if self.next < start {
            self.from = start;
            self.next = memchr::memchr3(b':', b'|', b'\r', &self.data[start..]).map_or(self.data.len(), |i| start + i);
        }
        self.next < end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of every variant of the corpus.
    fn corpus_lines() -> Vec<Vec<u8>> {
        let mut corpus = Vec::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut dirs: Vec<_> = std::fs::read_dir(root).expect("fixtures").flatten().map(|d| d.path()).collect();
        dirs.sort();
        for d in dirs {
            for f in ["output.log", "output.color.log", "output.pty.log"] {
                if let Ok(b) = std::fs::read(d.join(f)) {
                    corpus.extend(b.split(|&c| c == b'\n').map(<[u8]>::to_vec));
                }
            }
        }
        corpus
    }

    /// The memo's verdict is the byte loops' (`rejects` without the scan)
    /// on every corpus line, each after the one before it, and after every
    /// line on the line with one of its first twenty bytes changed (a memo
    /// that remembered too little or too much would say otherwise).
    #[test]
    fn the_memo_is_the_byte_loops() {
        let plain = |l: &[u8]| rejects(l, None, |_| false);
        let mut memo = Memo::default();
        let (mut n, mut hits) = (0, 0);
        let extra: [&[u8]; 7] = [
            b"worker12 GET /health 200 in 1ms, all is well",
            b"p0 0000000001 GET /api/items?page=1 200 in 3ms - lorem",
            b"000123 GET /api/items?page=3 200 in 4ms",
            b"  12 passed in 3s, and more text here",
            b"React encountered an empty buffer when writing",
            b"web2 GET /health 200 in 1ms, all is well",
            b"Compiling app v1 (took 3s) and more.",
        ];
        let lines: Vec<Vec<u8>> = extra.iter().map(|l| l.to_vec()).chain(corpus_lines()).collect();
        for l in &lines {
            assert_eq!(memo.cannot_start_plain(l), plain(l), "{:?}", String::from_utf8_lossy(l));
            for j in 0..l.len().min(20) {
                for b in *b"0a :.eEdh/ -_A\x1b" {
                    let mut m = l.clone();
                    m[j] = b;
                    let before = memo.mask != 0
                        && (u128::from_le_bytes(m[..16.min(m.len())].try_into().unwrap_or([0; 16])) ^ memo.prefix)
                            & memo.mask
                            == 0;
                    assert_eq!(memo.cannot_start_plain(&m), plain(&m), "{:?}", String::from_utf8_lossy(&m));
                    hits += usize::from(before);
                    n += 1;
                    // back to the line's own memo
                    memo.cannot_start_plain(l);
                }
            }
        }
        assert!(n > 100_000 && hits > 10_000, "{n} {hits}");
    }

    /// `Specials` answers as a search of each line alone, for lines in
    /// order, in reverse, overlapping, empty or outside the data.
    #[test]
    fn specials_are_each_lines_own() {
        let lines = corpus_lines();
        let data: Vec<u8> = lines.concat();
        let mut ranges = Vec::new();
        let mut at = 0;
        for l in &lines {
            ranges.push((at, at + l.len()));
            at += l.len();
        }
        let own = |(s, e): (usize, usize)| {
            data.get(s..e.min(data.len())).is_some_and(|l| l.iter().any(|b| matches!(b, b':' | b'|' | b'\r')))
        };
        let mut orders = vec![ranges.clone(), ranges.iter().rev().copied().collect()];
        orders.push(ranges.iter().map(|&(s, e)| (s.saturating_sub(3), e + 5)).collect());
        orders.push(vec![(0, 0), (5, 3), (data.len(), data.len() + 9), (data.len() + 1, data.len() + 2), (0, 10)]);
        let mut found = 0;
        for order in orders {
            let mut sp = Specials::new(&data);
            for &r in &order {
                assert_eq!(sp.within(r.0, r.1), own(r), "{r:?}");
                found += usize::from(own(r));
            }
        }
        assert!(found > 10_000, "{found}");
    }
}
