//! One direction of a proxied connection: the bytes read from one socket
//! and not yet written to the other, in one fixed buffer (allocated on first
//! use, never grown), plus the bytes brum writes itself (rewritten heads,
//! its own answers) staged in front of them.
//!
//! ```text
//!  buf: [ written | pos .. go: may go out | go .. end: not framed yet | room ]
//! ```
//! A head is parsed from the unframed bytes once everything before it went
//! out, replaced by its rewritten form in `staged`, and the body behind it
//! is let through (`go` advanced) as its framing allows. A full buffer stops
//! the reading from its socket: that is the backpressure.

use std::io::{self, IoSlice, Read, Write};

pub(super) struct Flow {
    buf: Box<[u8]>,
    cap: usize,
    pos: usize,
    go: usize,
    end: usize,
    staged: Vec<u8>,
    staged_sent: usize,
}

impl Flow {
    pub fn new(cap: usize) -> Self {
        Flow { buf: Box::default(), cap, pos: 0, go: 0, end: 0, staged: Vec::new(), staged_sent: 0 }
    }

    /// Room to read into (moving unsent bytes to the front when the end is
    /// reached).
    pub fn room(&mut self) -> usize {
        if self.buf.is_empty() {
            self.buf = vec![0u8; self.cap].into_boxed_slice();
        }
        if self.end == self.buf.len() && self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.go -= self.pos;
            self.end -= self.pos;
            self.pos = 0;
        }
        self.buf.len() - self.end
    }

    /// One read from `r` into the room (which must be > 0): `Ok(0)` is EOF.
    pub fn read_from(&mut self, r: &mut impl Read) -> io::Result<usize> {
        let n = r.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// Bytes read but not framed yet (a head being parsed, the body).
    pub fn unframed(&self) -> &[u8] {
        &self.buf[self.go..self.end]
    }

    /// Lets the next `n` unframed bytes go out.
    pub fn pass(&mut self, n: usize) {
        self.go += n;
    }

    /// Drops the next `n` unframed bytes (a head replaced by its staged
    /// rewrite, or a body brum consumed itself).
    pub fn skip(&mut self, n: usize) {
        debug_assert!(self.pos == self.go, "skipping bytes behind unsent ones");
        self.go += n;
        self.pos = self.go;
        self.reset_if_empty();
    }

    /// Everything framed so far went out (a new head may be staged).
    pub fn framed_out(&self) -> bool {
        self.pos == self.go
    }

    /// The buffer to append brum's own bytes to (after what is staged).
    pub fn stage(&mut self) -> &mut Vec<u8> {
        if self.staged_sent == self.staged.len() {
            self.staged.clear();
            self.staged_sent = 0;
        }
        &mut self.staged
    }

    /// The unframed bytes and the staging buffer at once (a head parsed
    /// from the one is rewritten into the other).
    pub fn parts(&mut self) -> (&[u8], &mut Vec<u8>) {
        if self.staged_sent == self.staged.len() {
            self.staged.clear();
            self.staged_sent = 0;
        }
        (&self.buf[self.go..self.end], &mut self.staged)
    }

    /// Sends the last staged bytes again (a request retried on a new
    /// connection); they must be all that was staged.
    pub fn restage(&mut self) {
        self.staged_sent = 0;
    }

    /// Bytes waiting to go out.
    pub fn pending(&self) -> usize {
        (self.staged.len() - self.staged_sent) + (self.go - self.pos)
    }

    /// One write of what waits (staged bytes first) to `w`.
    pub fn write_to(&mut self, w: &mut impl Write) -> io::Result<usize> {
        let staged = &self.staged[self.staged_sent..];
        let body = &self.buf[self.pos..self.go];
        let n = if staged.is_empty() {
            w.write(body)?
        } else if body.is_empty() {
            w.write(staged)?
        } else {
            w.write_vectored(&[IoSlice::new(staged), IoSlice::new(body)])?
        };
        let from_staged = n.min(staged.len());
        self.staged_sent += from_staged;
        self.pos += n - from_staged;
        self.reset_if_empty();
        Ok(n)
    }

    /// Forgets what was read and not framed (a connection's leftovers).
    pub fn discard_unframed(&mut self) {
        self.end = self.go;
        self.reset_if_empty();
    }

    fn reset_if_empty(&mut self) {
        if self.pos == self.end {
            self.pos = 0;
            self.go = 0;
            self.end = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_bytes_go_before_the_body_and_a_full_buffer_compacts() {
        let mut f = Flow::new(8);
        assert_eq!(f.room(), 8);
        assert_eq!(f.read_from(&mut &b"HEADbody"[..]).expect("read"), 8);
        assert_eq!(f.room(), 0);
        f.stage().extend_from_slice(b"head!");
        f.skip(4);
        f.pass(2);
        let mut out = Vec::new();
        while f.pending() > 0 {
            f.write_to(&mut out).expect("write");
        }
        assert_eq!(out, b"head!bo");
        assert_eq!(f.unframed(), b"dy");
        assert_eq!(f.room(), 6, "the written bytes' room is reused");
        f.read_from(&mut &b"12"[..]).expect("read");
        assert_eq!(f.unframed(), b"dy12");
    }
}
