//! The reverse proxy in front of the dev servers' URLs (issue #19), its
//! parts without sockets: a proxy per URL lives in the reactor
//! (`reactor/proxy`, which owns the sockets and calls these).
//!
//! - HTTP/1.1 heads and their framing ([`http`], [`chunked`]), which URLs
//!   are proxied and where to ([`target`]), the pages brum answers with
//!   ([`page`]), the recent requests ([`history`]);
//! - the browser's telemetry: [`inject`] decides whether an HTML response
//!   gets the telemetry script and inserts it while the body streams
//!   through ([`rewrite`] runs a body through it, chunked or not);
//!   [`telemetry`] serves that script and turns the beacons it sends back
//!   into reports and events; [`scripts`] keeps the source maps of the
//!   scripts served (inline ones whole, separate ones by URL), to place
//!   browser errors in the sources, and [`fetch`] is the GET brum makes to
//!   the dev server for a separate map;
//! - the seams the engine calls: [`local`] (brum's own paths) and [`body`]
//!   (what happens to a response body).
//!
//! Leaf-level: no mio, no fds; the clock is passed in.

pub mod chunked;
pub mod fetch;
pub mod history;
pub mod http;
pub mod inject;
pub mod page;
pub mod parsed;
pub mod rewrite;
pub mod scripts;
pub mod target;
pub mod telemetry;

/// Paths under this prefix are brum's own (the telemetry script and its
/// beacons), answered by the proxy and never forwarded.
pub const LOCAL_PREFIX: &str = "/__brum__/";

/// Requests to brum's own paths.
pub mod local {
    use super::telemetry::{BEACON_PATH, MAX_BODY, SCRIPT_PATH};

    /// Whether brum answers a request itself.
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
        if target.starts_with(super::LOCAL_PREFIX) { Route::Answer { max_body: MAX_BODY } } else { Route::Forward }
    }

    /// Which of brum's paths a request is for.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Local {
        /// The telemetry script (`GET`).
        Script,
        /// A batch of reports (`POST`).
        Beacon,
        /// One of them, with another method.
        MethodNotAllowed,
        NotFound,
    }

    pub fn which(method: &str, target: &str) -> Local {
        let path = &target[..target.find(['?', '#']).unwrap_or(target.len())];
        match (method, path) {
            ("GET", SCRIPT_PATH) => Local::Script,
            ("POST", BEACON_PATH) => Local::Beacon,
            (_, SCRIPT_PATH | BEACON_PATH) => Local::MethodNotAllowed,
            _ => Local::NotFound,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn brums_paths() {
            assert_eq!(route("/__brum__/t.js"), Route::Answer { max_body: MAX_BODY });
            assert_eq!(route("/src/__brum__/x"), Route::Forward);
            assert_eq!(which("GET", "/__brum__/t.js?v=1"), Local::Script);
            assert_eq!(which("POST", "/__brum__/telemetry"), Local::Beacon);
            assert_eq!(which("GET", "/__brum__/telemetry"), Local::MethodNotAllowed);
            assert_eq!(which("GET", "/__brum__/nope"), Local::NotFound);
        }
    }
}

/// What happens to response bodies on their way to the browser.
pub mod body {
    use httparse::Header;

    use super::inject;

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

    impl super::rewrite::Filter for inject::Injector {
        fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
            inject::Injector::push(self, input, out);
        }
        fn finish(&mut self, out: &mut Vec<u8>) {
            inject::Injector::finish(self, out);
        }
    }

    /// The plan for a response (its status and headers): an HTML page
    /// gets the telemetry script.
    pub fn plan(status: u16, headers: &[Header<'_>]) -> Plan {
        match inject::plan(status, headers) {
            inject::Plan::Inject(injector) => {
                Plan::Rewrite { filter: Box::new(injector), added: inject::ADDED_LEN as u64 }
            }
            inject::Plan::Skip(why) => Plan::Skip(why),
            inject::Plan::Pass => Plan::Pass,
        }
    }

    /// Whether to ask the dev server for an uncompressed body (a page
    /// navigation whose HTML brum changes).
    pub fn wants_identity(req_headers: &[Header<'_>]) -> bool {
        inject::wants_identity(req_headers)
    }
}
