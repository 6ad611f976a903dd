//! `brum mcp`: a Model Context Protocol server on stdio, built on the
//! official Rust SDK (`rmcp`), that lets AI coding agents drive and read the
//! session through the control socket of the brum running in the project
//! (starting one with `brum up` when none runs).
//!
//! It is a client process of the daemon, so it has its own async runtime (a
//! current-thread tokio runtime); the daemon stays synchronous. Tools are
//! typed (`tools`), their arguments checked against the schemas derived for
//! them (`schema`), `wait_for` replays the current run's history (`wait`).
//! Tools, resources and the derived schemas: docs/mcp.md.

mod daemon;
mod schema;
mod tools;
mod types;
mod wait;

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, InitializeResult, ListResourceTemplatesResult,
    ListResourcesResult, PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, ServerCapabilities, SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use daemon::{Daemon, DaemonError, line_text};

/// Why a tool failed.
pub enum ToolFail {
    /// The arguments do not fit (-32602).
    Params(String),
    /// The daemon refused or could not be reached (a result with isError).
    Daemon(DaemonError),
    /// The client cancelled the request.
    Cancelled,
}

#[derive(Clone)]
pub struct Server {
    daemon: Daemon,
    tool_router: ToolRouter<Server>,
    /// the task that turns new errors into `notifications/resources/updated`
    /// while the client is subscribed to brum://errors
    errors_sub: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// becomes true at the end of stdin: pending waits end at once
    eof: watch::Receiver<bool>,
}

/// Stdin that says when it ends. rmcp lets in-flight requests finish for up
/// to 5 s after the end of its input; brum's waits watch this instead and
/// end at once, so `brum mcp` exits when its client closes the pipe.
struct SignalEof<R> {
    inner: R,
    eof: watch::Sender<bool>,
}

impl<R: AsyncRead + Unpin> AsyncRead for SignalEof<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let ended = match &r {
            Poll::Ready(Ok(())) => buf.filled().len() == before,
            Poll::Ready(Err(_)) => true,
            Poll::Pending => false,
        };
        if ended {
            self.eof.send_replace(true);
        }
        r
    }
}

const ERRORS_URI: &str = "brum://errors";
const LOGS_PREFIX: &str = "brum://logs/";

/// Runs `brum mcp` until stdin ends.
pub fn run(socket: PathBuf, config: Option<PathBuf>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("brum mcp: cannot start its runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let (eof_tx, eof) = watch::channel(false);
    let server = Server {
        daemon: Daemon::new(socket, config),
        tool_router: Server::tool_router(),
        errors_sub: Arc::default(),
        eof: eof.clone(),
    };
    let code = rt.block_on(async move {
        let (stdin, stdout) = rmcp::transport::io::stdio_pipes();
        let running = match server.serve((SignalEof { inner: stdin, eof: eof_tx }, stdout)).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("brum mcp: {e}");
                return ExitCode::from(1);
            }
        };
        // the end of stdin ends the service, whatever is pending: the waits
        // answer at once, and what is still running gets 200 ms
        tokio::select! {
            _ = running.waiting() => {}
            _ = async {
                ended(eof).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            } => {}
        }
        ExitCode::SUCCESS
    });
    // pending daemon calls (blocking threads) are not waited for
    rt.shutdown_timeout(Duration::from_millis(50));
    code
}

impl ServerHandler for Server {
    fn get_info(&self) -> InitializeResult {
        let caps = ServerCapabilities::builder().enable_tools().enable_resources().enable_resources_subscribe().build();
        let mut info = InitializeResult::new(caps);
        let mut imp = Implementation::new("brum", env!("CARGO_PKG_VERSION"));
        imp.title = Some("brum dev session".into());
        info.server_info = imp;
        info.instructions = Some(
            "brum runs this project's dev processes. Use list_processes and list_errors to see state, get_logs/search_logs to read output, start/stop/restart_process to act, reload_config after editing brum.toml, and wait_for instead of sleeping (it sees what already happened in the current run)."
                .into(),
        );
        info
    }

    /// Up to the last revision with `resources/subscribe` (the only one
    /// brum's clients use today).
    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        std::borrow::Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(tool) = self.tool_router.get(&request.name) else {
            return Err(ErrorData::invalid_params(format!("unknown tool: {}", request.name), None));
        };
        let args = request.arguments.clone().map(Value::Object).unwrap_or(Value::Null);
        schema::check(&request.name, &tool.input_schema, &args).map_err(|m| ErrorData::invalid_params(m, None))?;
        let tcc = ToolCallContext::new(self, request, context);
        self.tool_router.call(tcc).await
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListToolsResult, ErrorData> {
        Ok(rmcp::model::ListToolsResult::with_all_items(self.tool_router.list_all()))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.tool_router.get(name).cloned()
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let mut resources = vec![json!({
            "uri": ERRORS_URI, "name": "errors", "title": "Errors found in the dev session",
            "description": "open errors and warnings the detectors found (JSON)", "mimeType": "application/json"
        })];
        if let Ok(rows) = self.daemon.peek(json!({"cmd": "ps"})).await.and_then(|v| tools::rows(&v)) {
            for r in rows {
                resources.push(json!({
                    "uri": format!("{LOGS_PREFIX}{}", r.name), "name": format!("logs/{}", r.name),
                    "title": format!("Recent output of {}", r.name), "mimeType": "text/plain"
                }));
            }
        }
        model(json!({"resources": resources}))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        model(json!({"resourceTemplates": [{
            "uriTemplate": "brum://logs/{process}", "name": "process log",
            "description": "recent output of a process (bytes that are not UTF-8 shown as \\xNN)", "mimeType": "text/plain"
        }]}))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        let fail = |e: DaemonError| match e {
            DaemonError::Refused(m) => ErrorData::invalid_params(format!("{uri}: {m}"), None),
            DaemonError::Unreachable(m) => ErrorData::internal_error(m, None),
        };
        let content = if uri == ERRORS_URI {
            let v = self.daemon.peek(json!({"cmd": "errors", "limit": 200})).await.map_err(fail)?;
            json!({"uri": uri, "mimeType": "application/json", "text": v["errors"].to_string()})
        } else if let Some(p) = uri.strip_prefix(LOGS_PREFIX) {
            let v = self.daemon.peek(json!({"cmd": "logs", "process": p, "n": 200})).await.map_err(fail)?;
            let text: Vec<String> = v["lines"].as_array().into_iter().flatten().map(line_text).collect();
            json!({"uri": uri, "mimeType": "text/plain", "text": text.join("\n")})
        } else {
            return Err(ErrorData::invalid_params(format!("unknown resource {uri:?}"), None));
        };
        model::<ReadResourceResult>(json!({"contents": [content]})).map(Into::into)
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.known_uri(&request.uri).await?;
        if request.uri == ERRORS_URI {
            let mut sub = self.errors_sub.lock().await;
            if sub.is_none() {
                let seq = self.daemon.peek(json!({"cmd": "hello"})).await.ok().and_then(|h| h["seq"].as_u64());
                *sub = Some(tokio::spawn(notify_new_errors(self.daemon.clone(), context.peer.clone(), seq)));
            }
        }
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.known_uri(&request.uri).await?;
        if request.uri == ERRORS_URI
            && let Some(task) = self.errors_sub.lock().await.take()
        {
            task.abort();
        }
        Ok(())
    }
}

impl Server {
    /// brum://errors, or brum://logs/<a process brum knows>.
    async fn known_uri(&self, uri: &str) -> Result<(), ErrorData> {
        if uri == ERRORS_URI {
            return Ok(());
        }
        if let Some(p) = uri.strip_prefix(LOGS_PREFIX) {
            let rows = self
                .daemon
                .peek(json!({"cmd": "ps"}))
                .await
                .and_then(|v| tools::rows(&v))
                .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
            if rows.iter().any(|r| r.name == p) {
                return Ok(());
            }
        }
        Err(ErrorData::invalid_params(format!("unknown resource {uri:?}"), None))
    }
}

/// Sends `notifications/resources/updated` for brum://errors on each new
/// error, from the daemon running now or, when none runs or it stops, the
/// next one (started by a tool, or checked for every 2 s).
async fn notify_new_errors(daemon: Daemon, peer: Peer<RoleServer>, mut since: Option<u64>) {
    loop {
        if let Ok(mut feed) = daemon.tail(json!({"types": ["error.detected"], "since": since})).await {
            while let Ok(Some(ev)) = feed.next().await {
                since = ev["seq"].as_u64().or(since);
                let note = rmcp::model::ResourceUpdatedNotificationParam::new(ERRORS_URI);
                if peer.notify_resource_updated(note).await.is_err() {
                    return;
                }
            }
        }
        // a new daemon numbers its events from 1 again
        since = Some(0);
        tokio::select! {
            _ = daemon.started() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

/// Resolves once stdin has ended.
pub async fn ended(mut eof: watch::Receiver<bool>) {
    while !*eof.borrow_and_update() {
        if eof.changed().await.is_err() {
            return;
        }
    }
}

/// An SDK model type from its JSON form.
fn model<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ErrorData> {
    serde_json::from_value(v).map_err(|e| ErrorData::internal_error(e.to_string(), None))
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
    crate::files::client_socket(socket, config)
}
