//! The `Transfer-Encoding: chunked` framing, read (never rewritten): a
//! scanner that walks a chunked body as it streams by, to know where the
//! message ends — the proxy forwards the bytes exactly as they came. It
//! reports where the payload (the chunks' data) lies, so a body can be
//! transformed chunk by chunk when it must be.
//!
//! Leaf: no I/O. Data runs are skipped whole (no work per byte of payload);
//! size lines, extensions and trailers are bounded.

use std::ops::Range;

/// Longest chunk-size line (size, extensions) accepted.
const MAX_SIZE_LINE: usize = 4096;
/// Most trailer bytes accepted after the last chunk.
const MAX_TRAILERS: usize = 16 << 10;

/// Why a chunked body cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("a chunk size is not hexadecimal")]
    BadSize,
    #[error("a chunk size is too large")]
    SizeOverflow,
    #[error("a chunk-size line is too long")]
    LongLine,
    #[error("a chunk's data is not followed by CRLF")]
    MissingCrlf,
    #[error("the trailers are too long")]
    LongTrailers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// Hex digits of a chunk size (`digits` seen so far).
    Size {
        digits: u8,
    },
    /// Whitespace or extensions after the size, up to CR/LF.
    Ext,
    /// CR seen at the end of the size line: LF next.
    SizeLf,
    /// This many payload bytes to go.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    TrailerLf,
    /// CR of the final empty line seen: LF ends the body.
    EndLf,
    Done,
}

/// Where a chunked body stands after the bytes seen so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunked {
    st: St,
    size: u64,
    /// Bytes of the current size line or of the trailers.
    line: usize,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked { st: St::Size { digits: 0 }, size: 0, line: 0 }
    }
}

impl Chunked {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the terminating chunk and trailers have been seen.
    pub fn is_done(&self) -> bool {
        self.st == St::Done
    }

    /// Scans `bytes` (the stream's continuation): returns how many of them
    /// belong to the body (all, unless it ends inside them) and whether it
    /// ended.
    pub fn scan(&mut self, bytes: &[u8]) -> Result<(usize, bool), ChunkError> {
        self.scan_data(bytes, |_| {})
    }

    /// [`Chunked::scan`], calling `data` with the range of every run of
    /// payload bytes within `bytes`.
    pub fn scan_data(&mut self, bytes: &[u8], mut data: impl FnMut(Range<usize>)) -> Result<(usize, bool), ChunkError> {
        let mut i = 0;
        while i < bytes.len() {
            if let St::Data(left) = self.st {
                let take = left.min((bytes.len() - i) as u64) as usize;
                data(i..i + take);
                i += take;
                self.st = if left == take as u64 { St::DataCr } else { St::Data(left - take as u64) };
                continue;
            }
            let b = bytes[i];
            i += 1;
            self.st = match self.st {
                St::Size { digits } => {
                    self.line += 1;
                    if self.line > MAX_SIZE_LINE {
                        return Err(ChunkError::LongLine);
                    }
                    match hex(b) {
                        Some(v) => {
                            if digits >= 16 {
                                return Err(ChunkError::SizeOverflow);
                            }
                            self.size = (self.size << 4) | u64::from(v);
                            St::Size { digits: digits + 1 }
                        }
                        None if digits == 0 => return Err(ChunkError::BadSize),
                        None => match b {
                            b'\r' => St::SizeLf,
                            b'\n' => self.size_line_done(),
                            b';' | b' ' | b'\t' => St::Ext,
                            _ => return Err(ChunkError::BadSize),
                        },
                    }
                }
                St::Ext => {
                    self.line += 1;
                    if self.line > MAX_SIZE_LINE {
                        return Err(ChunkError::LongLine);
                    }
                    match b {
                        b'\r' => St::SizeLf,
                        b'\n' => self.size_line_done(),
                        _ => St::Ext,
                    }
                }
                St::SizeLf => match b {
                    b'\n' => self.size_line_done(),
                    _ => return Err(ChunkError::BadSize),
                },
                St::DataCr => match b {
                    b'\r' => St::DataLf,
                    // a bare LF is taken as the line end
                    b'\n' => St::Size { digits: 0 },
                    _ => return Err(ChunkError::MissingCrlf),
                },
                St::DataLf => match b {
                    b'\n' => St::Size { digits: 0 },
                    _ => return Err(ChunkError::MissingCrlf),
                },
                St::TrailerStart | St::Trailer | St::TrailerLf | St::EndLf => {
                    self.line += 1;
                    if self.line > MAX_TRAILERS {
                        return Err(ChunkError::LongTrailers);
                    }
                    match (self.st, b) {
                        (St::TrailerStart, b'\r') => St::EndLf,
                        (St::TrailerStart, b'\n') => St::Done,
                        (St::EndLf, b'\n') => St::Done,
                        (St::EndLf, _) => return Err(ChunkError::MissingCrlf),
                        (St::Trailer, b'\r') => St::TrailerLf,
                        (St::Trailer | St::TrailerLf, b'\n') => St::TrailerStart,
                        (St::TrailerLf, _) => return Err(ChunkError::MissingCrlf),
                        _ => St::Trailer,
                    }
                }
                // data runs are taken before this match, and scanning
                // stops at the end
                St::Data(_) | St::Done => St::Done,
            };
            if self.st == St::Done {
                return Ok((i, true));
            }
        }
        Ok((bytes.len(), self.st == St::Done))
    }

    /// The size line ended: data follows, or (size 0) the trailers.
    fn size_line_done(&mut self) -> St {
        let size = std::mem::take(&mut self.size);
        self.line = 0;
        if size == 0 { St::TrailerStart } else { St::Data(size) }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body split at every point into two reads: the same end, the
    /// same payload.
    fn scan_all(body: &[u8]) -> (usize, bool, Vec<u8>) {
        let mut whole = Chunked::new();
        let mut payload = Vec::new();
        let (n, done) = whole.scan_data(body, |r| payload.extend_from_slice(&body[r])).expect("valid");
        for cut in 0..=body.len() {
            let mut c = Chunked::new();
            let mut p = Vec::new();
            let (a, d1) = c.scan_data(&body[..cut], |r| p.extend_from_slice(&body[..cut][r])).expect("valid");
            let (m, d2) = if d1 {
                (a, true)
            } else {
                let rest = &body[cut..];
                let (b, d) = c.scan_data(rest, |r| p.extend_from_slice(&rest[r])).expect("valid");
                (a + b, d)
            };
            assert_eq!((m, d2, &p), (n, done, &payload), "split at {cut}");
        }
        (n, done, payload)
    }

    #[test]
    fn finds_the_end_of_a_chunked_body_under_every_split() {
        let body = b"5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let (n, done, payload) = scan_all(body);
        assert!(done);
        assert_eq!(&body[n..], b"GET / HTTP/1.1\r\n");
        assert_eq!(payload, b"helloabcdefghijklmnopqrstuvwxyz");
    }

    #[test]
    fn trailers_and_bare_line_feeds() {
        let body = b"3\r\nabc\r\n0\r\nX-Checksum: 1\r\nY: 2\r\n\r\nrest";
        let (n, done, _) = scan_all(body);
        assert!(done);
        assert_eq!(&body[n..], b"rest");
        let (n, done, payload) = scan_all(b"3\nabc\n0\n\nz");
        assert!(done && n == 9 && payload == b"abc");
        let (n, done, _) = scan_all(b"3\r\nab");
        assert!(!done && n == 5);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for (bad, want) in [
            (&b"zz\r\n"[..], ChunkError::BadSize),
            (b"\r\n", ChunkError::BadSize),
            (b"11111111111111111\r\n", ChunkError::SizeOverflow),
            (b"3\r\nabcX", ChunkError::MissingCrlf),
            (b"0\r\n\rX", ChunkError::MissingCrlf),
        ] {
            assert_eq!(Chunked::new().scan(bad), Err(want), "{:?}", String::from_utf8_lossy(bad));
        }
        let long = [b"1;".as_slice(), &vec![b'x'; MAX_SIZE_LINE]].concat();
        assert_eq!(Chunked::new().scan(&long), Err(ChunkError::LongLine));
        let mut c = Chunked::new();
        let _ = c.scan(b"0\r\n");
        let trailer = vec![b'x'; MAX_TRAILERS + 1];
        assert_eq!(c.scan(&trailer), Err(ChunkError::LongTrailers));
    }

    #[test]
    fn a_large_chunk_is_skipped_whole() {
        let mut c = Chunked::new();
        assert_eq!(c.scan(b"ffffffff\r\n"), Ok((10, false)));
        let big = vec![0u8; 1 << 20];
        let mut runs = 0;
        assert_eq!(c.scan_data(&big, |_| runs += 1), Ok((big.len(), false)));
        assert_eq!(runs, 1, "one run for a whole read of payload");
    }
}
