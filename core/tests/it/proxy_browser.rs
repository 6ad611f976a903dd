//! The browser's errors through brum's proxy, end to end: the real binary
//! with `--proxy`, a dev server it runs (the Node test server serving files
//! by path, or a real Vite), and a real headless chromium opening the
//! proxy's URL. The page gets the telemetry script on its way, the beacons
//! come back to the same proxy, and the errors arrive as `browser.*` events
//! and `error.detected` at the project's file and line. Chromium comes from
//! `.ci/run`; without it these skip locally and fail in CI.

use serde_json::json;

use super::browser::{Browser, require_chromium, vite_bin, write_vite_app};
use super::proxy::{NODE_WEB, Session, get};

const PAGE: &str = "<!doctype html><html><head><title>Demo</title></head>\n\
<body><p>hi</p><script src=\"/static/app.js\"></script></body></html>\n";

/// Line 4 col 20 throws; line 2 fetches a 500.
const APP: &str = r#"console.error("something bad", 42);
fetch("/500").then(function (r) { return r.text(); });
function boom() {
  return undefined.x;
}
setTimeout(boom, 10);
"#;

fn with_static(s: &Session) {
    std::fs::create_dir_all(s.p.path().join("static")).expect("mkdir static");
    s.p.write("static/index.html", PAGE);
    s.p.write("static/csp.html", PAGE);
    s.p.write("static/app.js", APP);
}

#[test]
fn a_page_that_throws_through_the_proxy_reports_its_errors_at_their_file_and_line() {
    let Some(chromium) = require_chromium() else { return };
    let mut s = Session::start(NODE_WEB, &[]);
    with_static(&s);
    let (proxy, _) = s.proxy();
    // the page as the browser gets it: the script right after <head>, its
    // length fixed
    let (head, page) = get(&proxy, "/static/index.html");
    let page = String::from_utf8(page).expect("utf-8");
    assert!(page.contains("<head><script src=\"/__brum__/t.js\"></script><title>"), "{page}");
    assert!(head.contains(&format!("Content-Length: {}", page.len())) || head.contains("chunked"), "{head}");
    let _browser = Browser::open(&chromium, &format!("http://{proxy}/static/index.html"));
    let thrown = s.wait("the throw", |e| e["type"] == "browser.error" && e["kind"] == "exception");
    assert!(thrown["message"].as_str().expect("message").contains("TypeError"), "{thrown}");
    assert_eq!(
        (thrown["file"].as_str(), thrown["line"].as_u64(), thrown["col"].as_u64()),
        (Some("static/app.js"), Some(4), Some(20))
    );
    let err = s.wait("its error", |e| e["type"] == "error.detected" && e["first_seq"] == thrown["seq"]);
    assert_eq!(err["source"], "browser");
    assert_eq!((err["file"].as_str(), err["line"].as_u64()), (Some("static/app.js"), Some(4)), "{err}");
    let fetch = s.wait("the failed fetch", |e| e["type"] == "browser.error" && e["kind"] == "fetch");
    assert!(fetch["message"].as_str().expect("message").contains("500"), "{fetch}");
    assert_eq!((fetch["file"].as_str(), fetch["line"].as_u64()), (Some("static/app.js"), Some(2)));
    let console = s.wait("console.error", |e| e["type"] == "browser.console");
    assert_eq!(console["message"], "something bad 42");
    let loaded = s.wait("the page load", |e| e["type"] == "browser.page");
    assert_eq!(loaded["title"], "Demo");
    // the script and the beacons went through the same proxy
    s.wait("t.js", |e| e["type"] == "proxy.request" && e["path"] == "/__brum__/t.js" && e["status"] == 200);
    s.wait("a beacon", |e| e["type"] == "proxy.request" && e["path"] == "/__brum__/telemetry" && e["status"] == 204);
    let open = s.ask(json!({"cmd": "errors"}));
    let sources: Vec<&str> =
        open["errors"].as_array().expect("errors").iter().filter_map(|e| e["source"].as_str()).collect();
    assert!(sources.contains(&"browser") && sources.contains(&"proxy"), "{open}");
    // a page whose CSP would block the script is left as it is, once said
    let (_, csp) = get(&proxy, "/static/csp.html");
    let csp = String::from_utf8(csp).expect("utf-8");
    assert!(csp.contains(PAGE) && !csp.contains("__brum__"), "{csp}");
    let skipped = s.wait_type("proxy.inject_skipped");
    assert_eq!(skipped["path"], "/static/csp.html");
    assert!(skipped["reason"].as_str().expect("reason").contains("Content-Security-Policy"), "{skipped}");
    // the summary counts the browser's errors
    let summary = s.end();
    let row = &summary["processes"][0];
    assert!(row["browser_errors"].as_u64().expect("browser_errors") >= 2, "{summary}");
}

#[test]
fn a_throw_in_typescript_served_by_vite_through_brum_is_placed_in_its_source() {
    let Some(chromium) = require_chromium() else { return };
    let vite = vite_bin();
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let toml = format!(
        "[process.web]\ncmd = \"exec {} --host 127.0.0.1 --port {port} --strictPort --clearScreen false\"\n\
         env = {{ NO_COLOR = \"1\" }}\n[proxy]\nport = 0\n",
        vite.display()
    );
    let mut s = Session::start(&toml, &[]);
    write_vite_app(s.p.path(), "Vite demo", |page| page.as_bytes().to_vec());
    let (proxy, _) = s.proxy();
    let _browser = Browser::open(&chromium, &format!("http://{proxy}/"));
    let thrown = s.wait("the throw", |e| e["type"] == "browser.error" && e["kind"] == "exception");
    // served transformed; placed through the inline source map brum kept
    assert_eq!(
        (thrown["file"].as_str(), thrown["line"].as_u64(), thrown["col"].as_u64()),
        (Some("src/main.ts"), Some(7), Some(17)),
        "{thrown}"
    );
    let err = s.wait("its error", |e| e["type"] == "error.detected" && e["source"] == "browser");
    assert_eq!((err["file"].as_str(), err["line"].as_u64()), (Some("src/main.ts"), Some(7)), "{err}");
    // Vite's HMR socket went through the proxy as a tunnel
    s.wait("the HMR upgrade", |e| e["type"] == "proxy.request" && e["upgrade"] == true);
}

/// README's proxy demo, as it is in `examples/proxy-demo` (on free ports):
/// its page's two bugs come back at their lines.
#[test]
fn the_readme_proxy_demo_reports_its_two_bugs() {
    let Some(chromium) = require_chromium() else { return };
    let demo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/proxy-demo");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let toml = std::fs::read_to_string(demo.join("brum.toml"))
        .expect("the demo's brum.toml")
        .replace("PORT = 5174", &format!("PORT = {port}"))
        .replace("port = 20888", "port = 0");
    let mut s = Session::start(&toml, &[]);
    for f in ["server.js", "index.html", "src/app.js"] {
        std::fs::create_dir_all(s.p.path().join("src")).expect("mkdir src");
        std::fs::copy(demo.join(f), s.p.path().join(f)).expect("copy the demo");
    }
    let (proxy, _) = s.proxy();
    let _browser = Browser::open(&chromium, &format!("http://{proxy}/"));
    let read =
        s.wait("the missing item", |e| e["type"] == "error.detected" && e["source"] == "browser" && e["line"] == 5);
    assert_eq!((read["file"].as_str(), read["column"].as_u64()), (Some("src/app.js"), Some(26)), "{read}");
    assert!(read["message"].as_str().expect("message").contains("reading 'name'"), "{read}");
    let stats =
        s.wait("the failed stats", |e| e["type"] == "error.detected" && e["source"] == "browser" && e["line"] == 14);
    assert!(stats["message"].as_str().expect("message").contains("/api/stats failed: 500"), "{stats}");
    s.wait("the server's side of it", |e| e["type"] == "error.detected" && e["source"] == "proxy");
}
