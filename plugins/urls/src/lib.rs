//! URL detector: finds the addresses that dev servers announce in their output.
//!
//! Plain Rust logic (no threads, no filesystem, no clock, no randomness) so it can be
//! wrapped as a `wasm32-wasip2` component.
//!
//! # What is reported
//!
//! `http`, `https`, `ws` and `wss` URLs (scheme matched ASCII-case-insensitively)
//! whose host is
//!
//! * `localhost`, `*.localhost`, `*.local`, `*.lan`, `*.internal`, `*.home.arpa`, `*.test`;
//! * a loopback / unspecified / private / link-local IP literal: `127.0.0.0/8`,
//!   `0.0.0.0`, `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, `169.254.0.0/16`,
//!   `100.64.0.0/10` (CGNAT, e.g. Tailscale), `[::1]`, `[::]`, `fe80::/10`,
//!   `fc00::/7`, and IPv4-mapped forms of the v4 ranges (`[::ffff:127.0.0.1]`);
//! * or any other host **with an explicit port**: a bare single-label hostname
//!   (`http://myhost:8080`), any IP literal (a server bound to a public interface of a
//!   VM), or a dotted domain, unless its path starts with a `docs`, `doc` or
//!   `documentation` segment (documentation links are never announcements).
//!
//! Everything else — remote links without a port such as `https://nextjs.org/docs/...`,
//! `https://github.com/...`, `https://vitejs.dev/...` — is ignored.
//!
//! # Normal form of a reported URL
//!
//! * ANSI escape sequences (CSI such as colours, OSC such as OSC-8 hyperlinks, and
//!   two-byte escapes) are removed first, so colour codes inside a URL are harmless.
//! * The URL ends at whitespace, a control character, a non-ASCII byte, or one of
//!   `" < > \ ^ ` { | }`; then trailing `. , ; : ! ? '` are trimmed, and a trailing
//!   `)`, `]` or `}` is trimmed when it has no matching opener inside the URL.
//! * The scheme and the host are lowercased; userinfo, port, path, query and
//!   fragment are kept **exactly as printed**, including a trailing `/` (so
//!   `http://localhost:5173/` is reported with its slash and `http://127.0.0.1:3000`
//!   without). Wildcard hosts (`0.0.0.0`, `[::]`) are reported as printed; rewriting
//!   them to `localhost` for opening in a browser is left to the consumer.
//!
//! # Deduplication
//!
//! Per process, a URL is reported once. The dedup key is the normal form with a
//! lone `/` path removed, so `http://localhost:3000` and `http://localhost:3000/`
//! count as the same URL (whichever was printed first is reported).
//! [`UrlDetector::on_process_end`] forgets a process's set, so a restarted server's
//! URL is reported again. To bound memory when a process logs many distinct URLs
//! (e.g. request logs), at most [`MAX_URLS_PER_PROCESS`] distinct URLs are reported
//! per process run; further new URLs are ignored until the process ends.
//!
//! # Label
//!
//! When the text right before a URL is `Label:` (e.g. `➜  Local:   http://...`,
//! `- Network: http://...`, `On Your Network (IPv4): http://...`,
//! `[webpack-dev-server] Loopback: http://...`), the label is reported with
//! whitespace collapsed. A label is 1–4 words, at most 40 bytes, starts with an
//! uppercase ASCII letter, and contains only ASCII letters, digits, spaces, `-`, `_`
//! and parentheses; log-level words such as `Error` or `Warning` are not labels.
//!
//! # Cost
//!
//! Lines without `://` are rejected with one search for a colon and no allocation.
//! ANSI stripping only copies (into a reused buffer) when the line contains ESC.

#[cfg(target_arch = "wasm32")]
mod component;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use brum_plugin_sdk::text::strip_ansi_into;
use memchr::memmem;

/// At most this many distinct URLs are reported for one process run.
pub const MAX_URLS_PER_PROCESS: usize = 128;

pub use brum_plugin_sdk::{Line, Pipe};

#[derive(Debug, Clone, PartialEq)]
pub struct UrlFound {
    pub process: u32,
    pub seq: u64,
    /// The URL in normal form (see the crate docs).
    pub url: String,
    /// E.g. `"Local"`, `"Network"` when the line labels the URL.
    pub label: Option<String>,
}

pub struct UrlDetector {
    /// Dedup keys already reported, per process. BTree collections avoid needing a
    /// random hasher seed (no randomness import in wasm).
    seen: BTreeMap<u32, BTreeSet<String>>,
    /// Reused buffer for the ANSI-stripped line.
    scratch: Vec<u8>,
    finder: SchemeSep,
}

impl Default for UrlDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl UrlDetector {
    pub fn new() -> Self {
        UrlDetector { seen: BTreeMap::new(), scratch: Vec::new(), finder: SchemeSep::default() }
    }

    /// Scans one output line and appends newly seen URLs to `out`.
    pub fn on_line(&mut self, line: &Line<'_>, out: &mut Vec<UrlFound>) {
        let raw = line.bytes;
        if self.finder.find(raw).is_none() {
            return;
        }
        let text: &[u8] = if memchr::memchr(0x1b, raw).is_some() {
            strip_ansi_into(raw, &mut self.scratch);
            &self.scratch
        } else {
            raw
        };

        let mut search_from = 0;
        // End of the previous URL (or 0): the label of a URL is looked for after it.
        let mut prev_end = 0;
        while let Some(rel) = self.finder.find(&text[search_from..]) {
            let sep = search_from + rel;
            search_from = sep + 3;
            let Some(cand) = parse_at(text, sep) else {
                continue;
            };
            search_from = search_from.max(cand.end);
            if !is_interesting(text, &cand) {
                prev_end = cand.end;
                continue;
            }
            let url = cand.normal_form(text);
            let label = find_label(&text[prev_end..cand.start]);
            prev_end = cand.end;

            let key = dedup_key(&url, &cand);
            let set = self.seen.entry(line.process).or_default();
            if set.contains(key) || set.len() >= MAX_URLS_PER_PROCESS {
                continue;
            }
            set.insert(key.to_owned());
            out.push(UrlFound { process: line.process, seq: line.seq, url, label });
        }
    }

    /// Calls `f` with the index of every line that holds `://`, in order,
    /// found by one search over the batch's whole byte buffer rather than
    /// one per line: `data` holds the lines back to back, line `i` at
    /// `start[i]` for `len[i]` bytes. A hit that spans two lines is no
    /// line's. Columns out of order (not how brum builds a batch) are
    /// searched line by line.
    pub fn lines_with_urls(&self, data: &[u8], start: &[u32], len: &[u32], mut f: impl FnMut(usize)) {
        let n = start.len().min(len.len());
        let end_of = |i: usize| (start[i] as usize).saturating_add(len[i] as usize);
        let in_order = (0..n).all(|i| end_of(i) <= data.len() && (i + 1 == n || end_of(i) <= start[i + 1] as usize));
        if !in_order {
            let line = |i: usize| data.get(start[i] as usize..end_of(i).min(data.len())).unwrap_or(&[]);
            (0..n).filter(|&i| self.finder.find(line(i)).is_some()).for_each(f);
            return;
        }
        let (mut i, mut from) = (0, 0);
        while i < n {
            let Some(rel) = self.finder.find(&data[from..]) else {
                return;
            };
            let at = from + rel;
            // the first line that ends after the hit's start
            i += (i..n).take_while(|&j| end_of(j) <= at).count();
            if i == n {
                return;
            }
            if start[i] as usize <= at && at + 3 <= end_of(i) {
                f(i);
                from = end_of(i);
                i += 1;
            } else {
                from = at + 1;
            }
        }
    }

    /// Forgets the process's dedup set, so a restarted server's URL is reported again.
    pub fn on_process_end(&mut self, process: u32) {
        self.seen.remove(&process);
    }
}

/// Finds `://`: first the colon alone (a one-byte search is the fastest
/// scan there is, and most output has no colon at all); from the first
/// colon that begins no URL (a time, a `file:line`) on, the three bytes
/// together (`memmem`), which skips such colons without stopping. Measured
/// on the plugin bench: ordinary log lines 10.6 -> 7.7 ns a line, real tool
/// output with its many colons no slower than `memmem` alone.
#[derive(Debug, Clone)]
pub struct SchemeSep {
    finder: memmem::Finder<'static>,
}

impl Default for SchemeSep {
    fn default() -> Self {
        SchemeSep { finder: memmem::Finder::new(b"://").into_owned() }
    }
}

impl SchemeSep {
    /// Where the first `://` of `hay` begins.
    #[inline]
    pub fn find(&self, hay: &[u8]) -> Option<usize> {
        let at = memchr::memchr(b':', hay)?;
        if hay.get(at + 1..at + 3) == Some(b"//") {
            return Some(at);
        }
        self.finder.find(&hay[at + 1..]).map(|rel| at + 1 + rel)
    }
}

/// A URL located in a line. All offsets index the (stripped) line.
struct Candidate {
    start: usize,
    end: usize,
    scheme_len: usize,
    /// Host, as printed (for IPv6 including the brackets).
    host: (usize, usize),
    /// Whether a non-empty explicit port is present.
    has_port: bool,
    /// Start of path/query/fragment (== end when none).
    path_start: usize,
}

impl Candidate {
    fn normal_form(&self, text: &[u8]) -> String {
        let mut s = String::with_capacity(self.end - self.start);
        for &b in &text[self.start..self.start + self.scheme_len] {
            s.push(b.to_ascii_lowercase() as char);
        }
        // Everything is ASCII (the URL stops at non-ASCII bytes).
        for (i, &b) in text[self.start + self.scheme_len..self.end].iter().enumerate() {
            let at = self.start + self.scheme_len + i;
            let c = if at >= self.host.0 && at < self.host.1 { b.to_ascii_lowercase() } else { b };
            s.push(c as char);
        }
        s
    }
}

fn dedup_key<'u>(url: &'u str, cand: &Candidate) -> &'u str {
    if cand.end - cand.path_start == 1 && url.ends_with('/') { &url[..url.len() - 1] } else { url }
}

/// Bytes that end a URL.
fn is_terminator(b: u8) -> bool {
    b <= b' ' || b >= 0x7f || matches!(b, b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}')
}

/// Parses a URL whose `://` is at `sep`.
fn parse_at(text: &[u8], sep: usize) -> Option<Candidate> {
    // Scheme: ASCII letters right before "://", not preceded by an alphanumeric.
    let mut start = sep;
    while start > 0 && text[start - 1].is_ascii_alphabetic() && sep - start < 5 {
        start -= 1;
    }
    if start > 0 && text[start - 1].is_ascii_alphanumeric() {
        return None;
    }
    let scheme = &text[start..sep];
    let ok_scheme = [&b"http"[..], b"https", b"ws", b"wss"].iter().any(|s| scheme.eq_ignore_ascii_case(s));
    if !ok_scheme {
        return None;
    }

    // Raw extent, then trailing punctuation trimming.
    let body = sep + 3;
    let mut end = body;
    while end < text.len() && !is_terminator(text[end]) {
        end += 1;
    }
    end = trim_trailing(text, body, end);
    if end == body {
        return None;
    }

    // Authority: up to the first '/', '?' or '#'.
    let auth_end = text[body..end].iter().position(|&b| matches!(b, b'/' | b'?' | b'#')).map_or(end, |p| body + p);
    let auth = &text[body..auth_end];
    let host_start = match auth.iter().rposition(|&b| b == b'@') {
        Some(p) => body + p + 1,
        None => body,
    };
    let hostport = &text[host_start..auth_end];
    let (host_end, port) = if hostport.first() == Some(&b'[') {
        let close = hostport.iter().position(|&b| b == b']')?;
        let rest = &hostport[close + 1..];
        let port = match rest {
            [] => None,
            [b':', p @ ..] => Some(p),
            _ => return None,
        };
        (host_start + close + 1, port)
    } else {
        match hostport.iter().position(|&b| b == b':') {
            Some(p) => (host_start + p, Some(&hostport[p + 1..])),
            None => (auth_end, None),
        }
    };
    let host = &text[host_start..host_end];
    if host.is_empty() {
        return None;
    }
    if host[0] != b'[' && !host.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')) {
        return None;
    }
    let has_port = match port {
        None | Some([]) => false,
        Some(p) => {
            if p.len() > 5 || !p.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let n: u32 = p.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0'));
            if n > 65535 {
                return None;
            }
            true
        }
    };
    Some(Candidate {
        start,
        end,
        scheme_len: sep - start,
        host: (host_start, host_end),
        has_port,
        path_start: auth_end,
    })
}

/// Trims trailing punctuation off `text[body..end]`, returning the new end.
fn trim_trailing(text: &[u8], body: usize, mut end: usize) -> usize {
    while end > body {
        let b = text[end - 1];
        let trim = match b {
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'\'' => true,
            b')' => unbalanced(&text[body..end], b'(', b')'),
            b']' => unbalanced(&text[body..end], b'[', b']'),
            b'}' => unbalanced(&text[body..end], b'{', b'}'),
            _ => false,
        };
        if !trim {
            break;
        }
        end -= 1;
    }
    end
}

fn unbalanced(s: &[u8], open: u8, close: u8) -> bool {
    let opens = s.iter().filter(|&&b| b == open).count();
    let closes = s.iter().filter(|&&b| b == close).count();
    closes > opens
}

/// Decides whether a parsed URL is a dev-server announcement (see the crate docs).
fn is_interesting(text: &[u8], c: &Candidate) -> bool {
    let host = &text[c.host.0..c.host.1];
    if host[0] == b'[' {
        let inner = &host[1..host.len() - 1];
        // Strip a zone id: fe80::1%eth0 or fe80::1%25eth0.
        let inner = match inner.iter().position(|&b| b == b'%') {
            Some(p) => &inner[..p],
            None => inner,
        };
        let Some(ip) = std::str::from_utf8(inner).ok().and_then(|s| s.parse::<Ipv6Addr>().ok()) else {
            return false;
        };
        return is_local_v6(ip) || c.has_port;
    }
    if let Some(ip) = std::str::from_utf8(host).ok().and_then(|s| s.parse::<Ipv4Addr>().ok()) {
        return is_local_v4(ip) || c.has_port;
    }
    if host.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        // Looks numeric but is not a valid dotted quad (e.g. 999.1.1.1).
        return false;
    }
    if is_local_name(host) {
        return true;
    }
    if !c.has_port {
        return false;
    }
    if !host.contains(&b'.') {
        // Bare hostname with an explicit port: http://myhost:8080
        return true;
    }
    // A dotted (possibly public) domain with an explicit port: report it unless it
    // is a documentation link.
    !is_docs_path(&text[c.path_start..c.end])
}

fn is_local_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (64..128).contains(&b))
}

fn is_local_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_local_v4(v4);
    }
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
}

fn ends_with_ci(s: &[u8], suffix: &[u8]) -> bool {
    s.len() >= suffix.len() && s[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

fn is_local_name(host: &[u8]) -> bool {
    let host = host.strip_suffix(b".").unwrap_or(host); // FQDN form "localhost."
    host.eq_ignore_ascii_case(b"localhost")
        || [&b".localhost"[..], b".local", b".lan", b".internal", b".home.arpa", b".test"]
            .iter()
            .any(|suf| ends_with_ci(host, suf) && host.len() > suf.len())
}

/// True when the path's first segment is `docs`, `doc` or `documentation`.
fn is_docs_path(path: &[u8]) -> bool {
    let Some(rest) = path.strip_prefix(b"/") else {
        return false;
    };
    let seg_end = rest.iter().position(|&b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let seg = &rest[..seg_end];
    [&b"docs"[..], b"doc", b"documentation"].iter().any(|d| seg.eq_ignore_ascii_case(d))
}

/// Words that end in `:` before a URL but are not labels.
const NOT_LABELS: &[&str] = &[
    "error", "err", "warning", "warn", "info", "debug", "trace", "fatal", "note", "hint", "see", "url", "href", "link",
    "docs", "http", "https", "ws", "wss", "at", "on",
];

/// Extracts a `Label:` that directly precedes a URL (see the crate docs).
fn find_label(before: &[u8]) -> Option<String> {
    let mut end = before.len();
    while end > 0 && before[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    if end == 0 || before[end - 1] != b':' {
        return None;
    }
    end -= 1;
    let mut start = end;
    while start > 0 {
        let b = before[start - 1];
        if b.is_ascii_alphanumeric() || matches!(b, b' ' | b'\t' | b'-' | b'_' | b'(' | b')') {
            start -= 1;
        } else {
            break;
        }
    }
    let raw = std::str::from_utf8(&before[start..end]).ok()?.trim();
    // Leading list markers such as "- Local" (Next.js) are not part of the label.
    let raw = raw.trim_start_matches(|c: char| c == '-' || c == '_' || c.is_ascii_whitespace());
    if raw.is_empty() || raw.len() > 40 || !raw.as_bytes()[0].is_ascii_uppercase() {
        return None;
    }
    let words = raw.split_ascii_whitespace().count();
    if words > 4 {
        return None;
    }
    if words == 1 && NOT_LABELS.iter().any(|w| raw.eq_ignore_ascii_case(w)) {
        return None;
    }
    let mut label = String::with_capacity(raw.len());
    for (i, w) in raw.split_ascii_whitespace().enumerate() {
        if i > 0 {
            label.push(' ');
        }
        label.push_str(w);
    }
    Some(label)
}

#[cfg(test)]
mod tests;
