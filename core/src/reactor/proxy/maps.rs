//! Separate source maps, fetched from the dev servers by the reactor: a
//! browser error in a script that names `//# sourceMappingURL=app.js.map`
//! is held while brum GETs that map from the script's dev server (a
//! non-blocking mio socket, [`crate::proxy::fetch`] reading the answer),
//! then published at the original source's file and line — or, when the
//! map cannot be had (refused, 404, too large, too slow, not a map), at the
//! served file as before, with one `proxy.source_map` event saying why.
//!
//! Why on the first error and not as the script goes by: a page of a
//! bundler's dev server loads dozens of chunks, each with a map of up to
//! megabytes; fetching them all on every load would cost more than the
//! errors they serve, and would push the maps that matter out of the
//! bounded cache. The dev server is on this machine: the one error that
//! waits for a map waits for a loopback GET, and the ones after it find
//! the map kept ([`crate::proxy::scripts`]).
//!
//! Bounds: [`MAX_FETCHES`] at once and [`MAX_QUEUED`] waiting (more: the
//! error is placed by path, the map is asked for by a later error); each
//! fetch gets [`FETCH_TIMEOUT`] and [`crate::proxy::fetch::MAX_MAP`] bytes;
//! at most [`MAX_HELD`] errors wait, each at most [`HOLD`]. Nothing is
//! lost: a held error is always published, at the latest when brum ends.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::super::{Reactor, TimerKind};
use crate::events::Event;
use crate::proxy::fetch::{self, Fetch};
use crate::proxy::telemetry::Report;

/// Map fetch sockets are `FETCH_BASE + slot` (above every connection's
/// token: `CONN_BASE + 2 * MAX_CONNS` is far below).
pub(in crate::reactor) const FETCH_BASE: usize = 1 << 42;
/// Maps fetched at once.
const MAX_FETCHES: usize = 4;
/// Maps waiting for a fetch slot.
const MAX_QUEUED: usize = 32;
/// A map must have arrived this long after its fetch started.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Errors waiting for their script's map.
const MAX_HELD: usize = 64;
/// An error waits this long at most (a queued fetch, then its own time).
const HOLD: Duration = Duration::from_secs(10);

/// A map an error needs.
struct Want {
    /// The proxy whose dev server served the script.
    proxy: usize,
    /// The script's path (its key among the maps).
    key: String,
    /// The map's path on the dev server.
    map: String,
}

/// A fetch under way.
struct Active {
    want: Want,
    stream: TcpStream,
    addrs: Vec<SocketAddr>,
    /// Index into `addrs`.
    addr: usize,
    connected: bool,
    request: Vec<u8>,
    sent: usize,
    fetch: Fetch,
    deadline: Instant,
}

/// An error waiting for the map of its script.
pub(super) struct Held {
    pub proxy: usize,
    pub key: String,
    pub report: Report,
    until: Instant,
}

/// The fetches and the errors that wait for them.
#[derive(Default)]
pub(super) struct MapFetches {
    slots: Vec<Option<Active>>,
    queue: VecDeque<Want>,
    held: VecDeque<Held>,
    /// The timer armed for the nearest deadline, if any.
    armed: Option<Instant>,
}

impl MapFetches {
    /// Whether another map can be asked for now.
    pub fn can_queue(&self) -> bool {
        self.queue.len() < MAX_QUEUED
    }

    /// Asks for a map (the caller checked [`MapFetches::can_queue`]).
    pub fn want(&mut self, proxy: usize, key: String, map: String) {
        self.queue.push_back(Want { proxy, key, map });
    }

    /// Holds `report` until the map of script `key` arrives; gives it back
    /// when too many wait already.
    pub fn hold(&mut self, proxy: usize, key: String, report: Report) -> Result<(), Report> {
        if self.held.len() >= MAX_HELD {
            return Err(report);
        }
        self.held.push_back(Held { proxy, key, report, until: Instant::now() + HOLD });
        Ok(())
    }

    /// The errors waiting for the map of script `key` of proxy `proxy`
    /// (all: `None`), or past their time at `now`.
    fn release(&mut self, key: Option<(usize, &str)>, now: Option<Instant>) -> Vec<Held> {
        let mut out = Vec::new();
        let mut keep = VecDeque::with_capacity(self.held.len());
        for h in self.held.drain(..) {
            let due = key.is_none_or(|(p, k)| p == h.proxy && k == h.key) && now.is_none_or(|t| h.until <= t);
            if due { out.push(h) } else { keep.push_back(h) }
        }
        self.held = keep;
        out
    }

    fn nearest(&self) -> Option<Instant> {
        let fetches = self.slots.iter().flatten().map(|a| a.deadline);
        fetches.chain(self.held.iter().map(|h| h.until)).min()
    }
}

/// One read or write, retried when interrupted: `None` when it would block.
fn retry<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<Option<T>> {
    loop {
        match op() {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

/// What became of a fetch: the map's bytes, or why there are none.
type Outcome = Result<Vec<u8>, String>;

/// Where a fetch stands after its socket was ready.
enum Drive {
    /// Nothing more until the socket is ready again.
    Wait,
    /// The connection could not be made: the next address.
    NextAddress,
    Done(Outcome),
}

/// Starts connecting to the first of `addrs` from `from` that takes it.
fn connect(registry: &Registry, token: Token, addrs: &[SocketAddr], from: usize) -> Option<(TcpStream, usize)> {
    for (i, addr) in addrs.iter().enumerate().skip(from) {
        let Ok(mut stream) = TcpStream::connect(*addr) else { continue };
        if registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE).is_ok() {
            return Some((stream, i));
        }
    }
    None
}

/// Moves a fetch on: connected, request written, response read until the
/// socket has nothing more (the body is bounded by the fetch itself).
fn drive(a: &mut Active) -> Drive {
    if !a.connected {
        match a.stream.take_error() {
            Ok(None) => {}
            _ => return Drive::NextAddress,
        }
        match a.stream.peer_addr() {
            Ok(_) => a.connected = true,
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Drive::Wait,
            Err(_) => return Drive::NextAddress,
        }
    }
    while a.sent < a.request.len() {
        match retry(|| a.stream.write(&a.request[a.sent..])) {
            Ok(Some(n)) => a.sent += n,
            Ok(None) => return Drive::Wait,
            Err(e) => return Drive::Done(Err(format!("cannot send the request: {e}"))),
        }
    }
    let mut buf = [0u8; 16 << 10];
    loop {
        match retry(|| a.stream.read(&mut buf)) {
            Ok(Some(0)) => {
                let ended = a.fetch.eof().map(|()| std::mem::take(&mut a.fetch).into_body());
                return Drive::Done(ended.map_err(|e| e.to_string()));
            }
            Ok(Some(n)) => match a.fetch.feed(&buf[..n]) {
                Ok(true) => return Drive::Done(Ok(std::mem::take(&mut a.fetch).into_body())),
                Ok(false) => {}
                Err(e) => return Drive::Done(Err(e.to_string())),
            },
            Ok(None) => return Drive::Wait,
            Err(e) => return Drive::Done(Err(format!("the connection failed: {e}"))),
        }
    }
}

impl Reactor {
    /// Starts the queued fetches there are slots for.
    pub(super) fn maps_start(&mut self) {
        loop {
            let Some(px) = self.proxy.as_mut() else { return };
            let m = &mut px.maps;
            let slot = match m.slots.iter().position(Option::is_none) {
                Some(s) => s,
                None if m.slots.len() < MAX_FETCHES => {
                    m.slots.push(None);
                    m.slots.len() - 1
                }
                None => break,
            };
            let Some(want) = m.queue.pop_front() else { break };
            let target = &px.proxies[want.proxy].target;
            let mut request = Vec::with_capacity(128 + want.map.len());
            fetch::request(&mut request, &want.map, &target.authority);
            let addrs = target.addrs.clone();
            match connect(self.poll.registry(), Token(FETCH_BASE + slot), &addrs, 0) {
                Some((stream, addr)) => {
                    let deadline = Instant::now() + FETCH_TIMEOUT;
                    let fetch = Fetch::new();
                    let a = Active { want, stream, addrs, addr, connected: false, request, sent: 0, fetch, deadline };
                    px.maps.slots[slot] = Some(a);
                }
                None => self.map_done(want, Err("connection refused".to_string())),
            }
        }
        self.maps_arm();
    }

    /// A fetch's socket is ready.
    pub(in crate::reactor) fn map_fetch_ready(&mut self, slot: usize) {
        let Some(px) = self.proxy.as_mut() else { return };
        let Some(a) = px.maps.slots.get_mut(slot).and_then(Option::as_mut) else { return };
        let outcome = match drive(a) {
            Drive::Wait => return,
            Drive::Done(outcome) => outcome,
            Drive::NextAddress => {
                let registry = self.poll.registry();
                let _ = registry.deregister(&mut a.stream);
                match connect(registry, Token(FETCH_BASE + slot), &a.addrs, a.addr + 1) {
                    Some((stream, addr)) => {
                        (a.stream, a.addr, a.connected, a.sent) = (stream, addr, false, 0);
                        return;
                    }
                    None => Err("connection refused".to_string()),
                }
            }
        };
        self.map_finish(slot, outcome);
    }

    /// Fetch `slot` ended: its socket goes, the next queued one starts.
    fn map_finish(&mut self, slot: usize, outcome: Outcome) {
        let Some(px) = self.proxy.as_mut() else { return };
        let Some(mut a) = px.maps.slots.get_mut(slot).and_then(Option::take) else { return };
        let _ = self.poll.registry().deregister(&mut a.stream);
        self.map_done(a.want, outcome);
        self.maps_start();
    }

    /// A map arrived (checked to be one) or did not: said once, kept, and
    /// the errors that waited for it published.
    fn map_done(&mut self, want: Want, outcome: Outcome) {
        let Some(px) = self.proxy.as_mut() else { return };
        // the check is the map's one parse: the parsed map is kept
        let outcome = outcome.and_then(|body| match px.scripts.parse(&body) {
            Ok(parsed) => Ok((body, parsed)),
            Err(e) => Err(format!("not a source map: {e}")),
        });
        let pi = px.proxies[want.proxy].process;
        let (bytes, error) = match &outcome {
            Ok((body, _)) => (body.len() as u64, None),
            Err(e) => (0, Some(e.as_str())),
        };
        let process = self.procs[pi].pref();
        self.em.publish(&Event::ProxySourceMap { process, script: &want.key, map: &want.map, bytes, error });
        px.scripts.fetched(want.proxy, &want.key, &want.map, outcome.ok());
        let held = px.maps.release(Some((want.proxy, &want.key)), None);
        self.publish_held(held);
    }

    /// The fetches and held errors past their time.
    pub(in crate::reactor) fn maps_timer(&mut self) {
        let Some(px) = self.proxy.as_mut() else { return };
        px.maps.armed = None;
        let now = Instant::now();
        let late: Vec<usize> = px
            .maps
            .slots
            .iter()
            .enumerate()
            .filter(|(_, a)| a.as_ref().is_some_and(|a| a.deadline <= now))
            .map(|(i, _)| i)
            .collect();
        for slot in late {
            let why = format!("the map did not arrive within {} s", FETCH_TIMEOUT.as_secs());
            self.map_finish(slot, Err(why));
        }
        let Some(px) = self.proxy.as_mut() else { return };
        let held = px.maps.release(None, Some(now));
        self.publish_held(held);
        self.maps_arm();
    }

    /// brum ends: the errors still waiting are published as they are.
    pub(in crate::reactor) fn maps_flush(&mut self) {
        let Some(px) = self.proxy.as_mut() else { return };
        let held = px.maps.release(None, None);
        self.publish_held(held);
    }

    /// Arms the timer for the nearest deadline, unless one as near is armed.
    fn maps_arm(&mut self) {
        let Some(px) = self.proxy.as_mut() else { return };
        let Some(at) = px.maps.nearest() else { return };
        if px.maps.armed.is_some_and(|armed| armed <= at) {
            return;
        }
        px.maps.armed = Some(at);
        self.timers.arm(at, TimerKind::ProxyMaps);
    }
}
