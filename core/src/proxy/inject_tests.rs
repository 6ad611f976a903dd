//! Unit tests of the injector (`inject.rs`): where the tag goes, that any
//! chunking gives the same bytes, and what `plan` decides.
use super::*;

const TAG: &str = "<script src=\"/__brum__/t.js\"></script>";

/// `page` with the tag where `mark` (`@`) is in `want`.
fn check(page: &str, want: &str) {
    let got = String::from_utf8(inject_whole(page.as_bytes())).expect("utf-8");
    assert_eq!(got, want.replacen('@', TAG, 1), "page {page:?}");
}

#[test]
fn the_tag_goes_right_after_the_head_open_tag() {
    check(
        "<!DOCTYPE html><html lang=\"en\"><head><title>x</title></head><body></body></html>",
        "<!DOCTYPE html><html lang=\"en\"><head>@<title>x</title></head><body></body></html>",
    );
    check("<HTML><HEAD>\n<meta charset=utf-8>", "<HTML><HEAD>@\n<meta charset=utf-8>");
    check("<head\n  data-x=\"a>b\" data-y='c>d' e=f>z", "<head\n  data-x=\"a>b\" data-y='c>d' e=f>@z");
    check("<head x = \"a>b\">z", "<head x = \"a>b\">@z");
    // a quote not after `=` opens nothing: the `>` ends the tag
    check("<head x=a\"b>z", "<head x=a\"b>@z");
    check("<head/>z", "<head/>@z");
    check("<!-- <head> --><html><head>z", "<!-- <head> --><html><head>@z");
    check("<!--><head>z", "<!--><head>@z");
    check("<!---><head>z", "<!---><head>@z");
    check("<!-- a -- b --><head>z", "<!-- a -- b --><head>@z");
    check("a < b <? pi ?></x><head>z", "a < b <? pi ?></x><head>@z");
}

#[test]
fn without_a_head_the_tag_goes_after_html_then_doctype_then_bom() {
    check(
        "<!doctype html><html lang=en><body><header>h</header>",
        "<!doctype html><html lang=en>@<body><header>h</header>",
    );
    check("<!doctype html><body><head>z", "<!doctype html>@<body><head>z");
    check("<!DOCTYPE html>\n<header>x</header>", "<!DOCTYPE html>@\n<header>x</header>");
    check("<!doctypex><div>", "<!doctypex>@<div>");
    check("<!DOC><div>", "@<!DOC><div>");
    check("hello", "@hello");
    check("\u{feff}<p>hi", "\u{feff}@<p>hi");
    check("", "@");
    check("<htmlx><head>", "@<htmlx><head>");
}

#[test]
fn a_head_past_the_prefix_limit_is_not_waited_for() {
    let filler = "x".repeat(PREFIX_LIMIT);
    let page = format!("<!doctype html><!-- {filler} --><head>z");
    check(&page, &format!("<!doctype html>@<!-- {filler} --><head>z"));
    // byte by byte, the injector never holds more than the limit
    let mut inj = Injector::new();
    let mut out = Vec::new();
    for b in page.as_bytes() {
        inj.push(std::slice::from_ref(b), &mut out);
        assert!(inj.held() <= PREFIX_LIMIT);
    }
    inj.finish(&mut out);
    assert_eq!(out, inject_whole(page.as_bytes()));
}

fn pages() -> Vec<String> {
    let body = "<p>lorem ipsum</p>\n".repeat(40);
    vec![
        format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>t</title></head><body>{body}</body></html>"),
        format!("\u{feff}<!doctype html>\n<!-- <head> -->\n<HTML lang=en>\n<Head id='h' data-x=\"<>\">{body}"),
        format!("<!doctype html><body>{body}"),
        "<html>".to_string(),
        "<he".to_string(),
        String::new(),
        format!("<!doctype html><!-- {} --><head>", "y".repeat(PREFIX_LIMIT)),
    ]
}

/// Streams `page` cut at `cuts`.
fn stream(page: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut inj = Injector::new();
    let mut out = Vec::new();
    let mut from = 0;
    for &c in cuts {
        inj.push(&page[from..c], &mut out);
        from = c;
    }
    inj.push(&page[from..], &mut out);
    inj.finish(&mut out);
    out
}

#[test]
fn every_split_point_gives_the_same_page() {
    for page in pages() {
        let page = page.as_bytes();
        let whole = inject_whole(page);
        assert_eq!(whole.len(), page.len() + ADDED_LEN);
        let at = whole.windows(ADDED_LEN).position(|w| w == SCRIPT_TAG).expect("tag present");
        assert_eq!([&whole[..at], &whole[at + ADDED_LEN..]].concat(), page, "only the tag is added");
        for i in 0..=page.len() {
            assert_eq!(stream(page, &[i]), whole, "cut at {i}");
        }
        // two cuts near the head (every pair in the first 120 bytes)
        let n = page.len().min(120);
        for i in 0..=n {
            for j in i..=n {
                assert_eq!(stream(page, &[i, j]), whole, "cuts at {i}, {j}");
            }
        }
        let singles: Vec<usize> = (1..page.len()).collect();
        assert_eq!(stream(page, &singles), whole, "byte by byte");
    }
}

#[test]
fn after_the_tag_everything_passes_through() {
    let mut inj = Injector::new();
    let mut out = Vec::new();
    inj.push(b"<head>", &mut out);
    assert!(inj.injected());
    assert_eq!(inj.held(), 0);
    out.clear();
    inj.push(b"<head> again", &mut out);
    inj.finish(&mut out);
    assert_eq!(out, b"<head> again");
}

fn h<'a>(name: &'a str, value: &'a str) -> httparse::Header<'a> {
    httparse::Header { name, value: value.as_bytes() }
}

#[test]
fn plan_injects_into_plain_html_pages_only() {
    let html = h("Content-Type", "text/html; charset=utf-8");
    assert!(matches!(plan(200, &[html]), Plan::Inject(_)));
    assert!(matches!(plan(200, &[h("content-type", " TEXT/HTML ")]), Plan::Inject(_)));
    assert!(matches!(plan(200, &[html, h("Content-Encoding", "identity")]), Plan::Inject(_)));
    for (status, headers) in [
        (200, vec![h("Content-Type", "application/json")]),
        (200, vec![h("Content-Type", "text/htmlx")]),
        (200, vec![]),
        (304, vec![html]),
        (404, vec![html]),
        (204, vec![html]),
        (206, vec![html]),
        (302, vec![html]),
        (200, vec![html, h("Content-Disposition", "Attachment; filename=x.html")]),
    ] {
        assert!(matches!(plan(status, &headers), Plan::Pass), "{status} {headers:?}");
    }
}

#[test]
fn plan_skips_compressed_pages_and_blocking_policies_with_a_reason() {
    let html = h("Content-Type", "text/html");
    let Plan::Skip(why) = plan(200, &[html, h("Content-Encoding", "gzip")]) else { panic!("gzip") };
    assert!(why.contains("compressed"), "{why}");
    assert!(matches!(plan(200, &[html, h("content-encoding", "identity, br")]), Plan::Skip(_)));
    let Plan::Skip(why) = plan(200, &[html, h("Content-Security-Policy", "script-src 'nonce-x'")]) else {
        panic!("csp")
    };
    assert!(why.contains("script-src"), "{why}");
    let ok = [
        html,
        h("Content-Security-Policy", "default-src 'self'"),
        h("Content-Security-Policy-Report-Only", "script-src 'none'"),
    ];
    assert!(matches!(plan(200, &ok), Plan::Inject(_)), "report-only policies block nothing");
}

#[test]
fn navigations_want_identity() {
    assert!(wants_identity(&[h("Sec-Fetch-Dest", "document")]));
    assert!(wants_identity(&[h("sec-fetch-mode", "navigate")]));
    assert!(wants_identity(&[h("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")]));
    assert!(wants_identity(&[h("Accept", "TEXT/HTML")]));
    // a script: its source map comment is read on the way
    assert!(wants_identity(&[h("Accept", "*/*"), h("Sec-Fetch-Dest", "script")]));
    assert!(!wants_identity(&[h("Accept", "*/*"), h("Sec-Fetch-Dest", "image")]));
    assert!(!wants_identity(&[h("Accept", "application/json")]));
    assert!(!wants_identity(&[]));
}

#[test]
fn the_tag_loads_the_script_the_proxy_serves() {
    let tag = std::str::from_utf8(SCRIPT_TAG).expect("ascii");
    assert_eq!(tag, TAG);
    assert!(tag.contains(&format!("src=\"{}\"", crate::proxy::telemetry::SCRIPT_PATH)));
    assert_eq!(ADDED_LEN, TAG.len());
}
