//! Browser errors in scripts whose source map is a separate file
//! (`//# sourceMappingURL=app.js.map`): brum fetches the map from the dev
//! server when an error needs it and places the error in the original
//! source; a map it cannot have (404, not a map, another host, a server
//! gone, too large, too slow) leaves the error placed by path, never lost.
//! The maps are real: tsc writes them, and in the browser test `vite build
//! --sourcemap` does. Errors are posted as the telemetry script posts them
//! (its beacon), or thrown by a real headless chromium.

use std::io::{BufReader, Write};
use std::process::Command;

use serde_json::{Value, json};

use super::browser::{Browser, MAIN_TS, require_chromium, vite_bin, write_vite_app};
use super::lifecycle::ensure_tools;
use super::proxy::{NODE_WEB, Session, connect, get, read_response};

/// 1-based line and column of the first `needle` in `text`.
fn position(text: &str, needle: &str) -> (u32, u32) {
    let at = text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in:\n{text}"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = at - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line as u32, col as u32)
}

/// Posts one batch with an uncaught error at `url:line:col`, as `t.js` does.
fn report_error(proxy: &str, page: &str, script: &str, (line, col): (u32, u32)) {
    let body = json!({"v": 1, "events": [{
        "kind": "error",
        "page": format!("http://{proxy}{page}"),
        "message": format!("Uncaught TypeError: Cannot read properties of undefined (reading 'name') in {script}"),
        "url": format!("http://{proxy}{script}"),
        "line": line,
        "col": col,
    }]})
    .to_string();
    post_beacon(proxy, &body);
}

fn post_beacon(proxy: &str, body: &str) {
    let mut s = connect(proxy);
    write!(
        s,
        "POST /__brum__/telemetry HTTP/1.1\r\nHost: {proxy}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the beacon");
    let (head, _) = read_response(&mut BufReader::new(s));
    assert!(head.starts_with("HTTP/1.1 204"), "{head}");
}

/// The script through the proxy (so brum sees its map comment).
fn serve(proxy: &str, path: &str) {
    let (head, _) = get(proxy, path);
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
}

fn at(ev: &Value) -> (Option<&str>, Option<u64>, Option<u64>) {
    (ev["file"].as_str(), ev["line"].as_u64(), ev["col"].as_u64().or(ev["column"].as_u64()))
}

fn browser_error_in(script: &'static str) -> impl Fn(&Value) -> bool {
    move |e: &Value| {
        e["type"] == "browser.error" && e["message"].as_str().is_some_and(|m| m.ends_with(&format!(" in {script}")))
    }
}

fn source_map_of(script: &'static str) -> impl Fn(&Value) -> bool {
    move |e: &Value| e["type"] == "proxy.source_map" && e["script"] == script
}

/// `static/src/app.ts` (the browser tests' TypeScript) compiled by tsc to
/// `static/out/app.js` and its map `static/out/app.js.map`: the JavaScript
/// text.
fn compile_with_tsc(s: &Session) -> String {
    std::fs::create_dir_all(s.p.path().join("static/src")).expect("mkdir");
    s.p.write("static/src/app.ts", MAIN_TS);
    let out = Command::new(ensure_tools().join("tsc"))
        .args(["--sourceMap", "--target", "es2020", "--outDir", "static/out", "static/src/app.ts"])
        .current_dir(s.p.path())
        .output()
        .expect("run tsc");
    assert!(
        out.status.success(),
        "tsc: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let js = std::fs::read_to_string(s.p.path().join("static/out/app.js")).expect("tsc's app.js");
    assert!(js.trim_end().ends_with("//# sourceMappingURL=app.js.map"), "{js}");
    js
}

#[test]
fn an_error_in_a_script_with_a_separate_map_is_placed_in_its_typescript_source() {
    let mut s = Session::start(NODE_WEB, &[]);
    let js = compile_with_tsc(&s);
    let (proxy, _) = s.proxy();
    serve(&proxy, "/static/out/app.js?v=1");
    // V8 places `first!.name` on undefined at `name`: line 7 column 17 of
    // the source, elsewhere in tsc's output
    let (l, c) = position(&js, "first.name");
    let thrown = (l, c + "first.".len() as u32);
    assert_ne!(thrown, (7, 17), "the output is not the source");
    report_error(&proxy, "/", "/static/out/app.js", thrown);
    let map = s.wait("the map's fetch", source_map_of("/static/out/app.js"));
    assert_eq!(map["map"], "/static/out/app.js.map", "{map}");
    assert!(map["bytes"].as_u64().is_some_and(|b| b > 50) && map["error"].is_null(), "{map}");
    let ev = s.wait("the error", browser_error_in("/static/out/app.js"));
    assert_eq!(at(&ev), (Some("static/src/app.ts"), Some(7), Some(17)), "{ev}");
    let err = s.wait("its error.detected", |e| e["type"] == "error.detected" && e["first_seq"] == ev["seq"]);
    assert_eq!(err["source"], "browser");
    assert_eq!(at(&err), (Some("static/src/app.ts"), Some(7), Some(17)), "{err}");

    // the next error in that script finds the map kept: no second fetch
    let items = position(&js, "items[1]");
    report_error(&proxy, "/", "/static/out/app.js", items);
    let ev = s.wait("the second error", browser_error_in("/static/out/app.js"));
    assert_eq!(at(&ev), (Some("static/src/app.ts"), Some(6), Some(35)), "{ev}");
    s.pump();
    assert_eq!(s.seen.iter().filter(|e| source_map_of("/static/out/app.js")(e)).count(), 1, "fetched once");

    // the script served again (a rebuild): its map is fetched again
    serve(&proxy, "/static/out/app.js?v=2");
    report_error(&proxy, "/", "/static/out/app.js", thrown);
    s.wait("the map's second fetch", source_map_of("/static/out/app.js"));
    let ev = s.wait("the third error", browser_error_in("/static/out/app.js"));
    assert_eq!(at(&ev), (Some("static/src/app.ts"), Some(7), Some(17)), "{ev}");
}

#[test]
fn a_map_that_cannot_be_had_leaves_the_error_placed_by_path() {
    let toml = format!("{NODE_WEB}[process.keep]\ncmd = \"sleep 600\"\n");
    let mut s = Session::start(&toml, &[]);
    std::fs::create_dir_all(s.p.path().join("static")).expect("mkdir");
    s.p.write("static/missing.js", "f();\n//# sourceMappingURL=missing.js.map\n");
    s.p.write("static/bad.js", "f();\n//# sourceMappingURL=bad.js.map\n");
    s.p.write("static/bad.js.map", "this is not a source map");
    s.p.write("static/other.js", "f();\n//# sourceMappingURL=http://example.com/other.js.map\n");
    s.p.write("static/late.js", "f();\n//# sourceMappingURL=late.js.map\n");
    s.p.write("static/late.js.map", r#"{"version":3,"sources":["late.ts"],"names":[],"mappings":"AAAA"}"#);
    let (proxy, _) = s.proxy();
    for script in ["missing", "bad", "other", "late"] {
        serve(&proxy, &format!("/static/{script}.js"));
    }

    report_error(&proxy, "/", "/static/missing.js", (1, 1));
    let map = s.wait("the 404", source_map_of("/static/missing.js"));
    assert_eq!(map["error"], "the dev server answered 404", "{map}");
    let ev = s.wait("the error in missing.js", browser_error_in("/static/missing.js"));
    assert_eq!(at(&ev), (Some("static/missing.js"), Some(1), Some(1)), "{ev}");
    assert!(ev["seq"].as_u64() > map["seq"].as_u64(), "it waited for the answer");

    report_error(&proxy, "/", "/static/bad.js", (1, 2));
    let map = s.wait("the bad map", source_map_of("/static/bad.js"));
    assert!(map["error"].as_str().is_some_and(|e| e.starts_with("not a source map")), "{map}");
    let ev = s.wait("the error in bad.js", browser_error_in("/static/bad.js"));
    assert_eq!(at(&ev), (Some("static/bad.js"), Some(1), Some(2)), "{ev}");

    // another host's map is never asked for
    report_error(&proxy, "/", "/static/other.js", (1, 3));
    let ev = s.wait("the error in other.js", browser_error_in("/static/other.js"));
    assert_eq!(at(&ev), (Some("static/other.js"), Some(1), Some(3)), "{ev}");
    assert!(!s.seen.iter().any(|e| e["type"] == "proxy.source_map" && e["script"] == "/static/other.js"));

    // the dev server is gone when the error comes
    let answer = s.ask(json!({"cmd": "stop", "process": "web"}));
    assert_eq!(answer["ok"], true, "{answer}");
    s.wait("web's end", |e| e["type"] == "process.exited" && e["process"] == "web");
    report_error(&proxy, "/", "/static/late.js", (1, 1));
    let map = s.wait("the refused fetch", source_map_of("/static/late.js"));
    assert_eq!(map["error"], "connection refused", "{map}");
    let ev = s.wait("the error in late.js", browser_error_in("/static/late.js"));
    assert_eq!(at(&ev), (Some("static/late.js"), Some(1), Some(1)), "{ev}");
    let err = s.wait("its error.detected", |e| e["type"] == "error.detected" && e["first_seq"] == ev["seq"]);
    assert_eq!(err["source"], "browser");
}

#[test]
fn a_huge_or_slow_map_is_cut_off_and_errors_waiting_for_it_are_bounded() {
    let mut s = Session::start(NODE_WEB, &[]);
    std::fs::create_dir_all(s.p.path().join("static")).expect("mkdir");
    s.p.write("static/huge.js", "f();\n//# sourceMappingURL=/maps/huge.js.map\n");
    s.p.write("static/slow.js", "f();\n//# sourceMappingURL=../maps/slow.js.map\n");
    let (proxy, _) = s.proxy();
    serve(&proxy, "/static/huge.js");
    serve(&proxy, "/static/slow.js");

    report_error(&proxy, "/", "/static/huge.js", (1, 1));
    let map = s.wait("the huge map", source_map_of("/static/huge.js"));
    assert_eq!(map["error"], "the map is larger than 4 MiB", "{map}");
    let ev = s.wait("the error in huge.js", browser_error_in("/static/huge.js"));
    assert_eq!(at(&ev), (Some("static/huge.js"), Some(1), Some(1)), "{ev}");

    // 70 errors while the slow map is fetched: 64 wait for it, the rest
    // are published at once (placed by path), none is lost
    let events: Vec<Value> = (0..70)
        .map(|i| {
            json!({"kind": "error", "page": format!("http://{proxy}/p{}", i % 4),
                   "message": "Uncaught TypeError: x in /static/slow.js",
                   "url": format!("http://{proxy}/static/slow.js"), "line": 1, "col": i + 1})
        })
        .collect();
    for batch in events.chunks(32) {
        post_beacon(&proxy, &json!({"v": 1, "events": batch}).to_string());
    }
    // the reactor goes on while the map is late
    let ps = s.ask(json!({"cmd": "ps"}));
    assert!(ps["processes"].is_array(), "{ps}");
    let map = s.wait("the slow map", source_map_of("/static/slow.js"));
    assert_eq!(map["map"], "/maps/slow.js.map");
    assert_eq!(map["error"], "the map did not arrive within 5 s", "{map}");
    let mut cols = Vec::new();
    for _ in 0..70 {
        let ev = s.wait("the errors in slow.js", browser_error_in("/static/slow.js"));
        assert_eq!((ev["file"].as_str(), ev["line"].as_u64()), (Some("static/slow.js"), Some(1)), "{ev}");
        cols.push((ev["seq"].as_u64() > map["seq"].as_u64(), ev["col"].as_u64().expect("col")));
    }
    let early = cols.iter().filter(|(after, _)| !after).count();
    assert_eq!(early, 70 - 64, "errors beyond the 64 that wait are published at once: {cols:?}");
    let mut all: Vec<u64> = cols.iter().map(|c| c.1).collect();
    all.sort_unstable();
    assert_eq!(all, (1..=70).collect::<Vec<u64>>(), "every error, once");
}

/// A production build (`vite build --sourcemap`: a minified bundle and its
/// `.js.map`) served by `vite preview` under brum, opened in chromium
/// through the proxy: the throw comes back at its TypeScript line.
#[test]
fn a_throw_in_a_vite_production_bundle_is_placed_through_its_map() {
    let Some(chromium) = require_chromium() else { return };
    let vite = vite_bin();
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let v = vite.display();
    let toml = format!(
        "[process.web]\ncmd = \"{v} build --sourcemap --logLevel warn && exec {v} preview --host 127.0.0.1 \
         --port {port} --strictPort\"\nenv = {{ NO_COLOR = \"1\" }}\n[proxy]\nport = 0\n"
    );
    let mut s = Session::start(&toml, &[]);
    write_vite_app(s.p.path(), "Vite build", |page| page.as_bytes().to_vec());
    let (proxy, _) = s.proxy();
    let _browser = Browser::open(&chromium, &format!("http://{proxy}/"));
    let thrown = s.wait("the throw", |e| e["type"] == "browser.error" && e["kind"] == "exception");
    let map = s.wait("the bundle's map", |e| e["type"] == "proxy.source_map");
    assert!(map["error"].is_null() && map["map"].as_str().is_some_and(|m| m.ends_with(".js.map")), "{map}");
    assert_eq!((thrown["file"].as_str(), thrown["line"].as_u64()), (Some("src/main.ts"), Some(7)), "{thrown}");
    let err = s.wait("its error", |e| e["type"] == "error.detected" && e["source"] == "browser");
    assert_eq!((err["file"].as_str(), err["line"].as_u64()), (Some("src/main.ts"), Some(7)), "{err}");
}

/// A stack that starts in a dependency and runs through tsc's output: one
/// fetch of the map, every frame placed, the error at the first frame in
/// the project (not the dependency's that the browser named).
#[test]
fn every_frame_of_a_stack_is_placed_and_the_error_is_at_the_users_frame() {
    let mut s = Session::start(NODE_WEB, &[]);
    let js = compile_with_tsc(&s);
    std::fs::create_dir_all(s.p.path().join("static/node_modules/lib")).expect("mkdir");
    s.p.write("static/node_modules/lib/index.js", "export function lib(f) { return f(); }\n");
    let (proxy, _) = s.proxy();
    serve(&proxy, "/static/out/app.js?v=1");
    let (l, c) = position(&js, "first.name");
    let thrown = (l, c + "first.".len() as u32);
    let items = position(&js, "items[1]");
    let lib = format!("http://{proxy}/static/node_modules/lib/index.js");
    let app = format!("http://{proxy}/static/out/app.js?v=1");
    let stack = format!(
        "TypeError: Cannot read properties of undefined (reading 'name')\n    at lib ({lib}:1:33)\n    \
         at first ({app}:{}:{})\n    at {app}:{}:{}\n    at window.fetch (http://{proxy}/__brum__/t.js:40:15)",
        thrown.0, thrown.1, items.0, items.1
    );
    let body = json!({"v": 1, "events": [{
        "kind": "error", "page": format!("http://{proxy}/"),
        "message": "Uncaught TypeError: Cannot read properties of undefined (reading 'name') in /stack",
        "stack": stack, "url": lib, "line": 1, "col": 33,
    }]});
    post_beacon(&proxy, &body.to_string());
    let map = s.wait("the map's fetch", source_map_of("/static/out/app.js"));
    assert!(map["error"].is_null(), "{map}");
    let ev = s.wait("the error", browser_error_in("/stack"));
    assert_eq!(at(&ev), (Some("static/src/app.ts"), Some(7), Some(17)), "the user's frame: {ev}");
    let frames: Vec<_> = ev["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|f| {
            (f["file"].as_str().expect("file"), f["line"].as_u64().expect("line"), f["col"].as_u64().expect("col"))
        })
        .collect();
    assert_eq!(
        frames,
        [("static/node_modules/lib/index.js", 1, 33), ("static/src/app.ts", 7, 17), ("static/src/app.ts", 6, 35)],
        "{ev}"
    );
    assert_eq!(ev["frames"][1]["served"], format!("{app}:{}:{}", thrown.0, thrown.1));
    assert!(ev["stack"].as_str().is_some_and(|st| st.contains(&app)), "the raw stack is kept: {ev}");
    let err = s.wait("its error.detected", |e| e["type"] == "error.detected" && e["first_seq"] == ev["seq"]);
    assert_eq!(at(&err), (Some("static/src/app.ts"), Some(7), Some(17)), "{err}");
    let placed = err["fields"]["stack"].as_str().expect("fields.stack");
    for want in [
        "at lib (static/node_modules/lib/index.js:1:33)",
        "at first (static/src/app.ts:7:17)",
        "at static/src/app.ts:6:35",
    ] {
        assert!(placed.contains(want), "{want:?} in {placed}");
    }
}

/// Two dev servers that both serve `/static/app.js`, each with its own
/// inline map: each proxy's errors are placed through its own server's map.
#[test]
fn two_dev_servers_serving_the_same_path_keep_their_own_maps() {
    let toml = "[process.web]\ncmd = \"exec node server.js\"\n[process.two]\n\
                cmd = \"mkdir -p two && cd two && exec node ../server.js\"\n[proxy]\nport = 0\n";
    let mut s = Session::start(toml, &[]);
    let map = |source: &str| {
        format!(
            "f();\n//# sourceMappingURL=data:application/json,{{\"version\":3,\"sources\":[\"{source}\"],\
             \"names\":[],\"mappings\":\"AAAA\"}}\n"
        )
    };
    std::fs::create_dir_all(s.p.path().join("static")).expect("mkdir");
    std::fs::create_dir_all(s.p.path().join("two/static")).expect("mkdir");
    s.p.write("static/app.js", &map("from-web.ts"));
    s.p.write("two/static/app.js", &map("from-two.ts"));
    let proxy_of = |s: &mut Session, name: &'static str| {
        let ev = s.wait("a proxy", |e| e["type"] == "proxy.started" && e["process"] == name);
        super::proxy::authority(&ev["proxy_url"])
    };
    let web = proxy_of(&mut s, "web");
    let two = proxy_of(&mut s, "two");
    serve(&web, "/static/app.js");
    serve(&two, "/static/app.js");
    report_error(&web, "/", "/static/app.js", (1, 1));
    let ev = s.wait("web's error", |e| e["type"] == "browser.error" && e["process"] == "web");
    assert_eq!(at(&ev), (Some("from-web.ts"), Some(1), Some(1)), "{ev}");
    report_error(&two, "/", "/static/app.js", (1, 1));
    let ev = s.wait("two's error", |e| e["type"] == "browser.error" && e["process"] == "two");
    assert_eq!(at(&ev), (Some("from-two.ts"), Some(1), Some(1)), "{ev}");
}

/// A map named by an absolute URL of the proxy spelled `localhost` or
/// `[::1]` is fetched from the dev server (never from another host).
#[test]
fn an_absolute_map_url_of_the_proxy_in_any_loopback_spelling_is_followed() {
    let mut s = Session::start(NODE_WEB, &[]);
    let (proxy, _) = s.proxy();
    let port = proxy.rsplit(':').next().expect("port").to_string();
    std::fs::create_dir_all(s.p.path().join("static")).expect("mkdir");
    let map = r#"{"version":3,"sources":["orig.ts"],"names":[],"mappings":"AAAA"}"#;
    for (name, host) in [("local", "localhost"), ("six", "[::1]")] {
        s.p.write(
            &format!("static/{name}.js"),
            &format!("f();\n//# sourceMappingURL=http://{host}:{port}/static/{name}.js.map\n"),
        );
        s.p.write(&format!("static/{name}.js.map"), map);
    }
    for (name, script) in [("local", "/static/local.js"), ("six", "/static/six.js")] {
        serve(&proxy, script);
        report_error(&proxy, "/", script, (1, 1));
        let fetched = s.wait("the map's fetch", |e| e["type"] == "proxy.source_map" && e["script"] == script);
        assert_eq!(fetched["map"], format!("/static/{name}.js.map"));
        assert!(fetched["error"].is_null(), "{fetched}");
        let ev = s.wait("the error", |e| {
            e["type"] == "browser.error" && e["message"].as_str().is_some_and(|m| m.ends_with(script))
        });
        assert_eq!(at(&ev), (Some("orig.ts"), Some(1), Some(1)), "{ev}");
    }
}
