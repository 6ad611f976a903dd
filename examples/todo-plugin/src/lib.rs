//! A custom brum detector in about 20 lines: every printed line containing
//! `TODO` or `FIXME` becomes a `todo` finding.

use brum_plugin_sdk::*;

#[derive(Default)]
struct Todo;

impl Plugin for Todo {
    fn info() -> Info {
        info("todo", "0.1.0", "reports TODO and FIXME markers in output")
    }

    fn line(&mut self, line: Line<'_>, out: &mut Output) {
        let Some(text) = line.text() else { return };
        if let Some(at) = text.find("TODO").or_else(|| text.find("FIXME")) {
            let f = finding(&line, Kind::Custom, Severity::Info, text[at..].trim());
            out.findings.push(f.custom("todo"));
        }
    }
}

export!(Todo);
