//! The source maps of the scripts the proxy served, so an error a page
//! reports at a line of a served (transformed or bundled) script can be
//! placed in the project's source. While a JavaScript response streams
//! through, what follows its last `//# sourceMappingURL=` is kept (the
//! comment is at the end of the file; nothing else of the body is): an
//! inline map (`data:`) whole, a separate one (`app.js.map`) by its URL,
//! for the engine to fetch from the dev server when an error needs it. The
//! newest map of each script path is remembered, within a byte budget.
//!
//! Leaf: no I/O. A chunked body is decoded before it is looked at.

use std::collections::VecDeque;

use super::chunked::Chunked;

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

/// The newest map of each script, oldest forgotten first.
#[derive(Debug, Default)]
pub struct Scripts {
    maps: VecDeque<(String, Entry)>,
    bytes: usize,
}

impl Scripts {
    /// Keeps `entry` as the newest map of script `key`.
    pub fn insert(&mut self, key: String, entry: Entry) {
        self.remove(&key);
        self.bytes += entry.bytes();
        self.maps.push_back((key, entry));
        self.trim();
    }

    /// The script `key` was served again naming the separate map at `map`:
    /// a fetch under way goes on (it reads the map as it is now); a map
    /// fetched before, or a failure, is forgotten (a rebuilt script comes
    /// with a rebuilt map).
    pub fn insert_external(&mut self, key: String, map: String) {
        if let Some(Entry::External { map: m, state: MapState::Fetching }) = self.get(&key)
            && *m == map
        {
            return;
        }
        self.insert(key, Entry::External { map, state: MapState::Unfetched });
    }

    /// Forgets the map of script `key`.
    pub fn remove(&mut self, key: &str) {
        if let Some(i) = self.maps.iter().position(|(k, _)| k == key)
            && let Some((_, old)) = self.maps.remove(i)
        {
            self.bytes -= old.bytes();
        }
    }

    fn trim(&mut self) {
        while self.bytes > MAX_TOTAL || self.maps.len() > MAX_SCRIPTS {
            let Some((_, old)) = self.maps.pop_front() else { break };
            self.bytes -= old.bytes();
        }
    }

    /// The map of the script at `url` (any query ignored).
    pub fn get(&self, url: &str) -> Option<&Entry> {
        let k = key(url);
        self.maps.iter().rev().find(|(key, _)| key == k).map(|(_, e)| e)
    }

    /// An error needs the separate map of script `key`: its path, if it
    /// must be fetched (it is marked as being fetched).
    pub fn start_fetch(&mut self, key: &str) -> Option<String> {
        let (_, entry) = self.maps.iter_mut().rev().find(|(k, _)| k == key)?;
        match entry {
            Entry::External { map, state: state @ MapState::Unfetched } => {
                *state = MapState::Fetching;
                Some(map.clone())
            }
            _ => None,
        }
    }

    /// The fetch of map `map` for script `key` ended (`None`: it failed);
    /// kept if the script still names that map.
    pub fn fetched(&mut self, key: &str, map: &str, got: Option<Vec<u8>>) {
        let Some(i) = self.maps.iter().position(|(k, _)| k == key) else { return };
        if !matches!(&self.maps[i].1, Entry::External { map: m, state: MapState::Fetching } if m == map) {
            return;
        }
        let Some((key, old)) = self.maps.remove(i) else { return };
        self.bytes -= old.bytes();
        let state = got.map_or(MapState::Failed, MapState::Fetched);
        let entry = Entry::External { map: map.to_string(), state };
        self.bytes += entry.bytes();
        self.maps.push_back((key, entry));
        self.trim();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JS: &[u8] = b"export const x = 1;\n// a mention of //# sourceMappingURL=data: in code\n\
console.log(x);\n//# sourceMappingURL=data:application/json;base64,eyJ2ZXJzaW9uIjozfQ==\n";

    fn map_of(js: &[u8]) -> Found {
        let i = memchr::memmem::rfind(js, MARKER).expect("marker");
        Found::Inline(js[i..].to_vec())
    }

    #[test]
    fn the_last_inline_map_is_kept_under_every_split() {
        for a in 0..=JS.len() {
            for b in a..=JS.len() {
                let mut c = Capture::new("/src/main.ts?t=1", false);
                c.push(&JS[..a]);
                c.push(&JS[a..b]);
                c.push(&JS[b..]);
                let (k, map) = c.finish().expect("a map");
                assert_eq!(k, "/src/main.ts");
                assert_eq!(map, map_of(JS), "splits {a} {b}");
            }
        }
    }

    #[test]
    fn a_chunked_script_is_decoded_first() {
        let mut wire = Vec::new();
        for part in JS.chunks(7) {
            wire.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            wire.extend_from_slice(part);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        let mut c = Capture::new("/a.js", true);
        for piece in wire.chunks(5) {
            c.push(piece);
        }
        assert_eq!(c.finish().expect("a map").1, map_of(JS));
    }

    #[test]
    fn no_map_or_a_huge_one_is_not_kept() {
        let mut c = Capture::new("/a.js", false);
        c.push(b"console.log(1)\n");
        assert!(c.finish().is_none());
        let mut c = Capture::new("/a.js", false);
        c.push(MARKER);
        c.push(b"data:");
        c.push(&vec![b'A'; MAX_MAP + 1]);
        assert!(c.finish().is_none());
    }

    fn found(js: &[u8]) -> Option<Found> {
        let mut c = Capture::new("/assets/app.js?v=2", false);
        c.push(js);
        c.finish().map(|(k, f)| {
            assert_eq!(k, "/assets/app.js");
            f
        })
    }

    #[test]
    fn a_separate_map_is_kept_by_its_url_when_it_ends_the_script() {
        assert_eq!(
            found(b"console.log(1);\n//# sourceMappingURL=app.js.map\n"),
            Some(Found::External("app.js.map".into()))
        );
        assert_eq!(
            found(b"x()\n//# sourceMappingURL=/maps/app.js.map?v=1"),
            Some(Found::External("/maps/app.js.map?v=1".into()))
        );
        // code that mentions the comment (a bundled source-map helper) is not a map
        assert_eq!(found(b"const c = \"//# sourceMappingURL=\" + url;\nrun(c);\n"), None);
        assert_eq!(found(b"x()\n//# sourceMappingURL=\n"), None);
        // the last comment wins: a separate map named after an inline one
        let both = b"//# sourceMappingURL=data:application/json,{}\nmore()\n//# sourceMappingURL=b.js.map\n";
        assert_eq!(found(both), Some(Found::External("b.js.map".into())));
    }

    #[test]
    fn the_newest_map_of_a_path_wins_and_the_budget_holds() {
        let mut s = Scripts::default();
        s.insert("/a.js".into(), Entry::Inline(b"old".to_vec()));
        s.insert("/a.js".into(), Entry::Inline(b"new".to_vec()));
        assert_eq!(s.get("http://127.0.0.1:20888/a.js?t=5"), Some(&Entry::Inline(b"new".to_vec())));
        for i in 0..MAX_SCRIPTS + 10 {
            s.insert(format!("/m{i}.js"), Entry::Inline(vec![0; 10]));
        }
        assert!(s.get("/a.js").is_none(), "the oldest is forgotten");
        assert_eq!(s.maps.len(), MAX_SCRIPTS);
        assert_eq!(key("http://h:1/x/y.js?v=2#f"), "/x/y.js");
        assert_eq!(key("/x"), "/x");
    }

    fn state(s: &Scripts, key: &str) -> Option<MapState> {
        match s.get(key) {
            Some(Entry::External { state, .. }) => Some(state.clone()),
            _ => None,
        }
    }

    #[test]
    fn a_separate_map_is_fetched_once_and_refetched_for_a_new_version_of_its_script() {
        let mut s = Scripts::default();
        s.insert_external("/app.js".into(), "/app.js.map".into());
        assert_eq!(state(&s, "/app.js"), Some(MapState::Unfetched));
        assert_eq!(s.start_fetch("/app.js").as_deref(), Some("/app.js.map"));
        assert_eq!(s.start_fetch("/app.js"), None, "one fetch at a time");
        // served again while the fetch is under way: that fetch counts
        s.insert_external("/app.js".into(), "/app.js.map".into());
        assert_eq!(state(&s, "/app.js"), Some(MapState::Fetching));
        s.fetched("/app.js", "/app.js.map", Some(b"{}".to_vec()));
        assert_eq!(state(&s, "/app.js"), Some(MapState::Fetched(b"{}".to_vec())));
        // served again after: its map may have changed
        s.insert_external("/app.js".into(), "/app.js.map".into());
        assert_eq!(state(&s, "/app.js"), Some(MapState::Unfetched));
        s.start_fetch("/app.js");
        s.fetched("/app.js", "/app.js.map", None);
        assert_eq!(state(&s, "/app.js"), Some(MapState::Failed));
        assert_eq!(s.start_fetch("/app.js"), None, "a failure is not retried until the script is served again");
        // a fetch that ends after the script named another map is not kept
        s.insert_external("/app.js".into(), "/v2.js.map".into());
        s.fetched("/app.js", "/app.js.map", Some(b"{}".to_vec()));
        assert_eq!(state(&s, "/app.js"), Some(MapState::Unfetched));
    }

    #[test]
    fn fetched_maps_count_in_the_budget() {
        let mut s = Scripts::default();
        let big = MAX_TOTAL / 4;
        for i in 0..5 {
            let k = format!("/s{i}.js");
            s.insert_external(k.clone(), format!("{k}.map"));
            s.start_fetch(&k);
            s.fetched(&k, &format!("{k}.map"), Some(vec![b' '; big]));
        }
        assert!(s.bytes <= MAX_TOTAL, "{}", s.bytes);
        assert!(s.get("/s0.js").is_none() && s.get("/s4.js").is_some());
    }
}
