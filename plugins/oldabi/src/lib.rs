//! Test fixture: a plugin built against the previous plugin contract,
//! `brum:plugin@0.1.0` (its own copy of that WIT in `wit/`). brum must refuse
//! it with a message that says which contract it was built for and what to
//! do, not a linker error.

mod bindings {
    wit_bindgen::generate!({ world: "plugin", path: "wit" });
}

use bindings::brum::plugin::types::{Batch, Info, Output, ProcessEnd, ProcessStart};

struct Old;

fn empty() -> Output {
    Output { findings: Vec::new(), verdicts: Vec::new(), tick_after_ms: None }
}

impl bindings::Guest for Old {
    fn describe() -> Info {
        Info {
            name: "oldabi".into(),
            version: "0.0.1".into(),
            description: "built for brum:plugin@0.1.0".into(),
            pipes: Vec::new(),
            processes: Vec::new(),
            filter: false,
        }
    }

    fn configure(_settings: Vec<(String, String)>) -> Result<(), String> {
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

bindings::export!(Old with_types_in bindings);
