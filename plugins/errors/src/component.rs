//! The wasm component glue: brum's plugin world over [`crate::Detector`].
//! Settings: `quiet_ms` (how long a multi-line record may stay open without
//! a following line before it is flushed; default 200).

use brum_plugin_sdk::{Batch, Info, Kind as K, Output, Plugin, ProcessEnd, Severity as S, export, info};

use crate::{Detector, Finding, Kind, Settings, Severity};

struct Errors {
    det: Detector,
    quiet_ms: i64,
    found: Vec<Finding>,
}

impl Default for Errors {
    fn default() -> Self {
        Errors { det: Detector::new(Settings { quiet_ms: 200, fast_reject: true }), quiet_ms: 200, found: Vec::new() }
    }
}

fn convert(f: Finding) -> brum_plugin_sdk::Finding {
    let kind = match f.kind {
        Kind::Error => K::Error,
        Kind::Warning => K::Warning,
        Kind::Build => K::Build,
        Kind::Test => K::Test,
    };
    let severity = match f.severity {
        Severity::Critical => S::Critical,
        Severity::Error => S::Error,
        Severity::Warning => S::Warning,
        Severity::Info => S::Info,
    };
    brum_plugin_sdk::Finding {
        kind,
        custom_kind: None,
        severity,
        process: f.process,
        message: f.message,
        first_seq: f.first_seq,
        last_seq: f.last_seq,
        file: f.file,
        line: f.line,
        column: f.column,
        code: f.code,
        url: None,
        language: f.language,
        fields: f.fields,
    }
}

impl Errors {
    fn flush(&mut self, out: &mut Output) {
        out.findings.extend(self.found.drain(..).map(convert));
        out.tick_after_ms = self.det.next_tick().map(|_| self.quiet_ms.max(1) as u32);
    }
}

impl Plugin for Errors {
    fn info() -> Info {
        info(
            "errors",
            env!("CARGO_PKG_VERSION"),
            "multi-line errors, warnings, test and build results from real tools' output",
        )
    }

    fn configure(&mut self, settings: &[(String, String)]) -> Result<(), String> {
        for (k, v) in settings {
            match k.as_str() {
                "quiet_ms" => {
                    self.quiet_ms = v.parse().map_err(|_| format!("quiet_ms: expected milliseconds, found {v:?}"))?;
                }
                other => return Err(format!("unknown setting {other:?} (known: quiet_ms)")),
            }
        }
        self.det = Detector::new(Settings { quiet_ms: self.quiet_ms, fast_reject: true });
        Ok(())
    }

    fn process_ended(&mut self, p: &ProcessEnd, out: &mut Output) {
        self.det.on_process_end(p.process, &mut self.found);
        self.flush(out);
    }

    fn batch(&mut self, batch: &Batch, out: &mut Output) {
        self.det.on_batch(batch, &mut self.found);
        self.flush(out);
    }

    fn tick(&mut self, now_ms: i64, out: &mut Output) {
        self.det.on_tick(now_ms, &mut self.found);
        self.flush(out);
    }
}

export!(Errors);
