//! Line splitting: turns the byte chunks read from a child's pipe into lines.
//!
//! Leaf module: depends on `memchr` only. It owns a small carry buffer for a
//! partial line between reads and never allocates after construction.
//!
//! The rules are defined on the whole byte stream, so every chunking of the
//! same input yields the same lines:
//! - a line ends at `\n`; one `\r` right before the `\n` is removed;
//! - a line whose content is longer than `max` bytes is emitted in pieces of
//!   exactly `max` bytes flagged `truncated` ("continues in the next piece");
//!   the last piece is not flagged, so concatenating the pieces restores it;
//! - at end of input an unterminated last line is emitted (a trailing `\r`
//!   is removed there too);
//! - bytes are never interpreted: invalid UTF-8 passes through untouched.

use memchr::memchr;

/// Splits a byte stream into lines with a hard cap on line length.
#[derive(Debug)]
pub struct LineSplitter {
    carry: Vec<u8>,
    max: usize,
}

impl LineSplitter {
    /// `max` is the longest line content emitted in one piece (at least 1).
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        LineSplitter { carry: Vec::with_capacity(max + 2), max }
    }

    /// The configured maximum piece length.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Bytes of an unterminated line held back until more input arrives.
    pub fn pending(&self) -> usize {
        self.carry.len()
    }

    /// Feeds one chunk; calls `emit(line, truncated)` for every complete line
    /// or piece, in order.
    pub fn feed(&mut self, mut input: &[u8], mut emit: impl FnMut(&[u8], bool)) {
        while let Some(i) = memchr(b'\n', input) {
            if self.carry.is_empty() {
                emit_content(strip_cr(&input[..i]), self.max, &mut emit);
            } else {
                self.push_partial(&input[..i], &mut emit);
                let max = self.max;
                emit_content(strip_cr(&self.carry), max, &mut emit);
                self.carry.clear();
            }
            input = &input[i + 1..];
        }
        if !input.is_empty() {
            self.push_partial(input, &mut emit);
        }
    }

    /// End of input: emits the unterminated last line, if any.
    pub fn finish(&mut self, mut emit: impl FnMut(&[u8], bool)) {
        if !self.carry.is_empty() {
            let max = self.max;
            emit_content(strip_cr(&self.carry), max, &mut emit);
            self.carry.clear();
        }
    }

    /// Appends bytes of a line whose end has not been seen, cutting a piece
    /// off the front as soon as it is certain the content exceeds `max`.
    fn push_partial(&mut self, mut data: &[u8], emit: &mut impl FnMut(&[u8], bool)) {
        let max = self.max;
        // Fast path for a long run with nothing carried: cut pieces straight
        // from the input while at least max + 2 bytes remain (then the
        // content certainly continues past the piece).
        if self.carry.is_empty() {
            while data.len() >= max + 2 {
                emit(&data[..max], true);
                data = &data[max..];
            }
        }
        while !data.is_empty() {
            let room = max + 2 - self.carry.len();
            let take = room.min(data.len());
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.cut_known_pieces(emit);
        }
    }

    fn cut_known_pieces(&mut self, emit: &mut impl FnMut(&[u8], bool)) {
        let max = self.max;
        // The content is known to exceed `max` when a byte past the piece is
        // not a `\r` that might still be followed by the `\n`.
        while self.carry.len() > max && (self.carry[max] != b'\r' || self.carry.len() >= max + 2) {
            emit(&self.carry[..max], true);
            self.carry.drain(..max);
        }
    }
}

#[inline]
fn strip_cr(line: &[u8]) -> &[u8] {
    match line.last() {
        Some(b'\r') => &line[..line.len() - 1],
        _ => line,
    }
}

#[inline]
fn emit_content(mut content: &[u8], max: usize, emit: &mut impl FnMut(&[u8], bool)) {
    while content.len() > max {
        emit(&content[..max], true);
        content = &content[max..];
    }
    emit(content, false);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(input: &[u8], max: usize, chunks: &[usize]) -> Vec<(Vec<u8>, bool)> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        let mut rest = input;
        let mut k = 0;
        while !rest.is_empty() {
            let n = chunks[k % chunks.len()].clamp(1, rest.len());
            k += 1;
            s.feed(&rest[..n], |l, t| out.push((l.to_vec(), t)));
            rest = &rest[n..];
        }
        s.finish(|l, t| out.push((l.to_vec(), t)));
        out
    }

    /// The specification, written the slow obvious way.
    fn reference(input: &[u8], max: usize) -> Vec<(Vec<u8>, bool)> {
        let mut out = Vec::new();
        let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        for l in lines {
            let l = strip_cr(l);
            let mut c = l;
            while c.len() > max {
                out.push((c[..max].to_vec(), true));
                c = &c[max..];
            }
            out.push((c.to_vec(), false));
        }
        out
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn check_every_chunking(input: &[u8], max: usize) {
        let want = reference(input, max);
        assert_eq!(split_all(input, max, &[input.len().max(1)]), want, "whole");
        assert_eq!(split_all(input, max, &[1]), want, "byte at a time");
        for n in 2..=(max + 3).min(17) {
            assert_eq!(split_all(input, max, &[n]), want, "chunks of {n}");
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ input.len() as u64);
        for _ in 0..50 {
            let chunks: Vec<usize> = (0..7).map(|_| 1 + (rng.next() % 23) as usize).collect();
            assert_eq!(split_all(input, max, &chunks), want, "random {chunks:?}");
        }
    }

    #[test]
    fn plain_lines_and_crlf() {
        let want =
            vec![(b"a".to_vec(), false), (b"bc".to_vec(), false), (b"".to_vec(), false), (b"d\re".to_vec(), false)];
        assert_eq!(split_all(b"a\nbc\r\n\nd\re\n", 64, &[100]), want);
        check_every_chunking(b"a\nbc\r\n\nd\re\n", 64);
    }

    #[test]
    fn unterminated_last_line_is_emitted_at_eof() {
        assert_eq!(split_all(b"x\nlast", 64, &[3]), vec![(b"x".to_vec(), false), (b"last".to_vec(), false)]);
    }

    #[test]
    fn long_lines_are_cut_into_flagged_pieces() {
        let got = split_all(b"abcdefghij\n", 4, &[100]);
        assert_eq!(got, vec![(b"abcd".to_vec(), true), (b"efgh".to_vec(), true), (b"ij".to_vec(), false)]);
        // exactly a multiple of max: no empty tail piece
        assert_eq!(split_all(b"abcdefgh\n", 4, &[1]), vec![(b"abcd".to_vec(), true), (b"efgh".to_vec(), false)]);
        // a \r\n right at the cut does not create an extra piece
        check_every_chunking(b"abcd\r\nabcde\r\nabc\r\r\n\r\r\r\n", 4);
    }

    #[test]
    fn every_chunking_gives_the_same_lines() {
        let mut rng = Rng(42);
        let alphabet = b"ab\r\n\n\xff\x00";
        for len in [0usize, 1, 2, 5, 17, 64, 300] {
            for _ in 0..8 {
                let input: Vec<u8> =
                    (0..len).map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize]).collect();
                for max in [1, 2, 3, 4, 7, 64] {
                    check_every_chunking(&input, max);
                }
            }
        }
    }

    #[test]
    fn carry_stays_bounded_on_a_giant_line() {
        let mut s = LineSplitter::new(16);
        let chunk = [b'x'; 1000];
        let mut pieces = 0usize;
        for _ in 0..1000 {
            s.feed(&chunk, |l, t| {
                assert!(t && l.len() == 16);
                pieces += 1;
            });
            assert!(s.pending() <= 18);
        }
        assert_eq!(pieces, 1_000_000 / 16 - 1);
    }

    #[test]
    fn non_utf8_passes_through() {
        assert_eq!(
            split_all(b"\xff\xfe\n\xc3\x28\n", 64, &[1]),
            vec![(b"\xff\xfe".to_vec(), false), (b"\xc3\x28".to_vec(), false)]
        );
    }
}
