//! Notices: warnings a tool or library writes as plain sentences, with no
//! level word, no marker and no location. Two general kinds, whatever the
//! tool:
//! - a **deprecation notice**: something the user runs or uses "is
//!   deprecated" / "has been deprecated" (`` `next lint` is deprecated and
//!   will be removed in Next.js 16.``, `Option --legacy is deprecated`), with
//!   the paragraph under it (what to do instead);
//! - a **library's own runtime notice**, a sentence whose subject is the
//!   library and whose verb says it ran into something (`React encountered
//!   an empty buffer ...`, `React has detected a change in the order of
//!   Hooks`, `Next.js detected ...`) — frameworks print these in
//!   development without a `Warning:` prefix.
//!
//! Only an unclaimed, unindented line with nothing open is asked. The fast
//! reject keeps a library's notice (it looks at the word after the first);
//! a deprecation is looked for only in the lines the reject keeps anyway —
//! with a ':' (`Use: ...`, a URL), a '|', a first byte that is no letter
//! (`` `next lint` ``, `"legacy"`), or while a record or list is open. A
//! search of every line for ` deprecated` in the reject, measured in the
//! plugin, cost 4 ns a line of healthy output (12 %); a sentence like
//! `Option x is deprecated` alone in healthy output is therefore skipped.
//! The past tense (`were deprecated in JDK 13`) tells history, not the
//! user's next step, and is no notice. Imports only `text`.

use crate::text::*;

/// The words of a deprecation, each after a space.
const DEPRECATED: &[&[u8]] =
    &[b" is deprecated", b" are deprecated", b" has been deprecated", b" have been deprecated"];

/// The verbs of a library's runtime notice, after its name.
const NOTICED: &[&[u8]] = &[b"encountered ", b"detected ", b"has detected "];

/// Whether `t` (normalized, unindented) is a notice: a warning of its own.
pub(crate) fn is_notice(t: &[u8]) -> bool {
    is_deprecation(t) || is_library_notice(t)
}

/// `X is deprecated` / `X has been deprecated` anywhere in the sentence.
pub(crate) fn is_deprecation(t: &[u8]) -> bool {
    if !has_deprecated(t) {
        return false;
    }
    let mut from = 0;
    while let Some(p) = find(&t[from..], b" deprecated") {
        let at = from + p;
        if DEPRECATED.iter().any(|d| t[..at + 11].ends_with(d)) {
            return true;
        }
        from = at + 11;
    }
    false
}

/// `Name verb ...`: a capitalized name (`React`, `Next.js`), one space, a
/// verb of [`NOTICED`], and more words after it.
fn is_library_notice(t: &[u8]) -> bool {
    if !t.first().is_some_and(u8::is_ascii_uppercase) {
        return false;
    }
    let n = t.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'.').count();
    let Some(rest) = t[n..].strip_prefix(b" ") else { return false };
    NOTICED.iter().any(|v| rest.len() > v.len() && starts(rest, v))
}

/// A line of a notice's paragraph (what to do instead): unindented prose
/// that is no record of its own.
pub(crate) fn is_paragraph_line(t: &[u8]) -> bool {
    t.first().is_some_and(u8::is_ascii_alphabetic)
        && !starts(t, b"error")
        && !starts(t, b"warning")
        && crate::blocks::exc_line(t).is_none()
        && !crate::blocks::is_level_error(t)
        && crate::locations::parse_loc(t).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deprecations_and_library_notices() {
        for t in [
            &b"`next lint` is deprecated and will be removed in Next.js 16."[..],
            b"Option --legacy is deprecated, use --modern",
            b"The CJS build of Vite's Node API is deprecated. See https://vite.dev/guide/troubleshooting.html",
            b"This API has been deprecated and will be removed in v3",
            b"React encountered an empty buffer when writing in an environment that does not support it.",
            b"React has detected a change in the order of Hooks called by Cart.",
            b"Next.js detected multiple lockfiles",
        ] {
            assert!(is_notice(t), "{}", lossy(t));
        }
        for t in [
            &b"OpenJDK 64-Bit Server VM warning: Options -Xverify:none and -noverify were deprecated in JDK 13"[..],
            b"deprecated option \"legacy\" ignored",
            b"npm warn deprecated glob@7.2.3: Glob versions prior to v9 are no longer supported",
            b"the deprecated flag was removed",
            b"React Router ready",
            b"react encountered",
            b"React detected",
            b"GET /api 200 in 12ms",
        ] {
            assert!(!is_notice(t), "{}", lossy(t));
        }
    }

    #[test]
    fn notices_in_healthy_output() {
        // (the fast reject on: the notices come after lines it skips)
        let lines = [
            "GET / 200 in 5ms",
            "`--legacy` is deprecated and will be removed in v3.",
            "Use --modern instead.",
            "",
            "GET / 200 in 4ms",
            "React encountered an empty buffer when writing in an old runtime.",
            " GET / 500 in 12ms",
            "ready in 3ms",
        ];
        let mut d = crate::Detector::new(crate::Settings::default());
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let seq = i as u64 + 1;
            let line = crate::LineIn {
                process: 1,
                pipe: crate::Stream::Stdout,
                truncated: false,
                seq,
                ts_ms: seq as i64,
                bytes: l.as_bytes(),
            };
            d.on_line(&line, &mut out);
        }
        d.on_process_end(1, &mut out);
        let got: Vec<_> = out.iter().map(|f| (f.kind, f.first_seq, f.last_seq, f.message.as_str())).collect();
        assert_eq!(got, [(crate::Kind::Warning, 2, 3, lines[1]), (crate::Kind::Warning, 6, 6, lines[5]),]);
    }
}
