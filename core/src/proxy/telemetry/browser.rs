//! A browser [`Report`] as events: `browser.error`, `browser.console` or
//! `browser.page`, and for an error also the `error.detected` finding
//! (`source: "browser"`) that enters the error lifecycle like a plugin's.
//!
//! Pure: the frames are placed before ([`super::stack`]); the engine
//! publishes what this returns. In the reactor:
//!
//! ```ignore
//! let t = browser::translate(report, frames);
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
use super::stack::{placed_stack, users_frame};
use crate::events::{BrowserFrame, Event, FindingView, ProcRef};

/// The `plugin` of a browser error's `error.detected`.
pub const PLUGIN: &str = "browser";

/// A report with its place in the project, owning what its events borrow.
#[derive(Debug, Clone)]
pub struct Translated {
    report: Report,
    /// The user's frame: the project file (else the source a map names,
    /// else the served URL without its query), line, col.
    file: Option<String>,
    line: Option<u32>,
    col: Option<u32>,
    /// Every frame placed (at most [`super::stack::MAX_FRAMES`]).
    frames: Vec<BrowserFrame>,
    /// `source`, `page`, `cause` and (when its stack had frames) `stack`
    /// of the finding.
    fields: Vec<(String, String)>,
}

/// `report` with its frames placed ([`super::stack::place_frames`]): its
/// place is the user's frame ([`super::stack::users_frame`]).
pub fn translate(report: Report, frames: Vec<BrowserFrame>) -> Translated {
    let (mut file, mut line, mut col) = (None, None, None);
    let mut fields = Vec::new();
    if let Report::Error { kind, page, stack, .. } = &report {
        if let Some(f) = users_frame(&frames) {
            (file, line, col) = (Some(f.file.clone()), Some(f.line), Some(f.col));
        }
        fields = vec![
            ("source".to_string(), "browser".to_string()),
            ("page".to_string(), page.clone()),
            ("cause".to_string(), kind.as_str().to_string()),
        ];
        if let Some(placed) = placed_stack(stack, &frames) {
            fields.push(("stack".to_string(), placed));
        }
    }
    Translated { report, file, line, col, frames, fields }
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
                frames: &self.frames,
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
        let t =
            translate(error("http://h/src/App.tsx?t=1"), vec![frame("src/App.tsx", 12, 5, "http://h/src/App.tsx?t=1")]);
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
        assert_eq!(f["fields"]["stack"], "TypeError: x is undefined\n    at boom (src/App.tsx:12:5)");
        assert_eq!(ev["frames"][0]["served"], "http://h/src/App.tsx?t=1:12:5");
        assert_eq!(view.fingerprint, view.compute_fingerprint("web"));
    }

    fn frame(file: &str, line: u32, col: u32, url: &str) -> BrowserFrame {
        BrowserFrame { file: file.into(), line, col, served: format!("{url}:{line}:{col}") }
    }

    #[test]
    fn the_place_is_the_first_frame_in_the_project_and_the_stack_shows_every_frame_placed() {
        let mut r = error("http://h/node_modules/.vite/deps/react-dom.js?v=1");
        if let Report::Error { stack, .. } = &mut r {
            *stack = "Error: boom\n    at invariant (http://h/node_modules/.vite/deps/react-dom.js?v=1:10:3)\n    \
                      at App (http://h/src/App.tsx?t=1:12:5)\n    at http://h/src/main.tsx:3:1"
                .into();
        }
        let frames = vec![
            BrowserFrame {
                served: "http://h/node_modules/.vite/deps/react-dom.js?v=1:10:3".into(),
                ..frame("node_modules/react-dom/cjs/react-dom.development.js", 99, 7, "")
            },
            frame("src/App.tsx", 12, 5, "http://h/src/App.tsx?t=1"),
            frame("src/main.tsx", 3, 1, "http://h/src/main.tsx"),
        ];
        let t = translate(r, frames);
        let view = t.finding("web", 1).expect("finding");
        assert_eq!((view.file, view.line, view.column), (Some("src/App.tsx"), Some(12), Some(5)));
        assert_eq!(
            view.field("stack"),
            Some(
                "Error: boom\n    at invariant (node_modules/react-dom/cjs/react-dom.development.js:99:7)\n    \
                 at App (src/App.tsx:12:5)\n    at src/main.tsx:3:1"
            )
        );
        let ev = enc(&t.event(WEB));
        assert_eq!(ev["frames"].as_array().map(Vec::len), Some(3));
        assert_eq!(ev["frames"][1]["file"], "src/App.tsx");
        assert_eq!(ev["stack"].as_str().map(|s| s.contains("react-dom.js?v=1:10:3")), Some(true), "raw stack kept");
        // only dependencies: the first frame
        let t = translate(
            error("http://h/assets/vendor-1.js"),
            vec![frame("http://h/assets/vendor-1.js", 1, 2, "http://h/assets/vendor-1.js")],
        );
        assert_eq!(t.finding("web", 1).expect("finding").file, Some("http://h/assets/vendor-1.js"));
    }

    #[test]
    fn an_unmapped_error_keeps_the_url_without_its_query_so_reloads_are_one_error() {
        let a = translate(
            error("http://h/assets/x.js?t=1"),
            vec![frame("http://h/assets/x.js", 12, 5, "http://h/assets/x.js?t=1")],
        );
        let b = translate(
            error("http://h/assets/x.js?t=2"),
            vec![frame("http://h/assets/x.js", 12, 5, "http://h/assets/x.js?t=2")],
        );
        let (fa, fb) = (a.finding("web", 1).expect("finding"), b.finding("web", 9).expect("finding"));
        assert_eq!(fa.file, Some("http://h/assets/x.js"));
        assert_eq!(fa.fingerprint, fb.fingerprint);
        assert_ne!(fa.fingerprint, a.finding("api", 1).expect("finding").fingerprint, "per process");
    }

    #[test]
    fn console_and_page_reports_are_events_without_findings() {
        let c = translate(
            Report::Console { level: Level::Warn, message: "careful".into(), page: "http://h/".into() },
            Vec::new(),
        );
        assert!(c.finding("web", 1).is_none());
        let ev = enc(&c.event(WEB));
        assert_eq!(
            (&ev["type"], &ev["level"], &ev["message"]),
            (&"browser.console".into(), &"warn".into(), &"careful".into())
        );
        let p = translate(Report::Page { url: "http://h/".into(), title: None, load_ms: Some(80) }, Vec::new());
        let ev = enc(&p.event(WEB));
        assert_eq!(
            (&ev["type"], &ev["title"], &ev["load_ms"]),
            (&"browser.page".into(), &serde_json::Value::Null, &80.into())
        );
    }
}
