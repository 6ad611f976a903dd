//! The client commands (`brum tail`, `ps`, `logs`, `errors`, `urls`,
//! `start`/`stop`/`restart`, `down`, `status`): one request to the running
//! brum over its control socket, the answer printed for people or as JSON.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use brum::control::client::{self, ClientError};

use crate::{ErrorsArgs, LogsArgs, RequestsArgs, TailArgs};

type Res = Result<ExitCode, ClientError>;

fn print_json(v: &Value) {
    println!("{v}");
}

fn ms(v: &Value) -> String {
    match v.as_u64() {
        None => "-".into(),
        Some(ms) if ms < 60_000 => format!("{}s", ms / 1000),
        Some(ms) if ms < 3_600_000 => format!("{}m{:02}s", ms / 60_000, ms / 1000 % 60),
        Some(ms) => format!("{}h{:02}m", ms / 3_600_000, ms / 60_000 % 60),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `brum tail`: the ack, then every event line as it comes.
pub fn tail(sock: &Path, a: &TailArgs) -> Res {
    let raw = a.client.json || (!a.human && !std::io::stdout().is_terminal());
    // readable output needs what `brum run` knows: the names (for their
    // colours) and the width of the name column
    let (names, width) = if raw {
        (Vec::new(), 4)
    } else {
        let hello = client::call(sock, &json!({"cmd": "hello"}))?;
        let names: Vec<String> = hello["processes"]
            .as_array()
            .map(|a| a.iter().filter_map(|n| n.as_str().map(String::from)).collect())
            .unwrap_or_default();
        (names, hello["width"].as_u64().unwrap_or(4) as usize)
    };
    let color = !raw && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let style = brum::events::human::HumanStyle { color, width };
    let index_of = |name: &str| names.iter().position(|n| n == name).unwrap_or(0);
    let req = json!({
        "cmd": "tail",
        "types": a.types,
        "processes": a.processes,
        "since": a.since,
        "last": a.last,
        "follow": !a.no_follow,
    });
    let mut conn = client::request(sock, &req)?;
    let ack = conn.answer()?;
    if ack["missed"].as_u64().unwrap_or(0) > 0 {
        eprintln!(
            "brum: {} events after seq {} are no longer in brum's history (it starts at {})",
            ack["missed"],
            text(&json!(a.since)),
            ack["history_from"]
        );
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut buf = Vec::new();
    let mut line = Vec::new();
    let mut scratch = brum::events::decode::Scratch::default();
    let mut dropped = false;
    while conn.next_line(&mut buf)? {
        let ok = if raw {
            out.write_all(&buf)
        } else {
            let v: Value = serde_json::from_slice(&buf).unwrap_or(Value::Null);
            if v["type"] == "client.dropped" {
                dropped = true;
            }
            line.clear();
            brum::events::decode::render(&v, style, &index_of, &mut scratch, &mut line);
            out.write_all(&line)
        };
        // flush when no more input is immediately at hand
        if ok.is_err() || (conn_buffer_empty(&conn) && out.flush().is_err()) {
            return Ok(ExitCode::SUCCESS); // the reader went away (`| head`)
        }
    }
    let _ = out.flush();
    if dropped {
        eprintln!("brum: this tail fell too far behind and was disconnected");
    }
    Ok(ExitCode::SUCCESS)
}

fn conn_buffer_empty(c: &client::Conn) -> bool {
    c.buffered() == 0
}

pub fn ps(sock: &Path, json: bool) -> Res {
    let v = client::call(sock, &json!({"cmd": "ps"}))?;
    if json {
        print_json(&v["processes"]);
        return Ok(ExitCode::SUCCESS);
    }
    let rows = v["processes"].as_array().cloned().unwrap_or_default();
    let w = rows.iter().filter_map(|r| r["name"].as_str()).map(str::len).max().unwrap_or(4).max(4);
    println!(
        "{:w$}  {:<11} {:<13} {:>7} {:>8} {:>8} {:>5} {:>6}  URLS",
        "NAME", "STATE", "READY", "PID", "UPTIME", "RESTARTS", "EXIT", "ERRORS"
    );
    for r in rows {
        let exit = match (&r["exit_code"], &r["signal"]) {
            (Value::Number(n), _) => n.to_string(),
            (_, Value::String(s)) => s.clone(),
            _ => "-".into(),
        };
        let proxies = r["proxies"].as_array().cloned().unwrap_or_default();
        let urls: Vec<String> = r["urls"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|u| match proxies.iter().find(|p| p["url"] == u).and_then(|p| p["proxy_url"].as_str()) {
                        Some(proxy) => format!("{u} (proxy {proxy})"),
                        None => u.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let ready = match r["ready"].as_str() {
            Some("waiting") => format!("waiting {}", ms(&r["ready_ms"])),
            Some("ready") => format!("ready {}", ms(&r["ready_ms"])),
            Some(other) => other.to_string(),
            None => "-".to_string(),
        };
        println!(
            "{:w$}  {:<11} {:<13} {:>7} {:>8} {:>8} {:>5} {:>6}  {}",
            text(&r["name"]),
            text(&r["state"]),
            ready,
            text(&r["pid"]),
            ms(&r["uptime_ms"]),
            text(&r["restarts"]),
            exit,
            text(&r["errors"]),
            urls.join(" ")
        );
    }
    let plugins = v["plugins"].as_array().cloned().unwrap_or_default();
    if !plugins.is_empty() {
        let each: Vec<String> = plugins
            .iter()
            .map(|p| {
                let state =
                    p["state"].as_str().filter(|s| *s != "active").map(|s| format!(", {s}")).unwrap_or_default();
                format!("{} {} ms in {} calls{state}", text(&p["name"]), text(&p["busy_ms"]), text(&p["calls"]))
            })
            .collect();
        println!("plugins: {}", each.join("; "));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn logs(sock: &Path, a: &LogsArgs) -> Res {
    let names: Vec<String> = match &a.name {
        Some(n) => vec![n.clone()],
        None => client::call(sock, &json!({"cmd": "hello"}))?["processes"]
            .as_array()
            .map(|a| a.iter().filter_map(|n| n.as_str().map(String::from)).collect())
            .unwrap_or_default(),
    };
    let mut lines: Vec<(String, Value)> = Vec::new();
    let mut more = 0;
    let mut answers = Vec::new();
    for name in &names {
        let req =
            json!({"cmd": "logs", "process": name, "n": a.lines, "grep": a.grep, "regex": a.regex, "stream": a.stream});
        let v = client::call(sock, &req)?;
        more += v["more"].as_u64().unwrap_or(0);
        lines.extend(v["lines"].as_array().cloned().unwrap_or_default().into_iter().map(|l| (name.clone(), l)));
        answers.push(v);
    }
    if a.client.json {
        match a.name {
            Some(_) => print_json(&answers[0]),
            None => print_json(&json!(answers)),
        }
        return Ok(ExitCode::SUCCESS);
    }
    // every process: their lines in the order they were printed, the newest N
    lines.sort_by_key(|(_, l)| l["seq"].as_u64().unwrap_or(0));
    let skip = if a.name.is_none() { lines.len().saturating_sub(a.lines) } else { 0 };
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (name, l) in lines.into_iter().skip(skip) {
        let mark = if l["stream"] == "stderr" { '!' } else { '|' };
        let t = l["text"].as_str().map(str::to_string).unwrap_or_else(|| format!("<bytes {}>", text(&l["bytes"])));
        let ok = if a.name.is_some() { writeln!(out, "{mark} {t}") } else { writeln!(out, "{name:width$} {mark} {t}") };
        if ok.is_err() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if more > 0 {
        eprintln!("brum: {more} more matching lines (use -n to see more)");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn errors(sock: &Path, a: &ErrorsArgs) -> Res {
    let v = client::call(sock, &json!({"cmd": "errors", "process": a.name, "limit": a.limit, "all": a.all}))?;
    if a.client.json {
        print_json(&v);
        return Ok(ExitCode::SUCCESS);
    }
    let list = v["errors"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("{}", if a.all { "no errors found" } else { "no open errors" });
    }
    for e in list {
        let loc = match (e["file"].as_str(), e["line"].as_u64(), e["column"].as_u64()) {
            (Some(f), Some(l), Some(c)) => format!("{f}:{l}:{c}"),
            (Some(f), Some(l), None) => format!("{f}:{l}"),
            (Some(f), None, _) => f.to_string(),
            _ => "-".into(),
        };
        let code = e["code"].as_str().map(|c| format!(" [{c}]")).unwrap_or_default();
        let times = match e["count"].as_u64() {
            Some(n) if n > 1 => format!(" (seen {n} times)"),
            _ => String::new(),
        };
        let fixed = e["resolved"].as_str().map(|r| format!("  [resolved: {r}]")).unwrap_or_default();
        println!(
            "{}  {} {loc}{code}  {}{times}{fixed}",
            text(&e["process"]),
            text(&e["severity"]),
            text(&e["message"])
        );
    }
    if v["more"].as_u64().unwrap_or(0) > 0 {
        println!("... and {} more (use -n)", v["more"]);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn urls(sock: &Path, json: bool) -> Res {
    let v = client::call(sock, &json!({"cmd": "urls"}))?;
    if json {
        print_json(&v);
        return Ok(ExitCode::SUCCESS);
    }
    for u in v["urls"].as_array().cloned().unwrap_or_default() {
        match u["proxy_url"].as_str() {
            Some(proxy) => println!("{}  {}  (proxy {proxy})", text(&u["process"]), text(&u["url"])),
            None => println!("{}  {}", text(&u["process"]), text(&u["url"])),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `brum requests`: the recent requests through the proxies.
pub fn requests(sock: &Path, a: &RequestsArgs) -> Res {
    let req = json!({"cmd": "requests", "process": a.name, "status": a.status, "limit": a.limit});
    let v = client::call(sock, &req)?;
    if v["proxy"] == false {
        eprintln!("brum: the proxy is off in this session; start brum with --proxy, or add [proxy] to brum.toml");
        return Ok(ExitCode::from(1));
    }
    if a.client.json {
        print_json(&v);
        return Ok(ExitCode::SUCCESS);
    }
    let rows = v["requests"].as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("no requests{}", if a.status.is_some() { " with that status" } else { " yet" });
    }
    let w = rows.iter().filter_map(|r| r["process"].as_str()).map(str::len).max().unwrap_or(4).max(4);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for r in &rows {
        let time = r["ts"].as_str().and_then(|t| t.get(11..23)).unwrap_or("-");
        let ms = r["duration_ms"].as_f64().unwrap_or(0.0);
        let note = match (r["error"].as_str(), r["upgrade"] == true) {
            (Some(e), _) => format!("  ({e})"),
            (None, true) => "  (upgraded)".into(),
            _ => String::new(),
        };
        let line = writeln!(
            out,
            "{time}  {:w$}  {:<7} {:>3} {:>9.1}ms {:>10}  {}{note}",
            text(&r["process"]),
            text(&r["method"]),
            text(&r["status"]),
            ms,
            text(&r["bytes_out"]),
            text(&r["path"]),
        );
        if line.is_err() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if v["more"].as_u64().unwrap_or(0) > 0 {
        eprintln!("brum: {} more (use -n)", v["more"]);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn reload(sock: &Path, json: bool) -> Res {
    let v = client::call(sock, &json!({"cmd": "reload"}))?;
    let list = |k: &str| -> Vec<String> {
        v[k].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
    };
    // a plugin that refused its new settings is a failed part of the reload
    let code = if list("refused").is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) };
    if json {
        print_json(&v);
        return Ok(code);
    }
    let (changed, added, removed) = (list("changed"), list("added"), list("removed"));
    if changed.is_empty() && added.is_empty() && removed.is_empty() {
        println!("no process changed ({} as they were)", v["unchanged"]);
    }
    for (what, l) in [
        ("restarted (changed)", changed),
        ("added", added),
        ("stopped (removed)", removed),
        ("plugins given their new settings", list("reconfigured")),
        ("not applied until brum starts again (`brum down`, then run it again)", list("restart_needed")),
    ] {
        if !l.is_empty() {
            println!("{what}: {}", l.join(", "));
        }
    }
    for r in list("refused") {
        eprintln!("brum: refused: {r}");
    }
    Ok(code)
}

pub fn lifecycle(sock: &Path, cmd: &str, name: &str, json: bool) -> Res {
    let v = client::call(sock, &json!({"cmd": cmd, "process": name}))?;
    if json {
        print_json(&v);
    } else {
        match cmd {
            "start" => println!("{name} started (pid {})", text(&v["pid"])),
            "stop" => println!("{name} is stopping"),
            _ => println!("{name} is restarting"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(sock: &Path, json: bool) -> Res {
    match client::call(sock, &json!({"cmd": "hello"})) {
        Ok(v) => {
            if json {
                print_json(&v);
            } else {
                let n = v["processes"].as_array().map_or(0, Vec::len);
                println!(
                    "brum {} is running here: pid {}, up {}, {n} processes, socket {}",
                    text(&v["version"]),
                    v["pid"],
                    ms(&v["uptime_ms"]),
                    text(&v["socket"])
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(ClientError::NotRunning(p)) => {
            if json {
                print_json(&json!({"running": false, "socket": p.display().to_string()}));
            } else {
                println!("no brum is running here ({} does not answer)", p.display());
            }
            Ok(ExitCode::from(3))
        }
        Err(e) => Err(e),
    }
}

/// `brum down`: asks for a graceful shutdown and waits until brum (and
/// with it every process it ran) is gone.
pub fn down(sock: &Path, json: bool) -> Res {
    let v = client::call(sock, &json!({"cmd": "shutdown"}))?;
    let pid = v["pid"].as_i64().unwrap_or(0) as i32;
    let start = Instant::now();
    // brum waits for its processes' stop timeouts; give it time
    while start.elapsed() < Duration::from_secs(120) {
        // SAFETY: signal 0 only checks existence.
        let alive = pid > 0 && unsafe { libc::kill(pid, 0) } == 0 && !is_zombie(pid);
        if !alive && !sock.exists() {
            if json {
                print_json(&json!({"stopped": true, "pid": pid}));
            } else {
                println!("brum (pid {pid}) stopped, and everything it ran");
            }
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("brum: pid {pid} is still running after 120 s");
    Ok(ExitCode::from(1))
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .unwrap_or(true)
}
