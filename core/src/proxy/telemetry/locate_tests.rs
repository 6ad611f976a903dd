//! Unit tests of `locate.rs`: stack frames, URL paths, served files and
//! source maps (a real one, written by `tsc --inlineSourceMap`).
use super::*;

#[test]
fn frames_of_v8_firefox_and_safari_stacks() {
    let f = |url, line, col| Some(Frame { url, line, col });
    assert_eq!(
        parse_frame("    at boom (http://127.0.0.1:5173/src/App.tsx?t=17:12:5)"),
        f("http://127.0.0.1:5173/src/App.tsx?t=17", 12, 5)
    );
    assert_eq!(parse_frame("    at http://h:1/a.js:3:9"), f("http://h:1/a.js", 3, 9));
    assert_eq!(parse_frame("    at async load (http://h/a.js:30:1)"), f("http://h/a.js", 30, 1));
    assert_eq!(parse_frame("boom@http://h/a.js:12:5"), f("http://h/a.js", 12, 5));
    assert_eq!(parse_frame("@http://h/a.js:1:1"), f("http://h/a.js", 1, 1));
    for not in [
        "TypeError: x is undefined",
        "    at new Promise (<anonymous>)",
        "    at x (native)",
        "",
        "@:1:2",
        "at a (b:c:d)",
    ] {
        assert_eq!(parse_frame(not), None, "{not:?}");
    }
}

#[test]
fn brums_own_frames_are_skipped_and_removed() {
    let stack = "Error\n    at window.fetch (http://h/__brum__/t.js:40:15)\n    at load (http://h/src/api.ts:7:3)\n    at http://h/src/main.ts:2:1";
    assert_eq!(first_frame(stack), Some(Frame { url: "http://h/src/api.ts", line: 7, col: 3 }));
    assert_eq!(
        strip_own_frames(stack),
        "Error\n    at load (http://h/src/api.ts:7:3)\n    at http://h/src/main.ts:2:1"
    );
    assert_eq!(first_frame("    at f (http://h/__brum__/t.js:1:1)"), None);
}

#[test]
fn url_paths() {
    assert_eq!(url_path("http://localhost:5173/src/App.tsx?t=123#x").as_deref(), Some("/src/App.tsx"));
    assert_eq!(url_path("/a%20b.js").as_deref(), Some("/a b.js"));
    assert_eq!(url_path("http://h").as_deref(), None);
    assert_eq!(url_path("App.tsx"), None);
    assert_eq!(url_path("/%ff").as_deref(), None, "not UTF-8");
    assert_eq!(url_path("/100%").as_deref(), Some("/100%"));
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["src/App.tsx", "public/legacy.js", "lib/x.js", "src/App.ts"] {
        let p = dir.path().join(f);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, "x").expect("write");
    }
    dir
}

#[test]
fn served_urls_map_to_project_files() {
    let dir = project();
    let root = dir.path();
    let m = |url: &str| map_location(url, 12, 5, root);
    assert_eq!(m("http://127.0.0.1:20888/src/App.tsx?t=1712"), Some(("src/App.tsx".into(), 12, 5)));
    assert_eq!(m("/legacy.js"), Some(("public/legacy.js".into(), 12, 5)));
    let fs = format!("http://h/@fs{}/lib/x.js?v=3", root.display());
    assert_eq!(m(&fs), Some(("lib/x.js".into(), 12, 5)));
    for not in [
        "http://h/src/Missing.tsx",
        "http://h/../src/App.tsx",
        "http://h/src/%2e%2e/src/App.tsx",
        "http://h/@fs/etc/../etc/passwd",
        "http://h/src",
        "http://h/",
        "http://h/@id/virtual:x",
        "",
    ] {
        assert_eq!(m(not), None, "{not:?}");
    }
}

/// `tsc --inlineSourceMap` of src/App.ts (served as /out/App.js):
/// ```ts
/// interface Props {
///   name: string;
/// }
///
/// export function greet(p: Props): string {
///   const obj: any = undefined;
///   return "hi " + p.name + obj.missing;
/// }
/// ```
const TSC_OUT: &str = "export function greet(p) {\n    const obj = undefined;\n    return \"hi \" + p.name + obj.missing;\n}\n//# sourceMappingURL=data:application/json;base64,eyJ2ZXJzaW9uIjozLCJmaWxlIjoiQXBwLmpzIiwic291cmNlUm9vdCI6IiIsInNvdXJjZXMiOlsiLi4vc3JjL0FwcC50cyJdLCJuYW1lcyI6W10sIm1hcHBpbmdzIjoiQUFJQSxNQUFNLFVBQVUsS0FBSyxDQUFDLENBQVE7SUFDNUIsTUFBTSxHQUFHLEdBQVEsU0FBUyxDQUFDO0lBQzNCLE9BQU8sS0FBSyxHQUFHLENBQUMsQ0FBQyxJQUFJLEdBQUcsR0FBRyxDQUFDLE9BQU8sQ0FBQztBQUN0QyxDQUFDIn0=\n";

#[test]
fn an_inline_source_map_leads_to_the_original_line() {
    let map = inline_source_map(TSC_OUT.as_bytes()).expect("inline map");
    // `obj` of `obj.missing` is at 3:29 in the output, 7:27 in the source
    assert_eq!(map_with_sourcemap(&map, 3, 29), Some(("../src/App.ts".into(), 7, 27)));
    assert_eq!(map_with_sourcemap(&map, 99, 1), None, "no mapping on that line");
    assert_eq!(map_with_sourcemap(b"{not a map", 1, 1), None);
    let dir = project();
    let served = "http://127.0.0.1:20888/out/App.js?t=5";
    assert_eq!(locate(served, 3, 29, dir.path(), Some(TSC_OUT.as_bytes())), Some(("src/App.ts".into(), 7, 27)));
    // without the body: by path only (out/App.js is not a project file here)
    assert_eq!(locate(served, 3, 29, dir.path(), None), None);
    assert_eq!(locate("http://h/src/App.ts", 3, 29, dir.path(), None), Some(("src/App.ts".into(), 3, 29)));
}

#[test]
fn source_map_urls_and_sources() {
    assert_eq!(source_map_url(b"x()\n//# sourceMappingURL=App.js.map\n"), Some("App.js.map"));
    assert_eq!(source_map_url(b"a {}\n/*# sourceMappingURL=a.css.map */"), Some("a.css.map"));
    assert_eq!(source_map_url(b"s = 'sourceMappingURL=x.map'"), None);
    assert_eq!(inline_source_map(b"//# sourceMappingURL=data:application/json,%7B%7D"), Some(b"{}".to_vec()));
    assert_eq!(inline_source_map(b"//# sourceMappingURL=data:application/json;base64,!!"), None);
    let dir = project();
    let root = dir.path();
    let served = "http://h/assets/index.js";
    assert_eq!(map_source("webpack://app/./src/App.tsx", served, root).as_deref(), Some("src/App.tsx"));
    assert_eq!(map_source("webpack:///./src/App.tsx", served, root).as_deref(), Some("src/App.tsx"));
    let abs = root.join("src/App.tsx");
    assert_eq!(map_source(&abs.to_string_lossy(), served, root).as_deref(), Some("src/App.tsx"));
    assert_eq!(map_source(&format!("file://{}", abs.display()), served, root).as_deref(), Some("src/App.tsx"));
    assert_eq!(map_source("/src/App.tsx", served, root).as_deref(), Some("src/App.tsx"));
    assert_eq!(map_source("../src/App.tsx", served, root).as_deref(), Some("src/App.tsx"));
    // relative to a build's map on disk (dist/assets/): found under the project
    assert_eq!(map_source("../../../src/App.tsx", served, root).as_deref(), Some("src/App.tsx"));
    assert_eq!(map_source("../../src/Missing.tsx", served, root), None);
    assert_eq!(map_source("../../../etc/passwd", served, root), None);
}

#[test]
fn a_separate_maps_sources_are_relative_to_the_map() {
    let map = inline_source_map(TSC_OUT.as_bytes()).expect("the map");
    let dir = project();
    let root = dir.path();
    // the script deep in /js/deep/, its map in /maps/: `../src/App.ts` is
    // /src/App.ts from the map (from the script it would be /js/src/App.ts)
    let served = "http://127.0.0.1:20888/js/deep/App.js?v=1";
    assert_eq!(locate_with_map(served, 3, 29, root, "/maps/App.js.map", &map), Some(("src/App.ts".into(), 7, 27)));
    // a line the map does not cover, or a map that does not parse: by path
    let by_path = "http://h/src/App.ts";
    assert_eq!(locate_with_map(by_path, 99, 1, root, "/src/App.ts.map", &map), Some(("src/App.ts".into(), 99, 1)));
    assert_eq!(locate_with_map(by_path, 3, 29, root, "/src/App.ts.map", b"{nope"), Some(("src/App.ts".into(), 3, 29)));
}
