use super::*;
use crate::events::FindingView;

fn plain(ev: &Event<'_>) -> String {
    let mut out = Vec::new();
    encode(&mut out, HumanStyle { color: false, width: 5 }, ev);
    String::from_utf8(out).expect("utf-8")
}

const API: ProcRef<'static> = ProcRef { name: "api", index: 1 };

#[test]
fn lines_are_prefixed_and_stderr_marked() {
    let out = plain(&Event::LogLine {
        process: API,
        stream: Stream::Stdout,
        line: b"hello",
        truncated: false,
        boost: false,
        tag: None,
    });
    assert_eq!(out, "api   | hello\n");
    let err = plain(&Event::LogLine {
        process: API,
        stream: Stream::Stderr,
        line: b"oops",
        truncated: false,
        boost: false,
        tag: None,
    });
    assert_eq!(err, "api   ! oops\n");
    let cut = plain(&Event::LogLine {
        process: API,
        stream: Stream::Stdout,
        line: b"aaaa",
        truncated: true,
        boost: false,
        tag: None,
    });
    assert_eq!(cut, "api   | aaaa…\n", "a piece of a longer line says it goes on");
}

#[test]
fn screen_clearing_is_left_out_and_colours_kept() {
    let mut out = Vec::new();
    push_line_for_screen(
        &mut out,
        b"\x1b[2J\x1b[3J\x1b[H\x1b[36m10:04:01\x1b[0m - Starting compilation\x1bc\x1b[12;1f.",
    );
    assert_eq!(out, b"\x1b[36m10:04:01\x1b[0m - Starting compilation.");
    let line = |raw| {
        let mut out = Vec::new();
        let ev = Event::LogLine {
            process: API,
            stream: Stream::Stdout,
            line: b"\x1b[2Jx",
            truncated: false,
            boost: false,
            tag: None,
        };
        encode_opts(&mut out, HumanStyle { color: false, width: 5 }, &ev, raw);
        String::from_utf8_lossy(&out).into_owned()
    };
    assert_eq!(line(false), "api   | x\n");
    assert_eq!(line(true), "api   | \x1b[2Jx\n", "raw_terminal keeps them");
}

#[test]
fn build_notes_are_coloured_by_meaning() {
    let fields = [("status".to_string(), "failure".to_string())];
    let f = FindingView::new("build", "error", "Found 2 errors.", (1, 1), &fields);
    let show = |f: &FindingView<'_>| {
        let mut out = Vec::new();
        encode(
            &mut out,
            HumanStyle { color: true, width: 5 },
            &Event::Finding { process: API, plugin: "e", finding: f },
        );
        String::from_utf8_lossy(&out).into_owned()
    };
    assert!(show(&f).contains("\x1b[22;1;31mbuild failure"), "{:?}", show(&f));
    let ok = [("status".to_string(), "success".to_string())];
    let g = FindingView { severity: "info", fields: &ok, ..f };
    assert!(show(&g).contains("\x1b[22;32mbuild success"), "{:?}", show(&g));
}

#[test]
fn exits_say_code_signal_or_stop() {
    let ex = |code, signal, state| {
        plain(&Event::ProcessExited {
            process: API,
            pid: Some(1),
            code,
            signal,
            duration_ms: 2310,
            state,
            error: None,
            run: 1,
        })
    };
    assert_eq!(ex(Some(1), None, EndState::Failed), "api   * exited with code 1 after 2.31s\n");
    assert_eq!(ex(None, Some(9), EndState::Failed), "api   * killed by SIGKILL after 2.31s\n");
    assert_eq!(ex(None, Some(15), EndState::Stopped), "api   * stopped (SIGTERM) after 2.31s\n");
}

#[test]
fn colour_is_stable_per_process() {
    let mut a = Vec::new();
    let style = HumanStyle { color: true, width: 3 };
    encode(
        &mut a,
        style,
        &Event::LogLine { process: API, stream: Stream::Stdout, line: b"x", truncated: false, boost: false, tag: None },
    );
    assert!(a.starts_with(PALETTE[1]));
}

#[test]
fn the_browser_says_console_messages_and_page_loads_and_leaves_errors_to_their_finding() {
    let console = |level, message| Event::BrowserConsole { process: API, level, message, page: "http://h/" };
    assert_eq!(plain(&console("warn", "careful")), "api   * console.warn: careful\n");
    assert_eq!(
        plain(&console("error", "TypeError: x\n    at f (a.js:1:2)\n    at g (a.js:3:4)")),
        "api   * console.error: TypeError: x (+2 lines)\n"
    );
    let page = Event::BrowserPage { process: API, url: "http://h/", title: Some("Demo"), load_ms: Some(312) };
    assert_eq!(plain(&page), "api   * page loaded: http://h/ \"Demo\" in 312ms\n");
    let bare = Event::BrowserPage { process: API, url: "http://h/", title: Some(""), load_ms: None };
    assert_eq!(plain(&bare), "api   * page loaded: http://h/\n");
    let err = Event::BrowserError {
        process: API,
        kind: "exception",
        page: "http://h/",
        message: "boom",
        stack: "",
        file: None,
        line: None,
        col: None,
        frames: &[],
    };
    assert_eq!(plain(&err), "", "its error.detected is the readable line");
}
