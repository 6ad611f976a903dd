//! The tools' typed arguments and results. `schemars` derives their input
//! and output schemas from these types (bounds, lengths and enums are the
//! attributes on the fields); `schema::check` enforces the input ones before
//! a tool runs, and a tool's `structuredContent` is one of these results,
//! serialised.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::daemon::line_text;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameArgs {
    /// the process name (see list_processes)
    #[schemars(length(min = 1))]
    pub name: String,
}

#[derive(Deserialize, Serialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetLogsArgs {
    /// the process name (see list_processes)
    #[schemars(length(min = 1))]
    pub process: String,
    /// how many of the newest lines (default 100)
    #[schemars(range(min = 1, max = 1000))]
    pub last: Option<u32>,
    /// only lines after this seq
    pub since_seq: Option<u64>,
    /// only this stream
    pub stream: Option<Stream>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchLogsArgs {
    /// a substring, or a regular expression with `regex`
    #[schemars(length(min = 1))]
    pub query: String,
    /// treat query as a regular expression (default false)
    pub regex: Option<bool>,
    /// only this process (default all)
    #[schemars(length(min = 1))]
    pub process: Option<String>,
    /// at most this many matches per process (default 50)
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListErrorsArgs {
    /// only this process
    #[schemars(length(min = 1))]
    pub process: Option<String>,
    /// the newest N (default 20)
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
    /// also the errors already resolved (default false)
    pub include_resolved: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListUrlsArgs {
    /// only this process
    #[schemars(length(min = 1))]
    pub process: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRequestsArgs {
    /// only this process
    #[schemars(length(min = 1))]
    pub process: Option<String>,
    /// only these statuses: codes (404), classes (5xx), ranges (400-499), comma-separated
    #[schemars(length(min = 1))]
    pub status: Option<String>,
    /// the newest N (default 50)
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<u32>,
}

/// A URL's proxy: the dev server's URL and brum's in front of it.
#[derive(Deserialize, Serialize, JsonSchema, Default)]
#[serde(default)]
pub struct ProxyRow {
    pub url: String,
    pub proxy_url: String,
}

#[derive(Deserialize, Serialize, JsonSchema, Default)]
#[serde(default)]
pub struct ProcessRow {
    pub name: String,
    /// not started, running, stopping, restarting, success, failed or stopped
    pub state: String,
    pub pid: Option<u32>,
    pub uptime_ms: Option<u64>,
    /// which start of the process this is (1 for the first)
    pub run: u64,
    pub restarts: u64,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    /// open errors
    pub errors: u64,
    /// open warnings
    pub warnings: u64,
    /// URLs of the current run
    pub urls: Vec<String>,
    /// brum's proxies for its URLs (`brum run --proxy`); they outlive a run
    pub proxies: Vec<ProxyRow>,
    /// ready, waiting or unready; null when the process has no readiness probe
    pub ready: Option<String>,
    pub ready_ms: Option<u64>,
    pub command: String,
}

#[derive(Serialize, JsonSchema)]
pub struct ProcessesOut {
    pub processes: Vec<ProcessRow>,
}

#[derive(Serialize, JsonSchema)]
pub struct Script {
    pub name: String,
    pub command: String,
    /// the package.json script it runs, if any
    pub script: Option<String>,
    pub autostart: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct ScriptsOut {
    pub scripts: Vec<Script>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Started,
    Stopping,
    Restarting,
}

#[derive(Serialize, JsonSchema)]
pub struct LifecycleOut {
    pub process: String,
    pub action: Action,
    /// the new pid (start only)
    pub pid: Option<u32>,
}

#[derive(Serialize, JsonSchema)]
pub struct ReloadOut {
    /// processes restarted with their new definition
    pub changed: Vec<String>,
    /// processes added (started when they autostart)
    pub added: Vec<String>,
    /// processes removed (stopped)
    pub removed: Vec<String>,
    /// how many processes stayed as they were
    pub unchanged: u64,
    /// plugins given their [plugin.NAME] table's new settings
    pub reconfigured: Vec<String>,
    /// plugins that refused their new settings, and why (they keep the old ones)
    pub refused: Vec<String>,
    /// changes that take effect only when brum starts again (plugin files, [proxy], ...)
    pub restart_needed: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct LogLine {
    pub seq: u64,
    pub ts_ms: Option<u64>,
    pub stream: String,
    /// the line; bytes that are not UTF-8 are shown as \xNN
    pub text: String,
    /// the raw line as base64, when it is not UTF-8
    pub bytes: Option<String>,
    /// the line was longer than the line limit and continues in the next one
    pub truncated: bool,
}

impl LogLine {
    pub fn from_daemon(l: &Value) -> LogLine {
        LogLine {
            seq: l["seq"].as_u64().unwrap_or(0),
            ts_ms: l["ts_ms"].as_u64(),
            stream: l["stream"].as_str().unwrap_or("").to_string(),
            text: line_text(l),
            bytes: l["bytes"].as_str().map(String::from),
            truncated: l["truncated"] == true,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct LogsOut {
    pub process: String,
    pub lines: Vec<LogLine>,
    /// matching lines held
    pub total: u64,
    /// matching lines not shown
    pub more: u64,
    /// lines no longer held in memory
    pub evicted: u64,
}

#[derive(Serialize, JsonSchema)]
pub struct Match {
    pub process: String,
    pub seq: u64,
    pub stream: String,
    pub text: String,
}

#[derive(Serialize, JsonSchema)]
pub struct SearchOut {
    pub matches: Vec<Match>,
    /// matches not shown, per process with any
    pub more: u64,
}

#[derive(Serialize, JsonSchema)]
pub struct ErrorOut {
    pub id: Option<u64>,
    pub process: String,
    pub message: String,
    pub severity: String,
    /// error or warning
    pub kind: String,
    pub file: Option<String>,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub code: Option<String>,
    pub language: Option<String>,
    pub first_seq: u64,
    pub last_seq: u64,
    /// how many times it was seen while open
    pub count: u64,
    /// still open (not fixed by a clean re-check or a healthy later run)
    pub open: bool,
    /// why it was resolved
    pub resolved: Option<String>,
    /// where it was seen when not in the process's output: proxy (a request through brum's proxy failed)
    pub source: Option<String>,
    /// the lines of output it covers
    pub raw_lines: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct ErrorsOut {
    pub errors: Vec<ErrorOut>,
    /// open errors
    pub open: u64,
    pub total: u64,
    /// not shown
    pub more: u64,
}

#[derive(Serialize, JsonSchema)]
pub struct UrlOut {
    pub process: String,
    pub url: String,
    pub label: Option<String>,
    /// brum's proxy in front of it (`brum run --proxy`)
    pub proxy_url: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct UrlsOut {
    pub urls: Vec<UrlOut>,
    pub more: u64,
}

#[derive(Serialize, JsonSchema)]
pub struct RequestOut {
    /// seq of its proxy.request event
    pub seq: u64,
    pub ts: String,
    pub process: String,
    pub method: String,
    /// the path and query (cut at 200 bytes)
    pub path: String,
    pub status: u16,
    pub duration_ms: f64,
    /// bytes from the browser (head and body)
    pub bytes_in: u64,
    /// bytes to the browser (head and body)
    pub bytes_out: u64,
    /// the connection switched protocols (a WebSocket)
    pub upgrade: bool,
    /// what went wrong when brum answered (502) or the response was cut
    pub error: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct RequestsOut {
    /// oldest first
    pub requests: Vec<RequestOut>,
    /// matching requests remembered
    pub total: u64,
    /// not shown
    pub more: u64,
    /// the proxy is on in this session
    pub proxy: bool,
}
