//! The browser's side of the proxy: the script injected into pages
//! ([`script`], served at [`SCRIPT_PATH`]) and the beacons it sends back to
//! [`BEACON_PATH`], which [`Telemetry::accept`] turns into [`Report`]s.
//!
//! The endpoint trusts nothing: any page on the proxied origin (or anything
//! that can reach the port) can post there. Bodies are capped at
//! [`MAX_BODY`], parsed with serde into a closed set of kinds (unknown
//! kinds and fields refuse the whole body), every string is capped, and
//! reports are rate-limited per page and overall with token buckets;
//! what the limits drop is counted ([`Telemetry::dropped`]) for the engine
//! to report as `log.dropped`.
//!
//! Pure: no sockets; the clock is passed in. [`locate`] maps a served
//! script's line:column to the project's file; [`browser`] turns a report
//! into events.

pub mod browser;
pub mod locate;
pub mod stack;

pub use browser::{Translated, translate};
pub use locate::{inline_source_map, locate, locate_with_map, map_location, map_with_sourcemap};

use std::time::Instant;

use serde::Deserialize;

/// Where the proxy serves the script.
pub const SCRIPT_PATH: &str = "/__brum__/t.js";
/// Where the script posts its batches.
pub const BEACON_PATH: &str = "/__brum__/telemetry";
/// The largest body accepted at [`BEACON_PATH`] (a beacon's own limit is
/// 64 KiB of queued data per page).
pub const MAX_BODY: usize = 64 * 1024;
/// Reports taken from one body; the rest are dropped (counted).
pub const MAX_REPORTS_PER_BODY: usize = 32;
/// Caps on strings, in bytes (longer ones are cut, marked with `…`).
pub const MAX_MESSAGE: usize = 2000;
pub const MAX_STACK: usize = 8000;
pub const MAX_URL: usize = 2000;
/// The `reason` of the `log.dropped` event that reports
/// [`Telemetry::take_dropped`].
pub const DROP_REASON: &str = "browser_telemetry";
/// Pages whose rate is tracked at once (the oldest is forgotten).
const MAX_PAGES: usize = 64;
/// Per page: a burst of this many reports, then this many a second.
const PAGE_BURST: f64 = 20.0;
const PAGE_RATE: f64 = 2.0;
/// All pages together.
const ALL_BURST: f64 = 100.0;
const ALL_RATE: f64 = 20.0;

/// The telemetry script, served at [`SCRIPT_PATH`] as
/// `text/javascript; charset=utf-8`.
pub fn script() -> &'static [u8] {
    include_bytes!("t.js")
}

/// Why a body was refused as a whole (the engine answers 413 or 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejected {
    #[error("telemetry body of {len} bytes is over the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("telemetry body is not a valid batch: {0}")]
    Invalid(String),
}

/// What kind of failure a browser error was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// An uncaught exception (`window.onerror`).
    Exception,
    /// A promise rejected with no handler.
    Rejection,
    /// A `fetch` that failed or answered ≥ 500.
    Fetch,
    /// An `XMLHttpRequest` that failed or answered ≥ 500.
    Xhr,
    /// A script, stylesheet or image that did not load.
    Resource,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Exception => "exception",
            ErrorKind::Rejection => "rejection",
            ErrorKind::Fetch => "fetch",
            ErrorKind::Xhr => "xhr",
            ErrorKind::Resource => "resource",
        }
    }
}

/// `console.error` or `console.warn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warn,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
        }
    }
}

/// One thing the browser reported, validated and capped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Error {
        kind: ErrorKind,
        message: String,
        /// The stack as the browser printed it, brum's own frames removed
        /// (empty when there was none).
        stack: String,
        /// The served script, 1-based line and column where it happened:
        /// as the browser said, else the stack's first frame.
        url: Option<String>,
        line: Option<u32>,
        col: Option<u32>,
        /// The page (`location.href`) it happened on.
        page: String,
    },
    Console {
        level: Level,
        message: String,
        page: String,
    },
    Page {
        url: String,
        title: Option<String>,
        /// From navigation start to the end of the load event.
        load_ms: Option<u64>,
    },
}

impl Report {
    /// The page a report is about.
    pub fn page(&self) -> &str {
        match self {
            Report::Error { page, .. } | Report::Console { page, .. } => page,
            Report::Page { url, .. } => url,
        }
    }
}

/// A batch as the script sends it (`t.js`'s `flush`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    v: u32,
    #[serde(default)]
    dropped: u64,
    events: Vec<Wire>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireError {
    page: String,
    message: String,
    #[serde(default)]
    stack: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    col: Option<u32>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Wire {
    Error(WireError),
    Rejection(WireError),
    Fetch(WireError),
    Xhr(WireError),
    Resource(WireError),
    Console(WireConsole),
    Page(WirePage),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireConsole {
    page: String,
    level: Level,
    message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WirePage {
    page: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    load_ms: Option<u64>,
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the
/// cut with `…`.
fn cap(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max.saturating_sub('…'.len_utf8());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// A token bucket.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Bucket {
        Bucket { tokens: burst, last: now }
    }

    fn refill(&mut self, burst: f64, rate: f64, now: Instant) {
        // a clock read before the last one refills nothing (and moves nothing back)
        if now > self.last {
            let dt = (now - self.last).as_secs_f64();
            self.tokens = (self.tokens + dt * rate).min(burst);
            self.last = now;
        }
    }
}

/// The telemetry endpoint's state: rate limits and what they dropped.
#[derive(Debug)]
pub struct Telemetry {
    /// Per page (its URL without query or fragment).
    pages: Vec<(String, Bucket)>,
    all: Option<Bucket>,
    dropped: u64,
    unreported: u64,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}

impl Telemetry {
    pub fn new() -> Telemetry {
        Telemetry { pages: Vec::new(), all: None, dropped: 0, unreported: 0 }
    }

    /// Reports dropped since the start: over the rate limits, over
    /// [`MAX_REPORTS_PER_BODY`], or dropped by the script itself (its own
    /// queue was full).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Reports dropped since the last call (for a `log.dropped` event).
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.unreported)
    }

    fn drop_reports(&mut self, n: u64) {
        self.dropped = self.dropped.saturating_add(n);
        self.unreported = self.unreported.saturating_add(n);
    }

    /// Parses and validates one beacon body received at `now`: the reports
    /// the rate limits let through.
    pub fn accept(&mut self, body: &[u8], now: Instant) -> Result<Vec<Report>, Rejected> {
        if body.len() > MAX_BODY {
            return Err(Rejected::TooLarge { len: body.len(), max: MAX_BODY });
        }
        let batch: Batch = serde_json::from_slice(body).map_err(|e| Rejected::Invalid(e.to_string()))?;
        if batch.v != 1 {
            return Err(Rejected::Invalid(format!("unsupported version {} (this brum speaks 1)", batch.v)));
        }
        // the script says how many it could not queue; a liar only inflates a counter
        self.drop_reports(batch.dropped.min(1_000_000));
        let mut events = batch.events;
        if events.len() > MAX_REPORTS_PER_BODY {
            self.drop_reports((events.len() - MAX_REPORTS_PER_BODY) as u64);
            events.truncate(MAX_REPORTS_PER_BODY);
        }
        let mut out = Vec::with_capacity(events.len());
        for w in events {
            let report = report(w);
            if self.admit(report.page(), now) {
                out.push(report);
            } else {
                self.drop_reports(1);
            }
        }
        Ok(out)
    }

    /// Takes a token from the page's bucket and the overall one.
    fn admit(&mut self, page: &str, now: Instant) -> bool {
        let all = self.all.get_or_insert_with(|| Bucket::full(ALL_BURST, now));
        all.refill(ALL_BURST, ALL_RATE, now);
        let key = page_key(page);
        let i = match self.pages.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                if self.pages.len() >= MAX_PAGES {
                    let oldest = (0..self.pages.len()).min_by_key(|&i| self.pages[i].1.last).unwrap_or(0);
                    self.pages.swap_remove(oldest);
                }
                self.pages.push((key.to_string(), Bucket::full(PAGE_BURST, now)));
                self.pages.len() - 1
            }
        };
        let b = &mut self.pages[i].1;
        b.refill(PAGE_BURST, PAGE_RATE, now);
        if b.tokens < 1.0 || all.tokens < 1.0 {
            return false;
        }
        b.tokens -= 1.0;
        all.tokens -= 1.0;
        true
    }
}

/// A page's URL without its query and fragment (one page, whatever state
/// it is in).
fn page_key(page: &str) -> &str {
    let end = page.find(['?', '#']).unwrap_or(page.len());
    &page[..end]
}

/// A wire event, capped, as a report.
fn report(w: Wire) -> Report {
    let (kind, e) = match w {
        Wire::Console(c) => {
            return Report::Console {
                level: c.level,
                message: cap(c.message, MAX_MESSAGE),
                page: cap(c.page, MAX_URL),
            };
        }
        Wire::Page(p) => {
            return Report::Page {
                url: cap(p.page, MAX_URL),
                title: p.title.map(|t| cap(t, MAX_MESSAGE)),
                load_ms: p.load_ms,
            };
        }
        Wire::Error(e) => (ErrorKind::Exception, e),
        Wire::Rejection(e) => (ErrorKind::Rejection, e),
        Wire::Fetch(e) => (ErrorKind::Fetch, e),
        Wire::Xhr(e) => (ErrorKind::Xhr, e),
        Wire::Resource(e) => (ErrorKind::Resource, e),
    };
    let stack = locate::strip_own_frames(e.stack.as_deref().unwrap_or(""));
    let (mut url, mut line, mut col) = (e.url.filter(|u| !u.is_empty()), e.line, e.col);
    if url.is_none()
        && let Some(f) = locate::first_frame(&stack)
    {
        url = Some(f.url.to_string());
        line = Some(f.line);
        col = Some(f.col);
    }
    Report::Error {
        kind,
        message: cap(e.message, MAX_MESSAGE),
        stack: cap(stack, MAX_STACK),
        url: url.map(|u| cap(u, MAX_URL)),
        line,
        col,
        page: cap(e.page, MAX_URL),
    }
}

#[cfg(test)]
#[path = "telemetry_tests.rs"]
mod tests;
