//! What a control request means for the session: the answers to `hello`,
//! `ps`, `errors`, `urls`, `requests` (its answer is the proxy's), and the
//! lifecycle requests (`start`, `stop`,
//! `restart`, `shutdown`), as functions over the reactor's state; the
//! socket, the queues and the fairness between clients are the transport's
//! (`super`).

use serde_json::{Value, json};

use super::super::{Reactor, Shutdown};
use super::*;
use crate::control::{self, Command, Request};
use crate::supervise::child::{ChildState, Refusal, StopKind};

impl Reactor {
    pub(super) fn handle_request(&mut self, slot: usize, req: Result<Request, control::RequestError>) {
        let req = match req {
            Ok(r) => r,
            Err(e) => return self.reply(slot, &control::error_line(&e.id, &e.message)),
        };
        let Request { id, cmd } = req;
        if self.client_mut(slot).is_some_and(|c| c.reserved)
            && !matches!(
                cmd,
                Command::Hello
                    | Command::Ps
                    | Command::Start(_)
                    | Command::Stop(_)
                    | Command::Restart(_)
                    | Command::Shutdown
            )
        {
            let msg = "too many clients: only ps, status, start, stop, restart and down are served now";
            return self.reply(slot, &control::error_line(&id, msg));
        }
        let answer = match cmd {
            Command::Hello => Ok(self.hello()),
            Command::Ps => Ok(json!({ "processes": self.ps(), "plugins": self.plugin_usage() })),
            Command::Logs(l) => {
                let search = self.proc_index(&l.process).and_then(|i| search::Search::start(id.clone(), &l, i));
                match search {
                    Ok(search) => {
                        if let Some(c) = self.client_mut(slot) {
                            c.search = Some(search);
                        }
                        self.advance_search(slot, SEARCH_SLICE_TIME);
                        return;
                    }
                    Err(e) => Err(e),
                }
            }
            Command::Errors(f) => self.errors(&f),
            Command::Urls(f) => self.urls(&f),
            Command::Requests(r) => match r.process.as_deref().map(|n| self.proc_index(n)).transpose() {
                Ok(only) => self.requests(only, r.status.as_deref(), r.limit),
                Err(e) => Err(e),
            },
            Command::Start(n) => self.proc_index(&n.process).and_then(|i| self.user_start(i)),
            Command::Stop(n) => self.proc_index(&n.process).and_then(|i| self.user_stop(i)),
            Command::Restart(n) => self.proc_index(&n.process).and_then(|i| self.user_restart(i)),
            Command::Reload => self.reload().map(|d| {
                json!({
                    "changed": d.changed,
                    "added": d.added,
                    "removed": d.removed,
                    "unchanged": d.unchanged,
                    "restart_needed": d.restart_needed,
                    "reconfigured": d.reconfigured,
                    "refused": d.refused,
                })
            }),
            Command::Shutdown => {
                if self.shutdown.is_none() {
                    self.begin_shutdown(Shutdown::Requested);
                }
                Ok(json!({ "stopping": true, "pid": std::process::id() }))
            }
            Command::Tail(t) => return self.start_tail(slot, &id, t),
        };
        let bytes = match answer {
            Ok(v) => control::ok_line(&id, v),
            Err(msg) => control::error_line(&id, &msg),
        };
        self.reply(slot, &bytes);
    }

    pub(super) fn refusal(&self, i: usize, r: Refusal) -> String {
        let name = &self.procs[i].spec.name;
        match r {
            Refusal::AlreadyRunning => format!("{name} is already running"),
            Refusal::WaitingToRestart => format!("{name} is waiting to restart"),
            Refusal::NotRunning => format!("{name} is not running"),
        }
    }

    pub(super) fn proc_index(&self, name: &str) -> Result<usize, String> {
        self.procs.iter().position(|p| p.spec.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.procs.iter().map(|p| p.spec.name.as_str()).collect();
            format!("unknown process \"{name}\" (defined: {})", names.join(", "))
        })
    }

    pub(super) fn hello(&self) -> Value {
        let ctl = self.control.as_ref();
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "protocol": control::PROTOCOL_VERSION,
            "schema": crate::events::SCHEMA_VERSION,
            "pid": std::process::id(),
            "cwd": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
            "socket": ctl.map(|c| c.path.display().to_string()),
            "uptime_ms": ctl.map_or(0, |c| c.started.elapsed().as_millis() as u64),
            "seq": self.em.seq(),
            "processes": self.procs.iter().map(|p| p.spec.name.clone()).collect::<Vec<_>>(),
            // the name column of readable output, as `brum run` pads it
            "width": self.selection.iter().map(|&i| self.procs[i].spec.name.chars().count()).max().unwrap_or(0).max(4),
        })
    }

    pub(super) fn plugin_usage(&self) -> Vec<Value> {
        self.host.as_ref().map_or_else(Vec::new, |h| {
            h.usage()
                .iter()
                .map(|u| {
                    json!({
                        "name": u.name,
                        "state": u.state,
                        "calls": u.calls,
                        "busy_ms": (u.busy_ms * 10.0).round() / 10.0,
                        "failures": u.failures,
                    })
                })
                .collect()
        })
    }

    pub(super) fn ps(&self) -> Vec<Value> {
        self.procs
            .iter()
            .map(|p| {
                let c = &p.child;
                let (open_errors, open_warnings) = self.book.open_counts(p.index);
                let (code, signal) = match c.last_end().map(|e| e.exit) {
                    Some(crate::supervise::Exit::Code(c)) => (Some(c), None),
                    Some(crate::supervise::Exit::Signal(s)) => (None, Some(crate::events::signal_name(s))),
                    None => (None, None),
                };
                let uptime = match c.state {
                    ChildState::Running { since, .. } | ChildState::Exiting { since, .. } => {
                        Some(since.elapsed().as_millis() as u64)
                    }
                    _ => None,
                };
                let (ready, ready_ms) = self.ready_label(p.index);
                json!({
                    "removed": p.removed,
                    "name": p.spec.name,
                    "state": c.label(),
                    "ready": ready,
                    "ready_ms": ready_ms,
                    "probe": p.spec.ready.as_ref().map(|r| r.probe.kind()),
                    "started_seq": (p.started_seq > 0).then_some(p.started_seq),
                    "pid": c.pid(),
                    "uptime_ms": uptime,
                    "run": c.run,
                    "restarts": c.restarts,
                    "exit_code": code,
                    "signal": signal,
                    "errors": open_errors,
                    "warnings": open_warnings,
                    "errors_total": p.stats.errors,
                    "warnings_total": p.stats.warnings,
                    // what a run announced holds while it runs
                    "urls": if c.is_active() { p.stats.urls.clone() } else { Vec::new() },
                    // a proxy outlives the run that announced its URL
                    "proxies": self.proxies_of(p.index),
                    "command": p.spec.display,
                })
            })
            .collect()
    }

    /// `errors`: the open errors (and warnings), with `all` the resolved
    /// ones still remembered too, each as its latest `error.detected` event
    /// plus `open` (and `resolved`: why).
    pub(super) fn errors(&self, f: &control::Findings) -> Result<Value, String> {
        let only = match f.process.as_deref() {
            Some(name) => Some(self.proc_index(name)?),
            None => None,
        };
        let limit = f.limit.unwrap_or(50).min(MAX_FINDINGS);
        let as_json = |e: &crate::open_errors::Entry| -> Option<Value> {
            let mut v: Value = serde_json::from_slice(&e.json).ok()?;
            v["open"] = e.resolved.is_none().into();
            if let Some(r) = e.resolved {
                v["resolved"] = r.into();
            }
            Some(v)
        };
        let wanted = |e: &&crate::open_errors::Entry| only.is_none_or(|i| e.process == i);
        let mut items: Vec<(u64, Value)> =
            self.book.open().filter(wanted).filter_map(|e| Some((e.id, as_json(e)?))).collect();
        let open = items.len();
        if f.all.unwrap_or(false) {
            items.extend(self.book.resolved().filter(wanted).filter_map(|e| Some((e.id, as_json(e)?))));
            items.sort_by_key(|(id, _)| *id);
        }
        let total = items.len();
        let shown: Vec<Value> = items.into_iter().skip(total.saturating_sub(limit)).map(|(_, v)| v).collect();
        Ok(json!({ "errors": shown, "open": open, "total": total, "more": total.saturating_sub(limit) }))
    }

    /// `urls`: what the current run of each process announced, latest
    /// announcement of each URL.
    pub(super) fn urls(&self, f: &control::Findings) -> Result<Value, String> {
        let only = match f.process.as_deref() {
            Some(name) => Some(self.proc_index(name)?),
            None => None,
        };
        let Some(ctl) = self.control.as_ref() else { return Ok(json!({})) };
        let limit = f.limit.unwrap_or(50).min(MAX_FINDINGS);
        let mut latest: Vec<Value> = Vec::new();
        for b in ringbuf::traits::Consumer::iter(&ctl.urls).rev() {
            let Some(meta) = control::event_meta(b) else { continue };
            let Some(pi) = meta.process.and_then(|n| self.procs.iter().position(|p| p.spec.name == n)) else {
                continue;
            };
            if only.is_some_and(|i| i != pi) {
                continue;
            }
            let Ok(mut v) = serde_json::from_slice::<Value>(b) else { continue };
            let url = v["url"].as_str().unwrap_or_default().to_string();
            if let Some(proxy) = self.proxy_url_for(pi, &url) {
                v["proxy_url"] = proxy.into();
            }
            // only what the current run announced, once, while it runs
            if !self.procs[pi].child.is_active()
                || !self.procs[pi].stats.urls.contains(&url)
                || latest.iter().any(|x| x["url"] == v["url"] && x["process"] == v["process"])
            {
                continue;
            }
            latest.push(v);
        }
        latest.reverse();
        let total = latest.len();
        let shown: Vec<Value> = latest.into_iter().skip(total.saturating_sub(limit)).collect();
        Ok(json!({ "urls": shown, "total": total, "more": total.saturating_sub(limit) }))
    }

    pub(super) fn user_start(&mut self, i: usize) -> Result<Value, String> {
        if self.shutdown.is_some() {
            return Err("brum is shutting down".into());
        }
        self.procs[i].child.can_start().map_err(|r| self.refusal(i, r))?;
        self.procs[i].child.restarts = 0;
        self.spawn(i);
        let p = &self.procs[i];
        Ok(json!({ "process": p.spec.name, "started": true, "pid": p.child.pid(), "run": p.child.run }))
    }

    pub(super) fn user_stop(&mut self, i: usize) -> Result<Value, String> {
        if matches!(self.procs[i].child.state, ChildState::Exiting { .. }) {
            return Err(self.refusal(i, Refusal::NotRunning));
        }
        self.stop(i, StopKind::Stop).map_err(|r| self.refusal(i, r))?;
        Ok(json!({ "process": self.procs[i].spec.name, "stopping": true }))
    }

    pub(super) fn user_restart(&mut self, i: usize) -> Result<Value, String> {
        match self.procs[i].child.state {
            ChildState::Running { .. } => {
                self.stop(i, StopKind::Restart).map_err(|r| self.refusal(i, r))?;
                Ok(json!({ "process": self.procs[i].spec.name, "restarting": true }))
            }
            _ => self.user_start(i),
        }
    }
}
