//! A browser error's whole stack placed in the project: each frame (at
//! most [`MAX_FRAMES`]) through the same rules as the error's own place —
//! by path (Vite's `/src/App.tsx?t=…`), through its script's inline map or
//! its separate map once fetched — and the error's place chosen the way
//! the errors plugin chooses it in a stack: the first frame in the
//! project, not in a dependency (`node_modules`, a vendor chunk, Vite's
//! `/@vite/` client and `/@id/` modules, `/@react-refresh`), else the
//! first frame.
//!
//! Reads files under the project root (existence checks, as [`super::locate`]
//! does); the maps come parsed from [`Scripts`], which parses each at most
//! once while it stays among the few parsed last.

use std::path::Path;

use super::Report;
use super::locate::{self, Frame, is_own, parse_frame, url_path};
use crate::events::BrowserFrame;
use crate::proxy::scripts::{Lookup, MapState, Scripts};

/// Frames placed per error (a deeper stack's further frames stay as the
/// browser printed them).
pub const MAX_FRAMES: usize = 32;

/// The frames of an error to place, top first: its stack's (brum's own
/// removed), at most [`MAX_FRAMES`]; when its stack has none, the place the
/// browser gave.
pub fn frames_of(report: &Report) -> Vec<Frame<'_>> {
    let Report::Error { stack, url, line, col, .. } = report else { return Vec::new() };
    let mut out: Vec<Frame<'_>> =
        stack.lines().filter_map(parse_frame).filter(|f| !is_own(f.url)).take(MAX_FRAMES).collect();
    if out.is_empty()
        && let (Some(url), Some(line), Some(col)) = (url, line, col)
    {
        out.push(Frame { url, line: *line, col: *col });
    }
    out
}

/// Whether a place — a served URL, a project file, a source a map names —
/// is not the user's code: a dependency (`node_modules`,
/// `bower_components`, a vendor chunk such as `vendor.js`,
/// `vendors~main.js`), Vite's own modules (`/@vite/client`, `/@id/…`,
/// `/@react-refresh`) or a browser extension's.
pub fn is_library(place: &str) -> bool {
    const EXTENSIONS: [&str; 4] =
        ["chrome-extension://", "moz-extension://", "safari-extension://", "safari-web-extension://"];
    if EXTENSIONS.iter().any(|e| place.starts_with(e)) {
        return true;
    }
    let owned;
    let path = if place.contains("://") {
        owned = url_path(place).unwrap_or_default();
        owned.as_str()
    } else {
        place
    };
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    if ["/@vite/", "/@id/", "/@react-refresh"].iter().any(|p| path.starts_with(p)) {
        return true;
    }
    let base = path.rsplit('/').next().unwrap_or(path);
    base.starts_with("vendor") || path.split('/').any(|c| c == "node_modules" || c == "bower_components")
}

/// The script whose separate map an error waits for, if any: the first of
/// its frames not in a dependency (by the served URL) whose script names a
/// separate map that brum does not have yet. Its URL, and whether the map
/// is already being fetched. One map at most: an error never waits for
/// more than one fetch.
pub fn map_to_wait_for<'a>(scripts: &Scripts, proxy: usize, frames: &[Frame<'a>]) -> Option<(&'a str, bool)> {
    frames.iter().filter(|f| !is_library(f.url)).find_map(|f| match scripts.map_state(proxy, f.url)? {
        MapState::Unfetched => Some((f.url, false)),
        MapState::Fetching => Some((f.url, true)),
        MapState::Fetched(_) | MapState::Failed => None,
    })
}

/// Where frame `f` is: through its script's map when brum has it (parsed
/// once), else by path, else the served URL without its query.
pub fn place_frame(scripts: &mut Scripts, proxy: usize, f: &Frame<'_>, root: &Path) -> BrowserFrame {
    let (url, line, col) = (f.url, f.line, f.col);
    let placed = match scripts.lookup(proxy, url) {
        Lookup::Map(map, base) => locate::locate_parsed(url, line, col, root, map, base.unwrap_or(url)),
        Lookup::Unfetched | Lookup::Fetching | Lookup::None => locate::map_location(url, line, col, root),
    };
    let (file, line, col) =
        placed.unwrap_or_else(|| (url[..url.find(['?', '#']).unwrap_or(url.len())].to_string(), line, col));
    BrowserFrame { file, line, col, served: format!("{url}:{}:{}", f.line, f.col) }
}

/// Every frame placed, top first.
pub fn place_frames(scripts: &mut Scripts, proxy: usize, frames: &[Frame<'_>], root: &Path) -> Vec<BrowserFrame> {
    frames.iter().map(|f| place_frame(scripts, proxy, f, root)).collect()
}

/// The error's place among its placed frames: the first in the project,
/// else the first.
pub fn users_frame(frames: &[BrowserFrame]) -> Option<&BrowserFrame> {
    frames.iter().find(|f| !is_library(&f.file)).or(frames.first())
}

/// `stack` with the served location of each placed frame replaced by its
/// place (`at boom (src/App.tsx:12:5)`); `None` when no line of it is a
/// placed frame (the error's place came from the browser, not its stack).
pub fn placed_stack(stack: &str, frames: &[BrowserFrame]) -> Option<String> {
    let mut out = String::with_capacity(stack.len());
    let mut next = frames.iter();
    let mut replaced = false;
    for line in stack.lines() {
        if !out.is_empty() {
            out.push('\n');
        }
        let frame = parse_frame(line).filter(|f| !is_own(f.url)).and_then(|_| next.next());
        match frame.and_then(|f| line.rfind(f.served.as_str()).map(|at| (f, at))) {
            Some((f, at)) => {
                replaced = true;
                out.push_str(&line[..at]);
                out.push_str(&format!("{}:{}:{}", f.file, f.line, f.col));
                out.push_str(&line[at + f.served.len()..]);
            }
            None => out.push_str(line),
        }
    }
    replaced.then_some(out)
}

#[cfg(test)]
#[path = "stack_tests.rs"]
mod tests;
