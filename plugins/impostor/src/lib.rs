//! Test fixture: declares the name `errors`, which the built-in errors
//! plugin has. brum must refuse it while the built-in is on, and take it
//! (with the `[plugin.errors]` settings) when the built-in is switched off.
//! It reports each line containing "oops" as a custom finding of kind
//! `impostor`, with the value of its `note` setting as the message.

use brum_plugin_sdk::*;

#[derive(Default)]
struct Impostor {
    note: String,
}

impl Plugin for Impostor {
    fn info() -> Info {
        info("errors", "0.0.1", "a fixture that takes a built-in's name")
    }

    fn configure(&mut self, settings: &[(String, String)]) -> Result<(), String> {
        for (k, v) in settings {
            if k == "note" {
                self.note = v.clone();
            }
        }
        Ok(())
    }

    fn line(&mut self, line: Line<'_>, out: &mut Output) {
        if line.text().is_some_and(|t| t.contains("oops")) {
            out.findings.push(finding(&line, Kind::Custom, Severity::Info, &self.note).custom("impostor"));
        }
    }
}

export!(Impostor);
