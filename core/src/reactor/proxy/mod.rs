//! brum's reverse proxies, in the reactor (opt-in: `brum run --proxy` or
//! `[proxy]`): every `http://` URL a process announces on a loopback or LAN
//! address gets a listener on `127.0.0.1` (from `[proxy] port` on, the next
//! free port each), and every browser connection to it is paired with a
//! connection to the dev server ([`conn`]). The proxy outlives the run that
//! announced it: a restart on the same port keeps it, a new port in a later
//! run is followed.
//!
//! Rooms: this file owns the listeners, the connections' slots and tokens,
//! and their timeouts (one sweep a second while a connection has a
//! deadline); [`publish`] turns finished exchanges into `proxy.request`
//! events, the error lifecycle and the request history, and answers the
//! views; [`browser`] answers brum's own paths (the telemetry script, the
//! pages' beacons); [`maps`] fetches the separate source maps browser
//! errors need from the dev servers. The HTTP itself is [`crate::proxy`]'s
//! (no sockets there).

mod browser;
mod conn;
mod flow;
mod maps;
mod publish;

pub(super) use maps::FETCH_BASE;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Interest, Token};

use super::{Reactor, TimerKind};
use crate::config::ProxyConfig;
use crate::events::Event;
use crate::proxy::history::History;
use crate::proxy::target::{self, Target};
use conn::{Conn, Ctx, Step};

/// Listener tokens are `LISTEN_BASE + proxy index`.
pub(super) const LISTEN_BASE: usize = 1 << 40;
/// Connection tokens are `CONN_BASE + slot * 2` (browser) and `+ 1` (dev
/// server).
pub(super) const CONN_BASE: usize = 1 << 41;
/// Proxies opened at most (each is a listening port).
const MAX_PROXIES: usize = 64;
/// Browser connections served at once, all proxies together (each costs
/// two fds and up to 96 KiB of buffers); more get a 503.
const MAX_CONNS: usize = 1024;
/// Ports tried from the next free one before giving up on a URL.
const PORT_TRIES: u16 = 100;
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// URLs remembered as skipped (said once each).
const MAX_SKIPPED: usize = 64;

/// One proxied URL.
pub(super) struct Proxy {
    pub process: usize,
    listener: TcpListener,
    pub port: u16,
    pub target: Target,
    pub proxy_url: String,
    /// The run of its process that announced its URL last.
    run: u32,
    /// Open errors it reported: (id, what resolves it — 0: any request
    /// that works, else that request's key).
    errors: Vec<(u64, u64)>,
    /// Why pages went without the telemetry script (each said once).
    inject_skipped: Vec<&'static str>,
}

/// The proxies of a session and their connections.
pub(super) struct ProxyServer {
    cfg: ProxyConfig,
    pub proxies: Vec<Proxy>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    live: usize,
    next_port: u16,
    /// Connections whose drive ran out of budget: driven again next turn.
    again: Vec<usize>,
    pub history: History,
    /// The source maps of the scripts served (browser errors are placed
    /// in the project's sources through them).
    pub scripts: crate::proxy::scripts::Scripts,
    /// Separate maps being fetched, and the errors that wait for them.
    maps: maps::MapFetches,
    /// The beacons' endpoint: its limits and what they dropped.
    telemetry: crate::proxy::telemetry::Telemetry,
    skipped: Vec<String>,
    sweep_armed: bool,
}

impl ProxyServer {
    pub fn new(cfg: ProxyConfig) -> Self {
        ProxyServer {
            cfg,
            proxies: Vec::new(),
            conns: Vec::new(),
            free: Vec::new(),
            live: 0,
            next_port: cfg.port,
            again: Vec::new(),
            history: History::default(),
            scripts: Default::default(),
            maps: Default::default(),
            telemetry: Default::default(),
            skipped: Vec::new(),
            sweep_armed: false,
        }
    }

    /// Binds `127.0.0.1` on the next free port.
    fn bind(&mut self) -> Result<(TcpListener, u16), String> {
        if self.cfg.port == 0 {
            let l = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
            let port = l.local_addr().map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?.port();
            return Ok((l, port));
        }
        let first = self.next_port;
        for k in 0..PORT_TRIES {
            let Some(port) = first.checked_add(k) else { break };
            if let Ok(l) = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))) {
                self.next_port = port.saturating_add(1);
                return Ok((l, port));
            }
        }
        Err(format!("no free port on 127.0.0.1 from {first} to {}", first.saturating_add(PORT_TRIES - 1)))
    }

    fn skip_once(&mut self, url: &str) -> bool {
        if self.skipped.iter().any(|u| u == url) {
            return false;
        }
        if self.skipped.len() == MAX_SKIPPED {
            self.skipped.remove(0);
        }
        self.skipped.push(url.to_string());
        true
    }
}

/// A refusal written straight into a socket brum will not serve.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 46\r\n\
Connection: close\r\n\r\nbrum's proxy has too many connections open.\r\n\r\n";

impl Reactor {
    /// A process announced `url`: proxy it (a new listener, or the one of
    /// its earlier run), or say why not.
    pub(super) fn proxy_url_announced(&mut self, pi: usize, url: &str) {
        let Some(px) = self.proxy.as_mut() else { return };
        let run = self.procs[pi].child.run;
        let target = match target::target(url) {
            Ok(t) => t,
            Err(why) => {
                if px.skip_once(url) {
                    let reason = why.to_string();
                    self.em.publish(&Event::ProxySkipped { process: self.procs[pi].pref(), url, reason: &reason });
                }
                return;
            }
        };
        // the same server (same process, same port): the proxy stays; a
        // later run's new port: the proxy of an earlier run follows it
        let found = px
            .proxies
            .iter()
            .position(|p| p.process == pi && p.target.port == target.port)
            .or_else(|| px.proxies.iter().position(|p| p.process == pi && p.run < run));
        let idx = match found {
            Some(i) if px.proxies[i].run == run && px.proxies[i].target.port == target.port => return,
            Some(i) => {
                let p = &mut px.proxies[i];
                p.run = run;
                p.proxy_url = format!("http://127.0.0.1:{}{}", p.port, target.path);
                p.target = target;
                i
            }
            None => {
                if px.proxies.len() >= MAX_PROXIES {
                    if px.skip_once(url) {
                        let reason = format!("brum proxies {MAX_PROXIES} URLs at most");
                        self.em.publish(&Event::ProxySkipped { process: self.procs[pi].pref(), url, reason: &reason });
                    }
                    return;
                }
                let (mut listener, port) = match px.bind() {
                    Ok(x) => x,
                    Err(reason) => {
                        self.em.publish(&Event::ProxySkipped { process: self.procs[pi].pref(), url, reason: &reason });
                        return;
                    }
                };
                let idx = px.proxies.len();
                if let Err(e) =
                    self.poll.registry().register(&mut listener, Token(LISTEN_BASE + idx), Interest::READABLE)
                {
                    let reason = format!("cannot listen on port {port}: {e}");
                    self.em.publish(&Event::ProxySkipped { process: self.procs[pi].pref(), url, reason: &reason });
                    return;
                }
                let proxy_url = format!("http://127.0.0.1:{port}{}", target.path);
                px.proxies.push(Proxy {
                    process: pi,
                    listener,
                    port,
                    target,
                    proxy_url,
                    run,
                    errors: Vec::new(),
                    inject_skipped: Vec::new(),
                });
                idx
            }
        };
        let p = &px.proxies[idx];
        self.em.publish(&Event::ProxyStarted { process: self.procs[pi].pref(), url, proxy_url: &p.proxy_url });
    }

    /// A listener is readable: accept every pending connection.
    pub(super) fn proxy_accept(&mut self, idx: usize) {
        loop {
            let Some(px) = self.proxy.as_mut() else { return };
            let Some(p) = px.proxies.get_mut(idx) else { return };
            let (mut stream, peer) = match p.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock: all taken; others (out of fds): the next
                // connection brings the listener back
                Err(_) => return,
            };
            if px.live >= MAX_CONNS {
                let _ = stream.write_all(BUSY);
                continue;
            }
            let slot = match px.free.pop() {
                Some(s) => s,
                None => {
                    px.conns.push(None);
                    px.conns.len() - 1
                }
            };
            let token = Token(CONN_BASE + slot * 2);
            if self.poll.registry().register(&mut stream, token, Interest::READABLE | Interest::WRITABLE).is_err() {
                px.free.push(slot);
                continue;
            }
            let _ = stream.set_nodelay(true);
            px.conns[slot] = Some(Conn::new(idx, stream, peer.ip(), Instant::now()));
            px.live += 1;
            self.arm_proxy_sweep();
        }
    }

    /// A connection's socket is ready (`upstream`: the dev server's side;
    /// `closed`: its peer closed, or it failed).
    pub(super) fn proxy_ready(&mut self, offset: usize, readable: bool, writable: bool, closed: bool) {
        let (slot, upstream) = (offset / 2, offset % 2 == 1);
        let Some(conn) = self.proxy.as_mut().and_then(|px| px.conns.get_mut(slot)).and_then(Option::as_mut) else {
            return;
        };
        if upstream {
            conn.ready.u_read |= readable;
            conn.ready.u_write |= writable;
            conn.ready.u_closed |= closed;
        } else {
            conn.ready.c_read |= readable;
            conn.ready.c_write |= writable;
            conn.ready.c_closed |= closed;
        }
        self.proxy_drive(slot, None);
    }

    /// Drives connection `slot` (starting from `first`, a step already
    /// taken) until it waits, and does what it asks on the way.
    fn proxy_drive(&mut self, slot: usize, first: Option<Step>) {
        let mut next = first;
        loop {
            let Some(px) = self.proxy.as_mut() else { return };
            let Some(conn) = px.conns.get_mut(slot).and_then(Option::as_mut) else { return };
            let p = &px.proxies[conn.proxy];
            let cx = Ctx {
                registry: self.poll.registry(),
                target: &p.target,
                up_token: Token(CONN_BASE + slot * 2 + 1),
                inject: px.cfg.inject,
            };
            let step = match next.take() {
                Some(s) => s,
                None => conn.drive(&cx),
            };
            match step {
                Step::Wait => return,
                Step::Again => {
                    if !px.again.contains(&slot) {
                        px.again.push(slot);
                    }
                    return;
                }
                Step::Finished => self.publish_exchange(slot),
                Step::Unavailable(why) => {
                    let proxy = conn.proxy;
                    let page = self.unavailable_page(proxy, why);
                    let Some(px) = self.proxy.as_mut() else { return };
                    let Some(conn) = px.conns.get_mut(slot).and_then(Option::as_mut) else { return };
                    let cx = Ctx {
                        registry: self.poll.registry(),
                        target: &px.proxies[proxy].target,
                        up_token: Token(CONN_BASE + slot * 2 + 1),
                        inject: px.cfg.inject,
                    };
                    conn.answer_unavailable(&cx, why, &page);
                }
                Step::Local => self.answer_brum_path(slot),
                Step::Close => {
                    self.close_conn(slot);
                    return;
                }
            }
        }
    }

    fn close_conn(&mut self, slot: usize) {
        let Some(px) = self.proxy.as_mut() else { return };
        let Some(mut conn) = px.conns.get_mut(slot).and_then(Option::take) else { return };
        let registry = self.poll.registry();
        conn.close_upstream(registry);
        let _ = registry.deregister(conn.client());
        px.free.push(slot);
        px.live -= 1;
        px.again.retain(|&s| s != slot);
    }

    /// Whether some connection waits to be driven again this turn.
    pub(super) fn proxy_busy(&self) -> bool {
        self.proxy.as_ref().is_some_and(|px| !px.again.is_empty())
    }

    /// Drives the connections that ran out of budget last turn.
    pub(super) fn proxy_turn(&mut self) {
        let Some(px) = self.proxy.as_mut() else { return };
        if px.again.is_empty() {
            return;
        }
        let slots = std::mem::take(&mut px.again);
        for slot in slots {
            self.proxy_drive(slot, None);
        }
    }

    fn arm_proxy_sweep(&mut self) {
        let Some(px) = self.proxy.as_mut() else { return };
        if !px.sweep_armed {
            px.sweep_armed = true;
            self.timers.arm(Instant::now() + SWEEP_EVERY, TimerKind::ProxySweep);
        }
    }

    /// Times out the connections past their deadline; armed again while
    /// some connection has one.
    pub(super) fn proxy_sweep(&mut self) {
        let Some(px) = self.proxy.as_mut() else { return };
        px.sweep_armed = false;
        let now = Instant::now();
        let mut any = false;
        let mut due = Vec::new();
        for (slot, c) in px.conns.iter().enumerate() {
            if let Some(at) = c.as_ref().and_then(Conn::deadline) {
                any = true;
                if at <= now {
                    due.push(slot);
                }
            }
        }
        for slot in due {
            let Some(conn) = self.proxy.as_mut().and_then(|px| px.conns.get_mut(slot)).and_then(Option::as_mut) else {
                continue;
            };
            // Wait: an answer was staged (408); drive it out
            let step = conn.timed_out();
            self.proxy_drive(slot, (step != Step::Wait).then_some(step));
        }
        if any {
            self.arm_proxy_sweep();
        }
    }
}
