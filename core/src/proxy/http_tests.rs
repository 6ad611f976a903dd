//! Unit tests of the proxy's head parsing and rewriting (`http.rs`).
use super::*;

fn req(text: &str) -> Result<Option<(String, Request<'_>)>, Refusal> {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let r = parse_request(text.as_bytes(), &mut hs)?;
    Ok(r.map(|r| {
        let mut out = Vec::new();
        let fwd =
            Forward { client_ip: "127.0.0.1".parse().expect("ip"), upstream_host: "localhost:5173", identity: false };
        write_request(&mut out, &r, &hs[..r.headers], &fwd);
        (String::from_utf8(out).expect("utf-8"), r)
    }))
}

fn refused(text: &str) -> u16 {
    match req(text) {
        Err(r) => r.status,
        Ok(x) => panic!("accepted {text:?}: {:?}", x.map(|(h, _)| h)),
    }
}

#[test]
fn a_get_is_forwarded_with_forwarding_headers_and_without_hop_by_hop_ones() {
    let (head, r) = req("GET /src/App.tsx?t=1 HTTP/1.1\r\nHost: 127.0.0.1:20888\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nAccept: */*\r\n\r\n")
        .expect("valid")
        .expect("complete");
    assert_eq!(
        head,
        "GET /src/App.tsx?t=1 HTTP/1.1\r\nHost: 127.0.0.1:20888\r\nAccept: */*\r\nX-Forwarded-For: 127.0.0.1\r\n\
         X-Forwarded-Host: 127.0.0.1:20888\r\nX-Forwarded-Proto: http\r\n\r\n"
    );
    assert!(r.keep_alive && !r.upgrade);
    assert_eq!(r.framing, Framing::Length(0));
}

#[test]
fn a_websocket_upgrade_keeps_its_upgrade_headers() {
    let (head, r) = req(
        "GET /hmr HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n",
    )
    .expect("valid")
    .expect("complete");
    assert!(r.upgrade);
    assert!(head.contains("Upgrade: websocket\r\n") && head.ends_with("Connection: Upgrade\r\n\r\n"), "{head}");
}

#[test]
fn http_1_0_without_host_gets_the_dev_servers() {
    let (head, r) = req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").expect("valid").expect("complete");
    assert!(r.keep_alive);
    assert!(head.starts_with("GET / HTTP/1.0\r\nHost: localhost:5173\r\n"), "{head}");
    assert!(head.ends_with("Connection: keep-alive\r\n\r\n"), "{head}");
    let (_, r) = req("GET / HTTP/1.0\r\n\r\n").expect("valid").expect("complete");
    assert!(!r.keep_alive, "HTTP/1.0 closes by default");
}

#[test]
fn bodies_are_framed_by_length_or_chunks() {
    let (_, r) = req("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n").expect("valid").expect("complete");
    assert_eq!(r.framing, Framing::Length(12));
    let (_, r) = req("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
        .expect("valid")
        .expect("complete");
    assert!(matches!(r.framing, Framing::Chunked(_)));
    let (_, r) = req("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n")
        .expect("same length twice is one length")
        .expect("complete");
    assert_eq!(r.framing, Framing::Length(3));
}

#[test]
fn ambiguous_or_malformed_requests_are_refused() {
    assert!(req("GET / HTTP/1.1\r\nHost: a\r\n").expect("partial is fine").is_none());
    assert_eq!(refused("GET / HTTP/1.1\r\n\r\n"), 400);
    assert_eq!(refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    assert_eq!(refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
    assert_eq!(refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400);
    assert_eq!(refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
    assert_eq!(refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"), 400);
    assert_eq!(refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
    assert_eq!(refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), 400);
    assert_eq!(refused("GET nopath HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    assert_eq!(refused("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"), 501);
    assert_eq!(refused("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
    assert_eq!(refused("\x16\x03\x01\x02\x00\x01\x00\x01\x03\x03 x"), 400);
    assert_eq!(refused("GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n"), 400);
    let many: String = (0..MAX_HEADERS + 1).map(|i| format!("X-{i}: v\r\n")).collect();
    assert_eq!(refused(&format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n")), 431);
}

#[test]
fn absolute_form_targets_become_paths() {
    let (head, _) =
        req("GET http://localhost:5173/a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n").expect("valid").expect("complete");
    assert!(head.starts_with("GET /a?b=1 HTTP/1.1\r\n"), "{head}");
    let (head, _) = req("GET http://localhost:5173 HTTP/1.1\r\nHost: x\r\n\r\n").expect("valid").expect("complete");
    assert!(head.starts_with("GET / HTTP/1.1\r\n"), "{head}");
    let (head, _) = req("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").expect("valid").expect("complete");
    assert!(head.starts_with("OPTIONS * HTTP/1.1\r\n"), "{head}");
}

#[test]
fn an_existing_forwarded_host_and_proto_are_kept_and_identity_asked() {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let text = b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 10.0.0.1\r\nAccept-Encoding: gzip, br\r\n\r\n";
    let r = parse_request(text, &mut hs).expect("valid").expect("complete");
    let mut out = Vec::new();
    let fwd = Forward { client_ip: "::1".parse().expect("ip"), upstream_host: "localhost:1", identity: true };
    write_request(&mut out, &r, &hs[..r.headers], &fwd);
    let head = String::from_utf8(out).expect("utf-8");
    assert_eq!(
        head,
        "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: ::1\r\n\
         X-Forwarded-Host: a\r\nAccept-Encoding: identity\r\n\r\n"
    );
}

fn resp(text: &str, head_request: bool) -> Result<Option<(Response<'_>, Vec<httparse::Header<'_>>)>, &'static str> {
    let hs = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
    // the headers outlive the parse: leak the array for the test's short life
    let hs: &'static mut [httparse::Header<'static>] = Box::leak(hs.into_boxed_slice());
    let text: &'static str = Box::leak(text.to_string().into_boxed_str());
    let r = parse_response(text.as_bytes(), hs, head_request)?;
    Ok(r.map(|r| {
        let n = r.headers;
        (r, hs[..n].to_vec())
    }))
}

#[test]
fn response_framing_follows_rfc_9112() {
    let framing = |t: &str, head: bool| resp(t, head).expect("valid").expect("complete").0.framing;
    assert_eq!(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false), Framing::Length(5));
    assert_eq!(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true), Framing::Length(0));
    assert_eq!(framing("HTTP/1.1 204 No Content\r\n\r\n", false), Framing::Length(0));
    assert_eq!(framing("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false), Framing::Length(0));
    assert!(matches!(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false), Framing::Chunked(_)));
    assert_eq!(framing("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n", false), Framing::UntilClose);
    let (r, _) = resp("HTTP/1.1 200 OK\r\n\r\n", false).expect("valid").expect("complete");
    assert!(r.close, "a body until close closes the connection");
    let (r, _) = resp("HTTP/1.1 100 Continue\r\n\r\n", false).expect("valid").expect("complete");
    assert!(r.interim());
    assert!(resp("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
    assert!(resp("nonsense\r\n\r\n", false).is_err());
    assert!(resp("HTTP/1.1 200 OK\r\nContent-Le", false).expect("partial").is_none());
}

#[test]
fn response_heads_say_what_brum_does_with_the_connection() {
    let (r, hs) = resp("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\nX-A: 1\r\n\r\n", false)
        .expect("ok")
        .expect("c");
    let mut out = Vec::new();
    write_response(&mut out, &r, &hs, false, false, 0);
    assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\n", "the client's connection stays");
    out.clear();
    write_response(&mut out, &r, &hs, true, false, 31);
    assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Length: 36\r\nX-A: 1\r\nConnection: close\r\n\r\n");
    let (r, hs) = resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false)
        .expect("ok")
        .expect("c");
    out.clear();
    write_response(&mut out, &r, &hs, false, false, 0);
    assert_eq!(out, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
}

#[test]
fn local_answers_are_complete_responses() {
    let mut out = Vec::new();
    write_local(&mut out, 400, "text/plain; charset=utf-8", b"bad\n", true);
    assert_eq!(
        out,
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n\
          Cache-Control: no-store\r\nConnection: close\r\n\r\nbad\n"
    );
}
