//! Events: the typed record of everything that happens in a session, and
//! their wire encodings (NDJSON in [`json`], readable lines in [`human`]).
//!
//! Leaf module: no mio, no processes, no I/O. Encoders append to a
//! caller-owned `Vec<u8>` and never allocate on their own, so encoding a
//! `log.line` costs no heap allocation once the buffer has grown.
//!
//! The JSON schema is versioned by [`SCHEMA_VERSION`] and documented in
//! `docs/events.md`; golden tests pin it.

pub mod decode;
pub mod github;
pub mod human;
pub mod json;
pub mod meta;
mod rare;
mod time;

pub use time::{Timestamps, now_ms};

use crate::store::Stream;

/// Version of the event wire format, sent in `daemon.started`.
pub const SCHEMA_VERSION: u32 = 1;

/// Which process an event is about: its name and its index (stable for the
/// session; the human writer picks its colour from it).
#[derive(Debug, Clone, Copy)]
pub struct ProcRef<'a> {
    pub name: &'a str,
    pub index: usize,
}

/// How a process ended, from brum's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndState {
    /// Exited with code 0.
    Success,
    /// Exited non-zero, was killed by a signal brum did not send, or could
    /// not be started.
    Failed,
    /// Ended because brum stopped it.
    Stopped,
}

impl EndState {
    pub fn as_str(self) -> &'static str {
        match self {
            EndState::Success => "success",
            EndState::Failed => "failed",
            EndState::Stopped => "stopped",
        }
    }
}

/// One thing that happened. Borrowed, so building one costs nothing.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    DaemonStarted {
        pid: u32,
        cwd: &'a str,
        processes: &'a [&'a str],
    },
    ProcessStarted {
        process: ProcRef<'a>,
        pid: u32,
        command: &'a str,
        /// 0 for the first start, n for the n-th restart.
        restart: u32,
        /// Which start of the process this is in the session (1, 2, ...):
        /// what a run announces (URLs, readiness) belongs to that run.
        run: u32,
    },
    LogLine {
        process: ProcRef<'a>,
        stream: Stream,
        line: &'a [u8],
        truncated: bool,
        /// A filter asked for this line to stand out.
        boost: bool,
        /// A filter's tag for this line.
        tag: Option<&'a str>,
    },
    ProcessExited {
        process: ProcRef<'a>,
        pid: Option<u32>,
        code: Option<i32>,
        signal: Option<i32>,
        duration_ms: u64,
        state: EndState,
        /// Why the process could not be started, when it could not.
        error: Option<&'a str>,
        /// The run that ended (see `ProcessStarted::run`).
        run: u32,
    },
    ProcessRestarting {
        process: ProcRef<'a>,
        attempt: u32,
        delay_ms: u64,
    },
    LogDropped {
        process: Option<ProcRef<'a>>,
        count: u64,
        total: u64,
        reason: &'a str,
    },
    /// A process group left alive by an earlier session of this directory
    /// that was killed (SIGKILL) was ended at start-up.
    OrphansKilled {
        /// The process it was started for (by that session).
        process: &'a str,
        pgid: u32,
        /// The signal that ended it (SIGTERM, or SIGKILL after the grace).
        signal: i32,
    },
    /// `brum reload` applied a changed brum.toml.
    DaemonReloaded {
        changed: &'a [String],
        added: &'a [String],
        removed: &'a [String],
        /// Changes not applied: they take effect when brum starts again.
        restart_needed: &'a [String],
        /// Plugins given their table's new settings.
        reconfigured: &'a [String],
        /// Plugins that refused them (`[plugin.NAME]: why; ...`).
        refused: &'a [String],
    },
    /// The restart policy wanted another start, but `max_restarts` ran out.
    ProcessGaveUp {
        process: ProcRef<'a>,
        restarts: u32,
    },
    /// The current run passed its readiness probe.
    ProcessReady {
        process: ProcRef<'a>,
        probe: &'a str,
        after_ms: u64,
        run: u32,
    },
    /// The current run did not become ready: timed out, or ended first.
    ProcessUnready {
        process: ProcRef<'a>,
        probe: &'a str,
        reason: &'a str,
        waited_ms: u64,
    },
    /// A ready process failed its health check this many times in a row.
    ProcessUnhealthy {
        process: ProcRef<'a>,
        probe: &'a str,
        failures: u32,
    },
    /// A process will not start: a process it depends on ended without
    /// becoming ready.
    ProcessBlocked {
        process: ProcRef<'a>,
        dependency: &'a str,
        reason: &'a str,
    },
    /// An open error is over: its process reported a clean re-check, a full
    /// report without it, or a healthy later run.
    ErrorResolved {
        process: ProcRef<'a>,
        id: u64,
        fingerprint: u64,
        reason: &'a str,
    },
    /// The session began to stop everything: why (`SIGTERM`, `SIGINT`,
    /// `SIGHUP`, `kill_others_on_fail`, `output_closed`, `requested`).
    DaemonStopping {
        reason: &'a str,
    },
    DaemonStopped {
        exit_code: i32,
    },
    /// Something a plugin found: `error.detected`, `url.detected`,
    /// `build.event`, `test.passed` / `test.failed`, or `finding`.
    Finding {
        process: ProcRef<'a>,
        plugin: &'a str,
        finding: &'a FindingView<'a>,
    },
    PluginLoaded {
        plugin: &'a str,
        version: &'a str,
        source: &'a str,
        filter: bool,
        cached: bool,
        load_ms: u64,
    },
    /// A plugin could not be loaded (`action` = "rejected") or failed while
    /// running ("restarting" after `retry_ms`, or "disabled").
    PluginFailed {
        plugin: &'a str,
        reason: &'a str,
        action: &'a str,
        failures: u32,
        retry_ms: u64,
    },
    PluginLog {
        plugin: &'a str,
        text: &'a str,
    },
    /// A plugin loaded while processes ran caught up on what it missed,
    /// but not on all of it: `count` lines it will never see (pushed out of
    /// the rings before it was ready, beyond the catch-up bound, or after it
    /// failed), `given` it was given.
    PluginSkipped {
        plugin: &'a str,
        count: u64,
        given: u64,
        reason: &'a str,
    },
    /// A configuration mistake found once the session runs (a settings
    /// table naming no plugin: known only when every plugin has said its
    /// name).
    ConfigError {
        file: &'a str,
        line: Option<usize>,
        column: Option<usize>,
        key: Option<&'a str>,
        message: &'a str,
    },
    /// brum's event output failed (disk full, file too large): the reason.
    OutputFailed {
        error: &'a str,
    },
    /// A control client was disconnected because it stopped reading.
    ClientDropped {
        queued_bytes: u64,
        reason: &'a str,
    },
    /// A proxy listens for a dev server's URL (again, when a new run of
    /// the process announces it, or a new port it follows).
    ProxyStarted {
        process: ProcRef<'a>,
        url: &'a str,
        proxy_url: &'a str,
    },
    /// An HTML page brum would add its telemetry script to but may not
    /// (its Content-Security-Policy would block it, it is compressed):
    /// said once per proxy and reason.
    ProxyInjectSkipped {
        process: ProcRef<'a>,
        path: &'a str,
        reason: &'a str,
    },
    /// brum fetched a script's separate source map from the dev server (an
    /// error in that script needed it): how many bytes, or why it could
    /// not (then errors in the script are placed by path).
    ProxySourceMap {
        process: ProcRef<'a>,
        /// The script's path.
        script: &'a str,
        /// The map's path on the dev server.
        map: &'a str,
        bytes: u64,
        error: Option<&'a str>,
    },
    /// An announced URL gets no proxy, and why.
    ProxySkipped {
        process: ProcRef<'a>,
        url: &'a str,
        reason: &'a str,
    },
    /// One request through a proxy, when its response ended (an upgrade:
    /// when the connection switched protocols).
    ProxyRequest {
        process: ProcRef<'a>,
        method: &'a str,
        path: &'a str,
        status: u16,
        duration_us: u64,
        /// Bytes from the browser (head and body).
        bytes_in: u64,
        /// Bytes to the browser (head and body).
        bytes_out: u64,
        upgrade: bool,
        /// What went wrong, when brum answered itself or cut the response.
        error: Option<&'a str>,
    },
    /// An error in a page the proxy served: an uncaught exception, an
    /// unhandled rejection, a failed `fetch`/XHR or resource (`kind`).
    /// Always followed by its `error.detected` (`source: "browser"`).
    BrowserError {
        process: ProcRef<'a>,
        /// exception, rejection, fetch, xhr or resource.
        kind: &'a str,
        page: &'a str,
        message: &'a str,
        /// The browser's stack, brum's own frames removed ("" if none).
        stack: &'a str,
        /// The project file (else the served script's URL), 1-based: the
        /// user's frame (the first not in a dependency).
        file: Option<&'a str>,
        line: Option<u32>,
        col: Option<u32>,
        /// The stack's frames placed, top first (at most 32).
        frames: &'a [BrowserFrame],
    },
    /// A page called `console.error` or `console.warn`.
    BrowserConsole {
        process: ProcRef<'a>,
        /// error or warn.
        level: &'a str,
        message: &'a str,
        page: &'a str,
    },
    /// A page the proxy served finished loading.
    BrowserPage {
        process: ProcRef<'a>,
        url: &'a str,
        title: Option<&'a str>,
        load_ms: Option<u64>,
    },
    /// At the end of a run: per process how it went.
    RunSummary {
        rows: &'a [SummaryRow<'a>],
        exit_code: i32,
    },
}

/// A plugin's finding, borrowed (the plugin host owns the data).
#[derive(Debug, Clone, Copy)]
pub struct FindingView<'a> {
    /// error, warning, url, build, test or custom.
    pub kind: &'a str,
    pub custom_kind: Option<&'a str>,
    /// critical, error, warning or info.
    pub severity: &'a str,
    pub message: &'a str,
    pub first_seq: u64,
    pub last_seq: u64,
    pub file: Option<&'a str>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub code: Option<&'a str>,
    pub url: Option<&'a str>,
    pub language: Option<&'a str>,
    pub fields: &'a [(String, String)],
    /// Same value for the same error seen again (a dev server recompiling
    /// the same broken file): process, kind, code, file, line and message.
    pub fingerprint: u64,
    /// How many times this error has been seen while open.
    pub count: u32,
    /// The open error this occurrence belongs to (errors and warnings;
    /// 0 for other kinds).
    pub id: u64,
}

impl<'a> FindingView<'a> {
    /// A finding with what every finding has, over lines `seqs`; no file,
    /// code, url or language; seen once and not yet in the lifecycle
    /// (`fingerprint` and `id` 0). The rest by struct update syntax.
    pub fn new(
        kind: &'a str,
        severity: &'a str,
        message: &'a str,
        seqs: (u64, u64),
        fields: &'a [(String, String)],
    ) -> FindingView<'a> {
        FindingView {
            kind,
            custom_kind: None,
            severity,
            message,
            first_seq: seqs.0,
            last_seq: seqs.1,
            file: None,
            line: None,
            column: None,
            code: None,
            url: None,
            language: None,
            fields,
            fingerprint: 0,
            count: 1,
            id: 0,
        }
    }
}

/// One frame of a browser error's stack, placed: the project file (else
/// the source its map names, else the served script's URL without its
/// query), 1-based line and column; and where the browser said it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserFrame {
    pub file: String,
    pub line: u32,
    pub col: u32,
    /// The served script's URL, line and column as the browser printed
    /// them (`http://127.0.0.1:20888/assets/index-3f2a.js:1:2345`).
    pub served: String,
}

/// One process's line in the end-of-run summary.
#[derive(Debug, Clone, Copy)]
pub struct SummaryRow<'a> {
    pub process: ProcRef<'a>,
    /// success, failed, stopped, or "not run".
    pub state: &'a str,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub duration_ms: u64,
    pub restarts: u32,
    pub errors: u32,
    pub warnings: u32,
    /// Of `errors`, those its pages reported through the proxy.
    pub browser_errors: u32,
    /// Time from its (last) start to ready, when it has a probe and passed.
    pub ready_ms: Option<u64>,
    /// Errors and warnings still open at the end.
    pub errors_open: u32,
    pub warnings_open: u32,
    /// Errors and warnings resolved during the run.
    pub resolved: u32,
    pub tests_passed: u64,
    pub tests_failed: u64,
    pub urls: &'a [String],
}

impl FindingView<'_> {
    /// The fingerprint of a finding of `process`: FNV-1a over what makes two
    /// reports "the same error" (not the seqs or the time).
    pub fn compute_fingerprint(&self, process: &str) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes.iter().chain(b"\x1f") {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        eat(process.as_bytes());
        eat(self.kind.as_bytes());
        eat(self.code.unwrap_or("").as_bytes());
        eat(self.file.unwrap_or("").as_bytes());
        eat(&self.line.unwrap_or(0).to_le_bytes());
        eat(self.message.as_bytes());
        h
    }

    /// A free field by key.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Whether it is a problem that counts — in the run summary, `ps`,
    /// `brum errors` and `--fail-on` — and as what: `"error"` or
    /// `"warning"`. Errors and warnings by kind; a plugin's own kind by its
    /// severity (critical and error count as errors, warning as a warning,
    /// info not at all); URLs, builds and tests never.
    pub fn counts_as(&self) -> Option<&'static str> {
        match (self.kind, self.severity) {
            ("error", _) => Some("error"),
            ("warning", _) => Some("warning"),
            ("custom", "critical" | "error") => Some("error"),
            ("custom", "warning") => Some("warning"),
            _ => None,
        }
    }

    /// The event type this finding is published as.
    pub fn event_type(&self) -> &'static str {
        match self.kind {
            "error" | "warning" => "error.detected",
            "url" => "url.detected",
            "build" => "build.event",
            "test" => {
                let failed = self.field("failed").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                if failed > 0 || matches!(self.severity, "error" | "critical") { "test.failed" } else { "test.passed" }
            }
            _ => "finding",
        }
    }
}

impl Event<'_> {
    /// The `type` field of the wire format.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::DaemonStarted { .. } => "daemon.started",
            Event::ProcessStarted { .. } => "process.started",
            Event::LogLine { .. } => "log.line",
            Event::ProcessExited { .. } => "process.exited",
            Event::ProcessRestarting { .. } => "process.restarting",
            Event::LogDropped { .. } => "log.dropped",
            Event::DaemonStopping { .. } => "daemon.stopping",
            Event::ErrorResolved { .. } => "error.resolved",
            Event::ProcessReady { .. } => "process.ready",
            Event::ProcessGaveUp { .. } => "process.gave_up",
            Event::DaemonReloaded { .. } => "daemon.reloaded",
            Event::ProcessUnready { .. } => "process.unready",
            Event::ProcessUnhealthy { .. } => "process.unhealthy",
            Event::ProcessBlocked { .. } => "process.blocked",
            Event::OrphansKilled { .. } => "process.orphans_killed",
            Event::DaemonStopped { .. } => "daemon.stopped",
            Event::Finding { finding, .. } => finding.event_type(),
            Event::PluginLoaded { .. } => "plugin.loaded",
            Event::PluginFailed { .. } => "plugin.failed",
            Event::PluginLog { .. } => "plugin.log",
            Event::PluginSkipped { .. } => "plugin.skipped",
            Event::ConfigError { .. } => "config.error",
            Event::RunSummary { .. } => "run.summary",
            Event::ClientDropped { .. } => "client.dropped",
            Event::OutputFailed { .. } => "output.failed",
            Event::ProxyStarted { .. } => "proxy.started",
            Event::ProxySkipped { .. } => "proxy.skipped",
            Event::ProxyInjectSkipped { .. } => "proxy.inject_skipped",
            Event::ProxySourceMap { .. } => "proxy.source_map",
            Event::ProxyRequest { .. } => "proxy.request",
            Event::BrowserError { .. } => "browser.error",
            Event::BrowserConsole { .. } => "browser.console",
            Event::BrowserPage { .. } => "browser.page",
        }
    }
}

pub use crate::signals::{parse_signal, signal_name};
