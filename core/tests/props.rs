//! Property tests (the fuzz targets of docs/reliability.md, on stable Rust):
//! the `brum.toml` loader, the line splitter with the NDJSON encoder, the
//! control request parser, the proxy's script injector and its telemetry
//! endpoint, fed arbitrary and mutated input.
//!
//! CI runs a bounded number of cases per target; a longer run by hand:
//!
//! ```sh
//! BRUM_FUZZ_CASES=200000 cargo test --release --test props
//! ```

use std::path::{Path, PathBuf};

use brum::events::{Event, ProcRef, Timestamps, json};
use brum::lines::LineSplitter;
use brum::store::Stream;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, FileFailurePersistence};
use serde_json::Value;

/// Cases per target: `BRUM_FUZZ_CASES` (or `PROPTEST_CASES`), else `default`.
fn cases(default: u32) -> PtConfig {
    let n = std::env::var("BRUM_FUZZ_CASES")
        .or_else(|_| std::env::var("PROPTEST_CASES"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    PtConfig {
        cases: n,
        // keep the work tree clean; a failure prints its minimal input
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..PtConfig::default()
    }
}

// ---------------------------------------------------------------------------
// (a) brum.toml
// ---------------------------------------------------------------------------

/// A scratch directory for the loader (it resolves `cwd`, `env_file` and
/// `plugins_dir` relative to the file), with a few real entries to hit.
fn config_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::Builder::new().prefix("brum-props-").tempdir().expect("tempdir");
        std::fs::create_dir(d.path().join("sub")).expect("mkdir");
        std::fs::write(d.path().join(".env"), "A=1\nexport B='two'\n").expect("write");
        std::fs::write(d.path().join("bad.env"), "A=1\nnot a pair\n").expect("write");
        d
    })
    .path()
}

const VALID: &[&str] = &[
    r#"
max_line_bytes = "64KiB"
ring_bytes = "8MiB"
plugins_dir = "sub"
plugin_fuel = 2000000000
plugin_memory = "32MiB"

[process.web]
cmd = "npm run dev"
cwd = "sub"
env = { PORT = 5173, DEBUG = true, NAME = "x" }
env_file = ".env"
autostart = true
restart = "on-failure"
restart_delay = "500ms"
restart_max_delay = 30
max_restarts = 5
stop_signal = "TERM"
stop_timeout = 2.5
depends_on = ["db"]

[process.db]
argv = ["postgres", "-D", "data"]
stop_signal = 2

[plugin.errors]
quiet_ms = 200

[plugin.filter]
rule = [
  { match = "contains", pattern = "GET /health", action = "drop" },
  { match = "regex", pattern = "(?i)deprecat", action = "tag", tag = "deprecated" },
]
"#,
    "[process.a]\ncmd = \"echo hi\"\n",
    "[process.a]\nargv = [\"true\"]\n[process.b]\ncmd = \"x\"\ndepends_on = [\"a\"]\nrestart = \"always\"\n",
];

/// Fragments a mutation may splice in: TOML syntax, keys brum knows, values
/// at and past the edges of what it accepts.
const FRAGMENTS: &[&str] = &[
    "\n",
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "'",
    "'''",
    "\"\"\"",
    "{",
    "}",
    ",",
    ".",
    "#",
    "\\",
    "\\u0000",
    "\r\n",
    "[process.",
    "[process.x]\n",
    "[plugin.",
    "cmd = ",
    "argv = ",
    "cwd = ",
    "env = ",
    "env_file = ",
    "autostart = ",
    "restart = ",
    "restart_delay = ",
    "restart_max_delay = ",
    "max_restarts = ",
    "stop_signal = ",
    "stop_timeout = ",
    "depends_on = ",
    "max_line_bytes = ",
    "ring_bytes = ",
    "plugins_dir = ",
    "plugin_fuel = ",
    "plugin_memory = ",
    "enabled = ",
    "0",
    "-1",
    "-0.0",
    "1e308",
    "nan",
    "inf",
    "-inf",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967296",
    "1.5",
    "\"1e20s\"",
    "\"0\"",
    "\"0B\"",
    "\"1TiB\"",
    "\"99999999999999999999GiB\"",
    "\"500ms\"",
    "\"-5s\"",
    "\"KILL\"",
    "\"SIGFOO\"",
    "65",
    "\"\"",
    "[]",
    "[\"db\"]",
    "[\"web\"]",
    "[\"nope\"]",
    "{}",
    "true",
    "\"never\"",
    "\"sometimes\"",
    "\"/\"",
    "\"bad.env\"",
    "\"../../..\"",
    "1979-05-27T07:32:00Z",
    "é",
    "\u{feff}",
    "\u{0}",
    "💥",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, frag: usize },
    Replace { at: usize, len: usize, frag: usize },
    Duplicate { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        (at, 0..40usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (at, 0..FRAGMENTS.len()).prop_map(|(at, frag)| Mutation::Insert { at, frag }),
        (at, 0..20usize, 0..FRAGMENTS.len()).prop_map(|(at, len, frag)| Mutation::Replace { at, len, frag }),
        (at, 0..200usize).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

/// The nearest char boundary at or before `i` (mod the length + 1).
fn boundary(s: &str, i: usize) -> usize {
    let mut i = i % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &mut String, m: &Mutation) {
    match *m {
        Mutation::Delete { at, len } => {
            let a = boundary(text, at);
            let b = boundary(text, a + len.min(text.len() - a));
            text.replace_range(a..b.max(a), "");
        }
        Mutation::Insert { at, frag } => {
            let a = boundary(text, at);
            text.insert_str(a, FRAGMENTS[frag]);
        }
        Mutation::Replace { at, len, frag } => {
            let a = boundary(text, at);
            let b = boundary(text, a + len.min(text.len() - a));
            text.replace_range(a..b.max(a), FRAGMENTS[frag]);
        }
        Mutation::Duplicate { at, len } => {
            let a = boundary(text, at);
            let b = boundary(text, a + len.min(text.len() - a)).max(a);
            let piece = text[a..b].to_string();
            text.insert_str(b, &piece);
        }
    }
}

/// The property: a config, or errors that each say where.
fn check_config(text: &str) -> Result<(), TestCaseError> {
    let path: PathBuf = config_dir().join("brum.toml");
    match brum::config::parse_toml(&path, text) {
        Ok(cfg) => {
            prop_assert!(!cfg.processes.is_empty(), "a config without processes was accepted");
            for p in &cfg.processes {
                prop_assert!(!p.argv.is_empty() && !p.argv[0].is_empty(), "{}: empty argv accepted", p.name);
            }
        }
        Err(errs) => {
            prop_assert!(!errs.0.is_empty(), "Err without a single error");
            let lines = text.split('\n').count();
            for e in &errs.0 {
                prop_assert_eq!(&e.file, &path);
                prop_assert!(!e.message.trim().is_empty(), "empty message: {:?}", e);
                prop_assert!(e.line.is_some() || e.key.is_some(), "an error with neither line nor key: {:?}", e);
                if let Some(l) = e.line {
                    prop_assert!(l >= 1 && l <= lines, "line {} out of 1..={}: {:?}", l, lines, e);
                    prop_assert!(e.column.is_some_and(|c| c >= 1), "line without column: {:?}", e);
                }
                // the rendered form starts with the file, as users see it
                let shown = e.to_string();
                prop_assert!(shown.starts_with(&path.display().to_string()), "{}", shown);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn config_arbitrary_text_never_panics(text in any::<String>()) {
        check_config(&text)?;
    }

    #[test]
    fn config_token_soup_never_panics(
        toks in prop::collection::vec(0..FRAGMENTS.len(), 0..60),
    ) {
        let text: String = toks.iter().map(|&i| FRAGMENTS[i]).collect();
        check_config(&text)?;
    }

    #[test]
    fn config_mutated_valid_files_never_panic(
        base in 0..VALID.len(),
        muts in prop::collection::vec(mutation(), 1..8),
    ) {
        let mut text = VALID[base].to_string();
        for m in &muts {
            apply(&mut text, m);
        }
        check_config(&text)?;
    }
}

#[test]
fn config_the_valid_seeds_are_valid() {
    for (i, text) in VALID.iter().enumerate() {
        let path = config_dir().join("brum.toml");
        if let Err(e) = brum::config::parse_toml(&path, text) {
            panic!("seed {i} must be valid: {e}");
        }
    }
}

// ---------------------------------------------------------------------------
// (b) line splitter + NDJSON encoder
// ---------------------------------------------------------------------------

/// Bytes with plenty of line ends, carriage returns and broken UTF-8.
fn child_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => any::<u8>(),
        3 => Just(b'\n'),
        3 => Just(b'\r'),
        2 => prop::sample::select(b"abc \"\\/\t\x00\x1b\x7f".to_vec()),
        1 => Just(0xC3u8), // lead byte of é ...
        1 => Just(0xA9u8), // ... and its continuation
        1 => Just(0xF0u8),
        1 => Just(0xFFu8),
    ];
    prop::collection::vec(byte, 0..2000)
}

/// Decodes standard padded base64 (RFC 4648), strictly.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHA: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (ci, chunk) in b.chunks(4).enumerate() {
        let last = ci == b.len() / 4 - 1;
        let mut v = [0u32; 4];
        let mut pad = 0;
        for (k, &c) in chunk.iter().enumerate() {
            if c == b'=' {
                if !last || k < 2 {
                    return None;
                }
                pad += 1;
                continue;
            }
            if pad > 0 {
                return None;
            }
            v[k] = ALPHA.iter().position(|&a| a == c)? as u32;
        }
        let n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
        out.push((n >> 16) as u8);
        if pad < 2 {
            out.push((n >> 8) as u8);
        }
        if pad < 1 {
            out.push(n as u8);
        }
    }
    Some(out)
}

/// What the pieces must add up to: each line of the input (split at `\n`, a
/// final unterminated one included), one `\r` before its end removed,
/// followed by `\n`.
fn normalized(input: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = Vec::with_capacity(input.len() + 1);
    for l in lines {
        out.extend_from_slice(l.strip_suffix(b"\r").unwrap_or(l));
        out.push(b'\n');
    }
    out
}

fn split(input: &[u8], max: usize, chunks: &[usize]) -> Vec<(Vec<u8>, bool)> {
    let mut s = LineSplitter::new(max);
    let mut pieces = Vec::new();
    let mut rest = input;
    let mut k = 0;
    while !rest.is_empty() {
        let n = chunks[k % chunks.len()].clamp(1, rest.len());
        k += 1;
        s.feed(&rest[..n], |l, t| pieces.push((l.to_vec(), t)));
        // never holds more than a piece and a possible "\r"
        assert!(s.pending() <= max + 2, "carry grew to {} with max {max}", s.pending());
        rest = &rest[n..];
    }
    s.finish(|l, t| pieces.push((l.to_vec(), t)));
    assert_eq!(s.pending(), 0);
    pieces
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn every_byte_is_accounted_for_in_any_chunking(
        input in child_bytes(),
        max in 1..80usize,
        chunks in prop::collection::vec(1..300usize, 1..8),
    ) {
        let pieces = split(&input, max, &chunks);
        let mut joined = Vec::with_capacity(input.len() + 1);
        for (i, (p, truncated)) in pieces.iter().enumerate() {
            prop_assert!(p.len() <= max);
            if *truncated {
                prop_assert_eq!(p.len(), max, "a truncated piece holds exactly max bytes");
                prop_assert!(i + 1 < pieces.len(), "the last piece says the line continues");
            }
            joined.extend_from_slice(p);
            if !truncated {
                joined.push(b'\n');
            }
        }
        prop_assert_eq!(&joined, &normalized(&input));
        // and the chunking does not matter
        prop_assert_eq!(&pieces, &split(&input, max, &[input.len().max(1)]));
    }

    #[test]
    fn every_piece_encodes_to_one_json_line_that_decodes_back(
        input in child_bytes(),
        max in 1..80usize,
        chunks in prop::collection::vec(1..300usize, 1..8),
        name in any::<String>(),
        tag in proptest::option::of(any::<String>()),
        boost in any::<bool>(),
        stderr in any::<bool>(),
        seq in any::<u64>(),
        ts_ms in 0i64..=253_402_300_799_999, // up to year 9999
    ) {
        let stream = if stderr { Stream::Stderr } else { Stream::Stdout };
        let mut ts = Timestamps::new();
        let mut out = Vec::new();
        for (i, (piece, truncated)) in split(&input, max, &chunks).iter().enumerate() {
            out.clear();
            let ev = Event::LogLine {
                process: ProcRef { name: &name, index: i },
                stream,
                line: piece,
                truncated: *truncated,
                boost,
                tag: tag.as_deref(),
            };
            json::encode(&mut out, &mut ts, seq, ts_ms, &ev);
            prop_assert_eq!(out.last(), Some(&b'\n'), "an event ends with a newline");
            prop_assert!(!out[..out.len() - 1].contains(&b'\n'), "one event, one line");
            let v: Value = serde_json::from_slice(&out)
                .map_err(|e| TestCaseError::fail(format!("invalid JSON {:?}: {e}", String::from_utf8_lossy(&out))))?;
            prop_assert_eq!(&v["seq"], &Value::from(seq));
            prop_assert_eq!(&v["type"], "log.line");
            prop_assert_eq!(&v["process"], &Value::String(name.clone()));
            prop_assert_eq!(&v["stream"], stream.as_str());
            prop_assert!(v["ts"].as_str().is_some_and(|t| t.len() == 24 && t.ends_with('Z')), "ts {}", v["ts"]);
            let back = match (v.get("text"), v.get("bytes")) {
                (Some(Value::String(t)), None) => {
                    prop_assert!(std::str::from_utf8(piece).is_ok());
                    t.as_bytes().to_vec()
                }
                (None, Some(Value::String(b))) => {
                    prop_assert!(std::str::from_utf8(piece).is_err(), "valid UTF-8 must come as text");
                    base64_decode(b).ok_or_else(|| TestCaseError::fail(format!("bad base64 {b:?}")))?
                }
                other => return Err(TestCaseError::fail(format!("exactly one of text/bytes: {other:?}"))),
            };
            prop_assert_eq!(&back, piece, "the line decodes back to its bytes");
            prop_assert_eq!(v.get("truncated").is_some(), *truncated);
            if *truncated {
                prop_assert_eq!(&v["truncated"], true);
            }
            prop_assert_eq!(v.get("boost").is_some(), boost);
            prop_assert_eq!(v.get("tag").and_then(Value::as_str), tag.as_deref());
        }
    }
}

#[test]
fn base64_decoder_self_check() {
    assert_eq!(base64_decode("//5vaw==").as_deref(), Some(&b"\xff\xfeok"[..]));
    assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
    assert_eq!(base64_decode("YQ==").as_deref(), Some(&b"a"[..]));
    assert_eq!(base64_decode("YWI=").as_deref(), Some(&b"ab"[..]));
    assert!(base64_decode("Y===").is_none());
}

// ---------------------------------------------------------------------------
// (c) control requests
// ---------------------------------------------------------------------------

const CMDS: &[&str] =
    &["hello", "status", "ps", "tail", "logs", "errors", "urls", "start", "stop", "restart", "shutdown", "", "x"];
const ARG_KEYS: &[&str] = &[
    "id",
    "types",
    "processes",
    "since",
    "last",
    "follow",
    "process",
    "n",
    "grep",
    "regex",
    "stream",
    "limit",
    "cmd",
    "extra",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        any::<String>().prop_map(Value::String),
        prop::sample::select(CMDS).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(ARG_KEYS), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// A request-shaped object: a known or odd `cmd`, arguments of any type.
fn request_value() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(CMDS),
        proptest::option::of(json_value()),
        prop::collection::vec((prop::sample::select(ARG_KEYS), json_value()), 0..5),
    )
        .prop_map(|(cmd, id, args)| {
            let mut m = serde_json::Map::new();
            for (k, v) in args {
                m.insert(k.to_string(), v);
            }
            m.insert("cmd".into(), Value::from(cmd));
            if let Some(id) = id {
                m.insert("id".into(), id);
            }
            Value::Object(m)
        })
}

/// JSON equality, except that floats may differ in the last bit: serde_json
/// (without its `float_roundtrip` feature) parses floats to within 1 ULP, so
/// a float `id` is echoed to within 1 ULP (see docs/reliability.md).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            // ULP distance (same sign), subnormals included
            x == y || (x.signum() == y.signum() && x.to_bits().abs_diff(y.to_bits()) <= 2)
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

fn check_request(line: &[u8]) -> Result<(), TestCaseError> {
    match brum::control::parse(line) {
        Ok(_) => {}
        Err(e) => {
            prop_assert!(!e.message.trim().is_empty(), "an error without a message");
            // the error answer brum sends is one valid JSON line
            let answer = brum::control::error_line(&e.id, &e.message);
            prop_assert_eq!(answer.last(), Some(&b'\n'));
            prop_assert!(!answer[..answer.len() - 1].contains(&b'\n'));
            let v: Value = serde_json::from_slice(&answer).map_err(|x| TestCaseError::fail(x.to_string()))?;
            prop_assert_eq!(&v["ok"], false);
            prop_assert!(same_json(&v["id"], &e.id), "id {} came back as {}", e.id, v["id"]);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn control_arbitrary_bytes_never_panic(line in prop::collection::vec(any::<u8>(), 0..512)) {
        check_request(&line)?;
    }

    #[test]
    fn control_json_values_never_panic(v in json_value()) {
        check_request(&serde_json::to_vec(&v).expect("encode"))?;
    }

    #[test]
    fn control_request_shaped_objects_never_panic_and_echo_the_id(v in request_value()) {
        let line = serde_json::to_vec(&v).expect("encode");
        check_request(&line)?;
        if let Err(e) = brum::control::parse(&line) {
            let sent = v.get("id").unwrap_or(&Value::Null);
            prop_assert!(same_json(&e.id, sent), "the id is echoed in errors: sent {}, got {}", sent, e.id);
        }
    }

    /// A key given twice is refused whatever the values: with last-one-wins
    /// `{"cmd":"ps","cmd":"shutdown"}` would be read as a shutdown.
    #[test]
    fn control_duplicate_keys_are_always_refused(v in request_value(), dup in "[a-z]{1,8}") {
        let mut text = serde_json::to_string(&v).expect("encode");
        if text.starts_with('{') && text.len() > 2 {
            text.insert_str(1, &format!("\"{dup}\":1,\"{dup}\":2,"));
            let e = brum::control::parse(text.as_bytes()).expect_err("duplicate");
            prop_assert!(e.message.contains(&format!("duplicate key \"{dup}\"")), "{}", e.message);
        }
    }

    #[test]
    fn control_truncated_requests_never_panic(v in request_value(), cut in any::<usize>()) {
        let line = serde_json::to_vec(&v).expect("encode");
        let cut = cut % (line.len() + 1);
        check_request(&line[..cut])?;
    }
}

// ---------------------------------------------------------------------------
// (d) the proxy's script injector
// ---------------------------------------------------------------------------

use brum::proxy::inject::{ADDED_LEN, Injector, PREFIX_LIMIT, SCRIPT_TAG, inject_whole};

/// Pages made of the pieces that matter to finding `<head>`: tags, quotes,
/// comments, doctypes, a BOM, and filler.
fn html_soup() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(&b"<head>"[..]),
        Just(&b"<HEAD lang=en"[..]),
        Just(&b"<html>"[..]),
        Just(&b"<header>"[..]),
        Just(&b"<body>"[..]),
        Just(&b"<!doctype html>"[..]),
        Just(&b"<!--"[..]),
        Just(&b"-->"[..]),
        Just(&b"<"[..]),
        Just(&b">"[..]),
        Just(&b"\""[..]),
        Just(&b"'"[..]),
        Just(&b"="[..]),
        Just(&b" "[..]),
        Just(&b"/"[..]),
        Just(&b"!"[..]),
        Just("\u{feff}".as_bytes()),
        Just(&b"lorem ipsum "[..]),
    ];
    (prop::collection::vec(piece, 0..40), 0..6000usize).prop_map(|(pieces, pad)| {
        let mut page: Vec<u8> = pieces.concat();
        // sometimes long enough to cross the prefix limit
        if pad > 4000 {
            page.extend(std::iter::repeat_n(b'x', pad));
            page.extend_from_slice(b"<head>");
        }
        page
    })
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn injection_adds_exactly_the_tag_once_whatever_the_chunking(
        page in html_soup(),
        chunks in prop::collection::vec(1..700usize, 1..10),
    ) {
        let whole = inject_whole(&page);
        prop_assert_eq!(whole.len(), page.len() + ADDED_LEN);
        let at = whole.windows(ADDED_LEN).position(|w| w == SCRIPT_TAG);
        prop_assert!(at.is_some());
        let at = at.unwrap_or(0);
        prop_assert_eq!(&[&whole[..at], &whole[at + ADDED_LEN..]].concat(), &page);
        prop_assert!(at <= PREFIX_LIMIT);
        let mut inj = Injector::new();
        let mut out = Vec::new();
        let mut rest = &page[..];
        for c in chunks.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = (*c).min(rest.len());
            inj.push(&rest[..n], &mut out);
            prop_assert!(inj.held() <= PREFIX_LIMIT);
            rest = &rest[n..];
        }
        inj.finish(&mut out);
        prop_assert_eq!(out, whole);
    }
}

// ---------------------------------------------------------------------------
// (e) the telemetry endpoint
// ---------------------------------------------------------------------------

use brum::proxy::telemetry::{MAX_MESSAGE, MAX_REPORTS_PER_BODY, MAX_STACK, MAX_URL, Report, Telemetry};

fn check_reports(reports: &[Report]) -> Result<(), TestCaseError> {
    prop_assert!(reports.len() <= MAX_REPORTS_PER_BODY);
    for r in reports {
        match r {
            Report::Error { message, stack, url, page, .. } => {
                prop_assert!(message.len() <= MAX_MESSAGE && stack.len() <= MAX_STACK && page.len() <= MAX_URL);
                prop_assert!(url.as_ref().is_none_or(|u| u.len() <= MAX_URL));
            }
            Report::Console { message, page, .. } => {
                prop_assert!(message.len() <= MAX_MESSAGE && page.len() <= MAX_URL)
            }
            Report::Page { url, title, .. } => {
                prop_assert!(url.len() <= MAX_URL && title.as_ref().is_none_or(|t| t.len() <= MAX_MESSAGE));
            }
        }
    }
    Ok(())
}

/// Batches shaped like the script's, with arbitrary strings and numbers.
fn batch_value() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        any::<String>(),
        "\\PC{0,600}",
        Just("    at f (http://h/__brum__/t.js:1:2)\n    at g (http://h/a.js:3:4)".to_string())
    ];
    let event = (
        prop_oneof![
            30 => prop::sample::select(vec!["error", "rejection", "fetch", "xhr", "resource", "console", "page"]),
            1 => Just("other"),
        ],
        text.clone(),
        text,
        prop_oneof![10 => (0..100_000i64).prop_map(Some), 1 => Just(None), 1 => any::<i64>().prop_map(Some)],
        prop_oneof![20 => prop::sample::select(vec!["error", "warn"]), 1 => Just("log")],
    )
        .prop_map(|(kind, a, b, n, level)| match kind {
            "console" => serde_json::json!({"kind": kind, "page": a, "level": level, "message": b}),
            "page" => serde_json::json!({"kind": kind, "page": a, "title": b, "load_ms": n}),
            _ => serde_json::json!({"kind": kind, "page": a, "message": b, "stack": b, "url": a, "line": n, "col": n}),
        });
    (prop::collection::vec(event, 0..40), any::<u64>())
        .prop_map(|(events, dropped)| serde_json::json!({"v": 1, "dropped": dropped, "events": events}))
}

/// The generator is not vacuous: many of its batches pass.
#[test]
fn telemetry_generated_batches_are_often_valid() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut ok = 0;
    for _ in 0..64 {
        let v = batch_value().new_tree(&mut runner).expect("value").current();
        ok += usize::from(Telemetry::new().accept(v.to_string().as_bytes(), std::time::Instant::now()).is_ok());
    }
    assert!(ok >= 8, "only {ok} of 64 generated batches were valid");
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn telemetry_arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Telemetry::new().accept(&body, std::time::Instant::now());
    }

    #[test]
    fn telemetry_batches_are_capped_and_truncations_never_panic(v in batch_value(), cut in any::<usize>()) {
        let mut t = Telemetry::new();
        let body = v.to_string().into_bytes();
        if let Ok(reports) = t.accept(&body, std::time::Instant::now()) {
            check_reports(&reports)?;
        }
        let cut = cut % (body.len() + 1);
        prop_assert!(t.accept(&body[..cut], std::time::Instant::now()).is_err() || cut == body.len());
    }
}
