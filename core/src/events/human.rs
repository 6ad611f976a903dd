//! Readable output for a terminal or a CI log:
//!
//! ```text
//! web | VITE v5.4.0  ready in 312 ms      (stdout)
//! api ! Error: connect ECONNREFUSED       (stderr)
//! api * exited with code 1 after 2.31s    (brum's own lines)
//! ```
//!
//! Names are padded to a common width; with colour on, each process gets a
//! stable colour from its index. Line bytes are written as the child printed
//! them (no lossy conversion).

use std::io::Write;

use super::{EndState, Event, ProcRef, SummaryRow, signal_name};
use crate::store::Stream;

/// How human output looks.
#[derive(Debug, Clone, Copy)]
pub struct HumanStyle {
    pub color: bool,
    /// Width names are padded to.
    pub width: usize,
}

const PALETTE: [&[u8]; 6] = [b"\x1b[36m", b"\x1b[33m", b"\x1b[32m", b"\x1b[35m", b"\x1b[34m", b"\x1b[96m"];
const RESET: &[u8] = b"\x1b[0m";

fn prefix(out: &mut Vec<u8>, style: HumanStyle, name: &str, index: Option<usize>, mark: u8) {
    if style.color {
        out.extend_from_slice(match index {
            Some(i) => PALETTE[i % PALETTE.len()],
            None => b"\x1b[1m",
        });
    }
    out.extend_from_slice(name.as_bytes());
    for _ in name.chars().count()..style.width {
        out.push(b' ');
    }
    if style.color {
        out.extend_from_slice(RESET);
    }
    out.push(b' ');
    match (style.color, mark) {
        (true, b'!') => out.extend_from_slice(b"\x1b[31m!\x1b[0m"),
        (true, b'*') => out.extend_from_slice(b"\x1b[2m*"),
        _ => out.push(mark),
    }
    out.push(b' ');
}

fn lifecycle(out: &mut Vec<u8>, style: HumanStyle, p: ProcRef<'_>) {
    prefix(out, style, p.name, Some(p.index), b'*');
}

fn end(out: &mut Vec<u8>, style: HumanStyle) {
    if style.color {
        out.extend_from_slice(RESET);
    }
    out.push(b'\n');
}

fn plural(n: u32, w: &str) -> String {
    if n == 1 { format!("1 {w}") } else { format!("{n} {w}s") }
}

/// Formats a duration the way people read it: `850ms`, `2.31s`, `3m05s`.
pub fn push_duration(out: &mut Vec<u8>, ms: u64) {
    let _ = if ms < 1000 {
        write!(out, "{ms}ms")
    } else if ms < 60_000 {
        write!(out, "{}.{:02}s", ms / 1000, ms % 1000 / 10)
    } else {
        write!(out, "{}m{:02}s", ms / 60_000, ms % 60_000 / 1000)
    };
}

/// Colours of brum's notes, by meaning (one palette for every note).
const RED: &[u8] = b"\x1b[22;1;31m";
const YELLOW: &[u8] = b"\x1b[22;33m";
const GREEN: &[u8] = b"\x1b[22;32m";
const CYAN: &[u8] = b"\x1b[22;1;36m";

/// Appends a child's line, leaving out what would wipe or redraw the whole
/// terminal (`tsc --watch` clears the screen on every recompile, erasing
/// every other process's output): erase-display (`ESC [ … J`), cursor
/// positioning (`ESC [ … H` / `f`) and full reset (`ESC c`). Colours and
/// everything else pass.
pub fn push_line_for_screen(out: &mut Vec<u8>, line: &[u8]) {
    if memchr::memchr(0x1b, line).is_none() {
        out.extend_from_slice(line);
        return;
    }
    let mut i = 0;
    while i < line.len() {
        if line[i] == 0x1b {
            if line.get(i + 1) == Some(&b'c') {
                i += 2;
                continue;
            }
            if line.get(i + 1) == Some(&b'[') {
                let mut j = i + 2;
                while j < line.len() && (0x30..=0x3f).contains(&line[j]) {
                    j += 1;
                }
                if matches!(line.get(j), Some(b'J' | b'H' | b'f')) {
                    i = j + 1;
                    continue;
                }
            }
        }
        out.push(line[i]);
        i += 1;
    }
}

/// Appends the human form of `ev` (possibly nothing) to `out`; children's
/// screen-clearing sequences are left out of their lines.
pub fn encode(out: &mut Vec<u8>, style: HumanStyle, ev: &Event<'_>) {
    encode_opts(out, style, ev, false);
}

/// [`encode`], with `raw_terminal`: a child's line goes out byte for byte,
/// screen-clearing sequences included (`raw_terminal = true`).
pub fn encode_opts(out: &mut Vec<u8>, style: HumanStyle, ev: &Event<'_>, raw_terminal: bool) {
    match *ev {
        Event::LogLine { process, stream, line, boost, tag, truncated } => {
            let mark = match stream {
                Stream::Stdout => b'|',
                Stream::Stderr => b'!',
            };
            prefix(out, style, process.name, Some(process.index), mark);
            if let Some(t) = tag {
                let _ = write!(out, "[{t}] ");
            }
            if boost && style.color {
                out.extend_from_slice(b"\x1b[1m");
            }
            if raw_terminal {
                out.extend_from_slice(line);
            } else {
                push_line_for_screen(out, line);
            }
            if boost && style.color {
                out.extend_from_slice(RESET);
            }
            if truncated {
                // the line goes on in the next one (cut at max_line_bytes)
                out.extend_from_slice(if style.color { "\x1b[2m…\x1b[0m".as_bytes() } else { "…".as_bytes() });
            }
            out.push(b'\n');
        }
        Event::Finding { process, finding: f, .. } => {
            lifecycle(out, style, process);
            let colour: &[u8] = match f.event_type() {
                "error.detected" if f.kind == "warning" => YELLOW,
                "error.detected" | "test.failed" => RED,
                "url.detected" => CYAN,
                "build.event" if f.field("status") == Some("failure") || f.severity == "error" => RED,
                "build.event" if f.severity == "warning" => YELLOW,
                "test.passed" | "build.event" => GREEN,
                _ => b"\x1b[22m",
            };
            if style.color {
                out.extend_from_slice(colour);
            }
            match f.event_type() {
                "error.detected" => {
                    let what = if f.kind == "warning" { "warning" } else { "error" };
                    let _ = write!(out, "{what}: {}", f.message);
                    if let Some(file) = f.file {
                        let _ = write!(out, " ({file}");
                        if let Some(l) = f.line {
                            let _ = write!(out, ":{l}");
                            if let Some(c) = f.column {
                                let _ = write!(out, ":{c}");
                            }
                        }
                        out.push(b')');
                    }
                }
                "url.detected" => {
                    let _ = write!(out, "url: {}", f.url.unwrap_or(f.message));
                }
                "test.passed" | "test.failed" => {
                    let n = |k| f.field(k).unwrap_or("0");
                    let _ =
                        write!(out, "tests: {} passed, {} failed, {} skipped", n("passed"), n("failed"), n("skipped"));
                }
                "build.event" => {
                    let _ = write!(out, "build {}: {}", f.field("status").unwrap_or("finished"), f.message);
                }
                _ => {
                    let _ = write!(out, "{}: {}", f.custom_kind.unwrap_or(f.kind), f.message);
                }
            }
            end(out, style);
        }
        Event::PluginFailed { plugin, reason, action, retry_ms, .. } => {
            prefix(out, style, "brum", None, b'*');
            let _ = write!(out, "plugin {plugin}: {reason}");
            match action {
                "restarting" => {
                    let _ = write!(out, " (restarting in {retry_ms}ms)");
                }
                "disabled" => out.extend_from_slice(b" (disabled after repeated failures)"),
                _ => out.extend_from_slice(b" (not loaded)"),
            }
            end(out, style);
        }
        Event::PluginLog { plugin, text } => {
            prefix(out, style, "brum", None, b'*');
            let _ = write!(out, "[{plugin}] {text}");
            end(out, style);
        }
        Event::PluginSkipped { plugin, count, given, reason } => {
            prefix(out, style, "brum", None, b'*');
            let why = match reason {
                "catch_up_limit" => "more than it may catch up on",
                "failed" => "it failed while catching up",
                _ => "pushed out of the process rings before it was ready",
            };
            let _ = write!(
                out,
                "plugin {plugin} was given {given} lines it missed while compiling; {count} more it will never see ({why})"
            );
            end(out, style);
        }
        Event::ConfigError { file, line, column, key, message } => {
            prefix(out, style, "brum", None, b'*');
            let _ = write!(out, "{file}");
            if let Some(l) = line {
                let _ = write!(out, ":{l}");
                if let Some(c) = column {
                    let _ = write!(out, ":{c}");
                }
            }
            let _ = match key {
                Some(k) => write!(out, ": {k}: {message}"),
                None => write!(out, ": {message}"),
            };
            end(out, style);
        }
        Event::PluginLoaded { .. } => {}
        Event::OutputFailed { error } => {
            prefix(out, style, "brum", None, b'*');
            let _ = write!(out, "cannot write the event output: {error}");
            end(out, style);
        }
        Event::ClientDropped { queued_bytes, .. } => {
            prefix(out, style, "brum", None, b'*');
            let _ = write!(out, "a control client stopped reading and was disconnected ({queued_bytes} bytes queued)");
            end(out, style);
        }
        Event::RunSummary { rows, exit_code } => summary(out, style, rows, exit_code),
        Event::ProcessStarted { process, pid, command, restart, .. } => {
            lifecycle(out, style, process);
            let _ = if restart == 0 {
                write!(out, "started (pid {pid}): {command}")
            } else {
                write!(out, "restarted (#{restart}, pid {pid}): {command}")
            };
            end(out, style);
        }
        Event::ProcessExited { process, code, signal, duration_ms, state, error, .. } => {
            lifecycle(out, style, process);
            if let Some(e) = error {
                let _ = write!(out, "failed to start: {e}");
            } else {
                match (state, code, signal) {
                    (EndState::Stopped, _, Some(s)) => {
                        let _ = write!(out, "stopped ({})", signal_name(s));
                    }
                    (EndState::Stopped, Some(c), None) => {
                        let _ = write!(out, "stopped (exit code {c})");
                    }
                    (_, Some(c), _) => {
                        let _ = write!(out, "exited with code {c}");
                    }
                    (_, None, Some(s)) => {
                        let _ = write!(out, "killed by {}", signal_name(s));
                    }
                    (_, None, None) => out.extend_from_slice(b"ended"),
                }
                out.extend_from_slice(b" after ");
                push_duration(out, duration_ms);
            }
            end(out, style);
        }
        Event::ProcessRestarting { process, attempt, delay_ms } => {
            lifecycle(out, style, process);
            out.extend_from_slice(b"restarting in ");
            push_duration(out, delay_ms);
            let _ = write!(out, " (attempt {attempt})");
            end(out, style);
        }
        // the in-memory ring is history for the control socket: readable
        // output had every line, so its evictions are not news here
        Event::LogDropped { reason: "ring_evicted", .. } => {}
        Event::LogDropped { process, count, reason, .. } => {
            match process {
                Some(p) => lifecycle(out, style, p),
                None => prefix(out, style, "brum", None, b'*'),
            }
            let _ = write!(out, "{count} lines dropped ({reason})");
            end(out, style);
        }
        Event::OrphansKilled { process, pgid, signal } => {
            prefix(out, style, "brum", None, b'*');
            let _ = write!(
                out,
                "ended what a killed session left running: {process} (process group {pgid}, {})",
                signal_name(signal)
            );
            end(out, style);
        }
        Event::DaemonReloaded { changed, added, removed, restart_needed, reconfigured, refused } => {
            prefix(out, style, "brum", None, b'*');
            out.extend_from_slice(b"reloaded brum.toml:");
            let mut any = false;
            for (what, list) in [
                ("changed", changed),
                ("added", added),
                ("removed", removed),
                ("plugins given new settings", reconfigured),
                ("refused by their plugins", refused),
                ("not applied until brum starts again", restart_needed),
            ] {
                if !list.is_empty() {
                    let _ = write!(out, " {what} {};", list.join(", "));
                    any = true;
                }
            }
            if any {
                out.pop();
            } else {
                out.extend_from_slice(b" nothing changed");
            }
            end(out, style);
        }
        Event::ProcessGaveUp { process, restarts } => {
            lifecycle(out, style, process);
            let _ = write!(out, "giving up after {} (max_restarts)", plural(restarts, "restart"));
            end(out, style);
        }
        Event::ProcessReady { process, probe, after_ms, .. } => {
            lifecycle(out, style, process);
            let _ = write!(out, "ready ({probe}) after ");
            push_duration(out, after_ms);
            end(out, style);
        }
        Event::ProcessUnready { process, probe, reason, .. } => {
            lifecycle(out, style, process);
            let _ = write!(out, "not ready ({probe}): {reason}");
            end(out, style);
        }
        Event::ProcessUnhealthy { process, probe, failures } => {
            lifecycle(out, style, process);
            let _ = write!(out, "unhealthy: {probe} check failed {failures} times in a row");
            end(out, style);
        }
        Event::ProcessBlocked { process, dependency, reason } => {
            lifecycle(out, style, process);
            let _ = write!(out, "not started: waits for {dependency}, which {reason}");
            end(out, style);
        }
        Event::ErrorResolved { process, id, reason, .. } => {
            lifecycle(out, style, process);
            let _ = write!(out, "error #{id} resolved ({reason})");
            end(out, style);
        }
        Event::DaemonStopping { reason } => {
            prefix(out, style, "brum", None, b'*');
            let _ = write!(out, "stopping everything ({reason})");
            end(out, style);
        }
        Event::ProxyStarted { process, url, proxy_url } => {
            lifecycle(out, style, process);
            if style.color {
                out.extend_from_slice(CYAN);
            }
            let _ = write!(out, "proxy: {proxy_url} → {url}");
            end(out, style);
        }
        Event::ProxySkipped { process, url, reason } => {
            lifecycle(out, style, process);
            let _ = write!(out, "no proxy for {url}: {reason}");
            end(out, style);
        }
        Event::ProxyInjectSkipped { process, path, reason } => {
            lifecycle(out, style, process);
            let _ = write!(out, "no browser telemetry in {path}: {reason}");
            end(out, style);
        }
        // a map that arrived is no news; one that did not explains why
        // errors in its script point at the bundle
        Event::ProxySourceMap { error: None, .. } => {}
        Event::ProxySourceMap { process, script, map, error: Some(e), .. } => {
            lifecycle(out, style, process);
            let _ = write!(out, "no source map for {script} ({map}: {e}): its errors are placed in the served file");
            end(out, style);
        }
        // what the dev server answered is for `brum requests` (a 404 for a
        // favicon is no news); its failures show
        Event::ProxyRequest { status, error: None, .. } if status < 500 => {}
        Event::ProxyRequest { process, method, path, status, duration_us, error, .. } => {
            lifecycle(out, style, process);
            if style.color {
                out.extend_from_slice(RED);
            }
            let _ = write!(out, "{method} {path} → {status} in ");
            push_duration(out, duration_us / 1000);
            if let Some(e) = error {
                let _ = write!(out, ": {e}");
            }
            end(out, style);
        }
        // its error.detected, which follows, is the readable line
        Event::BrowserError { .. } => {}
        Event::BrowserConsole { process, level, message, .. } => {
            lifecycle(out, style, process);
            if style.color {
                out.extend_from_slice(if level == "error" { RED } else { YELLOW });
            }
            let _ = write!(out, "console.{level}: ");
            first_line(out, message);
            end(out, style);
        }
        Event::BrowserPage { process, url, title, load_ms } => {
            lifecycle(out, style, process);
            let _ = write!(out, "page loaded: {url}");
            if let Some(t) = title.filter(|t| !t.is_empty()) {
                out.extend_from_slice(b" \"");
                first_line(out, t);
                out.push(b'"');
            }
            if let Some(ms) = load_ms {
                out.extend_from_slice(b" in ");
                push_duration(out, ms);
            }
            end(out, style);
        }
        Event::DaemonStarted { .. } | Event::DaemonStopped { .. } => {}
    }
}

/// The first line of `text` (a page's message can be a whole stack), with
/// how many more there were.
fn first_line(out: &mut Vec<u8>, text: &str) {
    let mut lines = text.lines();
    out.extend_from_slice(lines.next().unwrap_or("").as_bytes());
    let more = lines.count();
    if more > 0 {
        let _ = write!(out, " (+{more} lines)");
    }
}

/// The end-of-run table: one row per process.
fn summary(out: &mut Vec<u8>, style: HumanStyle, rows: &[SummaryRow<'_>], exit_code: i32) {
    prefix(out, style, "brum", None, b'*');
    let _ = write!(out, "summary (exit code {exit_code})");
    end(out, style);
    for r in rows {
        prefix(out, style, r.process.name, Some(r.process.index), b'*');
        let _ = write!(out, "{:<8}", r.state);
        let exit = match (r.code, r.signal) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => signal_name(s).to_string(),
            (None, None) => "-".to_string(),
        };
        let _ = write!(out, " {exit:<9} ");
        let mut d = Vec::new();
        push_duration(&mut d, r.duration_ms);
        let _ = write!(out, "{:>8}", String::from_utf8_lossy(&d));
        let _ = write!(out, "  {:<9} {:<11}", plural(r.errors_open, "error"), plural(r.warnings_open, "warning"));
        if r.resolved > 0 {
            let _ = write!(out, " ({} fixed)", r.resolved);
        }
        if r.browser_errors > 0 {
            let _ = write!(out, " ({} in the browser)", r.browser_errors);
        }
        if r.restarts > 0 {
            let _ = write!(out, " {}", plural(r.restarts, "restart"));
        }
        if let Some(ms) = r.ready_ms {
            let mut d = Vec::new();
            push_duration(&mut d, ms);
            let _ = write!(out, " ready in {}", String::from_utf8_lossy(&d));
        }
        if r.tests_passed + r.tests_failed > 0 {
            let _ = write!(out, " tests {} passed, {} failed", r.tests_passed, r.tests_failed);
        }
        for u in r.urls {
            let _ = write!(out, " {u}");
        }
        while out.last() == Some(&b' ') {
            out.pop();
        }
        end(out, style);
    }
}

#[cfg(test)]
#[path = "human_tests.rs"]
mod tests;
