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
use crate::events::{BrowserFrame, Event, now_ms};
use crate::proxy::local::{self, Local};
use crate::proxy::scripts;
use crate::proxy::telemetry::{self, Rejected, Report, browser, stack};

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
                Placed::At(frames) => {
                    self.publish_report(pi, report, frames);
                    continue;
                }
                Placed::Wait(key) => match self.proxy.as_mut().map(|px| px.maps.hold(pidx, key, report)) {
                    Some(Ok(())) | None => continue,
                    // too many wait already: placed as it can be now
                    Some(Err(report)) => report,
                },
            };
            let frames = match self.place(pidx, &report, &root, false) {
                Placed::At(frames) => frames,
                Placed::Wait(_) => Vec::new(),
            };
            self.publish_report(pi, report, frames);
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
            let frames = match self.place(h.proxy, &h.report, &root, false) {
                Placed::At(frames) => frames,
                Placed::Wait(_) => Vec::new(),
            };
            self.publish_report(pi, h.report, frames);
        }
    }

    /// Where the project's files are for process `pi`.
    fn project_root(&self, pi: usize) -> PathBuf {
        self.procs[pi].spec.cwd.clone().or_else(|| std::env::current_dir().ok()).unwrap_or_default()
    }

    /// Where a report happened in the project: each frame of its stack (at
    /// most [`stack::MAX_FRAMES`]) through its script's map (inline, or
    /// separate and fetched), else by path. With `may_wait`, the separate
    /// map of the first frame not in a dependency that brum lacks is asked
    /// for (when the queue has room) and the report is to wait for it — for
    /// that one map only.
    fn place(&mut self, pidx: usize, report: &Report, root: &Path, may_wait: bool) -> Placed {
        let frames = stack::frames_of(report);
        let Some(px) = self.proxy.as_mut() else { return Placed::At(Vec::new()) };
        if may_wait && let Some((url, fetching)) = stack::map_to_wait_for(&px.scripts, pidx, &frames) {
            let key = scripts::key(url).to_string();
            if fetching {
                return Placed::Wait(key);
            }
            if px.maps.can_queue()
                && let Some(map) = px.scripts.start_fetch(pidx, &key)
            {
                px.maps.want(pidx, key.clone(), map);
                return Placed::Wait(key);
            }
        }
        Placed::At(stack::place_frames(&mut px.scripts, pidx, &frames, root))
    }

    /// Publishes one report of process `pi` with its frames placed: its
    /// `browser.*` event and, for an error, its `error.detected`.
    fn publish_report(&mut self, pi: usize, report: Report, frames: Vec<BrowserFrame>) {
        let t = telemetry::translate(report, frames);
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
    /// Published with its frames placed (none known: empty).
    At(Vec<BrowserFrame>),
    /// Held until the map of this script arrives.
    Wait(String),
}
