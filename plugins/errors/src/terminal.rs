//! Text that a terminal UI scrolled up above its live status: progress-bar
//! tools (cargo nextest, indicatif) print permanent lines padded with
//! spaces to the terminal's width and no newline, between redraws of their
//! bar (`\r`, cursor moves, erase-line), so a whole report can arrive as
//! one physical line. Normalization keeps only the text after the last
//! `\r` (a redraw replaces what was before); here the earlier segments that
//! span several padded rows are cut back into their rows. Imports only
//! `text` helpers and the SDK's ANSI stripping.

use crate::text::*;

/// The shortest physical line that can hold scrolled rows (two rows of the
/// narrowest width looked for).
pub const MIN_LEN: usize = 2 * MIN_WIDTH;
const MIN_WIDTH: usize = 60;
const MAX_WIDTH: usize = 400;

/// Whether `raw` has a `\r` before its end: a redraw inside the line.
pub fn has_redraw(raw: &[u8]) -> bool {
    let end = raw.iter().rposition(|b| !matches!(b, b'\r' | b'\n')).map_or(0, |p| p + 1);
    memchr::memchr(b'\r', &raw[..end]).is_some()
}

/// Calls `row` with each row of the segments of `raw` (split at `\r`)
/// that hold two or more rows padded to one width, in order, without their
/// padding; the last non-blank segment is left to normalization. `buf` is
/// scratch space.
pub fn scrolled_rows(raw: &[u8], s: &mut Scratch, mut row: impl FnMut(&[u8])) {
    let raw = trim_end_newline(raw);
    // the last segment with text is normalization's
    let (mut end, mut last) = (raw.len(), None);
    for p in memchr::memrchr_iter(b'\r', raw) {
        brum_plugin_sdk::text::strip_ansi_into(&raw[p + 1..end], &mut s.text);
        if !is_blank(&s.text) {
            last = Some(p);
            break;
        }
        end = p;
    }
    let Some(last) = last else { return };
    let mut start = 0;
    for end in memchr::memchr_iter(b'\r', &raw[..last]).chain(std::iter::once(last)) {
        let seg = &raw[start..end];
        start = end + 1;
        if seg.len() < MIN_LEN {
            continue;
        }
        brum_plugin_sdk::text::strip_ansi_into(seg, &mut s.text);
        // character boundaries: a row is a number of columns, one per char
        s.chars.clear();
        s.chars.extend((0..s.text.len()).filter(|&i| (s.text[i] & 0xC0) != 0x80));
        let Some(w) = row_width(&s.text, &s.chars) else { continue };
        for r in 0..s.chars.len() / w {
            let a = s.chars[r * w];
            let b = s.chars.get((r + 1) * w).copied().unwrap_or(s.text.len());
            row(trim_end(&s.text[a..b]));
        }
    }
}

/// Reused buffers of [`scrolled_rows`].
#[derive(Default)]
pub struct Scratch {
    text: Vec<u8>,
    chars: Vec<usize>,
}

/// The width the text was padded to: the narrowest one that cuts it into
/// two or more rows each ending in a space.
fn row_width(text: &[u8], chars: &[usize]) -> Option<usize> {
    let n = chars.len();
    (MIN_WIDTH..=MAX_WIDTH.min(n / 2)).find(|&w| {
        n.is_multiple_of(w)
            && (1..=n / w).all(|r| {
                let last = chars[r * w - 1];
                text[last] == b' '
            })
    })
}

fn trim_end_newline(s: &[u8]) -> &[u8] {
    let n = s.iter().rev().take_while(|b| matches!(b, b'\r' | b'\n')).count();
    &s[..s.len() - n]
}

fn trim_end(s: &[u8]) -> &[u8] {
    let n = s.iter().rev().take_while(|b| b.is_ascii_whitespace()).count();
    &s[..s.len() - n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_a_padded_segment() {
        let pad = |s: &str| format!("{s:<80}");
        let report =
            format!("{}{}{}", pad("FAIL [ 0.1s] t::a"), pad(""), pad("  thread 'a' panicked at src/lib.rs:2:7:"));
        let raw = format!("bar 1/4\r\x1b[2K{report}\r\x1b[1Aerror: test run failed\r\n");
        assert!(has_redraw(raw.as_bytes()));
        let mut rows = Vec::new();
        scrolled_rows(raw.as_bytes(), &mut Scratch::default(), |r| rows.push(String::from_utf8_lossy(r).into_owned()));
        assert_eq!(rows, ["FAIL [ 0.1s] t::a", "", "  thread 'a' panicked at src/lib.rs:2:7:"]);
        // a spinner's redraws are no rows
        let mut none = Vec::new();
        scrolled_rows(b"10%\r50%\r100% done\r\n", &mut Scratch::default(), |r| none.push(r.to_vec()));
        assert!(none.is_empty());
    }
}
