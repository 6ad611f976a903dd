//! NDJSON encoding of [`Event`]s: one object per line, keys in a fixed
//! order, `text` for UTF-8 line content and `bytes` (standard base64) when
//! the content is not valid UTF-8, so nothing a child prints is lost.

use super::{Event, FindingView, ProcRef, Timestamps};

/// Appends one event as a JSON object and a newline to `out`.
pub fn encode(out: &mut Vec<u8>, ts: &mut Timestamps, seq: u64, ts_ms: i64, ev: &Event<'_>) {
    if let Event::LogLine { process, stream, line, truncated, boost, tag } = *ev {
        encode_line(out, ts, seq, ts_ms, process, stream, line, [truncated, boost], tag);
        return;
    }
    out.reserve(256);
    out.extend_from_slice(b"{\"seq\":");
    ts.write_seq(out, seq);
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
        Event::Finding { process, plugin, finding: f } => {
            proc_key(out, process);
            key(out, "plugin");
            push_str(out, plugin);
            encode_finding(out, f);
        }
        Event::ProxyRequest { process, method, path, status, duration_us, bytes_in, bytes_out, upgrade, error } => {
            proc_key(out, process);
            key(out, "method");
            push_str(out, method);
            key(out, "path");
            push_str(out, path);
            key(out, "status");
            push_u64(out, u64::from(status));
            key(out, "duration_ms");
            push_millis(out, duration_us);
            key(out, "bytes_in");
            push_u64(out, bytes_in);
            key(out, "bytes_out");
            push_u64(out, bytes_out);
            key(out, "upgrade");
            out.extend_from_slice(if upgrade { b"true" } else { b"false" });
            opt_str(out, "error", error);
        }
        _ => {}
    }
    out.extend_from_slice(b"}\n");
}

/// A `log.line`, the event of almost every line a child prints: its
/// constant parts go in whole, the buffer grows once.
#[allow(clippy::too_many_arguments)]
#[inline]
fn encode_line(
    out: &mut Vec<u8>,
    ts: &mut Timestamps,
    seq: u64,
    ts_ms: i64,
    process: ProcRef<'_>,
    stream: crate::store::Stream,
    line: &[u8],
    [truncated, boost]: [bool; 2],
    tag: Option<&str>,
) {
    out.reserve(192 + process.name.len() + line.len());
    out.extend_from_slice(b"{\"seq\":");
    ts.write_seq(out, seq);
    out.extend_from_slice(b",\"ts\":\"");
    ts.write(out, ts_ms);
    out.extend_from_slice(b"\",\"type\":\"log.line\",\"process\":");
    push_str(out, process.name);
    out.extend_from_slice(match stream {
        crate::store::Stream::Stdout => b",\"stream\":\"stdout\"",
        crate::store::Stream::Stderr => b",\"stream\":\"stderr\"",
    });
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
            // where it was seen when not in a process's output ("browser")
            opt_str(out, "source", f.field("source"));
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
            // one that counts as a warning or error is tracked like them
            if f.id > 0 {
                key(out, "fingerprint");
                out.push(b'"');
                push_hex(out, f.fingerprint);
                out.push(b'"');
                key(out, "count");
                push_u64(out, u64::from(f.count));
                key(out, "id");
                push_u64(out, f.id);
            }
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
pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    let (buf, n) = decimal(v);
    // the fixed-size buffer is appended whole and then cut back: a copy of
    // a constant size is a couple of moves, a copy of a variable one a call
    // into memcpy (per event)
    let len = out.len();
    out.extend_from_slice(&buf);
    out.truncate(len + n);
}

/// The decimal digits of `v` at the front of a buffer, and their count.
#[inline]
pub(super) fn decimal(mut v: u64) -> ([u8; 20], usize) {
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
    let n = v.checked_ilog10().map_or(1, |l| l as usize + 1);
    let mut buf = [0u8; 20];
    let mut i = n;
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
    (buf, n)
}

/// Appends microseconds as milliseconds with three decimals (`0.412`).
pub fn push_millis(out: &mut Vec<u8>, us: u64) {
    push_u64(out, us / 1000);
    let frac = us % 1000;
    out.extend_from_slice(&[b'.', b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8, b'0' + (frac % 10) as u8]);
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
    #[cfg(target_arch = "x86_64")]
    {
        plain_prefix_sse2(bytes)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        plain_prefix_swar(bytes)
    }
}

/// [`plain_prefix`] 16 bytes at a time: one signed compare finds control
/// bytes and non-ASCII together (bytes from 0x80 are negative), two more
/// the quote and the backslash; the last partial block is the final 16
/// bytes, overlapping.
#[cfg(target_arch = "x86_64")]
#[inline]
fn plain_prefix_sse2(bytes: &[u8]) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let special = |at: usize| -> u32 {
        debug_assert!(at + 16 <= bytes.len());
        // SAFETY: SSE2 is part of every x86_64 CPU; the unaligned load
        // reads bytes[at..at + 16], inside the slice (callers check).
        unsafe {
            let x = _mm_loadu_si128(bytes.as_ptr().add(at).cast::<__m128i>());
            let low = _mm_cmplt_epi8(x, _mm_set1_epi8(0x20));
            let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
            _mm_movemask_epi8(_mm_or_si128(low, _mm_or_si128(quote, backslash))) as u32
        }
    };
    let len = bytes.len();
    if len < 16 {
        return bytes.iter().position(|&b| !PLAIN[b as usize]).unwrap_or(len);
    }
    let mut i = 0;
    while i + 16 <= len {
        let m = special(i);
        if m != 0 {
            return i + m.trailing_zeros() as usize;
        }
        i += 16;
    }
    if i < len {
        // the last 16 bytes; the ones before `i` were passed already
        let m = special(len - 16) >> (i - (len - 16));
        if m != 0 {
            return i + m.trailing_zeros() as usize;
        }
    }
    len
}

/// [`plain_prefix`] 8 bytes at a time in a `u64` (SWAR), where there is no
/// SSE2 (and as the reference the tests compare with).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn plain_prefix_swar(bytes: &[u8]) -> usize {
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
#[path = "json_tests.rs"]
mod tests;
