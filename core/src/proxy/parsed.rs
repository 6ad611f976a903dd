//! The few source maps parsed last, so a burst of errors from one bundle
//! parses its map once: parsing a 4 MiB map takes milliseconds, on the
//! reactor's thread, and every frame of every error in that bundle needs
//! it. At most [`MAX_PARSED`] maps are kept, taking at most
//! [`MAX_PARSED_BYTES`] of memory together (by [`heap_size`]: a parsed map
//! is several times its JSON — 28 bytes a mapping where the JSON spends
//! about 5), the least recently used forgotten first. A map that does not
//! parse is remembered as such (no second attempt until its script is
//! served again).
//!
//! Owned by [`super::scripts::Scripts`], which forgets a script's parsed
//! map whenever the script or its map entry changes. Leaf: no I/O.

use std::collections::VecDeque;

use sourcemap::{DecodedMap, RawToken, SourceMap};

/// Maps kept parsed.
pub const MAX_PARSED: usize = 4;
/// The memory the kept maps take, together ([`heap_size`]); the one used
/// last stays even alone over it.
pub const MAX_PARSED_BYTES: usize = 64 << 20;

/// What a parsed map takes in memory, at most: its mappings, its sources'
/// and names' strings (with their pointers) and its sources' text (twice:
/// the lines' offsets are indexed when a line is read).
pub fn heap_size(map: &DecodedMap) -> usize {
    fn one(sm: &SourceMap) -> usize {
        const STRING: usize = 2 * std::mem::size_of::<usize>() + 16;
        let tokens = sm.get_token_count() as usize * std::mem::size_of::<RawToken>();
        let sources: usize = (0..sm.get_source_count())
            .map(|i| {
                let name = sm.get_source(i).map_or(0, str::len);
                let text = sm.get_source_contents(i).map_or(0, str::len);
                STRING + name + 2 * text
            })
            .sum();
        let names: usize = (0..sm.get_name_count()).map(|i| STRING + sm.get_name(i).map_or(0, str::len)).sum();
        std::mem::size_of::<SourceMap>() + tokens + sources + names
    }
    match map {
        DecodedMap::Regular(sm) => one(sm),
        DecodedMap::Hermes(h) => one(h),
        DecodedMap::Index(ix) => ix.sections().filter_map(|s| s.get_sourcemap()).map(heap_size).sum(),
    }
}

/// One parsed map: whose (proxy, script path) it is, the map (`None`: it
/// did not parse) and the memory it takes.
struct Kept {
    proxy: usize,
    key: String,
    map: Option<DecodedMap>,
    bytes: usize,
}

/// The parsed maps, most recently used last.
pub struct Parsed {
    kept: VecDeque<Kept>,
    bytes: usize,
    /// [`MAX_PARSED_BYTES`] but in tests
    budget: usize,
    parses: u64,
}

impl Default for Parsed {
    fn default() -> Self {
        Parsed { kept: VecDeque::new(), bytes: 0, budget: MAX_PARSED_BYTES, parses: 0 }
    }
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
                let map = json().and_then(|j| self.parse(&j).ok());
                self.put(proxy, key.to_string(), map);
            }
        }
        self.kept.back().and_then(|k| k.map.as_ref())
    }

    /// Keeps `map` as script `key`'s, replacing any it had.
    pub fn put(&mut self, proxy: usize, key: String, map: Option<DecodedMap>) {
        self.forget(proxy, &key);
        let bytes = key.len() + map.as_ref().map_or(0, heap_size);
        self.bytes += bytes;
        self.kept.push_back(Kept { proxy, key, map, bytes });
        // the newest stays even alone over the budget (it is about to be used)
        while self.kept.len() > MAX_PARSED || (self.bytes > self.budget && self.kept.len() > 1) {
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

    /// A map of `n` mappings on one line, each a segment of 4 fields
    /// (about 5 bytes of JSON each).
    fn map_of(n: usize) -> Vec<u8> {
        let mut mappings = String::from("AAAA");
        for _ in 1..n {
            mappings.push_str(",CAAC");
        }
        format!(r#"{{"version":3,"sources":["a.ts"],"names":[],"mappings":"{mappings}"}}"#).into_bytes()
    }

    #[test]
    fn a_parsed_map_counts_its_memory_not_its_json() {
        let json = map_of(100_000);
        let map = sourcemap::decode_slice(&json).expect("valid");
        let size = heap_size(&map);
        assert!(size >= 100_000 * std::mem::size_of::<RawToken>(), "every mapping counted: {size}");
        assert!(size > 4 * json.len(), "several times its JSON ({} bytes): {size}", json.len());
        // an index map counts its sections' maps
        let index = format!(
            r#"{{"version":3,"sections":[{{"offset":{{"line":0,"column":0}},"map":{}}}]}}"#,
            String::from_utf8(json).expect("ascii")
        );
        let map = sourcemap::decode_slice(index.as_bytes()).expect("valid index map");
        assert!(matches!(map, DecodedMap::Index(_)));
        assert!(heap_size(&map) >= size);
    }

    #[test]
    fn the_memory_bound_holds_and_a_forgotten_map_is_parsed_again() {
        let mut p = Parsed { budget: 1 << 20, ..Parsed::default() };
        // maps of about a third of the bound each: the fourth pushes out the first
        let n = p.budget / 3 / std::mem::size_of::<RawToken>();
        let big = map_of(n);
        for i in 0..3 {
            assert!(p.get_or_parse(0, &format!("/big{i}.js"), || Some(big.clone())).is_some());
        }
        assert!(!p.contains(0, "/big0.js") && p.contains(0, "/big1.js") && p.contains(0, "/big2.js"));
        assert!(p.bytes <= p.budget, "{} bytes kept", p.bytes);
        // one map alone over the bound stays: it is about to be used
        let huge = map_of(p.budget / std::mem::size_of::<RawToken>() + 1);
        assert!(p.get_or_parse(0, "/huge.js", || Some(huge)).is_some());
        assert_eq!(p.len(), 1);
        p.get_or_parse(0, "/a.js", || Some(MAP.to_vec()));
        p.forget(0, "/a.js");
        p.get_or_parse(0, "/a.js", || Some(MAP.to_vec()));
        assert_eq!(p.parses(), 6);
    }
}
