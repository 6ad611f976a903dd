//! Unit tests of the telemetry endpoint (`telemetry.rs`): what a batch
//! becomes, what is refused, capped, rate-limited and counted.
use std::time::Duration;

use super::*;

fn body(events: &str) -> Vec<u8> {
    format!("{{\"v\":1,\"events\":[{events}]}}").into_bytes()
}

const PAGE: &str = "http://127.0.0.1:20888/?x=1";

#[test]
fn a_batch_of_every_kind_becomes_reports() {
    let mut t = Telemetry::new();
    let b = body(&format!(
        r#"{{"kind":"error","page":"{PAGE}","message":"Uncaught TypeError: boom","stack":"TypeError: boom\n    at f (http://h/app.js:3:9)","url":"http://h/app.js","line":3,"col":9}},
        {{"kind":"rejection","page":"{PAGE}","message":"Unhandled rejection: Error: no","stack":"Error: no\n    at g (http://h/app.js:8:11)"}},
        {{"kind":"fetch","page":"{PAGE}","message":"fetch GET /api/x failed: 503 Service Unavailable","stack":"Error\n    at window.fetch (http://h/__brum__/t.js:40:1)\n    at load (http://h/app.js:20:5)"}},
        {{"kind":"console","page":"{PAGE}","level":"error","message":"bad"}},
        {{"kind":"page","page":"{PAGE}","title":"Demo","load_ms":312}}"#
    ));
    let r = t.accept(&b, Instant::now()).expect("valid batch");
    assert_eq!(r.len(), 5);
    assert_eq!(
        r[0],
        Report::Error {
            kind: ErrorKind::Exception,
            message: "Uncaught TypeError: boom".into(),
            stack: "TypeError: boom\n    at f (http://h/app.js:3:9)".into(),
            url: Some("http://h/app.js".into()),
            line: Some(3),
            col: Some(9),
            page: PAGE.into(),
        }
    );
    // no location given: the stack's first frame
    let Report::Error { kind, url, line, col, .. } = &r[1] else { panic!("{:?}", r[1]) };
    assert_eq!(
        (*kind, url.as_deref(), *line, *col),
        (ErrorKind::Rejection, Some("http://h/app.js"), Some(8), Some(11))
    );
    // brum's own frames: not the location, not in the stack
    let Report::Error { kind, url, line, stack, .. } = &r[2] else { panic!("{:?}", r[2]) };
    assert_eq!((*kind, url.as_deref(), *line), (ErrorKind::Fetch, Some("http://h/app.js"), Some(20)));
    assert!(!stack.contains("__brum__"), "{stack}");
    assert_eq!(r[3], Report::Console { level: Level::Error, message: "bad".into(), page: PAGE.into() });
    assert_eq!(r[4], Report::Page { url: PAGE.into(), title: Some("Demo".into()), load_ms: Some(312) });
    assert_eq!(t.dropped(), 0);
}

#[test]
fn bad_bodies_are_refused_whole() {
    let mut t = Telemetry::new();
    let now = Instant::now();
    let big = vec![b' '; MAX_BODY + 1];
    assert_eq!(t.accept(&big, now), Err(Rejected::TooLarge { len: MAX_BODY + 1, max: MAX_BODY }));
    for bad in [
        b"".to_vec(),
        b"not json".to_vec(),
        b"{\"v\":2,\"events\":[]}".to_vec(),
        b"{\"events\":[]}".to_vec(),
        b"{\"v\":1,\"events\":[],\"extra\":1}".to_vec(),
        body(r#"{"kind":"keylogger","page":"p","message":"m"}"#),
        body(r#"{"kind":"error","page":"p","message":"m","cookie":"x"}"#),
        body(r#"{"kind":"console","page":"p","level":"debug","message":"m"}"#),
        body(r#"{"kind":"error","page":"p","message":"m","line":-1}"#),
        body(r#"{"kind":"error","page":"p","message":"m","line":1.5}"#),
        body(r#"{"kind":"page"}"#),
        body(r#"{"page":"p","message":"m"}"#),
        b"{\"v\":1,\"events\":[{\"kind\":\"console\",\"page\":\"p\",\"level\":\"error\",\"message\":\"\xff\"}]}"
            .to_vec(),
    ] {
        let got = t.accept(&bad, now);
        assert!(matches!(got, Err(Rejected::Invalid(_))), "{:?} → {got:?}", String::from_utf8_lossy(&bad));
    }
    assert_eq!(t.dropped(), 0, "refused bodies are answered, not counted as drops");
}

#[test]
fn strings_are_capped_on_a_character_boundary() {
    let mut t = Telemetry::new();
    let long = "é".repeat(MAX_MESSAGE);
    let r = t
        .accept(&body(&format!(r#"{{"kind":"console","page":"p","level":"warn","message":"{long}"}}"#)), Instant::now())
        .expect("valid");
    let Report::Console { message, .. } = &r[0] else { panic!() };
    assert!(message.len() <= MAX_MESSAGE && message.ends_with('…'), "{}", message.len());
}

#[test]
fn rate_limits_drop_and_count_per_page_and_overall() {
    let mut t = Telemetry::new();
    let start = Instant::now();
    let one = |page: &str| format!(r#"{{"kind":"console","page":"{page}","level":"error","message":"m"}}"#);
    let many = |page: &str, n: usize| body(&vec![one(page); n].join(","));
    // a burst of 20 per page; query strings do not make new pages
    let got = t.accept(&many("http://h/a?1", 30), start).expect("valid").len();
    assert_eq!((got, t.dropped()), (20, 10));
    assert_eq!(t.accept(&many("http://h/a?2", 1), start).expect("valid").len(), 0);
    assert_eq!(t.take_dropped(), 11);
    assert_eq!(t.take_dropped(), 0);
    // refilled at 2 a second
    assert_eq!(t.accept(&many("http://h/a", 5), start + Duration::from_secs(1)).expect("valid").len(), 2);
    // over 32 in one body: the rest dropped
    t.accept(&many("http://h/b", 40), start).expect("valid");
    assert_eq!(t.dropped(), 11 + 3 + 8 + 12);
    // overall: many pages cannot pass 100 at once
    let mut total = 0;
    for i in 0..20 {
        total += t.accept(&many(&format!("http://h/p{i}"), 10), start + Duration::from_secs(1)).expect("valid").len();
    }
    assert!(total <= 100, "{total}");
    assert!(t.pages.len() <= MAX_PAGES);
    // the script's own count of what it could not queue
    t.accept(b"{\"v\":1,\"dropped\":7,\"events\":[]}", start).expect("valid");
    assert!(t.take_dropped() >= 7);
}

#[test]
fn pages_tracked_are_bounded() {
    let mut t = Telemetry::new();
    let now = Instant::now();
    for i in 0..(MAX_PAGES * 3) {
        let b = body(&format!(r#"{{"kind":"page","page":"http://h/{i}"}}"#));
        t.accept(&b, now + Duration::from_secs(i as u64)).expect("valid");
    }
    assert_eq!(t.pages.len(), MAX_PAGES);
}

#[test]
fn the_script_is_small_and_posts_to_the_beacon_path() {
    let js = std::str::from_utf8(script()).expect("utf-8");
    assert!(js.len() < 8 * 1024, "{} bytes", js.len());
    assert!(js.contains(BEACON_PATH));
    assert!(js.contains("sendBeacon"));
}
