//! The few source maps parsed last, so a burst of errors from one bundle
//! parses its map once: parsing a 4 MiB map takes milliseconds, on the
//! reactor's thread, and every frame of every error in that bundle needs
//! it. At most [`MAX_PARSED`] maps are kept, together parsed from at most
//! [`MAX_PARSED_BYTES`] bytes of JSON (a parsed map's size follows its
//! source's), the least recently used forgotten first. A map that does
//! not parse is remembered as such (no second attempt until its script is
//! served again).
//!
//! Owned by [`super::scripts::Scripts`], which forgets a script's parsed
//! map whenever the script or its map entry changes. Leaf: no I/O.

use std::collections::VecDeque;

use sourcemap::DecodedMap;

/// Maps kept parsed.
pub const MAX_PARSED: usize = 4;
/// The bytes of JSON the kept maps were parsed from, together.
pub const MAX_PARSED_BYTES: usize = 16 << 20;

/// One parsed map: whose (proxy, script path) it is, the map (`None`: it
/// did not parse) and the bytes it was parsed from.
struct Kept {
    proxy: usize,
    key: String,
    map: Option<DecodedMap>,
    bytes: usize,
}

/// The parsed maps, most recently used last.
#[derive(Default)]
pub struct Parsed {
    kept: VecDeque<Kept>,
    bytes: usize,
    parses: u64,
}

impl std::fmt::Debug for Parsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parsed").field("kept", &self.kept.len()).field("bytes", &self.bytes).finish()
    }
}

impl Parsed {
    /// How many maps were parsed since the start (each parse of JSON, the
    /// check of a fetched map included).
    pub fn parses(&self) -> u64 {
        self.parses
    }

    /// Maps kept now.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Parses `json`, counted.
    pub fn parse(&mut self, json: &[u8]) -> Result<DecodedMap, sourcemap::Error> {
        self.parses += 1;
        sourcemap::decode_slice(json)
    }

    /// Whether the map of script `key` of proxy `proxy` is kept.
    pub fn contains(&self, proxy: usize, key: &str) -> bool {
        self.kept.iter().any(|k| k.proxy == proxy && k.key == key)
    }

    /// The parsed map of script `key` of proxy `proxy`; parsed from
    /// `json()` (which gives the map's JSON, `None` when there is none) if
    /// it is not kept. `None`: no map, or it does not parse.
    pub fn get_or_parse(
        &mut self,
        proxy: usize,
        key: &str,
        json: impl FnOnce() -> Option<Vec<u8>>,
    ) -> Option<&DecodedMap> {
        match self.kept.iter().position(|k| k.proxy == proxy && k.key == key) {
            Some(i) => {
                // the most recently used goes last
                if i + 1 != self.kept.len()
                    && let Some(k) = self.kept.remove(i)
                {
                    self.kept.push_back(k);
                }
            }
            None => {
                let json = json();
                let bytes = json.as_ref().map_or(0, Vec::len);
                let map = json.and_then(|j| self.parse(&j).ok());
                self.put(proxy, key.to_string(), map, bytes);
            }
        }
        self.kept.back().and_then(|k| k.map.as_ref())
    }

    /// Keeps `map` (parsed from `bytes` bytes) as script `key`'s, replacing
    /// any it had.
    pub fn put(&mut self, proxy: usize, key: String, map: Option<DecodedMap>, bytes: usize) {
        self.forget(proxy, &key);
        self.bytes += bytes;
        self.kept.push_back(Kept { proxy, key, map, bytes });
        // the newest stays even alone over the budget (it is about to be used)
        while self.kept.len() > MAX_PARSED || (self.bytes > MAX_PARSED_BYTES && self.kept.len() > 1) {
            let Some(old) = self.kept.pop_front() else { break };
            self.bytes -= old.bytes;
        }
    }

    /// Forgets script `key`'s parsed map.
    pub fn forget(&mut self, proxy: usize, key: &str) {
        if let Some(i) = self.kept.iter().position(|k| k.proxy == proxy && k.key == key)
            && let Some(old) = self.kept.remove(i)
        {
            self.bytes -= old.bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &[u8] = br#"{"version":3,"sources":["a.ts"],"names":[],"mappings":"AAAA"}"#;

    #[test]
    fn a_map_is_parsed_once_for_many_lookups_and_the_least_used_goes_first() {
        let mut p = Parsed::default();
        for _ in 0..100 {
            assert!(p.get_or_parse(0, "/a.js", || Some(MAP.to_vec())).is_some());
        }
        assert_eq!(p.parses(), 1);
        // a map that does not parse is not parsed again either
        for _ in 0..3 {
            assert!(p.get_or_parse(0, "/bad.js", || Some(b"nope".to_vec())).is_none());
        }
        assert_eq!(p.parses(), 2);
        // the same path of another proxy is another map
        p.get_or_parse(1, "/a.js", || Some(MAP.to_vec()));
        assert_eq!(p.parses(), 3);
        // /a.js of proxy 0 used last: the others go first
        p.get_or_parse(0, "/a.js", || panic!("kept"));
        for i in 0..MAX_PARSED - 1 {
            p.get_or_parse(0, &format!("/m{i}.js"), || Some(MAP.to_vec()));
        }
        assert_eq!(p.len(), MAX_PARSED);
        assert!(p.contains(0, "/a.js") && !p.contains(0, "/bad.js") && !p.contains(1, "/a.js"));
    }

    #[test]
    fn the_bytes_bound_holds_and_a_forgotten_map_is_parsed_again() {
        let mut p = Parsed::default();
        p.put(0, "/big1.js".into(), None, MAX_PARSED_BYTES / 2 + 1);
        p.put(0, "/big2.js".into(), None, MAX_PARSED_BYTES / 2 + 1);
        assert!(!p.contains(0, "/big1.js") && p.contains(0, "/big2.js"));
        assert!(p.bytes <= MAX_PARSED_BYTES);
        p.get_or_parse(0, "/a.js", || Some(MAP.to_vec()));
        p.forget(0, "/a.js");
        p.get_or_parse(0, "/a.js", || Some(MAP.to_vec()));
        assert_eq!(p.parses(), 2);
    }
}
