//! The dev server's side of an exchange: response heads parsed and
//! rewritten for the browser, bodies framed to know where they end, the
//! switch to a tunnel, and the answers brum writes itself (its 502 page,
//! its own paths).

use super::{Conn, Ctx, ReqState, RespState, Step};
use crate::proxy::body;
use crate::proxy::http::{self, Framing, MAX_HEADERS};
use crate::proxy::rewrite::Rewrite;
use crate::proxy::scripts::{self, Capture};

/// A response head must fit in this much.
const MAX_RESP_HEAD: usize = 32 << 10;
/// Bytes a body filter's output may wait to be written before it takes
/// more input.
const MAX_REWRITTEN: usize = 64 << 10;

impl Conn {
    pub(super) fn response_side(&mut self, cx: &Ctx<'_>) -> Result<bool, Step> {
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
            RespState::Waiting => {
                let parsed = self.parse_response(cx, up_eof)?;
                if parsed && matches!(self.ss, RespState::Body(_)) {
                    // the body read with the head goes out with it
                    self.response_side(cx)?;
                }
                Ok(parsed)
            }
            RespState::Body(framing) => {
                if self.rewrite.is_some() && self.resp.pending() >= MAX_REWRITTEN {
                    // what the filter wrote waits for the browser first
                    return Ok(false);
                }
                let (n, done) = match framing.take(self.resp.unframed()) {
                    Ok(x) => x,
                    Err(_) => return Err(self.abort_response("the dev server sent a malformed chunked body")),
                };
                let until_close = matches!(framing, Framing::UntilClose);
                let ended = done || (until_close && up_eof && self.resp.unframed().len() == n);
                if let Some(c) = self.script.as_mut() {
                    c.push(&self.resp.unframed()[..n]);
                }
                match self.rewrite.as_mut() {
                    None => {
                        self.resp.pass(n);
                        self.ex.bytes_out += n as u64;
                    }
                    Some(rw) => {
                        let (unframed, staged) = self.resp.parts();
                        let before = staged.len();
                        rw.feed(&unframed[..n], ended, staged);
                        self.ex.bytes_out += (staged.len() - before) as u64;
                        self.resp.skip(n);
                    }
                }
                if ended {
                    self.rewrite = None;
                    self.script_map = self.script.take().and_then(Capture::finish);
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
        let mut added = 0;
        self.rewrite = None;
        self.script = (r.code == 200 && !ex.head_request && scripts::is_script(hs))
            .then(|| Capture::new(&ex.path, matches!(r.framing, Framing::Chunked(_))));
        ex.inject_skipped = None;
        if cx.inject && !ex.head_request {
            match body::plan(r.code, hs) {
                body::Plan::Pass => {}
                body::Plan::Skip(why) => ex.inject_skipped = Some(why),
                body::Plan::Rewrite { filter, added: n } => {
                    let chunked = matches!(r.framing, Framing::Chunked(_));
                    if matches!(r.framing, Framing::Length(_)) {
                        added = n;
                    }
                    self.rewrite = Some(Rewrite::new(filter, chunked));
                }
            }
        }
        http::write_response(staged, &r, hs, close, ex.minor == 0 && ex.keep_alive && !close, added);
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
    pub(super) fn browser_failed(&mut self, why: &'static str) -> Step {
        self.ex.browser_fault = true;
        self.abort_response(why)
    }

    /// The response cannot be completed: the browser gets what it got, the
    /// exchange is published, and the connection closes.
    pub(super) fn abort_response(&mut self, why: &'static str) -> Step {
        self.ex.error = Some(why);
        self.abort = true;
        Step::Finished
    }

    /// A tunnel's halves close one at a time; both closed ends it.
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
}
