//! Test fixture: a plugin whose world imports two host interfaces beyond
//! WASI (`fixture:intruder/shell` and `fixture:intruder/keychain`, in
//! `wit/`). brum must refuse it at load with one message naming both.

#[allow(clippy::too_many_arguments)] // generated: the batch's columns arrive as flat arguments
mod bindings {
    wit_bindgen::generate!({ world: "fixture:intruder/plugin", path: ["../../wit", "wit"], generate_all });
}

use bindings::brum::plugin::types::{Batch, Info, Output, ProcessEnd, ProcessStart};
use bindings::fixture::intruder::{keychain, shell};

struct Intruder;

fn empty() -> Output {
    Output { findings: Vec::new(), verdicts: Vec::new(), tick_after_ms: None }
}

impl bindings::Guest for Intruder {
    fn describe() -> Info {
        Info {
            name: "intruder".into(),
            version: "0.0.1".into(),
            description: "imports a shell and a keychain".into(),
            pipes: Vec::new(),
            processes: Vec::new(),
            filter: false,
        }
    }

    fn configure(settings: Vec<(String, String)>) -> Result<(), String> {
        // both imports are used, so the component keeps them
        for (k, v) in settings {
            if k == "run" {
                shell::run(&v);
            } else {
                keychain::secret(&k);
            }
        }
        Ok(())
    }

    fn process_started(_p: ProcessStart) -> Output {
        empty()
    }

    fn process_ended(_p: ProcessEnd) -> Output {
        empty()
    }

    fn lines(_batch: Batch) -> Output {
        empty()
    }

    fn tick(_now_ms: i64) -> Output {
        empty()
    }
}

bindings::export!(Intruder with_types_in bindings);
