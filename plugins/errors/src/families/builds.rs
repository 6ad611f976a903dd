//! Build outcomes: the lines that say a build or re-check finished, and
//! how. A `status=success` build finding tells the host that the process's
//! open errors are fixed; `report=full` marks the end of a watcher's
//! complete report (tsc, webpack), so errors not re-reported in it are
//! fixed too. Incremental rebuilds (Vite `hmr update` / `page reload`,
//! Next.js `✓ Compiled`) are successes too: the host resolves the
//! process's open errors on them (an edit fixed it).

use crate::record::*;
use crate::text::*;
use crate::{Finding, Severity};

/// Marks the build finding just pushed as the end of a full report.
fn full_report(out: &mut [Finding]) {
    if let Some(f) = out.last_mut() {
        f.fields.push(("report".into(), "full".into()));
    }
}

/// Build outcome lines other than the tool-specific ones matched in
/// `blocks` (`Found N errors`, `webpack ... compiled`, cargo `Finished`).
/// Returns true when the line was one.
pub(crate) fn build_line(pid: u32, t: &[u8], seq: u64, out: &mut Vec<Finding>) -> bool {
    let b0 = t[0];
    match b0 {
        b'h' | b'p' | b'(' => {
            // Vite `hmr update /src/App.tsx`, `page reload src/main.ts`,
            // Vite 6+ `(client) hmr update ...`
            let s = if b0 == b'(' {
                match memchr::memchr(b')', t) {
                    Some(p) if p < 12 => trim_start(&t[p + 1..]),
                    _ => return false,
                }
            } else {
                t
            };
            if starts(s, b"hmr update ") || starts(s, b"page reload ") {
                emit_build(pid, "vite", true, None, t, seq, out);
                return true;
            }
            false
        }
        b'[' if starts(t, b"[INFO] BUILD SUCCESS") => {
            emit_build(pid, "maven", true, None, t, seq, out);
            true
        }
        b'[' if starts(t, b"[INFO] BUILD FAILURE") => {
            emit_build(pid, "maven", false, None, t, seq, out);
            true
        }
        b'm' | b'g' if (starts(t, b"make: *** [") || starts(t, b"gmake: *** [")) && contains(t, b"] Error ") => {
            // the top-level make's verdict (`make[2]: ***` lines are nested makes
            // passing the same failure up)
            emit_build(pid, "make", false, None, t, seq, out);
            true
        }
        b'-' if starts(t, b"-- Configuring incomplete") => {
            emit_build(pid, "cmake", false, None, t, seq, out);
            true
        }
        b'F' if t == b"Failed to compile." => {
            // Next.js build (its errors follow)
            emit_build(pid, "next", false, None, t, seq, out);
            true
        }
        b'C' if t == b"Complete!" => {
            // Astro `[build] Complete!`
            emit_build(pid, "astro", true, None, t, seq, out);
            true
        }
        0xE2 if starts(t, "✗ Build failed in ".as_bytes()) => {
            emit_build(pid, "vite", false, None, t, seq, out);
            true
        }
        b'x' if starts(t, b"x Build failed in ") => {
            // vite build (Rollup)
            emit_build(pid, "vite", false, None, t, seq, out);
            true
        }
        b'B' if starts(t, b"BUILD SUCCESSFUL") || starts(t, b"BUILD FAILED") => {
            let ok = t[6] == b'S';
            let dur = find(t, b" in ").and_then(|q| parse_duration_ms(&t[q + 4..]));
            emit_build(pid, "gradle", ok, dur, t, seq, out);
            true
        }
        b'C' if starts(t, b"Compiled successfully") || starts(t, b"Compiled with warnings") => {
            // webpack-dev-server / Create React App after each full compile;
            // with warnings: a success that itself is a warning
            emit_build(pid, "webpack", true, None, t, seq, out);
            if t[9] == b'w'
                && let Some(f) = out.last_mut()
            {
                f.severity = Severity::Warning;
            }
            full_report(out);
            true
        }
        0xE2 if starts(t, "✓ Compiled ".as_bytes()) => {
            // Next.js `✓ Compiled /page in 312ms`
            emit_build(pid, "next", true, None, t, seq, out);
            true
        }
        _ => false,
    }
}

/// A build's end whose verdict is the errors the stream reported since the
/// build started (`status=pending` until `Detector` settles it).
pub(crate) fn emit_build_pending(pid: u32, tool: &str, t: &[u8], seq: u64, out: &mut Vec<Finding>) {
    emit_build(pid, tool, true, None, t, seq, out);
    if let Some(f) = out.last_mut() {
        f.fields[0].1 = PENDING.into();
    }
}

pub(crate) const PENDING: &str = "pending";

/// Settles a pending build verdict with the number of errors reported since
/// the build started.
pub(crate) fn settle_build(f: &mut Finding, errors: u32) {
    let ok = errors == 0;
    f.fields[0].1 = if ok { "success" } else { "failure" }.into();
    f.severity = if ok { Severity::Info } else { Severity::Error };
}

/// A failed build's verdict printed before its error (Vite / Rollup /
/// Astro `✗ Build failed in 424ms` + the error's message and details).
pub(crate) fn announces_error(t: &[u8]) -> bool {
    starts(t, "✗ Build failed in ".as_bytes()) || starts(t, b"x Build failed in ")
}

/// tsc --watch `Found 0 errors. Watching for file changes.` → build
/// success; `Found 2 errors. Watching for file changes.` → build failure.
/// Each closes a full report: errors of the process not in it are fixed.
pub(crate) fn emit_tsc_found(pid: u32, t: &[u8], seq: u64, out: &mut Vec<Finding>) {
    let Some((n, len)) = parse_num(&t[6..]) else {
        return;
    };
    if !starts(&t[6 + len..], b" error") {
        return;
    }
    // a one-shot run's `Found 3 errors in 2 files.` only counts what was
    // reported (and Biome says `Found 3 errors.` too): watch mode's report
    if n == 0 || contains(t, b"Watching for file changes") {
        emit_build(pid, "tsc", n == 0, None, t, seq, out);
        full_report(out);
    }
}

/// `webpack 5.113.0 compiled successfully in 122 ms` / `... compiled with 2
/// errors in 121 ms` / `webpack compiled with 1 warning`.
pub(crate) fn emit_webpack_done(pid: u32, t: &[u8], seq: u64, out: &mut Vec<Finding>) {
    let Some(p) = find(t, b" compiled ") else { return };
    if p > 30 {
        return;
    }
    let rest = &t[p + 10..];
    let ok = if starts(rest, b"successfully") {
        true
    } else if starts(rest, b"with ") {
        !contains(rest, b" error")
    } else {
        return;
    };
    let dur = find(rest, b" in ").and_then(|q| parse_duration_ms(&rest[q + 4..]));
    emit_build(pid, "webpack", ok, dur, t, seq, out);
    if ok
        && contains(rest, b" warning")
        && let Some(f) = out.last_mut()
    {
        // `compiled with 3 warnings`: a success that is itself a warning
        f.severity = Severity::Warning;
    }
    full_report(out);
}
