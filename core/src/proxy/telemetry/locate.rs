//! Where in the project a browser error happened: from the served script's
//! URL, line and column to a file of the project. Dev servers that serve
//! sources by path map directly (Vite's `/src/App.tsx?t=…` is
//! `src/App.tsx`, `/@fs/abs/path` is that file); a served script with a
//! source map — inline (Vite in dev, `//# sourceMappingURL=data:…`) or a
//! separate file the engine fetched (`app.js.map`, [`locate_with_map`]) —
//! is mapped through it with the `sourcemap` crate to the original source.
//!
//! Also the stack parsing the telemetry endpoint needs: a stack's first
//! frame (V8's `at f (url:l:c)`, Firefox/Safari's `f@url:l:c`) and the
//! removal of brum's own frames.
//!
//! Reads files under the project root (existence checks only); nothing
//! else.

use std::path::{Component, Path, PathBuf};

use base64::Engine;
use sourcemap::DecodedMap;

use super::SCRIPT_PATH;

/// One frame of a stack: the script's URL and 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub url: &'a str,
    pub line: u32,
    pub col: u32,
}

/// Parses one line of a stack as a frame, if it is one with a location.
pub fn parse_frame(line: &str) -> Option<Frame<'_>> {
    let t = line.trim();
    let loc = if let Some(rest) = t.strip_prefix("at ") {
        // V8: `at f (url:l:c)`, `at url:l:c`, `at async f (url:l:c)`
        match (rest.ends_with(')'), rest.rfind(" (")) {
            (true, Some(open)) => &rest[open + 2..rest.len() - 1],
            _ => rest,
        }
    } else {
        // Firefox / Safari: `f@url:l:c`, `@url:l:c`
        &t[t.find('@')? + 1..]
    };
    let (rest, col) = loc.rsplit_once(':')?;
    let (url, line) = rest.rsplit_once(':')?;
    let (line, col) = (line.parse().ok()?, col.parse().ok()?);
    (!url.is_empty() && !url.contains(' ')).then_some(Frame { url, line, col })
}

/// The first frame of `stack` with a location that is not brum's script.
pub fn first_frame(stack: &str) -> Option<Frame<'_>> {
    stack.lines().filter_map(parse_frame).find(|f| !is_own(f.url))
}

/// Whether `url` is brum's own script.
pub fn is_own(url: &str) -> bool {
    url_path(url).is_some_and(|p| p == SCRIPT_PATH)
}

/// `stack` without the frames of brum's script (its wrappers of `fetch`,
/// `console.error`, … are on the stack of what they report).
pub fn strip_own_frames(stack: &str) -> String {
    let mut out = String::with_capacity(stack.len());
    for line in stack.lines() {
        if parse_frame(line).is_some_and(|f| is_own(f.url)) {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// The path of a URL (`http://h:1/src/a.ts?t=1#x` → `/src/a.ts`), percent-
/// decoded; `None` when there is none or it is not UTF-8.
pub fn url_path(url: &str) -> Option<String> {
    let path = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            &after[after.find('/')?..]
        }
        None if url.starts_with('/') => url,
        None => return None,
    };
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    percent_decode(path)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok())
            && let Ok(byte) = u8::from_str_radix(v, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A relative path with only normal components (no `..`, no root).
fn plain_relative(rel: &str) -> Option<&Path> {
    let p = Path::new(rel);
    (!rel.is_empty() && !rel.contains('\0') && p.components().all(|c| matches!(c, Component::Normal(_)))).then_some(p)
}

/// `abs` relative to `root` when it is inside it, as a string.
fn relative_to(abs: &Path, root: &Path) -> Option<String> {
    let canon = root.canonicalize().ok();
    let rel = abs.strip_prefix(root).ok().or_else(|| canon.as_deref().and_then(|c| abs.strip_prefix(c).ok()))?;
    Some(rel.to_string_lossy().into_owned())
}

/// The project file a URL path serves, when the dev server serves sources
/// by path: `/@fs/abs/path` (Vite, outside or inside the root), else the
/// path under the root, else under `public/`.
fn served_file(path: &str, root: &Path) -> Option<String> {
    if let Some(abs) = path.strip_prefix("/@fs") {
        let abs = Path::new(abs);
        if !abs.is_absolute() || abs.components().any(|c| matches!(c, Component::ParentDir)) || !abs.is_file() {
            return None;
        }
        return Some(relative_to(abs, root).unwrap_or_else(|| abs.to_string_lossy().into_owned()));
    }
    let rel = plain_relative(path.trim_start_matches('/'))?;
    for base in [PathBuf::new(), PathBuf::from("public")] {
        let candidate = base.join(rel);
        if root.join(&candidate).is_file() {
            return Some(candidate.to_string_lossy().into_owned());
        }
    }
    None
}

/// The project file, line and column of 1-based `line:col` in the script
/// served at `served_url`, when the dev server serves sources by path
/// (Vite's `/src/App.tsx?t=…` → `src/App.tsx`, `/@fs/abs/path` → the path
/// relative to the project, or absolute outside it). The line and column
/// are the served file's: exact for scripts served as written; for
/// transformed ones use [`locate`] with the served body (its source map).
pub fn map_location(served_url: &str, line: u32, col: u32, project_root: &Path) -> Option<(String, u32, u32)> {
    let path = url_path(served_url)?;
    Some((served_file(&path, project_root)?, line, col))
}

/// The inline source map of a served script
/// (`//# sourceMappingURL=data:application/json;base64,…`), decoded.
pub fn inline_source_map(js: &[u8]) -> Option<Vec<u8>> {
    let url = source_map_url(js)?;
    let data = url.strip_prefix("data:")?;
    let (meta, payload) = data.split_once(',')?;
    if !meta.ends_with(";base64") {
        return percent_decode(payload).map(String::into_bytes);
    }
    base64::engine::general_purpose::STANDARD.decode(payload).ok()
}

/// The `sourceMappingURL` of a served script (its last one): a `data:` URL,
/// or a URL relative to the script that the engine fetches and gives to
/// [`map_with_sourcemap`].
pub fn source_map_url(js: &[u8]) -> Option<&str> {
    let tail = &js[js.len().saturating_sub(4 << 20)..];
    let at = memchr::memmem::rfind(tail, b"sourceMappingURL=")? + "sourceMappingURL=".len();
    let rest = &tail[at..];
    let end = rest.iter().position(|b| b.is_ascii_whitespace() || *b == b'*').unwrap_or(rest.len());
    let url = std::str::from_utf8(&rest[..end]).ok()?;
    // only `//# sourceMappingURL=` or `//@ …` comments, not a string that says it
    let before = &tail[..at - "sourceMappingURL=".len()];
    let marker = before.trim_ascii_end();
    (marker.ends_with(b"//#") || marker.ends_with(b"//@") || marker.ends_with(b"/*#")).then_some(url)
}

/// Maps 1-based `line:col` of a generated script through its source map:
/// the original source (as the map names it, `sourceRoot` applied) and
/// 1-based line and column. `None` when the map does not parse or has no
/// mapping on that line.
pub fn map_with_sourcemap(map_bytes: &[u8], line: u32, col: u32) -> Option<(String, u32, u32)> {
    map_token(&sourcemap::decode_slice(map_bytes).ok()?, line, col)
}

/// [`map_with_sourcemap`] through a map parsed before (the engine keeps
/// the few it parsed last).
pub fn map_token(map: &DecodedMap, line: u32, col: u32) -> Option<(String, u32, u32)> {
    let (l0, c0) = (line.checked_sub(1)?, col.saturating_sub(1));
    let token = map.lookup_token(l0, c0)?;
    if token.get_dst_line() != l0 {
        return None;
    }
    Some((token.get_source()?.to_string(), token.get_src_line() + 1, token.get_src_col() + 1))
}

/// The project file a source map's `source` names: `webpack://app/./src/x`,
/// `file:///abs`, an absolute path in the project, or a path relative to
/// the map's URL (`served_url`: the script's, for an inline map) — else,
/// as a build writes them relative to the map's place on disk, that path
/// without its leading `../` under the project.
pub fn map_source(source: &str, served_url: &str, root: &Path) -> Option<String> {
    if let Some(rest) = source.strip_prefix("webpack://") {
        let rest = rest.find('/').map_or(rest, |i| &rest[i + 1..]);
        let rest = rest.trim_start_matches("./");
        return served_file(&format!("/{rest}"), root);
    }
    let source = source.strip_prefix("file://").unwrap_or(source);
    let abs = Path::new(source);
    if abs.is_absolute() && abs.is_file() {
        return Some(relative_to(abs, root).unwrap_or_else(|| source.to_string()));
    }
    if let Some(p) = source.strip_prefix('/') {
        return served_file(&format!("/{p}"), root);
    }
    // relative to the script's directory, resolved lexically
    let base = url_path(served_url)?;
    let mut parts: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
    parts.pop();
    let mut above = false;
    for seg in source.split('/') {
        match seg {
            "" | "." => {}
            ".." => above |= parts.pop().is_none(),
            s => parts.push(s),
        }
    }
    if !above && let Some(file) = served_file(&format!("/{}", parts.join("/")), root) {
        return Some(file);
    }
    // a build's map names its sources from where it lies on disk
    // (`dist/assets/x.js.map` → `../../src/main.ts`), which the URL
    // (`/assets/x.js.map`) does not show: the source without its leading
    // `../` and `./`, under the project
    let rest = source.trim_start_matches("./");
    let mut rest = rest;
    while let Some(r) = rest.strip_prefix("../") {
        rest = r.trim_start_matches("./");
    }
    served_file(&format!("/{rest}"), root)
}

/// Everything at once: the project file, line and column of `line:col` in
/// the script served at `served_url`. With the served body, its inline
/// source map is followed (to the original source; when that is not a
/// project file, the source as the map names it); without one, the URL is
/// mapped by path ([`map_location`]).
pub fn locate(
    served_url: &str,
    line: u32,
    col: u32,
    project_root: &Path,
    served_body: Option<&[u8]>,
) -> Option<(String, u32, u32)> {
    if let Some((source, l, c)) =
        served_body.and_then(inline_source_map).and_then(|map| map_with_sourcemap(&map, line, col))
    {
        let file = map_source(&source, served_url, project_root).unwrap_or(source);
        return Some((file, l, c));
    }
    map_location(served_url, line, col, project_root)
}

/// [`locate`] through a separate map fetched from `map_path` (its path on
/// the dev server; the map's relative sources are relative to it): the
/// original source, else (no mapping there, or the map does not parse) the
/// script's place by path.
pub fn locate_with_map(
    served_url: &str,
    line: u32,
    col: u32,
    project_root: &Path,
    map_path: &str,
    map: &[u8],
) -> Option<(String, u32, u32)> {
    match sourcemap::decode_slice(map) {
        Ok(map) => locate_parsed(served_url, line, col, project_root, &map, map_path),
        Err(_) => map_location(served_url, line, col, project_root),
    }
}

/// [`locate_with_map`] through a map parsed before; `base` is the URL its
/// relative sources are relative to (the map's, or the script's for an
/// inline map).
pub fn locate_parsed(
    served_url: &str,
    line: u32,
    col: u32,
    project_root: &Path,
    map: &DecodedMap,
    base: &str,
) -> Option<(String, u32, u32)> {
    if let Some((source, l, c)) = map_token(map, line, col) {
        let file = map_source(&source, base, project_root).unwrap_or(source);
        return Some((file, l, c));
    }
    map_location(served_url, line, col, project_root)
}

#[cfg(test)]
#[path = "locate_tests.rs"]
mod tests;
