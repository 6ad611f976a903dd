use super::*;

fn scan_with(d: &mut UrlDetector, process: u32, seq: u64, line: &[u8]) -> Vec<UrlFound> {
    let mut out = Vec::new();
    d.on_line(&Line { process, pipe: Pipe::Stdout, seq, ts_ms: 0, truncated: false, bytes: line }, &mut out);
    out
}

/// URLs (normal form) and labels found in one line by a fresh detector.
fn scan(line: &str) -> Vec<(String, Option<String>)> {
    scan_bytes(line.as_bytes())
}

fn scan_bytes(line: &[u8]) -> Vec<(String, Option<String>)> {
    let mut d = UrlDetector::new();
    scan_with(&mut d, 1, 1, line).into_iter().map(|u| (u.url, u.label)).collect()
}

fn one(url: &str, label: Option<&str>) -> Vec<(String, Option<String>)> {
    vec![(url.to_owned(), label.map(str::to_owned))]
}

fn none() -> Vec<(String, Option<String>)> {
    Vec::new()
}

// ---- the announcement lines from the brief ----

#[test]
fn vite_local() {
    assert_eq!(scan("  ➜  Local:   http://localhost:5173/"), one("http://localhost:5173/", Some("Local")));
}

#[test]
fn vite_network() {
    assert_eq!(scan("  ➜  Network: http://192.168.1.20:5173/"), one("http://192.168.1.20:5173/", Some("Network")));
}

#[test]
fn listening_on() {
    assert_eq!(scan("listening on http://127.0.0.1:3000"), one("http://127.0.0.1:3000", None));
}

#[test]
fn server_running_at_with_parenthetical() {
    assert_eq!(
        scan("Server running at http://0.0.0.0:8000/ (Press CTRL+C to quit)"),
        one("http://0.0.0.0:8000/", None)
    );
}

#[test]
fn nextjs_local_and_network() {
    assert_eq!(scan("  - Local:        http://localhost:3000"), one("http://localhost:3000", Some("Local")));
    assert_eq!(scan("  - Network:      http://10.0.0.7:3000"), one("http://10.0.0.7:3000", Some("Network")));
}

#[test]
fn webpack_dev_server() {
    assert_eq!(
        scan("webpack-dev-server: Project is running at http://localhost:8080/"),
        one("http://localhost:8080/", None)
    );
    assert_eq!(
        scan("<i> [webpack-dev-server] Loopback: http://localhost:8080/, http://[::1]:8080/"),
        vec![
            ("http://localhost:8080/".to_owned(), Some("Loopback".to_owned())),
            ("http://[::1]:8080/".to_owned(), None),
        ]
    );
    assert_eq!(
        scan("<i> [webpack-dev-server] On Your Network (IPv4): http://192.168.1.20:8080/"),
        one("http://192.168.1.20:8080/", Some("On Your Network (IPv4)"))
    );
    assert_eq!(
        scan("<i> [webpack-dev-server] On Your Network (IPv6): http://[fe80::1]:8080/"),
        one("http://[fe80::1]:8080/", Some("On Your Network (IPv6)"))
    );
}

#[test]
fn uvicorn() {
    assert_eq!(
        scan("INFO:     Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)"),
        one("http://127.0.0.1:8000", None)
    );
}

#[test]
fn flask() {
    assert_eq!(scan(" * Running on http://127.0.0.1:5000"), one("http://127.0.0.1:5000", None));
    assert_eq!(scan(" * Running on all addresses (0.0.0.0)"), none());
}

#[test]
fn websocket_urls() {
    assert_eq!(scan("ws://localhost:24678"), one("ws://localhost:24678", None));
    assert_eq!(scan("hmr on wss://dev.local:443/hmr"), one("wss://dev.local:443/hmr", None));
}

#[test]
fn django() {
    assert_eq!(scan("Starting development server at http://127.0.0.1:8000/"), one("http://127.0.0.1:8000/", None));
    assert_eq!(scan("Quit the server with CONTROL-C."), none());
}

#[test]
fn browsersync_labels() {
    assert_eq!(scan("    External: http://192.168.0.5:3000"), one("http://192.168.0.5:3000", Some("External")));
    assert_eq!(scan(" UI External: http://localhost:3001"), one("http://localhost:3001", Some("UI External")));
}

// ---- real captured vite 8 output (FORCE_COLOR=1, --host) ----

#[test]
fn real_vite_colored_local() {
    let line = b"  \x1b[32m\xe2\x9e\x9c\x1b[39m  \x1b[1mLocal\x1b[22m:   \x1b[36mhttp://localhost:\x1b[1m5199\x1b[22m/\x1b[39m";
    assert_eq!(scan_bytes(line), one("http://localhost:5199/", Some("Local")));
}

#[test]
fn real_vite_colored_network_public_ip_with_port() {
    let line = b"  \x1b[32m\xe2\x9e\x9c\x1b[39m  \x1b[1mNetwork\x1b[22m: \x1b[36mhttp://192.0.2.2:\x1b[1m5199\x1b[22m/\x1b[39m  \x1b[2meth0\x1b[22m";
    assert_eq!(scan_bytes(line), one("http://192.0.2.2:5199/", Some("Network")));
}

#[test]
fn real_vite_plain() {
    assert_eq!(
        scan_bytes("  ➜  Local:   http://localhost:5198/".as_bytes()),
        one("http://localhost:5198/", Some("Local"))
    );
    assert_eq!(scan("  ➜  Network: use --host to expose"), none());
    assert_eq!(scan("  VITE v8.3.8  ready in 114 ms"), none());
}

// ---- ANSI ----

#[test]
fn ansi_inside_url() {
    assert_eq!(scan_bytes(b"http://localhost:\x1b[1m5173\x1b[22m/"), one("http://localhost:5173/", None));
}

#[test]
fn ansi_256_and_truecolor() {
    assert_eq!(
        scan_bytes(b"\x1b[38;5;208mLocal:\x1b[0m \x1b[38;2;1;2;3mhttp://127.0.0.1:4000\x1b[0m"),
        one("http://127.0.0.1:4000", Some("Local"))
    );
}

#[test]
fn osc8_hyperlink_keeps_visible_text_only() {
    let line = b"open \x1b]8;;http://localhost:3000/\x1b\\http://localhost:3000/\x1b]8;;\x1b\\ now";
    assert_eq!(scan_bytes(line), one("http://localhost:3000/", None));
    let bel = b"\x1b]8;;https://vitejs.dev/\x07docs\x1b]8;;\x07 and http://localhost:1/";
    assert_eq!(scan_bytes(bel), one("http://localhost:1/", None));
}

#[test]
fn strip_ansi_variants() {
    let mut buf = Vec::new();
    strip_ansi_into(b"a\x1b[1;31mb\x1b[0mc", &mut buf);
    assert_eq!(buf, b"abc");
    strip_ansi_into(b"a\x1b(Bb\x1b=c", &mut buf);
    assert_eq!(buf, b"abc");
    strip_ansi_into(b"a\x1b]0;title\x07b", &mut buf);
    assert_eq!(buf, b"ab");
    strip_ansi_into(b"ab\x1b[", &mut buf);
    assert_eq!(buf, b"ab");
    strip_ansi_into(b"ab\x1b", &mut buf);
    assert_eq!(buf, b"ab");
    strip_ansi_into(b"ab\x1b]unterminated", &mut buf);
    assert_eq!(buf, b"ab");
    strip_ansi_into(b"plain", &mut buf);
    assert_eq!(buf, b"plain");
}

// ---- trimming / normal form ----

#[test]
fn trailing_punctuation_trimmed() {
    for (line, url) in [
        ("at http://localhost:3000.", "http://localhost:3000"),
        ("at http://localhost:3000/,", "http://localhost:3000/"),
        ("(http://localhost:3000)", "http://localhost:3000"),
        ("[http://localhost:3000/]", "http://localhost:3000/"),
        ("{http://localhost:3000}", "http://localhost:3000"),
        ("'http://localhost:3000'", "http://localhost:3000"),
        ("\"http://localhost:3000\"", "http://localhost:3000"),
        ("<http://localhost:3000>", "http://localhost:3000"),
        ("go to http://localhost:3000/app!", "http://localhost:3000/app"),
        ("url: http://localhost:3000/;", "http://localhost:3000/"),
        ("http://localhost:3000/x?y=1:", "http://localhost:3000/x?y=1"),
        ("`http://localhost:3000`", "http://localhost:3000"),
        ("http://localhost:3000/\r", "http://localhost:3000/"),
        ("http://localhost:3000/\t(ok)", "http://localhost:3000/"),
        ("http://localhost:3000，more", "http://localhost:3000"),
    ] {
        assert_eq!(scan(line), one(url, None), "line {line:?}");
    }
}

#[test]
fn balanced_brackets_kept() {
    assert_eq!(scan("http://localhost:3000/wiki/Foo_(bar)"), one("http://localhost:3000/wiki/Foo_(bar)", None));
    assert_eq!(scan("(see http://[::1]:3000)"), one("http://[::1]:3000", None));
    assert_eq!(scan("[http://[::1]:3000]"), one("http://[::1]:3000", None));
    assert_eq!(scan("http://[::1]"), one("http://[::1]", None));
}

#[test]
fn scheme_and_host_lowercased_path_kept() {
    assert_eq!(scan("HTTP://LocalHost:3000/Admin?Q=A#Frag"), one("http://localhost:3000/Admin?Q=A#Frag", None));
}

#[test]
fn path_query_fragment_and_userinfo_kept() {
    assert_eq!(
        scan("http://user:pw@localhost:5432/db?x=1&y=%20#top"),
        one("http://user:pw@localhost:5432/db?x=1&y=%20#top", None)
    );
    assert_eq!(scan("http://localhost?x=1"), one("http://localhost?x=1", None));
}

#[test]
fn multiple_urls_in_one_line() {
    assert_eq!(
        scan("http://localhost:3000 and ws://127.0.0.1:3001/ws, https://github.com/x"),
        vec![("http://localhost:3000".to_owned(), None), ("ws://127.0.0.1:3001/ws".to_owned(), None),]
    );
}

#[test]
fn https_local() {
    assert_eq!(scan("  ➜  Local:   https://localhost:5173/"), one("https://localhost:5173/", Some("Local")));
}

// ---- host classification ----

#[test]
fn local_hosts_without_port() {
    for url in [
        "http://localhost",
        "http://localhost/",
        "http://127.0.0.1",
        "http://127.5.6.7/app",
        "http://0.0.0.0",
        "http://[::1]/",
        "http://[::]",
        "http://10.1.2.3",
        "http://172.16.0.1",
        "http://172.31.255.254",
        "http://192.168.0.1",
        "http://169.254.1.1",
        "http://100.101.102.103",
        "http://myhost.local",
        "http://app.localhost",
        "http://myapp.test",
        "http://nas.lan",
        "http://svc.internal",
        "http://box.home.arpa",
        "http://[fe80::1%25eth0]/",
        "http://[fd12:3456::1]",
        "http://[::ffff:127.0.0.1]",
        "http://localhost./",
    ] {
        assert_eq!(scan(url), one(url, None), "{url}");
    }
}

#[test]
fn public_hosts_without_port_ignored() {
    for url in [
        "https://nextjs.org/docs/messages/react-hydration-error",
        "https://github.com/vitejs/vite/issues/1",
        "https://vitejs.dev/guide/",
        "http://example.com",
        "http://172.32.0.1/",
        "http://172.15.0.1/",
        "http://8.8.8.8/",
        "http://[2001:db8::1]/",
        "http://[::ffff:8.8.8.8]/",
        "http://local/",
        "http://.local",
        "http://test",
    ] {
        assert_eq!(scan(url), none(), "{url}");
    }
}

#[test]
fn explicit_port_rules() {
    // Bare hostname with explicit port.
    assert_eq!(scan("http://myhost:8080"), one("http://myhost:8080", None));
    // IP literal (public) with explicit port: a server bound to that interface.
    assert_eq!(scan("http://8.8.8.8:8080/"), one("http://8.8.8.8:8080/", None));
    assert_eq!(scan("http://[2001:db8::1]:80/"), one("http://[2001:db8::1]:80/", None));
    // Dotted domain with explicit port.
    assert_eq!(scan("http://dev.example.com:3000/"), one("http://dev.example.com:3000/", None));
    // ...unless it is a documentation link.
    assert_eq!(scan("https://nextjs.org:443/docs/messages/x"), none());
    assert_eq!(scan("https://example.com:8443/DOC"), none());
    assert_eq!(scan("https://example.com:8443/documentation?x"), none());
    // But /docs on a local host is still a local URL.
    assert_eq!(scan("API docs at http://localhost:8000/docs"), one("http://localhost:8000/docs", None));
}

#[test]
fn invalid_urls_ignored() {
    for line in [
        "http://",
        "http:///path",
        "http://localhost:abc/",
        "http://localhost:99999/",
        "http://localhost:123456",
        "http://999.1.1.1:80/",
        "http://[zzz]:80/",
        "http://[::1",
        "http://[::1]x/",
        "http://loc%alhost:80",
        "ftp://localhost:21",
        "file:///tmp/x",
        "git+ssh://localhost:22/x",
        "xhttp://localhost:3000",
        "postgres://localhost:5432/db",
        "redis://127.0.0.1:6379",
        "://localhost:3000",
        "httpx://localhost:3000",
    ] {
        assert_eq!(scan(line), none(), "{line}");
    }
}

#[test]
fn empty_port_is_no_port() {
    assert_eq!(scan("http://localhost:/x"), one("http://localhost:/x", None));
    assert_eq!(scan("http://example.com:/x"), none());
    // A trailing ':' is punctuation.
    assert_eq!(scan("see http://localhost:"), one("http://localhost", None));
}

#[test]
fn scheme_boundary() {
    assert_eq!(scan("url=http://localhost:1"), one("http://localhost:1", None));
    assert_eq!(scan("(http://localhost:1)"), one("http://localhost:1", None));
    assert_eq!(scan("9http://localhost:1"), none());
}

// ---- labels ----

#[test]
fn label_rules() {
    assert_eq!(scan("Error: http://localhost:3000 refused"), one("http://localhost:3000", None));
    assert_eq!(scan("error: http://localhost:3000"), one("http://localhost:3000", None));
    assert_eq!(scan("local: http://localhost:3000"), one("http://localhost:3000", None));
    assert_eq!(scan("This Is Too Many Words: http://localhost:3000"), one("http://localhost:3000", None));
    assert_eq!(scan("App URL:http://localhost:3000"), one("http://localhost:3000", Some("App URL")));
    assert_eq!(scan("URL: http://localhost:3000"), one("http://localhost:3000", None));
    assert_eq!(scan("  Local:\t\thttp://localhost:3000"), one("http://localhost:3000", Some("Local")));
    assert_eq!(scan("➜  On   Your  Network: http://10.0.0.1:1"), one("http://10.0.0.1:1", Some("On Your Network")));
    // A colon far from the URL does not label it.
    assert_eq!(scan("Local: server at http://localhost:3000"), one("http://localhost:3000", None));
}

// ---- dedup ----

#[test]
fn dedup_per_process_and_reset_on_end() {
    let mut d = UrlDetector::new();
    let l = b"  Local: http://localhost:5173/";
    let first = scan_with(&mut d, 7, 10, l);
    assert_eq!(
        first,
        vec![UrlFound { process: 7, seq: 10, url: "http://localhost:5173/".into(), label: Some("Local".into()) }]
    );
    assert!(scan_with(&mut d, 7, 11, l).is_empty());
    // Other spelling of the same URL.
    assert!(scan_with(&mut d, 7, 12, b"http://LOCALHOST:5173").is_empty());
    // Another process is independent.
    assert_eq!(scan_with(&mut d, 8, 1, l).len(), 1);
    // A different path is a different URL.
    assert_eq!(scan_with(&mut d, 7, 13, b"http://localhost:5173/app").len(), 1);
    // A different path with trailing slash is a different URL too.
    assert_eq!(scan_with(&mut d, 7, 14, b"http://localhost:5173/app/").len(), 1);
    d.on_process_end(7);
    let again = scan_with(&mut d, 7, 20, l);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].seq, 20);
    // Process 8 was not reset.
    assert!(scan_with(&mut d, 8, 2, l).is_empty());
    // Ending an unknown process is harmless.
    d.on_process_end(12345);
}

#[test]
fn dedup_within_one_line() {
    let mut d = UrlDetector::new();
    let out = scan_with(&mut d, 1, 1, b"http://localhost:1/ http://localhost:1");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].url, "http://localhost:1/");
}

#[test]
fn dedup_cap() {
    let mut d = UrlDetector::new();
    let mut n = 0;
    for i in 0..MAX_URLS_PER_PROCESS + 10 {
        n += scan_with(&mut d, 1, i as u64, format!("http://localhost:3000/r/{i}").as_bytes()).len();
    }
    assert_eq!(n, MAX_URLS_PER_PROCESS);
    d.on_process_end(1);
    assert_eq!(scan_with(&mut d, 1, 0, b"http://localhost:3000/r/999").len(), 1);
}

// ---- cheap paths ----

#[test]
fn non_url_lines() {
    for line in [
        "",
        "compiled successfully in 123 ms",
        "GET /health 200",
        "localhost:3000",
        "http:/localhost",
        "\x1b[32mready\x1b[0m",
    ] {
        assert_eq!(scan(line), none(), "{line:?}");
    }
}

#[test]
fn non_utf8_bytes_are_fine() {
    assert_eq!(
        scan_bytes(b"\xff\xfe Local: http://localhost:3000/\xff tail"),
        one("http://localhost:3000/", Some("Local"))
    );
    assert_eq!(scan_bytes(b"http://\xff\xfe:80"), none());
}

#[test]
fn stream_is_irrelevant() {
    let mut d = UrlDetector::new();
    let mut out = Vec::new();
    d.on_line(
        &Line {
            process: 3,
            pipe: Pipe::Stderr,
            truncated: false,
            seq: 5,
            ts_ms: 123,
            bytes: b"listening on http://127.0.0.1:9000",
        },
        &mut out,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].process, 3);
}

#[test]
fn out_is_appended_not_cleared() {
    let mut d = UrlDetector::new();
    let mut out = vec![UrlFound { process: 0, seq: 0, url: "x".into(), label: None }];
    d.on_line(
        &Line { process: 1, pipe: Pipe::Stdout, seq: 1, ts_ms: 0, truncated: false, bytes: b"http://localhost:1" },
        &mut out,
    );
    assert_eq!(out.len(), 2);
}

// ---- allocation accounting ----

// brum's one counting allocator (per thread)
#[path = "../../../core/tests/support/alloc.rs"]
mod counting;

#[test]
fn no_allocation_for_lines_without_urls_or_already_seen() {
    let mut d = UrlDetector::new();
    let mut out = Vec::with_capacity(4);
    let mut run = |bytes: &[u8], out: &mut Vec<UrlFound>| {
        d.on_line(&Line { process: 1, pipe: Pipe::Stdout, seq: 1, ts_ms: 0, truncated: false, bytes }, out)
    };
    // Warm up: the dedup set, scratch buffer and the URL itself allocate once.
    run(b"\x1b[1mLocal:\x1b[0m http://localhost:5173/", &mut out);
    out.clear();
    let n = counting::allocs_during(|| {
        for _ in 0..100 {
            run(b"\x1b[32mcompiled\x1b[0m successfully in 12 ms", &mut out);
            run(b"GET /api/users 200 3.1 ms", &mut out);
            run(b"see https://github.com/vitejs/vite (no port, ignored)", &mut out);
        }
    });
    assert_eq!(n, 0, "lines without reportable URLs must not allocate");
    assert!(out.is_empty());
}

#[test]
fn allocation_counter_counts() {
    let n = counting::allocs_during(|| {
        std::hint::black_box(Vec::<u8>::with_capacity(16));
    });
    assert!(n >= 1);
}

// ---- the whole-batch search ----

/// The lines `lines_with_urls` picks from lines laid back to back.
fn picked(lines: &[&[u8]]) -> Vec<usize> {
    let (mut data, mut start, mut len) = (Vec::new(), Vec::new(), Vec::new());
    for l in lines {
        start.push(data.len() as u32);
        len.push(l.len() as u32);
        data.extend_from_slice(l);
    }
    let mut got = Vec::new();
    UrlDetector::new().lines_with_urls(&data, &start, &len, |i| got.push(i));
    got
}

#[test]
fn the_batch_search_picks_exactly_the_lines_with_a_separator() {
    let lines: [&[u8]; 7] = [
        b"GET /api 200",
        b"  Local: http://localhost:5173/",
        b"no url here:/",
        b"/ and this one starts with a slash",
        b"two: ws://a:1 and http://b:2",
        b"",
        b"://",
    ];
    // "here:/" + "/ and" meet across two lines: neither line holds a URL
    assert_eq!(picked(&lines), vec![1, 4, 6]);
    // the same answer as asking each line
    let d = UrlDetector::new();
    let each: Vec<usize> = (0..lines.len()).filter(|&i| d.finder.find(lines[i]).is_some()).collect();
    assert_eq!(picked(&lines), each);
    assert_eq!(picked(&[]), Vec::<usize>::new());
}

#[test]
fn columns_out_of_order_are_searched_line_by_line() {
    let data = b"http://localhost:1/ plain text";
    // line 0 is the text after the URL, line 1 the URL: starts not in order
    let mut got = Vec::new();
    UrlDetector::new().lines_with_urls(data, &[20, 0], &[10, 19], |i| got.push(i));
    assert_eq!(got, vec![1]);
    // a range past the end reads as empty
    got.clear();
    UrlDetector::new().lines_with_urls(data, &[0, 25], &[19, 50], |i| got.push(i));
    assert_eq!(got, vec![0]);
}

#[test]
fn the_scheme_separator_is_found_past_any_colons_that_begin_no_url() {
    let sep = SchemeSep::default();
    let naive = |h: &[u8]| h.windows(3).position(|w| w == b"://");
    for hay in [
        &b""[..],
        b":",
        b"://",
        b"x:",
        b"x:/",
        b"::://",
        b"12:34:56 GET http://localhost:5173/",
        b"a:/b://c",
        b"src/app.ts:12:5 error",
        b"no colon at all, only / slashes //",
        b"ws://[::1]:8080 and http://x",
    ] {
        assert_eq!(sep.find(hay), naive(hay), "{:?}", String::from_utf8_lossy(hay));
    }
}
