//! Unit tests of `stack.rs`: which frames, which are the user's, every
//! frame through its script's map (parsed once), the stack rewritten.
use super::*;
use crate::proxy::scripts::{Entry, Scripts};
use crate::proxy::telemetry::ErrorKind;

fn error(stack: &str, url: Option<&str>) -> Report {
    Report::Error {
        kind: ErrorKind::Exception,
        message: "Uncaught Error: boom".into(),
        stack: stack.into(),
        url: url.map(Into::into),
        line: Some(1),
        col: Some(2),
        page: "http://h/".into(),
    }
}

#[test]
fn the_frames_are_the_stacks_capped_else_the_browsers_place() {
    let r = error(
        "Error: boom\n    at f (http://h/a.js:1:2)\n    at http://h/__brum__/t.js:3:4\n    at g (http://h/b.js:5:6)",
        None,
    );
    let urls: Vec<_> = frames_of(&r).iter().map(|f| (f.url, f.line)).collect();
    assert_eq!(urls, [("http://h/a.js", 1), ("http://h/b.js", 5)]);
    let deep: String = (0..100).map(|i| format!("    at f{i} (http://h/a.js:{}:1)\n", i + 1)).collect();
    assert_eq!(frames_of(&error(&deep, None)).len(), MAX_FRAMES);
    let bare = error("", Some("http://h/a.js?t=1"));
    assert_eq!(frames_of(&bare), [Frame { url: "http://h/a.js?t=1", line: 1, col: 2 }]);
    assert!(frames_of(&error("", None)).is_empty());
}

#[test]
fn dependencies_and_vite_internals_are_not_the_users_code() {
    for lib in [
        "http://h/node_modules/.vite/deps/react-dom.js?v=9",
        "http://h/@vite/client",
        "http://h/@react-refresh",
        "http://h/@id/__x00__plugin",
        "http://h/assets/vendor-3f2a.js",
        "http://h/static/js/vendors~main.chunk.js",
        "node_modules/react-dom/cjs/react-dom.development.js",
        "../../node_modules/react/index.js",
        "chrome-extension://abc/content.js",
    ] {
        assert!(is_library(lib), "{lib}");
    }
    for user in ["src/App.tsx", "http://h/src/App.tsx?t=1", "http://h/assets/index-3f2a.js", "static/src/app.ts"] {
        assert!(!is_library(user), "{user}");
    }
}

/// A project with `src/app.ts` and `src/util.ts`, and the map of a bundle
/// `/assets/index.js` whose line 1 holds both (columns 1.. from app.ts
/// line 10, columns 101.. from util.ts line 20) and whose line 2 is from
/// `node_modules/lib/index.js` line 3.
fn project() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
    for f in ["src/app.ts", "src/util.ts"] {
        std::fs::write(dir.path().join(f), "x\n").expect("write");
    }
    let mut b = sourcemap::SourceMapBuilder::new(Some("index.js"));
    b.add(0, 0, 9, 4, Some("../src/app.ts"), None, false);
    b.add(0, 100, 19, 2, Some("../src/util.ts"), None, false);
    b.add(1, 0, 2, 0, Some("../node_modules/lib/index.js"), None, false);
    let mut json = Vec::new();
    b.into_sourcemap().to_writer(&mut json).expect("a map");
    (dir, json)
}

#[test]
fn every_frame_goes_through_its_scripts_map_parsed_once_and_the_user_frame_is_chosen() {
    let (dir, json) = project();
    let mut s = Scripts::default();
    s.insert_external(3, "/assets/index.js".into(), "/assets/index.js.map".into());
    let stack = "Error: boom\n    at lib (http://h/assets/index.js?v=1:2:5)\n    \
                 at util (http://h/assets/index.js?v=1:1:120)\n    at app (http://h/assets/index.js?v=1:1:3)\n    \
                 at http://h/other.js:7:8";
    let r = error(stack, None);
    let frames = frames_of(&r);
    // not fetched yet: the error waits for that one map
    assert_eq!(map_to_wait_for(&s, 3, &frames), Some(("http://h/assets/index.js?v=1", false)));
    assert_eq!(map_to_wait_for(&s, 4, &frames), None, "another proxy's script");
    s.start_fetch(3, "/assets/index.js");
    assert_eq!(map_to_wait_for(&s, 3, &frames), Some(("http://h/assets/index.js?v=1", true)));
    let parsed = s.parse(&json).expect("parses");
    s.fetched(3, "/assets/index.js", "/assets/index.js.map", Some((json.clone(), parsed)));
    assert_eq!(map_to_wait_for(&s, 3, &frames), None);

    for _ in 0..50 {
        let placed = place_frames(&mut s, 3, &frames, dir.path());
        let at: Vec<_> = placed.iter().map(|f| (f.file.as_str(), f.line, f.col)).collect();
        assert_eq!(
            at,
            [
                ("../node_modules/lib/index.js", 3, 1),
                ("src/util.ts", 20, 3),
                ("src/app.ts", 10, 5),
                ("http://h/other.js", 7, 8),
            ]
        );
        assert_eq!(placed[0].served, "http://h/assets/index.js?v=1:2:5");
        let user = users_frame(&placed).expect("a frame");
        assert_eq!((user.file.as_str(), user.line), ("src/util.ts", 20));
    }
    assert_eq!(s.parses(), 1, "one parse (the fetched map's check) for 200 frames");

    let placed = place_frames(&mut s, 3, &frames, dir.path());
    assert_eq!(
        placed_stack(stack, &placed).as_deref(),
        Some(
            "Error: boom\n    at lib (../node_modules/lib/index.js:3:1)\n    at util (src/util.ts:20:3)\n    \
             at app (src/app.ts:10:5)\n    at http://h/other.js:7:8"
        )
    );
    assert_eq!(placed_stack("", &placed), None);

    // the script served anew: its parsed map goes, its frames wait for the new one
    s.insert_external(3, "/assets/index.js".into(), "/assets/index.js.map".into());
    assert!(!s.is_parsed(3, "/assets/index.js"));
    let placed = place_frames(&mut s, 3, &frames, dir.path());
    assert_eq!(placed[1].file, "http://h/assets/index.js", "by path until its map is fetched again");
}

#[test]
fn a_dependency_frame_never_makes_an_error_wait() {
    let mut s = Scripts::default();
    s.insert_external(
        0,
        "/node_modules/.vite/deps/react-dom.js".into(),
        "/node_modules/.vite/deps/react-dom.js.map".into(),
    );
    s.insert(0, "/src/App.tsx".into(), Entry::Inline(b"//# sourceMappingURL=data:application/json,{}".to_vec()));
    let r = error(
        "Error\n    at x (http://h/node_modules/.vite/deps/react-dom.js?v=1:5:5)\n    at App (http://h/src/App.tsx?t=2:3:3)",
        None,
    );
    assert_eq!(map_to_wait_for(&s, 0, &frames_of(&r)), None);
}
