//! How `brum mcp` talks to the daemon: one request per connection through
//! the blocking control client, run off the async runtime's thread so a
//! pending wait, a cancellation or the end of stdin is never held up by it;
//! and `tail` feeds on the runtime's own non-blocking Unix sockets.
//! Starts a daemon with `brum up` the first time none answers.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use brum::control::client::{self, ClientError};

/// Why a tool could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The daemon refused the request (an unknown process, a process that
    /// is already running...): the tool reports it as its result.
    #[error("{0}")]
    Refused(String),
    /// The daemon could not be reached or started.
    #[error("{0}")]
    Unreachable(String),
}

#[derive(Clone)]
pub struct Daemon {
    pub socket: PathBuf,
    pub config: Option<PathBuf>,
    /// `brum up` was tried already (it is tried once per session); held
    /// while it runs, so concurrent requests wait for it instead of failing.
    tried_up: Arc<Mutex<bool>>,
    /// A daemon was started for the client and the next result says so.
    note: Arc<AtomicBool>,
    /// told when `brum up` started a daemon
    started: Arc<tokio::sync::Notify>,
}

impl Daemon {
    pub fn new(socket: PathBuf, config: Option<PathBuf>) -> Daemon {
        Daemon { socket, config, tried_up: Arc::default(), note: Arc::default(), started: Arc::default() }
    }

    /// One request and its answer (without the transport fields `id`/`ok`),
    /// starting a daemon when none runs (tools do).
    pub async fn call(&self, req: Value) -> Result<Value, DaemonError> {
        self.request(req, true).await
    }

    /// One request, without starting a daemon (resources do: a client that
    /// lists resources on connecting must not start the project's processes).
    pub async fn peek(&self, req: Value) -> Result<Value, DaemonError> {
        self.request(req, false).await
    }

    async fn request(&self, req: Value, start: bool) -> Result<Value, DaemonError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.call_blocking(&req, start))
            .await
            .map_err(|e| DaemonError::Unreachable(format!("request to brum failed: {e}")))?
    }

    /// Resolves when this process has started a daemon.
    pub async fn started(&self) {
        self.started.notified().await;
    }

    fn call_blocking(&self, req: &Value, start: bool) -> Result<Value, DaemonError> {
        let answer = match client::call(&self.socket, req) {
            Err(ClientError::NotRunning(_)) if start => {
                let mut tried = self.tried_up.lock().unwrap_or_else(|p| p.into_inner());
                if !*tried {
                    *tried = true;
                    self.up()?;
                }
                client::call(&self.socket, req)
            }
            other => other,
        };
        match answer {
            Ok(mut v) => {
                if let Some(m) = v.as_object_mut() {
                    m.remove("id");
                    m.remove("ok");
                }
                Ok(v)
            }
            Err(ClientError::Refused(m)) => Err(DaemonError::Refused(m)),
            Err(e) => Err(DaemonError::Unreachable(e.to_string())),
        }
    }

    fn up(&self) -> Result<(), DaemonError> {
        let exe = std::env::current_exe().map_err(|e| DaemonError::Unreachable(format!("cannot find brum: {e}")))?;
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("up").arg("--socket").arg(&self.socket);
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        let out = cmd
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| DaemonError::Unreachable(format!("cannot run `brum up`: {e}")))?;
        if !out.status.success() {
            return Err(DaemonError::Unreachable(format!(
                "no brum was running here and `brum up` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        self.note.store(true, Ordering::SeqCst);
        self.started.notify_waiters();
        Ok(())
    }

    /// The project's config declares a readiness probe for `name` (the
    /// process table says so only once it has started).
    pub fn has_probe(&self, name: &str) -> bool {
        let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
        brum::config::discover(&cwd, self.config.as_deref())
            .is_ok_and(|c| c.processes.iter().any(|p| p.name == name && p.ready.is_some()))
    }

    /// The line results start with once, after a daemon was started for
    /// the client.
    pub fn started_note(&self) -> &'static str {
        if self.note.swap(false, Ordering::SeqCst) {
            "(no brum was running here: started one in the background with `brum up`)\n"
        } else {
            ""
        }
    }

    /// A `tail` feed: `tail` arguments in `req`; events are read with
    /// [`Feed::next`].
    pub async fn tail(&self, mut req: Value) -> Result<Feed, DaemonError> {
        req["cmd"] = json!("tail");
        let mut s = UnixStream::connect(&self.socket)
            .await
            .map_err(|e| DaemonError::Unreachable(format!("cannot follow brum's events: {e}")))?;
        s.write_all(format!("{req}\n").as_bytes())
            .await
            .map_err(|e| DaemonError::Unreachable(format!("cannot follow brum's events: {e}")))?;
        let mut feed = Feed { r: BufReader::new(s), line: Vec::new() };
        match feed.next().await? {
            Some(head) if head["ok"] == true => Ok(feed),
            Some(head) => Err(DaemonError::Refused(head["error"].as_str().unwrap_or("tail refused").to_string())),
            None => Err(DaemonError::Unreachable("brum closed the event feed".into())),
        }
    }
}

/// A `tail` connection.
pub struct Feed {
    r: BufReader<UnixStream>,
    line: Vec<u8>,
}

impl Feed {
    /// The next event, `None` when brum closed the feed.
    pub async fn next(&mut self) -> Result<Option<Value>, DaemonError> {
        loop {
            self.line.clear();
            let n = self
                .r
                .read_until(b'\n', &mut self.line)
                .await
                .map_err(|e| DaemonError::Unreachable(format!("brum's event feed failed: {e}")))?;
            if n == 0 {
                return Ok(None);
            }
            if let Ok(v) = serde_json::from_slice::<Value>(&self.line) {
                return Ok(Some(v));
            }
        }
    }
}

/// A log line's text: `text`, or its `bytes` (base64) with every byte that
/// is not UTF-8 shown as `\xNN`, so nothing is silently left out.
pub fn line_text(l: &Value) -> String {
    if let Some(t) = l["text"].as_str() {
        return t.to_string();
    }
    let Some(b) = l["bytes"].as_str() else { return String::new() };
    use base64::Engine as _;
    match base64::engine::general_purpose::STANDARD.decode(b) {
        Ok(raw) => escape_invalid(&raw),
        Err(_) => format!("(base64) {b}"),
    }
}

fn escape_invalid(mut raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    loop {
        match std::str::from_utf8(raw) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, bad) = raw.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len());
                for b in &bad[..n] {
                    out.push_str(&format!("\\x{b:02x}"));
                }
                raw = &bad[n..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_utf8_are_escaped_not_dropped() {
        assert_eq!(escape_invalid(b"caf\xe9 ok \xff"), "caf\\xe9 ok \\xff");
        assert_eq!(line_text(&json!({"bytes": "Zm9v/w=="})), "foo\\xff");
        assert_eq!(line_text(&json!({"text": "plain"})), "plain");
    }
}
