//! Detection logic of the built-in `errors` plugin, in plain Rust.
//!
//! Lines arrive in order per (process, stream) and pass through layers,
//! each a module with one job:
//! - **fast reject** (`reject`): on the raw bytes, before any stream
//!   lookup, a stream with nothing open skips a line that cannot start a
//!   record — most lines of healthy output; no allocation, no copy;
//! - **normalize**: ANSI (CSI incl. 8-bit, OSC, string escapes), `\r` and
//!   erase-line redraws, timestamps, `[name]` / `name |` / `(client)`
//!   prefixes and a logger's level word (kept apart as [`normalize::Level`]),
//!   TAP comments; borrows the line, or writes once into a reused buffer;
//!   rows a terminal UI scrolled above its live status on one physical
//!   line are cut back into rows (`terminal`);
//! - **blocks** (`blocks`, `dispatch`, `general`, `indented`, `lookahead`): a record
//!   is open or not; an open one is continued or closed by its mode's
//!   `cont_*` rule (or holds lines until a later one says whose they are),
//!   a line with nothing open may start one (anchored on its first byte;
//!   lines without ':' leave after one `memchr`);
//! - **locations** (`locations`): every syntax a tool writes one in
//!   (`path:l:c`, `path(l,c)`, `path (l:c)`, `File "p", line N`, `at f
//!   (p:l:c)`, `╭─[ p:l:c ]`, `File: p:l:c`, `--> p:l:c`, `in p on line N`,
//!   Babel's `p: msg (l:c)`, `file://` URLs);
//! - **frames** (`frames`, `details`): stack traces and the choice of the frame in the
//!   user's project (not `node_modules`, `site-packages`, the standard
//!   library, `<frozen …>`, `node:internal`); the raising frame is kept as the
//!   `raised_at` field; detail lines of error headers (code frames, carets);
//! - **families** (`families/`): what is truly one tool's — test runners'
//!   per-test records and summaries, compiler codes, build outcomes.
//!
//! One logical error (however many lines) is one [`Finding`]. Records that
//! see no further line are flushed by [`Detector::on_tick`] after
//! `quiet_ms`, or by [`Detector::on_process_end`]. Build outcomes are
//! `build` findings with `status=success|failure` (and `report=full` when
//! they close a watcher's complete report) so the host can resolve errors.

mod blocks;
#[cfg(target_arch = "wasm32")]
mod component;
mod details;
mod dispatch;
mod families;
mod frames;
mod general;
mod indented;
pub mod locations;
mod lookahead;
pub mod normalize;
mod notices;
mod record;
pub mod reject;
mod terminal;
pub mod text;

/// Which pipe a line came from: the plugin contract's own type.
pub use brum_plugin_sdk::Pipe as Stream;

/// One line as the detector reads it: the SDK's `Line` (the contract's
/// own type, no copy of it here).
pub use brum_plugin_sdk::Line as LineIn;

/// A batch of lines, as the component receives it (`Detector::on_batch`).
pub use brum_plugin_sdk::Batch;

use brum_plugin_sdk::{FLAG_STDERR, FLAG_TRUNCATED};

use text::is_blank;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Error,
    Warning,
    Build,
    Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Critical,
    Error,
    Warning,
    Info,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub process: u32,
    pub kind: Kind,
    pub severity: Severity,
    /// the human-meaningful line (e.g. "TypeError: x is not a function"), ANSI stripped
    pub message: String,
    /// seq of the first and last line the finding covers
    pub first_seq: u64,
    pub last_seq: u64,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// TS2345, E0308, -Wint-conversion, lint name ...
    pub code: Option<String>,
    /// "typescript", "javascript", "python", "rust", "go", "java", "c", "cpp" ...
    pub language: Option<String>,
    /// free key/values: Test: passed/failed/skipped/framework; Build: status, duration_ms, tool
    pub fields: Vec<(String, String)>,
}

pub struct Settings {
    /// skip lines that cannot start a record before normalizing them (only
    /// a test turns this off, to check that it changes nothing)
    pub fast_reject: bool,
    /// a record whose last line is older than this is flushed by `on_tick`
    pub quiet_ms: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { quiet_ms: 200, fast_reject: true }
    }
}

pub struct Detector {
    quiet_ms: i64,
    fast_reject: bool,
    /// per (process, stream), sorted by key; `last` is the index of the
    /// stream of the previous line (lines come in runs from one stream)
    streams: Vec<((u32, u8), blocks::StreamState)>,
    last: usize,
    /// the stream of the last line, when it has nothing open (the fast
    /// reject may skip its next line without looking it up)
    idle: Option<(u32, u8)>,
    /// the fast reject already looked at the line `read_line` reads
    checked: bool,
    /// the fast reject of lines without ':', '|' or '\r' (`on_batch`)
    memo: reject::Memo,
    buf: Vec<u8>,
    rows: terminal::Scratch,
}

impl Detector {
    pub fn new(settings: Settings) -> Self {
        Detector {
            quiet_ms: settings.quiet_ms.max(0),
            fast_reject: settings.fast_reject,
            streams: Vec::new(),
            last: 0,
            idle: None,
            checked: false,
            memo: reject::Memo::default(),
            buf: Vec::with_capacity(256),
            rows: terminal::Scratch::default(),
        }
    }

    /// Called for every line, in order.
    #[inline]
    pub fn on_line(&mut self, line: &LineIn<'_>, out: &mut Vec<Finding>) {
        if !self.skips(line.process, line.pipe, line.bytes) {
            self.read_line(line, out);
        }
    }

    /// The fast reject, before anything else: most lines come from the
    /// stream of the previous line, with nothing open, and start nothing.
    /// True when `bytes` may be skipped; otherwise [`Detector::read_line`]
    /// must have the line next. (`on_line` is both.)
    #[inline]
    pub fn skips(&mut self, process: u32, pipe: Stream, bytes: &[u8]) -> bool {
        self.checked = self.idle == Some((process, pipe as u8));
        self.checked && reject::cannot_start(bytes)
    }

    /// [`Detector::skips`] when the caller can tell more cheaply whether
    /// the line holds a ':', '|' or '\r' (`special`, asked only when the
    /// stream has nothing open): then only its first word is looked at.
    #[inline]
    pub fn skips_plain(&mut self, process: u32, pipe: Stream, bytes: &[u8], special: impl FnOnce() -> bool) -> bool {
        self.checked = self.idle == Some((process, pipe as u8));
        self.checked && !special() && self.memo.cannot_start_plain(bytes)
    }

    /// Every line of a batch, in order: what the component does with one.
    /// Whether a line holds a ':', '|' or '\r' comes from one search over
    /// the batch's bytes ([`reject::Specials`]), and a whole line is put
    /// together only for a line not skipped.
    pub fn on_batch(&mut self, batch: &Batch, out: &mut Vec<Finding>) {
        let n = brum_plugin_sdk::line_count(batch);
        let (data, mut specials) = (&batch.data[..], reject::Specials::new(&batch.data));
        // (the columns cut to the line count: no bounds check per column
        // and line; the sequence number and time are read only for a line
        // not skipped, and the whole line put together only then)
        let (process, start, len, flags) = (&batch.process[..n], &batch.start[..n], &batch.len[..n], &batch.flags[..n]);
        for i in 0..n {
            let start = start[i] as usize;
            let end = start.saturating_add(len[i] as usize).min(data.len());
            let bytes = data.get(start..end).unwrap_or(&[]);
            let pipe = if flags[i] & FLAG_STDERR != 0 { Stream::Stderr } else { Stream::Stdout };
            if !self.skips_plain(process[i], pipe, bytes, || specials.within(start, end)) {
                let (seq, ts_ms, truncated) = (batch.seq[i], batch.ts_ms[i], flags[i] & FLAG_TRUNCATED != 0);
                self.read_line(&LineIn { process: process[i], pipe, seq, ts_ms, truncated, bytes }, out);
            }
        }
    }

    /// A line [`Detector::skips`] did not skip.
    pub fn read_line(&mut self, line: &LineIn<'_>, out: &mut Vec<Finding>) {
        let checked = std::mem::take(&mut self.checked);
        let key = (line.process, line.pipe as u8);
        let fast_reject = self.fast_reject;
        let i = self.stream_index(key);
        let st = &mut self.streams[i].1;
        if line.bytes.starts_with(b"\x1b[?2026") {
            // a terminal UI's synchronized-update frame (vitest's live status)
            st.in_frame = normalize::frame_state(line.bytes).unwrap_or(st.in_frame);
        }
        if fast_reject && !checked && st.idle() && reject::cannot_start(line.bytes) {
            self.idle = Some(key);
            return;
        }
        if line.bytes.len() >= terminal::MIN_LEN && terminal::has_redraw(line.bytes) {
            // rows a terminal UI printed above its live status, on this line
            terminal::scrolled_rows(line.bytes, &mut self.rows, |row| {
                let (text, level) = normalize::strip_prefixes_level(row);
                feed(st, text, level, line, out);
            });
        }
        let full = normalize::clean_text(line.bytes, &mut self.buf);
        let (text, level) = normalize::strip_prefixes_level(full);
        if text.is_empty() && !is_blank(full) {
            // a line that is only a prefix: a tool's tag over what follows
            st.tag_seq = line.seq;
        }
        feed(st, text, level, line, out);
        self.idle = (fast_reject && st.idle()).then_some(key);
    }

    fn stream_index(&mut self, key: (u32, u8)) -> usize {
        if self.streams.get(self.last).is_none_or(|s| s.0 != key) {
            self.last = match self.streams.binary_search_by_key(&key, |s| s.0) {
                Ok(i) => i,
                Err(i) => {
                    self.streams.insert(i, (key, blocks::StreamState::default()));
                    i
                }
            };
        }
        self.last
    }

    /// Flushes everything still open for `process` and forgets its state.
    pub fn on_process_end(&mut self, process: u32, out: &mut Vec<Finding>) {
        for s in [Stream::Stdout, Stream::Stderr] {
            if let Ok(i) = self.streams.binary_search_by_key(&(process, s as u8), |s| s.0) {
                let (_, mut st) = self.streams.remove(i);
                st.flush_all(process, out);
            }
        }
        self.last = 0;
        self.idle = None;
    }

    /// Flushes records whose last line is at least `quiet_ms` old.
    pub fn on_tick(&mut self, now_ms: i64, out: &mut Vec<Finding>) {
        let quiet = self.quiet_ms;
        for ((pid, _), st) in self.streams.iter_mut() {
            let pid = *pid;
            if let Some(ts) = st.open_since()
                && now_ms - ts >= quiet
            {
                let n = out.len();
                st.release(pid, out);
                settle(st, &mut out[n..]);
                // (replayed lines may open a record)
                self.idle = None;
            }
        }
    }

    /// When `on_tick` should next be called; None when nothing is open.
    pub fn next_tick(&self) -> Option<i64> {
        self.streams.iter().filter_map(|s| s.1.open_since()).min().map(|t| t + self.quiet_ms)
    }
}

/// One normalized line to its stream's blocks.
fn feed(st: &mut blocks::StreamState, text: &[u8], level: normalize::Level, line: &LineIn<'_>, out: &mut Vec<Finding>) {
    let text = normalize::strip_tap_comment(text);
    let n = out.len();
    st.on_line(line.process, text, level, line.seq, line.ts_ms, out);
    settle(st, &mut out[n..]);
}

/// Counts the errors a stream reported, in order, and settles the build
/// verdicts that depend on them (`[watch] build finished`).
fn settle(st: &mut blocks::StreamState, found: &mut [Finding]) {
    for f in found {
        match f.kind {
            Kind::Error => st.build_errors += 1,
            Kind::Build if f.fields.first().is_some_and(|s| s.1 == families::builds::PENDING) => {
                families::builds::settle_build(f, st.build_errors);
                st.build_errors = 0;
            }
            _ => {}
        }
    }
    if std::mem::take(&mut st.build_reset) {
        st.build_errors = 0;
    }
}

#[cfg(test)]
mod tests;
