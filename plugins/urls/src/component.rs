//! The wasm component glue: brum's plugin world over [`crate::UrlDetector`].

use brum_plugin_sdk::*;

use crate::{UrlDetector, UrlFound};

#[derive(Default)]
struct Urls {
    det: UrlDetector,
    found: Vec<UrlFound>,
    /// indices of a batch's lines that hold `://` (reused)
    hits: Vec<usize>,
}

impl Plugin for Urls {
    fn info() -> Info {
        info("urls", env!("CARGO_PKG_VERSION"), "URLs that dev servers announce on loopback and LAN addresses")
    }

    fn process_ended(&mut self, p: &ProcessEnd, _out: &mut Output) {
        self.det.on_process_end(p.process);
    }

    /// Only the lines that hold `://` are looked at, found with one search
    /// over the whole batch (most lines of a session hold none).
    fn batch(&mut self, batch: &Batch, out: &mut Output) {
        let mut hits = std::mem::take(&mut self.hits);
        hits.clear();
        self.det.lines_with_urls(&batch.data, &batch.start, &batch.len, |i| hits.push(i));
        let n = line_count(batch);
        for &i in hits.iter().filter(|&&i| i < n) {
            self.line(line_at(batch, i), out);
        }
        self.hits = hits;
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
