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

/// Which process's group is open, and where paths are relative to.
#[derive(Debug, Default)]
pub struct GroupState {
    open: Option<usize>,
    /// By process index: the directory it runs in (its `cwd`), against
    /// which the relative paths it prints are resolved.
    dirs: Vec<std::path::PathBuf>,
    /// What annotation paths are relative to: `GITHUB_WORKSPACE`, else the
    /// git root, else brum's directory.
    base: Option<std::path::PathBuf>,
}

impl GroupState {
    /// Sets the process directories and finds the checkout root.
    pub fn set_dirs(&mut self, dirs: Vec<std::path::PathBuf>) {
        self.dirs = dirs;
        let here = std::env::current_dir().ok();
        self.base = std::env::var_os("GITHUB_WORKSPACE")
            .filter(|w| !w.is_empty())
            .map(std::path::PathBuf::from)
            .or_else(|| {
                here.as_ref().and_then(|h| h.ancestors().find(|a| a.join(".git").exists()).map(|a| a.to_path_buf()))
            })
            .or(here);
    }

    /// `file` as printed by process `index`, relative to the checkout when
    /// it lies inside it.
    fn locate(&self, index: usize, file: &str) -> String {
        let path = std::path::Path::new(file);
        let abs = match self.dirs.get(index) {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        };
        let base = self.base.clone().or_else(|| std::env::current_dir().ok());
        match base.as_ref().and_then(|b| abs.strip_prefix(b).ok()) {
            Some(rel) => rel.to_string_lossy().into_owned(),
            None if path.is_relative() => file.to_string(),
            None => abs.to_string_lossy().into_owned(),
        }
    }
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

fn annotation(out: &mut Vec<u8>, g: &GroupState, process: super::ProcRef<'_>, f: &FindingView<'_>) {
    let cmd: &[u8] = if f.counts_as() == Some("warning") { b"::warning" } else { b"::error" };
    out.extend_from_slice(cmd);
    let mut sep = b' ';
    if let Some(file) = f.file {
        out.extend_from_slice(&[sep]);
        out.extend_from_slice(b"file=");
        // annotations want paths relative to the checkout; the process
        // printed them relative to its own directory (a monorepo package)
        property(out, &g.locate(process.index, file));
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
        Some(code) => format!("{}: {code}", process.name),
        None => format!("{}: {}", process.name, f.custom_kind.unwrap_or(f.kind)),
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
        Event::Finding { process, finding, .. } if finding.counts_as().is_some() => {
            close(out, g);
            annotation(out, g, process, finding);
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
        let g = GroupState { open: None, dirs: Vec::new(), base: Some("/repo".into()) };
        annotation(&mut out, &g, ProcRef { name: "types", index: 0 }, &f);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "::error file=src/a%2Cb.ts,line=12,col=7,title=types%3A TS2322::Type 'number' is not assignable%0Ato 100%25\n"
        );
    }

    #[test]
    fn a_custom_finding_is_annotated_by_its_severity() {
        let f = |severity| FindingView {
            custom_kind: Some("slow-request"),
            id: 1,
            ..FindingView::new("custom", severity, "GET /api took 2300 ms", (1, 1), &[])
        };
        let style = HumanStyle { color: false, width: 3 };
        let web = ProcRef { name: "web", index: 0 };
        let text = |severity| {
            let mut out = Vec::new();
            let finding = f(severity);
            encode(
                &mut out,
                style,
                &mut GroupState::default(),
                &Event::Finding { process: web, plugin: "p", finding: &finding },
            );
            String::from_utf8(out).expect("utf-8")
        };
        assert!(
            text("warning").starts_with("::warning title=web%3A slow-request::GET /api took 2300 ms\n"),
            "{}",
            text("warning")
        );
        assert!(text("critical").starts_with("::error title=web%3A slow-request::"));
        assert!(!text("info").contains("::warning") && !text("info").contains("::error"), "{}", text("info"));
    }

    #[test]
    fn paths_are_resolved_against_the_process_dir_then_made_relative_to_the_checkout() {
        let g = GroupState {
            open: None,
            dirs: vec!["/repo/frontend".into(), "/elsewhere".into()],
            base: Some("/repo".into()),
        };
        assert_eq!(g.locate(0, "src/App.tsx"), "frontend/src/App.tsx");
        assert_eq!(g.locate(0, "/repo/api/main.py"), "api/main.py");
        assert_eq!(g.locate(1, "x.c"), "x.c", "outside the checkout: as printed");
        assert_eq!(g.locate(0, "/usr/lib/x.h"), "/usr/lib/x.h");
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
