//! A response body changed on its way to the browser (a page brum adds its
//! script to): the body's bytes, as framed, go through a [`Filter`]; a
//! chunked body is decoded for the filter and its output chunked again, so
//! the filter only ever sees the page.
//!
//! Leaf: no I/O. The filter streams (it holds back at most what it needs to
//! find its place), so nothing here holds a whole body.

use super::chunked::Chunked;

/// What changes a body as it streams by.
pub trait Filter {
    /// Takes the next bytes of the body; appends what may go out to `out`.
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>);
    /// The body ended: appends what was held back.
    fn finish(&mut self, out: &mut Vec<u8>);
}

/// A body in flight through a [`Filter`].
pub struct Rewrite {
    filter: Box<dyn Filter>,
    /// The chunked framing, read a second time for the payload.
    chunked: Option<Chunked>,
    scratch: Vec<u8>,
    finished: bool,
}

impl std::fmt::Debug for Rewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rewrite").field("chunked", &self.chunked.is_some()).finish()
    }
}

/// Appends `data` as one chunk (nothing for no data).
fn chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = data.len();
    loop {
        i -= 1;
        digits[i] = HEX[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

impl Rewrite {
    /// `chunked`: the body comes (and goes) chunked.
    pub fn new(filter: Box<dyn Filter>, chunked: bool) -> Self {
        Rewrite { filter, chunked: chunked.then(Chunked::new), scratch: Vec::new(), finished: false }
    }

    /// Takes the next framed bytes of the body (`done`: the body ends with
    /// them) and appends what goes to the browser to `out`.
    pub fn feed(&mut self, bytes: &[u8], done: bool, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        match self.chunked.as_mut() {
            None => {
                self.filter.push(bytes, out);
                if done {
                    self.filter.finish(out);
                    self.finished = true;
                }
            }
            Some(c) => {
                self.scratch.clear();
                let (filter, scratch) = (&mut self.filter, &mut self.scratch);
                // the framing was checked by the proxy's own scanner
                let _ = c.scan_data(bytes, |r| filter.push(&bytes[r], scratch));
                chunk(out, scratch);
                if done {
                    self.scratch.clear();
                    self.filter.finish(&mut self.scratch);
                    chunk(out, &self.scratch);
                    out.extend_from_slice(b"0\r\n\r\n");
                    self.finished = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Puts `<x>` after the first `<head>`, holding back what could be the
    /// start of one (as the real injector does).
    struct AfterHead {
        held: Vec<u8>,
        done: bool,
    }

    impl Filter for AfterHead {
        fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
            if self.done {
                out.extend_from_slice(input);
                return;
            }
            self.held.extend_from_slice(input);
            if let Some(i) = self.held.windows(6).position(|w| w == b"<head>") {
                out.extend_from_slice(&self.held[..i + 6]);
                out.extend_from_slice(b"<x>");
                out.extend_from_slice(&self.held[i + 6..]);
                self.held.clear();
                self.done = true;
            }
        }
        fn finish(&mut self, out: &mut Vec<u8>) {
            if !self.done {
                out.extend_from_slice(b"<x>");
            }
            out.append(&mut self.held);
        }
    }

    fn filter() -> Box<dyn Filter> {
        Box::new(AfterHead { held: Vec::new(), done: false })
    }

    fn dechunk(mut b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let nl = b.windows(2).position(|w| w == b"\r\n").expect("size line");
            let n = usize::from_str_radix(std::str::from_utf8(&b[..nl]).expect("ascii"), 16).expect("hex");
            out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
            b = &b[nl + 4 + n..];
            if n == 0 {
                assert!(b.is_empty(), "nothing after the last chunk");
                return out;
            }
        }
    }

    #[test]
    fn a_plain_body_goes_through_the_filter_under_every_split() {
        let page = b"<!doctype html><html><head><title>t</title></head><body>hi</body></html>";
        for cut in 0..=page.len() {
            let mut rw = Rewrite::new(filter(), false);
            let mut out = Vec::new();
            rw.feed(&page[..cut], false, &mut out);
            rw.feed(&page[cut..], true, &mut out);
            assert_eq!(
                out, b"<!doctype html><html><head><x><title>t</title></head><body>hi</body></html>",
                "cut {cut}"
            );
        }
    }

    #[test]
    fn a_chunked_body_is_decoded_for_the_filter_and_chunked_again() {
        let wire = b"9\r\n<html><he\r\n8\r\nad>body.\r\n0\r\nX-T: 1\r\n\r\n";
        for cut in 0..=wire.len() {
            let mut rw = Rewrite::new(filter(), true);
            let mut out = Vec::new();
            rw.feed(&wire[..cut], false, &mut out);
            rw.feed(&wire[cut..], true, &mut out);
            assert_eq!(dechunk(&out), b"<html><head><x>body.", "cut {cut}");
        }
        let mut rw = Rewrite::new(filter(), true);
        let mut out = Vec::new();
        rw.feed(b"0\r\n\r\n", true, &mut out);
        assert_eq!(out, b"3\r\n<x>\r\n0\r\n\r\n", "a page without <head> still gets it");
    }
}
