//! `brum mcp`: driven by the official MCP TypeScript SDK (a real client
//! from its registry), and protocol conformance on raw JSON-RPC.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::*;

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp")
}

/// Installs the SDK from package-lock.json when it is not there yet.
fn ensure_sdk() {
    let dir = sdk_dir();
    if dir.join("node_modules/@modelcontextprotocol/sdk/package.json").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .expect("npm (Node.js) is needed for the MCP client test");
    assert!(status.success(), "npm ci in {} failed", dir.display());
}

#[test]
fn a_real_mcp_client_runs_the_whole_loop() {
    ensure_sdk();
    let p = Project::with_toml(
        r#"
[process.app]
cmd = '''echo "listening on http://127.0.0.1:4567"; sleep 0.3; node -e 'null.x'; sleep 876040'''
autostart = false
[process.db]
cmd = "sleep 876040"
"#,
    );
    let out = Command::new("node")
        .arg(sdk_dir().join("client.mjs"))
        .arg(brum_bin())
        .arg(p.path())
        .env("BRUM_CACHE_DIR", cache_dir())
        .stderr(Stdio::inherit())
        .output()
        .expect("node");
    // brum mcp started a daemon for the client: stop it whatever happened
    let down = p.run(&["down"], LIMIT);
    let seen: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("client output {:?}: {e}", String::from_utf8_lossy(&out.stdout)));
    assert!(out.status.success(), "client failed: {seen:#}");
    assert_eq!(down.code, Some(0), "{}", down.stderr);
    assert_eq!(seen["server"]["name"], "brum");
    let tools: Vec<&str> = seen["tools"].as_array().expect("tools").iter().map(|t| t.as_str().expect("name")).collect();
    for t in [
        "list_processes",
        "list_scripts",
        "start_process",
        "stop_process",
        "restart_process",
        "get_logs",
        "search_logs",
        "list_errors",
        "list_urls",
        "list_requests",
        "reload_config",
        "wait_for",
    ] {
        assert!(tools.contains(&t), "missing tool {t}");
    }
    assert!(seen["started"].as_str().expect("text").contains("started one in the background"), "{seen:#}");
    assert_eq!(seen["ready"]["met"], true);
    assert_eq!(seen["waitedError"]["met"], true);
    let errors = seen["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{seen:#}");
    assert_eq!(errors[0]["process"], "app");
    assert_eq!(errors[0]["message"], "TypeError: Cannot read properties of null (reading 'x')");
    assert_eq!(errors[0]["language"], "javascript");
    assert!(errors[0]["raw_lines"].as_array().expect("raw").len() > 3, "the raw lines of the stack trace");
    assert_eq!(seen["urls"][0]["url"], "http://127.0.0.1:4567");
    assert_eq!(seen["search"][0], "listening on http://127.0.0.1:4567");
    assert_eq!(seen["resources"], json!(["brum://errors", "brum://logs/app", "brum://logs/db"]));
    assert_eq!(seen["errorsResource"], 1);
    assert_eq!(seen["exited"]["met"], true);
    assert!(seen["exited"]["detail"].as_str().expect("detail").contains("stopped"), "{seen:#}");
    assert_eq!(seen["unknownToolError"], -32602);
    assert!(processes_matching("876040").is_empty(), "nothing left behind");
}

fn py_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp-py")
}

/// Creates the Python SDK's venv from requirements.txt when it is not there.
fn ensure_py_sdk() -> PathBuf {
    let dir = py_dir();
    let python = dir.join(".venv/bin/python");
    if python.exists() {
        return python;
    }
    let status = Command::new("python3")
        .args(["-m", "venv", ".venv"])
        .current_dir(&dir)
        .status()
        .expect("python3 is needed for the MCP Python client test");
    assert!(status.success(), "python3 -m venv in {} failed", dir.display());
    let status = Command::new(dir.join(".venv/bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"])
        .current_dir(&dir)
        .status()
        .expect("pip");
    assert!(status.success(), "pip install -r requirements.txt in {} failed", dir.display());
    python
}

/// The agent workflow through the official Python SDK (core/tests/mcp-py/
/// client.py asserts each step; here the figures it measured): a line
/// printed before `wait_for` is seen, a restart's readiness is the new
/// run's, a stopped server's URL is gone, what the schemas declare is
/// enforced, outputs validate against `outputSchema`, a cancelled wait
/// stops, and the end of stdin ends `brum mcp` within a second.
#[test]
fn the_python_sdk_runs_the_agent_workflow() {
    let python = ensure_py_sdk();
    let p = Project::with_toml(concat!(
        "[process.fast]\n",
        "cmd = \"echo 'fast ran'; printf 'bad \\\\377 byte\\\\n'; sleep 876060\"\n",
        "autostart = false\n",
        "[process.instant]\n",
        "cmd = \"echo 'instant up'; sleep 876062\"\n",
        "autostart = false\n",
        "[process.web]\n",
        "cmd = \"sleep 0.5; echo 'Local: http://127.0.0.1:5998/'; sleep 876061\"\n",
        "autostart = false\n",
    ));
    let out = Command::new(python)
        .arg(py_dir().join("client.py"))
        .arg(brum_bin())
        .arg(p.path())
        .env("BRUM_CACHE_DIR", cache_dir())
        .stderr(Stdio::inherit())
        .output()
        .expect("python");
    let down = p.run(&["down"], LIMIT);
    let seen: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("client output {:?}: {e}", String::from_utf8_lossy(&out.stdout)));
    assert!(out.status.success(), "client failed: {}\n{seen:#}", seen["failed"].as_str().unwrap_or(""));
    assert_eq!(down.code, Some(0), "{}", down.stderr);
    assert_eq!(seen["fast"]["met"], true);
    assert_eq!(seen["restarted"]["run"], 2);
    assert_eq!(seen["stopped_url"]["met"], false);
    assert!(seen["eof_exit_ms"].as_f64().expect("eof") < 1000.0, "{seen:#}");
    eprintln!(
        "start_process then wait_for (already ready): {} ms; wait_for on a ready process: {} ms; exit after stdin EOF: {} ms",
        seen["start_to_ready_ms"], seen["already_ready_ms"], seen["eof_exit_ms"]
    );
    for n in ["876060", "876061", "876062"] {
        assert!(processes_matching(n).is_empty(), "nothing left behind");
    }
}

/// A raw JSON-RPC conversation with `brum mcp` (answers read by a thread,
/// so a missing answer fails the test instead of hanging it).
struct Raw {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Raw {
    fn start(p: &Project) -> Raw {
        let mut child = p.cmd(&["mcp"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("brum mcp");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Raw { child, lines: rx }
    }

    fn send(&mut self, raw: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(raw.as_bytes()).expect("write");
        stdin.write_all(b"\n").expect("write");
    }

    fn recv(&mut self) -> Value {
        let line = self.lines.recv_timeout(std::time::Duration::from_secs(30)).expect("an answer within 30 s");
        serde_json::from_str(&line).expect("JSON-RPC answer")
    }

    fn call(&mut self, raw: &str) -> Value {
        self.send(raw);
        self.recv()
    }
}

#[test]
fn protocol_errors_get_the_right_json_rpc_codes() {
    let p = Project::with_toml("[process.a]\ncmd = \"sleep 876041\"\nautostart = false\n");
    let mut m = Raw::start(&p);
    let init = m.call(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#);
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "a supported revision is echoed");
    assert_eq!(init["result"]["capabilities"]["resources"]["subscribe"], true);
    m.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#); // no answer to notifications
    assert_eq!(m.call(r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#)["result"], json!({}));
    let code = |v: &Value| v["error"]["code"].as_i64().expect("error code");
    // like the other official SDKs, rmcp ignores a line that is not JSON at
    // all (there is no id to answer; see rust-sdk issue 938) and goes on
    m.send("{this is not json");
    assert_eq!(m.call(r#"{"jsonrpc":"2.0","id":"after","method":"ping"}"#)["id"], "after");
    assert_eq!(code(&m.call(r#"{"jsonrpc":"2.0","id":3}"#)), -32600);
    assert_eq!(code(&m.call(r#"{"id":4,"method":"ping"}"#)), -32600, "jsonrpc 2.0 is required");
    assert_eq!(code(&m.call(r#"{"jsonrpc":"2.0","id":5,"method":"no/such"}"#)), -32601);
    let unknown =
        m.call(r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}"#);
    assert_eq!(code(&unknown), -32602);
    let missing =
        m.call(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_logs","arguments":{}}}"#);
    assert_eq!(code(&missing), -32602);
    assert!(missing["error"]["message"].as_str().expect("msg").contains("missing required argument `process`"));
    let bad = m.call(r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"wait_for","arguments":{"condition":"soon"}}}"#);
    assert_eq!(code(&bad), -32602);
    let extra = m.call(
        r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"list_urls","arguments":{"colour":"red"}}}"#,
    );
    assert_eq!(code(&extra), -32602);
    let wrong_type = m.call(r#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"get_logs","arguments":{"process":"a","last":"many"}}}"#);
    assert_eq!(code(&wrong_type), -32602);
    assert_eq!(m.call(r#"{"jsonrpc":"2.0","id":"x","method":"tools/list"}"#)["id"], "x", "ids are echoed");
    let list = m.call(r#"{"jsonrpc":"2.0","id":11,"method":"tools/list"}"#);
    for t in list["result"]["tools"].as_array().expect("tools") {
        assert_eq!(t["inputSchema"]["type"], "object", "every tool has an object schema");
    }
    drop(m.child.stdin.take());
    let status = m.child.wait().expect("wait");
    assert!(status.success(), "brum mcp ends cleanly at end of input");
    let _ = p.run(&["down"], LIMIT);
}

#[test]
fn print_config_for_every_client() {
    let p = Project::new();
    for client in ["claude-code", "cursor", "vscode", "windsurf"] {
        let out = p.run(&["mcp", "--print-config", client], LIMIT);
        assert_eq!(out.code, Some(0), "{client}");
        let text = out.stdout_text();
        let json_part: String = text.lines().filter(|l| !l.starts_with("//")).collect::<Vec<_>>().join("\n");
        let v: Value = serde_json::from_str(&json_part).expect("valid JSON snippet");
        let server = if client == "vscode" { &v["servers"]["brum"] } else { &v["mcpServers"]["brum"] };
        assert_eq!(server["command"], "brum", "{client}");
        assert_eq!(server["args"], json!(["mcp"]), "{client}");
    }
    let bad = p.run(&["mcp", "--print-config", "notepad"], LIMIT);
    assert_eq!(bad.code, Some(2));
}

#[test]
fn subscribers_are_notified_of_new_errors() {
    let p = Project::with_toml(concat!(
        "[process.api]\n",
        "cmd = '''sleep 0.5; printf 'Traceback (most recent call last):\\n  File \"a.py\", line 1, in <module>\\nValueError: no\\n' >&2; sleep 876042'''\n",
        "autostart = false\n"
    ));
    let mut m = Raw::start(&p);
    m.call(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#);
    m.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    let sub = m.call(r#"{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"brum://errors"}}"#);
    assert_eq!(sub["result"], json!({}));
    let started =
        m.call(r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"start_process","arguments":{"name":"api"}}}"#);
    assert_eq!(started["result"]["isError"], false, "{started}");
    let note = m.recv();
    assert_eq!(note["method"], "notifications/resources/updated", "{note}");
    assert_eq!(note["params"]["uri"], "brum://errors");
    assert!(note.get("id").is_none(), "a notification has no id");
    let read = m.call(r#"{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":"brum://errors"}}"#);
    let text = read["result"]["contents"][0]["text"].as_str().expect("text");
    let errors: Value = serde_json::from_str(text).expect("json");
    assert_eq!(errors[0]["message"], "ValueError: no");
    drop(m.child.stdin.take());
    let _ = m.child.wait();
    let down = p.run(&["down"], LIMIT);
    assert_eq!(down.code, Some(0), "{}", down.stderr);
    assert!(processes_matching("876042").is_empty());
}

/// `wait_for ready` on a process with a readiness probe waits for the
/// probe, not for the first URL it prints.
#[test]
fn wait_for_ready_follows_the_readiness_probe() {
    let p = Project::with_toml(
        "[process.web]\ncmd = \"echo 'Local: http://localhost:5999/'; sleep 1; echo 'warmed up'; sleep 876044\"\nready.log = \"warmed up\"\nautostart = false\n",
    );
    let mut m = Raw::start(&p);
    m.call(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#);
    m.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    // asked before the process is started: the probe still decides
    m.send(r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"wait_for","arguments":{"condition":"ready","process":"web","timeout_ms":20000}}}"#);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let t = std::time::Instant::now();
    let start = m.call(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"start_process","arguments":{"name":"web"}}}"#);
    assert_eq!(start["id"], 2, "{start}");
    let w = m.recv();
    let sc = &w["result"]["structuredContent"];
    assert_eq!(sc["met"], true, "{w}");
    assert!(sc["detail"].as_str().is_some_and(|d| d.contains("probe")), "{w}");
    assert!(t.elapsed() >= std::time::Duration::from_millis(700), "met by the URL, not the probe: {w}");
    drop(m.child.stdin.take());
    let _ = m.child.wait();
    let _ = p.run(&["down"], LIMIT);
}

fn tool(m: &mut Raw, id: u32, name: &str, args: Value) -> Value {
    let req = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": args}});
    m.call(&req.to_string())
}

fn initialized(p: &Project) -> Raw {
    let mut m = Raw::start(p);
    m.call(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#);
    m.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    m
}

/// Regression (issue 14): `wait_for pattern` called after the line was
/// printed timed out; it replays the current run's history now.
#[test]
fn wait_for_pattern_sees_a_line_printed_before_the_call() {
    let p = Project::with_toml("[process.manual]\ncmd = \"echo 'manual ran'; sleep 876045\"\nautostart = false\n");
    let mut m = initialized(&p);
    let start = tool(&mut m, 1, "start_process", json!({"name": "manual"}));
    assert_eq!(
        start["result"]["structuredContent"],
        json!({"process": "manual", "action": "started", "pid": start["result"]["structuredContent"]["pid"]})
    );
    let logs = loop {
        let l = tool(&mut m, 2, "get_logs", json!({"process": "manual"}));
        if l["result"]["structuredContent"]["lines"].as_array().is_some_and(|a| !a.is_empty()) {
            break l;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(logs["result"]["structuredContent"].get("ok").is_none(), "no transport fields: {logs}");
    let w = tool(
        &mut m,
        3,
        "wait_for",
        json!({"condition": "pattern", "process": "manual", "pattern": "manual ran", "timeout_ms": 2000}),
    );
    let sc = &w["result"]["structuredContent"];
    assert_eq!(sc["met"], true, "{w}");
    assert_eq!(sc["run"], 1, "{w}");
    assert!(sc["waited_ms"].as_u64().expect("waited") < 1000, "{w}");
    drop(m.child.stdin.take());
    let _ = m.child.wait();
    let _ = p.run(&["down"], LIMIT);
    assert!(processes_matching("876045").is_empty());
}

/// An agent that edits brum.toml applies it with `reload_config`: the new
/// process starts (`wait_for` sees it), and what only a new start of brum
/// applies is listed, not silently dropped.
#[test]
fn reload_config_applies_an_edited_brum_toml() {
    let first = "[process.a]\ncmd = \"echo 'a ran'; sleep 876047\"\n";
    let p = Project::with_toml(first);
    let mut m = initialized(&p);
    let w = tool(
        &mut m,
        1,
        "wait_for",
        json!({"condition": "pattern", "process": "a", "pattern": "a ran", "timeout_ms": 20000}),
    );
    assert_eq!(w["result"]["structuredContent"]["met"], true, "{w}");
    p.write("brum.toml", &format!("{first}[process.b]\ncmd = \"echo 'b ran'; sleep 876047\"\n[proxy]\nport = 20999\n"));
    let r = tool(&mut m, 2, "reload_config", json!({}));
    let sc = &r["result"]["structuredContent"];
    assert_eq!(sc["added"], json!(["b"]), "{r}");
    assert_eq!(sc["unchanged"], 1, "{r}");
    assert_eq!(sc["restart_needed"], json!(["[proxy]"]), "{r}");
    let text = r["result"]["content"][0]["text"].as_str().expect("text");
    assert!(text.contains("added: b") && text.contains("not applied until brum starts again: [proxy]"), "{text}");
    let w = tool(
        &mut m,
        3,
        "wait_for",
        json!({"condition": "pattern", "process": "b", "pattern": "b ran", "timeout_ms": 20000}),
    );
    assert_eq!(w["result"]["structuredContent"]["met"], true, "{w}");
    // a file with mistakes changes nothing, and says where
    p.write("brum.toml", "[process.a]\ncmd = 5\n");
    let r = tool(&mut m, 4, "reload_config", json!({}));
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(r.to_string().contains("process.a.cmd"), "{r}");
    drop(m.child.stdin.take());
    let _ = m.child.wait();
    let _ = p.run(&["down"], LIMIT);
    assert!(processes_matching("876047").is_empty());
}

/// `list_errors` shows open errors; `include_resolved` the history; an
/// unknown process is an error like in every other tool; unknown resources
/// are -32602.
#[test]
fn list_errors_follows_the_error_lifecycle() {
    let p = Project::with_toml(concat!(
        "[process.job]\n",
        "cmd = '''if [ -e seen ]; then echo fine; exit 0; fi; touch seen; printf 'Traceback (most recent call last):\\n  File \"a.py\", line 1, in <module>\\nValueError: boom\\n' >&2; exit 1'''\n",
        "autostart = false\n",
    ));
    let mut m = initialized(&p);
    let nope = tool(&mut m, 1, "list_errors", json!({"process": "nope"}));
    assert_eq!(nope["result"]["isError"], true, "{nope}");
    assert!(nope["result"]["content"][0]["text"].as_str().expect("text").contains("unknown process"), "{nope}");
    for uri in ["brum://logs/nope", "brum://nothing"] {
        let read =
            m.call(&json!({"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {"uri": uri}}).to_string());
        assert_eq!(read["error"]["code"], -32602, "{read}");
        let sub = m.call(
            &json!({"jsonrpc": "2.0", "id": 3, "method": "resources/subscribe", "params": {"uri": uri}}).to_string(),
        );
        assert_eq!(sub["error"]["code"], -32602, "{sub}");
    }
    tool(&mut m, 4, "start_process", json!({"name": "job"}));
    let open = (0..100)
        .map(|i| {
            if i > 0 {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            tool(&mut m, 5, "list_errors", json!({}))
        })
        .find(|r| r["result"]["structuredContent"]["errors"].as_array().is_some_and(|a| !a.is_empty()))
        .expect("the error is found");
    let e = &open["result"]["structuredContent"]["errors"][0];
    assert_eq!(e["message"], "ValueError: boom", "{open}");
    assert_eq!(e["open"], true);
    // a clean run of the same process resolves it
    let w = tool(&mut m, 6, "wait_for", json!({"condition": "exit", "process": "job", "timeout_ms": 10000}));
    assert_eq!(w["result"]["structuredContent"]["met"], true, "{w}");
    tool(&mut m, 7, "start_process", json!({"name": "job"}));
    let w = tool(&mut m, 8, "wait_for", json!({"condition": "exit", "process": "job", "timeout_ms": 10000}));
    assert_eq!(w["result"]["structuredContent"]["met"], true, "{w}");
    let now = (0..50)
        .map(|i| {
            if i > 0 {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            tool(&mut m, 9, "list_errors", json!({}))
        })
        .find(|r| r["result"]["structuredContent"]["errors"].as_array().is_some_and(Vec::is_empty))
        .expect("resolved by the clean run");
    assert_eq!(now["result"]["structuredContent"]["open"], 0, "{now}");
    let all = tool(&mut m, 10, "list_errors", json!({"include_resolved": true}));
    let e = &all["result"]["structuredContent"]["errors"][0];
    assert_eq!(e["message"], "ValueError: boom", "{all}");
    assert_eq!(e["open"], false, "{all}");
    assert!(e["resolved"].is_string(), "{all}");
    drop(m.child.stdin.take());
    let _ = m.child.wait();
    let _ = p.run(&["down"], LIMIT);
}

/// docs/mcp.md lists the schemas derived from the code, exactly.
#[test]
fn docs_list_the_derived_schemas() {
    let docs = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/mcp.md")).expect("docs");
    let p = Project::new();
    let mut m = initialized(&p);
    let list = m.call(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
    let tools = list["result"]["tools"].as_array().expect("tools");
    assert_eq!(tools.len(), 12);
    for t in tools {
        let name = t["name"].as_str().expect("name");
        assert!(docs.contains(&format!("### `{name}`")), "docs/mcp.md has no section for {name}");
        for key in ["inputSchema", "outputSchema"] {
            let schema = serde_json::to_string_pretty(&t[key]).expect("json");
            assert!(docs.contains(&schema), "docs/mcp.md does not list the derived {key} of {name}:\n{schema}");
        }
    }
    drop(m.child.stdin.take());
    let _ = m.child.wait();
}

/// The end of stdin ends `brum mcp` at once, a pending `wait_for` or not
/// (clients that close the pipe without a signal).
#[test]
fn end_of_input_ends_the_server_while_a_wait_is_pending() {
    let p = Project::with_toml("[process.a]\ncmd = \"sleep 876046\"\nautostart = false\n");
    let mut m = initialized(&p);
    m.send(
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "wait_for",
        "arguments": {"condition": "pattern", "pattern": "never printed", "timeout_ms": 300000}}})
        .to_string(),
    );
    // the wait is pending once the daemon answers other requests after it
    assert_eq!(
        m.call(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_urls","arguments":{}}}"#)["id"],
        2
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    let t = std::time::Instant::now();
    drop(m.child.stdin.take());
    let status = m.child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    assert!(t.elapsed() < std::time::Duration::from_secs(1), "took {:?}", t.elapsed());
    let _ = p.run(&["down"], LIMIT);
}

/// After a restart, `wait_for ready` on a process with a log probe waits
/// for the new run's probe (the previous run's line, still in the ring,
/// does not count).
#[test]
fn wait_for_ready_after_a_restart_waits_for_the_new_runs_probe() {
    let p = Project::with_toml(
        "[process.web]\ncmd = \"echo 'Local: http://localhost:5999/'; sleep 1; echo 'warmed up'; sleep 876048\"\nready.log = \"warmed up\"\nautostart = false\n",
    );
    let mut m = initialized(&p);
    tool(&mut m, 2, "start_process", json!({"name": "web"}));
    let w = tool(&mut m, 3, "wait_for", json!({"condition": "ready", "process": "web", "timeout_ms": 20000}));
    assert_eq!(w["result"]["structuredContent"]["met"], true, "{w}");
    // a restart: the new run's probe decides, not the old run's
    let r = m.call(r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"restart_process","arguments":{"name":"web"}}}"#);
    assert_eq!(r["result"]["isError"], false, "{r}");
    let t = std::time::Instant::now();
    let w = m.call(r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"wait_for","arguments":{"condition":"ready","process":"web","timeout_ms":20000}}}"#);
    assert_eq!(w["result"]["structuredContent"]["met"], true, "{w}");
    assert_eq!(w["result"]["structuredContent"]["run"], 2, "{w}");
    assert!(t.elapsed() >= std::time::Duration::from_millis(700), "met by the previous run: {w}");
    drop(m.child.stdin.take());
    let _ = m.child.wait();
    let _ = p.run(&["down"], LIMIT);
}

/// Clients list and read resources as they connect: that must not start
/// the project's processes (only tools start a daemon).
#[test]
fn resources_do_not_start_a_daemon() {
    let p = Project::with_toml("[process.a]\ncmd = \"sleep 876049\"\n");
    let mut m = initialized(&p);
    let list = m.call(r#"{"jsonrpc":"2.0","id":1,"method":"resources/list"}"#);
    assert_eq!(list["result"]["resources"][0]["uri"], "brum://errors", "{list}");
    assert_eq!(list["result"]["resources"].as_array().map(Vec::len), Some(1), "{list}");
    let read = m.call(r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"brum://errors"}}"#);
    assert_eq!(read["error"]["code"], -32603, "{read}");
    let sub = m.call(r#"{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"brum://errors"}}"#);
    assert_eq!(sub["result"], json!({}), "{sub}");
    assert_eq!(p.run(&["status"], LIMIT).code, Some(3), "no brum was started");
    assert!(processes_matching("876049").is_empty());
    drop(m.child.stdin.take());
    let _ = m.child.wait();
}
