//! The detail lines of an error header that announces them: code frames
//! and their gutters (ASCII and Unicode), the caret or marker line that
//! refines a frame's location, a tool's own message and `File:` lines, the
//! properties of an inspected error object, an assertion's expected /
//! received lines. Used by `frames`' stack rule.

use crate::blocks::exc_line;
use crate::locations::*;
use crate::record::*;
use crate::text::*;

/// The detail lines of an error header that announces them (`Transform
/// failed with 1 error:`, `Internal server error: x`, `error during
/// build:`): indented lines, code frames and their gutters, the tool's own
/// message lines (`[PARSE_ERROR] msg`, `✘ [ERROR] msg`, `path:l:c: ERROR:
/// msg`, `[plugin] msg`), `File:` lines, and a line that restates the
/// message. The first location found locates the error; a header that ends
/// with ':' takes the first detail message as its message.
pub(crate) fn detail_line(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> bool {
    let g = trim_start(strip_gutter(tw));
    let mut msg: Option<(&[u8], Option<&[u8]>)> = None;
    let mut ok = ws || g.len() != tw.len();
    if let Some(rest) = g.strip_prefix("✘ [ERROR] ".as_bytes()) {
        msg = Some((rest, None));
        ok = true;
    } else if let Some(rest) = g.strip_prefix(b"x ").filter(|_| ws) {
        // SWC (Next.js) `  x Unexpected token \`main\``
        msg = Some((rest, None));
    } else if g.first() == Some(&b'[')
        && let Some(p) = memchr::memchr(b']', g)
    {
        // `[PARSE_ERROR] Expected ...` (a code), `[builtin:vite-transform] Expected ...`,
        // `[vite:esbuild] Transform failed with 1 error:` (a plugin's sub-header)
        let inner = &g[1..p];
        let rest = trim(&g[p + 1..]);
        if !inner.is_empty() && inner.iter().all(|b| b.is_ascii_uppercase() || *b == b'_') {
            msg = Some((rest, Some(inner)));
        } else if !rest.ends_with(b":") {
            msg = Some((rest, None));
        }
        ok = true;
    }
    if let Some((path, line, col)) = detail_loc(tw).or_else(|| if g.len() != tw.len() { detail_loc(g) } else { None }) {
        ok = true;
        if let Some(e) = find(g, b": ERROR: ") {
            msg = Some((&g[e + 9..], None));
        }
        if !r.loc_locked {
            r.set_loc(path, line, col);
            r.loc_locked = !crate::frames::is_library_path(path);
            // a frame's header at column 1 (SWC `,-[path:3:1]` / `╭─[path:3:1]`)
            // is where the frame starts: the marker under it tells the column
            r.stage = u8::from((starts(tw, b",-[") || starts(tw, "╭─[".as_bytes())) && col.is_none_or(|c| c <= 1));
        }
    }
    caret_column(r, t);
    if let Some((m, code)) = msg {
        if r.message.ends_with(':') && !r.detail {
            r.message = lossy(trim(m));
            r.code = code.map(lossy);
            r.detail = true;
        }
    } else if !ok {
        // a line that restates the message (Vite 5 build repeats esbuild's),
        // a sub-header (`[vite:esbuild] Transform failed with 1 error:`,
        // `Import trace for requested module:`) or a module it lists (`./app/page.tsx`)
        ok = (r.detail && !t.is_empty() && r.message.as_bytes() == trim(t))
            || (t.ends_with(b":") && !crate::blocks::phrase_error(t) && exc_line(t).is_none())
            || (starts(t, b"./") && has_extension(t));
    }
    ok
}

/// Code frames: remembers the number of the last code line and where its
/// gutter bar is (in columns of the whole line: frames indent their lines
/// unevenly); a marker line under it refines a frame-start location
/// (`r.stage == 1`) to the marker's line and column. ASCII frames (`  8 |
/// code` + `    |   ^`) and Unicode ones (`  8 │ code` + `    ·   ─`).
fn caret_column(r: &mut Rec, t: &[u8]) {
    // most detail lines are neither: a code line starts with its number, a
    // marker line only matters under a frame's header
    let tw = trim_start(t);
    let lead = tw.strip_prefix(b">").map_or(tw, trim_start);
    if !lead.first().is_some_and(u8::is_ascii_digit) && (r.stage != 1 || r.counts[0] == 0) {
        return;
    }
    let Ok(line) = std::str::from_utf8(t) else { return };
    let tw = line.trim_start();
    let lead = tw.strip_prefix('>').map_or(tw, str::trim_start);
    let d = lead.bytes().take_while(u8::is_ascii_digit).count();
    if d > 0 {
        let rest = lead[d..].trim_start_matches(' ');
        if let Some(bar) = rest.chars().next().filter(|c| matches!(c, '|' | ':' | '│' | '┃'))
            && let Some((n, _)) = parse_num(lead.as_bytes())
        {
            let _ = bar;
            r.counts[0] = n;
            r.counts[1] = line[..line.len() - rest.len()].chars().count() as u32;
        }
        return;
    }
    if r.stage != 1 || r.counts[0] == 0 {
        return;
    }
    // `   :      ^^^^` / `    |         ^` / `    ·         ─`: the bar in
    // the same column as the code line's, the marker's column after it
    let bar = r.counts[1] as usize;
    let mut chars = line.chars().skip(bar);
    if matches!(chars.next(), Some('|' | ':' | '·' | '│' | '┆'))
        && let Some(c) = chars.position(|c| matches!(c, '^' | '─' | '┬' | '━'))
    {
        r.line = Some(r.counts[0]);
        r.col = Some(c as u32);
        r.stage = 2;
    }
}

/// The expected / received lines of a failed assertion between its message
/// and its frames (`Expected: 1`, `Received: 1.5`, `- Expected  - 1`).
pub(crate) fn is_assertion_detail(t: &[u8]) -> bool {
    let s = t.strip_prefix(b"- ").or_else(|| t.strip_prefix(b"+ ")).unwrap_or(t);
    starts(s, b"Expected") || starts(s, b"Received")
}

/// A property of an inspected error object: `code: 'E1',`, `[cause]: Error: x`, `}`.
pub(crate) fn is_prop_line(tw: &[u8]) -> bool {
    if matches!(tw.first(), Some(b'}' | b']')) {
        // a nested object's closing brace
        return true;
    }
    let n = if tw.first() == Some(&b'[') {
        memchr::memchr(b']', tw).map_or(0, |p| p + 1)
    } else {
        tw.iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$')).count()
    };
    n > 0 && tw.get(n) == Some(&b':')
}

/// A code-frame line: `2 | code`, `> 4 | code`, `  |   ^`, `5 │ code`.
pub(crate) fn is_gutter_line(tw: &[u8]) -> bool {
    let s = tw.strip_prefix(b">").map_or(tw, trim_start);
    let s = trim_start(&s[count_digits(s)..]);
    s.first() == Some(&b'|') || starts(s, "│".as_bytes()) || starts(s, "┃".as_bytes())
}

/// Code-frame gutters: `  5 │ code`, `   │`, `───╯`, `3  |  code`, `   |   ^`
fn strip_gutter(tw: &[u8]) -> &[u8] {
    let mut s = tw;
    if let Some(r) = s.strip_prefix(b">") {
        s = trim_start(r);
    }
    let digits = count_digits(s);
    s = trim_start(&s[digits..]);
    for g in ["│", "╭", "╰", "─", "╵", "┬", "|", ":", "`"] {
        // (a number before `:` is a location, `7:29`, not a gutter)
        if digits > 0 && g == ":" {
            continue;
        }
        if let Some(rest) = s.strip_prefix(g.as_bytes()) {
            return rest;
        }
    }
    tw
}
