//! HTTP/1.1 heads for the proxy: requests and responses parsed with
//! `httparse`, their body framing decided (RFC 9112 §6), and the heads
//! rewritten for the other side — hop-by-hop headers dropped, `Host` and
//! `X-Forwarded-*` set the way dev servers expect, `Connection` saying what
//! brum will do with the connection.
//!
//! Leaf: no I/O, no allocation beyond the caller's output buffer; headers
//! are parsed into a caller-owned array. What is ambiguous (two lengths, a
//! length and chunked, an unknown transfer coding) is refused, so the dev
//! server and brum never disagree on where a message ends.

use std::net::IpAddr;

use httparse::Header;

use super::chunked::{ChunkError, Chunked};

/// Headers parsed per message at most (more: 431).
pub const MAX_HEADERS: usize = 128;

/// How a message's body is delimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// This many bytes to go (0: no body, or it is complete).
    Length(u64),
    Chunked(Chunked),
    /// Until the sender closes the connection (responses only).
    UntilClose,
}

impl Framing {
    /// Of `bytes` (the stream from where the body stands), how many belong
    /// to the body, and whether the body ended within them.
    pub fn take(&mut self, bytes: &[u8]) -> Result<(usize, bool), ChunkError> {
        match self {
            Framing::Length(left) => {
                let n = (*left).min(bytes.len() as u64);
                *left -= n;
                Ok((n as usize, *left == 0))
            }
            Framing::Chunked(c) => c.scan(bytes),
            Framing::UntilClose => Ok((bytes.len(), false)),
        }
    }

    pub fn is_done(&self) -> bool {
        match self {
            Framing::Length(left) => *left == 0,
            Framing::Chunked(c) => c.is_done(),
            Framing::UntilClose => false,
        }
    }
}

/// A request brum answers itself instead of forwarding: status and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: &'static str,
}

const fn refuse(status: u16, reason: &'static str) -> Refusal {
    Refusal { status, reason }
}

/// A parsed request head (borrowing the bytes it was parsed from).
#[derive(Debug)]
pub struct Request<'b> {
    pub method: &'b str,
    /// The target in origin form (`/path?query`; `*` for `OPTIONS *`).
    pub target: &'b str,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// Bytes of the head (request line to the empty line).
    pub head_len: usize,
    /// Headers parsed (the first `headers` of the caller's array).
    pub headers: usize,
    pub framing: Framing,
    /// The client wants the connection kept after the response.
    pub keep_alive: bool,
    /// `Connection: upgrade` with an `Upgrade` header (a WebSocket).
    pub upgrade: bool,
    pub host: Option<&'b str>,
}

/// The `Connection` header's tokens (up to a few; more are ignored).
#[derive(Debug, Default)]
struct ConnTokens<'b> {
    tokens: [&'b [u8]; 8],
    n: usize,
}

impl<'b> ConnTokens<'b> {
    fn add(&mut self, value: &'b [u8]) {
        for t in value.split(|&b| b == b',') {
            let t = t.trim_ascii();
            if !t.is_empty() && self.n < self.tokens.len() {
                self.tokens[self.n] = t;
                self.n += 1;
            }
        }
    }

    fn has(&self, token: &str) -> bool {
        self.tokens[..self.n].iter().any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
    }
}

/// Headers never forwarded as they are (RFC 9110 §7.6.1), plus those the
/// proxy writes itself.
fn hop_by_hop(name: &str) -> bool {
    ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "proxy-authorization"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// What the headers of a message say about its framing and connection.
struct Scan<'b> {
    conn: ConnTokens<'b>,
    length: Option<u64>,
    chunked: Option<bool>,
    upgrade: bool,
    host: Option<&'b str>,
    hosts: usize,
}

fn scan<'b>(headers: &[Header<'b>]) -> Result<Scan<'b>, &'static str> {
    let mut s = Scan { conn: ConnTokens::default(), length: None, chunked: None, upgrade: false, host: None, hosts: 0 };
    for h in headers {
        let name = h.name;
        if name.eq_ignore_ascii_case("connection") {
            s.conn.add(h.value);
        } else if name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value).map_err(|_| "a Content-Length that is not a number")?.trim();
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) || v.len() > 18 {
                return Err("a Content-Length that is not a number");
            }
            let n: u64 = v.parse().map_err(|_| "a Content-Length that is not a number")?;
            if s.length.is_some_and(|m| m != n) {
                return Err("two different Content-Length headers");
            }
            s.length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // chunked must be the last coding applied
            let last = h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii).rfind(|t| !t.is_empty());
            let is_chunked = last.is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
            if s.chunked == Some(true) {
                // a coding after chunked
                return Err("a transfer coding after chunked");
            }
            s.chunked = Some(is_chunked);
        } else if name.eq_ignore_ascii_case("upgrade") {
            s.upgrade = !h.value.trim_ascii().is_empty();
        } else if name.eq_ignore_ascii_case("host") {
            s.hosts += 1;
            s.host = std::str::from_utf8(h.value).ok().map(str::trim);
        }
    }
    Ok(s)
}

/// Parses a request head from the start of `buf`: `Ok(None)` while it is
/// incomplete; a [`Refusal`] for what brum answers itself (400, 431, 501).
pub fn parse_request<'b>(buf: &'b [u8], headers: &mut [Header<'b>]) -> Result<Option<Request<'b>>, Refusal> {
    let mut req = httparse::Request::new(headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(refuse(431, "too many header fields")),
        Err(httparse::Error::Version) => return Err(refuse(505, "only HTTP/1.0 and HTTP/1.1 are served")),
        Err(_) => return Err(refuse(400, "the request head is not valid HTTP/1.1")),
    };
    let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(refuse(400, "the request head is not valid HTTP/1.1"));
    };
    let n = req.headers.len();
    let hs: &[Header<'b>] = req.headers;
    let s = scan(hs).map_err(|why| refuse(400, why))?;
    if method == "CONNECT" {
        return Err(refuse(501, "CONNECT is not served: this is a reverse proxy for one dev server"));
    }
    let target = origin_form(method, path).ok_or(refuse(400, "the request target is not a path"))?;
    if s.hosts > 1 {
        return Err(refuse(400, "more than one Host header"));
    }
    if minor == 1 && s.hosts == 0 {
        return Err(refuse(400, "an HTTP/1.1 request without a Host header"));
    }
    let framing = match (s.chunked, s.length) {
        (Some(_), Some(_)) => return Err(refuse(400, "both Content-Length and Transfer-Encoding")),
        (Some(true), None) if minor == 1 => Framing::Chunked(Chunked::new()),
        (Some(_), None) => return Err(refuse(400, "a Transfer-Encoding that does not end with chunked")),
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::Length(0),
    };
    let keep_alive = if minor == 1 { !s.conn.has("close") } else { s.conn.has("keep-alive") };
    let upgrade = minor == 1 && s.upgrade && s.conn.has("upgrade");
    Ok(Some(Request { method, target, minor, head_len, headers: n, framing, keep_alive, upgrade, host: s.host }))
}

/// The target as origin form: `/path`, `*` (OPTIONS only), or the path of
/// an absolute-form `http://host/path`.
fn origin_form<'b>(method: &str, path: &'b str) -> Option<&'b str> {
    if path.starts_with('/') {
        return Some(path);
    }
    if path == "*" && method == "OPTIONS" {
        return Some(path);
    }
    let rest = path.strip_prefix("http://").or_else(|| path.strip_prefix("https://"))?;
    match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => Some(&rest[i..]),
        // "http://host?q" has an empty path: "/" is meant, but the query
        // cannot be kept without allocating; refuse instead
        Some(_) => None,
        None => Some("/"),
    }
}

/// Who the request came from and where it goes, for the forwarded head.
#[derive(Debug, Clone, Copy)]
pub struct Forward<'a> {
    pub client_ip: IpAddr,
    /// `host:port` of the dev server (the `Host` of a request without one).
    pub upstream_host: &'a str,
    /// Ask for an uncompressed body (`Accept-Encoding: identity`): a page
    /// brum will add its script to.
    pub identity: bool,
}

/// Writes the head to send upstream for `req` (parsed with `headers`).
pub fn write_request(out: &mut Vec<u8>, req: &Request<'_>, headers: &[Header<'_>], fwd: &Forward<'_>) {
    let mut conn = ConnTokens::default();
    for h in headers.iter().filter(|h| h.name.eq_ignore_ascii_case("connection")) {
        conn.add(h.value);
    }
    out.extend_from_slice(req.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(req.target.as_bytes());
    out.extend_from_slice(if req.minor == 1 { b" HTTP/1.1\r\n" } else { b" HTTP/1.0\r\n" });
    let (mut has_fwd_host, mut has_fwd_proto) = (false, false);
    for h in headers {
        let name = h.name;
        let kept_upgrade = req.upgrade && name.eq_ignore_ascii_case("upgrade");
        let dropped = hop_by_hop(name) || conn.has(name);
        // Connection is written below; Accept-Encoding too when rewritten
        if (dropped && !kept_upgrade) || (fwd.identity && name.eq_ignore_ascii_case("accept-encoding")) {
            continue;
        }
        has_fwd_host |= name.eq_ignore_ascii_case("x-forwarded-host");
        has_fwd_proto |= name.eq_ignore_ascii_case("x-forwarded-proto");
        header(out, name.as_bytes(), h.value);
    }
    if req.host.is_none() {
        header(out, b"Host", fwd.upstream_host.as_bytes());
    }
    let mut ip = [0u8; 64];
    let ip_len = {
        use std::io::Write;
        let mut w = &mut ip[..];
        let _ = write!(w, "{}", fwd.client_ip);
        64 - w.len()
    };
    header(out, b"X-Forwarded-For", &ip[..ip_len]);
    if !has_fwd_host {
        header(out, b"X-Forwarded-Host", req.host.unwrap_or(fwd.upstream_host).as_bytes());
    }
    if !has_fwd_proto {
        header(out, b"X-Forwarded-Proto", b"http");
    }
    if fwd.identity {
        header(out, b"Accept-Encoding", b"identity");
    }
    if req.upgrade {
        header(out, b"Connection", b"Upgrade");
    } else if req.minor == 0 && req.keep_alive {
        header(out, b"Connection", b"keep-alive");
    }
    out.extend_from_slice(b"\r\n");
}

fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// A parsed response head.
#[derive(Debug)]
pub struct Response<'b> {
    pub code: u16,
    pub reason: &'b str,
    pub minor: u8,
    pub head_len: usize,
    pub headers: usize,
    pub framing: Framing,
    /// The dev server closes the connection after this response.
    pub close: bool,
}

impl Response<'_> {
    /// A 1xx other than 101: another head follows.
    pub fn interim(&self) -> bool {
        (100..200).contains(&self.code) && self.code != 101
    }
}

/// Parses a response head from the start of `buf` (`Ok(None)` while it is
/// incomplete); `head_request`: it answers a HEAD (no body, whatever the
/// headers say).
pub fn parse_response<'b>(
    buf: &'b [u8],
    headers: &mut [Header<'b>],
    head_request: bool,
) -> Result<Option<Response<'b>>, &'static str> {
    let mut resp = httparse::Response::new(headers);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err("the dev server sent too many header fields"),
        Err(_) => return Err("the dev server's response head is not valid HTTP/1.1"),
    };
    let (Some(code), Some(minor)) = (resp.code, resp.version) else {
        return Err("the dev server's response head is not valid HTTP/1.1");
    };
    let reason = resp.reason.unwrap_or("");
    let n = resp.headers.len();
    let s = scan(resp.headers)?;
    let no_body = head_request || (100..200).contains(&code) || code == 204 || code == 304;
    let framing = if no_body {
        Framing::Length(0)
    } else {
        match (s.chunked, s.length) {
            (Some(true), _) => Framing::Chunked(Chunked::new()),
            (Some(false), _) => Framing::UntilClose,
            (None, Some(n)) => Framing::Length(n),
            (None, None) => Framing::UntilClose,
        }
    };
    let close = s.conn.has("close") || (minor == 0 && !s.conn.has("keep-alive")) || framing == Framing::UntilClose;
    Ok(Some(Response { code, reason, minor, head_len, headers: n, framing, close }))
}

/// Writes the head to send the client for `resp` (as HTTP/1.1): hop-by-hop headers
/// dropped (kept for a 101), `Content-Length` raised by `added` (bytes
/// brum adds to the body), and `Connection: close` when brum closes the
/// client's connection after it (`keep_alive_1_0`: an HTTP/1.0 client
/// keeps it).
pub fn write_response(
    out: &mut Vec<u8>,
    resp: &Response<'_>,
    headers: &[Header<'_>],
    close: bool,
    keep_alive_1_0: bool,
    added: u64,
) {
    let switching = resp.code == 101;
    let mut conn = ConnTokens::default();
    for h in headers.iter().filter(|h| h.name.eq_ignore_ascii_case("connection")) {
        conn.add(h.value);
    }
    // a proxy speaks its own version (RFC 9110 §6.2); the framing and
    // Connection below say the rest
    out.extend_from_slice(b"HTTP/1.1 ");
    push_u16(out, resp.code);
    out.push(b' ');
    out.extend_from_slice(resp.reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in headers {
        let name = h.name;
        if switching {
            if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("upgrade") {
                header(out, name.as_bytes(), h.value);
                continue;
            }
        } else if hop_by_hop(name) || conn.has(name) {
            continue;
        }
        if added > 0 && name.eq_ignore_ascii_case("content-length") {
            let n: u64 = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            crate::events::json::push_u64(out, n + added);
            out.extend_from_slice(b"\r\n");
            continue;
        }
        header(out, name.as_bytes(), h.value);
    }
    if !switching {
        if close {
            header(out, b"Connection", b"close");
        } else if keep_alive_1_0 {
            header(out, b"Connection", b"keep-alive");
        }
    }
    out.extend_from_slice(b"\r\n");
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    crate::events::json::push_u64(out, u64::from(v));
}

/// The value of the first header named `name`.
pub fn find<'b>(headers: &[Header<'b>], name: &str) -> Option<&'b [u8]> {
    headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value)
}

/// The standard reason phrase of the statuses brum writes itself.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Writes a whole response brum makes itself (its body included).
pub fn write_local(out: &mut Vec<u8>, status: u16, content_type: &str, body: &[u8], close: bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_u16(out, status);
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    if status == 204 {
        // no body, and no Content-Length (RFC 9110 §8.6)
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(b"\r\nContent-Type: ");
        out.extend_from_slice(content_type.as_bytes());
        out.extend_from_slice(b"\r\nContent-Length: ");
        crate::events::json::push_u64(out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Cache-Control: no-store\r\n");
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if status != 204 {
        out.extend_from_slice(body);
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
