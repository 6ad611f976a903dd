//! One browser connection through a proxy, and the dev-server connection
//! paired with it: HTTP/1.1 exchanges one after the other (keep-alive on
//! both sides; the dev server's connection is reopened when it closes),
//! bodies streamed in both directions through two bounded [`Flow`]s, and a
//! byte tunnel after `101 Switching Protocols`.
//!
//! Readiness is edge-triggered (mio): each side remembers that it may read
//! or write until an operation says `WouldBlock`. A full buffer simply
//! stops reading from its socket — the kernel's buffer fills and TCP closes
//! the window on the sender — and reading resumes as soon as the other side
//! takes bytes, within the same drive; no interest changes (no syscalls) are
//! needed for that.
//!
//! [`Conn::drive`] moves bytes until nothing can move or its budget is
//! spent, and stops at each thing the reactor must do: publish a finished
//! exchange, answer with a 502 page, answer a request to brum's own paths.
//!
//! Rooms: this file is the connection (its sockets, readiness, timeouts,
//! tunnel and closing); [`request`] is the browser's side of an exchange,
//! [`response`] the dev server's.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Registry, Token};

mod request;
mod response;

use super::flow::Flow;
use crate::proxy::http::Framing;
use crate::proxy::target::Target;

/// Bytes buffered from the browser (a request head must fit in 16 KiB).
const REQ_CAP: usize = 32 << 10;
/// Bytes buffered from the dev server.
const RESP_CAP: usize = 64 << 10;
/// Bytes one drive moves before it lets other connections go first.
const DRIVE_BUDGET: usize = 1 << 20;
/// A request head must be complete this long after its first byte.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no request under way is closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body, or a response the browser does not take, that makes no
/// progress for this long ends the connection.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// After brum's last byte, what the browser still sends is read and
/// dropped this long (closing with unread bytes would reset the connection
/// and could destroy the answer before the browser reads it).
const LINGER: Duration = Duration::from_secs(2);

/// What each socket may do, as the last readiness event said.
///
/// A read that fills less than the room it had emptied the socket: its
/// flag is cleared without another `read` to see `WouldBlock` (as tokio
/// does) — unless the peer's close was reported with it (`*_closed`), whose
/// end of stream must still be read, as no new event will announce it. A
/// short write likewise means the socket's buffer is full.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Ready {
    pub c_read: bool,
    pub c_write: bool,
    pub u_read: bool,
    pub u_write: bool,
    pub c_closed: bool,
    pub u_closed: bool,
}

#[derive(Debug)]
enum ReqState {
    /// Waiting for a request head.
    Head,
    /// Forwarding the request's body.
    Body(Framing),
    /// Reading the body of a request to brum's own paths.
    Local {
        framing: Framing,
        max: usize,
    },
    /// The whole request went (or is going) to the dev server.
    Sent,
    Tunnel,
    /// No more requests on this connection.
    Closed,
}

#[derive(Debug)]
enum RespState {
    /// No request under way.
    Idle,
    /// Waiting for the response head.
    Waiting,
    Body(Framing),
    /// Brum answers this request itself.
    Local,
    Tunnel,
}

struct Upstream {
    stream: TcpStream,
    connected: bool,
    /// Index into the target's addresses.
    addr: usize,
    /// It served an exchange before this one.
    reused: bool,
    eof: bool,
    started: Instant,
}

/// The request under way: what its `proxy.request` event says.
#[derive(Debug)]
pub(super) struct Exchange {
    pub method: String,
    pub path: String,
    pub started: Instant,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub status: u16,
    pub upgrade: bool,
    pub error: Option<&'static str>,
    /// The error is the browser's doing (it closed, stalled, sent a bad
    /// body), not the dev server's.
    pub browser_fault: bool,
    /// The body of a request to brum's own paths.
    pub local_body: Vec<u8>,
    /// A page brum would add its script to but may not: why.
    pub inject_skipped: Option<&'static str>,
    keep_alive: bool,
    minor: u8,
    head_request: bool,
    /// A bodyless GET/HEAD sent on a reused connection: when that
    /// connection turns out closed, it is sent again on a new one.
    retryable: bool,
}

/// What the reactor must do after a drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Nothing moves until a socket is ready again.
    Wait,
    /// Budget spent: drive again in the next turn.
    Again,
    /// The exchange ended: publish it, then drive again.
    Finished,
    /// The dev server did not answer: send the 502 page
    /// ([`Conn::answer_unavailable`]), then drive again.
    Unavailable(&'static str),
    /// A request to brum's own paths was read: answer it
    /// ([`Conn::answer_local`]), then drive again.
    Local,
    /// The connection is over.
    Close,
}

/// What a drive needs from the reactor.
pub(super) struct Ctx<'a> {
    pub registry: &'a Registry,
    pub target: &'a Target,
    /// The token of this connection's dev-server socket.
    pub up_token: Token,
    pub inject: bool,
}

pub(super) struct Conn {
    pub proxy: usize,
    client: TcpStream,
    client_ip: IpAddr,
    up: Option<Upstream>,
    req: Flow,
    resp: Flow,
    rs: ReqState,
    ss: RespState,
    pub ex: Exchange,
    /// The response body under way goes through this filter.
    rewrite: Option<crate::proxy::rewrite::Rewrite>,
    /// The script under way, looked at for its source map comment.
    script: Option<crate::proxy::scripts::Capture>,
    /// The last script's path and the map it names, for the proxy to keep.
    pub script_map: Option<(String, crate::proxy::scripts::Found)>,
    pub ready: Ready,
    client_eof: bool,
    /// Close the browser's connection once what it is owed is written.
    closing: bool,
    /// Close the dev server's connection after this response.
    up_close: bool,
    /// An exchange ended and is not yet published.
    done: bool,
    /// Close right after the finished exchange is published.
    abort: bool,
    last_progress: Instant,
    head_started: Option<Instant>,
    lingering: Option<Instant>,
    shut_up: bool,
    shut_client: bool,
}

/// Reads `r` into `f`: bytes read, 0 at EOF, `None` when it would block.
fn read_into(f: &mut Flow, r: &mut impl Read) -> io::Result<Option<usize>> {
    loop {
        match f.read_from(r) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

fn write_from(f: &mut Flow, w: &mut impl Write) -> io::Result<Option<usize>> {
    loop {
        match f.write_to(w) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

impl Conn {
    pub fn new(proxy: usize, client: TcpStream, client_ip: IpAddr, now: Instant) -> Self {
        Conn {
            proxy,
            client,
            client_ip,
            up: None,
            req: Flow::new(REQ_CAP),
            resp: Flow::new(RESP_CAP),
            rs: ReqState::Head,
            ss: RespState::Idle,
            ex: Exchange {
                method: String::new(),
                path: String::new(),
                started: now,
                bytes_in: 0,
                bytes_out: 0,
                status: 0,
                upgrade: false,
                error: None,
                browser_fault: false,
                local_body: Vec::new(),
                inject_skipped: None,
                keep_alive: false,
                minor: 1,
                head_request: false,
                retryable: false,
            },
            rewrite: None,
            script: None,
            script_map: None,
            ready: Ready { c_read: true, c_write: true, ..Ready::default() },
            client_eof: false,
            closing: false,
            up_close: false,
            done: false,
            abort: false,
            last_progress: now,
            head_started: None,
            lingering: None,
            shut_up: false,
            shut_client: false,
        }
    }

    pub fn client(&mut self) -> &mut TcpStream {
        &mut self.client
    }

    /// Deregisters the dev-server socket (the browser's is the caller's).
    pub fn close_upstream(&mut self, registry: &Registry) {
        if let Some(mut up) = self.up.take() {
            let _ = registry.deregister(&mut up.stream);
        }
    }

    /// Moves bytes until nothing can move, the budget is spent, or the
    /// reactor has something to do.
    pub fn drive(&mut self, cx: &Ctx<'_>) -> Step {
        let mut moved = 0usize;
        loop {
            if self.done {
                self.done = false;
                return Step::Finished;
            }
            if self.abort {
                return Step::Close;
            }
            let mut progress = false;
            match self.step(cx, &mut moved) {
                Ok(p) => progress |= p,
                Err(step) => return step,
            }
            if self.closing && self.resp.pending() == 0 && !self.done && !self.exchange_under_way() {
                match self.linger(cx) {
                    Ok(p) => progress |= p,
                    Err(step) => return step,
                }
            }
            if moved >= DRIVE_BUDGET {
                return Step::Again;
            }
            if !progress {
                return Step::Wait;
            }
        }
    }

    /// One pass over both directions: whether anything moved.
    fn step(&mut self, cx: &Ctx<'_>, moved: &mut usize) -> Result<bool, Step> {
        let now = Instant::now();
        let mut progress = false;
        // from the browser
        let accepting = !matches!(self.rs, ReqState::Closed) && self.lingering.is_none();
        let room = if self.ready.c_read && !self.client_eof && accepting { self.req.room() } else { 0 };
        if room > 0 {
            match read_into(&mut self.req, &mut self.client) {
                Ok(Some(0)) => {
                    self.client_eof = true;
                    progress = true;
                }
                Ok(Some(n)) => {
                    *moved += n;
                    self.last_progress = now;
                    progress = true;
                    self.ready.c_read = n == room || self.ready.c_closed;
                }
                Ok(None) => self.ready.c_read = false,
                Err(_) => return Err(self.fail_client()),
            }
        }
        progress |= self.request_side(cx, now)?;
        progress |= self.connect(cx, now)?;
        // to the dev server
        if let Some(up) = self.up.as_mut()
            && up.connected
            && self.ready.u_write
            && self.req.pending() > 0
        {
            let offered = self.req.pending();
            match write_from(&mut self.req, &mut up.stream) {
                Ok(Some(n)) => {
                    *moved += n;
                    self.last_progress = now;
                    progress = true;
                    self.ready.u_write = n == offered;
                }
                Ok(None) => self.ready.u_write = false,
                Err(_) => {
                    up.eof = true;
                    progress = true;
                }
            }
        }
        // from the dev server
        let room = match self.up.as_ref() {
            Some(up) if up.connected && self.ready.u_read && !up.eof && !matches!(self.ss, RespState::Local) => {
                self.resp.room()
            }
            _ => 0,
        };
        if room > 0
            && let Some(up) = self.up.as_mut()
        {
            match read_into(&mut self.resp, &mut up.stream) {
                Ok(Some(0)) | Err(_) => {
                    up.eof = true;
                    progress = true;
                }
                Ok(Some(n)) => {
                    *moved += n;
                    self.last_progress = now;
                    progress = true;
                    self.ready.u_read = n == room || self.ready.u_closed;
                }
                Ok(None) => self.ready.u_read = false,
            }
        }
        progress |= self.response_side(cx)?;
        // to the browser
        if self.ready.c_write && self.resp.pending() > 0 {
            let offered = self.resp.pending();
            match write_from(&mut self.resp, &mut self.client) {
                Ok(Some(n)) => {
                    *moved += n;
                    self.last_progress = now;
                    progress = true;
                    self.ready.c_write = n == offered;
                }
                Ok(None) => self.ready.c_write = false,
                Err(_) => return Err(self.fail_client()),
            }
        }
        if matches!(self.rs, ReqState::Tunnel) {
            progress |= self.half_close(cx)?;
        }
        Ok(progress)
    }

    /// The browser's side failed (reset, broken pipe): what is under way
    /// ends with it.
    fn fail_client(&mut self) -> Step {
        if self.exchange_under_way() {
            return self.browser_failed("the browser closed the connection");
        }
        Step::Close
    }

    fn exchange_under_way(&self) -> bool {
        !matches!(self.rs, ReqState::Head | ReqState::Closed | ReqState::Tunnel)
            || matches!(self.ss, RespState::Waiting | RespState::Body(_))
    }

    fn half_close(&mut self, cx: &Ctx<'_>) -> Result<bool, Step> {
        let mut progress = false;
        let Some(up) = self.up.as_mut() else { return Err(Step::Close) };
        if self.client_eof && self.req.pending() == 0 && !self.shut_up {
            let _ = up.stream.shutdown(Shutdown::Write);
            self.shut_up = true;
            progress = true;
        }
        if up.eof && self.resp.pending() == 0 && self.resp.unframed().is_empty() && !self.shut_client {
            let _ = self.client.shutdown(Shutdown::Write);
            self.shut_client = true;
            progress = true;
        }
        if self.shut_up && self.shut_client {
            self.close_upstream(cx.registry);
            return Err(Step::Close);
        }
        Ok(progress)
    }

    /// Everything owed is written: shut the write side, then read and drop
    /// what the browser still sends until it closes (or [`LINGER`]).
    fn linger(&mut self, cx: &Ctx<'_>) -> Result<bool, Step> {
        if self.lingering.is_none() {
            self.close_upstream(cx.registry);
            let _ = self.client.shutdown(Shutdown::Write);
            self.lingering = Some(Instant::now());
        }
        if self.client_eof {
            return Err(Step::Close);
        }
        let mut sink = [0u8; 4096];
        loop {
            match self.client.read(&mut sink) {
                Ok(0) => return Err(Step::Close),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.ready.c_read = false;
                    return Ok(false);
                }
                Err(_) => return Err(Step::Close),
            }
        }
    }

    /// The 502 page goes out (the dev server could not answer), and the
    /// connection closes after it.
    /// When this connection times out, if it can.
    pub fn deadline(&self) -> Option<Instant> {
        if let Some(at) = self.lingering {
            return Some(at + LINGER);
        }
        if matches!(self.rs, ReqState::Tunnel) {
            return None;
        }
        if let Some(up) = self.up.as_ref().filter(|u| !u.connected) {
            return Some(up.started + CONNECT_TIMEOUT);
        }
        let waiting_server = matches!(self.ss, RespState::Waiting | RespState::Body(_))
            && matches!(self.rs, ReqState::Sent)
            && self.resp.pending() == 0;
        if waiting_server {
            // a dev server may take its time (a first compile, a stream)
            return None;
        }
        if matches!(self.rs, ReqState::Head) && matches!(self.ss, RespState::Idle) && self.resp.pending() == 0 {
            return Some(match self.head_started {
                Some(at) => at + HEAD_TIMEOUT,
                None => self.last_progress + IDLE_TIMEOUT,
            });
        }
        Some(self.last_progress + STALL_TIMEOUT)
    }

    /// The deadline passed: what to do.
    pub fn timed_out(&mut self) -> Step {
        if self.lingering.is_some() {
            return Step::Close;
        }
        if self.up.as_ref().is_some_and(|u| !u.connected) {
            return Step::Unavailable("the dev server did not accept the connection within 10 s");
        }
        if matches!(self.rs, ReqState::Head) && matches!(self.ss, RespState::Idle) {
            if self.head_started.is_some() {
                self.refuse(408, "the request head did not arrive within 10 s");
                return Step::Wait;
            }
            return Step::Close;
        }
        if self.exchange_under_way() {
            return self.browser_failed("no progress for 60 s");
        }
        Step::Close
    }
}
