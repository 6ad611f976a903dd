//! The primary output: events encoded into a bounded buffer and written to
//! stdout without ever blocking the reactor.
//!
//! No mio here: the reactor registers the descriptor that
//! [`Output::needs_poll`] returns for writability. When the buffer holds more than the
//! high-water mark the reactor stops reading children's pipes (backpressure)
//! until it drains, so a slow reader slows the children instead of losing
//! lines. A pipe or terminal is reopened through `/proc/self/fd/1` to get a
//! private non-blocking file description (the shell's stays untouched);
//! regular files and `/dev/null` are written directly.

use std::io::{self, IsTerminal};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::fs::OFlags;

use crate::events::human::HumanStyle;
use crate::events::{Event, Timestamps, github, human, json};
pub use history::{Cursor, History, HistoryView};

mod history;

/// How events are written.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    Json,
    Human(HumanStyle),
    /// Readable lines plus GitHub Actions groups and annotations.
    Github(HumanStyle),
}

/// Where flushing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    Drained,
    /// The reader is slow; wait for writability.
    Pending,
    /// The reader went away (EPIPE); everything further is discarded.
    Closed,
}

/// Where the bytes go.
#[derive(Debug)]
enum Target {
    /// brum's own stdout (fd 1, borrowed from std's handle).
    Stdout(io::Stdout),
    /// A descriptor the output owns: a reopened stdout, a log file, a
    /// caller's file or pipe.
    Owned(OwnedFd),
    /// Nowhere: bytes wait in the buffer until a flush drops them.
    Discard,
}

impl Target {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Target::Stdout(s) => Some(s.as_fd()),
            Target::Owned(fd) => Some(fd.as_fd()),
            Target::Discard => None,
        }
    }
}

/// Buffered, non-blocking event writer.
#[derive(Debug)]
pub struct Output {
    buf: Vec<u8>,
    pos: usize,
    target: Target,
    nonblocking: bool,
    /// Flags to restore on fd 1 if we had to change them in place.
    restore: Option<OFlags>,
    closed: bool,
    high_water: usize,
    format: Format,
    ts: Timestamps,
    group: github::GroupState,
    /// Every event also as NDJSON, for the control socket.
    history: Option<History>,
    /// Size-based rotation when writing to a log file (`brum up`).
    rotate: Option<Rotation>,
    /// Why writing failed, when it was not the reader going away.
    error: Option<io::Error>,
    /// By process index: its lines reach readable output byte for byte
    /// (screen-clearing sequences included).
    raw_terminal: Vec<bool>,
    /// When the last two writes began (older first).
    writes: [Instant; 2],
}

/// Events within this long of the write before last wait to go out
/// together (see [`Output::hold_until`]).
pub const COALESCE: Duration = Duration::from_millis(1);
/// ... unless they are this many bytes.
pub const COALESCE_BYTES: usize = 64 << 10;

/// A time of the last writes that holds nothing back.
fn quiet(now: Instant) -> Instant {
    now.checked_sub(COALESCE).unwrap_or(now)
}

#[derive(Debug)]
struct Rotation {
    path: std::path::PathBuf,
    written: u64,
    max: u64,
}

impl Output {
    /// An output on brum's stdout.
    pub fn stdout(format: Format, high_water: usize) -> Output {
        let mut out = Output::new(Target::Stdout(io::stdout()), format, high_water);
        out.make_nonblocking();
        out
    }

    /// An output on `fd` (a file, a pipe), with blocking writes.
    pub fn to_fd(fd: OwnedFd, format: Format, high_water: usize) -> Output {
        Output::new(Target::Owned(fd), format, high_water)
    }

    /// An output that writes nowhere: events wait in [`Output::buffer`]
    /// until a flush drops them, as `/dev/null` would (tests, in-process
    /// benches).
    pub fn discard(format: Format, high_water: usize) -> Output {
        Output::new(Target::Discard, format, high_water)
    }

    fn new(target: Target, format: Format, high_water: usize) -> Output {
        Output {
            buf: Vec::with_capacity(high_water * 2),
            pos: 0,
            target,
            nonblocking: false,
            restore: None,
            closed: false,
            high_water,
            format,
            ts: Timestamps::new(),
            group: github::GroupState::default(),
            history: None,
            rotate: None,
            error: None,
            raw_terminal: Vec::new(),
            writes: [quiet(Instant::now()); 2],
        }
    }

    fn make_nonblocking(&mut self) {
        let Some(fd) = self.target.fd() else { return };
        let Ok(st) = rustix::fs::fstat(fd) else { return };
        let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
        if !(matches!(kind, rustix::fs::FileType::Fifo | rustix::fs::FileType::Socket) || fd.is_terminal()) {
            return; // regular file, /dev/null: writes never wait on a reader
        }
        let reopened = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        if let Ok(file) = reopened {
            self.target = Target::Owned(file.into());
            self.nonblocking = true;
            return;
        }
        // Sockets cannot be reopened: switch the shared description and
        // restore it at the end.
        if let Ok(flags) = rustix::fs::fcntl_getfl(fd)
            && rustix::fs::fcntl_setfl(fd, flags | OFlags::NONBLOCK).is_ok()
        {
            self.restore = Some(flags);
            self.nonblocking = true;
        }
    }

    /// The descriptor to watch for writability, when writes can wait.
    pub fn needs_poll(&self) -> Option<RawFd> {
        self.nonblocking.then(|| self.target.fd().map(|fd| fd.as_raw_fd())).flatten()
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Encodes one event into the buffer (nothing once closed).
    #[inline]
    pub fn emit(&mut self, seq: u64, ts_ms: i64, ev: &Event<'_>) {
        let start = self.buf.len();
        if !self.closed {
            match self.format {
                Format::Json => json::encode(&mut self.buf, &mut self.ts, seq, ts_ms, ev),
                Format::Human(style) => {
                    let raw = match ev {
                        Event::LogLine { process, .. } => {
                            self.raw_terminal.get(process.index).copied().unwrap_or(false)
                        }
                        _ => false,
                    };
                    human::encode_opts(&mut self.buf, style, ev, raw)
                }
                Format::Github(style) => github::encode(&mut self.buf, style, &mut self.group, ev),
            }
        }
        // the control socket's copy goes on even when stdout is gone
        if let Some(h) = self.history.as_mut() {
            if matches!(self.format, Format::Json) && !self.closed {
                h.record(&self.buf[start..], ev);
            } else {
                h.encode(seq, ts_ms, ev);
            }
        }
    }

    /// Whether the history's live block is this output's buffer.
    fn shares_history(&self) -> bool {
        matches!(self.format, Format::Json) && !self.closed && self.history.is_some()
    }

    /// The buffer has been written up to `pos`. With the history sharing
    /// it, its written whole events are handed over as a sealed block once
    /// they are [`history::SEAL_BYTES`] (and kept until then); else they go.
    fn written(&mut self) {
        if !self.shares_history() {
            if self.pos == self.buf.len() {
                self.buf.clear();
                self.pos = 0;
            } else if self.pos > self.buf.len() / 2 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            return;
        }
        if self.pos < history::SEAL_BYTES {
            return;
        }
        // whole events only: a partly written one stays live
        let Some(cut) = memchr::memrchr(b'\n', &self.buf[..self.pos]).map(|i| i + 1) else { return };
        let Some(h) = self.history.as_mut() else { return };
        let mut fresh = h.take_spare(self.buf.capacity());
        fresh.extend_from_slice(&self.buf[cut..]);
        let moved = memchr::memchr_iter(b'\n', &self.buf[cut..]).count() as u64;
        self.buf.truncate(cut);
        let full = std::mem::replace(&mut self.buf, fresh);
        h.seal(full, h.live_events() - moved);
        self.pos -= cut;
    }

    /// Which processes' lines reach readable output byte for byte.
    pub fn set_raw_terminal(&mut self, by_process: Vec<bool>) {
        self.raw_terminal = by_process;
    }

    /// A process added by `brum reload`.
    pub fn add_process(&mut self, raw_terminal: bool) {
        self.raw_terminal.push(raw_terminal);
    }

    /// The directory each process runs in (GitHub annotations resolve the
    /// paths a process prints against it).
    pub fn set_process_dirs(&mut self, by_process: Vec<std::path::PathBuf>) {
        if matches!(self.format, Format::Github(_)) {
            self.group.set_dirs(by_process);
        }
    }

    /// Starts keeping the most recent events, `bytes` of them, as NDJSON
    /// in a [`History`].
    pub fn enable_history(&mut self, bytes: usize) {
        if self.history.is_none() {
            // events already buffered (and written) are the first it holds
            let events = if matches!(self.format, Format::Json) && !self.closed {
                memchr::memchr_iter(b'\n', &self.buf).count() as u64
            } else {
                0
            };
            self.history = Some(History::new(bytes, events));
        }
    }

    /// The events the history holds.
    pub fn history_view(&self) -> Option<HistoryView<'_>> {
        let shared = self.shares_history().then_some(&self.buf[..]);
        Some(self.history.as_ref()?.view(shared))
    }

    pub fn history_mut(&mut self) -> Option<&mut History> {
        self.history.as_mut()
    }

    /// The write error that closed the output, if it was not EPIPE.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// Whether this output is `brum up`'s log file.
    pub fn is_log_file(&self) -> bool {
        self.rotate.is_some()
    }

    /// An output appending NDJSON events to a log file, rotated to
    /// `PATH.1` when it grows past `max_bytes`.
    pub fn log_file(path: &std::path::Path, max_bytes: u64) -> Result<Output, crate::files::FileError> {
        let file = crate::files::private_file(path, true)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut out = Output::to_fd(file.into(), Format::Json, 1 << 20);
        out.rotate = Some(Rotation { path: path.to_path_buf(), written, max: max_bytes.max(4096) });
        Ok(out)
    }

    /// Rotates between whole events only: called when the buffer drained.
    fn maybe_rotate(&mut self) {
        let Some(r) = self.rotate.as_mut() else { return };
        if r.written < r.max {
            return;
        }
        let old = r.path.with_extension("log.1");
        let _ = std::fs::rename(&r.path, &old);
        if let Ok(f) = crate::files::private_file(&r.path, true) {
            r.written = 0;
            self.target = Target::Owned(f.into());
        }
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes that can still be queued before [`Output::is_full`].
    pub fn room(&self) -> usize {
        self.high_water.saturating_sub(self.pending())
    }

    /// True when the reactor should stop reading children.
    pub fn is_full(&self) -> bool {
        self.pending() >= self.high_water
    }

    /// Until when the bytes waiting should wait, if at all. Under a steady
    /// stream of small events (requests through the proxy, lines now and
    /// then from many processes) — two small writes already within the last
    /// [`COALESCE`] — they wait until that window ends and go out together:
    /// the reader is woken about once a millisecond, not once per event. A
    /// quiet stream's event (and the one right after it: an announced URL,
    /// then its proxy), or [`COALESCE_BYTES`] waiting, go out at once.
    pub fn hold_until(&self, now: Instant) -> Option<Instant> {
        let pending = self.pending();
        let due = self.writes[0] + COALESCE;
        (pending > 0 && pending < COALESCE_BYTES && now < due && !self.closed).then_some(due)
    }

    /// Writes as much as the reader takes right now.
    pub fn flush(&mut self) -> Flush {
        if self.closed {
            return Flush::Closed;
        }
        if self.pos < self.buf.len() {
            // a big write (a chatty process) is no stream of small events:
            // what follows it goes out at once
            let now = Instant::now();
            self.writes = if self.pending() < COALESCE_BYTES { [self.writes[1], now] } else { [quiet(now); 2] };
        }
        let Some(fd) = self.target.fd() else {
            self.pos = self.buf.len();
            self.written();
            return Flush::Drained;
        };
        while self.pos < self.buf.len() {
            let err = match rustix::io::write(fd, &self.buf[self.pos..]) {
                Ok(n) => {
                    self.pos += n;
                    if let Some(r) = self.rotate.as_mut() {
                        r.written += n as u64;
                    }
                    continue;
                }
                Err(errno) => io::Error::from(errno),
            };
            match err.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    self.written();
                    return Flush::Pending;
                }
                _ => {
                    // EPIPE: the reader is gone (`| head`), an ordinary end.
                    // Anything else (ENOSPC, EFBIG, EIO) is kept to report.
                    if err.kind() != io::ErrorKind::BrokenPipe {
                        self.error = Some(err);
                    }
                    self.close();
                    return Flush::Closed;
                }
            }
        }
        self.written();
        self.maybe_rotate();
        Flush::Drained
    }

    /// Nothing more is written; the history keeps every event published,
    /// written or not, and encodes its own from now on.
    fn close(&mut self) {
        if self.shares_history()
            && let Some(h) = self.history.as_mut()
        {
            let events = h.live_events();
            h.seal(std::mem::take(&mut self.buf), events);
        }
        self.closed = true;
        self.buf.clear();
        self.pos = 0;
    }

    /// Writes everything left, waiting for the reader if it must (at exit).
    pub fn finish(&mut self) {
        if matches!(self.format, Format::Github(_)) && !self.closed {
            github::finish(&mut self.buf, &mut self.group);
        }
        loop {
            match self.flush() {
                Flush::Drained | Flush::Closed => break,
                Flush::Pending => {
                    if let Some(fd) = self.target.fd() {
                        let mut pfd = [PollFd::new(&fd, PollFlags::OUT)];
                        let _ = rustix::event::poll(&mut pfd, Some(&rustix::time::Timespec { tv_sec: 1, tv_nsec: 0 }));
                    }
                }
            }
        }
        self.restore_flags();
    }

    /// Puts back the flags of a shared stdout description changed in place.
    fn restore_flags(&mut self) {
        if let (Some(flags), Some(fd)) = (self.restore.take(), self.target.fd()) {
            let _ = rustix::fs::fcntl_setfl(fd, flags);
        }
    }

    /// The buffered bytes (tests and in-process benches).
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Drops the buffered bytes as if written (in-process benches).
    pub fn clear(&mut self) {
        self.pos = self.buf.len();
        self.written();
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.restore_flags();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{FindingView, ProcRef};
    use crate::store::Stream;

    fn line(out: &mut Output, seq: u64, text: &[u8]) {
        let p = ProcRef { name: "web", index: 0 };
        let ev = Event::LogLine {
            process: p,
            stream: Stream::Stdout,
            line: text,
            truncated: false,
            boost: false,
            tag: None,
        };
        out.emit(seq, 0, &ev);
    }

    fn history_seqs(out: &Output) -> Vec<u64> {
        let v = out.history_view().expect("enabled");
        let mut seqs = Vec::new();
        v.scan(v.first(), |_, line| {
            let ev: serde_json::Value = serde_json::from_slice(line).expect("JSON");
            seqs.push(ev["seq"].as_u64().expect("seq"));
            true
        });
        seqs
    }

    #[test]
    fn the_history_keeps_findings_apart_and_the_newest_events_in_json() {
        let mut out = Output::discard(Format::Human(human::HumanStyle { color: false, width: 4 }), 1 << 20);
        out.enable_history(history::SEAL_BYTES * 4);
        let fields = Vec::new();
        let finding = FindingView { fingerprint: 7, ..FindingView::new("error", "error", "boom", (1, 1), &fields) };
        line(&mut out, 1, b"boom");
        out.emit(
            2,
            0,
            &Event::Finding { process: ProcRef { name: "web", index: 0 }, plugin: "errors", finding: &finding },
        );
        // a burst that pushes the finding out of the (small) history ...
        for seq in 3..5000 {
            line(&mut out, seq, &[b'x'; 200]);
        }
        // ... and an event bigger than the whole history
        line(&mut out, 5000, &[b'y'; 300 << 10]);
        let seqs = history_seqs(&out);
        assert!(seqs[0] > 2, "the finding left the history");
        assert_eq!(seqs.windows(2).filter(|w| w[1] != w[0] + 1).count(), 0, "no gaps: {seqs:?}");
        assert_eq!(seqs.last(), Some(&5000), "the newest event is held, however big");
        let h = out.history_mut().expect("enabled");
        assert_eq!(h.found.len(), 1, "but is kept for `brum errors`");
        let v: serde_json::Value = serde_json::from_slice(&h.found[0]).expect("JSON");
        assert_eq!((v["type"].as_str(), v["seq"].as_u64()), (Some("error.detected"), Some(2)));
    }

    #[test]
    fn json_output_hands_its_written_buffer_to_the_history_whole() {
        let mut out = Output::discard(Format::Json, 1 << 20);
        line(&mut out, 1, b"before the history");
        out.enable_history(history::SEAL_BYTES * 4);
        for seq in 2..=3000 {
            line(&mut out, seq, &[b'x'; 100]);
            if seq % 100 == 0 {
                assert_eq!(out.flush(), Flush::Drained);
                assert!(out.buffer().is_empty(), "written");
            }
        }
        let seqs = history_seqs(&out);
        let v = out.history_view().expect("enabled");
        assert!(v.first().index > 0, "old blocks evicted");
        assert_eq!(v.end().index, 3000);
        assert_eq!(seqs, (v.first().index + 1..=3000).collect::<Vec<_>>());
        // the output's bytes are exactly the history's: nothing encoded twice
        assert_eq!(v.last_seq(), Some(3000));
    }

    #[test]
    fn a_burst_of_small_writes_is_held_back_a_millisecond_and_a_quiet_event_is_not() {
        let mut out = Output::discard(Format::Json, 1 << 20);
        let now = Instant::now();
        assert_eq!(out.hold_until(now), None, "nothing waiting");
        line(&mut out, 1, b"first after a quiet spell");
        assert_eq!(out.hold_until(Instant::now()), None, "goes out at once");
        assert_eq!(out.flush(), Flush::Drained);
        line(&mut out, 2, b"right after it");
        assert_eq!(out.hold_until(Instant::now()), None, "the one right after a quiet one too");
        assert_eq!(out.flush(), Flush::Drained);
        let second = out.writes[1];
        line(&mut out, 3, b"a third within the millisecond");
        let first = out.writes[0];
        let due = first + COALESCE;
        assert_eq!(out.hold_until(first), Some(due), "held back until a millisecond after the write before last");
        assert_eq!(out.hold_until(due), None, "then it goes");
        assert!(second >= first);
        // a big burst goes at once
        for seq in 4..2000 {
            line(&mut out, seq, &[b'x'; 100]);
        }
        assert!(out.pending() >= COALESCE_BYTES);
        assert_eq!(out.hold_until(first), None);
        // and after a big write (a chatty process), a small event goes at once
        assert_eq!(out.flush(), Flush::Drained);
        line(&mut out, 2000, b"a quiet line after the chatty ones");
        assert_eq!(out.hold_until(Instant::now()), None);
    }

    #[test]
    fn a_closed_output_leaves_every_published_event_in_the_history() {
        let (r, w) = std::io::pipe().expect("pipe");
        let mut out = Output::to_fd(OwnedFd::from(w), Format::Json, 1 << 20);
        out.enable_history(1 << 20);
        line(&mut out, 1, b"written");
        assert_eq!(out.flush(), Flush::Drained);
        line(&mut out, 2, b"never written");
        drop(r);
        assert_eq!(out.flush(), Flush::Closed);
        line(&mut out, 3, b"after");
        assert_eq!(history_seqs(&out), [1, 2, 3]);
    }
}
