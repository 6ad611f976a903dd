//! Goldens and unit tests of the NDJSON encoder (`json.rs`).
use super::*;
use crate::events::BrowserFrame;
use crate::events::EndState;
use crate::events::SummaryRow;
use crate::store::Stream;

fn enc(ev: &Event<'_>) -> String {
    let mut out = Vec::new();
    encode(&mut out, &mut Timestamps::new(), 7, 1_795_704_462_007, ev);
    String::from_utf8(out).expect("json is utf-8")
}

const WEB: ProcRef<'static> = ProcRef { name: "web", index: 0 };
const GOLDEN_DAEMON_STARTED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"daemon.started","pid":1,"version":"0.1.0","schema":1,"cwd":"/src/app","processes":["web","api"]}"#;
const GOLDEN_STARTED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"process.started","process":"web","pid":9,"command":"npm run dev","restart":1,"run":2}"#;
const GOLDEN_RESTARTING: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"process.restarting","process":"web","attempt":3,"delay_ms":400}"#;
const GOLDEN_DROPPED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"log.dropped","process":"web","count":5,"total":9,"reason":"ring_evicted"}"#;
const GOLDEN_STOPPING: &str =
    r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"daemon.stopping","reason":"SIGTERM"}"#;
const GOLDEN_STOPPED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"daemon.stopped","exit_code":130}"#;
const GOLDEN_ERROR: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"error.detected","process":"web","plugin":"errors","kind":"error","severity":"error","message":"Type 'number' is not assignable to type 'string'.","fingerprint":"0000000000abcdef","count":2,"id":4,"file":"src/App.tsx","line":9,"column":7,"code":"TS2322","language":"typescript","first_seq":3,"last_seq":4}"#;
const GOLDEN_URL: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"url.detected","process":"web","plugin":"urls","url":"http://localhost:5173/","label":"Local","first_seq":3,"last_seq":4,"fields":{"label":"Local"}}"#;
const GOLDEN_BUILD: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"build.event","process":"web","plugin":"errors","status":"failure","message":"Found 2 errors.","first_seq":3,"last_seq":4,"fields":{"status":"failure","report":"full"}}"#;
const GOLDEN_TEST: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"test.failed","process":"web","plugin":"errors","passed":3,"failed":1,"skipped":0,"message":"Tests: 1 failed, 3 passed","first_seq":3,"last_seq":4,"fields":{"passed":"3","failed":"1"}}"#;
const GOLDEN_FINDING: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"finding","process":"web","plugin":"todo","kind":"todo","severity":"info","message":"TODO: x","first_seq":3,"last_seq":4}"#;
const GOLDEN_FINDING_COUNTED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"finding","process":"web","plugin":"slow","kind":"slow-request","severity":"warning","message":"GET /api took 2300 ms","fingerprint":"0000000000000012","count":3,"id":5,"first_seq":3,"last_seq":4}"#;
const GOLDEN_RESOLVED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"error.resolved","process":"web","id":4,"fingerprint":"0000000000abcdef","reason":"rebuilt clean"}"#;
const GOLDEN_PLUGIN_LOADED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"plugin.loaded","plugin":"errors","version":"0.2.0","source":"builtin:errors","filter":false,"cached":true,"load_ms":6}"#;
const GOLDEN_PLUGIN_FAILED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"plugin.failed","plugin":"x","reason":"trap","action":"restarting","failures":2,"retry_ms":200}"#;
const GOLDEN_PLUGIN_LOG: &str =
    r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"plugin.log","plugin":"x","text":"hello"}"#;
const GOLDEN_PLUGIN_SKIPPED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"plugin.skipped","plugin":"slow","count":12,"given":4096,"reason":"ring_evicted"}"#;
const GOLDEN_CONFIG_ERROR: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"config.error","file":"brum.toml","line":7,"column":1,"key":"plugin.slow-requets","message":"no plugin is named `slow-requets`"}"#;
const GOLDEN_OUTPUT_FAILED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"output.failed","error":"No space left on device (os error 28)"}"#;
const GOLDEN_CLIENT_DROPPED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"client.dropped","reason":"outbox_full","queued_bytes":8388608}"#;
const GOLDEN_SUMMARY: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"run.summary","exit_code":1,"processes":[{"process":"web","state":"failed","code":1,"signal":null,"duration_ms":2500,"restarts":1,"errors":2,"warnings":0,"browser_errors":1,"ready_ms":12,"errors_open":1,"warnings_open":0,"resolved":1,"tests_passed":3,"tests_failed":1,"urls":["http://localhost:5173/"]}]}"#;
const GOLDEN_ORPHANS: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"process.orphans_killed","process":"web","pgid":4242,"signal":"SIGKILL"}"#;
const GOLDEN_READY: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"process.ready","process":"web","probe":"tcp","after_ms":1200,"run":1}"#;
const GOLDEN_UNREADY: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"process.unready","process":"web","probe":"http","reason":"not ready after 60.0s","waited_ms":60000}"#;
const GOLDEN_UNHEALTHY: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"process.unhealthy","process":"web","probe":"http","failures":3}"#;
const GOLDEN_BLOCKED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"process.blocked","process":"web","dependency":"db","reason":"ended without being ready"}"#;
const GOLDEN_PROXY_STARTED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"proxy.started","process":"web","url":"http://localhost:5173/","proxy_url":"http://127.0.0.1:20888/"}"#;
const GOLDEN_PROXY_SKIPPED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"proxy.skipped","process":"web","url":"https://localhost:5173/","reason":"https: no certificate"}"#;
const GOLDEN_PROXY_INJECT_SKIPPED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"proxy.inject_skipped","process":"web","path":"/admin","reason":"the page's Content-Security-Policy does not allow a same-origin script"}"#;
const GOLDEN_PROXY_SOURCE_MAP: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"proxy.source_map","process":"web","script":"/assets/app.js","map":"/assets/app.js.map","bytes":4096}"#;
const GOLDEN_PROXY_SOURCE_MAP_FAILED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"proxy.source_map","process":"web","script":"/assets/app.js","map":"/assets/app.js.map","bytes":0,"error":"the dev server answered 404"}"#;
const GOLDEN_PROXY_REQUEST: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"proxy.request","process":"web","method":"GET","path":"/src/App.tsx?t=1","status":200,"duration_ms":1.042,"bytes_in":412,"bytes_out":5120,"upgrade":false}"#;
const GOLDEN_PROXY_REQUEST_FAILED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"proxy.request","process":"web","method":"GET","path":"/","status":502,"duration_ms":0.090,"bytes_in":80,"bytes_out":900,"upgrade":false,"error":"connection refused"}"#;
const GOLDEN_PROXY_ERROR: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"error.detected","process":"web","plugin":"proxy","kind":"error","severity":"error","message":"GET / → 502: connection refused","fingerprint":"0000000000abcdef","count":1,"id":5,"source":"proxy","code":"502","first_seq":6,"last_seq":6,"fields":{"source":"proxy","method":"GET","path":"/","status":"502"}}"#;
const GOLDEN_BROWSER_ERROR: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"browser.error","process":"web","kind":"exception","page":"http://127.0.0.1:20888/","message":"Uncaught TypeError: x is undefined","stack":"TypeError: x is undefined\n    at boom (http://127.0.0.1:20888/src/App.tsx?t=1:12:5)","file":"src/App.tsx","line":12,"col":5,"frames":[{"file":"src/App.tsx","line":12,"col":5,"served":"http://127.0.0.1:20888/src/App.tsx?t=1:12:5"}]}"#;
const GOLDEN_BROWSER_ERROR_UNLOCATED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"browser.error","process":"web","kind":"fetch","page":"http://127.0.0.1:20888/","message":"fetch GET /api failed: TypeError: Failed to fetch","stack":"","file":null,"line":null,"col":null,"frames":[]}"#;
const GOLDEN_BROWSER_CONSOLE: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"browser.console","process":"web","level":"warn","message":"careful","page":"http://127.0.0.1:20888/"}"#;
const GOLDEN_BROWSER_PAGE: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"browser.page","process":"web","url":"http://127.0.0.1:20888/","title":"Demo","load_ms":312}"#;
const GOLDEN_BROWSER_FINDING: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"error.detected","process":"web","plugin":"browser","kind":"error","severity":"error","message":"Uncaught TypeError: x is undefined","fingerprint":"0000000000abcdef","count":1,"id":5,"source":"browser","file":"src/App.tsx","line":12,"column":5,"language":"javascript","first_seq":6,"last_seq":6,"fields":{"source":"browser","page":"http://127.0.0.1:20888/","cause":"exception"}}"#;
const GOLDEN_GAVE_UP: &str =
    r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"process.gave_up","process":"web","restarts":5}"#;

#[test]
fn integers_are_written_in_decimal() {
    let mut cases = vec![0u64, 9, 10, 99, 100, 101, 999, 1000, 12_345, u64::MAX];
    cases.extend((0..20).map(|k| 10u64.pow(k)));
    cases.extend((1..20).map(|k| 10u64.pow(k) - 1));
    for v in cases {
        let mut out = Vec::new();
        push_u64(&mut out, v);
        assert_eq!(out, v.to_string().as_bytes());
        // after what is already there, which stays
        let mut out = b"{\"seq\":".to_vec();
        push_u64(&mut out, v);
        assert_eq!(out, format!("{{\"seq\":{v}").as_bytes());
    }
    let mut out = Vec::new();
    push_i64(&mut out, i64::MIN);
    assert_eq!(out, i64::MIN.to_string().as_bytes());
}

#[test]
fn every_special_byte_at_every_word_offset_round_trips() {
    // the 8-bytes-at-a-time scan must stop at a special byte wherever
    // it sits in a word, and a line with none must come out as it is
    let specials: &[&[u8]] =
        &[b"\"", b"\\", b"\n", b"\x00", b"\x1f", b"\x7f", "é".as_bytes(), "€".as_bytes(), "😀".as_bytes()];
    for len in 0..24 {
        for at in 0..=len {
            for sp in specials {
                let mut line = vec![b'a'; len];
                line.splice(at..at, sp.iter().copied());
                let mut out = Vec::new();
                push_line_content(&mut out, &line);
                let v: serde_json::Value =
                    serde_json::from_slice(&[b"{\"x\":1".as_slice(), &out, b"}"].concat()).expect("valid JSON");
                assert_eq!(v["text"].as_str().map(str::as_bytes), Some(line.as_slice()), "{line:?}");
            }
            let plain = vec![b'z'; len];
            let mut out = Vec::new();
            push_line_content(&mut out, &plain);
            assert_eq!(out, [b",\"text\":\"".as_slice(), &plain, b"\""].concat());
        }
    }
    let mut out = Vec::new();
    push_line_content(&mut out, b"abcdefgh\xffijklmnop");
    assert!(out.starts_with(b",\"bytes\":\""), "{}", String::from_utf8_lossy(&out));
}

#[test]
fn golden_log_line() {
    let ev = Event::LogLine {
        process: WEB,
        stream: Stream::Stderr,
        line: b"say \"hi\"\t\x01\\",
        truncated: false,
        boost: false,
        tag: None,
    };
    assert_eq!(
        enc(&ev),
        "{\"seq\":7,\"ts\":\"2026-11-26T14:47:42.007Z\",\"type\":\"log.line\",\"process\":\"web\",\"stream\":\"stderr\",\"text\":\"say \\\"hi\\\"\\t\\u0001\\\\\"}\n"
    );
}

#[test]
fn golden_non_utf8_line_is_base64_and_truncation_flagged() {
    let ev = Event::LogLine {
        process: WEB,
        stream: Stream::Stdout,
        line: b"\xff\xfeok",
        truncated: true,
        boost: false,
        tag: None,
    };
    assert_eq!(
        enc(&ev),
        "{\"seq\":7,\"ts\":\"2026-11-26T14:47:42.007Z\",\"type\":\"log.line\",\"process\":\"web\",\"stream\":\"stdout\",\"bytes\":\"//5vaw==\",\"truncated\":true}\n"
    );
}

#[test]
fn golden_exited() {
    let ev = Event::ProcessExited {
        process: WEB,
        pid: Some(42),
        code: None,
        signal: Some(libc::SIGKILL),
        duration_ms: 1500,
        state: EndState::Stopped,
        error: None,
        run: 2,
    };
    assert_eq!(
        enc(&ev),
        "{\"seq\":7,\"ts\":\"2026-11-26T14:47:42.007Z\",\"type\":\"process.exited\",\"process\":\"web\",\"pid\":42,\"code\":null,\"signal\":\"SIGKILL\",\"duration_ms\":1500,\"state\":\"stopped\",\"run\":2}\n"
    );
}

/// One golden per event kind: the wire format is a contract
/// (docs/events.md); a change here is a schema change.
#[test]
fn golden_every_event_kind() {
    let procs = ["web", "api"];
    let fields = vec![("status".to_string(), "failure".to_string()), ("report".to_string(), "full".to_string())];
    let base = FindingView::new("build", "error", "Found 2 errors.", (3, 4), &fields);
    let error = FindingView {
        kind: "error",
        message: "Type 'number' is not assignable to type 'string'.",
        file: Some("src/App.tsx"),
        line: Some(9),
        column: Some(7),
        code: Some("TS2322"),
        language: Some("typescript"),
        fields: &[],
        fingerprint: 0xabcdef,
        count: 2,
        id: 4,
        ..base
    };
    let label = vec![("label".to_string(), "Local".to_string())];
    let url = FindingView {
        kind: "url",
        severity: "info",
        message: "Local: http://localhost:5173/",
        url: Some("http://localhost:5173/"),
        fields: &label,
        ..base
    };
    let counts = vec![("passed".to_string(), "3".to_string()), ("failed".to_string(), "1".to_string())];
    let test = FindingView { kind: "test", message: "Tests: 1 failed, 3 passed", fields: &counts, ..base };
    let todo = FindingView {
        kind: "custom",
        custom_kind: Some("todo"),
        severity: "info",
        message: "TODO: x",
        fields: &[],
        ..base
    };
    let browser_fields = vec![
        ("source".to_string(), "browser".to_string()),
        ("page".to_string(), "http://127.0.0.1:20888/".to_string()),
        ("cause".to_string(), "exception".to_string()),
    ];
    let browser = FindingView {
        kind: "error",
        message: "Uncaught TypeError: x is undefined",
        first_seq: 6,
        last_seq: 6,
        file: Some("src/App.tsx"),
        line: Some(12),
        column: Some(5),
        language: Some("javascript"),
        fields: &browser_fields,
        fingerprint: 0xabcdef,
        count: 1,
        id: 5,
        ..base
    };
    let slow = FindingView {
        custom_kind: Some("slow-request"),
        severity: "warning",
        message: "GET /api took 2300 ms",
        fingerprint: 0x12,
        count: 3,
        id: 5,
        ..todo
    };
    let proxy_fields = vec![
        ("source".to_string(), "proxy".to_string()),
        ("method".into(), "GET".into()),
        ("path".into(), "/".into()),
        ("status".into(), "502".into()),
    ];
    let proxy_error = FindingView {
        kind: "error",
        message: "GET / → 502: connection refused",
        code: Some("502"),
        first_seq: 6,
        last_seq: 6,
        fields: &proxy_fields,
        fingerprint: 0xabcdef,
        count: 1,
        id: 5,
        ..base
    };
    let urls = vec!["http://localhost:5173/".to_string()];
    let rows = [SummaryRow {
        process: WEB,
        state: "failed",
        code: Some(1),
        signal: None,
        duration_ms: 2500,
        restarts: 1,
        errors: 2,
        warnings: 0,
        browser_errors: 1,
        ready_ms: Some(12),
        errors_open: 1,
        warnings_open: 0,
        resolved: 1,
        tests_passed: 3,
        tests_failed: 1,
        urls: &urls,
    }];
    let frames = [BrowserFrame {
        file: "src/App.tsx".into(),
        line: 12,
        col: 5,
        served: "http://127.0.0.1:20888/src/App.tsx?t=1:12:5".into(),
    }];
    let cases: Vec<(Event<'_>, &str)> = vec![
        (Event::DaemonStarted { pid: 1, cwd: "/src/app", processes: &procs }, GOLDEN_DAEMON_STARTED),
        (Event::ProcessStarted { process: WEB, pid: 9, command: "npm run dev", restart: 1, run: 2 }, GOLDEN_STARTED),
        (Event::ProcessRestarting { process: WEB, attempt: 3, delay_ms: 400 }, GOLDEN_RESTARTING),
        (Event::LogDropped { process: Some(WEB), count: 5, total: 9, reason: "ring_evicted" }, GOLDEN_DROPPED),
        (Event::DaemonStopping { reason: "SIGTERM" }, GOLDEN_STOPPING),
        (Event::DaemonStopped { exit_code: 130 }, GOLDEN_STOPPED),
        (Event::Finding { process: WEB, plugin: "errors", finding: &error }, GOLDEN_ERROR),
        (Event::Finding { process: WEB, plugin: "urls", finding: &url }, GOLDEN_URL),
        (Event::Finding { process: WEB, plugin: "errors", finding: &base }, GOLDEN_BUILD),
        (Event::Finding { process: WEB, plugin: "errors", finding: &test }, GOLDEN_TEST),
        (Event::Finding { process: WEB, plugin: "todo", finding: &todo }, GOLDEN_FINDING),
        (Event::Finding { process: WEB, plugin: "slow", finding: &slow }, GOLDEN_FINDING_COUNTED),
        (Event::ErrorResolved { process: WEB, id: 4, fingerprint: 0xabcdef, reason: "rebuilt clean" }, GOLDEN_RESOLVED),
        (
            Event::PluginLoaded {
                plugin: "errors",
                version: "0.2.0",
                source: "builtin:errors",
                filter: false,
                cached: true,
                load_ms: 6,
            },
            GOLDEN_PLUGIN_LOADED,
        ),
        (
            Event::PluginFailed { plugin: "x", reason: "trap", action: "restarting", failures: 2, retry_ms: 200 },
            GOLDEN_PLUGIN_FAILED,
        ),
        (Event::PluginLog { plugin: "x", text: "hello" }, GOLDEN_PLUGIN_LOG),
        (
            Event::PluginSkipped { plugin: "slow", count: 12, given: 4096, reason: "ring_evicted" },
            GOLDEN_PLUGIN_SKIPPED,
        ),
        (
            Event::ConfigError {
                file: "brum.toml",
                line: Some(7),
                column: Some(1),
                key: Some("plugin.slow-requets"),
                message: "no plugin is named `slow-requets`",
            },
            GOLDEN_CONFIG_ERROR,
        ),
        (Event::OutputFailed { error: "No space left on device (os error 28)" }, GOLDEN_OUTPUT_FAILED),
        (Event::ClientDropped { queued_bytes: 8388608, reason: "outbox_full" }, GOLDEN_CLIENT_DROPPED),
        (Event::RunSummary { rows: &rows, exit_code: 1 }, GOLDEN_SUMMARY),
        (Event::OrphansKilled { process: "web", pgid: 4242, signal: libc::SIGKILL }, GOLDEN_ORPHANS),
        (Event::ProcessReady { process: WEB, probe: "tcp", after_ms: 1200, run: 1 }, GOLDEN_READY),
        (
            Event::ProcessUnready { process: WEB, probe: "http", reason: "not ready after 60.0s", waited_ms: 60000 },
            GOLDEN_UNREADY,
        ),
        (Event::ProcessUnhealthy { process: WEB, probe: "http", failures: 3 }, GOLDEN_UNHEALTHY),
        (Event::ProcessBlocked { process: WEB, dependency: "db", reason: "ended without being ready" }, GOLDEN_BLOCKED),
        (Event::ProcessGaveUp { process: WEB, restarts: 5 }, GOLDEN_GAVE_UP),
        (
            Event::ProxyStarted { process: WEB, url: "http://localhost:5173/", proxy_url: "http://127.0.0.1:20888/" },
            GOLDEN_PROXY_STARTED,
        ),
        (
            Event::ProxySkipped { process: WEB, url: "https://localhost:5173/", reason: "https: no certificate" },
            GOLDEN_PROXY_SKIPPED,
        ),
        (
            Event::ProxyRequest {
                process: WEB,
                method: "GET",
                path: "/src/App.tsx?t=1",
                status: 200,
                duration_us: 1042,
                bytes_in: 412,
                bytes_out: 5120,
                upgrade: false,
                error: None,
            },
            GOLDEN_PROXY_REQUEST,
        ),
        (
            Event::ProxyRequest {
                process: WEB,
                method: "GET",
                path: "/",
                status: 502,
                duration_us: 90,
                bytes_in: 80,
                bytes_out: 900,
                upgrade: false,
                error: Some("connection refused"),
            },
            GOLDEN_PROXY_REQUEST_FAILED,
        ),
        (Event::Finding { process: WEB, plugin: "proxy", finding: &proxy_error }, GOLDEN_PROXY_ERROR),
        (
            Event::ProxyInjectSkipped {
                process: WEB,
                path: "/admin",
                reason: "the page's Content-Security-Policy does not allow a same-origin script",
            },
            GOLDEN_PROXY_INJECT_SKIPPED,
        ),
        (
            Event::ProxySourceMap {
                process: WEB,
                script: "/assets/app.js",
                map: "/assets/app.js.map",
                bytes: 4096,
                error: None,
            },
            GOLDEN_PROXY_SOURCE_MAP,
        ),
        (
            Event::ProxySourceMap {
                process: WEB,
                script: "/assets/app.js",
                map: "/assets/app.js.map",
                bytes: 0,
                error: Some("the dev server answered 404"),
            },
            GOLDEN_PROXY_SOURCE_MAP_FAILED,
        ),
        (
            Event::BrowserError {
                process: WEB,
                kind: "exception",
                page: "http://127.0.0.1:20888/",
                message: "Uncaught TypeError: x is undefined",
                stack: "TypeError: x is undefined\n    at boom (http://127.0.0.1:20888/src/App.tsx?t=1:12:5)",
                file: Some("src/App.tsx"),
                line: Some(12),
                col: Some(5),
                frames: &frames,
            },
            GOLDEN_BROWSER_ERROR,
        ),
        (
            Event::BrowserError {
                process: WEB,
                kind: "fetch",
                page: "http://127.0.0.1:20888/",
                message: "fetch GET /api failed: TypeError: Failed to fetch",
                stack: "",
                file: None,
                line: None,
                col: None,
                frames: &[],
            },
            GOLDEN_BROWSER_ERROR_UNLOCATED,
        ),
        (
            Event::BrowserConsole { process: WEB, level: "warn", message: "careful", page: "http://127.0.0.1:20888/" },
            GOLDEN_BROWSER_CONSOLE,
        ),
        (
            Event::BrowserPage {
                process: WEB,
                url: "http://127.0.0.1:20888/",
                title: Some("Demo"),
                load_ms: Some(312),
            },
            GOLDEN_BROWSER_PAGE,
        ),
        (Event::Finding { process: WEB, plugin: "browser", finding: &browser }, GOLDEN_BROWSER_FINDING),
    ];
    for (ev, want) in &cases {
        assert_eq!(enc(ev), format!("{want}\n"), "{}", ev.type_name());
    }
}

#[test]
fn every_event_is_valid_json() {
    let procs = ["a", "b\"c"];
    let evs = [
        Event::DaemonStarted { pid: 1, cwd: "/tmp/x y", processes: &procs },
        Event::ProcessStarted { process: WEB, pid: 9, command: "sh -c 'echo \"x\"'", restart: 2, run: 3 },
        Event::ProcessRestarting { process: WEB, attempt: 3, delay_ms: 400 },
        Event::LogDropped { process: None, count: 5, total: 9, reason: "evicted" },
        Event::LogDropped { process: Some(WEB), count: 5, total: 9, reason: "evicted" },
        Event::DaemonStopped { exit_code: -1 },
        Event::DaemonStopping { reason: "SIGTERM" },
        Event::OrphansKilled { process: "web", pgid: 4242, signal: libc::SIGTERM },
        Event::ErrorResolved { process: WEB, id: 3, fingerprint: 0xabc, reason: "rebuilt clean" },
        Event::ProcessReady { process: WEB, probe: "tcp", after_ms: 1200, run: 1 },
        Event::ProcessGaveUp { process: WEB, restarts: 5 },
        Event::ProcessUnready { process: WEB, probe: "http", reason: "timed out", waited_ms: 60000 },
        Event::ProcessUnhealthy { process: WEB, probe: "http", failures: 3 },
        Event::ProcessBlocked { process: WEB, dependency: "db", reason: "db ended without being ready" },
        Event::ProcessExited {
            process: WEB,
            pid: None,
            code: Some(127),
            signal: None,
            duration_ms: 0,
            state: EndState::Failed,
            error: Some("No such file or directory (os error 2)"),
            run: 1,
        },
    ];
    for ev in &evs {
        let s = enc(ev);
        let v: serde_json::Value = serde_json::from_str(&s).expect("valid json");
        assert_eq!(v["type"], ev.type_name());
        assert_eq!(v["seq"], 7);
    }
}

#[test]
fn escaping_round_trips_every_byte() {
    let all: String = (0u8..128).map(char::from).chain("é✓😀".chars()).collect();
    let mut out = Vec::new();
    push_str(&mut out, &all);
    let back: String = serde_json::from_slice(&out).expect("valid json string");
    assert_eq!(back, all);
}

#[test]
fn base64_matches_rfc4648_vectors() {
    for (input, want) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
        let mut out = Vec::new();
        push_base64(&mut out, input.as_bytes());
        assert_eq!(out, want.as_bytes());
    }
}

#[test]
fn the_plain_prefix_stops_at_the_first_byte_that_needs_care_at_every_length_and_place() {
    let naive =
        |b: &[u8]| b.iter().position(|&c| !(0x20..0x80).contains(&c) || c == b'"' || c == b'\\').unwrap_or(b.len());
    for len in 0..80 {
        let clean = vec![b'a'; len];
        assert_eq!(super::plain_prefix(&clean), len);
        assert_eq!(super::plain_prefix_swar(&clean), len);
        for at in 0..len {
            for special in [0u8, b'\n', 0x1f, b'"', b'\\', 0x7f, 0x80, 0xc3, 0xff] {
                let mut b = clean.clone();
                b[at] = special;
                // 0x7f (DEL) is printable for JSON: passes
                let want = naive(&b);
                assert_eq!(super::plain_prefix(&b), want, "len {len} at {at} byte {special:#x}");
                assert_eq!(super::plain_prefix_swar(&b), want, "len {len} at {at} byte {special:#x}");
            }
        }
    }
}
