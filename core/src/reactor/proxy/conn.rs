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

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::flow::Flow;
use crate::proxy::http::{self, Framing, MAX_HEADERS};
use crate::proxy::target::Target;
use crate::proxy::{body, local};

/// Bytes buffered from the browser (a request head must fit in
/// [`MAX_REQ_HEAD`]).
const REQ_CAP: usize = 32 << 10;
/// Bytes buffered from the dev server.
const RESP_CAP: usize = 64 << 10;
const MAX_REQ_HEAD: usize = 16 << 10;
const MAX_RESP_HEAD: usize = 32 << 10;
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
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Ready {
    pub c_read: bool,
    pub c_write: bool,
    pub u_read: bool,
    pub u_write: bool,
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
                keep_alive: false,
                minor: 1,
                head_request: false,
                retryable: false,
            },
            ready: Ready { c_read: true, c_write: true, u_read: false, u_write: false },
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
        if self.ready.c_read && !self.client_eof && accepting && self.req.room() > 0 {
            match read_into(&mut self.req, &mut self.client) {
                Ok(Some(0)) => {
                    self.client_eof = true;
                    progress = true;
                }
                Ok(Some(n)) => {
                    *moved += n;
                    self.last_progress = now;
                    progress = true;
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
            match write_from(&mut self.req, &mut up.stream) {
                Ok(Some(n)) => {
                    *moved += n;
                    self.last_progress = now;
                    progress = true;
                }
                Ok(None) => self.ready.u_write = false,
                Err(_) => {
                    up.eof = true;
                    progress = true;
                }
            }
        }
        // from the dev server
        if let Some(up) = self.up.as_mut()
            && up.connected
            && self.ready.u_read
            && !up.eof
            && !matches!(self.ss, RespState::Local)
            && self.resp.room() > 0
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
                }
                Ok(None) => self.ready.u_read = false,
            }
        }
        progress |= self.response_side(cx)?;
        // to the browser
        if self.ready.c_write && self.resp.pending() > 0 {
            match write_from(&mut self.resp, &mut self.client) {
                Ok(Some(n)) => {
                    *moved += n;
                    self.last_progress = now;
                    progress = true;
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

    fn request_side(&mut self, cx: &Ctx<'_>, now: Instant) -> Result<bool, Step> {
        match &mut self.rs {
            ReqState::Head => self.parse_request(cx, now),
            ReqState::Body(framing) => {
                let Ok((n, done)) = framing.take(self.req.unframed()) else {
                    return Err(self.browser_failed("the browser sent a malformed chunked body"));
                };
                self.req.pass(n);
                self.ex.bytes_in += n as u64;
                if done {
                    self.rs = ReqState::Sent;
                } else if self.client_eof && self.req.unframed().is_empty() {
                    return Err(self.browser_failed("the browser closed the connection mid-request"));
                }
                Ok(n > 0 || done)
            }
            ReqState::Local { framing, max } => {
                let max = *max;
                let unframed = self.req.unframed();
                let (n, done) = framing.take(unframed).map_err(|_| Step::Close)?;
                if self.ex.local_body.len() + n > max {
                    self.refuse(413, "the body is larger than brum accepts on its own paths");
                    return Ok(true);
                }
                self.ex.local_body.extend_from_slice(&unframed[..n]);
                self.req.skip(n);
                self.ex.bytes_in += n as u64;
                if done {
                    self.rs = ReqState::Sent;
                    self.ss = RespState::Local;
                    return Err(Step::Local);
                }
                if self.client_eof && self.req.unframed().is_empty() {
                    return Err(Step::Close);
                }
                Ok(n > 0)
            }
            ReqState::Tunnel => {
                let n = self.req.unframed().len();
                self.req.pass(n);
                self.ex.bytes_in += n as u64;
                Ok(n > 0)
            }
            ReqState::Sent | ReqState::Closed => Ok(false),
        }
    }

    /// Parses the next request head, once the previous exchange is over.
    fn parse_request(&mut self, cx: &Ctx<'_>, now: Instant) -> Result<bool, Step> {
        if !matches!(self.ss, RespState::Idle) || !self.req.framed_out() {
            return Ok(false);
        }
        if self.req.unframed().is_empty() {
            if self.client_eof && self.resp.pending() == 0 {
                return Err(Step::Close);
            }
            return Ok(false);
        }
        self.head_started.get_or_insert(now);
        let Conn { req, ex, client_ip, .. } = self;
        let (buf, staged) = req.parts();
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let r = match http::parse_request(buf, &mut headers) {
            Ok(Some(r)) => r,
            Ok(None) if buf.len() >= MAX_REQ_HEAD => {
                self.refuse(431, "the request head is larger than 16 KiB");
                return Ok(true);
            }
            Ok(None) if self.client_eof => return Err(Step::Close),
            Ok(None) => return Ok(false),
            Err(refusal) => {
                self.refuse(refusal.status, refusal.reason);
                return Ok(true);
            }
        };
        ex.method.clear();
        ex.method.push_str(r.method);
        ex.path.clear();
        ex.path.push_str(r.target);
        ex.started = now;
        ex.bytes_in = r.head_len as u64;
        ex.bytes_out = 0;
        ex.status = 0;
        ex.error = None;
        ex.browser_fault = false;
        ex.upgrade = r.upgrade;
        ex.keep_alive = r.keep_alive;
        ex.minor = r.minor;
        ex.head_request = r.method == "HEAD";
        let head_len = r.head_len;
        let framing = r.framing.clone();
        match local::route(r.target) {
            local::Route::Forward => {
                let hs = &headers[..r.headers];
                let identity = cx.inject && body::wants_identity(hs);
                let fwd = http::Forward { client_ip: *client_ip, upstream_host: &cx.target.authority, identity };
                http::write_request(staged, &r, hs, &fwd);
                ex.retryable = framing.is_done() && matches!(r.method, "GET" | "HEAD");
                self.req.skip(head_len);
                self.rs = if framing.is_done() { ReqState::Sent } else { ReqState::Body(framing) };
                self.ss = RespState::Waiting;
            }
            local::Route::Answer { max_body } => {
                ex.local_body.clear();
                self.req.skip(head_len);
                self.rs = ReqState::Local { framing, max: max_body };
            }
        }
        self.head_started = None;
        Ok(true)
    }

    /// Brum answers a request it will not forward, and closes.
    fn refuse(&mut self, status: u16, reason: &str) {
        let body = crate::proxy::page::plain(status, reason);
        http::write_local(self.resp.stage(), status, "text/plain; charset=utf-8", body.as_bytes(), true);
        self.req.discard_unframed();
        self.rs = ReqState::Closed;
        self.ss = RespState::Idle;
        self.closing = true;
    }

    /// Opens (or goes on opening) the dev-server connection a request waits
    /// for.
    fn connect(&mut self, cx: &Ctx<'_>, now: Instant) -> Result<bool, Step> {
        if !matches!(self.ss, RespState::Waiting) {
            return Ok(false);
        }
        if let Some(up) = self.up.as_mut() {
            if up.connected || !self.ready.u_write {
                return Ok(false);
            }
            let failed = match up.stream.take_error() {
                Ok(Some(_)) | Err(_) => true,
                Ok(None) => match up.stream.peer_addr() {
                    Ok(_) => {
                        up.connected = true;
                        return Ok(true);
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(false),
                    Err(_) => true,
                },
            };
            if !failed {
                return Ok(false);
            }
            let next = up.addr + 1;
            self.close_upstream(cx.registry);
            return self.open(cx, next, now);
        }
        self.open(cx, 0, now)
    }

    /// Starts a connection to the target's address `from`, or the next one
    /// that takes it; none left: the dev server is unavailable.
    fn open(&mut self, cx: &Ctx<'_>, from: usize, now: Instant) -> Result<bool, Step> {
        for (i, addr) in cx.target.addrs.iter().enumerate().skip(from) {
            let Ok(mut stream) = TcpStream::connect(*addr) else { continue };
            if cx.registry.register(&mut stream, cx.up_token, Interest::READABLE | Interest::WRITABLE).is_err() {
                continue;
            }
            let _ = stream.set_nodelay(true);
            self.up = Some(Upstream { stream, connected: false, addr: i, reused: false, eof: false, started: now });
            self.ready.u_read = false;
            self.ready.u_write = false;
            self.shut_up = false;
            return Ok(true);
        }
        Err(Step::Unavailable("connection refused"))
    }

    fn response_side(&mut self, cx: &Ctx<'_>) -> Result<bool, Step> {
        let up_eof = self.up.as_ref().is_some_and(|u| u.eof);
        match &mut self.ss {
            RespState::Idle => {
                // a dev server that closes (or talks) between exchanges:
                // its connection is done
                if up_eof || !self.resp.unframed().is_empty() {
                    self.resp.discard_unframed();
                    self.close_upstream(cx.registry);
                    return Ok(true);
                }
                Ok(false)
            }
            RespState::Waiting => self.parse_response(cx, up_eof),
            RespState::Body(framing) => {
                let (n, done) = match framing.take(self.resp.unframed()) {
                    Ok(x) => x,
                    Err(_) => return Err(self.abort_response("the dev server sent a malformed chunked body")),
                };
                self.resp.pass(n);
                self.ex.bytes_out += n as u64;
                let until_close = matches!(framing, Framing::UntilClose);
                if done || (until_close && up_eof && self.resp.unframed().is_empty()) {
                    self.response_done(cx);
                    return Ok(true);
                }
                if up_eof && self.resp.unframed().is_empty() {
                    return Err(self.abort_response("the dev server closed the connection mid-response"));
                }
                Ok(n > 0)
            }
            RespState::Tunnel => {
                let n = self.resp.unframed().len();
                self.resp.pass(n);
                Ok(n > 0)
            }
            RespState::Local => Ok(false),
        }
    }

    fn parse_response(&mut self, cx: &Ctx<'_>, up_eof: bool) -> Result<bool, Step> {
        if !self.resp.framed_out() || !self.up.as_ref().is_some_and(|u| u.connected) {
            return Ok(false);
        }
        let Conn { resp, ex, .. } = self;
        let (buf, staged) = resp.parts();
        if buf.is_empty() {
            if !up_eof {
                return Ok(false);
            }
            let reused = self.up.as_ref().is_some_and(|u| u.reused);
            if self.ex.retryable && reused {
                // the kept connection had closed: the same request on a
                // new one
                self.ex.retryable = false;
                self.close_upstream(cx.registry);
                self.req.restage();
                return Ok(true);
            }
            return Err(Step::Unavailable("the dev server closed the connection without answering"));
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let r = match http::parse_response(buf, &mut headers, ex.head_request) {
            Ok(Some(r)) => r,
            Ok(None) if buf.len() >= MAX_RESP_HEAD => {
                return Err(Step::Unavailable("the dev server's response head is larger than 32 KiB"));
            }
            Ok(None) if up_eof => {
                return Err(Step::Unavailable("the dev server closed the connection in the middle of its answer"));
            }
            Ok(None) => return Ok(false),
            Err(why) => return Err(Step::Unavailable(why)),
        };
        ex.retryable = false;
        let hs = &headers[..r.headers];
        let before = staged.len();
        let head_len = r.head_len;
        if r.interim() {
            http::write_response(staged, &r, hs, false, false, 0);
            ex.bytes_out += (staged.len() - before) as u64;
            self.resp.skip(head_len);
            return Ok(true);
        }
        if r.code == 101 && ex.upgrade {
            http::write_response(staged, &r, hs, false, false, 0);
            ex.bytes_out += (staged.len() - before) as u64;
            ex.status = 101;
            self.resp.skip(head_len);
            self.rs = ReqState::Tunnel;
            self.ss = RespState::Tunnel;
            self.done = true;
            return Ok(true);
        }
        ex.upgrade = false;
        ex.status = r.code;
        let early = matches!(self.rs, ReqState::Body(_));
        let close = !ex.keep_alive || r.framing == Framing::UntilClose || early || self.client_eof;
        if cx.inject
            && let body::Plan::Skip(_) = body::plan(r.code, hs)
        {
            // the injection's seam: nothing is changed yet
        }
        http::write_response(staged, &r, hs, close, ex.minor == 0 && ex.keep_alive && !close, 0);
        ex.bytes_out += (staged.len() - before) as u64;
        self.up_close = r.close;
        self.closing |= close;
        let framing = r.framing.clone();
        self.resp.skip(head_len);
        if framing.is_done() {
            self.response_done(cx);
        } else {
            self.ss = RespState::Body(framing);
        }
        Ok(true)
    }

    /// The response's last byte is framed: the exchange is over.
    fn response_done(&mut self, cx: &Ctx<'_>) {
        let up_eof = self.up.as_ref().is_some_and(|u| u.eof);
        if self.up_close || up_eof || self.closing {
            self.close_upstream(cx.registry);
        } else if let Some(up) = self.up.as_mut() {
            up.reused = true;
        }
        self.ss = RespState::Idle;
        if matches!(self.rs, ReqState::Sent) && !self.closing {
            self.rs = ReqState::Head;
        } else {
            // answered before its body was read, or the last exchange:
            // no more requests on this connection
            self.rs = ReqState::Closed;
            self.closing = true;
        }
        self.done = true;
    }

    /// The exchange ends because of the browser: published, then closed.
    fn browser_failed(&mut self, why: &'static str) -> Step {
        self.ex.browser_fault = true;
        self.abort_response(why)
    }

    /// The response cannot be completed: the browser gets what it got, the
    /// exchange is published, and the connection closes.
    fn abort_response(&mut self, why: &'static str) -> Step {
        self.ex.error = Some(why);
        self.abort = true;
        Step::Finished
    }

    /// A tunnel's halves close one at a time; both closed ends it.
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
    pub fn answer_unavailable(&mut self, cx: &Ctx<'_>, why: &'static str, page: &str) {
        self.close_upstream(cx.registry);
        self.resp.discard_unframed();
        let stage = self.resp.stage();
        let before = stage.len();
        http::write_local(stage, 502, "text/html; charset=utf-8", page.as_bytes(), true);
        self.ex.bytes_out += (stage.len() - before) as u64;
        self.ex.status = 502;
        self.ex.error = Some(why);
        self.ex.upgrade = false;
        self.req.discard_unframed();
        self.rs = ReqState::Closed;
        self.ss = RespState::Idle;
        self.closing = true;
        self.done = true;
    }

    /// Brum's answer to a request for one of its paths.
    pub fn answer_local(&mut self, status: u16, content_type: &str, body: &[u8]) {
        let close = !self.ex.keep_alive || self.client_eof;
        let stage = self.resp.stage();
        let before = stage.len();
        http::write_local(stage, status, content_type, body, close);
        self.ex.bytes_out += (stage.len() - before) as u64;
        self.ex.status = status;
        self.ss = RespState::Idle;
        if close {
            self.rs = ReqState::Closed;
            self.closing = true;
        } else {
            self.rs = ReqState::Head;
        }
        self.done = true;
    }

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
