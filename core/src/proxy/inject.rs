//! Adding the telemetry script to HTML responses as they stream through the
//! proxy: [`plan`] looks at a response head and says whether to inject;
//! an [`Injector`] then inserts [`SCRIPT_TAG`] right after the `<head …>`
//! open tag, across any chunking of the body, holding back at most
//! [`PREFIX_LIMIT`] bytes (never the page). A document with no `<head` in
//! that prefix gets the tag after its `<html …>` tag, else after its
//! doctype, else at the start (after a byte-order mark) — never before the
//! doctype, which would put the page in quirks mode. Exactly
//! [`ADDED_LEN`] bytes are added to every injected body, so the engine
//! fixes `Content-Length` before the body is seen.
//!
//! Pure: no sockets, no clock. Used by the proxy engine; imports nothing
//! internal but [`super::telemetry::SCRIPT_PATH`]'s value (pinned by a
//! test).

mod csp;

pub use csp::blocks as csp_blocks;

/// What is inserted into an HTML page.
pub const SCRIPT_TAG: &[u8] = b"<script src=\"/__brum__/t.js\"></script>";
/// Bytes added to an injected body (the engine adds it to `Content-Length`).
pub const ADDED_LEN: usize = SCRIPT_TAG.len();
/// How far into a page the `<head` tag is looked for (and the most an
/// [`Injector`] holds back).
pub const PREFIX_LIMIT: usize = 4096;

/// What to do with a response body.
#[derive(Debug)]
pub enum Plan {
    /// An HTML page: stream its body through this injector.
    Inject(Injector),
    /// An HTML page that must not be touched, and why (the engine emits
    /// `proxy.inject_skipped` with the reason).
    Skip(&'static str),
    /// Not a page: pass the body through as it is.
    Pass,
}

fn header<'h>(headers: &'h [httparse::Header<'_>], name: &str) -> impl Iterator<Item = &'h [u8]> {
    headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value)
}

fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

/// Whether the response to a request with this status and these headers
/// gets the script: successful `text/html` responses with a body, not
/// compressed, not downloads, whose CSP lets a same-origin script run and
/// send beacons. (Call it for responses to `GET`s; a `HEAD` response has
/// no body to inject into.)
pub fn plan(status: u16, headers: &[httparse::Header<'_>]) -> Plan {
    // 204/205 have no body, 206 is a byte range of something
    if !(200..300).contains(&status) || matches!(status, 204..=206) {
        return Plan::Pass;
    }
    let Some(ctype) = header(headers, "content-type").next() else { return Plan::Pass };
    let mime = trim(ctype.split(|&b| b == b';').next().unwrap_or(b""));
    if !mime.eq_ignore_ascii_case(b"text/html") {
        return Plan::Pass;
    }
    if header(headers, "content-disposition")
        .any(|v| trim(v).len() >= 10 && trim(v)[..10].eq_ignore_ascii_case(b"attachment"))
    {
        return Plan::Pass;
    }
    let compressed = header(headers, "content-encoding")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim)
        .any(|c| !c.is_empty() && !c.eq_ignore_ascii_case(b"identity"));
    if compressed {
        return Plan::Skip("the page is compressed (Content-Encoding); brum asks for identity on navigations");
    }
    if let Some(reason) = csp::blocks(header(headers, "content-security-policy")) {
        return Plan::Skip(reason);
    }
    Plan::Inject(Injector::default())
}

/// Whether a request is a page navigation, whose `Accept-Encoding` the
/// engine rewrites to `identity` so the page comes back injectable:
/// `Sec-Fetch-Dest: document` (or `iframe`), `Sec-Fetch-Mode: navigate`,
/// or an `Accept` that asks for `text/html` — or a script
/// (`Sec-Fetch-Dest: script`), whose source map comment brum reads as it
/// goes by (a production server such as `vite preview` compresses).
pub fn wants_identity(headers: &[httparse::Header<'_>]) -> bool {
    header(headers, "sec-fetch-dest").any(|v| {
        let v = trim(v);
        v.eq_ignore_ascii_case(b"document") || v.eq_ignore_ascii_case(b"iframe") || v.eq_ignore_ascii_case(b"script")
    }) || header(headers, "sec-fetch-mode").any(|v| trim(v).eq_ignore_ascii_case(b"navigate"))
        || header(headers, "accept").any(|v| v.windows(9).any(|w| w.eq_ignore_ascii_case(b"text/html")))
}

/// Which tag a start tag is, as far as placing the script goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Head,
    Html,
    Other,
}

/// Where the tag goes, once the scanner knows.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// At this stream offset (just after `<head …>`).
    At(usize),
    /// At the fallback place: the page has no `<head>`.
    Fallback,
}

/// The scanner's state, one byte at a time (so any chunking scans alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    Text,
    /// After `<`.
    Lt,
    /// After `<!`.
    Bang,
    /// After `<!-`.
    BangDash,
    /// In a comment; `dashes`: how many `-` just went by (2 = `-->` ends).
    Comment {
        dashes: u8,
    },
    /// In `<!…>` other than a comment; `matched`: how much of `doctype`
    /// it starts with (8 = not a doctype).
    Decl {
        matched: u8,
    },
    /// In an end tag, a `<?…>` or other markup that runs to the next `>`.
    Skip,
    /// In a start tag's name: its first 5 bytes, lowercased.
    Name {
        name: [u8; 5],
        len: u8,
    },
    /// In a start tag's attributes.
    Attrs {
        tag: Tag,
        quote: u8,
        after_eq: bool,
    },
}

/// Inserts [`SCRIPT_TAG`] into one page as it streams by. Holds back what
/// it has scanned until it knows where the tag goes (at most
/// [`PREFIX_LIMIT`] bytes), then passes everything straight through.
#[derive(Debug)]
pub struct Injector {
    scan: Scan,
    /// Bytes scanned so far (stream offset of the next byte).
    pos: usize,
    /// Scanned, not yet written (the page's first `pos` bytes).
    held: Vec<u8>,
    /// Offsets just past the `<html …>` tag and the doctype.
    html_end: Option<usize>,
    doctype_end: Option<usize>,
    done: bool,
}

impl Default for Injector {
    fn default() -> Self {
        Injector { scan: Scan::Text, pos: 0, held: Vec::new(), html_end: None, doctype_end: None, done: false }
    }
}

const DOCTYPE: &[u8; 7] = b"doctype";

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

impl Injector {
    pub fn new() -> Injector {
        Injector::default()
    }

    /// Whether the tag has been written (everything now passes through).
    pub fn injected(&self) -> bool {
        self.done
    }

    /// Bytes held back right now (at most [`PREFIX_LIMIT`]).
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Appends to `out` what can be written of the page after `input`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if self.done {
            out.extend_from_slice(input);
            return;
        }
        let budget = PREFIX_LIMIT.saturating_sub(self.pos).min(input.len());
        let mut i = 0;
        while i < budget {
            // runs of bytes that cannot change the state are skipped with
            // memchr (text up to `<`, a comment up to `-`, a declaration
            // or end tag up to `>`); the rest goes one byte at a time
            let run = &input[i..budget];
            let next = match self.scan {
                Scan::Text => memchr::memchr(b'<', run),
                Scan::Comment { dashes: 0 } => memchr::memchr(b'-', run),
                Scan::Skip | Scan::Decl { matched: 7 | 8 } => memchr::memchr(b'>', run),
                _ => Some(0),
            };
            let Some(k) = next else {
                self.pos += run.len();
                break;
            };
            self.pos += k;
            i += k;
            if let Some(place) = self.step(input[i]) {
                let at = match place {
                    Place::At(at) => at,
                    Place::Fallback => self.fallback(input),
                };
                self.emit(at, input, out);
                return;
            }
            i += 1;
        }
        if self.pos >= PREFIX_LIMIT {
            let at = self.fallback(input);
            self.emit(at, input, out);
            return;
        }
        self.held.extend_from_slice(input);
    }

    /// The page ended: writes what is held, with the tag (a page with no
    /// body at all still gets it: the engine already counted its bytes).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.done {
            let at = self.fallback(&[]);
            self.emit(at, &[], out);
        }
    }

    /// Where the tag goes when there is no `<head>`: after `<html …>`, else
    /// after the doctype, else after a byte-order mark, else at 0.
    fn fallback(&self, input: &[u8]) -> usize {
        if let Some(at) = self.html_end.or(self.doctype_end) {
            return at;
        }
        let byte = |k: usize| self.held.get(k).or_else(|| input.get(k - self.held.len()));
        let bom = (0..3).all(|k| byte(k) == Some(&[0xef, 0xbb, 0xbf][k]));
        if bom { 3 } else { 0 }
    }

    /// Writes the held bytes and `input` with the tag at stream offset `at`.
    fn emit(&mut self, at: usize, input: &[u8], out: &mut Vec<u8>) {
        let held = std::mem::take(&mut self.held);
        out.reserve(held.len() + ADDED_LEN + input.len());
        if at <= held.len() {
            out.extend_from_slice(&held[..at]);
            out.extend_from_slice(SCRIPT_TAG);
            out.extend_from_slice(&held[at..]);
            out.extend_from_slice(input);
        } else {
            let k = at - held.len();
            out.extend_from_slice(&held);
            out.extend_from_slice(&input[..k]);
            out.extend_from_slice(SCRIPT_TAG);
            out.extend_from_slice(&input[k..]);
        }
        self.done = true;
    }

    /// Scans byte `b` (at offset `self.pos`); `Some` once the place of the
    /// tag is known.
    fn step(&mut self, b: u8) -> Option<Place> {
        let at = self.pos;
        self.pos += 1;
        let lower = b.to_ascii_lowercase();
        self.scan = match self.scan {
            Scan::Text => {
                if b == b'<' {
                    Scan::Lt
                } else {
                    Scan::Text
                }
            }
            Scan::Lt => match b {
                b'!' => Scan::Bang,
                b'/' | b'?' => Scan::Skip,
                b'<' => Scan::Lt,
                _ if b.is_ascii_alphabetic() => Scan::Name { name: [lower, 0, 0, 0, 0], len: 1 },
                _ => Scan::Text,
            },
            Scan::Bang => match b {
                b'-' => Scan::BangDash,
                b'>' => Scan::Text,
                _ => Scan::Decl { matched: if lower == DOCTYPE[0] { 1 } else { 8 } },
            },
            Scan::BangDash => match b {
                // `<!-->` and `<!--->` are whole (empty) comments
                b'-' => Scan::Comment { dashes: 2 },
                b'>' => Scan::Text,
                _ => Scan::Decl { matched: 8 },
            },
            Scan::Comment { dashes } => match b {
                b'>' if dashes >= 2 => Scan::Text,
                b'-' => Scan::Comment { dashes: (dashes + 1).min(2) },
                _ => Scan::Comment { dashes: 0 },
            },
            Scan::Decl { matched } => {
                if b == b'>' {
                    if matched == 7 && self.doctype_end.is_none() {
                        self.doctype_end = Some(at + 1);
                    }
                    Scan::Text
                } else if matched < 7 && lower == DOCTYPE[matched as usize] {
                    Scan::Decl { matched: matched + 1 }
                } else if matched == 7 {
                    Scan::Decl { matched: 7 }
                } else {
                    Scan::Decl { matched: 8 }
                }
            }
            Scan::Skip => {
                if b == b'>' {
                    Scan::Text
                } else {
                    Scan::Skip
                }
            }
            Scan::Name { mut name, len } => {
                if is_space(b) || b == b'/' || b == b'>' {
                    let tag = match &name[..usize::from(len)] {
                        b"head" => Tag::Head,
                        b"html" => Tag::Html,
                        _ => Tag::Other,
                    };
                    if tag == Tag::Other {
                        // the first element that is neither: the head,
                        // if any, was implied (`<head` after it is ignored)
                        return Some(Place::Fallback);
                    }
                    if b == b'>' {
                        return self.tag_end(tag, at);
                    }
                    Scan::Attrs { tag, quote: 0, after_eq: false }
                } else if len < 5 {
                    name[usize::from(len)] = lower;
                    Scan::Name { name, len: len + 1 }
                } else {
                    Scan::Name { name, len }
                }
            }
            Scan::Attrs { tag, quote, after_eq } => {
                if quote != 0 {
                    Scan::Attrs { tag, quote: if b == quote { 0 } else { quote }, after_eq: false }
                } else {
                    match b {
                        b'>' => return self.tag_end(tag, at),
                        b'=' => Scan::Attrs { tag, quote: 0, after_eq: true },
                        b'"' | b'\'' if after_eq => Scan::Attrs { tag, quote: b, after_eq: false },
                        _ if is_space(b) => Scan::Attrs { tag, quote: 0, after_eq },
                        _ => Scan::Attrs { tag, quote: 0, after_eq: false },
                    }
                }
            }
        };
        None
    }

    /// The `>` at offset `at` ended a `<head>` or `<html>` start tag.
    fn tag_end(&mut self, tag: Tag, at: usize) -> Option<Place> {
        self.scan = Scan::Text;
        match tag {
            Tag::Head => Some(Place::At(at + 1)),
            _ => {
                self.html_end.get_or_insert(at + 1);
                None
            }
        }
    }
}

/// The whole page at once (tests and benchmarks): what the proxy sends for
/// `page`.
pub fn inject_whole(page: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(page.len() + ADDED_LEN);
    let mut inj = Injector::new();
    inj.push(page, &mut out);
    inj.finish(&mut out);
    out
}

#[cfg(test)]
#[path = "inject_tests.rs"]
mod tests;
