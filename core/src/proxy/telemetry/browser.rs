//! A browser [`Report`] as events: `browser.error`, `browser.console` or
//! `browser.page`, and for an error also the `error.detected` finding
//! (`source: "browser"`) that enters the error lifecycle like a plugin's.
//!
//! Pure: the location is mapped before ([`super::locate`]); the engine
//! publishes what this returns. In the reactor:
//!
//! ```ignore
//! let t = browser::translate(report, location);
//! let seq = self.em.publish(&t.event(p.pref()));
//! if let Some(mut view) = t.finding(&p.spec.name, seq) {
//!     let (id, count) = self.book.seen(pi, view.fingerprint, false, p.child.run, seq);
//!     (view.id, view.count) = (id, count);
//!     p.stats.errors += 1;
//!     let ev = Event::Finding { process: p.pref(), plugin: browser::PLUGIN, finding: &view };
//!     let seq = self.em.publish(&ev);
//!     // and keep its JSON in the book for `brum errors`, as after_plugins does
//! }
//! ```

use super::Report;
use crate::events::{Event, FindingView, ProcRef};

/// The `plugin` of a browser error's `error.detected`.
pub const PLUGIN: &str = "browser";

/// A report with its place in the project, owning what its events borrow.
#[derive(Debug, Clone)]
pub struct Translated {
    report: Report,
    /// The project file (else the served URL without its query), line, col.
    file: Option<String>,
    line: Option<u32>,
    col: Option<u32>,
    /// `source`, `page` and `cause` of the finding.
    fields: Vec<(String, String)>,
}

/// `report`, located at `location` (from [`super::locate::locate`]) when
/// that found the project file.
pub fn translate(report: Report, location: Option<(String, u32, u32)>) -> Translated {
    let (mut file, mut line, mut col) = (None, None, None);
    let mut fields = Vec::new();
    if let Report::Error { kind, url, line: l, col: c, page, .. } = &report {
        match location {
            Some((f, l, c)) => (file, line, col) = (Some(f), Some(l), Some(c)),
            None => {
                // the URL without `?t=…`, so a reload does not make it another error
                file = url.as_deref().map(|u| u[..u.find(['?', '#']).unwrap_or(u.len())].to_string());
                (line, col) = (*l, *c);
            }
        }
        fields = vec![
            ("source".to_string(), "browser".to_string()),
            ("page".to_string(), page.clone()),
            ("cause".to_string(), kind.as_str().to_string()),
        ];
    }
    Translated { report, file, line, col, fields }
}

impl Translated {
    /// The report.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Its `browser.*` event.
    pub fn event<'a>(&'a self, process: ProcRef<'a>) -> Event<'a> {
        match &self.report {
            Report::Error { kind, message, stack, page, .. } => Event::BrowserError {
                process,
                kind: kind.as_str(),
                page,
                message,
                stack,
                file: self.file.as_deref(),
                line: self.line,
                col: self.col,
            },
            Report::Console { level, message, page } => {
                Event::BrowserConsole { process, level: level.as_str(), message, page }
            }
            Report::Page { url, title, load_ms } => {
                Event::BrowserPage { process, url, title: title.as_deref(), load_ms: *load_ms }
            }
        }
    }

    /// For an error: its `error.detected` of process `process` (for the
    /// fingerprint), covering the `browser.error` event published as `seq`.
    /// `id` and `count` are 0 and 1: the error book sets them.
    pub fn finding(&self, process: &str, seq: u64) -> Option<FindingView<'_>> {
        let Report::Error { message, .. } = &self.report else { return None };
        let mut view = FindingView {
            kind: "error",
            custom_kind: None,
            severity: "error",
            message,
            first_seq: seq,
            last_seq: seq,
            file: self.file.as_deref(),
            line: self.line,
            column: self.col,
            code: None,
            url: None,
            language: Some("javascript"),
            fields: &self.fields,
            fingerprint: 0,
            count: 1,
            id: 0,
        };
        view.fingerprint = view.compute_fingerprint(process);
        Some(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Timestamps, json};
    use crate::proxy::telemetry::{ErrorKind, Level};

    const WEB: ProcRef<'static> = ProcRef { name: "web", index: 0 };

    fn enc(ev: &Event<'_>) -> serde_json::Value {
        let mut out = Vec::new();
        json::encode(&mut out, &mut Timestamps::new(), 7, 0, ev);
        serde_json::from_slice(&out).expect("json")
    }

    fn error(url: &str) -> Report {
        Report::Error {
            kind: ErrorKind::Exception,
            message: "Uncaught TypeError: x is undefined".into(),
            stack: "TypeError: x is undefined\n    at boom (http://h/src/App.tsx?t=1:12:5)".into(),
            url: Some(url.into()),
            line: Some(12),
            col: Some(5),
            page: "http://h/".into(),
        }
    }

    #[test]
    fn an_error_becomes_browser_error_and_error_detected_from_the_browser() {
        let t = translate(error("http://h/src/App.tsx?t=1"), Some(("src/App.tsx".into(), 12, 5)));
        let ev = enc(&t.event(WEB));
        assert_eq!(ev["type"], "browser.error");
        assert_eq!((&ev["file"], &ev["line"], &ev["col"]), (&"src/App.tsx".into(), &12.into(), &5.into()));
        assert_eq!(ev["kind"], "exception");
        let view = t.finding("web", 41).expect("an error is a finding");
        let f = enc(&Event::Finding { process: WEB, plugin: PLUGIN, finding: &view });
        assert_eq!(f["type"], "error.detected");
        assert_eq!(f["source"], "browser");
        assert_eq!(f["plugin"], "browser");
        assert_eq!((&f["file"], &f["line"], &f["column"]), (&"src/App.tsx".into(), &12.into(), &5.into()));
        assert_eq!((&f["first_seq"], &f["last_seq"]), (&41.into(), &41.into()));
        assert_eq!(f["fields"]["page"], "http://h/");
        assert_eq!(f["fields"]["cause"], "exception");
        assert_eq!(view.fingerprint, view.compute_fingerprint("web"));
    }

    #[test]
    fn an_unmapped_error_keeps_the_url_without_its_query_so_reloads_are_one_error() {
        let a = translate(error("http://h/assets/x.js?t=1"), None);
        let b = translate(error("http://h/assets/x.js?t=2"), None);
        let (fa, fb) = (a.finding("web", 1).expect("finding"), b.finding("web", 9).expect("finding"));
        assert_eq!(fa.file, Some("http://h/assets/x.js"));
        assert_eq!(fa.fingerprint, fb.fingerprint);
        assert_ne!(fa.fingerprint, a.finding("api", 1).expect("finding").fingerprint, "per process");
    }

    #[test]
    fn console_and_page_reports_are_events_without_findings() {
        let c = translate(
            Report::Console { level: Level::Warn, message: "careful".into(), page: "http://h/".into() },
            None,
        );
        assert!(c.finding("web", 1).is_none());
        let ev = enc(&c.event(WEB));
        assert_eq!(
            (&ev["type"], &ev["level"], &ev["message"]),
            (&"browser.console".into(), &"warn".into(), &"careful".into())
        );
        let p = translate(Report::Page { url: "http://h/".into(), title: None, load_ms: Some(80) }, None);
        let ev = enc(&p.event(WEB));
        assert_eq!(
            (&ev["type"], &ev["title"], &ev["load_ms"]),
            (&"browser.page".into(), &serde_json::Value::Null, &80.into())
        );
    }
}
