//! The proxy's protocol side: a reverse proxy per dev-server URL lives in
//! the reactor (`reactor/proxy`, which owns the sockets); this module is
//! what it needs that has no sockets — HTTP/1.1 heads and their framing
//! ([`http`], [`chunked`]), which URLs are proxied and where to
//! ([`target`]), the pages brum answers with ([`page`]), the recent
//! requests ([`history`]), and the seams where brum's own paths
//! (`/__brum__/…`) and HTML responses are handled ([`local`], [`body`]).
//!
//! Leaf-level: no mio, no fds, no clock; uses `events` for its number
//! formatting only.

pub mod chunked;
pub mod history;
pub mod http;
pub mod page;
pub mod rewrite;
pub mod scripts;
pub mod target;

/// Paths under this prefix are brum's own (the telemetry script and its
/// beacons), answered by the proxy and never forwarded.
pub const LOCAL_PREFIX: &str = "/__brum__/";

/// Requests to brum's own paths.
pub mod local {
    /// What brum does with a request to one of its own paths.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Route {
        /// Not brum's: forward it.
        Forward,
        /// Brum answers it; its body (if any) is read first, up to
        /// `max_body` bytes (more: 413).
        Answer { max_body: usize },
    }

    /// Where a request goes.
    pub fn route(target: &str) -> Route {
        if target.starts_with(super::LOCAL_PREFIX) { Route::Answer { max_body: 64 << 10 } } else { Route::Forward }
    }

    /// A local answer: status, content type, body.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Answer {
        pub status: u16,
        pub content_type: &'static str,
        pub body: Vec<u8>,
    }

    /// The answer to a request for one of brum's paths (whose body was
    /// read whole).
    pub fn answer(method: &str, target: &str, _body: &[u8]) -> Answer {
        let _ = method;
        Answer {
            status: 404,
            content_type: "text/plain; charset=utf-8",
            body: format!("404 Not Found: {target} is not one of brum's paths\n").into_bytes(),
        }
    }
}

/// What happens to response bodies on their way to the browser.
pub mod body {
    use httparse::Header;

    /// What to do with a response's body.
    pub enum Plan {
        /// Forward it unchanged.
        Pass,
        /// Leave it (a page brum would add its script to but may not),
        /// and say why once.
        Skip(&'static str),
        /// Change it through `filter`, which adds `added` bytes in all (a
        /// `Content-Length` grows by that much).
        Rewrite { filter: Box<dyn super::rewrite::Filter>, added: u64 },
    }

    impl std::fmt::Debug for Plan {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Plan::Pass => f.write_str("Pass"),
                Plan::Skip(why) => write!(f, "Skip({why})"),
                Plan::Rewrite { added, .. } => write!(f, "Rewrite(+{added})"),
            }
        }
    }

    /// The plan for a response (its status and headers).
    pub fn plan(status: u16, headers: &[Header<'_>]) -> Plan {
        let _ = (status, headers);
        Plan::Pass
    }

    /// Whether to ask the dev server for an uncompressed body (a page
    /// navigation whose HTML brum changes).
    pub fn wants_identity(req_headers: &[Header<'_>]) -> bool {
        let _ = req_headers;
        false
    }
}
