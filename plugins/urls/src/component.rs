//! The wasm component glue: brum's plugin world over [`crate::UrlDetector`].

use brum_plugin_sdk::*;

use crate::{UrlDetector, UrlFound};

#[derive(Default)]
struct Urls {
    det: UrlDetector,
    found: Vec<UrlFound>,
}

impl Plugin for Urls {
    fn info() -> Info {
        info("urls", env!("CARGO_PKG_VERSION"), "URLs that dev servers announce on loopback and LAN addresses")
    }

    fn process_ended(&mut self, p: &ProcessEnd, _out: &mut Output) {
        self.det.on_process_end(p.process);
    }

    fn line(&mut self, l: Line<'_>, out: &mut Output) {
        self.det.on_line(&l, &mut self.found);
        for u in self.found.drain(..) {
            let mut f = finding(&l, Kind::Url, Severity::Info, &u.url);
            f.url = Some(u.url);
            if let Some(label) = u.label {
                f.fields.push(("label".into(), label));
            }
            out.findings.push(f);
        }
    }
}

export!(Urls);
