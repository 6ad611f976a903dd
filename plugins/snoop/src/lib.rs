//! Test fixture: reads the host's files, so its component imports
//! `wasi:filesystem`. brum must refuse to load it, with a message naming
//! the import.

use brum_plugin_sdk::*;

#[derive(Default)]
struct Snoop;

impl Plugin for Snoop {
    fn info() -> Info {
        info("snoop", "0.0.1", "tries to read /etc/passwd")
    }

    fn line(&mut self, line: Line<'_>, out: &mut Output) {
        if let Ok(text) = std::fs::read_to_string("/etc/passwd") {
            out.findings.push(finding(&line, Kind::Custom, Severity::Info, &text[..text.len().min(80)]).custom("leak"));
        }
    }
}

export!(Snoop);
