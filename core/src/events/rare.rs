//! The JSON bodies of the rare event kinds (everything but `log.line`, the
//! findings and `proxy.request`, whose hand-written encoders are on the
//! measured hot path),
//! built with serde: each is the ordered list of its fields as
//! `serde_json::Value`s. [`super::json::encode`] writes the common header
//! (`seq`, `ts`, `type`) and then these fields; the goldens in `json.rs` pin
//! the result.

use serde_json::{Map, Value, json};

use super::{Event, signal_name};

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The fields of a rare event, in wire order; `None` for `log.line` and
/// findings (encoded by hand).
pub fn body(ev: &Event<'_>) -> Option<Map<String, Value>> {
    let sig = |s: Option<i32>| s.map(signal_name);
    let m = match *ev {
        Event::LogLine { .. } | Event::Finding { .. } | Event::ProxyRequest { .. } => return None,
        Event::DaemonStarted { pid, cwd, processes } => json!({
            "pid": pid,
            "version": env!("CARGO_PKG_VERSION"),
            "schema": super::SCHEMA_VERSION,
            "cwd": cwd,
            "processes": processes,
        }),
        Event::ProcessStarted { process, pid, command, restart, run } => json!({
            "process": process.name, "pid": pid, "command": command, "restart": restart, "run": run,
        }),
        Event::ProcessExited { process, pid, code, signal, duration_ms, state, error, run } => {
            let mut m = obj(json!({
                "process": process.name,
                "pid": pid,
                "code": code,
                "signal": sig(signal),
                "duration_ms": duration_ms,
                "state": state.as_str(),
                "run": run,
            }));
            if let Some(e) = error {
                m.insert("error".into(), e.into());
            }
            return Some(m);
        }
        Event::ProcessRestarting { process, attempt, delay_ms } => {
            json!({ "process": process.name, "attempt": attempt, "delay_ms": delay_ms })
        }
        Event::LogDropped { process, count, total, reason } => {
            let mut m = Map::new();
            if let Some(p) = process {
                m.insert("process".into(), p.name.into());
            }
            m.insert("count".into(), count.into());
            m.insert("total".into(), total.into());
            m.insert("reason".into(), reason.into());
            return Some(m);
        }
        Event::OrphansKilled { process, pgid, signal } => {
            json!({ "process": process, "pgid": pgid, "signal": signal_name(signal) })
        }
        Event::DaemonReloaded { changed, added, removed, restart_needed, reconfigured, refused } => {
            json!({
                "changed": changed,
                "added": added,
                "removed": removed,
                "restart_needed": restart_needed,
                "reconfigured": reconfigured,
                "refused": refused,
            })
        }
        Event::ProcessGaveUp { process, restarts } => json!({ "process": process.name, "restarts": restarts }),
        Event::ProcessReady { process, probe, after_ms, run } => {
            json!({ "process": process.name, "probe": probe, "after_ms": after_ms, "run": run })
        }
        Event::ProcessUnready { process, probe, reason, waited_ms } => {
            json!({ "process": process.name, "probe": probe, "reason": reason, "waited_ms": waited_ms })
        }
        Event::ProcessUnhealthy { process, probe, failures } => {
            json!({ "process": process.name, "probe": probe, "failures": failures })
        }
        Event::ProcessBlocked { process, dependency, reason } => {
            json!({ "process": process.name, "dependency": dependency, "reason": reason })
        }
        Event::ErrorResolved { process, id, fingerprint, reason } => json!({
            "process": process.name, "id": id, "fingerprint": format!("{fingerprint:016x}"), "reason": reason,
        }),
        Event::DaemonStopping { reason } => json!({ "reason": reason }),
        Event::DaemonStopped { exit_code } => json!({ "exit_code": exit_code }),
        Event::PluginLoaded { plugin, version, source, filter, cached, load_ms } => json!({
            "plugin": plugin, "version": version, "source": source, "filter": filter, "cached": cached, "load_ms": load_ms,
        }),
        Event::PluginFailed { plugin, reason, action, failures, retry_ms } => json!({
            "plugin": plugin, "reason": reason, "action": action, "failures": failures, "retry_ms": retry_ms,
        }),
        Event::PluginLog { plugin, text } => json!({ "plugin": plugin, "text": text }),
        Event::PluginSkipped { plugin, count, given, reason } => {
            json!({ "plugin": plugin, "count": count, "given": given, "reason": reason })
        }
        Event::ConfigError { file, line, column, key, message } => {
            json!({ "file": file, "line": line, "column": column, "key": key, "message": message })
        }
        Event::OutputFailed { error } => json!({ "error": error }),
        Event::ClientDropped { queued_bytes, reason } => json!({ "reason": reason, "queued_bytes": queued_bytes }),
        Event::ProxyStarted { process, url, proxy_url } => {
            json!({ "process": process.name, "url": url, "proxy_url": proxy_url })
        }
        Event::ProxySkipped { process, url, reason } => {
            json!({ "process": process.name, "url": url, "reason": reason })
        }
        Event::ProxyInjectSkipped { process, path, reason } => {
            json!({ "process": process.name, "path": path, "reason": reason })
        }
        Event::ProxySourceMap { process, script, map, bytes, error } => {
            let mut m = obj(json!({ "process": process.name, "script": script, "map": map, "bytes": bytes }));
            if let Some(e) = error {
                m.insert("error".into(), e.into());
            }
            return Some(m);
        }
        Event::BrowserError { process, kind, page, message, stack, file, line, col, frames } => json!({
            "process": process.name, "kind": kind, "page": page, "message": message, "stack": stack,
            "file": file, "line": line, "col": col,
            "frames": frames.iter().map(|f| json!({
                "file": f.file, "line": f.line, "col": f.col, "served": f.served,
            })).collect::<Vec<_>>(),
        }),
        Event::BrowserConsole { process, level, message, page } => {
            json!({ "process": process.name, "level": level, "message": message, "page": page })
        }
        Event::BrowserPage { process, url, title, load_ms } => {
            json!({ "process": process.name, "url": url, "title": title, "load_ms": load_ms })
        }
        Event::RunSummary { rows, exit_code } => {
            let processes: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let mut m = obj(json!({
                        "process": r.process.name,
                        "state": r.state,
                        "code": r.code,
                        "signal": sig(r.signal),
                        "duration_ms": r.duration_ms,
                        "restarts": r.restarts,
                        "errors": r.errors,
                        "warnings": r.warnings,
                    }));
                    if r.browser_errors > 0 {
                        m.insert("browser_errors".into(), r.browser_errors.into());
                    }
                    if let Some(ms) = r.ready_ms {
                        m.insert("ready_ms".into(), ms.into());
                    }
                    for (k, v) in [
                        ("errors_open", json!(r.errors_open)),
                        ("warnings_open", json!(r.warnings_open)),
                        ("resolved", json!(r.resolved)),
                        ("tests_passed", json!(r.tests_passed)),
                        ("tests_failed", json!(r.tests_failed)),
                        ("urls", json!(r.urls)),
                    ] {
                        m.insert(k.into(), v);
                    }
                    Value::Object(m)
                })
                .collect();
            json!({ "exit_code": exit_code, "processes": processes })
        }
    };
    Some(obj(m))
}
