//! `brum mcp`: a Model Context Protocol server on stdio (JSON-RPC 2.0, one
//! message per line) that lets AI coding agents drive and read the session
//! through the control socket of the brum running in the project (starting
//! one with `brum up` when none runs).
//!
//! One thread, one `poll(2)` over stdin and a `tail` connection to the
//! daemon: requests are answered in order, `wait_for` calls wait without
//! blocking anything (their deadlines set the poll timeout), and new errors
//! become `notifications/resources/updated` for subscribed clients.
//! Tools and schemas: docs/mcp.md.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use brum::control::client::{self, ClientError};

/// Protocol revisions this server speaks, newest first.
const PROTOCOL_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;

/// Longest `wait_for` timeout.
const MAX_WAIT_MS: u64 = 300_000;

struct Wait {
    id: Value,
    cond: Cond,
    deadline: Instant,
    started: Instant,
}

enum Cond {
    Url {
        process: Option<String>,
    },
    Pattern {
        process: Option<String>,
        matcher: Matcher,
    },
    Exit {
        process: String,
    },
    Ready {
        process: String,
        matcher: Option<Matcher>,
    },
    /// `ready` for a process with a readiness probe: the probe decides.
    Probe {
        process: String,
    },
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

pub struct Server {
    socket: PathBuf,
    config: Option<PathBuf>,
    out: std::io::Stdout,
    tail: Option<(UnixStream, Vec<u8>)>,
    waits: Vec<Wait>,
    subscribed_errors: bool,
    started_daemon: bool,
    initialized: bool,
}

fn tool_schemas() -> Value {
    let name = json!({"type": "string", "description": "the process name (see list_processes)"});
    json!([
        {
            "name": "list_processes",
            "description": "Processes of the dev session: state, pid, uptime, restarts, exit code, error count, URLs.",
            "inputSchema": {"type": "object", "properties": {}, "additionalProperties": false}
        },
        {
            "name": "list_scripts",
            "description": "What brum can run in this project (brum.toml processes or package.json scripts), with command lines.",
            "inputSchema": {"type": "object", "properties": {}, "additionalProperties": false}
        },
        {
            "name": "start_process",
            "description": "Start a process. The result says what happened; on failure it includes the last lines of output.",
            "inputSchema": {"type": "object", "properties": {"name": name}, "required": ["name"], "additionalProperties": false}
        },
        {
            "name": "stop_process",
            "description": "Stop a process gracefully (stop signal to its process group, SIGKILL after its stop timeout).",
            "inputSchema": {"type": "object", "properties": {"name": name}, "required": ["name"], "additionalProperties": false}
        },
        {
            "name": "restart_process",
            "description": "Restart a process (stop, then start again).",
            "inputSchema": {"type": "object", "properties": {"name": name}, "required": ["name"], "additionalProperties": false}
        },
        {
            "name": "get_logs",
            "description": "Recent output lines of a process, oldest first.",
            "inputSchema": {"type": "object", "properties": {
                "process": name,
                "last": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "how many of the newest lines (default 100)"},
                "since_seq": {"type": "integer", "minimum": 0, "description": "only lines after this seq"},
                "stream": {"type": "string", "enum": ["stdout", "stderr"]}
            }, "required": ["process"], "additionalProperties": false}
        },
        {
            "name": "search_logs",
            "description": "Search recent output of one or all processes for a substring or a regular expression.",
            "inputSchema": {"type": "object", "properties": {
                "query": {"type": "string", "minLength": 1},
                "regex": {"type": "boolean", "description": "treat query as a regular expression (default false)"},
                "process": name,
                "limit": {"type": "integer", "minimum": 1, "maximum": 500, "description": "at most this many matches per process (default 50)"}
            }, "required": ["query"], "additionalProperties": false}
        },
        {
            "name": "list_errors",
            "description": "Errors and warnings open right now (not yet fixed by a clean re-check or a healthy later run): id, message, file, line, column, code, severity, process, count, first/last seq, and the raw lines. include_resolved adds the fixed ones.",
            "inputSchema": {"type": "object", "properties": {
                "process": name,
                "limit": {"type": "integer", "minimum": 1, "maximum": 200, "description": "the newest N (default 20)"},
                "include_resolved": {"type": "boolean", "description": "also the errors already resolved (default false)"}
            }, "additionalProperties": false}
        },
        {
            "name": "list_urls",
            "description": "URLs the dev servers announced.",
            "inputSchema": {"type": "object", "properties": {"process": name}, "additionalProperties": false}
        },
        {
            "name": "wait_for",
            "description": "Wait (instead of sleeping) until: `ready` (the process announced a URL, or printed `pattern` when given), `url` (any URL, or of `process`), `pattern` (a line matching `pattern`), or `exit` (the process ended). Returns what happened, or a timeout.",
            "inputSchema": {"type": "object", "properties": {
                "condition": {"type": "string", "enum": ["ready", "url", "pattern", "exit"]},
                "process": name,
                "pattern": {"type": "string", "minLength": 1},
                "regex": {"type": "boolean"},
                "timeout_ms": {"type": "integer", "minimum": 1, "maximum": MAX_WAIT_MS, "description": "default 30000"}
            }, "required": ["condition"], "additionalProperties": false}
        }
    ])
}

/// A tool call's failure: a protocol error (bad arguments) or a tool error
/// (reported as a result with `isError`).
enum ToolErr {
    Params(String),
    Tool(String),
}

impl From<ClientError> for ToolErr {
    fn from(e: ClientError) -> Self {
        ToolErr::Tool(e.to_string())
    }
}

fn text_result(text: String, structured: Value) -> Value {
    json!({"content": [{"type": "text", "text": text}], "structuredContent": structured, "isError": false})
}

fn arg_str<'a>(args: &'a Value, key: &str) -> Result<Option<&'a str>, ToolErr> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ToolErr::Params(format!("`{key}` must be a string"))),
    }
}

fn arg_u64(args: &Value, key: &str, max: u64) -> Result<Option<u64>, ToolErr> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n <= max => Ok(Some(n)),
            _ => Err(ToolErr::Params(format!("`{key}` must be an integer from 0 to {max}"))),
        },
    }
}

fn arg_bool(args: &Value, key: &str) -> Result<bool, ToolErr> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ToolErr::Params(format!("`{key}` must be true or false"))),
    }
}

fn only_keys(args: &Value, allowed: &[&str]) -> Result<(), ToolErr> {
    match args {
        Value::Null => Ok(()),
        Value::Object(m) => match m.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(ToolErr::Params(format!("unknown argument `{k}` (allowed: {})", allowed.join(", ")))),
            None => Ok(()),
        },
        _ => Err(ToolErr::Params("arguments must be an object".into())),
    }
}

fn required<'a>(args: &'a Value, key: &str) -> Result<&'a str, ToolErr> {
    arg_str(args, key)?.ok_or_else(|| ToolErr::Params(format!("missing required argument `{key}`")))
}

impl Server {
    pub fn new(socket: PathBuf, config: Option<PathBuf>) -> Server {
        Server {
            socket,
            config,
            out: std::io::stdout(),
            tail: None,
            waits: Vec::new(),
            subscribed_errors: false,
            started_daemon: false,
            initialized: false,
        }
    }

    fn send(&mut self, msg: &Value) {
        let mut line = msg.to_string();
        line.push('\n');
        let _ = self.out.write_all(line.as_bytes());
        let _ = self.out.flush();
    }

    fn respond(&mut self, id: &Value, result: Value) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
    }

    fn error(&mut self, id: &Value, code: i64, message: &str) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}));
    }

    /// A request to the daemon, starting one with `brum up` if none runs.
    fn call(&mut self, req: Value) -> Result<Value, ToolErr> {
        match client::call(&self.socket, &req) {
            Err(ClientError::NotRunning(_)) if !self.started_daemon => {
                self.start_daemon()?;
                if self.subscribed_errors {
                    self.ensure_tail(None);
                }
                Ok(client::call(&self.socket, &req)?)
            }
            other => Ok(other?),
        }
    }

    fn start_daemon(&mut self) -> Result<(), ToolErr> {
        let exe = std::env::current_exe().map_err(|e| ToolErr::Tool(format!("cannot find brum: {e}")))?;
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("up").arg("--socket").arg(&self.socket);
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        let out = cmd.stdin(std::process::Stdio::null()).output().map_err(|e| ToolErr::Tool(e.to_string()))?;
        if !out.status.success() {
            return Err(ToolErr::Tool(format!(
                "no brum was running here and `brum up` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        self.started_daemon = true;
        self.tail = None;
        Ok(())
    }

    /// The note added to results after brum was started for the client.
    fn started_note(&mut self) -> String {
        if std::mem::take(&mut self.started_daemon) {
            "(no brum was running here: started one in the background with `brum up`)\n".into()
        } else {
            String::new()
        }
    }

    /// Opens the event feed, from just after `since` when given (so nothing
    /// between a state check and the feed is missed).
    fn ensure_tail(&mut self, since: Option<u64>) {
        if self.tail.is_some() {
            return;
        }
        let Ok(s) = UnixStream::connect(&self.socket) else { return };
        let req = json!({"cmd": "tail", "since": since, "types": ["log.line", "url.detected", "error.detected", "process.exited", "process.started", "process.ready", "process.unready"]});
        if (&s).write_all(format!("{req}\n").as_bytes()).is_ok() && s.set_nonblocking(true).is_ok() {
            self.tail = Some((s, Vec::new()));
        }
    }

    pub fn run(&mut self) -> ExitCode {
        let mut inbuf: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        let stdin = std::io::stdin();
        let mut stdin_open = true;
        loop {
            if !stdin_open && self.waits.is_empty() {
                return ExitCode::SUCCESS;
            }
            let timeout = self
                .waits
                .iter()
                .map(|w| w.deadline.saturating_duration_since(Instant::now()).as_millis() as i32 + 1)
                .min()
                .unwrap_or(-1);
            let mut fds = vec![libc::pollfd { fd: if stdin_open { 0 } else { -1 }, events: libc::POLLIN, revents: 0 }];
            if let Some((s, _)) = &self.tail {
                fds.push(libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLIN, revents: 0 });
            }
            // SAFETY: a valid array of pollfds.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return ExitCode::from(1);
            }
            if fds.len() > 1 && fds[1].revents != 0 {
                self.read_tail();
            }
            if stdin_open && fds[0].revents != 0 {
                match stdin.lock().read(&mut chunk) {
                    Ok(0) | Err(_) => stdin_open = false,
                    Ok(k) => {
                        inbuf.extend_from_slice(&chunk[..k]);
                        while let Some(nl) = memchr::memchr(b'\n', &inbuf) {
                            let line: Vec<u8> = inbuf.drain(..=nl).collect();
                            if !line.iter().all(u8::is_ascii_whitespace) {
                                self.handle(&line);
                            }
                        }
                        if inbuf.len() > 16 << 20 {
                            let id = Value::Null;
                            self.error(&id, INVALID_REQUEST, "message too large");
                            inbuf.clear();
                        }
                    }
                }
            }
            self.expire_waits();
        }
    }

    fn handle(&mut self, line: &[u8]) {
        let msg: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => return self.error(&Value::Null, PARSE_ERROR, &format!("parse error: {e}")),
        };
        if let Value::Array(batch) = &msg {
            // JSON-RPC batches are not part of current MCP revisions
            let _ = batch;
            return self.error(&Value::Null, INVALID_REQUEST, "batches are not supported");
        }
        let id = msg.get("id").cloned();
        let method = msg.get("method").and_then(Value::as_str);
        if msg.get("jsonrpc") != Some(&json!("2.0")) || method.is_none() {
            if id.is_some() && (msg.get("result").is_some() || msg.get("error").is_some()) {
                return; // a response to us: we send no requests, ignore
            }
            return self.error(&id.unwrap_or(Value::Null), INVALID_REQUEST, "not a JSON-RPC 2.0 request");
        }
        let method = method.unwrap_or("").to_string();
        let params = msg.get("params").cloned().unwrap_or(Value::Null);
        let Some(id) = id else {
            // notifications: initialized, cancelled, ... need no answer
            if method == "notifications/initialized" {
                self.initialized = true;
            }
            return;
        };
        match method.as_str() {
            "initialize" => {
                let asked = params.get("protocolVersion").and_then(Value::as_str).unwrap_or("");
                let version = PROTOCOL_VERSIONS.iter().find(|v| **v == asked).copied().unwrap_or(PROTOCOL_VERSIONS[0]);
                self.respond(
                    &id,
                    json!({
                        "protocolVersion": version,
                        "capabilities": {
                            "tools": {"listChanged": false},
                            "resources": {"subscribe": true, "listChanged": false}
                        },
                        "serverInfo": {"name": "brum", "title": "brum dev session", "version": env!("CARGO_PKG_VERSION")},
                        "instructions": "brum runs this project's dev processes. Use list_processes and list_errors to see state, get_logs/search_logs to read output, start/stop/restart_process to act, and wait_for instead of sleeping."
                    }),
                );
            }
            "ping" => self.respond(&id, json!({})),
            "tools/list" => self.respond(&id, json!({"tools": tool_schemas()})),
            "tools/call" => self.tools_call(&id, &params),
            "resources/list" => self.resources_list(&id),
            "resources/read" => self.resources_read(&id, &params),
            "resources/templates/list" => self.respond(
                &id,
                json!({"resourceTemplates": [{"uriTemplate": "brum://logs/{process}", "name": "process log", "description": "recent output of a process", "mimeType": "text/plain"}]}),
            ),
            "resources/subscribe" | "resources/unsubscribe" => {
                let uri = params.get("uri").and_then(Value::as_str).unwrap_or("");
                if uri != "brum://errors" && !uri.starts_with("brum://logs/") {
                    return self.error(&id, INVALID_PARAMS, &format!("unknown resource {uri:?}"));
                }
                if uri == "brum://errors" {
                    self.subscribed_errors = method == "resources/subscribe";
                    if self.subscribed_errors {
                        let seq = client::call(&self.socket, &json!({"cmd": "hello"})).ok().and_then(|h| h["seq"].as_u64());
                        self.ensure_tail(seq);
                    }
                }
                self.respond(&id, json!({}));
            }
            other => self.error(&id, METHOD_NOT_FOUND, &format!("method not found: {other}")),
        }
    }

    fn tools_call(&mut self, id: &Value, params: &Value) {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return self.error(id, INVALID_PARAMS, "tools/call needs a tool `name`");
        };
        let args = params.get("arguments").cloned().unwrap_or(json!({}));
        let result = match name {
            "list_processes" => only_keys(&args, &[]).and_then(|_| self.list_processes()),
            "list_scripts" => only_keys(&args, &[]).and_then(|_| self.list_scripts()),
            "start_process" | "stop_process" | "restart_process" => {
                only_keys(&args, &["name"]).and_then(|_| self.lifecycle(name, &args))
            }
            "get_logs" => {
                only_keys(&args, &["process", "last", "since_seq", "stream"]).and_then(|_| self.get_logs(&args))
            }
            "search_logs" => {
                only_keys(&args, &["query", "regex", "process", "limit"]).and_then(|_| self.search_logs(&args))
            }
            "list_errors" => {
                only_keys(&args, &["process", "limit", "include_resolved"]).and_then(|_| self.list_errors(&args))
            }
            "list_urls" => only_keys(&args, &["process"]).and_then(|_| self.list_urls(&args)),
            "wait_for" => {
                match only_keys(&args, &["condition", "process", "pattern", "regex", "timeout_ms"])
                    .and_then(|_| self.wait_for(id, &args))
                {
                    Ok(None) => return, // answered later
                    Ok(Some(v)) => Ok(v),
                    Err(e) => Err(e),
                }
            }
            other => return self.error(id, INVALID_PARAMS, &format!("unknown tool: {other}")),
        };
        match result {
            Ok(v) => self.respond(id, v),
            Err(ToolErr::Params(m)) => self.error(id, INVALID_PARAMS, &format!("{name}: {m}")),
            Err(ToolErr::Tool(m)) => {
                let note = self.started_note();
                self.respond(id, json!({"content": [{"type": "text", "text": format!("{note}{m}")}], "isError": true}))
            }
        }
    }

    fn list_processes(&mut self) -> Result<Value, ToolErr> {
        let v = self.call(json!({"cmd": "ps"}))?;
        let rows = v["processes"].as_array().cloned().unwrap_or_default();
        let mut text = self.started_note();
        for r in &rows {
            text.push_str(&format!(
                "{}: {} pid={} restarts={} exit={} errors={} urls={}\n",
                r["name"].as_str().unwrap_or(""),
                r["state"].as_str().unwrap_or(""),
                r["pid"],
                r["restarts"],
                r["exit_code"],
                r["errors"],
                r["urls"]
            ));
        }
        Ok(text_result(text, json!({"processes": rows})))
    }

    fn list_scripts(&mut self) -> Result<Value, ToolErr> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let cfg = brum::config::discover(&cwd, self.config.as_deref()).map_err(|e| ToolErr::Tool(e.to_string()))?;
        let autostart = cfg.select(&[]).unwrap_or_default();
        let scripts: Vec<Value> = cfg
            .processes
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({"name": p.name, "command": p.display, "script": cfg.scripts[i], "autostart": autostart.contains(&i)})
            })
            .collect();
        let text = scripts
            .iter()
            .map(|s| format!("{}: {}\n", s["name"].as_str().unwrap_or(""), s["command"].as_str().unwrap_or("")))
            .collect();
        Ok(text_result(text, json!({"scripts": scripts})))
    }

    fn last_lines(&mut self, process: &str, n: usize) -> String {
        match self.call(json!({"cmd": "logs", "process": process, "n": n})) {
            Ok(v) => v["lines"]
                .as_array()
                .map(|a| a.iter().filter_map(|l| l["text"].as_str()).collect::<Vec<_>>().join("\n"))
                .unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    fn lifecycle(&mut self, tool: &str, args: &Value) -> Result<Value, ToolErr> {
        let name = required(args, "name")?.to_string();
        let cmd = tool.trim_end_matches("_process");
        match self.call(json!({"cmd": cmd, "process": name})) {
            Ok(v) => {
                let note = self.started_note();
                let what = match cmd {
                    "start" => format!("{name} started (pid {})", v["pid"]),
                    "stop" => format!("{name} is stopping (stop signal sent to its process group)"),
                    _ => format!("{name} is restarting"),
                };
                Ok(text_result(format!("{note}{what}"), v))
            }
            Err(ToolErr::Tool(m)) => {
                let tail = self.last_lines(&name, 20);
                let extra = if tail.is_empty() { String::new() } else { format!("\nlast lines of {name}:\n{tail}") };
                Err(ToolErr::Tool(format!("{m}{extra}")))
            }
            Err(e) => Err(e),
        }
    }

    fn get_logs(&mut self, args: &Value) -> Result<Value, ToolErr> {
        let process = required(args, "process")?.to_string();
        let last = arg_u64(args, "last", 1000)?.unwrap_or(100);
        let since = arg_u64(args, "since_seq", u64::MAX)?;
        let stream = arg_str(args, "stream")?.map(str::to_string);
        if let Some(s) = &stream
            && s != "stdout"
            && s != "stderr"
        {
            return Err(ToolErr::Params("`stream` must be stdout or stderr".into()));
        }
        let v = self.call(json!({"cmd": "logs", "process": process, "n": last, "since": since, "stream": stream}))?;
        let mut text = self.started_note();
        for l in v["lines"].as_array().cloned().unwrap_or_default() {
            text.push_str(&format!("[{}] {}\n", l["seq"], l["text"].as_str().unwrap_or("<binary>")));
        }
        if v["more"].as_u64().unwrap_or(0) > 0 {
            text.push_str(&format!("({} earlier lines not shown)\n", v["more"]));
        }
        Ok(text_result(text, v))
    }

    fn search_logs(&mut self, args: &Value) -> Result<Value, ToolErr> {
        let query = required(args, "query")?.to_string();
        let regex = arg_bool(args, "regex")?;
        let limit = arg_u64(args, "limit", 500)?.unwrap_or(50);
        if regex && let Err(e) = regex::Regex::new(&query) {
            return Err(ToolErr::Params(format!("`query` is not a valid regular expression: {e}")));
        }
        let processes: Vec<String> = match arg_str(args, "process")? {
            Some(p) => vec![p.to_string()],
            None => {
                let ps = self.call(json!({"cmd": "ps"}))?;
                ps["processes"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|r| r["name"].as_str().map(String::from)).collect())
                    .unwrap_or_default()
            }
        };
        let mut matches = Vec::new();
        let mut text = self.started_note();
        for p in processes {
            let mut req = json!({"cmd": "logs", "process": p, "n": limit});
            req[if regex { "regex" } else { "grep" }] = json!(query);
            let v = self.call(req)?;
            for l in v["lines"].as_array().cloned().unwrap_or_default() {
                text.push_str(&format!("{p} [{}] {}\n", l["seq"], l["text"].as_str().unwrap_or("<binary>")));
                matches.push(json!({"process": p, "seq": l["seq"], "stream": l["stream"], "text": l["text"]}));
            }
            if v["more"].as_u64().unwrap_or(0) > 0 {
                text.push_str(&format!("({} more matches in {p})\n", v["more"]));
            }
        }
        if matches.is_empty() {
            text.push_str("no matches\n");
        }
        Ok(text_result(text, json!({"matches": matches})))
    }

    fn list_errors(&mut self, args: &Value) -> Result<Value, ToolErr> {
        let limit = arg_u64(args, "limit", 200)?.unwrap_or(20);
        let process = arg_str(args, "process")?.map(str::to_string);
        let all = match args.get("include_resolved") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ToolErr::Params("include_resolved: expected true or false".into())),
        };
        let v = self.call(json!({"cmd": "errors", "process": process, "limit": limit, "all": all}))?;
        let mut errors = Vec::new();
        let mut text = self.started_note();
        for e in v["errors"].as_array().cloned().unwrap_or_default() {
            let p = e["process"].as_str().unwrap_or("").to_string();
            let (first, last) = (e["first_seq"].as_u64().unwrap_or(0), e["last_seq"].as_u64().unwrap_or(0));
            let raw = self
                .call(json!({"cmd": "logs", "process": p, "since": first.saturating_sub(1), "until": last, "n": 40}))
                .map(|l| {
                    l["lines"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|x| x["text"].as_str().map(String::from)).collect::<Vec<_>>())
                        .unwrap_or_default()
                })
                .unwrap_or_default();
            let loc = match (e["file"].as_str(), e["line"].as_u64()) {
                (Some(f), Some(l)) => {
                    format!(" at {f}:{l}{}", e["column"].as_u64().map(|c| format!(":{c}")).unwrap_or_default())
                }
                (Some(f), None) => format!(" in {f}"),
                _ => String::new(),
            };
            text.push_str(&format!(
                "[{}] {} {}{loc}: {}{}\n",
                p,
                e["severity"].as_str().unwrap_or(""),
                e["code"].as_str().unwrap_or(""),
                e["message"].as_str().unwrap_or(""),
                match e["count"].as_u64() {
                    Some(n) if n > 1 => format!(" (seen {n} times)"),
                    _ => String::new(),
                }
            ));
            errors.push(json!({
                "process": p, "message": e["message"], "severity": e["severity"], "kind": e["kind"],
                "file": e["file"], "line": e["line"], "column": e["column"], "code": e["code"], "language": e["language"],
                "first_seq": first, "last_seq": last, "count": e["count"], "raw_lines": raw,
            }));
        }
        if errors.is_empty() {
            text.push_str("no errors found\n");
        }
        if v["more"].as_u64().unwrap_or(0) > 0 {
            text.push_str(&format!("({} older errors not shown)\n", v["more"]));
        }
        Ok(text_result(text, json!({"errors": errors, "total": v["total"], "more": v["more"]})))
    }

    fn list_urls(&mut self, args: &Value) -> Result<Value, ToolErr> {
        let process = arg_str(args, "process")?.map(str::to_string);
        let v = self.call(json!({"cmd": "urls", "process": process, "limit": 100}))?;
        let urls: Vec<Value> = v["urls"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|u| json!({"process": u["process"], "url": u["url"], "label": u["label"]}))
            .collect();
        let mut text = self.started_note();
        for u in &urls {
            text.push_str(&format!("{}: {}\n", u["process"].as_str().unwrap_or(""), u["url"].as_str().unwrap_or("")));
        }
        if urls.is_empty() {
            text.push_str("no URLs announced yet\n");
        }
        Ok(text_result(text, json!({"urls": urls, "more": v["more"]})))
    }

    fn wait_for(&mut self, id: &Value, args: &Value) -> Result<Option<Value>, ToolErr> {
        let condition = required(args, "condition")?.to_string();
        let process = arg_str(args, "process")?.map(str::to_string);
        let timeout = arg_u64(args, "timeout_ms", MAX_WAIT_MS)?.unwrap_or(30_000).max(1);
        let regex = arg_bool(args, "regex")?;
        let matcher = match arg_str(args, "pattern")? {
            Some(p) if regex => Some(Matcher::Regex(
                regex::Regex::new(p).map_err(|e| ToolErr::Params(format!("`pattern` is not a valid regex: {e}")))?,
            )),
            Some(p) => Some(Matcher::Text(p.to_string())),
            None => None,
        };
        let need_process = || process.clone().ok_or_else(|| ToolErr::Params(format!("`{condition}` needs `process`")));
        let cond = match condition.as_str() {
            "url" => Cond::Url { process: process.clone() },
            "pattern" => Cond::Pattern {
                process: process.clone(),
                matcher: matcher.ok_or_else(|| ToolErr::Params("`pattern` condition needs `pattern`".into()))?,
            },
            "exit" => Cond::Exit { process: need_process()? },
            "ready" => Cond::Ready { process: need_process()?, matcher },
            other => return Err(ToolErr::Params(format!("unknown condition {other:?} (ready, url, pattern, exit)"))),
        };
        // make sure the daemon runs and the event feed is open, then check
        // what already happened
        let seq = self.call(json!({"cmd": "hello"}))?["seq"].as_u64();
        let ps = self.call(json!({"cmd": "ps"}))?;
        self.ensure_tail(seq);
        let rows = ps["processes"].as_array().cloned().unwrap_or_default();
        if let Some(p) = &process
            && !rows.iter().any(|r| r["name"] == p.as_str())
        {
            return Err(ToolErr::Tool(format!("unknown process \"{p}\"")));
        }
        let row = |p: &str| rows.iter().find(|r| r["name"] == p).cloned().unwrap_or(Value::Null);
        // a process with a readiness probe is ready when the probe passed
        let cond = match cond {
            Cond::Ready { process, matcher: None } if row(&process)["ready"].is_string() => Cond::Probe { process },
            other => other,
        };
        let already = match &cond {
            Cond::Probe { process } => (row(process)["ready"] == "ready")
                .then(|| format!("{process} is ready (its probe passed after {} ms)", row(process)["ready_ms"])),
            Cond::Url { process: Some(p) } | Cond::Ready { process: p, matcher: None } => row(p)["urls"]
                .as_array()
                .and_then(|a| a.first().cloned())
                .map(|u| format!("{p} announced {}", u.as_str().unwrap_or(""))),
            Cond::Url { process: None } => rows.iter().find_map(|r| {
                let u = r["urls"].as_array().and_then(|a| a.first().cloned())?;
                Some(format!("{} announced {}", r["name"].as_str().unwrap_or(""), u.as_str().unwrap_or("")))
            }),
            Cond::Exit { process } => {
                let r = row(process);
                matches!(r["state"].as_str(), Some("success" | "failed" | "stopped")).then(|| {
                    format!("{process} has ended: {} (exit code {})", r["state"].as_str().unwrap_or(""), r["exit_code"])
                })
            }
            _ => None,
        };
        let note = self.started_note();
        if let Some(what) = already {
            return Ok(Some(text_result(
                format!("{note}{what}"),
                json!({"met": true, "detail": what, "waited_ms": 0}),
            )));
        }
        if self.tail.is_none() {
            return Err(ToolErr::Tool("cannot follow brum's events".into()));
        }
        let now = Instant::now();
        self.waits.push(Wait { id: id.clone(), cond, deadline: now + Duration::from_millis(timeout), started: now });
        Ok(None)
    }

    fn read_tail(&mut self) {
        let mut events = VecDeque::new();
        let mut closed = false;
        if let Some((s, buf)) = self.tail.as_mut() {
            let mut chunk = [0u8; 64 * 1024];
            loop {
                match s.read(&mut chunk) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            while let Some(nl) = memchr::memchr(b'\n', buf) {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                    events.push_back(v);
                }
            }
        }
        if closed {
            self.tail = None;
        }
        for ev in events {
            self.on_event(&ev);
        }
    }

    fn on_event(&mut self, ev: &Value) {
        let ty = ev["type"].as_str().unwrap_or("");
        let proc_name = ev["process"].as_str();
        if ty == "error.detected" && self.subscribed_errors {
            self.send(&json!({"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": "brum://errors"}}));
        }
        let mut met = Vec::new();
        for (i, w) in self.waits.iter().enumerate() {
            let same = |p: &Option<String>| p.as_deref().is_none_or(|p| Some(p) == proc_name);
            let detail = match &w.cond {
                Cond::Url { process } if ty == "url.detected" && same(process) => {
                    Some(format!("{} announced {}", proc_name.unwrap_or(""), ev["url"].as_str().unwrap_or("")))
                }
                Cond::Probe { process } if ty == "process.ready" && proc_name == Some(process) => Some(format!(
                    "{process} is ready: its {} probe passed after {} ms",
                    ev["probe"].as_str().unwrap_or(""),
                    ev["after_ms"]
                )),
                Cond::Ready { process, matcher: None } if ty == "url.detected" && proc_name == Some(process) => {
                    Some(format!("{process} is ready: {}", ev["url"].as_str().unwrap_or("")))
                }
                Cond::Ready { process, matcher: Some(m) }
                    if ty == "log.line"
                        && proc_name == Some(process)
                        && m.is_match(ev["text"].as_str().unwrap_or("")) =>
                {
                    Some(format!("{process} is ready: {}", ev["text"].as_str().unwrap_or("")))
                }
                Cond::Pattern { process, matcher }
                    if ty == "log.line" && same(process) && matcher.is_match(ev["text"].as_str().unwrap_or("")) =>
                {
                    Some(format!("{} printed: {}", proc_name.unwrap_or(""), ev["text"].as_str().unwrap_or("")))
                }
                Cond::Exit { process } if ty == "process.exited" && proc_name == Some(process) => Some(format!(
                    "{process} exited: {} (exit code {}, signal {})",
                    ev["state"].as_str().unwrap_or(""),
                    ev["code"],
                    ev["signal"]
                )),
                _ => None,
            };
            if let Some(d) = detail {
                met.push((i, d, ev["seq"].clone()));
            }
        }
        for (i, d, seq) in met.into_iter().rev() {
            let w = self.waits.remove(i);
            let waited = w.started.elapsed().as_millis() as u64;
            self.respond(
                &w.id,
                text_result(d.clone(), json!({"met": true, "detail": d, "seq": seq, "waited_ms": waited})),
            );
        }
    }

    fn expire_waits(&mut self) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.waits.len() {
            if self.waits[i].deadline <= now {
                let w = self.waits.remove(i);
                let waited = w.started.elapsed().as_millis() as u64;
                self.respond(
                    &w.id,
                    json!({"content": [{"type": "text", "text": format!("timed out after {waited} ms; the condition was not met")}],
                           "structuredContent": {"met": false, "waited_ms": waited}, "isError": false}),
                );
            } else {
                i += 1;
            }
        }
    }

    fn resources_list(&mut self, id: &Value) {
        let mut resources = vec![json!({
            "uri": "brum://errors", "name": "errors", "title": "Errors found in the dev session",
            "description": "errors and warnings the detectors found (JSON)", "mimeType": "application/json"
        })];
        if let Ok(ps) = client::call(&self.socket, &json!({"cmd": "ps"})) {
            for r in ps["processes"].as_array().cloned().unwrap_or_default() {
                let n = r["name"].as_str().unwrap_or("");
                resources.push(json!({
                    "uri": format!("brum://logs/{n}"), "name": format!("logs/{n}"), "title": format!("Recent output of {n}"),
                    "mimeType": "text/plain"
                }));
            }
        }
        self.respond(id, json!({"resources": resources}));
    }

    fn resources_read(&mut self, id: &Value, params: &Value) {
        let uri = params.get("uri").and_then(Value::as_str).unwrap_or("").to_string();
        let content = if uri == "brum://errors" {
            client::call(&self.socket, &json!({"cmd": "errors", "limit": 200}))
                .map(|v| json!({"uri": uri, "mimeType": "application/json", "text": v["errors"].to_string()}))
        } else if let Some(p) = uri.strip_prefix("brum://logs/") {
            client::call(&self.socket, &json!({"cmd": "logs", "process": p, "n": 200})).map(|v| {
                let text: Vec<&str> = v["lines"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|l| l["text"].as_str()).collect())
                    .unwrap_or_default();
                json!({"uri": uri, "mimeType": "text/plain", "text": text.join("\n")})
            })
        } else {
            return self.error(id, INVALID_PARAMS, &format!("unknown resource {uri:?}"));
        };
        match content {
            Ok(c) => self.respond(id, json!({"contents": [c]})),
            Err(e) => self.error(id, INTERNAL_ERROR, &e.to_string()),
        }
    }
}

/// The JSON to register `brum mcp` with a client.
pub fn print_config(client: &str) -> Result<String, String> {
    let server = json!({"command": "brum", "args": ["mcp"]});
    let (path, body) = match client {
        "claude-code" | "claude" => {
            ("`claude mcp add brum -- brum mcp`, or .mcp.json in the project", json!({"mcpServers": {"brum": server}}))
        }
        "cursor" => (".cursor/mcp.json in the project", json!({"mcpServers": {"brum": server}})),
        "vscode" | "code" => (
            ".vscode/mcp.json in the project",
            json!({"servers": {"brum": {"type": "stdio", "command": "brum", "args": ["mcp"]}}}),
        ),
        "windsurf" => ("~/.codeium/windsurf/mcp_config.json", json!({"mcpServers": {"brum": server}})),
        other => return Err(format!("unknown client {other:?}: use claude-code, cursor, vscode or windsurf")),
    };
    let pretty = serde_json::to_string_pretty(&body).unwrap_or_default();
    Ok(format!("// {path}\n{pretty}\n"))
}

/// The socket `brum mcp` talks to.
pub fn socket_for(socket: Option<&Path>, config: Option<&Path>) -> PathBuf {
    brum::files::client_socket(socket, config)
}
