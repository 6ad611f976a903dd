//! Unit tests of `fetch.rs`: responses in every framing and split, the
//! bounds, and which map URLs are followed.
use super::*;

/// Feeds `wire` in pieces of `step` bytes: the body, or the error.
fn run(wire: &[u8], step: usize) -> Result<Vec<u8>, FetchError> {
    let mut f = Fetch::new();
    for piece in wire.chunks(step.max(1)) {
        if f.feed(piece)? {
            return Ok(f.into_body());
        }
    }
    f.eof()?;
    Ok(f.into_body())
}

const MAP: &[u8] = br#"{"version":3,"sources":["../src/app.ts"],"names":[],"mappings":"AAAA"}"#;

fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut w = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in body.chunks(size) {
        w.extend_from_slice(format!("{:x};ext=1\r\n", part.len()).as_bytes());
        w.extend_from_slice(part);
        w.extend_from_slice(b"\r\n");
    }
    w.extend_from_slice(b"0\r\nX-Trailer: y\r\n\r\n");
    w
}

#[test]
fn a_map_arrives_with_a_length_chunked_or_until_close_under_every_split() {
    let mut length = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", MAP.len()).into_bytes();
    length.extend_from_slice(MAP);
    length.extend_from_slice(b"ignored: the connection closes");
    let mut until_close = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n".to_vec();
    until_close.extend_from_slice(MAP);
    let mut interim = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
    interim.extend_from_slice(&length);
    for wire in [length, chunked(MAP, 7), until_close, interim] {
        for step in 1..=wire.len() {
            assert_eq!(run(&wire, step).as_deref(), Ok(MAP), "step {step}: {}", String::from_utf8_lossy(&wire));
        }
    }
}

#[test]
fn what_is_not_a_map_worth_keeping_is_refused() {
    let e = |wire: &[u8]| run(wire, 1 << 20).expect_err("refused");
    assert_eq!(e(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"), FetchError::Status(404));
    let huge = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", MAX_MAP + 1);
    assert_eq!(e(huge.as_bytes()), FetchError::TooLarge, "said up front: refused before the body");
    let big = vec![b' '; MAX_MAP + 1];
    assert_eq!(run(&chunked(&big, 1 << 16), 1 << 16), Err(FetchError::TooLarge));
    let mut endless = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
    endless.extend_from_slice(&big);
    assert_eq!(run(&endless, 1 << 16), Err(FetchError::TooLarge));
    assert_eq!(
        e(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\nxx"),
        FetchError::Compressed("gzip".into())
    );
    assert_eq!(e(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{}"), FetchError::Closed);
    assert!(matches!(e(b"SSH-2.0-OpenSSH\r\n\r\n"), FetchError::Malformed(_)));
    let mut long_head = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    long_head.extend_from_slice(&vec![b'a'; 20 << 10]);
    assert!(matches!(e(&long_head), FetchError::Malformed(_)));
    assert!(matches!(e(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), FetchError::Malformed(_)));
}

#[test]
fn the_request_is_a_plain_get_that_closes() {
    let mut out = Vec::new();
    request(&mut out, "/assets/app.js.map", "localhost:5173");
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut headers);
    assert_eq!(req.parse(&out), Ok(httparse::Status::Complete(out.len())));
    assert_eq!((req.method, req.path), (Some("GET"), Some("/assets/app.js.map")));
    assert_eq!(http::find(req.headers, "host"), Some(&b"localhost:5173"[..]));
    assert_eq!(http::find(req.headers, "connection"), Some(&b"close"[..]));
    assert_eq!(http::find(req.headers, "accept-encoding"), Some(&b"identity"[..]));
}

#[test]
fn only_maps_on_the_scripts_own_origin_are_followed() {
    let o = ["localhost:5173", "127.0.0.1:20888"];
    let m = |script: &str, url: &str| map_path(script, url, &o);
    assert_eq!(m("/assets/app.js?v=3", "app.js.map").as_deref(), Some("/assets/app.js.map"));
    assert_eq!(m("/assets/app.js", "./maps/../app.js.map?h=1#x").as_deref(), Some("/assets/app.js.map?h=1"));
    assert_eq!(m("/assets/app.js", "../app.js.map").as_deref(), Some("/app.js.map"));
    assert_eq!(m("/app.js", "/maps/app.js.map").as_deref(), Some("/maps/app.js.map"));
    assert_eq!(m("/app.js", "app.js.map").as_deref(), Some("/app.js.map"));
    assert_eq!(m("/a/app.js", "http://localhost:5173/a/app.js.map").as_deref(), Some("/a/app.js.map"));
    assert_eq!(m("/a/app.js", "//127.0.0.1:20888/a/app.js.map").as_deref(), Some("/a/app.js.map"));
    for not in [
        "http://evil.example/app.js.map",
        "http://localhost:5174/app.js.map",
        "https://localhost:5173/app.js.map",
        "//evil.example/app.js.map",
        "data:application/json,{}",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "../../../x.map",
        "a b.map",
        "\"+u",
        "/__brum__/telemetry",
        "",
    ] {
        assert_eq!(m("/assets/app.js", not), None, "{not:?}");
    }
}

#[test]
fn the_proxys_own_origin_counts_in_every_loopback_spelling_and_no_other_host() {
    let own = proxy_origins(20888);
    let o = ["localhost:5173", own[0].as_str(), own[1].as_str(), own[2].as_str()];
    let m = |url: &str| map_path("/a/app.js", url, &o);
    for url in [
        "http://127.0.0.1:20888/a/app.js.map",
        "http://localhost:20888/a/app.js.map",
        "http://LOCALHOST:20888/a/app.js.map",
        "http://[::1]:20888/a/app.js.map",
        "//[::1]:20888/a/app.js.map",
    ] {
        assert_eq!(m(url).as_deref(), Some("/a/app.js.map"), "{url}");
    }
    for not in [
        "http://[::1]:20889/a/app.js.map",
        "http://localhost:20889/a/app.js.map",
        "http://127.0.0.2:20888/a/app.js.map",
        "http://[::2]:20888/a/app.js.map",
        "http://localhost.evil.example:20888/a/app.js.map",
        "http://0.0.0.0:20888/a/app.js.map",
    ] {
        assert_eq!(m(not), None, "{not}");
    }
}
