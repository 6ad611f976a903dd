//! The pages brum answers with when the dev server cannot: the 502 page,
//! which names the process, says what went wrong, and shows the process's
//! latest error finding — usually the reason the server is down.
//!
//! Leaf: strings in, HTML out (everything from outside escaped).

use std::fmt::Write;

/// The latest open error of a process, as the 502 page shows it.
#[derive(Debug, Clone, Default)]
pub struct LastError {
    pub message: String,
    /// `file:line:column` when the finding has one.
    pub location: Option<String>,
}

/// What the 502 page says.
#[derive(Debug, Clone)]
pub struct Unavailable<'a> {
    pub process: &'a str,
    /// The dev server's URL.
    pub url: &'a str,
    /// What happened (`connection refused`, `closed the connection ...`).
    pub reason: &'a str,
    /// The process's state (`running`, `exited with code 1`, ...).
    pub state: &'a str,
    pub last_error: Option<&'a LastError>,
}

/// Appends `s` with HTML's special characters escaped.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// The 502 page.
pub fn unavailable(u: &Unavailable<'_>) -> String {
    let mut h = String::with_capacity(1024);
    let e = |h: &mut String, s: &str| escape_into(h, s);
    h.push_str("<!doctype html><html><head><meta charset=\"utf-8\"><title>502 · ");
    e(&mut h, u.process);
    h.push_str(
        " is not answering</title><style>body{font:15px/1.5 system-ui,sans-serif;margin:3em auto;max-width:50em;\
         padding:0 1em;color:#222}code,pre{font:13px ui-monospace,monospace;background:#f4f4f4;padding:.1em .3em}\
         pre{padding:1em;white-space:pre-wrap}.err{border-left:4px solid #c33;padding-left:1em}</style></head><body>",
    );
    h.push_str("<h1>502: <code>");
    e(&mut h, u.process);
    h.push_str("</code> is not answering</h1><p>brum's proxy could not get a response from <code>");
    e(&mut h, u.url);
    h.push_str("</code>: ");
    e(&mut h, u.reason);
    h.push_str(".</p><p>The process is ");
    e(&mut h, u.state);
    h.push_str(".</p>");
    match u.last_error {
        Some(err) => {
            h.push_str("<div class=\"err\"><p>Its latest error");
            if let Some(loc) = &err.location {
                h.push_str(" at <code>");
                e(&mut h, loc);
                h.push_str("</code>");
            }
            h.push_str(":</p><pre>");
            e(&mut h, &err.message);
            h.push_str("</pre></div>");
        }
        None => h.push_str("<p>brum has seen no error in its output.</p>"),
    }
    h.push_str("<p>See its output with <code>brum logs ");
    e(&mut h, u.process);
    h.push_str("</code>, its errors with <code>brum errors</code>; reload this page once it is up again.</p>");
    h.push_str("</body></html>\n");
    h
}

/// A short plain-text body for the other statuses brum answers itself.
pub fn plain(status: u16, reason: &str) -> String {
    let mut s = String::with_capacity(64 + reason.len());
    let _ = writeln!(s, "{status} {}: {reason}", super::http::reason(status));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_502_page_names_the_process_and_shows_its_latest_error_escaped() {
        let err = LastError { message: "TypeError: x is <undefined>".into(), location: Some("src/App.tsx:9:7".into()) };
        let page = unavailable(&Unavailable {
            process: "web",
            url: "http://localhost:5173/",
            reason: "connection refused",
            state: "exited with code 1",
            last_error: Some(&err),
        });
        assert!(page.contains("<code>web</code> is not answering"), "{page}");
        assert!(page.contains("TypeError: x is &lt;undefined&gt;"), "{page}");
        assert!(page.contains("src/App.tsx:9:7") && page.contains("exited with code 1"), "{page}");
        let none = unavailable(&Unavailable {
            last_error: None,
            process: "<b>",
            ..Unavailable { process: "", url: "u", reason: "r", state: "s", last_error: None }
        });
        assert!(none.contains("&lt;b&gt;") && none.contains("no error"), "{none}");
    }
}
