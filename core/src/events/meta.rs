//! The header of an encoded event (seq, type, process), read without a
//! full JSON parse: the control socket filters and indexes events by it.
//! It sits beside [`super::json`] because it relies on that encoder's exact
//! layout.

/// The leading fields of an encoded event: seq, type and process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMeta<'a> {
    pub seq: u64,
    pub ty: &'a str,
    pub process: Option<&'a str>,
}

/// Reads the header of an event line as [`super::json::encode`] writes it
/// (`{"seq":N,"ts":"...","type":"T","process":"P",...`) without a full
/// JSON parse: it lives next to the encoder because it relies on its exact
/// layout (a 24-character `ts` right after the seq); a line written by
/// anything else is searched instead.
pub fn event_meta(line: &[u8]) -> Option<EventMeta<'_>> {
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let seq = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    // events::json writes `,"ts":"<24 chars>","type":"` right after the
    // seq: look there first, search only if something else wrote the line
    let fixed = digits + 7 + 24;
    let ty_at = if rest.get(digits..digits + 7) == Some(b",\"ts\":\"")
        && rest.get(fixed..fixed + 10) == Some(b"\",\"type\":\"")
    {
        fixed + 10
    } else {
        memchr::memmem::find(rest, b"\"type\":\"")? + 8
    };
    let ty_len = memchr::memchr(b'"', &rest[ty_at..])?;
    let ty = std::str::from_utf8(&rest[ty_at..ty_at + ty_len]).ok()?;
    let after = &rest[ty_at + ty_len + 1..];
    let process = after.strip_prefix(b",\"process\":\"").and_then(|p| {
        // process names are plain (validated), so no escapes to handle
        let n = memchr::memchr(b'"', p)?;
        std::str::from_utf8(&p[..n]).ok()
    });
    Some(EventMeta { seq, ty, process })
}
