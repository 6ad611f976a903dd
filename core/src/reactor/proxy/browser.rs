//! brum's own paths on every proxy: the telemetry script, and the beacons
//! the pages send back — validated and rate-limited by
//! [`crate::proxy::telemetry::Telemetry`], placed in the project's sources
//! (by path, or through the inline source maps the proxy kept of the
//! scripts it served), published as `browser.*` events and, for errors, as
//! `error.detected` (`source: "browser"`) in the error lifecycle. What the
//! limits drop is reported as `log.dropped`.

use std::time::Instant;

use super::super::Reactor;
use crate::events::{Event, now_ms};
use crate::proxy::local::{self, Local};
use crate::proxy::telemetry::{self, Rejected, Report, browser};

const TEXT: &str = "text/plain; charset=utf-8";

impl Reactor {
    /// Answers connection `slot`'s request to one of brum's paths (its
    /// body read whole).
    pub(super) fn answer_brum_path(&mut self, slot: usize) {
        let Some(px) = self.proxy.as_mut() else { return };
        let Some(conn) = px.conns.get_mut(slot).and_then(Option::as_mut) else { return };
        let reports = match local::which(&conn.ex.method, &conn.ex.path) {
            Local::Script => {
                return conn.answer_local(200, "text/javascript; charset=utf-8", telemetry::script());
            }
            Local::MethodNotAllowed => return conn.answer_local(405, TEXT, b"405 Method Not Allowed\n"),
            Local::NotFound => {
                let body = format!("404 Not Found: {} is not one of brum's paths\n", conn.ex.path);
                return conn.answer_local(404, TEXT, body.as_bytes());
            }
            Local::Beacon => match px.telemetry.accept(&conn.ex.local_body, Instant::now()) {
                Ok(reports) => {
                    conn.answer_local(204, TEXT, b"");
                    reports
                }
                Err(e) => {
                    let status = match e {
                        Rejected::TooLarge { .. } => 413,
                        Rejected::Invalid(_) => 400,
                    };
                    let body = format!("{e}\n");
                    return conn.answer_local(status, TEXT, body.as_bytes());
                }
            },
        };
        let pi = px.proxies[conn.proxy].process;
        self.publish_reports(pi, reports);
    }

    /// Publishes what a page of process `pi` reported.
    fn publish_reports(&mut self, pi: usize, reports: Vec<Report>) {
        let root = self.procs[pi].spec.cwd.clone().or_else(|| std::env::current_dir().ok()).unwrap_or_default();
        for report in reports {
            let location = match &report {
                Report::Error { url: Some(u), line: Some(l), col: Some(c), .. } => {
                    let map = self.proxy.as_ref().and_then(|px| px.scripts.get(u));
                    telemetry::locate(u, *l, *c, &root, map)
                }
                _ => None,
            };
            let t = telemetry::translate(report, location);
            let p = &self.procs[pi];
            let seq = self.em.publish(&t.event(p.pref()));
            let Some(mut view) = t.finding(&p.spec.name, seq) else { continue };
            let (id, count) = self.book.seen(pi, view.fingerprint, false, p.child.run, seq);
            (view.id, view.count) = (id, count);
            let stats = &mut self.procs[pi].stats;
            stats.errors += 1;
            stats.browser_errors += 1;
            let ev = Event::Finding { process: self.procs[pi].pref(), plugin: browser::PLUGIN, finding: &view };
            let seq = self.em.publish(&ev);
            self.scratch.clear();
            crate::events::json::encode(&mut self.scratch, &mut self.book_ts, seq, now_ms(), &ev);
            self.book.set_json(id, &self.scratch);
        }
        let Some(px) = self.proxy.as_mut() else { return };
        let count = px.telemetry.take_dropped();
        if count > 0 {
            let total = px.telemetry.dropped();
            let process = Some(self.procs[pi].pref());
            self.em.publish(&Event::LogDropped { process, count, total, reason: telemetry::DROP_REASON });
        }
    }
}
