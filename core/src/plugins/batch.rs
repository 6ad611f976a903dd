//! The batch handed to plugins: the WIT `batch` record is columnar (one
//! byte buffer plus a column per field), so filling it per line copies bytes
//! into one buffer and pushes a few integers — no allocation per line. Read
//! back with [`Batch::line`]. A leaf of the plugin host: no wasmtime calls.

use super::{Batch, MAX_BATCH_BYTES, MAX_BATCH_LINES, Pipe};

/// Bit of `Batch::flags`: the line came from stderr.
pub const FLAG_STDERR: u8 = 1;
/// Bit of `Batch::flags`: the line was cut at the maximum length.
pub const FLAG_TRUNCATED: u8 = 2;

/// One line of a [`Batch`], read back from its columns.
#[derive(Debug, Clone, Copy)]
pub struct BatchLine<'a> {
    pub process: u32,
    pub pipe: Pipe,
    pub seq: u64,
    pub ts_ms: i64,
    pub truncated: bool,
    pub bytes: &'a [u8],
}

impl Batch {
    pub(super) fn with_capacity(lines: usize, bytes: usize) -> Batch {
        Batch {
            data: Vec::with_capacity(bytes),
            process: Vec::with_capacity(lines),
            seq: Vec::with_capacity(lines),
            ts_ms: Vec::with_capacity(lines),
            start: Vec::with_capacity(lines),
            len: Vec::with_capacity(lines),
            flags: Vec::with_capacity(lines),
            now_ms: 0,
        }
    }

    /// Lines in the batch.
    pub fn len(&self) -> usize {
        self.seq.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seq.is_empty()
    }

    /// Line `i` (which must be below [`Batch::len`]).
    #[inline]
    pub fn line(&self, i: usize) -> BatchLine<'_> {
        let start = self.start[i] as usize;
        let flags = self.flags[i];
        BatchLine {
            process: self.process[i],
            pipe: if flags & FLAG_STDERR != 0 { Pipe::Stderr } else { Pipe::Stdout },
            seq: self.seq[i],
            ts_ms: self.ts_ms[i],
            truncated: flags & FLAG_TRUNCATED != 0,
            bytes: &self.data[start..start + self.len[i] as usize],
        }
    }

    /// Appends one line, its bytes copied to the end of `data`.
    #[inline]
    pub(super) fn push(&mut self, process: u32, pipe: Pipe, seq: u64, ts_ms: i64, truncated: bool, bytes: &[u8]) {
        self.start.push(self.data.len() as u32);
        self.len.push(bytes.len() as u32);
        self.data.extend_from_slice(bytes);
        self.process.push(process);
        self.seq.push(seq);
        self.ts_ms.push(ts_ms);
        self.flags.push(
            if matches!(pipe, Pipe::Stderr) { FLAG_STDERR } else { 0 } | if truncated { FLAG_TRUNCATED } else { 0 },
        );
    }

    /// Empties every column, keeping the buffers.
    pub(super) fn clear(&mut self) {
        self.data.clear();
        self.process.clear();
        self.seq.clear();
        self.ts_ms.clear();
        self.start.clear();
        self.len.clear();
        self.flags.clear();
    }
}

/// An empty batch sized for a full turn (a line may overshoot the byte cap).
pub(super) fn empty_batch() -> Batch {
    Batch::with_capacity(MAX_BATCH_LINES, MAX_BATCH_BYTES + 128 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_reads_back_its_columns() {
        let mut b = Batch::with_capacity(4, 64);
        b.push(0, Pipe::Stdout, 7, 100, false, b"first");
        b.push(3, Pipe::Stderr, 9, 101, true, b"");
        b.push(1, Pipe::Stdout, 12, 102, false, "é!".as_bytes());
        assert_eq!(b.len(), 3);
        let got: Vec<_> = (0..b.len())
            .map(|i| {
                let l = b.line(i);
                (l.process, l.pipe, l.seq, l.ts_ms, l.truncated, l.bytes.to_vec())
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0, Pipe::Stdout, 7, 100, false, b"first".to_vec()),
                (3, Pipe::Stderr, 9, 101, true, Vec::new()),
                (1, Pipe::Stdout, 12, 102, false, "é!".as_bytes().to_vec()),
            ]
        );
        assert_eq!(b.flags, [0, FLAG_STDERR | FLAG_TRUNCATED, 0]);
        b.clear();
        assert!(b.is_empty() && b.data.is_empty() && b.flags.is_empty());
    }
}
