//! Runtime errors and their frames: JS / Java stack traces, node's source
//! frame, Python tracebacks, Go panics; and the choice of the frame that
//! locates an error (the user's code, not libraries or runtime internals).

use crate::Kind;
use crate::blocks::{exc_line, is_caret_line};
use crate::details::*;
use crate::locations::*;
use crate::record::*;
use crate::text::*;

pub(crate) fn py_frame(r: &mut Rec, tw: &[u8]) {
    // File "/path/x.py", line 3, in main
    let body = &tw[6..];
    let Some(q) = memchr::memchr(b'"', body) else {
        return;
    };
    let path = &body[..q];
    let after = &body[q + 1..];
    if let Some(p) = find(after, b"line ")
        && let Some((l, _)) = parse_num(&after[p + 5..])
    {
        // frames run outermost first: the last one in the project wins
        // (strings rewritten in place: a traceback has many frames)
        match &mut r.raised {
            Some((f, line)) => {
                set_str(f, path);
                *line = l;
            }
            None => r.raised = Some((lossy(path), l)),
        }
        let project = !is_library_path(path);
        if project || !r.loc_locked {
            match &mut r.file {
                Some(f) => set_str(f, path),
                None => r.file = Some(lossy(path)),
            }
            r.line = Some(l);
            r.col = None;
            r.loc_locked |= project;
        }
    }
}

/// Rewrites `s` with `bytes` (lossy), reusing its allocation.
fn set_str(s: &mut String, bytes: &[u8]) {
    s.clear();
    match std::str::from_utf8(bytes) {
        Ok(v) => s.push_str(v),
        Err(_) => s.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// Code that is not the user's: dependencies, the standard library and
/// runtime internals (`node_modules`, `site-packages`, `<frozen os>`,
/// `node:internal/...`, `<anonymous>`, the toolchain's own sources).
pub(crate) fn is_library_path(p: &[u8]) -> bool {
    match p.first() {
        None | Some(b'<') => return true,
        _ => {}
    }
    if starts(p, b"node:") || starts(p, b"internal/") || starts(p, b"/usr/include/") || starts(p, b"/usr/lib/") {
        return true;
    }
    // one pass over the path's components (frames are many, paths long)
    let library = |c: &[u8]| match c.first() {
        Some(b'n') => starts(c, b"node_modules"),
        Some(b'l') => starts(c, b"lib/python") || starts(c, b"lib/gcc/"),
        Some(b'r') => starts(c, b"rustc/"),
        Some(b'.') => starts(c, b".cargo/registry/"),
        Some(b's') => starts(c, b"src/runtime/") || starts(c, b"src/testing/"),
        _ => false,
    };
    library(p) || memchr::memchr_iter(b'/', p).any(|i| library(&p[i + 1..]) || p[..i].ends_with(b"-packages"))
}

pub(crate) fn stack_frame(r: &mut Rec, t: &[u8], tw: &[u8]) {
    r.frames += 1;
    if r.frames == 1 {
        r.frame_ind = (t.len() - tw.len()).min(u16::MAX as usize) as u16;
    }
    r.confirmed = true;
    let mut body = &tw[3..];
    if let Some(b) = body.strip_suffix(b" {") {
        body = b;
    }
    let inner = if body.ends_with(b")") {
        match memchr::memrchr(b'(', body) {
            Some(p) => &body[p + 1..body.len() - 1],
            None => body,
        }
    } else {
        body
    };
    if r.language.is_none() || r.language == Some("javascript") && r.frames == 1 && r.file.is_none() {
        let java =
            t[0] == b'\t' || contains(inner, b".java:") || inner == b"Native Method" || inner == b"Unknown Source";
        if java {
            r.language = Some("java");
        } else if r.language.is_none() {
            r.language = Some("javascript");
        }
    }
    if r.loc_locked && r.col.is_none() {
        // node's source frame `file:///app/db.mjs:3` gave no column: the
        // frame at the same line has it
        if let Some((p, l, Some(c))) = loc_from_end(inner)
            && r.line == Some(l)
            && r.file.as_deref().is_some_and(|f| p.ends_with(f.as_bytes()))
        {
            r.col = Some(c);
        }
        return;
    }
    if r.loc_locked || r.file.is_some() {
        return;
    }
    if starts(inner, b"node:") || starts(inner, b"internal/") {
        return;
    }
    if let Some((p, l, c)) = loc_from_end(inner) {
        if r.raised.is_none() {
            r.raised = Some((lossy(p), l));
        }
        let jdk = r.language == Some("java") && {
            let f = body;
            starts(f, b"java.")
                || starts(f, b"jdk.")
                || starts(f, b"sun.")
                || starts(f, b"javax.")
                || starts(f, b"kotlin.")
                || starts(f, b"org.junit.")
        };
        if jdk || is_library_path(p) {
            if r.fallback.is_none() {
                r.fallback = Some((lossy(p), l, c));
            }
            return;
        }
        r.file = Some(lossy(p));
        r.line = Some(l);
        r.col = c;
        if let Some(lang) = language_of(p)
            && (lang == "typescript" || r.language != Some("java"))
        {
            r.language = Some(lang);
        }
    }
}

/// A frame of a failing test: the first frame in the project wins, the
/// throw site in a source file as much as an assertion's line in the test
/// file; node internals and `node_modules` are skipped.
pub(crate) fn test_frame(r: &mut Rec, p: &[u8], l: u32, c: Option<u32>) {
    if r.raised.is_none() {
        r.raised = Some((lossy(p), l));
    }
    if r.loc_locked || is_library_path(p) {
        return;
    }
    r.set_loc(p, l, c);
    r.loc_locked = true;
}

pub(crate) fn cont_stack(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if r.message.is_empty() && !ws && t.get(count_digits(t)) != Some(&b':') {
        // a test runner's header (JUnit 4 `1) name`) precedes the exception line
        r.message = lossy(trim(t));
        r.confirmed = true;
        return Accept;
    }
    if r.frames == 0 && r.file.is_none() && starts(t, b"Traceback (most recent call last)") {
        // a log line (`Internal Server Error: /cart`) introducing a traceback
        r.mode = Mode::PyTb;
        r.stage = 0;
        r.language = Some("python");
        return Accept;
    }
    if ws && starts(tw, b"at ") {
        stack_frame(r, t, tw);
        return Accept;
    }
    if ws && starts(tw, b"...") && tw.ends_with(b" more") {
        return Accept;
    }
    if starts(tw, b"Caused by:") || (ws && starts(tw, b"Suppressed: ")) {
        return Accept;
    }
    if r.frames == 0 {
        if is_assertion_detail(t) {
            return Accept;
        }
        if r.kind == Kind::Warning && r.loose && !ws && r.lines < 3 {
            // React `Warning: ...` + blank + `Check the render method of ...`
            r.lines += 1;
            return Accept;
        }
        if r.loose && r.lines < 80 && detail_line(r, t, tw, ws) {
            r.lines += 1;
            return Accept;
        }
        if r.node_origin && r.lines < 8 {
            r.lines += 1;
            return Accept;
        }
        if starts(t, b"Require stack:") {
            r.stage = 1;
            return Accept;
        }
        if r.stage == 1 && starts(t, b"- ") {
            return Accept;
        }
        return Reject;
    }
    if r.stage == 8 {
        // after the `}` closing node's inspected error: only its exit banner
        return if starts(t, b"Node.js v") { Accept } else { Reject };
    }
    if t == b"}" && r.frames > 0 {
        r.stage = 8;
        return Accept;
    }
    let js = r.language != Some("java");
    // (node's closing `Node.js v20.1.0` line ends its crash report)
    // (Next.js adds a `digest: "339..."` line and a code frame)
    let code_frame = (starts(t, b"> ") && count_digits(&t[2..]) > 0) || starts(t, b"digest: ");
    if ws && t.len() - tw.len() < r.frame_ind as usize && !is_gutter_line(tw) && !is_prop_line(tw) {
        // less indented than the frames, no code frame and no property of
        // the inspected error (`  code: 'EADDRINUSE',`): the tool's next
        // line (Next.js ` GET / 500 in 2163ms`)
        return Reject;
    }
    if js && (ws || code_frame || starts(t, b"}") || starts(t, b"Node.js v") || starts(t, b"Emitted 'error' event")) {
        return Accept;
    }
    Reject
}

pub(crate) fn cont_node_frame(r: &mut Rec, t: &[u8], tw: &[u8], _ws: bool) -> Cont {
    use Cont::*;
    match r.stage {
        0 => {
            r.stage = 1;
            Accept
        }
        1 => {
            if is_caret_line(tw) && contains(tw, b"^") {
                r.stage = 2;
                Accept
            } else {
                Reject
            }
        }
        _ => {
            r.message = lossy(trim(t));
            r.confirmed = true;
            r.mode = Mode::Stack;
            r.node_origin = true;
            if r.language.is_none() {
                r.language = Some("javascript");
            }
            Accept
        }
    }
}

pub(crate) fn cont_py_tb(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    match r.stage {
        0 => {
            if ws {
                if starts(tw, b"File \"") {
                    py_frame(r, tw);
                }
                return Accept;
            }
            if starts(t, b"During handling of the above exception")
                || starts(t, b"The above exception was the direct cause")
            {
                r.stage = 2;
                return Accept;
            }
            if !r.confirmed
                && exc_line(t).is_none()
                && !t.iter().take_while(|b| **b != b':').all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
            {
                return Reject;
            }
            r.message = lossy(trim(t));
            r.confirmed = true;
            r.stage = 1;
            Accept
        }
        1 => {
            if starts(t, b"During handling of the above exception")
                || starts(t, b"The above exception was the direct cause")
            {
                r.stage = 2;
                Accept
            } else {
                Reject
            }
        }
        _ => {
            if starts(t, b"Traceback (most recent call last)") {
                r.stage = 0;
                Accept
            } else {
                Reject
            }
        }
    }
}

pub(crate) fn cont_go_panic(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if ws {
        if r.file.is_none() && !contains(tw, b"/src/runtime/") && !contains(tw, b"/src/testing/") {
            let end = find(tw, b" +0x").unwrap_or(tw.len());
            if let Some((p, l, c)) = loc_from_end(&tw[..end])
                && language_of(p) == Some("go")
            {
                r.set_loc(p, l, c);
            }
        }
        return Accept;
    }
    if starts(t, b"goroutine ") || starts(t, b"created by ") || starts(t, b"[signal ") || starts(t, b"panic: ") {
        return Accept;
    }
    if t.ends_with(b")") && memchr::memchr(b'(', t).is_some_and(|p| memchr::memchr(b' ', &t[..p]).is_none()) {
        return Accept;
    }
    Reject
}

pub(crate) fn cont_npm(_r: &mut Rec, t: &[u8], _tw: &[u8], _ws: bool) -> Cont {
    use Cont::*;
    if starts(t, b"npm ERR!") || starts(t, b"npm error") { Accept } else { Reject }
}

pub(crate) fn cont_single(r: &mut Rec, t: &[u8], _tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if r.stage == 6 && starts(t, b"(Use `node --trace-") {
        // node's hint under its warning
        r.stage = 0;
        return Accept;
    }
    if r.tb_merge && !ws && t.len() >= 20 && t.iter().all(|b| *b == b'-') {
        // unittest `FAIL: test_x (mod.Class.test_x)`, a rule, the traceback
        return Accept;
    }
    if r.tb_merge && starts(t, b"Traceback (most recent call last)") {
        r.mode = Mode::PyTb;
        r.stage = 0;
        r.confirmed = true;
        r.language = Some("python");
        return Accept;
    }
    if r.stage == 7 && ws && r.message.is_empty() {
        // Gradle `    java.lang.ArrayIndexOutOfBoundsException at EdgeTest.java:10`
        let tw = trim(t);
        let (msg, loc) = match find(tw, b" at ") {
            Some(p) => (&tw[..p], loc_from_end(&tw[p + 4..])),
            None => (tw, None),
        };
        r.message = lossy(msg);
        if let Some((p, l, c)) = loc {
            r.set_loc(p, l, c);
        }
        r.confirmed = true;
        return Accept;
    }
    if r.paragraph && !ws && r.lines < 8 && crate::notices::is_paragraph_line(t) {
        // a notice's paragraph: what to do instead, up to a blank line
        r.lines += 1;
        return Accept;
    }
    if r.cont_ws && ws && r.lines < 20 {
        r.lines += 1;
        Accept
    } else {
        Reject
    }
}
