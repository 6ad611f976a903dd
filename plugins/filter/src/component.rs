//! The wasm component glue: brum's plugin world over [`crate::Filter`].

use std::collections::BTreeMap;

use brum_plugin_sdk::*;

use crate::Filter;

#[derive(Default)]
struct FilterPlugin {
    filter: Option<Filter>,
    names: BTreeMap<u32, String>,
}

impl Plugin for FilterPlugin {
    fn info() -> Info {
        let mut i = info("filter", env!("CARGO_PKG_VERSION"), "drops, keeps, boosts or tags lines by configured rules");
        i.filter = true;
        i
    }

    fn configure(&mut self, settings: &[(String, String)]) -> Result<(), String> {
        self.filter = Some(Filter::from_settings(settings)?);
        Ok(())
    }

    fn process_started(&mut self, p: &ProcessStart, _out: &mut Output) {
        self.names.insert(p.process, p.name.clone());
    }

    fn line(&mut self, l: Line<'_>, out: &mut Output) {
        let Some(filter) = self.filter.as_mut() else {
            return;
        };
        let name = self.names.get(&l.process).map(String::as_str).unwrap_or("");
        let verdict = match filter.verdict(name, l.is_stderr(), l.bytes) {
            crate::Verdict::Keep => return,
            crate::Verdict::Drop => Verdict::Drop,
            crate::Verdict::Boost => Verdict::Boost,
            crate::Verdict::Tag(t) => Verdict::Tag(t),
        };
        out.verdicts.push(LineVerdict { seq: l.seq, verdict });
    }
}

export!(FilterPlugin);
