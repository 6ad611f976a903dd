//! What a person sees: readable output, the same from `brum run` and
//! `brum tail`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::*;

/// `brum tail` in a terminal reads exactly like `brum run`: one renderer.
#[test]
fn tail_reads_exactly_like_run() {
    let p = Project::with_toml(concat!(
        "[process.types]\n",
        "cmd = '''sleep 0.5; printf \"src/App.tsx(9,9): error TS2322: Type 'number' is not assignable to type 'string'.\\n\\nFound 1 error. Watching for file changes.\\n\"; sleep 0.2; printf \"Found 0 errors. Watching for file changes.\\n\"'''\n",
        "[process.web]\n",
        "cmd = '''sleep 0.5; echo '  Local:   http://localhost:5173/'; printf 'not utf-8: \\377\\n' >&2; exit 3'''\n",
    ));
    let run = p.cmd(&["run", "--color", "never"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run");
    // follow it from the start
    let sock = p.path().join(".brum").join("brum.sock");
    let start = Instant::now();
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "no socket");
        std::thread::sleep(Duration::from_millis(10));
    }
    let tail = p
        .cmd(&["tail", "--since", "0", "--human"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tail");
    let run = finish(run, LIMIT);
    let tail = finish(tail, LIMIT);
    assert_eq!(run.code, Some(3));
    let (r, t) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&tail.stdout));
    assert!(r.contains("types * error: Type 'number' is not assignable to type 'string'. (src/App.tsx:9:9)"), "{r}");
    assert!(r.contains("web   * exited with code 3"), "{r}");
    assert_eq!(t, r, "tail must read like run");
}

/// Children get colour when brum's readable output has it (as
/// concurrently does), unless a process says `color = false`.
#[test]
fn children_are_asked_for_colour_when_brum_shows_colour() {
    let p = Project::with_toml(
        "[process.a]\ncmd = \"echo a=${FORCE_COLOR:-none}\"\n[process.b]\ncmd = \"echo b=${FORCE_COLOR:-none}\"\ncolor = false\n",
    );
    let out = p.run(&["run", "--color", "always"], LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("a=1"), "{text}");
    assert!(text.contains("b=none"), "{text}");
    let out = p.run(&["run", "--color", "never"], LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("a=none"), "{text}");
    let (events, _) = p.run_json(&[], LIMIT);
    assert!(events.iter().any(|e| e["text"] == "a=none"), "JSON output asks for no colour");
}

/// `tsc --watch` clears the screen on every recompile: readable output
/// leaves that out (the stored line keeps it), unless `raw_terminal`.
#[test]
fn a_child_cannot_wipe_the_terminal() {
    let p = Project::with_toml(
        "[process.w]\ncmd = \"printf '\\\\033[2J\\\\033[3J\\\\033[HStarting compilation\\\\n'\"\n[process.r]\ncmd = \"printf '\\\\033[2Jraw\\\\n'\"\nraw_terminal = true\n",
    );
    let out = p.run(&["run", "--color", "never"], LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("w    | Starting compilation\n"), "{text:?}");
    assert!(text.contains("r    | \u{1b}[2Jraw\n"), "{text:?}");
    let (events, _) = p.run_json(&[], LIMIT);
    let w = events.iter().find(|e| e["process"] == "w" && e["type"] == "log.line").expect("line");
    assert_eq!(w["text"], "\u{1b}[2J\u{1b}[3J\u{1b}[HStarting compilation", "the event keeps the bytes");
}

/// In a monorepo a tool prints paths relative to its package: GitHub
/// annotations name them relative to the checkout.
#[test]
fn github_annotations_resolve_paths_against_the_process_cwd() {
    let p = Project::with_toml(
        "[process.web]\ncwd = \"frontend\"\ncmd = '''printf \"src/App.tsx(12,7): error TS2322: Type 'number' is not assignable to type 'string'.\\n\"'''\n",
    );
    std::fs::create_dir(p.path().join("frontend")).expect("mkdir");
    let out = p.cmd(&["run", "--format", "github"]).env("GITHUB_WORKSPACE", p.path()).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("::error file=frontend/src/App.tsx,line=12,col=7,"), "{text}");
}

/// `brum logs --grep X` with no name searches every process.
#[test]
fn logs_without_a_name_search_every_process() {
    let p = Project::with_toml(
        "[process.a]\ncmd = \"echo 'a: ECONNREFUSED one'; echo a: fine; sleep 876801\"\n[process.b]\ncmd = \"sleep 0.2; echo 'b: ECONNREFUSED two'; sleep 876801\"\n",
    );
    let up = p.run(&["up"], LIMIT);
    assert_eq!(up.code, Some(0), "{}", up.stderr);
    let start = Instant::now();
    let text = loop {
        let out = p.run(&["logs", "--grep", "ECONNREFUSED"], LIMIT);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.lines().count() >= 2 || start.elapsed() > Duration::from_secs(20) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(text, "a | a: ECONNREFUSED one\nb | b: ECONNREFUSED two\n");
    let down = p.run(&["down"], LIMIT);
    assert_eq!(down.code, Some(0));
}

#[test]
fn scripts_json_says_what_would_run() {
    let p = Project::with_toml(
        "[process.db]\ncmd = \"x\"\nready.tcp = 5432\n[process.api]\ncmd = \"y\"\ndepends_on = [\"db\"]\n",
    );
    let out = p.run(&["scripts", "--json"], LIMIT);
    assert_eq!(out.code, Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["processes"][1]["depends_on"][0], "db");
    assert_eq!(v["processes"][0]["ready"], "tcp");
    assert_eq!(v["run_starts"], serde_json::json!(["db", "api"]));
}

/// Completions and the man page come from the same definitions as --help.
#[test]
fn completions_and_man_page() {
    let p = Project::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = p.run(&["completions", shell], LIMIT);
        assert_eq!(out.code, Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("tail") && text.contains("kill-others-on-fail"), "{shell}: {text}");
    }
    let out = p.run(&["man"], LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(".ie") && text.contains(".TH brum 1"), "{text}");
}
