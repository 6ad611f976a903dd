//! What the proxies tell the rest of brum: a `proxy.request` event per
//! finished exchange (kept in the request history too); an `error.detected`
//! with `source: "proxy"` when the dev server failed (a 5xx, or no answer
//! at all — brum's 502), resolved once that request (or, for a server that
//! did not answer, any request) works again; the 502 page's facts; and the
//! answers of `urls`, `ps` and `requests`.

use serde_json::{Value, json};

use super::super::Reactor;
use crate::events::{Event, FindingView, Timestamps, now_ms};
use crate::proxy::fetch;
use crate::proxy::history::{Record, StatusFilter};
use crate::proxy::page::{self, LastError};
use crate::proxy::scripts::{Entry, Found};
use crate::supervise::Exit;
use crate::supervise::child::ChildState;

/// Open errors a proxy tracks to resolve (older ones resolve the other
/// ways errors do).
const MAX_TRACKED: usize = 64;
/// Requests shown by default.
const DEFAULT_LIMIT: usize = 50;

/// What resolves the error of a failed request: the same method and path
/// working again (never 0, which stands for "any request").
fn request_key(method: &str, path: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in method.as_bytes().iter().chain(b" ").chain(path.as_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h | 1
}

fn exit_text(exit: Exit) -> String {
    match exit {
        Exit::Code(c) => format!("exited with code {c}"),
        Exit::Signal(s) => format!("was killed by {}", crate::events::signal_name(s)),
    }
}

impl Reactor {
    /// Publishes connection `slot`'s finished exchange.
    pub(super) fn publish_exchange(&mut self, slot: usize) {
        let Some(px) = self.proxy.as_mut() else { return };
        let Some(conn) = px.conns.get_mut(slot).and_then(Option::as_mut) else { return };
        if let Some((key, found)) = conn.script_map.take() {
            let pidx = conn.proxy;
            match found {
                Found::Inline(tail) => px.scripts.insert(pidx, key, Entry::Inline(tail)),
                Found::External(url) => {
                    // the dev server's own origin, or the proxy's as the
                    // browser saw it (any loopback spelling); never another host
                    let p = &px.proxies[pidx];
                    let own = fetch::proxy_origins(p.port);
                    let origins = [p.target.authority.as_str(), &own[0], &own[1], &own[2]];
                    match fetch::map_path(&key, &url, &origins) {
                        Some(map) => px.scripts.insert_external(pidx, key, map),
                        None => px.scripts.remove(pidx, &key),
                    }
                }
            }
        }
        let pidx = conn.proxy;
        let pi = px.proxies[pidx].process;
        let ex = &conn.ex;
        let duration_us = ex.started.elapsed().as_micros() as u64;
        let seq = self.em.publish(&Event::ProxyRequest {
            process: self.procs[pi].pref(),
            method: &ex.method,
            path: &ex.path,
            status: ex.status,
            duration_us,
            bytes_in: ex.bytes_in,
            bytes_out: ex.bytes_out,
            upgrade: ex.status == 101,
            error: ex.error,
        });
        let mut rec = Record::new(pi, &ex.method, &ex.path, ex.status);
        rec.seq = seq;
        rec.ts_ms = now_ms();
        rec.duration_us = duration_us;
        rec.bytes_in = ex.bytes_in;
        rec.bytes_out = ex.bytes_out;
        rec.upgrade = ex.status == 101;
        rec.error = ex.error;
        px.history.push(rec);
        if let Some(reason) = ex.inject_skipped {
            let said = &mut px.proxies[pidx].inject_skipped;
            if !said.contains(&reason) {
                said.push(reason);
                self.em.publish(&Event::ProxyInjectSkipped { process: self.procs[pi].pref(), path: &ex.path, reason });
            }
        }
        let path = ex.path.split('?').next().unwrap_or("");
        let key = request_key(&ex.method, path);
        let server_failed = !ex.browser_fault && (ex.status >= 500 || ex.error.is_some());
        if server_failed {
            let message = match ex.error {
                Some(e) => format!("{} {path} → {}: {e}", ex.method, ex.status),
                None => format!("{} {path} → {} {}", ex.method, ex.status, crate::proxy::http::reason(ex.status))
                    .trim_end()
                    .to_string(),
            };
            let fields = vec![
                ("source".to_string(), "proxy".to_string()),
                ("method".to_string(), ex.method.clone()),
                ("path".to_string(), path.to_string()),
                ("status".to_string(), ex.status.to_string()),
            ];
            // brum answered (nothing answered at all): any request that
            // works shows the server back
            let key = if ex.error.is_some() { 0 } else { key };
            self.proxy_error(pidx, seq, &message, fields, key);
        } else if (100..500).contains(&ex.status) {
            self.proxy_recovered(pidx, key);
        }
    }

    /// An `error.detected` (`source: "proxy"`) for a failed request,
    /// opened or counted in the error lifecycle.
    fn proxy_error(&mut self, pidx: usize, seq: u64, message: &str, fields: Vec<(String, String)>, key: u64) {
        let Some(pi) = self.proxy.as_ref().map(|px| px.proxies[pidx].process) else { return };
        let code = fields[3].1.clone();
        let mut view =
            FindingView { code: Some(&code), ..FindingView::new("error", "error", message, (seq, seq), &fields) };
        let p = &mut self.procs[pi];
        view.fingerprint = view.compute_fingerprint(&p.spec.name);
        let (id, count) = self.book.seen(pi, view.fingerprint, false, p.child.run, seq);
        view.id = id;
        view.count = count;
        p.stats.errors += 1;
        let ev = Event::Finding { process: self.procs[pi].pref(), plugin: "proxy", finding: &view };
        let seq = self.em.publish(&ev);
        self.scratch.clear();
        crate::events::json::encode(&mut self.scratch, &mut self.book_ts, seq, now_ms(), &ev);
        self.book.set_json(id, &self.scratch);
        if let Some(px) = self.proxy.as_mut() {
            let errors = &mut px.proxies[pidx].errors;
            if !errors.iter().any(|e| e.0 == id) {
                if errors.len() == MAX_TRACKED {
                    errors.remove(0);
                }
                errors.push((id, key));
            }
        }
    }

    /// A request worked: the errors it shows fixed are resolved.
    fn proxy_recovered(&mut self, pidx: usize, key: u64) {
        let Some(px) = self.proxy.as_mut() else { return };
        let errors = &mut px.proxies[pidx].errors;
        if !errors.iter().any(|&(_, k)| k == 0 || k == key) {
            return;
        }
        let mut resolved = Vec::new();
        errors.retain(|&(id, k)| {
            if k == 0 || k == key {
                resolved.push(id);
                return false;
            }
            true
        });
        let done: Vec<_> = resolved
            .into_iter()
            .filter_map(|id| self.book.resolve(id, "the request works again through brum's proxy"))
            .collect();
        self.publish_resolved(&done);
    }

    /// The 502 page for proxy `pidx`: its process, its state, its latest
    /// error.
    pub(super) fn unavailable_page(&self, pidx: usize, why: &str) -> String {
        let Some(p) = self.proxy.as_ref().and_then(|px| px.proxies.get(pidx)) else { return String::new() };
        let proc_ = &self.procs[p.process];
        let state = match &proc_.child.state {
            ChildState::Idle => "not started".to_string(),
            ChildState::Running { stop: Some(_), .. } => "stopping".to_string(),
            ChildState::Running { .. } | ChildState::Exiting { .. } => "running".to_string(),
            ChildState::Backoff { last, .. } => format!("waiting to restart: it {}", exit_text(last.exit)),
            ChildState::Done { last } => match &last.spawn_error {
                Some(e) => format!("not running: {e}"),
                None => format!("not running: it {}", exit_text(last.exit)),
            },
        };
        let last = self.last_error(p.process);
        page::unavailable(&page::Unavailable {
            process: &proc_.spec.name,
            url: &p.target.url,
            reason: why,
            state: &state,
            last_error: last.as_ref(),
        })
    }

    /// The newest open error of process `pi` found in its output (not the
    /// proxy's own).
    fn last_error(&self, pi: usize) -> Option<LastError> {
        let e = self
            .book
            .open()
            .filter(|e| e.process == pi && !e.warning)
            .filter_map(|e| Some((e.last_seq, serde_json::from_slice::<Value>(&e.json).ok()?)))
            .filter(|(_, v)| v["source"] != "proxy")
            .max_by_key(|(seq, _)| *seq)?
            .1;
        let location = e["file"].as_str().map(|f| match (e["line"].as_u64(), e["column"].as_u64()) {
            (Some(l), Some(c)) => format!("{f}:{l}:{c}"),
            (Some(l), None) => format!("{f}:{l}"),
            _ => f.to_string(),
        });
        Some(LastError { message: e["message"].as_str().unwrap_or_default().to_string(), location })
    }

    /// The proxies of process `pi`: `{url, proxy_url}` each.
    pub(in crate::reactor) fn proxies_of(&self, pi: usize) -> Vec<Value> {
        let Some(px) = self.proxy.as_ref() else { return Vec::new() };
        px.proxies
            .iter()
            .filter(|p| p.process == pi)
            .map(|p| json!({ "url": p.target.url, "proxy_url": p.proxy_url }))
            .collect()
    }

    /// The proxy URL serving `url` (announced by process `pi`).
    pub(in crate::reactor) fn proxy_url_for(&self, pi: usize, url: &str) -> Option<String> {
        let px = self.proxy.as_ref()?;
        let port = crate::proxy::target::target(url).ok()?.port;
        px.proxies.iter().find(|p| p.process == pi && p.target.port == port).map(|p| p.proxy_url.clone())
    }

    /// `requests`: the recent requests through the proxies, newest last.
    pub(in crate::reactor) fn requests(
        &self,
        process: Option<usize>,
        status: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Value, String> {
        let filter = status.map(StatusFilter::parse).transpose()?;
        let Some(px) = self.proxy.as_ref() else {
            return Ok(json!({ "proxy": false, "requests": [], "total": 0, "more": 0, "recorded": 0 }));
        };
        let limit = limit.unwrap_or(DEFAULT_LIMIT).min(crate::proxy::history::CAPACITY);
        let wanted =
            |r: &&Record| process.is_none_or(|i| r.process == i) && filter.as_ref().is_none_or(|f| f.matches(r.status));
        let total = px.history.newest_first().filter(wanted).count();
        let mut ts = Timestamps::new();
        let mut shown: Vec<Value> = px
            .history
            .newest_first()
            .filter(wanted)
            .take(limit)
            .map(|r| {
                let mut t = Vec::with_capacity(24);
                ts.write(&mut t, r.ts_ms);
                let mut v = json!({
                    "seq": r.seq,
                    "ts": String::from_utf8_lossy(&t),
                    "process": self.procs[r.process].spec.name,
                    "method": r.method(),
                    "path": r.path(),
                    "status": r.status,
                    "duration_ms": r.duration_us as f64 / 1000.0,
                    "bytes_in": r.bytes_in,
                    "bytes_out": r.bytes_out,
                    "upgrade": r.upgrade,
                });
                if r.path_cut() {
                    v["path_cut"] = true.into();
                }
                if let Some(e) = r.error {
                    v["error"] = e.into();
                }
                v
            })
            .collect();
        shown.reverse();
        Ok(json!({
            "proxy": true,
            "requests": shown,
            "total": total,
            "more": total.saturating_sub(limit),
            "recorded": px.history.total,
        }))
    }
}
