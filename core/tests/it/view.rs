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

/// What a person sees in a terminal, checked the way they see it: a small
/// session run in a pseudo-terminal (120×40, so brum and its children see a
/// terminal and use colour) and the screen's bytes compared with a golden
/// (`core/tests/it/golden/screen.txt`, ESC shown as `␛`; pids and times
/// normalised). The steps are ordered by readiness probes and a file the
/// test creates, not by sleeps. `BRUM_UPDATE_GOLDEN=1` rewrites the golden
/// (then read it before committing).
#[test]
fn the_terminal_screen_matches_the_golden() {
    let p = Project::with_toml(concat!(
        "[process.web]\n",
        "cmd = \"echo '  VITE v5.4.21  ready in 312 ms'; echo '  ➜  Local:   http://localhost:5173/'; while [ ! -f done ]; do sleep 0.05; done\"\n",
        "ready.url = true\n\n",
        "[process.types]\n",
        "cmd = \"printf \\\"\\\\033[2J\\\\033[Hsrc/App.tsx(12,7): error TS2322: Type 'number' is not assignable to type 'string'.\\\\n\\\\nFound 1 error. Watching for file changes.\\\\n\\\"\"\n",
        "depends_on = [\"web\"]\nready.exit = 0\n\n",
        "[process.api]\n",
        "cmd = \"printf 'Traceback (most recent call last):\\\\n  File \\\"app.py\\\", line 3, in <module>\\\\n    main()\\\\nKeyError: DATABASE_URL\\\\n' >&2; exit 1\"\n",
        "depends_on = [\"types\"]\n",
    ));
    let screen = p.path().join("screen.raw");
    let cmd = format!("stty cols 120 rows 40; exec {} run", brum_bin());
    let mut child = std::process::Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .current_dir(p.path())
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&screen).expect("screen file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("script (util-linux) runs brum in a pseudo-terminal");
    // web ends once api's exit is on the screen
    let start = Instant::now();
    while !std::fs::read_to_string(&screen).unwrap_or_default().contains("exited with code 1") {
        assert!(start.elapsed() < LIMIT, "api never ended on the screen");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(p.path().join("done"), "").expect("done");
    let status = child.wait().expect("wait");
    assert!(status.success() || status.code() == Some(1), "{status:?}");
    let raw = std::fs::read(&screen).expect("screen");
    let text = normalise_screen(&String::from_utf8_lossy(&raw));
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/golden/screen.txt");
    if std::env::var_os("BRUM_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &text).expect("write golden");
    }
    let want = std::fs::read_to_string(&golden).expect("golden");
    assert_eq!(text, want, "the screen differs from {}", golden.display());
}

/// The screen with what changes from run to run made stable.
fn normalise_screen(raw: &str) -> String {
    let mut out = String::new();
    for line in raw.replace("\r\n", "\n").lines() {
        let mut l = line.replace('\u{1b}', "␛");
        // pids
        while let Some(i) = l.find("(pid ") {
            let end = l[i + 5..].find(')').map_or(l.len(), |e| i + 5 + e);
            l.replace_range(i..=end.min(l.len() - 1), "(pid N)");
            if !l[i + 7..].contains("(pid ")
                || l[i + 7..].find("(pid ").is_some_and(|j| l[i + 7 + j..].starts_with("(pid N)"))
            {
                break;
            }
        }
        // durations: 12ms, 1.99s, 3m05s
        let mut norm = String::new();
        let b = l.as_bytes();
        let mut k = 0;
        while k < b.len() {
            if b[k].is_ascii_digit() && (k == 0 || !b[k - 1].is_ascii_alphanumeric()) {
                let mut j = k;
                while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                    j += 1;
                }
                let rest = &l[j..];
                if let Some(unit) = ["ms", "s"]
                    .iter()
                    .find(|u| rest.starts_with(**u) && !rest[u.len()..].starts_with(|c: char| c.is_alphanumeric()))
                {
                    // a time's width varies, and so the padding before it
                    while norm.ends_with("  ") {
                        norm.pop();
                    }
                    norm.push_str("<t>");
                    k = j + unit.len();
                    continue;
                }
                norm.push_str(&l[k..j]);
                k = j;
                continue;
            }
            let c = l[k..].chars().next().unwrap_or(' ');
            norm.push(c);
            k += c.len_utf8();
        }
        out.push_str(norm.trim_end());
        out.push('\n');
    }
    out
}

/// `brum reload` restarts only what changed, starts what is new, stops what
/// is gone; a file with mistakes changes nothing.
#[test]
fn reload_applies_only_what_changed() {
    let p = Project::with_toml(
        "[process.keep]\ncmd = \"echo keep; sleep 876802\"\n[process.edit]\ncmd = \"echo old; sleep 876802\"\n[process.gone]\ncmd = \"sleep 876802\"\n",
    );
    let mut live = Live::spawn(p.cmd(&["run", "--json"]));
    live.until(|e| e["type"] == "log.line" && e["text"] == "old");
    wait_for_socket(&p);
    p.write(
        "brum.toml",
        "[process.keep]\ncmd = \"echo keep; sleep 876802\"\n[process.edit]\ncmd = \"echo new; sleep 876802\"\n[process.fresh]\ncmd = \"echo fresh; sleep 876802\"\n",
    );
    let out = p.run(&["reload"], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("restarted (changed): edit")
            && text.contains("added: fresh")
            && text.contains("stopped (removed): gone"),
        "{text}"
    );
    let seen = live.until(|e| e["type"] == "log.line" && (e["text"] == "new" || e["text"] == "fresh") && { true });
    let mut seen = seen;
    if !seen.iter().any(|e| e["text"] == "fresh") || !seen.iter().any(|e| e["text"] == "new") {
        seen.extend(live.until(|e| e["type"] == "log.line" && (e["text"] == "new" || e["text"] == "fresh")));
    }
    let reloaded = seen.iter().find(|e| e["type"] == "daemon.reloaded").expect("daemon.reloaded");
    assert_eq!(reloaded["changed"], serde_json::json!(["edit"]));
    assert!(seen.iter().all(|e| !(e["type"] == "process.started" && e["process"] == "keep")), "keep was not restarted");
    // mistakes change nothing
    p.write("brum.toml", "[process.keep]\ncmd = 5\n");
    let out = p.run(&["reload"], LIMIT);
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("unchanged") && out.stderr.contains("process.keep.cmd"), "{}", out.stderr);
    let down = p.run(&["down"], LIMIT);
    assert_eq!(down.code, Some(0));
    let _ = live.rest(LIMIT);
    assert!(processes_matching("876802").is_empty());
}

/// What a reload cannot apply — a plugin dropped into `.brum/plugins`, a
/// plugin's table, `[proxy]` — is named in its answer and event, never
/// silently ignored; the command line's own `--proxy` is no change of the
/// file's.
#[test]
fn reload_names_what_only_a_new_start_applies() {
    let toml = "[process.keep]\ncmd = \"echo keep; sleep 876803\"\n";
    let p = Project::with_toml(toml);
    // a plugin whose build is broken: refused at the start, listed
    let dir = p.path().join(".brum").join("plugins");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("old.wasm"), b"\0asm").expect("plugin file");
    let mut live = Live::spawn(p.cmd(&["run", "--json", "--proxy"]));
    live.until(|e| e["type"] == "log.line" && e["text"] == "keep");
    wait_for_socket(&p);
    let reload = |p: &Project| {
        let out = p.run(&["reload", "--json"], LIMIT);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json answer")
    };
    // the file as it was: nothing to apply, --proxy is not the file's change
    assert_eq!(reload(&p)["restart_needed"], serde_json::json!([]));
    p.write("brum.toml", &format!("{toml}[plugin.urls]\nenabled = false\n[proxy]\nport = 20999\n"));
    std::fs::write(dir.join("mine.wasm"), b"\0asm").expect("plugin file");
    let answer = reload(&p);
    let plugin = format!("{} (new)", dir.join("mine.wasm").display());
    assert_eq!(answer["restart_needed"], serde_json::json!(["[proxy]", "[plugin.urls]", plugin]), "{answer}");
    assert_eq!(answer["unchanged"], 1, "the process stays: {answer}");
    let ev =
        live.until(|e| e["type"] == "daemon.reloaded" && e["restart_needed"].as_array().is_some_and(|a| a.len() == 3));
    assert!(ev.iter().all(|e| e["type"] != "process.started"), "nothing restarted: {ev:#?}");
    // the broken one rebuilt, then gone; the readable answer says what to do
    std::fs::write(dir.join("old.wasm"), b"\0asm\x0d\0\x01\0").expect("plugin file");
    let out = p.run(&["reload"], LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not applied until brum starts again") && text.contains("old.wasm (changed)"), "{text}");
    std::fs::remove_file(dir.join("old.wasm")).expect("rm");
    let removed = format!("{} (removed)", dir.join("old.wasm").display());
    assert!(reload(&p)["restart_needed"].as_array().expect("list").contains(&removed.into()));
    assert_eq!(p.run(&["down"], LIMIT).code, Some(0));
    let _ = live.rest(LIMIT);
    assert!(processes_matching("876803").is_empty());
}

#[test]
fn plugins_json_lists_every_plugin() {
    let p = Project::with_toml("[process.a]\ncmd = \"true\"\n");
    let out = p.run(&["plugins", "--json"], LIMIT);
    assert_eq!(out.code, Some(0));
    let rows: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    let state = |n: &str| rows.iter().find(|r| r["name"] == n).map(|r| r["state"].clone());
    assert_eq!(state("errors"), Some("loaded".into()));
    assert_eq!(state("filter"), Some("off".into()));
}
