//! The source maps of the scripts the proxy served, so an error a page
//! reports at a line of a served (transformed or bundled) script can be
//! placed in the project's source. While a JavaScript response streams
//! through, what follows its last `//# sourceMappingURL=` is kept (the
//! comment is at the end of the file; nothing else of the body is): an
//! inline map (`data:`) whole, a separate one (`app.js.map`) by its URL,
//! for the engine to fetch from the dev server when an error needs it. The
//! newest map of each script path of each proxy is remembered, within a
//! byte budget; the few maps parsed last stay parsed ([`super::parsed`]).
//!
//! Leaf: no I/O. A chunked body is decoded before it is looked at.

use std::collections::VecDeque;

use sourcemap::DecodedMap;

use super::chunked::Chunked;
use super::parsed::Parsed;
use super::telemetry::locate::inline_source_map;

/// The comment that names a script's source map.
pub const MARKER: &[u8] = b"//# sourceMappingURL=";
/// An inline map longer than this is not kept.
pub const MAX_MAP: usize = 1 << 20;
/// All kept maps together.
pub const MAX_TOTAL: usize = 16 << 20;
/// Scripts remembered.
pub const MAX_SCRIPTS: usize = 256;

/// A script's path without its query (Vite's `?t=…` changes with every
/// update; the newest map is the one that counts).
pub fn key(url_or_path: &str) -> &str {
    let path = match url_or_path.find("://") {
        Some(i) => {
            let rest = &url_or_path[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => url_or_path,
    };
    &path[..path.find(['?', '#']).unwrap_or(path.len())]
}

/// Whether a response with these headers is a script whose map is worth
/// looking for (JavaScript, not compressed).
pub fn is_script(headers: &[httparse::Header<'_>]) -> bool {
    let compressed = headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("content-encoding") && !h.value.trim_ascii().eq_ignore_ascii_case(b"identity")
    });
    !compressed
        && headers.iter().filter(|h| h.name.eq_ignore_ascii_case("content-type")).any(|h| {
            let mime = h.value.split(|&b| b == b';').next().unwrap_or(b"").trim_ascii();
            mime.eq_ignore_ascii_case(b"application/javascript") || mime.eq_ignore_ascii_case(b"text/javascript")
        })
}

/// One script's body going by.
#[derive(Debug)]
pub struct Capture {
    key: String,
    chunked: Option<Chunked>,
    /// The last bytes seen while looking (a marker may straddle reads).
    carry: Vec<u8>,
    /// From the last marker on.
    map: Vec<u8>,
    too_big: bool,
}

impl Capture {
    pub fn new(path: &str, chunked: bool) -> Self {
        Capture {
            key: key(path).to_string(),
            chunked: chunked.then(Chunked::new),
            carry: Vec::new(),
            map: Vec::new(),
            too_big: false,
        }
    }

    /// The next framed bytes of the body.
    pub fn push(&mut self, framed: &[u8]) {
        match self.chunked.take() {
            None => self.take(framed),
            Some(mut c) => {
                // the framing was checked by the proxy's own scanner
                let _ = c.scan_data(framed, |r| self.take(&framed[r]));
                self.chunked = Some(c);
            }
        }
    }

    fn take(&mut self, data: &[u8]) {
        const M: usize = MARKER.len();
        if let Some(i) = memchr::memmem::rfind(data, MARKER) {
            // the last marker in these bytes (any straddling one is earlier)
            self.map.clear();
            self.extend_map(&data[i..]);
        } else {
            // one that straddles the previous bytes and these
            let mut window = [0u8; 2 * M];
            let carried = self.carry.len();
            let head = data.len().min(M - 1);
            window[..carried].copy_from_slice(&self.carry);
            window[carried..carried + head].copy_from_slice(&data[..head]);
            match memchr::memmem::rfind(&window[..carried + head], MARKER) {
                Some(i) => {
                    self.map.clear();
                    self.extend_map(&window[i..carried]);
                    self.extend_map(data);
                }
                None if !self.map.is_empty() => self.extend_map(data),
                None => {}
            }
        }
        self.carry.extend_from_slice(&data[data.len().saturating_sub(M - 1)..]);
        let excess = self.carry.len().saturating_sub(M - 1);
        self.carry.drain(..excess);
    }

    fn extend_map(&mut self, bytes: &[u8]) {
        self.too_big = false;
        if self.map.len() + bytes.len() > MAX_MAP {
            self.map = Vec::new();
            self.too_big = true;
            return;
        }
        self.map.extend_from_slice(bytes);
    }

    /// The script ended: its path and its map.
    pub fn finish(self) -> Option<(String, Found)> {
        if self.map.is_empty() || self.too_big {
            return None;
        }
        let url = &self.map[MARKER.len()..];
        if url.starts_with(b"data:") {
            return Some((self.key, Found::Inline(self.map)));
        }
        // a separate map is named on the script's last line: the URL and
        // nothing but blanks after it (not a mention in the code)
        let end = url.iter().position(u8::is_ascii_whitespace).unwrap_or(url.len());
        if end == 0 || !url[end..].iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let url = std::str::from_utf8(&url[..end]).ok()?;
        Some((self.key, Found::External(url.to_string())))
    }
}

/// The map a script names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Inline: the script's tail from the marker on (which reads as the
    /// script's source as far as finding the map goes).
    Inline(Vec<u8>),
    /// In a separate file at this URL (as written, relative to the script).
    External(String),
}

/// A script's map as far as brum has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// The script's tail from the marker on (see [`Found::Inline`]).
    Inline(Vec<u8>),
    /// A separate map at `map` (its path on the dev server).
    External { map: String, state: MapState },
}

/// Where the fetch of a separate map stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapState {
    /// Not asked for yet (no error needed it).
    Unfetched,
    Fetching,
    /// The map, checked to parse.
    Fetched(Vec<u8>),
    /// It could not be had: errors in the script are placed by path.
    Failed,
}

impl Entry {
    fn bytes(&self) -> usize {
        match self {
            Entry::Inline(tail) => tail.len(),
            Entry::External { map, state: MapState::Fetched(m) } => map.len() + m.len(),
            Entry::External { map, .. } => map.len(),
        }
    }
}

/// The newest map of each script of each proxy (two dev servers may both
/// serve `/assets/index.js`), oldest forgotten first; and the few maps
/// parsed last ([`Parsed`]).
#[derive(Debug, Default)]
pub struct Scripts {
    maps: VecDeque<(usize, String, Entry)>,
    bytes: usize,
    parsed: Parsed,
}

/// What a script's map is for placing an error in it.
pub enum Lookup<'a> {
    /// The map, parsed, and the URL path its relative sources are relative
    /// to (`None`: the script's own, for an inline map).
    Map(&'a DecodedMap, Option<&'a str>),
    /// A separate map not asked for yet.
    Unfetched,
    /// A separate map being fetched.
    Fetching,
    /// No map, or none that can be used: placed by path.
    None,
}

impl Scripts {
    fn position(&self, proxy: usize, key: &str) -> Option<usize> {
        self.maps.iter().rposition(|(p, k, _)| *p == proxy && k == key)
    }

    /// Keeps `entry` as the newest map of script `key` of proxy `proxy`.
    pub fn insert(&mut self, proxy: usize, key: String, entry: Entry) {
        self.remove(proxy, &key);
        self.bytes += entry.bytes();
        self.maps.push_back((proxy, key, entry));
        self.trim();
    }

    /// The script `key` was served again naming the separate map at `map`:
    /// a fetch under way goes on (it reads the map as it is now); a map
    /// fetched before, or a failure, is forgotten (a rebuilt script comes
    /// with a rebuilt map).
    pub fn insert_external(&mut self, proxy: usize, key: String, map: String) {
        if let Some(Entry::External { map: m, state: MapState::Fetching }) = self.get(proxy, &key)
            && *m == map
        {
            return;
        }
        self.insert(proxy, key, Entry::External { map, state: MapState::Unfetched });
    }

    /// Forgets the map of script `key` (and its parsed map).
    pub fn remove(&mut self, proxy: usize, key: &str) {
        self.parsed.forget(proxy, key);
        if let Some(i) = self.position(proxy, key)
            && let Some((_, _, old)) = self.maps.remove(i)
        {
            self.bytes -= old.bytes();
        }
    }

    fn trim(&mut self) {
        while self.bytes > MAX_TOTAL || self.maps.len() > MAX_SCRIPTS {
            let Some((proxy, key, old)) = self.maps.pop_front() else { break };
            self.bytes -= old.bytes();
            self.parsed.forget(proxy, &key);
        }
    }

    /// The map of the script at `url` (any query ignored) of proxy `proxy`.
    pub fn get(&self, proxy: usize, url: &str) -> Option<&Entry> {
        self.position(proxy, key(url)).map(|i| &self.maps[i].2)
    }

    /// The map of the script at `url` as an error in it needs it: parsed
    /// (at most once while it stays among the few parsed last), or why not.
    pub fn lookup(&mut self, proxy: usize, url: &str) -> Lookup<'_> {
        let k = key(url);
        let Some(i) = self.position(proxy, k) else { return Lookup::None };
        let Scripts { maps, parsed, .. } = self;
        let (_, key, entry) = &maps[i];
        match entry {
            Entry::Inline(tail) => match parsed.get_or_parse(proxy, key, || inline_source_map(tail)) {
                Some(map) => Lookup::Map(map, None),
                None => Lookup::None,
            },
            Entry::External { map: path, state: MapState::Fetched(json) } => {
                match parsed.get_or_parse(proxy, key, || Some(json.clone())) {
                    Some(map) => Lookup::Map(map, Some(path)),
                    None => Lookup::None,
                }
            }
            Entry::External { state: MapState::Unfetched, .. } => Lookup::Unfetched,
            Entry::External { state: MapState::Fetching, .. } => Lookup::Fetching,
            Entry::External { state: MapState::Failed, .. } => Lookup::None,
        }
    }

    /// The state of the separate map of the script at `url`, if it has one.
    pub fn map_state(&self, proxy: usize, url: &str) -> Option<&MapState> {
        match self.get(proxy, url)? {
            Entry::External { state, .. } => Some(state),
            Entry::Inline(_) => None,
        }
    }

    /// Parses a fetched map's JSON (counted among [`Scripts::parses`]).
    pub fn parse(&mut self, json: &[u8]) -> Result<DecodedMap, sourcemap::Error> {
        self.parsed.parse(json)
    }

    /// Maps parsed since the start.
    pub fn parses(&self) -> u64 {
        self.parsed.parses()
    }

    /// Whether the map of script `key` is kept parsed.
    pub fn is_parsed(&self, proxy: usize, key: &str) -> bool {
        self.parsed.contains(proxy, key)
    }

    /// An error needs the separate map of script `key`: its path, if it
    /// must be fetched (it is marked as being fetched).
    pub fn start_fetch(&mut self, proxy: usize, key: &str) -> Option<String> {
        let i = self.position(proxy, key)?;
        match &mut self.maps[i].2 {
            Entry::External { map, state: state @ MapState::Unfetched } => {
                *state = MapState::Fetching;
                Some(map.clone())
            }
            _ => None,
        }
    }

    /// The fetch of map `map` for script `key` ended (`None`: it failed;
    /// else its JSON and the map parsed from it, which is kept parsed);
    /// kept if the script still names that map.
    pub fn fetched(&mut self, proxy: usize, key: &str, map: &str, got: Option<(Vec<u8>, DecodedMap)>) {
        let Some(i) = self.position(proxy, key) else { return };
        if !matches!(&self.maps[i].2, Entry::External { map: m, state: MapState::Fetching } if m == map) {
            return;
        }
        let Some((_, key, old)) = self.maps.remove(i) else { return };
        self.bytes -= old.bytes();
        let state = match got {
            Some((json, parsed)) => {
                self.parsed.put(proxy, key.clone(), Some(parsed));
                MapState::Fetched(json)
            }
            None => MapState::Failed,
        };
        let entry = Entry::External { map: map.to_string(), state };
        self.bytes += entry.bytes();
        self.maps.push_back((proxy, key, entry));
        self.trim();
    }
}

#[cfg(test)]
#[path = "scripts_tests.rs"]
mod tests;
