//! A real headless browser (Debian's `chromium`) for the proxy's tests, and
//! a small Python static server that records what pages post to brum's
//! telemetry path. `.ci/run` installs chromium; locally a test that needs
//! it skips when it is absent (and fails in CI).
//!
//! The test here needs no proxy: the server serves a page the injector
//! rewrote, `t.js` itself and an endpoint that fails, and the beacons the
//! real browser sends are checked with brum's own `Telemetry::accept`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use brum::proxy::telemetry::{self, BEACON_PATH, ErrorKind, Level, Report, Telemetry, locate, stack};
use brum::proxy::{inject, scripts};

use super::LIMIT;

/// The chromium to drive: `$BRUM_CHROMIUM`, else `chromium` on the PATH.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BRUM_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("chromium")).find(|p| p.is_file())
}

/// The chromium to drive, or `None` (with a note) when it is absent and
/// this is not CI; in CI (`CI=true`) its absence fails the test.
pub fn require_chromium() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is not installed: .ci/run installs it (apt-get install -y chromium)"
        );
        eprintln!("skipped: chromium is not installed (apt-get install -y chromium)");
    }
    found
}

/// Flags for a quiet, local-only headless chromium: no sandbox (tests run
/// as root in CI), no GPU, and none of the background services that would
/// reach out past loopback.
const FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--no-pings",
    "--metrics-recording-only",
];

fn chromium_cmd(bin: &Path, profile: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .env("HOME", profile)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    c
}

/// Kills chromium's process group (its leader's pid): browser, zygote and
/// renderers alike.
fn kill_group(pgid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pgid as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// A headless chromium showing one page until dropped (then its whole
/// process group is killed: no renderer or zygote outlives the test).
pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Opens `url` in a new headless chromium with a fresh profile.
    pub fn open(bin: &Path, url: &str) -> Browser {
        let profile = tempfile::Builder::new().prefix("brum-chromium-").tempdir().expect("profile dir");
        let child = chromium_cmd(bin, profile.path()).arg(url).stdout(Stdio::null()).spawn().expect("spawn chromium");
        Browser { child, _profile: profile }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(self.child.id());
        let _ = self.child.wait();
    }
}

/// Loads `url`, lets the page's timers run for `budget_ms` of virtual
/// time, and returns its DOM as chromium serializes it (`--dump-dom`).
pub fn dump_dom(bin: &Path, url: &str, budget_ms: u32) -> String {
    let profile = tempfile::Builder::new().prefix("brum-chromium-").tempdir().expect("profile dir");
    let child = chromium_cmd(bin, profile.path())
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .arg("--dump-dom")
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chromium");
    let pgid = child.id();
    let out = super::finish(child, LIMIT);
    kill_group(pgid);
    assert_eq!(out.code, Some(0), "chromium --dump-dom {url}: exit {:?}", out.code);
    out.stdout_text()
}

/// Python's `http.server` on 127.0.0.1 serving a directory, answering
/// `/api/fail…` with 503, and appending each body posted to
/// [`BEACON_PATH`] as one line to `beacons.ndjson` in the directory.
const SERVER: &str = r#"
import functools, http.server, os, sys
root, beacon = sys.argv[1], sys.argv[2]
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path.startswith("/api/fail"):
            self.send_response(503, "Service Unavailable")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"down")
            return
        super().do_GET()
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == beacon:
            with open(os.path.join(root, "beacons.ndjson"), "ab") as f:
                f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(204)
        self.end_headers()
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(H, directory=root))
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// The static server of [`SERVER`], stopped when dropped.
pub struct StaticServer {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl StaticServer {
    pub fn start(dir: &Path) -> StaticServer {
        let mut child = Command::new("python3")
            .args(["-c", SERVER])
            .arg(dir)
            .arg(BEACON_PATH)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("port line");
        let port = line.trim().parse().unwrap_or_else(|_| panic!("server port: {line:?}"));
        StaticServer { child, dir: dir.to_path_buf(), port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The bodies posted to the beacon path so far.
    pub fn beacons(&self) -> Vec<Vec<u8>> {
        let all = std::fs::read(self.dir.join("beacons.ndjson")).unwrap_or_default();
        all.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PAGE: &str = "<!doctype html><html><head><title>Demo</title></head>\n<body><p>hi</p><script src=\"/app.js\"></script></body></html>\n";

/// Line 4 col 20 throws (`undefined.x`), line 2 fetches a 503, line 8 an
/// XHR 503, line 10 a fetch nobody answers.
const APP: &str = r#"console.error("something bad", 42);
fetch("/api/fail").then(function (r) { return r.text(); });
function boom() {
  return undefined.x;
}
setTimeout(boom, 10);
var x = new XMLHttpRequest(); x.open("GET", "/api/fail?xhr");
x.send();
Promise.reject(new Error("nobody handles this"));
fetch("http://127.0.0.1:1/refused").catch(function () {});
"#;

/// Every report the server's beacons hold, through brum's own endpoint
/// logic (a body it refuses fails the test).
fn reports(server: &StaticServer) -> Vec<Report> {
    let mut t = Telemetry::new();
    let mut all = Vec::new();
    for b in server.beacons() {
        let got = t.accept(&b, Instant::now());
        all.extend(got.unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&b))));
    }
    all
}

fn error_of(reports: &[Report], kind: ErrorKind, needle: &str) -> Option<Report> {
    reports
        .iter()
        .find(|r| matches!(r, Report::Error { kind: k, message, .. } if *k == kind && message.contains(needle)))
        .cloned()
}

#[test]
fn the_telemetry_script_reports_from_a_real_browser() {
    let Some(bin) = require_chromium() else { return };
    let dir = tempfile::Builder::new().prefix("brum-page-").tempdir().expect("tempdir");
    // the page as the proxy would serve it: through the injector
    std::fs::write(dir.path().join("index.html"), inject::inject_whole(PAGE.as_bytes())).expect("write page");
    std::fs::write(dir.path().join("app.js"), APP).expect("write app");
    std::fs::create_dir_all(dir.path().join("__brum__")).expect("mkdir");
    std::fs::write(dir.path().join("__brum__/t.js"), telemetry::script()).expect("write t.js");
    let server = StaticServer::start(dir.path());
    let _browser = Browser::open(&bin, &server.url("/"));

    let wanted = |r: &[Report]| {
        error_of(r, ErrorKind::Exception, "undefined").is_some()
            && error_of(r, ErrorKind::Rejection, "nobody handles this").is_some()
            && error_of(r, ErrorKind::Fetch, "503").is_some()
            && error_of(r, ErrorKind::Fetch, "refused").is_some()
            && error_of(r, ErrorKind::Xhr, "503").is_some()
            && r.iter().any(|x| matches!(x, Report::Console { .. }))
            && r.iter().any(|x| matches!(x, Report::Page { .. }))
    };
    let start = Instant::now();
    let got = loop {
        let r = reports(&server);
        if wanted(&r) {
            break r;
        }
        assert!(start.elapsed() < LIMIT, "the browser never reported everything; got {r:#?}");
        std::thread::sleep(Duration::from_millis(100));
    };

    let root = dir.path();
    let at = |r: Report| match r {
        Report::Error { url: Some(u), line: Some(l), col: Some(c), .. } => locate::map_location(&u, l, c, root),
        other => panic!("no location: {other:?}"),
    };
    let thrown = error_of(&got, ErrorKind::Exception, "undefined").expect("thrown");
    let Report::Error { message, stack, .. } = &thrown else { unreachable!() };
    assert!(message.contains("TypeError"), "{message}");
    assert!(stack.contains("at boom"), "{stack}");
    assert_eq!(at(thrown), Some(("app.js".into(), 4, 20)), "the throw's file:line:col");
    // failed requests are located where the page made them, not in t.js
    assert_eq!(at(error_of(&got, ErrorKind::Fetch, "503").expect("fetch")), Some(("app.js".into(), 2, 1)));
    assert_eq!(at(error_of(&got, ErrorKind::Xhr, "503").expect("xhr")), Some(("app.js".into(), 8, 3)));
    assert_eq!(at(error_of(&got, ErrorKind::Rejection, "nobody").expect("rejection")), Some(("app.js".into(), 9, 16)));
    let Some(Report::Error { stack, .. }) = error_of(&got, ErrorKind::Fetch, "503") else { unreachable!() };
    assert!(!stack.contains("__brum__"), "brum's frames are removed: {stack}");
    assert!(
        got.contains(&Report::Console {
            level: Level::Error,
            message: "something bad 42".into(),
            page: server.url("/")
        }),
        "{got:#?}"
    );
    let page = got.iter().find(|r| matches!(r, Report::Page { .. })).expect("page");
    let Report::Page { url, title, load_ms } = page else { unreachable!() };
    assert_eq!((url.as_str(), title.as_deref()), (server.url("/").as_str(), Some("Demo")));
    assert!(load_ms.is_some());
}

#[test]
fn dump_dom_shows_the_injected_script_first_in_the_head() {
    let Some(bin) = require_chromium() else { return };
    let dir = tempfile::Builder::new().prefix("brum-page-").tempdir().expect("tempdir");
    std::fs::write(dir.path().join("index.html"), inject::inject_whole(PAGE.as_bytes())).expect("write page");
    std::fs::create_dir_all(dir.path().join("__brum__")).expect("mkdir");
    // a stand-in script that marks the page, so the DOM shows it ran
    std::fs::write(dir.path().join("__brum__/t.js"), "document.documentElement.dataset.brum = 'ran';").expect("t.js");
    let server = StaticServer::start(dir.path());
    let dom = dump_dom(&bin, &server.url("/"), 2000);
    assert!(
        dom.contains("<html data-brum=\"ran\"><head><script src=\"/__brum__/t.js\"></script><title>Demo</title>"),
        "{dom}"
    );
}

/// The pinned Vite of `core/tests/browser-tools` (installed by `.ci/run`;
/// on first use here when missing).
pub fn vite_bin() -> PathBuf {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser-tools");
    let bin = dir.join("node_modules/.bin/vite");
    ONCE.call_once(|| {
        if bin.exists() {
            return;
        }
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .expect("npm (Node.js) is needed for the Vite browser test");
        assert!(out.status.success(), "npm ci in {} failed:\n{}", dir.display(), String::from_utf8_lossy(&out.stderr));
    });
    bin
}

/// A Vite dev server for a project directory; its process group is killed
/// when dropped.
struct Vite {
    child: Child,
    url: String,
}

impl Vite {
    /// Starts Vite in `dir` on a free port of 127.0.0.1 and waits for it to
    /// announce its URL.
    fn start(dir: &Path) -> Vite {
        let mut cmd = Command::new(vite_bin());
        cmd.args(["--host", "127.0.0.1", "--clearScreen", "false"])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().expect("spawn vite");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut seen = String::new();
        let url = loop {
            let mut line = String::new();
            let n = out.read_line(&mut line).expect("vite output");
            assert!(n > 0, "vite ended before announcing its URL:\n{seen}");
            seen.push_str(&line);
            if line.contains("Local:")
                && let Some(at) = line.find("http://")
            {
                break line[at..].trim().to_string();
            }
        };
        // keep draining its output so it never blocks on a full pipe
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Vite { child, url }
    }
}

impl Drop for Vite {
    fn drop(&mut self) {
        kill_group(self.child.id());
        let _ = self.child.wait();
    }
}

/// The body of a GET of `url` (plain HTTP/1.0 on loopback).
fn http_get(url: &str) -> Vec<u8> {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    s.set_read_timeout(Some(LIMIT)).expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("send");
    let mut all = Vec::new();
    s.read_to_end(&mut all).expect("response");
    let at = all.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    assert!(
        all.starts_with(b"HTTP/1.1 200") || all.starts_with(b"HTTP/1.0 200"),
        "{}",
        String::from_utf8_lossy(&all[..at])
    );
    all[at + 4..].to_vec()
}

/// TypeScript that Vite transforms (types stripped, lines moved): the throw
/// is on line 7 of the source, `first!.name` reading `name` of undefined.
pub const MAIN_TS: &str = r#"interface Item {
  name: string;
}

function render(items: Item[]): string {
  const first: Item | undefined = items[1];
  return first!.name.toUpperCase();
}

document.getElementById("app")!.textContent = render([{ name: "a" }]);
"#;

/// The page of the Vite tests (`<title>` = `title`) loading `src/main.ts`
/// ([`MAIN_TS`]), written into `root`, with the page passed through
/// `page` first (the brum-less test injects the script itself).
pub fn write_vite_app(root: &std::path::Path, title: &str, page: impl Fn(&str) -> Vec<u8>) {
    let html = format!(
        "<!doctype html>\n<html><head><title>{title}</title></head>\n<body><div id=\"app\"></div>\
         <script type=\"module\" src=\"/src/main.ts\"></script></body></html>\n"
    );
    std::fs::write(root.join("index.html"), page(&html)).expect("write page");
    std::fs::create_dir_all(root.join("src")).expect("mkdir src");
    std::fs::write(root.join("src/main.ts"), MAIN_TS).expect("write main.ts");
}

#[test]
fn a_throw_in_typescript_served_by_vite_maps_to_its_source_line() {
    let Some(chromium) = require_chromium() else { return };
    let recorder_dir = tempfile::Builder::new().prefix("brum-beacons-").tempdir().expect("tempdir");
    let recorder = StaticServer::start(recorder_dir.path());
    let dir = tempfile::Builder::new().prefix("brum-vite-").tempdir().expect("tempdir");
    let root = dir.path();
    write_vite_app(root, "Vite demo", |page| inject::inject_whole(page.as_bytes()));
    std::fs::create_dir_all(root.join("public/__brum__")).expect("mkdir public");
    std::fs::write(root.join("public/__brum__/t.js"), telemetry::script()).expect("write t.js");
    // Vite stands in for brum's proxy: it forwards the beacons to the recorder
    let config = format!(
        "export default {{ server: {{ proxy: {{ \"{BEACON_PATH}\": \"http://127.0.0.1:{}\" }} }} }};\n",
        recorder.port
    );
    std::fs::write(root.join("vite.config.mjs"), config).expect("write vite config");
    let vite = Vite::start(root);
    let _browser = Browser::open(&chromium, &vite.url);

    let start = Instant::now();
    let thrown = loop {
        if let Some(r) = error_of(&reports(&recorder), ErrorKind::Exception, "name") {
            break r;
        }
        assert!(start.elapsed() < LIMIT, "no error from the Vite page; beacons: {:?}", recorder.beacons());
        std::thread::sleep(Duration::from_millis(100));
    };
    let Report::Error { url: Some(url), line: Some(line), col: Some(col), .. } = &thrown else { panic!("{thrown:?}") };
    assert!(url.contains("/src/main.ts"), "{url}");
    // the served file is not the source: its inline source map leads back
    let served = http_get(url);
    assert!(locate::inline_source_map(&served).is_some(), "Vite serves an inline map");
    let at = locate::locate(url, *line, *col, root, Some(&served));
    assert_eq!(at, Some(("src/main.ts".to_string(), 7, 17)), "served at {line}:{col}");
    // and that is where its error.detected points: every frame of its
    // stack through the map the proxy keeps as the script goes by
    let mut capture = scripts::Capture::new(url, false);
    capture.push(&served);
    let Some((key, scripts::Found::Inline(tail))) = capture.finish() else { panic!("no inline map kept") };
    let mut kept = scripts::Scripts::default();
    kept.insert(0, key, scripts::Entry::Inline(tail));
    let frames = stack::place_frames(&mut kept, 0, &stack::frames_of(&thrown), root);
    assert!(!frames.is_empty(), "{thrown:?}");
    let t = telemetry::translate(thrown.clone(), frames);
    let view = t.finding("web", 1).expect("a finding");
    assert_eq!((view.file, view.line, view.column), (Some("src/main.ts"), Some(7), Some(17)));
    assert!(view.field("stack").is_some_and(|s| s.contains("src/main.ts:7:17")), "{:?}", view.field("stack"));
    assert_eq!(kept.parses(), 1);
}
