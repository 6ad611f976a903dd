//! A GET brum makes itself: a script's separate source map
//! (`//# sourceMappingURL=app.js.map`), asked of the dev server that served
//! the script. The request is written here, the response read here as its
//! bytes arrive — the head with [`http::parse_response`], the body by its
//! framing (`Content-Length`, chunked through the proxy's own scanner, or
//! until close) — and refused as soon as it cannot be a map worth keeping:
//! a status other than 200, a compressed body, more than [`MAX_MAP`] bytes.
//! Which URLs are fetched at all is [`map_path`]: the script's own origin
//! only, never another host.
//!
//! Leaf: no I/O (the reactor owns the socket), no clock.

use super::chunked::Chunked;
use super::http::{self, Framing, MAX_HEADERS};

/// A source map larger than this is not fetched (a bundle's map is rarely
/// over a few MiB; larger ones would crowd the others out of the cache).
pub const MAX_MAP: usize = 4 << 20;
/// A response head larger than this is refused.
const MAX_HEAD: usize = 16 << 10;
/// A map URL longer than this is not followed.
const MAX_URL: usize = 2000;

/// Why a map was not fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the dev server answered {0}")]
    Status(u16),
    #[error("the map is larger than {} MiB", MAX_MAP >> 20)]
    TooLarge,
    #[error("the map is compressed ({0})")]
    Compressed(String),
    #[error("{0}")]
    Malformed(&'static str),
    #[error("the dev server closed the connection before the whole map")]
    Closed,
}

#[derive(Debug)]
enum St {
    Head,
    Body(Framing),
    Done,
}

/// One response being read.
#[derive(Debug)]
pub struct Fetch {
    st: St,
    /// The head while it is incomplete, then the body (a chunked body
    /// decoded).
    buf: Vec<u8>,
}

impl Default for Fetch {
    fn default() -> Self {
        Fetch::new()
    }
}

/// Writes the request for `path` on the dev server at `authority`
/// (`host:port`, its `Host`).
pub fn request(out: &mut Vec<u8>, path: &str, authority: &str) {
    for part in [
        "GET ",
        path,
        " HTTP/1.1\r\nHost: ",
        authority,
        "\r\nAccept: application/json, */*\r\nAccept-Encoding: identity\r\nUser-Agent: brum\r\nConnection: close\r\n\r\n",
    ] {
        out.extend_from_slice(part.as_bytes());
    }
}

impl Fetch {
    pub fn new() -> Self {
        Fetch { st: St::Head, buf: Vec::new() }
    }

    /// The next bytes read from the socket: `Ok(true)` once the whole body
    /// is in (bytes after it are ignored: the connection closes).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<bool, FetchError> {
        match &mut self.st {
            St::Done => Ok(true),
            St::Head => {
                if self.buf.len() + bytes.len() > MAX_HEAD + MAX_MAP {
                    return Err(FetchError::TooLarge);
                }
                self.buf.extend_from_slice(bytes);
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let r = match http::parse_response(&self.buf, &mut headers, false) {
                    Ok(Some(r)) => r,
                    Ok(None) if self.buf.len() > MAX_HEAD => {
                        return Err(FetchError::Malformed("the response head is larger than 16 KiB"));
                    }
                    Ok(None) => return Ok(false),
                    Err(why) => return Err(FetchError::Malformed(why)),
                };
                if r.interim() {
                    // a 100 Continue before the answer
                    let n = r.head_len;
                    self.buf.drain(..n);
                    return self.feed(&[]);
                }
                if r.code != 200 {
                    return Err(FetchError::Status(r.code));
                }
                let hs = &headers[..r.headers];
                if let Some(enc) = http::find(hs, "content-encoding")
                    && !enc.trim_ascii().eq_ignore_ascii_case(b"identity")
                {
                    return Err(FetchError::Compressed(String::from_utf8_lossy(enc).into_owned()));
                }
                if let Framing::Length(n) = r.framing
                    && n > MAX_MAP as u64
                {
                    return Err(FetchError::TooLarge);
                }
                let framing = r.framing.clone();
                let head_len = r.head_len;
                let rest = self.buf.split_off(head_len);
                self.buf.clear();
                if let Framing::Length(n) = framing {
                    self.buf.reserve_exact(n as usize);
                }
                self.st = St::Body(framing);
                self.feed(&rest)
            }
            St::Body(framing) => {
                let done = match framing {
                    Framing::Chunked(c) => take_chunked(c, bytes, &mut self.buf)?,
                    other => {
                        let (n, done) = other.take(bytes).map_err(|_| FetchError::Malformed("a bad body"))?;
                        if self.buf.len() + n > MAX_MAP {
                            return Err(FetchError::TooLarge);
                        }
                        self.buf.extend_from_slice(&bytes[..n]);
                        done
                    }
                };
                if done {
                    self.st = St::Done;
                }
                Ok(done)
            }
        }
    }

    /// The dev server closed the connection: the body is complete only if
    /// it was to end with the connection.
    pub fn eof(&mut self) -> Result<(), FetchError> {
        match self.st {
            St::Done | St::Body(Framing::UntilClose) => {
                self.st = St::Done;
                Ok(())
            }
            _ => Err(FetchError::Closed),
        }
    }

    /// The body, once [`Fetch::feed`] said it is complete.
    pub fn into_body(self) -> Vec<u8> {
        self.buf
    }
}

fn take_chunked(c: &mut Chunked, bytes: &[u8], out: &mut Vec<u8>) -> Result<bool, FetchError> {
    let mut over = false;
    let (_, done) = c
        .scan_data(bytes, |r| {
            if out.len() + r.len() > MAX_MAP {
                over = true;
            } else if !over {
                out.extend_from_slice(&bytes[r]);
            }
        })
        .map_err(|_| FetchError::Malformed("the dev server sent a malformed chunked body"))?;
    if over {
        return Err(FetchError::TooLarge);
    }
    Ok(done)
}

/// The proxy on `port` as a browser may name it in an absolute map URL:
/// `127.0.0.1`, `localhost` or `[::1]` (the listener is on 127.0.0.1; the
/// other spellings reach it or name it). Never another host.
pub fn proxy_origins(port: u16) -> [String; 3] {
    [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")]
}

/// The path (and query) on the dev server of the map a script served at
/// `script_path` names with `url`: relative to the script, an absolute
/// path, or an `http://` URL of one of `origins` (the dev server's or the
/// proxy's `host:port`). Another host, `https:`, `data:` or anything odd:
/// `None`, never followed.
pub fn map_path(script_path: &str, url: &str, origins: &[&str]) -> Option<String> {
    let odd = |b: u8| b <= b' ' || b >= 0x7f || b"\\\"'<>`".contains(&b);
    if url.is_empty() || url.len() > MAX_URL || url.bytes().any(odd) {
        return None;
    }
    let url = &url[..url.find('#').unwrap_or(url.len())];
    let path = if let Some(rest) =
        url.strip_prefix("//").or_else(|| url.get(..7).filter(|s| s.eq_ignore_ascii_case("http://")).map(|_| &url[7..]))
    {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if !origins.iter().any(|o| o.eq_ignore_ascii_case(authority)) || !path.starts_with('/') {
            return None;
        }
        path.to_string()
    } else if url.starts_with('/') {
        url.to_string()
    } else if has_scheme(url) {
        // https:, data:, file:, …
        return None;
    } else {
        let base = &script_path[..script_path.find(['?', '#']).unwrap_or(script_path.len())];
        let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
        format!("{}{url}", if dir.is_empty() { "/" } else { dir })
    };
    normalize(&path)
}

fn has_scheme(url: &str) -> bool {
    let end = url.find(['/', '?']).unwrap_or(url.len());
    url[..end]
        .find(':')
        .is_some_and(|i| i > 0 && url[..i].bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)))
}

/// `path` with `.` and `..` segments resolved (the query kept); `None` when
/// `..` climbs above the root.
fn normalize(path: &str) -> Option<String> {
    let (p, query) = path.split_at(path.find('?').unwrap_or(path.len()));
    let mut parts: Vec<&str> = Vec::new();
    let segments: Vec<&str> = p.split('/').skip(1).collect();
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {}
            ".." => {
                parts.pop()?;
            }
            "" if i + 1 < segments.len() => {}
            s => parts.push(s),
        }
    }
    let out = format!("/{}{query}", parts.join("/"));
    // brum's own paths are answered by the proxy, never the dev server
    (!out.starts_with(crate::proxy::LOCAL_PREFIX)).then_some(out)
}

#[cfg(test)]
#[path = "fetch_tests.rs"]
mod tests;
