//! `wait_for`: what already happened in the current run of a process counts,
//! then new events do. A run begins with its `process.started` event; the
//! wait replays brum's event history from there (one `tail` with `since`,
//! which then follows live events without a gap) and only events of a run
//! that is current when the wait began, or of a later one, can meet it. So
//! a line printed before the call is seen, and after a restart or a stop
//! the previous run's URL or readiness is not.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rmcp::RoleServer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ToolFail;
use super::daemon::{Daemon, DaemonError, line_text};
use super::types::ProcessRow;

/// Longest `wait_for` timeout.
pub const MAX_WAIT_MS: u64 = 300_000;

#[derive(Deserialize, Serialize, JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    Ready,
    Url,
    Pattern,
    Exit,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitForArgs {
    /// what to wait for
    pub condition: Condition,
    /// the process (required for ready and exit)
    #[schemars(length(min = 1))]
    pub process: Option<String>,
    /// a substring (or with `regex` a regular expression) of a line
    #[schemars(length(min = 1))]
    pub pattern: Option<String>,
    /// treat pattern as a regular expression (default false)
    pub regex: Option<bool>,
    /// give up after this many milliseconds (default 30000)
    #[schemars(range(min = 1, max = MAX_WAIT_MS))]
    pub timeout_ms: Option<u64>,
}

#[derive(Serialize, JsonSchema, Debug)]
pub struct WaitOut {
    /// the condition holds
    pub met: bool,
    /// what happened (null on a timeout)
    pub detail: Option<String>,
    /// the seq of the event that met it (null when it held already or was not met)
    pub seq: Option<u64>,
    /// the run of the process it belongs to
    pub run: Option<u64>,
    pub waited_ms: u64,
}

enum Matcher {
    Text(String),
    Regex(regex::Regex),
}

impl Matcher {
    fn is_match(&self, s: &str) -> bool {
        match self {
            Matcher::Text(t) => s.contains(t.as_str()),
            Matcher::Regex(r) => r.is_match(s),
        }
    }
}

/// What ends the wait, resolved from the arguments and the process table.
enum Cond {
    Url,
    Line(Matcher),
    Exit,
    /// `ready` of a process with a readiness probe: the probe decides.
    Probe,
}

pub async fn wait_for(
    d: &Daemon,
    a: WaitForArgs,
    ctx: &RequestContext<RoleServer>,
    eof: tokio::sync::watch::Receiver<bool>,
) -> Result<WaitOut, ToolFail> {
    let started = Instant::now();
    let timeout = Duration::from_millis(a.timeout_ms.unwrap_or(30_000));
    let matcher =
        match (&a.pattern, a.regex.unwrap_or(false)) {
            (Some(p), true) => Some(Matcher::Regex(regex::Regex::new(p).map_err(|e| {
                ToolFail::Params(format!("wait_for: `pattern` is not a valid regular expression: {e}"))
            })?)),
            (Some(p), false) => Some(Matcher::Text(p.clone())),
            (None, _) => None,
        };
    let c = a.condition;
    if matches!(c, Condition::Ready | Condition::Exit) && a.process.is_none() {
        return Err(ToolFail::Params(format!("wait_for: condition `{}` needs `process`", name(c))));
    }
    if c == Condition::Pattern && matcher.is_none() {
        return Err(ToolFail::Params("wait_for: condition `pattern` needs `pattern`".into()));
    }
    let hello = d.call(json!({"cmd": "hello"})).await?;
    let now_seq = hello["seq"].as_u64().unwrap_or(0);
    let ps = d.call(json!({"cmd": "ps"})).await?;
    let rows = super::tools::rows(&ps)?;
    if let Some(p) = &a.process
        && !rows.iter().any(|r| &r.name == p)
    {
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        return Err(ToolFail::Daemon(DaemonError::Refused(format!(
            "unknown process \"{p}\" (defined: {})",
            names.join(", ")
        ))));
    }
    let row = a.process.as_ref().and_then(|p| rows.iter().find(|r| &r.name == p));
    let cond = match (c, matcher) {
        (Condition::Ready, None) if row.is_some_and(|r| r.ready.is_some() || d.has_probe(&r.name)) => Cond::Probe,
        (Condition::Ready | Condition::Url, None) => Cond::Url,
        (Condition::Ready | Condition::Pattern, Some(m)) => Cond::Line(m),
        (Condition::Url, Some(_)) => Cond::Url,
        (Condition::Exit, _) => Cond::Exit,
        (Condition::Pattern, None) => {
            return Err(ToolFail::Params("wait_for: condition `pattern` needs `pattern`".into()));
        }
    };
    let done = |detail: String, seq: Option<u64>, run: Option<u64>| WaitOut {
        met: true,
        detail: Some(detail),
        seq,
        run,
        waited_ms: started.elapsed().as_millis() as u64,
    };
    // what the process table already says
    if let Some(r) = row {
        match cond {
            Cond::Url if r.state == "running" && !r.urls.is_empty() => {
                return Ok(done(format!("{} announced {}", r.name, r.urls.join(" ")), None, Some(r.run)));
            }
            Cond::Probe if r.state == "running" && r.ready.as_deref() == Some("ready") => {
                let ms = r.ready_ms.map(|m| format!(" after {m} ms")).unwrap_or_default();
                return Ok(done(format!("{} is ready (its probe passed{ms})", r.name), None, Some(r.run)));
            }
            Cond::Exit if matches!(r.state.as_str(), "success" | "failed" | "stopped") => {
                let code = r.exit_code.map_or("none".into(), |c| c.to_string());
                return Ok(done(format!("{} has ended: {} (exit code {code})", r.name, r.state), None, Some(r.run)));
            }
            _ => {}
        }
    }
    // where each process's current run began: events of a process count
    // from its `process.started` with seq >= arm_from (or from now when the
    // run's start is no longer in brum's history)
    let mut filter = json!({"types": ["process.started"], "last": 1000, "follow": false});
    if let Some(p) = &a.process {
        filter["processes"] = json!([p]);
    }
    let mut run_start: HashMap<String, u64> = HashMap::new();
    let mut hist = d.tail(filter).await?;
    while let Some(ev) = hist.next().await? {
        if let (Some(p), Some(seq)) = (ev["process"].as_str(), ev["seq"].as_u64()) {
            run_start.insert(p.to_string(), seq);
        }
    }
    let counts_now = |r: &ProcessRow| match cond {
        // an exit of the run being stopped still counts
        Cond::Exit => matches!(r.state.as_str(), "running" | "stopping" | "restarting"),
        _ => r.state == "running",
    };
    let mut arm_from: HashMap<String, u64> = HashMap::new();
    let mut armed: HashMap<String, bool> = HashMap::new();
    let mut since = now_seq;
    for r in rows.iter().filter(|r| a.process.as_ref().is_none_or(|p| p == &r.name)) {
        match run_start.get(&r.name) {
            Some(&s) if counts_now(r) && s <= now_seq => {
                arm_from.insert(r.name.clone(), s);
                since = since.min(s.saturating_sub(1));
            }
            None if counts_now(r) => {
                armed.insert(r.name.clone(), true);
            }
            _ => {}
        }
    }
    let mut types = vec!["process.started", "process.exited", "daemon.stopped"];
    types.extend(match cond {
        Cond::Url => &["url.detected"][..],
        Cond::Line(_) => &["log.line"][..],
        Cond::Probe => &["process.ready", "process.unready"][..],
        Cond::Exit => &[][..],
    });
    let mut req = json!({"types": types, "since": since});
    if let Some(p) = &a.process {
        req["processes"] = json!([p]);
    }
    let mut feed = d.tail(req).await?;
    let deadline = tokio::time::Instant::now() + timeout;
    let progress: Option<ProgressToken> = ctx.meta.get_progress_token();
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(1), Duration::from_secs(1));
    loop {
        let ev = tokio::select! {
            ev = feed.next() => ev?,
            _ = ctx.ct.cancelled() => return Err(ToolFail::Cancelled),
            _ = super::ended(eof.clone()) => return Err(ToolFail::Cancelled),
            _ = tokio::time::sleep_until(deadline) => {
                return Ok(WaitOut { met: false, detail: None, seq: None, run: None, waited_ms: started.elapsed().as_millis() as u64 });
            }
            _ = tick.tick(), if progress.is_some() => {
                if let Some(token) = &progress {
                    let waited = started.elapsed().as_millis() as f64;
                    let mut p = ProgressNotificationParam::new(token.clone(), waited);
                    p.total = Some(timeout.as_millis() as f64);
                    p.message = Some(format!("waiting for {} ({} ms so far)", name(c), waited as u64));
                    let _ = ctx.peer.notify_progress(p).await;
                }
                continue;
            }
        };
        let Some(ev) = ev else {
            return Ok(WaitOut {
                met: false,
                detail: Some("brum closed its event feed (it stopped)".into()),
                seq: None,
                run: None,
                waited_ms: started.elapsed().as_millis() as u64,
            });
        };
        let ty = ev["type"].as_str().unwrap_or("");
        let seq = ev["seq"].as_u64();
        let run = ev["run"].as_u64();
        let Some(p) = ev["process"].as_str() else {
            if ty == "daemon.stopped" {
                return Ok(WaitOut {
                    met: false,
                    detail: Some("brum stopped".into()),
                    seq,
                    run: None,
                    waited_ms: started.elapsed().as_millis() as u64,
                });
            }
            continue;
        };
        if ty == "process.started" {
            // a run that began when or after the wait did counts
            if seq.unwrap_or(0) >= arm_from.get(p).copied().unwrap_or(now_seq + 1) {
                armed.insert(p.to_string(), true);
            }
            continue;
        }
        if !armed.get(p).copied().unwrap_or(false) {
            continue;
        }
        let hit = match (&cond, ty) {
            (Cond::Exit, "process.exited") => Some(format!(
                "{p} exited: {} (exit code {}, signal {})",
                ev["state"].as_str().unwrap_or(""),
                ev["code"],
                ev["signal"]
            )),
            (_, "process.exited") => {
                armed.insert(p.to_string(), false);
                None
            }
            (Cond::Url, "url.detected") => Some(format!("{p} announced {}", ev["url"].as_str().unwrap_or(""))),
            (Cond::Line(m), "log.line") => {
                let text = line_text(&ev);
                m.is_match(&text).then(|| format!("{p} printed: {text}"))
            }
            (Cond::Probe, "process.ready") => Some(format!(
                "{p} is ready: its {} probe passed after {} ms",
                ev["probe"].as_str().unwrap_or(""),
                ev["after_ms"]
            )),
            (Cond::Probe, "process.unready") => {
                return Ok(WaitOut {
                    met: false,
                    detail: Some(format!("{p} will not be ready: {}", ev["reason"].as_str().unwrap_or(""))),
                    seq,
                    run,
                    waited_ms: started.elapsed().as_millis() as u64,
                });
            }
            _ => None,
        };
        if let Some(detail) = hit {
            let run = run.or_else(|| rows.iter().find(|r| r.name == p).map(|r| r.run));
            return Ok(done(detail, seq, run));
        }
    }
}

fn name(c: Condition) -> &'static str {
    match c {
        Condition::Ready => "ready",
        Condition::Url => "url",
        Condition::Pattern => "pattern",
        Condition::Exit => "exit",
    }
}

impl From<DaemonError> for ToolFail {
    fn from(e: DaemonError) -> Self {
        ToolFail::Daemon(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_declared_timeout_bound_is_the_enforced_one() {
        let schema = rmcp::handler::server::tool::schema_for_input::<WaitForArgs>().expect("schema");
        let t = &schema["properties"]["timeout_ms"];
        assert_eq!(t["maximum"], json!(MAX_WAIT_MS), "{t}");
        let v: Value = json!({"condition": "ready", "process": "web", "timeout_ms": MAX_WAIT_MS + 1});
        let e = super::super::schema::check("wait_for", &schema, &v).expect_err("over the maximum");
        assert!(e.contains("`timeout_ms`") && e.contains("from 1 to 300000"), "{e}");
    }
}
