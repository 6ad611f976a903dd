//! The inline source maps of the scripts the proxy served, so an error a
//! page reports at a line of a served (transformed) script can be placed in
//! the project's source: while a JavaScript response streams through, what
//! follows its last `//# sourceMappingURL=data:` is kept (the map is at the
//! end of the file; nothing else of the body is), and the newest map of each
//! script path is remembered, within a byte budget.
//!
//! Leaf: no I/O. A chunked body is decoded before it is looked at.

use std::collections::VecDeque;

use super::chunked::Chunked;

/// The start of an inline source map.
pub const MARKER: &[u8] = b"//# sourceMappingURL=data:";
/// A map longer than this is not kept.
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
/// keeping.
pub fn is_script(headers: &[httparse::Header<'_>]) -> bool {
    headers.iter().filter(|h| h.name.eq_ignore_ascii_case("content-type")).any(|h| {
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

    /// The script ended: its path and its map (from the marker on).
    pub fn finish(self) -> Option<(String, Vec<u8>)> {
        (!self.map.is_empty() && !self.too_big).then_some((self.key, self.map))
    }
}

/// The newest map of each script, oldest forgotten first.
#[derive(Debug, Default)]
pub struct Scripts {
    maps: VecDeque<(String, Vec<u8>)>,
    bytes: usize,
}

impl Scripts {
    pub fn insert(&mut self, key: String, map: Vec<u8>) {
        if let Some(i) = self.maps.iter().position(|(k, _)| *k == key)
            && let Some((_, old)) = self.maps.remove(i)
        {
            self.bytes -= old.len();
        }
        self.bytes += map.len();
        self.maps.push_back((key, map));
        while self.bytes > MAX_TOTAL || self.maps.len() > MAX_SCRIPTS {
            let Some((_, old)) = self.maps.pop_front() else { break };
            self.bytes -= old.len();
        }
    }

    /// The kept map of the script at `url` (its tail from the marker on,
    /// which reads as the script's source as far as finding the map goes).
    pub fn get(&self, url: &str) -> Option<&[u8]> {
        let k = key(url);
        self.maps.iter().rev().find(|(key, _)| key == k).map(|(_, m)| m.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JS: &[u8] = b"export const x = 1;\n// a mention of //# sourceMappingURL=data: in code\n\
console.log(x);\n//# sourceMappingURL=data:application/json;base64,eyJ2ZXJzaW9uIjozfQ==\n";

    fn map_of(js: &[u8]) -> &[u8] {
        let i = memchr::memmem::rfind(js, MARKER).expect("marker");
        &js[i..]
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
        c.push(&vec![b'A'; MAX_MAP + 1]);
        assert!(c.finish().is_none());
    }

    #[test]
    fn the_newest_map_of_a_path_wins_and_the_budget_holds() {
        let mut s = Scripts::default();
        s.insert("/a.js".into(), b"old".to_vec());
        s.insert("/a.js".into(), b"new".to_vec());
        assert_eq!(s.get("http://127.0.0.1:20888/a.js?t=5"), Some(&b"new"[..]));
        for i in 0..MAX_SCRIPTS + 10 {
            s.insert(format!("/m{i}.js"), vec![0; 10]);
        }
        assert!(s.get("/a.js").is_none(), "the oldest is forgotten");
        assert_eq!(s.maps.len(), MAX_SCRIPTS);
        assert_eq!(key("http://h:1/x/y.js?v=2#f"), "/x/y.js");
        assert_eq!(key("/x"), "/x");
    }
}
