//! GitHub Actions output: the readable format, with each run of consecutive
//! lines of one process folded in a `::group::`, and errors and warnings as
//! `::error` / `::warning` workflow commands that become annotations on the
//! files and lines they name.
//!
//! Children's lines are always prefixed (`NAME | `), so a child printing
//! `::error::` or `::stop-commands::` cannot issue workflow commands.

use std::io::Write;

use super::human::{self, HumanStyle};
use super::{Event, FindingView};

/// Which process's group is open.
#[derive(Debug, Default)]
pub struct GroupState {
    open: Option<usize>,
}

fn close(out: &mut Vec<u8>, g: &mut GroupState) {
    if g.open.take().is_some() {
        out.extend_from_slice(b"::endgroup::\n");
    }
}

/// Escapes a workflow command's message.
fn data(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'%' => out.extend_from_slice(b"%25"),
            b'\r' => out.extend_from_slice(b"%0D"),
            b'\n' => out.extend_from_slice(b"%0A"),
            _ => out.push(b),
        }
    }
}

/// Escapes a workflow command's property value.
fn property(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'%' => out.extend_from_slice(b"%25"),
            b'\r' => out.extend_from_slice(b"%0D"),
            b'\n' => out.extend_from_slice(b"%0A"),
            b':' => out.extend_from_slice(b"%3A"),
            b',' => out.extend_from_slice(b"%2C"),
            _ => out.push(b),
        }
    }
}

fn annotation(out: &mut Vec<u8>, process: &str, f: &FindingView<'_>) {
    let cmd: &[u8] = if f.kind == "warning" { b"::warning" } else { b"::error" };
    out.extend_from_slice(cmd);
    let mut sep = b' ';
    if let Some(file) = f.file {
        out.extend_from_slice(&[sep]);
        out.extend_from_slice(b"file=");
        // annotations want paths relative to the checkout (the cwd)
        let cwd = std::env::current_dir().ok();
        let rel = cwd
            .as_ref()
            .and_then(|d| std::path::Path::new(file).strip_prefix(d).ok())
            .and_then(|p| p.to_str())
            .unwrap_or(file);
        property(out, rel);
        sep = b',';
        if let Some(l) = f.line {
            let _ = write!(out, ",line={l}");
            if let Some(c) = f.column {
                let _ = write!(out, ",col={c}");
            }
        }
    }
    out.extend_from_slice(&[sep]);
    out.extend_from_slice(b"title=");
    let title = match f.code {
        Some(code) => format!("{process}: {code}"),
        None => format!("{process}: {}", f.kind),
    };
    property(out, &title);
    out.extend_from_slice(b"::");
    data(out, f.message);
    out.push(b'\n');
}

/// Appends the GitHub form of `ev` to `out`.
pub fn encode(out: &mut Vec<u8>, style: HumanStyle, g: &mut GroupState, ev: &Event<'_>) {
    match *ev {
        Event::LogLine { process, .. } => {
            if g.open != Some(process.index) {
                close(out, g);
                out.extend_from_slice(b"::group::");
                data(out, process.name);
                out.push(b'\n');
                g.open = Some(process.index);
            }
            human::encode(out, style, ev);
        }
        Event::Finding { process, finding, .. } if finding.event_type() == "error.detected" => {
            close(out, g);
            annotation(out, process.name, finding);
            human::encode(out, style, ev);
        }
        _ => {
            let start = out.len();
            let mut tmp = Vec::new();
            human::encode(&mut tmp, style, ev);
            if !tmp.is_empty() {
                close(out, g);
                out.extend_from_slice(&tmp);
            }
            let _ = start;
        }
    }
}

/// Closes an open group (at the end of the run).
pub fn finish(out: &mut Vec<u8>, g: &mut GroupState) {
    close(out, g);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::ProcRef;

    #[test]
    fn annotations_escape_and_locate() {
        let fields = Vec::new();
        let f = FindingView {
            kind: "error",
            custom_kind: None,
            severity: "error",
            message: "Type 'number' is not assignable\nto 100%",
            first_seq: 1,
            last_seq: 2,
            file: Some("src/a,b.ts"),
            line: Some(12),
            column: Some(7),
            code: Some("TS2322"),
            url: None,
            language: None,
            fields: &fields,
            fingerprint: 0,
            count: 1,
            id: 0,
        };
        let mut out = Vec::new();
        annotation(&mut out, "types", &f);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "::error file=src/a%2Cb.ts,line=12,col=7,title=types%3A TS2322::Type 'number' is not assignable%0Ato 100%25\n"
        );
    }

    #[test]
    fn consecutive_lines_share_a_group() {
        let style = HumanStyle { color: false, width: 3 };
        let mut g = GroupState::default();
        let mut out = Vec::new();
        let line = |name, index, text| Event::LogLine {
            process: ProcRef { name, index },
            stream: crate::store::Stream::Stdout,
            line: text,
            truncated: false,
            boost: false,
            tag: None,
        };
        encode(&mut out, style, &mut g, &line("web", 0, b"a"));
        encode(&mut out, style, &mut g, &line("web", 0, b"b"));
        encode(&mut out, style, &mut g, &line("api", 1, b"::error::injected"));
        finish(&mut out, &mut g);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "::group::web\nweb | a\nweb | b\n::endgroup::\n::group::api\napi | ::error::injected\n::endgroup::\n"
        );
    }
}
