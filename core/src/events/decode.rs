//! From an NDJSON event back to an [`Event`], so that `brum tail` renders
//! exactly what `brum run` prints: one renderer ([`super::human`]) for both.
//! Strings are borrowed from the parsed JSON; what needs owning (base64
//! line bytes, a finding's fields, summary rows, a browser error's frames)
//! lives in a [`Scratch`].
//! Events of a type this version does not know are rendered generically.

use std::io::Write;

use serde_json::Value;

use super::human::{self, HumanStyle};
use super::{BrowserFrame, EndState, Event, FindingView, ProcRef, SummaryRow, parse_signal};
use crate::store::Stream;

/// Owned parts of one decoded event.
#[derive(Debug, Default)]
pub struct Scratch {
    bytes: Vec<u8>,
    fields: Vec<(String, String)>,
    urls: Vec<Vec<String>>,
    frames: Vec<BrowserFrame>,
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

fn opt_i32(v: &Value, k: &str) -> Option<i32> {
    v[k].as_i64().map(|x| x as i32)
}

fn base64_decode(text: &str, out: &mut Vec<u8>) {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter_map(val) {
        acc = (acc << 6) | u32::from(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
}

/// Renders the JSON event `v` as `brum run` would have printed it.
/// `index_of` gives a process's index (its colour).
pub fn render(
    v: &Value,
    style: HumanStyle,
    index_of: &dyn Fn(&str) -> usize,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) {
    let name = s(v, "process");
    let pr = ProcRef { name, index: index_of(name) };
    let ty = s(v, "type");
    let ev = match ty {
        "daemon.started" | "daemon.stopped" | "plugin.loaded" => return,
        "process.started" => Event::ProcessStarted {
            process: pr,
            pid: n(v, "pid") as u32,
            command: s(v, "command"),
            restart: n(v, "restart") as u32,
            run: n(v, "run") as u32,
        },
        "log.line" => {
            let line: &[u8] = match v["text"].as_str() {
                Some(t) => t.as_bytes(),
                None => {
                    scratch.bytes.clear();
                    base64_decode(s(v, "bytes"), &mut scratch.bytes);
                    &scratch.bytes
                }
            };
            Event::LogLine {
                process: pr,
                stream: if v["stream"] == "stderr" { Stream::Stderr } else { Stream::Stdout },
                line,
                truncated: v["truncated"] == true,
                boost: v["boost"] == true,
                tag: v["tag"].as_str(),
            }
        }
        "process.exited" => Event::ProcessExited {
            process: pr,
            pid: v["pid"].as_u64().map(|p| p as u32),
            code: opt_i32(v, "code"),
            signal: v["signal"].as_str().and_then(parse_signal),
            duration_ms: n(v, "duration_ms"),
            state: match s(v, "state") {
                "success" => EndState::Success,
                "stopped" => EndState::Stopped,
                _ => EndState::Failed,
            },
            error: v["error"].as_str(),
            run: n(v, "run") as u32,
        },
        "process.restarting" => {
            Event::ProcessRestarting { process: pr, attempt: n(v, "attempt") as u32, delay_ms: n(v, "delay_ms") }
        }
        "log.dropped" => Event::LogDropped {
            process: v["process"].is_string().then_some(pr),
            count: n(v, "count"),
            total: n(v, "total"),
            reason: s(v, "reason"),
        },
        "daemon.stopping" => Event::DaemonStopping { reason: s(v, "reason") },
        "plugin.failed" => Event::PluginFailed {
            plugin: s(v, "plugin"),
            reason: s(v, "reason"),
            action: s(v, "action"),
            failures: n(v, "failures") as u32,
            retry_ms: n(v, "retry_ms"),
        },
        "plugin.log" => Event::PluginLog { plugin: s(v, "plugin"), text: s(v, "text") },
        "plugin.skipped" => Event::PluginSkipped {
            plugin: s(v, "plugin"),
            count: n(v, "count"),
            given: n(v, "given"),
            reason: s(v, "reason"),
        },
        "config.error" => Event::ConfigError {
            file: s(v, "file"),
            line: v["line"].as_u64().map(|x| x as usize),
            column: v["column"].as_u64().map(|x| x as usize),
            key: v["key"].as_str(),
            message: s(v, "message"),
        },
        "output.failed" => Event::OutputFailed { error: s(v, "error") },
        "client.dropped" => Event::ClientDropped { queued_bytes: n(v, "queued_bytes"), reason: s(v, "reason") },
        "process.orphans_killed" => Event::OrphansKilled {
            process: name,
            pgid: n(v, "pgid") as u32,
            signal: v["signal"].as_str().and_then(parse_signal).unwrap_or(libc::SIGTERM),
        },
        "error.resolved" => {
            Event::ErrorResolved { process: pr, id: n(v, "id"), fingerprint: 0, reason: s(v, "reason") }
        }
        "process.ready" => Event::ProcessReady {
            process: pr,
            probe: s(v, "probe"),
            after_ms: n(v, "after_ms"),
            run: n(v, "run") as u32,
        },
        "process.unready" => Event::ProcessUnready {
            process: pr,
            probe: s(v, "probe"),
            reason: s(v, "reason"),
            waited_ms: n(v, "waited_ms"),
        },
        "process.unhealthy" => {
            Event::ProcessUnhealthy { process: pr, probe: s(v, "probe"), failures: n(v, "failures") as u32 }
        }
        "process.blocked" => {
            Event::ProcessBlocked { process: pr, dependency: s(v, "dependency"), reason: s(v, "reason") }
        }
        "browser.error" => Event::BrowserError {
            process: pr,
            kind: s(v, "kind"),
            page: s(v, "page"),
            message: s(v, "message"),
            stack: s(v, "stack"),
            file: v["file"].as_str(),
            line: v["line"].as_u64().map(|x| x as u32),
            col: v["col"].as_u64().map(|x| x as u32),
            frames: {
                scratch.frames.clear();
                for f in v["frames"].as_array().map_or(&[][..], Vec::as_slice) {
                    scratch.frames.push(BrowserFrame {
                        file: s(f, "file").to_string(),
                        line: n(f, "line") as u32,
                        col: n(f, "col") as u32,
                        served: s(f, "served").to_string(),
                    });
                }
                &scratch.frames
            },
        },
        "browser.console" => {
            Event::BrowserConsole { process: pr, level: s(v, "level"), message: s(v, "message"), page: s(v, "page") }
        }
        "browser.page" => Event::BrowserPage {
            process: pr,
            url: s(v, "url"),
            title: v["title"].as_str(),
            load_ms: v["load_ms"].as_u64(),
        },
        "error.detected" | "url.detected" | "build.event" | "test.passed" | "test.failed" | "finding" => {
            return finding(v, ty, pr, style, scratch, out);
        }
        "run.summary" => return summary(v, style, index_of, scratch, out),
        "proxy.started" => Event::ProxyStarted { process: pr, url: s(v, "url"), proxy_url: s(v, "proxy_url") },
        "proxy.skipped" => Event::ProxySkipped { process: pr, url: s(v, "url"), reason: s(v, "reason") },
        "proxy.inject_skipped" => Event::ProxyInjectSkipped { process: pr, path: s(v, "path"), reason: s(v, "reason") },
        "proxy.source_map" => Event::ProxySourceMap {
            process: pr,
            script: s(v, "script"),
            map: s(v, "map"),
            bytes: n(v, "bytes"),
            error: v["error"].as_str(),
        },
        "proxy.request" => Event::ProxyRequest {
            process: pr,
            method: s(v, "method"),
            path: s(v, "path"),
            status: n(v, "status") as u16,
            duration_us: (v["duration_ms"].as_f64().unwrap_or(0.0) * 1000.0).round() as u64,
            bytes_in: n(v, "bytes_in"),
            bytes_out: n(v, "bytes_out"),
            upgrade: v["upgrade"] == true,
            error: v["error"].as_str(),
        },
        _ => {
            // a type this version does not know: its name and its fields
            let _ = write!(out, "{} * {ty} {v}", if name.is_empty() { "brum" } else { name });
            out.push(b'\n');
            return;
        }
    };
    human::encode(out, style, &ev);
}

fn finding(v: &Value, ty: &str, pr: ProcRef<'_>, style: HumanStyle, scratch: &mut Scratch, out: &mut Vec<u8>) {
    scratch.fields.clear();
    if let Some(obj) = v["fields"].as_object() {
        for (k, x) in obj {
            scratch.fields.push((k.clone(), x.as_str().map_or_else(|| x.to_string(), str::to_string)));
        }
    }
    let kind = match ty {
        "url.detected" => "url",
        "build.event" => "build",
        "test.passed" | "test.failed" => "test",
        "finding" => "custom",
        _ => v["kind"].as_str().unwrap_or("error"),
    };
    // the top-level fields an encoder lifted out of `fields`
    for k in ["status", "passed", "failed", "skipped", "duration_ms"] {
        if !v[k].is_null() && !scratch.fields.iter().any(|(f, _)| f == k) {
            let x = &v[k];
            scratch.fields.push((k.to_string(), x.as_str().map_or_else(|| x.to_string(), str::to_string)));
        }
    }
    let f = FindingView {
        kind,
        custom_kind: (ty == "finding").then(|| s(v, "kind")),
        severity: v["severity"].as_str().unwrap_or(if ty == "test.failed" { "error" } else { "info" }),
        message: v["message"].as_str().or(v["url"].as_str()).unwrap_or(""),
        first_seq: n(v, "first_seq"),
        last_seq: n(v, "last_seq"),
        file: v["file"].as_str(),
        line: v["line"].as_u64().map(|x| x as u32),
        column: v["column"].as_u64().map(|x| x as u32),
        code: v["code"].as_str(),
        url: v["url"].as_str(),
        language: v["language"].as_str(),
        fields: &scratch.fields,
        fingerprint: 0,
        count: n(v, "count") as u32,
        id: n(v, "id"),
    };
    human::encode(out, style, &Event::Finding { process: pr, plugin: s(v, "plugin"), finding: &f });
}

fn summary(v: &Value, style: HumanStyle, index_of: &dyn Fn(&str) -> usize, scratch: &mut Scratch, out: &mut Vec<u8>) {
    let rows_json = v["processes"].as_array().cloned().unwrap_or_default();
    scratch.urls = rows_json
        .iter()
        .map(|r| {
            r["urls"]
                .as_array()
                .map(|a| a.iter().filter_map(|u| u.as_str().map(String::from)).collect())
                .unwrap_or_default()
        })
        .collect();
    let rows: Vec<SummaryRow<'_>> = rows_json
        .iter()
        .zip(&scratch.urls)
        .map(|(r, urls)| {
            let name = s(r, "process");
            SummaryRow {
                process: ProcRef { name, index: index_of(name) },
                state: s(r, "state"),
                code: opt_i32(r, "code"),
                signal: r["signal"].as_str().and_then(parse_signal),
                duration_ms: n(r, "duration_ms"),
                restarts: n(r, "restarts") as u32,
                errors: n(r, "errors") as u32,
                warnings: n(r, "warnings") as u32,
                browser_errors: n(r, "browser_errors") as u32,
                ready_ms: r["ready_ms"].as_u64(),
                errors_open: n(r, "errors_open") as u32,
                warnings_open: n(r, "warnings_open") as u32,
                resolved: n(r, "resolved") as u32,
                tests_passed: n(r, "tests_passed"),
                tests_failed: n(r, "tests_failed"),
                urls,
            }
        })
        .collect();
    let code = v["exit_code"].as_i64().unwrap_or(0) as i32;
    human::encode(out, style, &Event::RunSummary { rows: &rows, exit_code: code });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Timestamps, json};

    const WEB: ProcRef<'static> = ProcRef { name: "web", index: 0 };

    /// Every event kind, encoded to JSON and decoded, renders exactly as the
    /// event itself does.
    #[test]
    fn decoded_events_render_like_the_originals() {
        let fields = vec![("status".to_string(), "failure".to_string()), ("report".to_string(), "full".to_string())];
        let build = FindingView::new("build", "error", "Found 2 errors.", (3, 4), &fields);
        let err = FindingView {
            kind: "error",
            severity: "error",
            message: "Type 'number' is not assignable",
            file: Some("src/App.tsx"),
            line: Some(9),
            column: Some(9),
            code: Some("TS2322"),
            fields: &[],
            id: 3,
            ..build
        };
        let browser_fields = vec![("source".to_string(), "browser".to_string())];
        let browser = FindingView { fields: &browser_fields, language: Some("javascript"), ..err };
        let urls = vec!["http://localhost:5173/".to_string()];
        let rows = [SummaryRow {
            process: WEB,
            state: "success",
            code: Some(0),
            signal: None,
            duration_ms: 2500,
            restarts: 1,
            errors: 2,
            warnings: 0,
            browser_errors: 1,
            ready_ms: Some(12),
            errors_open: 1,
            warnings_open: 0,
            resolved: 1,
            tests_passed: 3,
            tests_failed: 1,
            urls: &urls,
        }];
        let evs = [
            Event::ProcessStarted { process: WEB, pid: 9, command: "npm run dev", restart: 1, run: 2 },
            Event::LogLine {
                process: WEB,
                stream: Stream::Stderr,
                line: b"\xff oops",
                truncated: true,
                boost: false,
                tag: None,
            },
            Event::ProcessExited {
                process: WEB,
                pid: Some(9),
                code: None,
                signal: Some(libc::SIGKILL),
                duration_ms: 1500,
                state: EndState::Stopped,
                error: None,
                run: 2,
            },
            Event::Finding { process: WEB, plugin: "errors", finding: &build },
            Event::Finding { process: WEB, plugin: "errors", finding: &err },
            Event::ProcessReady { process: WEB, probe: "tcp", after_ms: 1200, run: 1 },
            Event::ErrorResolved { process: WEB, id: 3, fingerprint: 7, reason: "rebuilt clean" },
            Event::RunSummary { rows: &rows, exit_code: 1 },
            Event::DaemonStopping { reason: "SIGTERM" },
            Event::Finding { process: WEB, plugin: "browser", finding: &browser },
            Event::BrowserError {
                process: WEB,
                kind: "exception",
                page: "http://h/",
                message: "Uncaught TypeError: x",
                stack: "TypeError: x\n    at f (http://h/a.js:1:2)",
                file: Some("a.js"),
                line: Some(1),
                col: Some(2),
                frames: &[],
            },
            Event::BrowserConsole { process: WEB, level: "error", message: "bad\nsecond line", page: "http://h/" },
            Event::BrowserConsole { process: WEB, level: "warn", message: "careful", page: "http://h/" },
            Event::BrowserPage { process: WEB, url: "http://h/", title: Some("Demo"), load_ms: Some(312) },
            Event::BrowserPage { process: WEB, url: "http://h/", title: None, load_ms: None },
            Event::PluginSkipped { plugin: "slow", count: 12, given: 4096, reason: "ring_evicted" },
            Event::ConfigError {
                file: "brum.toml",
                line: Some(7),
                column: Some(1),
                key: Some("plugin.x"),
                message: "no plugin is named `x`",
            },
            Event::ProxyStarted { process: WEB, url: "http://localhost:5173/", proxy_url: "http://127.0.0.1:20888/" },
            Event::ProxySkipped { process: WEB, url: "https://localhost/", reason: "https" },
            Event::ProxyInjectSkipped { process: WEB, path: "/", reason: "script-src 'none'" },
            Event::ProxySourceMap { process: WEB, script: "/app.js", map: "/app.js.map", bytes: 812, error: None },
            Event::ProxySourceMap {
                process: WEB,
                script: "/app.js",
                map: "/app.js.map",
                bytes: 0,
                error: Some("the dev server answered 404"),
            },
            Event::ProxyRequest {
                process: WEB,
                method: "POST",
                path: "/api",
                status: 502,
                duration_us: 12_345,
                bytes_in: 1,
                bytes_out: 2,
                upgrade: false,
                error: Some("connection refused"),
            },
        ];
        for color in [false, true] {
            let style = HumanStyle { color, width: 5 };
            for ev in &evs {
                let mut want = Vec::new();
                human::encode(&mut want, style, ev);
                let mut js = Vec::new();
                json::encode(&mut js, &mut Timestamps::new(), 7, 0, ev);
                let v: Value = serde_json::from_slice(&js).expect("json");
                let mut got = Vec::new();
                render(&v, style, &|_| 0, &mut Scratch::default(), &mut got);
                assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "{v}");
            }
        }
    }
}
