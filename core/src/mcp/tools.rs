//! The tools, as `#[tool]` methods on typed arguments and results (types.rs):
//! each asks the daemon, and answers with readable text plus the typed
//! result as `structuredContent`.

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use serde::Serialize;
use serde_json::{Value, json};

use super::daemon::{DaemonError, line_text};
use super::types::{
    Action, ErrorOut, ErrorsOut, GetLogsArgs, LifecycleOut, ListErrorsArgs, ListRequestsArgs, ListUrlsArgs, LogLine,
    LogsOut, Match, NameArgs, ProcessRow, ProcessesOut, ReloadOut, RequestOut, RequestsOut, Script, ScriptsOut,
    SearchLogsArgs, SearchOut, UrlOut, UrlsOut,
};
use super::wait::{WaitForArgs, WaitOut};
use super::{Server, ToolFail};

/// A tool's answer: readable text plus the typed structured result.
pub fn reply<T: Serialize>(text: String, out: &T) -> Result<CallToolResult, ErrorData> {
    let value = serde_json::to_value(out).map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
    let mut r = CallToolResult::structured(value);
    r.content = vec![ContentBlock::text(text)];
    Ok(r)
}

/// A failed tool: bad arguments are a protocol error (-32602), anything
/// else a result with `isError` and the reason as text.
pub fn failed(note: &str, e: ToolFail) -> Result<CallToolResult, ErrorData> {
    match e {
        ToolFail::Params(m) => Err(ErrorData::invalid_params(m, None)),
        ToolFail::Daemon(d) => Ok(CallToolResult::error(vec![ContentBlock::text(format!("{note}{d}"))])),
        ToolFail::Cancelled => Err(ErrorData::internal_error("cancelled", None)),
    }
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(String::from)
}

#[tool_router(vis = "pub")]
impl Server {
    /// Processes of the dev session: state, pid, uptime, run, restarts, exit code, open errors and warnings, the current run's URLs, readiness.
    #[tool(annotations(read_only_hint = true), output_schema = schema_for_output::<ProcessesOut>())]
    async fn list_processes(&self) -> Result<CallToolResult, ErrorData> {
        match self.ps().await {
            Ok(rows) => {
                let mut text = self.daemon.started_note().to_string();
                for r in &rows {
                    text.push_str(&format!(
                        "{}: {} pid={} run={} restarts={} exit={} errors={} urls={}{}\n",
                        r.name,
                        r.state,
                        r.pid.map_or("-".into(), |p| p.to_string()),
                        r.run,
                        r.restarts,
                        r.exit_code.map_or("-".into(), |c| c.to_string()),
                        r.errors,
                        r.urls.join(" "),
                        r.ready.as_deref().map(|x| format!(" ready={x}")).unwrap_or_default()
                    ));
                }
                reply(text, &ProcessesOut { processes: rows })
            }
            Err(e) => failed(self.daemon.started_note(), e.into()),
        }
    }

    /// What brum can run in this project (brum.toml processes or package.json scripts), with command lines.
    #[tool(annotations(read_only_hint = true), output_schema = schema_for_output::<ScriptsOut>())]
    async fn list_scripts(&self) -> Result<CallToolResult, ErrorData> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
        let cfg = match brum::config::discover(&cwd, self.daemon.config.as_deref()) {
            Ok(c) => c,
            Err(e) => return failed("", ToolFail::Daemon(DaemonError::Refused(e.to_string()))),
        };
        let autostart = cfg.select(&[]).unwrap_or_default();
        let scripts: Vec<Script> = cfg
            .processes
            .iter()
            .enumerate()
            .map(|(i, p)| Script {
                name: p.name.clone(),
                command: p.display.clone(),
                script: cfg.scripts.get(i).cloned().flatten(),
                autostart: autostart.contains(&i),
            })
            .collect();
        let text = scripts.iter().map(|s| format!("{}: {}\n", s.name, s.command)).collect();
        reply(text, &ScriptsOut { scripts })
    }

    /// Start a process. The result says what happened; on failure it includes the last lines of output.
    #[tool(output_schema = schema_for_output::<LifecycleOut>())]
    async fn start_process(&self, Parameters(a): Parameters<NameArgs>) -> Result<CallToolResult, ErrorData> {
        self.lifecycle("start", a.name).await
    }

    /// Stop a process gracefully (stop signal to its process group, SIGKILL after its stop timeout).
    #[tool(output_schema = schema_for_output::<LifecycleOut>())]
    async fn stop_process(&self, Parameters(a): Parameters<NameArgs>) -> Result<CallToolResult, ErrorData> {
        self.lifecycle("stop", a.name).await
    }

    /// Restart a process (stop, then start again as a new run).
    #[tool(output_schema = schema_for_output::<LifecycleOut>())]
    async fn restart_process(&self, Parameters(a): Parameters<NameArgs>) -> Result<CallToolResult, ErrorData> {
        self.lifecycle("restart", a.name).await
    }

    /// Apply an edited brum.toml: processes whose definition changed restart, new ones start, removed ones stop, plugins whose [plugin.NAME] settings changed get them at once. What only a new start of brum applies (plugin files, [proxy], ...) is listed in restart_needed. A file with mistakes changes nothing: the error lists them.
    #[tool(output_schema = schema_for_output::<ReloadOut>())]
    async fn reload_config(&self) -> Result<CallToolResult, ErrorData> {
        let v = match self.daemon.call(json!({"cmd": "reload"})).await {
            Ok(v) => v,
            Err(e) => return failed(self.daemon.started_note(), e.into()),
        };
        let list = |k: &str| -> Vec<String> {
            v[k].as_array().into_iter().flatten().filter_map(|x| x.as_str().map(String::from)).collect()
        };
        let out = ReloadOut {
            changed: list("changed"),
            added: list("added"),
            removed: list("removed"),
            unchanged: v["unchanged"].as_u64().unwrap_or(0),
            reconfigured: list("reconfigured"),
            refused: list("refused"),
            restart_needed: list("restart_needed"),
        };
        let mut text = self.daemon.started_note().to_string();
        for (what, l) in [
            ("restarted (changed)", &out.changed),
            ("added", &out.added),
            ("stopped (removed)", &out.removed),
            ("plugins given their new settings", &out.reconfigured),
            ("refused by their plugins (the old settings stay)", &out.refused),
            ("not applied until brum starts again", &out.restart_needed),
        ] {
            if !l.is_empty() {
                text.push_str(&format!("{what}: {}\n", l.join(", ")));
            }
        }
        text.push_str(&format!("{} processes as they were\n", out.unchanged));
        reply(text, &out)
    }

    /// Recent output lines of a process, oldest first.
    #[tool(annotations(read_only_hint = true), output_schema = schema_for_output::<LogsOut>())]
    async fn get_logs(&self, Parameters(a): Parameters<GetLogsArgs>) -> Result<CallToolResult, ErrorData> {
        let req = json!({"cmd": "logs", "process": a.process, "n": a.last.unwrap_or(100), "since": a.since_seq, "stream": a.stream});
        let v = match self.daemon.call(req).await {
            Ok(v) => v,
            Err(e) => return failed(self.daemon.started_note(), e.into()),
        };
        let lines: Vec<LogLine> = v["lines"].as_array().into_iter().flatten().map(LogLine::from_daemon).collect();
        let mut text = self.daemon.started_note().to_string();
        for l in &lines {
            text.push_str(&format!("[{}] {}\n", l.seq, l.text));
        }
        let more = v["more"].as_u64().unwrap_or(0);
        if more > 0 {
            text.push_str(&format!("({more} earlier lines not shown)\n"));
        }
        let out = LogsOut {
            process: a.process,
            lines,
            total: v["total"].as_u64().unwrap_or(0),
            more,
            evicted: v["evicted"].as_u64().unwrap_or(0),
        };
        reply(text, &out)
    }

    /// Search recent output of one or all processes for a substring or a regular expression.
    #[tool(annotations(read_only_hint = true), output_schema = schema_for_output::<SearchOut>())]
    async fn search_logs(&self, Parameters(a): Parameters<SearchLogsArgs>) -> Result<CallToolResult, ErrorData> {
        let regex = a.regex.unwrap_or(false);
        if regex && let Err(e) = regex::Regex::new(&a.query) {
            return failed(
                "",
                ToolFail::Params(format!("search_logs: `query` is not a valid regular expression: {e}")),
            );
        }
        let processes = match &a.process {
            Some(p) => vec![p.clone()],
            None => match self.ps().await {
                Ok(rows) => rows.into_iter().map(|r| r.name).collect(),
                Err(e) => return failed(self.daemon.started_note(), e.into()),
            },
        };
        let mut out = SearchOut { matches: Vec::new(), more: 0 };
        let mut text = self.daemon.started_note().to_string();
        for p in processes {
            let mut req = json!({"cmd": "logs", "process": p, "n": a.limit.unwrap_or(50)});
            req[if regex { "regex" } else { "grep" }] = json!(a.query);
            let v = match self.daemon.call(req).await {
                Ok(v) => v,
                Err(e) => return failed("", e.into()),
            };
            for l in v["lines"].as_array().into_iter().flatten() {
                let line = LogLine::from_daemon(l);
                text.push_str(&format!("{p} [{}] {}\n", line.seq, line.text));
                out.matches.push(Match { process: p.clone(), seq: line.seq, stream: line.stream, text: line.text });
            }
            let more = v["more"].as_u64().unwrap_or(0);
            if more > 0 {
                text.push_str(&format!("({more} more matches in {p})\n"));
            }
            out.more += more;
        }
        if out.matches.is_empty() {
            text.push_str("no matches\n");
        }
        reply(text, &out)
    }

    /// Errors and warnings open right now (not yet fixed by a clean re-check or a healthy later run): id, message, file, line, column, code, severity, process, count, first/last seq, and the raw lines. include_resolved adds the resolved ones.
    #[tool(annotations(read_only_hint = true), output_schema = schema_for_output::<ErrorsOut>())]
    async fn list_errors(&self, Parameters(a): Parameters<ListErrorsArgs>) -> Result<CallToolResult, ErrorData> {
        let req = json!({"cmd": "errors", "process": a.process, "limit": a.limit.unwrap_or(20), "all": a.include_resolved.unwrap_or(false)});
        let v = match self.daemon.call(req).await {
            Ok(v) => v,
            Err(e) => return failed(self.daemon.started_note(), e.into()),
        };
        let mut text = self.daemon.started_note().to_string();
        let mut out = ErrorsOut {
            errors: Vec::new(),
            open: v["open"].as_u64().unwrap_or(0),
            total: v["total"].as_u64().unwrap_or(0),
            more: v["more"].as_u64().unwrap_or(0),
        };
        for e in v["errors"].as_array().into_iter().flatten() {
            let p = e["process"].as_str().unwrap_or("").to_string();
            let (first, last) = (e["first_seq"].as_u64().unwrap_or(0), e["last_seq"].as_u64().unwrap_or(0));
            let raw = self
                .daemon
                .call(json!({"cmd": "logs", "process": p, "since": first.saturating_sub(1), "until": last, "n": 40}))
                .await
                .map(|l| l["lines"].as_array().into_iter().flatten().map(line_text).collect())
                .unwrap_or_default();
            let err = ErrorOut {
                id: e["id"].as_u64(),
                process: p,
                message: e["message"].as_str().unwrap_or("").to_string(),
                severity: e["severity"].as_str().unwrap_or("").to_string(),
                kind: e["kind"].as_str().unwrap_or("").to_string(),
                file: s(&e["file"]),
                line: e["line"].as_u64(),
                column: e["column"].as_u64(),
                code: s(&e["code"]),
                language: s(&e["language"]),
                first_seq: first,
                last_seq: last,
                count: e["count"].as_u64().unwrap_or(1),
                open: e["open"] != false,
                resolved: s(&e["resolved"]),
                source: s(&e["source"]),
                raw_lines: raw,
            };
            let loc = match (&err.file, err.line) {
                (Some(f), Some(l)) => format!(" at {f}:{l}{}", err.column.map(|c| format!(":{c}")).unwrap_or_default()),
                (Some(f), None) => format!(" in {f}"),
                _ => String::new(),
            };
            text.push_str(&format!(
                "[{}] {} {}{loc}: {}{}{}\n",
                err.process,
                err.severity,
                err.code.as_deref().unwrap_or(""),
                err.message,
                if err.count > 1 { format!(" (seen {} times)", err.count) } else { String::new() },
                err.resolved.as_deref().map(|r| format!(" (resolved: {r})")).unwrap_or_default()
            ));
            out.errors.push(err);
        }
        if out.errors.is_empty() {
            text.push_str("no errors found\n");
        }
        if out.more > 0 {
            text.push_str(&format!("({} older errors not shown)\n", out.more));
        }
        reply(text, &out)
    }

    /// URLs the dev servers announced in their current run.
    #[tool(annotations(read_only_hint = true), output_schema = schema_for_output::<UrlsOut>())]
    async fn list_urls(&self, Parameters(a): Parameters<ListUrlsArgs>) -> Result<CallToolResult, ErrorData> {
        let v = match self.daemon.call(json!({"cmd": "urls", "process": a.process, "limit": 100})).await {
            Ok(v) => v,
            Err(e) => return failed(self.daemon.started_note(), e.into()),
        };
        let urls: Vec<UrlOut> = v["urls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| UrlOut {
                process: u["process"].as_str().unwrap_or("").to_string(),
                url: u["url"].as_str().unwrap_or("").to_string(),
                label: s(&u["label"]),
                proxy_url: s(&u["proxy_url"]),
            })
            .collect();
        let mut text = self.daemon.started_note().to_string();
        for u in &urls {
            match &u.proxy_url {
                Some(p) => text.push_str(&format!("{}: {} (brum's proxy: {p})\n", u.process, u.url)),
                None => text.push_str(&format!("{}: {}\n", u.process, u.url)),
            }
        }
        if urls.is_empty() {
            text.push_str("no URLs announced yet\n");
        }
        reply(text, &UrlsOut { urls, more: v["more"].as_u64().unwrap_or(0) })
    }

    /// Recent requests through brum's proxies (brum run --proxy): method, path, status, duration, bytes, and what went wrong when brum answered (502) or a response was cut. Filter by process and status (404, 5xx, 400-499).
    #[tool(annotations(read_only_hint = true), output_schema = schema_for_output::<RequestsOut>())]
    async fn list_requests(&self, Parameters(a): Parameters<ListRequestsArgs>) -> Result<CallToolResult, ErrorData> {
        let req = json!({"cmd": "requests", "process": a.process, "status": a.status, "limit": a.limit.unwrap_or(50)});
        let v = match self.daemon.call(req).await {
            Ok(v) => v,
            Err(e) => return failed(self.daemon.started_note(), e.into()),
        };
        let requests: Vec<RequestOut> = v["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| RequestOut {
                seq: r["seq"].as_u64().unwrap_or(0),
                ts: r["ts"].as_str().unwrap_or("").to_string(),
                process: r["process"].as_str().unwrap_or("").to_string(),
                method: r["method"].as_str().unwrap_or("").to_string(),
                path: r["path"].as_str().unwrap_or("").to_string(),
                status: r["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(0),
                duration_ms: r["duration_ms"].as_f64().unwrap_or(0.0),
                bytes_in: r["bytes_in"].as_u64().unwrap_or(0),
                bytes_out: r["bytes_out"].as_u64().unwrap_or(0),
                upgrade: r["upgrade"] == true,
                error: s(&r["error"]),
            })
            .collect();
        let out = RequestsOut {
            total: v["total"].as_u64().unwrap_or(0),
            more: v["more"].as_u64().unwrap_or(0),
            proxy: v["proxy"] == true,
            requests,
        };
        let mut text = self.daemon.started_note().to_string();
        if !out.proxy {
            text.push_str("brum's proxy is off in this session (brum run --proxy, or [proxy] in brum.toml)\n");
        }
        for r in &out.requests {
            let err = r.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
            text.push_str(&format!(
                "[{}] {} {} {} → {} in {:.1} ms{err}\n",
                r.seq, r.process, r.method, r.path, r.status, r.duration_ms
            ));
        }
        if out.proxy && out.requests.is_empty() {
            text.push_str("no requests\n");
        }
        if out.more > 0 {
            text.push_str(&format!("({} older requests not shown)\n", out.more));
        }
        reply(text, &out)
    }

    /// Wait (instead of sleeping) until, in the current run of the process: `ready` (with `pattern`: it printed a matching line; else its readiness probe passed, or without a probe it announced a URL), `url` (a URL was announced, by `process` or any), `pattern` (a line matching `pattern` was printed, by `process` or any), or `exit` (the process ended). What already happened in the current run counts: a condition that already holds returns at once. Returns what happened, or met:false after the timeout.
    #[tool(annotations(read_only_hint = true), output_schema = schema_for_output::<WaitOut>())]
    async fn wait_for(
        &self,
        Parameters(a): Parameters<WaitForArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        match super::wait::wait_for(&self.daemon, a, &ctx, self.eof.clone()).await {
            Ok(out) => {
                let note = self.daemon.started_note();
                let text = match (&out.detail, out.met) {
                    (Some(d), _) => format!("{note}{d}"),
                    (None, _) => format!("{note}timed out after {} ms; the condition was not met", out.waited_ms),
                };
                reply(text, &out)
            }
            Err(e) => failed(self.daemon.started_note(), e),
        }
    }
}

/// The rows of a `ps` answer; one this version cannot read is an error,
/// never an empty table.
pub fn rows(ps: &Value) -> Result<Vec<ProcessRow>, DaemonError> {
    serde_json::from_value(ps["processes"].clone())
        .map_err(|e| DaemonError::Unreachable(format!("brum sent a process table brum mcp cannot read: {e}")))
}

impl Server {
    pub async fn ps(&self) -> Result<Vec<ProcessRow>, DaemonError> {
        let v = self.daemon.call(json!({"cmd": "ps"})).await?;
        rows(&v)
    }

    async fn lifecycle(&self, cmd: &str, name: String) -> Result<CallToolResult, ErrorData> {
        match self.daemon.call(json!({"cmd": cmd, "process": name})).await {
            Ok(v) => {
                let note = self.daemon.started_note();
                let (action, what) = match cmd {
                    "start" => (Action::Started, format!("{name} started (pid {})", v["pid"])),
                    "stop" => (Action::Stopping, format!("{name} is stopping (stop signal sent to its process group)")),
                    _ => (Action::Restarting, format!("{name} is restarting (a new run begins once it has stopped)")),
                };
                let pid = v["pid"].as_u64().and_then(|p| u32::try_from(p).ok());
                reply(format!("{note}{what}"), &LifecycleOut { process: name, action, pid })
            }
            Err(DaemonError::Refused(m)) => {
                let last = self.daemon.call(json!({"cmd": "logs", "process": name, "n": 20})).await.ok();
                let tail: Vec<String> =
                    last.iter().flat_map(|v| v["lines"].as_array().into_iter().flatten().map(line_text)).collect();
                let extra = if tail.is_empty() {
                    String::new()
                } else {
                    format!("\nlast lines of {name}:\n{}", tail.join("\n"))
                };
                failed(self.daemon.started_note(), ToolFail::Daemon(DaemonError::Refused(format!("{m}{extra}"))))
            }
            Err(e) => failed(self.daemon.started_note(), e.into()),
        }
    }
}
