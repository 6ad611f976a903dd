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
    s.insert(0, "/a.js".into(), Entry::Inline(b"old".to_vec()));
    s.insert(0, "/a.js".into(), Entry::Inline(b"new".to_vec()));
    assert_eq!(s.get(0, "http://127.0.0.1:20888/a.js?t=5"), Some(&Entry::Inline(b"new".to_vec())));
    for i in 0..MAX_SCRIPTS + 10 {
        s.insert(0, format!("/m{i}.js"), Entry::Inline(vec![0; 10]));
    }
    assert!(s.get(0, "/a.js").is_none(), "the oldest is forgotten");
    assert_eq!(s.maps.len(), MAX_SCRIPTS);
    assert_eq!(key("http://h:1/x/y.js?v=2#f"), "/x/y.js");
    assert_eq!(key("/x"), "/x");
}

#[test]
fn two_proxies_serving_the_same_path_keep_a_map_each() {
    let mut s = Scripts::default();
    s.insert(0, "/assets/index.js".into(), Entry::Inline(b"zero".to_vec()));
    s.insert_external(1, "/assets/index.js".into(), "/assets/index.js.map".into());
    assert_eq!(s.get(0, "/assets/index.js"), Some(&Entry::Inline(b"zero".to_vec())));
    assert_eq!(s.map_state(1, "/assets/index.js"), Some(&MapState::Unfetched));
    assert_eq!(s.start_fetch(0, "/assets/index.js"), None, "proxy 0's is inline");
    assert_eq!(s.start_fetch(1, "/assets/index.js").as_deref(), Some("/assets/index.js.map"));
    s.remove(1, "/assets/index.js");
    assert!(s.get(1, "/assets/index.js").is_none() && s.get(0, "/assets/index.js").is_some());
}

fn state(s: &Scripts, key: &str) -> Option<MapState> {
    s.map_state(0, key).cloned()
}

const MAP: &[u8] = br#"{"version":3,"sources":["app.ts"],"names":[],"mappings":"AAAA;AACA"}"#;

fn parsed(s: &mut Scripts, json: &[u8]) -> Option<(Vec<u8>, DecodedMap)> {
    Some((json.to_vec(), s.parse(json).expect("a map")))
}

#[test]
fn a_separate_map_is_fetched_once_and_refetched_for_a_new_version_of_its_script() {
    let mut s = Scripts::default();
    s.insert_external(0, "/app.js".into(), "/app.js.map".into());
    assert_eq!(state(&s, "/app.js"), Some(MapState::Unfetched));
    assert_eq!(s.start_fetch(0, "/app.js").as_deref(), Some("/app.js.map"));
    assert_eq!(s.start_fetch(0, "/app.js"), None, "one fetch at a time");
    // served again while the fetch is under way: that fetch counts
    s.insert_external(0, "/app.js".into(), "/app.js.map".into());
    assert_eq!(state(&s, "/app.js"), Some(MapState::Fetching));
    let got = parsed(&mut s, MAP);
    s.fetched(0, "/app.js", "/app.js.map", got);
    assert_eq!(state(&s, "/app.js"), Some(MapState::Fetched(MAP.to_vec())));
    // served again after: its map may have changed
    s.insert_external(0, "/app.js".into(), "/app.js.map".into());
    assert_eq!(state(&s, "/app.js"), Some(MapState::Unfetched));
    s.start_fetch(0, "/app.js");
    s.fetched(0, "/app.js", "/app.js.map", None);
    assert_eq!(state(&s, "/app.js"), Some(MapState::Failed));
    assert_eq!(s.start_fetch(0, "/app.js"), None, "a failure is not retried until the script is served again");
    // a fetch that ends after the script named another map is not kept
    s.insert_external(0, "/app.js".into(), "/v2.js.map".into());
    let got = parsed(&mut s, MAP);
    s.fetched(0, "/app.js", "/app.js.map", got);
    assert_eq!(state(&s, "/app.js"), Some(MapState::Unfetched));
}

#[test]
fn fetched_maps_count_in_the_budget() {
    let mut s = Scripts::default();
    let big = MAX_TOTAL / 4;
    let mut json = MAP.to_vec();
    json.resize(big, b' ');
    for i in 0..5 {
        let k = format!("/s{i}.js");
        s.insert_external(0, k.clone(), format!("{k}.map"));
        s.start_fetch(0, &k);
        let got = parsed(&mut s, &json);
        s.fetched(0, &k, &format!("{k}.map"), got);
    }
    assert!(s.bytes <= MAX_TOTAL, "{}", s.bytes);
    assert!(s.get(0, "/s0.js").is_none() && s.get(0, "/s4.js").is_some());
    assert!(!s.is_parsed(0, "/s0.js"), "a forgotten script's parsed map goes with it");
}

fn mapped(s: &mut Scripts, url: &str) -> Option<(u32, u32)> {
    match s.lookup(0, url) {
        Lookup::Map(m, _) => m.lookup_token(1, 0).map(|t| (t.get_src_line(), t.get_dst_line())),
        _ => None,
    }
}

#[test]
fn a_fetched_map_is_parsed_once_for_many_lookups_and_again_when_its_script_is_served_anew() {
    let mut s = Scripts::default();
    s.insert_external(0, "/app.js".into(), "/app.js.map".into());
    assert!(matches!(s.lookup(0, "/app.js?v=1"), Lookup::Unfetched));
    s.start_fetch(0, "/app.js");
    assert!(matches!(s.lookup(0, "/app.js"), Lookup::Fetching));
    // the check of the fetched map is its one parse
    let got = parsed(&mut s, MAP);
    s.fetched(0, "/app.js", "/app.js.map", got);
    for _ in 0..500 {
        assert_eq!(mapped(&mut s, "http://127.0.0.1:1/app.js?t=9"), Some((1, 1)));
    }
    assert_eq!(s.parses(), 1, "one parse for 500 lookups");
    assert!(s.is_parsed(0, "/app.js"));
    // served anew: the parsed map goes with the entry
    s.insert_external(0, "/app.js".into(), "/app.js.map".into());
    assert!(!s.is_parsed(0, "/app.js"));
    assert!(matches!(s.lookup(0, "/app.js"), Lookup::Unfetched));
}

#[test]
fn an_inline_map_is_parsed_on_first_use_once_and_forgotten_with_its_script() {
    use base64::Engine;
    let tail = format!(
        "//# sourceMappingURL=data:application/json;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(MAP)
    );
    let mut s = Scripts::default();
    s.insert(0, "/src/a.ts".into(), Entry::Inline(tail.clone().into_bytes()));
    assert_eq!(s.parses(), 0, "not parsed until an error needs it");
    for _ in 0..100 {
        assert_eq!(mapped(&mut s, "/src/a.ts?t=1"), Some((1, 1)));
    }
    assert_eq!(s.parses(), 1);
    s.insert(0, "/src/a.ts".into(), Entry::Inline(tail.into_bytes()));
    assert!(!s.is_parsed(0, "/src/a.ts"), "a new version of the script drops its parsed map");
    mapped(&mut s, "/src/a.ts");
    assert_eq!(s.parses(), 2);
    // a broken inline map is tried once
    s.insert(0, "/src/b.ts".into(), Entry::Inline(b"//# sourceMappingURL=data:application/json,nope".to_vec()));
    for _ in 0..10 {
        assert!(matches!(s.lookup(0, "/src/b.ts"), Lookup::None));
    }
    assert_eq!(s.parses(), 3);
}
