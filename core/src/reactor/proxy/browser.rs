//! brum's own paths on every proxy: the telemetry script, and the beacons
//! the pages send back — validated and rate-limited by
//! [`crate::proxy::telemetry::Telemetry`], placed in the project's sources
//! (by path, or through the source maps of the scripts it served: inline
//! ones it kept, separate ones it fetches — an error may wait for its map,
//! see [`super::maps`]), published as `browser.*` events and, for errors,
//! as `error.detected` (`source: "browser"`) in the error lifecycle. What
//! the limits drop is reported as `log.dropped`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::super::Reactor;
use super::maps::Held;
use crate::events::{Event, now_ms};
use crate::proxy::local::{self, Local};
use crate::proxy::scripts::{self, Entry, MapState};
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
        let pidx = conn.proxy;
        self.publish_reports(pidx, reports);
    }

    /// Publishes what a page reported through proxy `pidx`: errors in a
    /// script whose separate map is not here yet wait for it ([`super::maps`]).
    fn publish_reports(&mut self, pidx: usize, reports: Vec<Report>) {
        let Some(pi) = self.proxy.as_ref().map(|px| px.proxies[pidx].process) else { return };
        let root = self.project_root(pi);
        for report in reports {
            let report = match self.place(pidx, &report, &root, true) {
                Placed::At(location) => {
                    self.publish_report(pi, report, location);
                    continue;
                }
                Placed::Wait(key) => match self.proxy.as_mut().map(|px| px.maps.hold(pidx, key, report)) {
                    Some(Ok(())) | None => continue,
                    // too many wait already: placed as it can be now
                    Some(Err(report)) => report,
                },
            };
            let location = match self.place(pidx, &report, &root, false) {
                Placed::At(location) => location,
                Placed::Wait(_) => None,
            };
            self.publish_report(pi, report, location);
        }
        self.maps_start();
        let Some(px) = self.proxy.as_mut() else { return };
        let count = px.telemetry.take_dropped();
        if count > 0 {
            let total = px.telemetry.dropped();
            let process = Some(self.procs[pi].pref());
            self.em.publish(&Event::LogDropped { process, count, total, reason: telemetry::DROP_REASON });
        }
    }

    /// Publishes errors that waited for a map (it came, or their time is
    /// up): placed as well as they can be now.
    pub(super) fn publish_held(&mut self, held: Vec<Held>) {
        for h in held {
            let Some(pi) = self.proxy.as_ref().map(|px| px.proxies[h.proxy].process) else { return };
            let root = self.project_root(pi);
            let location = match self.place(h.proxy, &h.report, &root, false) {
                Placed::At(location) => location,
                Placed::Wait(_) => None,
            };
            self.publish_report(pi, h.report, location);
        }
    }

    /// Where the project's files are for process `pi`.
    fn project_root(&self, pi: usize) -> PathBuf {
        self.procs[pi].spec.cwd.clone().or_else(|| std::env::current_dir().ok()).unwrap_or_default()
    }

    /// Where a report happened in the project: through its script's map
    /// (inline, or separate and fetched), else by path. With `may_wait`, a
    /// separate map not fetched yet is asked for (when the queue has room)
    /// and the report is to wait for it.
    fn place(&mut self, pidx: usize, report: &Report, root: &Path, may_wait: bool) -> Placed {
        let Report::Error { url: Some(u), line: Some(l), col: Some(c), .. } = report else {
            return Placed::At(None);
        };
        let (l, c) = (*l, *c);
        let Some(px) = self.proxy.as_mut() else { return Placed::At(None) };
        match px.scripts.get(u) {
            Some(Entry::Inline(tail)) => Placed::At(telemetry::locate(u, l, c, root, Some(tail))),
            Some(Entry::External { map, state: MapState::Fetched(bytes) }) => {
                Placed::At(telemetry::locate_with_map(u, l, c, root, map, bytes))
            }
            Some(Entry::External { state: MapState::Fetching, .. }) if may_wait => {
                Placed::Wait(scripts::key(u).to_string())
            }
            Some(Entry::External { state: MapState::Unfetched, .. }) if may_wait && px.maps.can_queue() => {
                let key = scripts::key(u).to_string();
                match px.scripts.start_fetch(&key) {
                    Some(map) => {
                        px.maps.want(pidx, key.clone(), map);
                        Placed::Wait(key)
                    }
                    None => Placed::At(telemetry::locate(u, l, c, root, None)),
                }
            }
            _ => Placed::At(telemetry::locate(u, l, c, root, None)),
        }
    }

    /// Publishes one report of process `pi` at `location`: its
    /// `browser.*` event and, for an error, its `error.detected`.
    fn publish_report(&mut self, pi: usize, report: Report, location: Option<(String, u32, u32)>) {
        let t = telemetry::translate(report, location);
        let p = &self.procs[pi];
        let seq = self.em.publish(&t.event(p.pref()));
        let Some(mut view) = t.finding(&p.spec.name, seq) else { return };
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
}

/// Where a report goes.
enum Placed {
    /// Published at this place (or none known).
    At(Option<(String, u32, u32)>),
    /// Held until the map of this script arrives.
    Wait(String),
}
