//! NDJSON encoding of [`Event`]s: one object per line, keys in a fixed
//! order, `text` for UTF-8 line content and `bytes` (standard base64) when
//! the content is not valid UTF-8, so nothing a child prints is lost.

use super::{Event, FindingView, ProcRef, Timestamps};

/// Appends one event as a JSON object and a newline to `out`.
pub fn encode(out: &mut Vec<u8>, ts: &mut Timestamps, seq: u64, ts_ms: i64, ev: &Event<'_>) {
    // grow once up front: a log.line without escapes then needs no more
    let content = if let Event::LogLine { process, line, .. } = ev { process.name.len() + line.len() } else { 0 };
    out.reserve(256 + content);
    out.extend_from_slice(b"{\"seq\":");
    push_u64(out, seq);
    out.extend_from_slice(b",\"ts\":\"");
    ts.write(out, ts_ms);
    out.extend_from_slice(b"\",\"type\":\"");
    out.extend_from_slice(ev.type_name().as_bytes());
    out.push(b'"');
    if let Some(body) = super::rare::body(ev) {
        // the rare kinds: their fields built with serde (goldens below)
        for (k, v) in &body {
            key(out, k);
            // serializing a Value into a Vec cannot fail
            let _ = serde_json::to_writer(&mut *out, v);
        }
        out.extend_from_slice(b"}\n");
        return;
    }
    match *ev {
        Event::LogLine { process, stream, line, truncated, boost, tag } => {
            proc_key(out, process);
            key(out, "stream");
            out.push(b'"');
            out.extend_from_slice(stream.as_str().as_bytes());
            out.push(b'"');
            push_line_content(out, line);
            if truncated {
                out.extend_from_slice(b",\"truncated\":true");
            }
            if boost {
                out.extend_from_slice(b",\"boost\":true");
            }
            if let Some(t) = tag {
                key(out, "tag");
                push_str(out, t);
            }
        }
        Event::Finding { process, plugin, finding: f } => {
            proc_key(out, process);
            key(out, "plugin");
            push_str(out, plugin);
            encode_finding(out, f);
        }
        _ => {}
    }
    out.extend_from_slice(b"}\n");
}

fn opt_str(out: &mut Vec<u8>, k: &str, v: Option<&str>) {
    if let Some(v) = v {
        key(out, k);
        push_str(out, v);
    }
}

fn opt_u32(out: &mut Vec<u8>, k: &str, v: Option<u32>) {
    if let Some(v) = v {
        key(out, k);
        push_u64(out, u64::from(v));
    }
}

/// A field value as a JSON number when it is one, else a string.
fn number_or_string(out: &mut Vec<u8>, v: &str) {
    if !v.is_empty() && v.len() < 19 && v.bytes().all(|b| b.is_ascii_digit()) && (v == "0" || !v.starts_with('0')) {
        out.extend_from_slice(v.as_bytes());
    } else {
        push_str(out, v);
    }
}

fn encode_finding(out: &mut Vec<u8>, f: &FindingView<'_>) {
    match f.event_type() {
        "error.detected" => {
            key(out, "kind");
            push_str(out, f.kind);
            key(out, "severity");
            push_str(out, f.severity);
            key(out, "message");
            push_str(out, f.message);
            key(out, "fingerprint");
            out.push(b'"');
            push_hex(out, f.fingerprint);
            out.push(b'"');
            key(out, "count");
            push_u64(out, u64::from(f.count));
            if f.id > 0 {
                key(out, "id");
                push_u64(out, f.id);
            }
        }
        "url.detected" => {
            key(out, "url");
            push_str(out, f.url.unwrap_or(f.message));
            opt_str(out, "label", f.field("label"));
        }
        "test.passed" | "test.failed" => {
            for k in ["passed", "failed", "skipped"] {
                key(out, k);
                number_or_string(out, f.field(k).unwrap_or("0"));
            }
            key(out, "message");
            push_str(out, f.message);
        }
        "build.event" => {
            key(out, "status");
            push_str(out, f.field("status").unwrap_or("unknown"));
            if let Some(d) = f.field("duration_ms") {
                key(out, "duration_ms");
                number_or_string(out, d);
            }
            key(out, "message");
            push_str(out, f.message);
        }
        _ => {
            key(out, "kind");
            push_str(out, f.custom_kind.unwrap_or(f.kind));
            key(out, "severity");
            push_str(out, f.severity);
            key(out, "message");
            push_str(out, f.message);
        }
    }
    opt_str(out, "file", f.file);
    opt_u32(out, "line", f.line);
    opt_u32(out, "column", f.column);
    opt_str(out, "code", f.code);
    opt_str(out, "language", f.language);
    key(out, "first_seq");
    push_u64(out, f.first_seq);
    key(out, "last_seq");
    push_u64(out, f.last_seq);
    if !f.fields.is_empty() {
        key(out, "fields");
        out.push(b'{');
        for (i, (k, v)) in f.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_str(out, k);
            out.push(b':');
            push_str(out, v);
        }
        out.push(b'}');
    }
}

#[inline]
fn key(out: &mut Vec<u8>, k: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(b"\":");
}

#[inline]
fn proc_key(out: &mut Vec<u8>, p: ProcRef<'_>) {
    key(out, "process");
    push_str(out, p.name);
}

/// Appends a decimal unsigned integer.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    // two digits per division, from a table of "00".."99"
    static PAIRS: [u8; 200] = {
        let mut t = [0u8; 200];
        let mut i = 0;
        while i < 100 {
            t[2 * i] = b'0' + (i / 10) as u8;
            t[2 * i + 1] = b'0' + (i % 10) as u8;
            i += 1;
        }
        t
    };
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[v as usize * 2..v as usize * 2 + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends 16 lowercase hex digits.
pub fn push_hex(out: &mut Vec<u8>, v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..16).rev() {
        out.push(HEX[((v >> (i * 4)) & 15) as usize]);
    }
}

/// Appends a decimal signed integer.
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// 0: pass through; otherwise the escape's second byte (`u` for \u00XX).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[0x08] = b'b';
    t[0x0c] = b'f';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Appends `s` as a quoted JSON string.
#[inline]
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    push_escaped(out, s.as_bytes());
    out.push(b'"');
}

/// Appends UTF-8 `bytes` escaped for a JSON string, without quotes: runs
/// that need no escape go in whole (found 8 bytes at a time), the rest
/// byte by byte.
#[inline]
fn push_escaped(out: &mut Vec<u8>, mut bytes: &[u8]) {
    loop {
        let clean = plain_prefix(bytes);
        out.extend_from_slice(&bytes[..clean]);
        let Some(&b) = bytes.get(clean) else { return };
        match ESCAPE[b as usize] {
            0 => out.push(b), // a byte of a multi-byte character
            b'u' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            }
            esc => out.extend_from_slice(&[b'\\', esc]),
        }
        bytes = &bytes[clean + 1..];
    }
}

/// Length of the longest prefix of printable ASCII other than `"` and `\`
/// (bytes that go into a JSON string as they are, whatever the rest is).
#[inline]
fn plain_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // SWAR: a byte of `x` is zero / below n exactly when these set its high bit
    // (exact as a yes/no for the word, which is all that is asked)
    #[inline]
    fn has_zero(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGH
    }
    let mut i = 0;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        let special = (x & HIGH)
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH)
            | has_zero(x ^ (ONES * u64::from(b'"')))
            | has_zero(x ^ (ONES * u64::from(b'\\')));
        if special != 0 {
            break;
        }
        i += 8;
    }
    while i < bytes.len() && PLAIN[bytes[i] as usize] {
        i += 1;
    }
    i
}

/// Bytes [`plain_prefix`] passes: printable ASCII but `"` and `\`.
static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0x20;
    while i < 0x80 {
        t[i] = i != b'"' as usize && i != b'\\' as usize;
        i += 1;
    }
    t
};

/// Appends a line's content as `,"text":"…"` when it is UTF-8 (one pass
/// for the common all-ASCII line), else as `,"bytes":"<base64>"`.
#[inline]
fn push_line_content(out: &mut Vec<u8>, line: &[u8]) {
    let clean = plain_prefix(line);
    // the plain prefix is ASCII, so the line is UTF-8 iff the rest is
    if clean == line.len() || std::str::from_utf8(&line[clean..]).is_ok() {
        out.extend_from_slice(b",\"text\":\"");
        out.extend_from_slice(&line[..clean]);
        push_escaped(out, &line[clean..]);
        out.push(b'"');
    } else {
        out.extend_from_slice(b",\"bytes\":\"");
        push_base64(out, line);
        out.push(b'"');
    }
}

/// Appends standard base64 (RFC 4648, with padding).
pub fn push_base64(out: &mut Vec<u8>, data: &[u8]) {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut chunks = data.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        out.extend_from_slice(&[
            A[(n >> 18) as usize & 63],
            A[(n >> 12) as usize & 63],
            A[(n >> 6) as usize & 63],
            A[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[A[(n >> 18) as usize & 63], A[(n >> 12) as usize & 63], b'=', b'=']);
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.extend_from_slice(&[
                A[(n >> 18) as usize & 63],
                A[(n >> 12) as usize & 63],
                A[(n >> 6) as usize & 63],
                b'=',
            ]);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
    const GOLDEN_RESOLVED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"error.resolved","process":"web","id":4,"fingerprint":"0000000000abcdef","reason":"rebuilt clean"}"#;
    const GOLDEN_PLUGIN_LOADED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"plugin.loaded","plugin":"errors","version":"0.2.0","source":"builtin:errors","filter":false,"cached":true,"load_ms":6}"#;
    const GOLDEN_PLUGIN_FAILED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"plugin.failed","plugin":"x","reason":"trap","action":"restarting","failures":2,"retry_ms":200}"#;
    const GOLDEN_PLUGIN_LOG: &str =
        r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"plugin.log","plugin":"x","text":"hello"}"#;
    const GOLDEN_OUTPUT_FAILED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"output.failed","error":"No space left on device (os error 28)"}"#;
    const GOLDEN_CLIENT_DROPPED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"client.dropped","reason":"outbox_full","queued_bytes":8388608}"#;
    const GOLDEN_SUMMARY: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"run.summary","exit_code":1,"processes":[{"process":"web","state":"failed","code":1,"signal":null,"duration_ms":2500,"restarts":1,"errors":2,"warnings":0,"ready_ms":12,"errors_open":1,"warnings_open":0,"resolved":1,"tests_passed":3,"tests_failed":1,"urls":["http://localhost:5173/"]}]}"#;
    const GOLDEN_ORPHANS: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"process.orphans_killed","process":"web","pgid":4242,"signal":"SIGKILL"}"#;
    const GOLDEN_READY: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"process.ready","process":"web","probe":"tcp","after_ms":1200,"run":1}"#;
    const GOLDEN_UNREADY: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"process.unready","process":"web","probe":"http","reason":"not ready after 60.0s","waited_ms":60000}"#;
    const GOLDEN_UNHEALTHY: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"process.unhealthy","process":"web","probe":"http","failures":3}"#;
    const GOLDEN_BLOCKED: &str = r#"{"seq":7,"ts":"2026-11-26T14:47:42.007Z","type":"process.blocked","process":"web","dependency":"db","reason":"ended without being ready"}"#;
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
        let base = FindingView {
            kind: "build",
            custom_kind: None,
            severity: "error",
            message: "Found 2 errors.",
            first_seq: 3,
            last_seq: 4,
            file: None,
            line: None,
            column: None,
            code: None,
            url: None,
            language: None,
            fields: &fields,
            fingerprint: 0,
            count: 1,
            id: 0,
        };
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
            ready_ms: Some(12),
            errors_open: 1,
            warnings_open: 0,
            resolved: 1,
            tests_passed: 3,
            tests_failed: 1,
            urls: &urls,
        }];
        let cases: Vec<(Event<'_>, &str)> = vec![
            (Event::DaemonStarted { pid: 1, cwd: "/src/app", processes: &procs }, GOLDEN_DAEMON_STARTED),
            (
                Event::ProcessStarted { process: WEB, pid: 9, command: "npm run dev", restart: 1, run: 2 },
                GOLDEN_STARTED,
            ),
            (Event::ProcessRestarting { process: WEB, attempt: 3, delay_ms: 400 }, GOLDEN_RESTARTING),
            (Event::LogDropped { process: Some(WEB), count: 5, total: 9, reason: "ring_evicted" }, GOLDEN_DROPPED),
            (Event::DaemonStopping { reason: "SIGTERM" }, GOLDEN_STOPPING),
            (Event::DaemonStopped { exit_code: 130 }, GOLDEN_STOPPED),
            (Event::Finding { process: WEB, plugin: "errors", finding: &error }, GOLDEN_ERROR),
            (Event::Finding { process: WEB, plugin: "urls", finding: &url }, GOLDEN_URL),
            (Event::Finding { process: WEB, plugin: "errors", finding: &base }, GOLDEN_BUILD),
            (Event::Finding { process: WEB, plugin: "errors", finding: &test }, GOLDEN_TEST),
            (Event::Finding { process: WEB, plugin: "todo", finding: &todo }, GOLDEN_FINDING),
            (
                Event::ErrorResolved { process: WEB, id: 4, fingerprint: 0xabcdef, reason: "rebuilt clean" },
                GOLDEN_RESOLVED,
            ),
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
            (Event::OutputFailed { error: "No space left on device (os error 28)" }, GOLDEN_OUTPUT_FAILED),
            (Event::ClientDropped { queued_bytes: 8388608, reason: "outbox_full" }, GOLDEN_CLIENT_DROPPED),
            (Event::RunSummary { rows: &rows, exit_code: 1 }, GOLDEN_SUMMARY),
            (Event::OrphansKilled { process: "web", pgid: 4242, signal: libc::SIGKILL }, GOLDEN_ORPHANS),
            (Event::ProcessReady { process: WEB, probe: "tcp", after_ms: 1200, run: 1 }, GOLDEN_READY),
            (
                Event::ProcessUnready {
                    process: WEB,
                    probe: "http",
                    reason: "not ready after 60.0s",
                    waited_ms: 60000,
                },
                GOLDEN_UNREADY,
            ),
            (Event::ProcessUnhealthy { process: WEB, probe: "http", failures: 3 }, GOLDEN_UNHEALTHY),
            (
                Event::ProcessBlocked { process: WEB, dependency: "db", reason: "ended without being ready" },
                GOLDEN_BLOCKED,
            ),
            (Event::ProcessGaveUp { process: WEB, restarts: 5 }, GOLDEN_GAVE_UP),
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
}
