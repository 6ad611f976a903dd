//! Readiness and health probes, run in the reactor: TCP connects and HTTP
//! GETs are non-blocking mio sockets with timers (a small HTTP/1.1 client:
//! one request, `httparse` for the response head), log probes look at the
//! lines the capture path stored, URL and exit probes hear from the
//! findings and the end of a run. No threads, no busy polling: one timer
//! per try.
//!
//! A run is *waiting* from its start until its probe passes (`process.ready`)
//! or it times out or ends first (`process.unready`). A process that depends
//! on one with a probe starts when that one is ready. After ready, a health
//! check (`health.*`) failing N times in a row makes it `process.unhealthy`
//! and restarts it under its restart policy.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::{Reactor, TimerKind};
use crate::config::{Probe, RestartPolicy};
use crate::events::Event;
use crate::supervise::child::{ChildState, StopKind};

/// Probe sockets are `PROBE_BASE + process index` (one at a time each).
pub(super) const PROBE_BASE: usize = 1 << 31;
/// Bytes of an HTTP response head read at most.
const MAX_HEAD: usize = 16 << 10;

/// Where the current run stands with its readiness probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Readiness {
    /// No probe (ready once started) or not started yet.
    None,
    Waiting {
        since: Instant,
    },
    Ready {
        after_ms: u64,
    },
    Unready,
}

/// What a probe timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProbeTimer {
    /// Try (again) now.
    Try,
    /// The try under way took too long.
    Deadline,
    /// The readiness timeout.
    ReadyTimeout,
}

/// A probe connection in flight.
pub(super) struct Conn {
    stream: TcpStream,
    connected: bool,
    /// HTTP: the request and how much of it went out; the response head.
    request: Vec<u8>,
    sent: usize,
    response: Vec<u8>,
}

/// A process's probe state.
pub(super) struct ProbeState {
    pub readiness: Readiness,
    /// The log probe has looked at lines up to this seq.
    scanned: u64,
    conn: Option<Conn>,
    /// Tries started; timers carry it so stale ones are ignored.
    attempt: u64,
    /// Health checks failed in a row.
    failures: u32,
}

impl Default for ProbeState {
    fn default() -> Self {
        ProbeState { readiness: Readiness::None, scanned: 0, conn: None, attempt: 0, failures: 0 }
    }
}

fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    if host == "localhost" {
        return Some(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    // other names: /etc/hosts or DNS (brum's probes are meant for loopback)
    (host, port).to_socket_addrs().ok()?.next()
}

/// The status of an HTTP response head, once it is complete.
fn http_status(head: &[u8]) -> Option<Result<u16, ()>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(head) {
        Ok(httparse::Status::Complete(_)) => Some(resp.code.ok_or(())),
        Ok(httparse::Status::Partial) => None,
        Err(_) => Some(Err(())),
    }
}

impl Reactor {
    /// The probe that applies to process `i` now: its readiness probe while
    /// waiting, its health check once ready.
    fn active_probe(&self, i: usize) -> Option<&Probe> {
        let p = &self.procs[i];
        match p.probe.readiness {
            Readiness::Waiting { .. } => p.spec.ready.as_ref().map(|r| &r.probe),
            Readiness::Ready { .. } | Readiness::None => p.spec.health.as_ref().map(|h| &h.probe),
            Readiness::Unready => None,
        }
    }

    fn probe_timer(&mut self, i: usize, after: Duration, what: ProbeTimer) {
        let p = &self.procs[i];
        let (generation, attempt) = (p.child.generation, p.probe.attempt);
        self.timers.arm(Instant::now() + after, TimerKind::Probe { proc: i, generation, attempt, what });
    }

    /// A run of process `i` started.
    pub(super) fn probe_run_started(&mut self, i: usize) {
        self.drop_probe_conn(i);
        let now = Instant::now();
        let p = &mut self.procs[i];
        p.probe.failures = 0;
        // a log probe looks at this run's lines only (the ring still holds
        // the previous run's, the very line it waits for among them)
        p.probe.scanned = p.capture.ring.last_seq().unwrap_or(0);
        let Some(ready) = p.spec.ready.as_ref() else {
            p.probe.readiness = Readiness::None;
            if let Some(h) = p.spec.health.as_ref() {
                let after = h.interval;
                self.probe_timer(i, after, ProbeTimer::Try);
            }
            return;
        };
        let (timeout, network) = (ready.timeout, ready.probe.is_network());
        p.probe.readiness = Readiness::Waiting { since: now };
        self.probe_timer(i, timeout, ProbeTimer::ReadyTimeout);
        if network {
            self.start_try(i);
        }
    }

    /// A probe timer fired.
    pub(super) fn probe_timer_fired(&mut self, i: usize, generation: u64, attempt: u64, what: ProbeTimer) {
        let p = &self.procs[i];
        if p.child.generation != generation || !matches!(p.child.state, ChildState::Running { .. }) {
            return;
        }
        match what {
            ProbeTimer::ReadyTimeout => {
                if let Readiness::Waiting { since } = p.probe.readiness {
                    let secs = since.elapsed().as_secs_f64();
                    self.unready(i, &format!("not ready after {secs:.1}s"));
                }
            }
            ProbeTimer::Try => {
                if attempt == p.probe.attempt && p.probe.conn.is_none() {
                    self.start_try(i);
                }
            }
            ProbeTimer::Deadline => {
                if attempt == p.probe.attempt && p.probe.conn.is_some() {
                    self.try_done(i, false);
                }
            }
        }
    }

    /// Starts one try of the network probe that applies now.
    fn start_try(&mut self, i: usize) {
        let Some(probe) = self.active_probe(i).cloned() else { return };
        let (host, port, request) = match &probe {
            Probe::Tcp { host, port } => (host.clone(), *port, Vec::new()),
            Probe::Http { host, port, path, .. } => {
                let req = format!(
                    "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: brum-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                );
                (host.clone(), *port, req.into_bytes())
            }
            _ => return,
        };
        self.procs[i].probe.attempt += 1;
        let interval = self.try_interval(i);
        // a try may take as long as the interval, and at least a second
        self.probe_timer(i, interval.max(Duration::from_secs(1)), ProbeTimer::Deadline);
        let Some(addr) = resolve(&host, port) else {
            self.try_done(i, false);
            return;
        };
        let mut stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(_) => {
                self.try_done(i, false);
                return;
            }
        };
        let token = Token(PROBE_BASE + i);
        if self.poll.registry().register(&mut stream, token, Interest::READABLE | Interest::WRITABLE).is_err() {
            self.try_done(i, false);
            return;
        }
        self.procs[i].probe.conn = Some(Conn { stream, connected: false, request, sent: 0, response: Vec::new() });
    }

    fn try_interval(&self, i: usize) -> Duration {
        let p = &self.procs[i];
        match p.probe.readiness {
            Readiness::Waiting { .. } => p.spec.ready.as_ref().map_or(Duration::from_secs(1), |r| r.interval),
            _ => p.spec.health.as_ref().map_or(Duration::from_secs(5), |h| h.interval),
        }
    }

    /// A probe socket is ready: drive the try on.
    pub(super) fn probe_ready(&mut self, token: usize) {
        let i = token - PROBE_BASE;
        let Some(conn) = self.procs.get_mut(i).and_then(|p| p.probe.conn.as_mut()) else { return };
        if !conn.connected {
            match conn.stream.take_error() {
                Ok(None) => {}
                _ => return self.try_done(i, false),
            }
            match conn.stream.peer_addr() {
                Ok(_) => conn.connected = true,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return, // still connecting
                Err(_) => return self.try_done(i, false),
            }
            if conn.request.is_empty() {
                // TCP: the connect is the answer
                return self.try_done(i, true);
            }
        }
        while conn.sent < conn.request.len() {
            match conn.stream.write(&conn.request[conn.sent..]) {
                Ok(n) => conn.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.try_done(i, false),
            }
        }
        let mut buf = [0u8; 4096];
        loop {
            match conn.stream.read(&mut buf) {
                Ok(0) => {
                    let ok = matches!(http_status(&conn.response), Some(Ok(c)) if (200..400).contains(&c));
                    return self.try_done(i, ok);
                }
                Ok(n) => {
                    conn.response.extend_from_slice(&buf[..n]);
                    match http_status(&conn.response) {
                        Some(Ok(c)) => return self.try_done(i, (200..400).contains(&c)),
                        Some(Err(())) => return self.try_done(i, false),
                        None if conn.response.len() > MAX_HEAD => return self.try_done(i, false),
                        None => {}
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.try_done(i, false),
            }
        }
    }

    fn drop_probe_conn(&mut self, i: usize) {
        if let Some(mut c) = self.procs[i].probe.conn.take() {
            let _ = self.poll.registry().deregister(&mut c.stream);
        }
    }

    /// A try ended: ready, or try again; for health, count failures.
    fn try_done(&mut self, i: usize, ok: bool) {
        self.drop_probe_conn(i);
        let p = &mut self.procs[i];
        match p.probe.readiness {
            Readiness::Waiting { .. } => {
                if ok {
                    self.mark_ready(i);
                } else {
                    // refused is normal while it starts: keep trying until the timeout
                    let after = self.try_interval(i);
                    self.probe_timer(i, after, ProbeTimer::Try);
                }
            }
            Readiness::Ready { .. } | Readiness::None => {
                let Some(h) = p.spec.health.as_ref() else { return };
                let (limit, interval, kind) = (h.failures, h.interval, h.probe.kind());
                if ok {
                    p.probe.failures = 0;
                } else {
                    p.probe.failures += 1;
                }
                if p.probe.failures >= limit {
                    p.probe.failures = 0;
                    let p = &self.procs[i];
                    self.em.publish(&Event::ProcessUnhealthy { process: p.pref(), probe: kind, failures: limit });
                    if p.spec.restart != RestartPolicy::Never {
                        let _ = self.stop(i, StopKind::Restart);
                        return;
                    }
                }
                self.probe_timer(i, interval, ProbeTimer::Try);
            }
            Readiness::Unready => {}
        }
    }

    /// The current run of `i` passed its probe.
    pub(super) fn mark_ready(&mut self, i: usize) {
        // the lines that made it ready are published before it
        self.flush_batch();
        let p = &mut self.procs[i];
        let Readiness::Waiting { since } = p.probe.readiness else { return };
        let after_ms = since.elapsed().as_millis() as u64;
        p.probe.readiness = Readiness::Ready { after_ms };
        let kind = p.spec.ready.as_ref().map_or("none", |r| r.probe.kind());
        let p = &self.procs[i];
        self.em.publish(&Event::ProcessReady { process: p.pref(), probe: kind, after_ms, run: p.child.run });
        let run = p.child.run;
        let resolved = self.book.healthy_run(i, run, "a later run became ready");
        self.publish_resolved(&resolved);
        if let Some(h) = self.procs[i].spec.health.as_ref() {
            let after = h.interval;
            self.probe_timer(i, after, ProbeTimer::Try);
        }
    }

    /// The current run of `i` will not be ready; `fails_run`: that alone
    /// fails the session (a run that failed by itself is counted so already).
    pub(super) fn unready(&mut self, i: usize, reason: &str) {
        self.unready_with(i, reason, true);
    }

    fn unready_with(&mut self, i: usize, reason: &str, fails_run: bool) {
        self.drop_probe_conn(i);
        let p = &mut self.procs[i];
        let Readiness::Waiting { since } = p.probe.readiness else { return };
        p.probe.readiness = Readiness::Unready;
        let kind = p.spec.ready.as_ref().map_or("none", |r| r.probe.kind());
        let waited_ms = since.elapsed().as_millis() as u64;
        let p = &self.procs[i];
        self.em.publish(&Event::ProcessUnready { process: p.pref(), probe: kind, reason, waited_ms });
        // a dependency that will not be ready fails the run
        if !fails_run {
            return;
        }
        if self.first_failure.is_none() {
            self.first_failure = Some(1);
        }
        if self.kill_others_on_fail && self.shutdown.is_none() {
            self.begin_shutdown(super::Shutdown::KillOthers);
        }
    }

    /// New lines of `i` were stored: a log probe looks at them.
    pub(super) fn check_log_probe(&mut self, i: usize) {
        let p = &mut self.procs[i];
        if !matches!(p.probe.readiness, Readiness::Waiting { .. }) {
            return;
        }
        let Some(probe) = p.spec.ready.as_ref().map(|r| &r.probe) else { return };
        if !matches!(probe, Probe::Log(_) | Probe::Regex(_)) {
            return;
        }
        let ring = &p.capture.ring;
        let from = ring.position_before(p.probe.scanned + 1);
        let mut hit = false;
        let mut last = p.probe.scanned;
        ring.for_each_range(from, ring.len(), |rec, bytes| {
            last = rec.seq;
            hit = match probe {
                Probe::Log(text) => memchr::memmem::find(bytes, text.as_bytes()).is_some(),
                Probe::Regex(re) => std::str::from_utf8(bytes).is_ok_and(|t| re.is_match(t)),
                _ => false,
            };
            !hit
        });
        p.probe.scanned = last;
        if hit {
            self.mark_ready(i);
        }
    }

    /// The run of `i` ended: an exit probe decides; any other probe that
    /// has not passed never will.
    pub(super) fn probe_run_ended(&mut self, i: usize, code: Option<i32>, failed: bool) {
        self.drop_probe_conn(i);
        let p = &self.procs[i];
        if !matches!(p.probe.readiness, Readiness::Waiting { .. }) {
            return;
        }
        match (p.spec.ready.as_ref().map(|r| &r.probe), code) {
            (Some(Probe::Exit(want)), Some(c)) if c == *want => self.mark_ready(i),
            (Some(Probe::Exit(want)), _) => {
                let got = code.map_or("a signal".to_string(), |c| format!("code {c}"));
                self.unready_with(i, &format!("exited with {got}, not {want}"), !failed);
            }
            _ => self.unready_with(i, "ended before it was ready", !failed),
        }
    }

    /// A URL finding for `i`.
    pub(super) fn url_announced(&mut self, i: usize) {
        let p = &self.procs[i];
        if matches!(p.probe.readiness, Readiness::Waiting { .. })
            && matches!(p.spec.ready.as_ref().map(|r| &r.probe), Some(Probe::Url))
        {
            self.mark_ready(i);
        }
    }

    /// Whether `i` may start now given what it depends on: `Ok(true)`
    /// start, `Ok(false)` wait, `Err((dependency, reason))` never.
    pub(super) fn deps_ready(&self, i: usize) -> Result<bool, (usize, &'static str)> {
        let mut ok = true;
        for &d in &self.procs[i].spec.depends_on {
            let dp = &self.procs[d];
            let ready = if dp.spec.ready.is_some() {
                matches!(dp.probe.readiness, Readiness::Ready { .. })
            } else {
                dp.child.run > 0
            };
            if ready {
                continue;
            }
            if dp.child.run > 0 && !dp.child.is_active() {
                return Err((d, if dp.spec.ready.is_some() { "ended without being ready" } else { "ended" }));
            }
            ok = false;
        }
        Ok(ok)
    }

    /// The READY column: `ready`, `waiting`, `unready` or none (no probe).
    pub(super) fn ready_label(&self, i: usize) -> (Option<&'static str>, Option<u64>) {
        let p = &self.procs[i];
        if p.spec.ready.is_none() {
            return (None, None);
        }
        match p.probe.readiness {
            Readiness::Ready { after_ms } => (Some("ready"), Some(after_ms)),
            Readiness::Waiting { since } => (Some("waiting"), Some(since.elapsed().as_millis() as u64)),
            Readiness::Unready => (Some("unready"), None),
            Readiness::None => (None, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_heads() {
        assert_eq!(http_status(b"HTTP/1.1 204 No Content\r\n\r\n"), Some(Ok(204)));
        assert_eq!(http_status(b"HTTP/1.1 503 Busy\r\nX: y\r\n\r\n"), Some(Ok(503)));
        assert_eq!(http_status(b"HTTP/1.1 200 OK\r\nContent-"), None);
        assert_eq!(http_status(b"garbage\r\n\r\n"), Some(Err(())));
        assert_eq!(resolve("localhost", 80), Some(SocketAddr::from(([127, 0, 0, 1], 80))));
        assert_eq!(resolve("::1", 81), Some(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 81))));
    }
}
