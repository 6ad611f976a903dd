//! The browser's side of an exchange: request heads parsed and rewritten
//! for the dev server (or refused, or kept for brum's own paths), bodies
//! framed on their way, and the dev-server connection opened for them.

use std::io;
use std::time::Instant;

use mio::Interest;
use mio::net::TcpStream;

use super::{Conn, Ctx, ReqState, RespState, Step, Upstream};
use crate::proxy::http::{self, MAX_HEADERS};
use crate::proxy::{body, local};

/// A request head must fit in this much.
const MAX_REQ_HEAD: usize = 16 << 10;

impl Conn {
    pub(super) fn request_side(&mut self, cx: &Ctx<'_>, now: Instant) -> Result<bool, Step> {
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
    pub(super) fn refuse(&mut self, status: u16, reason: &str) {
        let body = crate::proxy::page::plain(status, reason);
        http::write_local(self.resp.stage(), status, "text/plain; charset=utf-8", body.as_bytes(), true);
        self.req.discard_unframed();
        self.rs = ReqState::Closed;
        self.ss = RespState::Idle;
        self.closing = true;
    }

    /// Opens (or goes on opening) the dev-server connection a request waits
    /// for.
    pub(super) fn connect(&mut self, cx: &Ctx<'_>, now: Instant) -> Result<bool, Step> {
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
            self.ready.u_closed = false;
            self.shut_up = false;
            return Ok(true);
        }
        Err(Step::Unavailable("connection refused"))
    }
}
