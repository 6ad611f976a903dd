//! Location syntaxes: `path:l:c` at the start of a line, a location at the
//! end of a frame, the language of a path. Pure functions over bytes; imports
//! only `text` helpers.

use crate::text::*;

/// A `path:line[:col]` or `path(line,col)` location at the start of a line.
#[derive(Debug, Clone, Copy)]
pub struct Loc<'a> {
    pub path: &'a [u8],
    pub line: u32,
    pub col: Option<u32>,
    /// text after the location and its `:` (or ` -`) separator
    pub rest: &'a [u8],
    pub paren: bool,
}

/// Parses a location at the start of `s`. The path must not contain spaces
/// and its last component must have an extension (`main.c`, `a.ts`) so that
/// `make: ***` or `Makefile:2:` never match.
pub fn parse_loc(s: &[u8]) -> Option<Loc<'_>> {
    let s = s.strip_prefix(b"file://").unwrap_or(s);
    let mut i = 0;
    // Windows drive letter
    if s.len() > 2 && s[0].is_ascii_alphabetic() && s[1] == b':' && matches!(s[2], b'\\' | b'/') {
        i = 2;
    }
    let lim = s.len().min(512);
    while i < lim {
        let b = s[i];
        if b == b' ' || b == b'\t' {
            return None;
        }
        if (b == b':' || b == b'(') && i > 0 && s.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let path = &s[..i];
            if !has_extension(path) {
                return None;
            }
            let (line, n) = parse_num(&s[i + 1..])?;
            let mut j = i + 1 + n;
            let mut col = None;
            if b == b'(' {
                if s.get(j) == Some(&b',') {
                    let (c, m) = parse_num(&s[j + 1..])?;
                    col = Some(c);
                    j += 1 + m;
                }
                if s.get(j) != Some(&b')') {
                    return None;
                }
                j += 1;
            } else if s.get(j) == Some(&b':') && s.get(j + 1).is_some_and(u8::is_ascii_digit) {
                let (c, m) = parse_num(&s[j + 1..])?;
                col = Some(c);
                j += 1 + m;
            }
            let rest = &s[j..];
            let rest = if let Some(r) = rest.strip_prefix(b":") {
                r
            } else if let Some(r) = rest.strip_prefix(b" -") {
                r
            } else if rest.is_empty() || rest[0] == b' ' {
                rest
            } else {
                return None;
            };
            return Some(Loc { path, line, col, rest, paren: b == b'(' });
        }
        i += 1;
    }
    None
}

pub fn has_extension(path: &[u8]) -> bool {
    let last = match memchr::memrchr2(b'/', b'\\', path) {
        Some(p) => &path[p + 1..],
        None => path,
    };
    match memchr::memrchr(b'.', last) {
        Some(p) if p > 0 || last.len() > 1 => {
            let ext = &last[p + 1..];
            !ext.is_empty() && ext.len() <= 6 && ext.iter().all(|b| b.is_ascii_alphanumeric())
        }
        _ => false,
    }
}

/// Location at the END of `s`: `.../file.js:3:7`, `file.go:8` (+ trailing
/// text is the caller's business). Returns (path, line, col).
pub fn loc_from_end(s: &[u8]) -> Option<(&[u8], u32, Option<u32>)> {
    let s = trim(s);
    let (a, b) = split_last_num(s)?;
    if let Some((p, l)) = split_last_num(a)
        && !p.is_empty()
        && has_extension(strip_file_url(p))
    {
        return Some((strip_file_url(p), l, Some(b)));
    }
    if !a.is_empty() && has_extension(strip_file_url(a)) {
        return Some((strip_file_url(a), b, None));
    }
    None
}

fn strip_file_url(p: &[u8]) -> &[u8] {
    p.strip_prefix(b"file://").unwrap_or(p)
}

/// `xxx:123` → (`xxx`, 123)
fn split_last_num(s: &[u8]) -> Option<(&[u8], u32)> {
    let n = s.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || n > 9 || s.len() <= n || s[s.len() - n - 1] != b':' {
        return None;
    }
    let (v, _) = parse_num(&s[s.len() - n..])?;
    Some((&s[..s.len() - n - 1], v))
}

pub fn language_of(path: &[u8]) -> Option<&'static str> {
    let ext = match memchr::memrchr(b'.', path) {
        Some(p) => &path[p + 1..],
        None => return None,
    };
    Some(match ext {
        b"ts" | b"tsx" | b"mts" | b"cts" => "typescript",
        b"js" | b"jsx" | b"mjs" | b"cjs" => "javascript",
        b"py" => "python",
        b"rs" => "rust",
        b"go" => "go",
        b"java" => "java",
        b"kt" => "kotlin",
        b"c" | b"h" => "c",
        b"cc" | b"cpp" | b"cxx" | b"hpp" | b"hh" | b"hxx" | b"C" => "cpp",
        b"rb" => "ruby",
        b"pl" | b"pm" | b"t" => "perl",
        b"lua" => "lua",
        b"ex" | b"exs" => "elixir",
        b"sh" | b"bash" => "shell",
        b"php" => "php",
        b"cs" => "csharp",
        b"swift" => "swift",
        b"vue" => "vue",
        b"svelte" => "svelte",
        _ => return None,
    })
}

/// A stack frame body (`Object.toBe (sum.test.js:3:46)`, `/a/b.js:3:7`) → location.
pub fn frame_loc(body: &[u8]) -> Option<(&[u8], u32, Option<u32>)> {
    let body = trim(body);
    let inner = if body.ends_with(b")") {
        match memchr::memrchr(b'(', body) {
            Some(p) => &body[p + 1..body.len() - 1],
            None => body,
        }
    } else {
        body
    };
    loc_from_end(inner)
}

/// A location inside an error's detail lines, in any of the forms tools
/// print there: `File: path:l:c`, `file: path:l:c`, `╭─[ path:l:c ]`,
/// `--> path:l:c`, `path:l:c:` alone or before `ERROR: msg` (esbuild), and
/// Babel's `path: msg (l:c)`. `tw` is the line without its indentation.
pub fn detail_loc(tw: &[u8]) -> Option<(&[u8], u32, Option<u32>)> {
    let s = tw
        .strip_prefix(b"File: ")
        .or_else(|| tw.strip_prefix(b"file: "))
        .or_else(|| tw.strip_prefix(b"--> "))
        .or_else(|| tw.strip_prefix("╭─[".as_bytes()))
        .or_else(|| tw.strip_prefix(b",-["))
        .map(trim_start)
        .unwrap_or(tw);
    // SWC `,-[/app/page.tsx:3:1]` (Oxc `╭─[ src/App.tsx:26:11 ]`)
    let s = trim(s);
    let s = s.strip_suffix(b"]").map_or(s, trim);
    if let Some(l) = parse_loc(s) {
        let rest = trim(l.rest);
        if rest.is_empty() || rest == b"]" || starts(rest, b"ERROR") || starts(rest, b"error") {
            return Some((l.path, l.line, l.col));
        }
        return None;
    }
    // Babel `/app/src/App.tsx: Unexpected token (9:22)`
    let p = find(s, b": ")?;
    let path = &s[..p];
    if !has_extension(path) || memchr::memchr(b' ', path).is_some() || !s.ends_with(b")") {
        return None;
    }
    let q = memchr::memrchr(b'(', s)?;
    let inner = &s[q + 1..s.len() - 1];
    let (line, n) = parse_num(inner)?;
    let (col, m) = parse_num(inner.get(n + 1..)?)?;
    (inner.get(n) == Some(&b':') && n + 1 + m == inner.len()).then_some((path, line, Some(col)))
}

/// `lib/products.ts (4:22) @ items` (Next.js) / `path (l:c)`: a path, a
/// space, `(line:col)`.
pub fn paren_loc(s: &[u8]) -> Option<(&[u8], u32, Option<u32>)> {
    let sp = memchr::memchr(b' ', s)?;
    let path = &s[..sp];
    let rest = s[sp + 1..].strip_prefix(b"(")?;
    let (line, n) = parse_num(rest)?;
    let (col, m) = parse_num(rest.get(n + 1..)?)?;
    (has_extension(path) && rest.get(n) == Some(&b':') && rest.get(n + 1 + m) == Some(&b')')).then_some((
        path,
        line,
        Some(col),
    ))
}

/// The first `(l:c)` of a message: `Expected closing tag. (8:4) (8:4)` →
/// (index of its ` (`, 8, 4)
pub fn paren_loc_at_end(s: &[u8]) -> Option<(usize, u32, Option<u32>)> {
    let p = find(s, b" (")?;
    let rest = &s[p + 2..];
    let (line, n) = parse_num(rest)?;
    let (col, m) = parse_num(rest.get(n + 1..)?)?;
    (rest.get(n) == Some(&b':') && rest.get(n + 1 + m) == Some(&b')')).then_some((p, line, Some(col)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let l = parse_loc(b"src/a.ts(4,7): error TS2322: x").unwrap();
        assert_eq!((l.path, l.line, l.col, l.paren), (&b"src/a.ts"[..], 4, Some(7), true));
        let l = parse_loc(b"./main.go:5:2: undefined: y").unwrap();
        assert_eq!((l.path, l.line, l.col, l.rest), (&b"./main.go"[..], 5, Some(2), &b" undefined: y"[..]));
        let l = parse_loc(b"src/a.ts:4:7 - error TS2322: x").unwrap();
        assert_eq!(l.rest, b" error TS2322: x");
        let l = parse_loc(b"file:///tmp/a.mjs:3").unwrap();
        assert_eq!((l.path, l.line, l.col), (&b"/tmp/a.mjs"[..], 3, None));
        assert!(parse_loc(b"make: *** [Makefile:5: util.o] Error 1").is_none());
        assert!(parse_loc(b"Makefile:5: *** missing").is_none());
        assert!(parse_loc(b"http://localhost:5199/").is_none());
        assert_eq!(loc_from_end(b"/a/b.js:3:22"), Some((&b"/a/b.js"[..], 3, Some(22))));
        assert_eq!(loc_from_end(b"file:///a/b.mjs:3:9"), Some((&b"/a/b.mjs"[..], 3, Some(9))));
        assert_eq!(loc_from_end(b"App.java:7"), Some((&b"App.java"[..], 7, None)));
        assert_eq!(loc_from_end(b"node:internal/x:1:2").map(|x| x.1), None);
        let d = |s: &[u8]| detail_loc(s).map(|(p, l, c)| (String::from_utf8_lossy(p).into_owned(), l, c));
        assert_eq!(d(b"File: /app/src/App.tsx:9:22"), Some(("/app/src/App.tsx".into(), 9, Some(22))));
        assert_eq!(d(b"file: /app/src/App.tsx:5:58"), Some(("/app/src/App.tsx".into(), 5, Some(58))));
        assert_eq!(d("╭─[ src/App.tsx:26:11 ]".as_bytes()), Some(("src/App.tsx".into(), 26, Some(11))));
        assert_eq!(d(b"src/App.tsx:5:58:"), Some(("src/App.tsx".into(), 5, Some(58))));
        assert_eq!(d(b"/a/App.tsx:5:58: ERROR: Expected"), Some(("/a/App.tsx".into(), 5, Some(58))));
        assert_eq!(d(b"/app/src/App.tsx: Unexpected token (9:22)"), Some(("/app/src/App.tsx".into(), 9, Some(22))));
        assert_eq!(d(b"--> src/main.rs:3:5"), Some(("src/main.rs".into(), 3, Some(5))));
        assert_eq!(d(b",-[/app/page.tsx:3:1]"), Some(("/app/page.tsx".into(), 3, Some(1))));
        assert_eq!(d(b"File: /app/src/App.tsx"), None);
        assert_eq!(d(b"main.go:3:5: undefined: x"), None);
    }
}
