//! The fixture corpus of real tool output (plugins/errors/tests/fixtures,
//! captured from tsc, node, python, cargo, gcc, javac, go, ...) run through
//! the real `brum` binary and the real built-in `errors` component: every
//! expected error and warning must be found exactly, with its file and line,
//! and nothing else. Prints precision and recall over file:line, to say
//! how far off the corpus is when it is not exact.

use std::path::Path;

use serde_json::Value;

use crate::*;

#[derive(Debug)]
struct Expected {
    kind: String,
    severity: String,
    file: Option<String>,
    line: Option<u64>,
    column: Option<u64>,
    code: Option<String>,
    message: String,
}

fn parse_expected(text: &str) -> Vec<Expected> {
    let mut v = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let main = line.split(" | ").next().unwrap_or(line);
        let mut parts = main.splitn(5, ' ');
        let kind = parts.next().unwrap_or("").to_string();
        let severity = parts.next().unwrap_or("").to_string();
        let loc = parts.next().unwrap_or("-");
        let code = parts.next().unwrap_or("-");
        let message = parts.next().unwrap_or("").trim().to_string();
        let (file, line_no, column) = if loc == "-" {
            (None, None, None)
        } else {
            let mut it = loc.rsplitn(3, ':').collect::<Vec<_>>();
            it.reverse();
            let nums: Vec<Option<u64>> = it.iter().map(|p| p.parse().ok()).collect();
            match (it.len(), nums.as_slice()) {
                (3, [_, Some(l), Some(c)]) => (Some(it[0].to_string()), Some(*l), Some(*c)),
                (3, [_, _, Some(l)]) => (Some(format!("{}:{}", it[0], it[1])), Some(*l), None),
                (2, [_, Some(l)]) => (Some(it[0].to_string()), Some(*l), None),
                _ => (Some(loc.to_string()), None, None),
            }
        };
        v.push(Expected {
            kind,
            severity,
            file,
            line: line_no,
            column,
            code: (code != "-").then(|| code.to_string()),
            message,
        });
    }
    v
}

fn matches(e: &Expected, f: &Value) -> bool {
    let kind = f["kind"].as_str().unwrap_or("");
    kind == e.kind
        && f["severity"] == e.severity.as_str()
        && match (&e.file, f["file"].as_str()) {
            (None, None) => true,
            (Some(want), Some(got)) => got.ends_with(want.as_str()),
            _ => false,
        }
        && e.line.is_none_or(|l| f["line"].as_u64() == Some(l))
        && e.column.is_none_or(|c| f["column"].as_u64() == Some(c))
        && e.code.as_deref().is_none_or(|c| f["code"] == c)
        && (e.code.is_some() || f.get("code").is_none())
        && f["message"].as_str().unwrap_or("").contains(&e.message)
}

#[test]
fn real_tool_output_corpus_is_detected_exactly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/errors/tests/fixtures");
    let mut dirs: Vec<_> =
        std::fs::read_dir(&root).expect("fixtures dir").flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(dirs.len() >= 35, "the corpus has {} scenarios", dirs.len());
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    let p = Project::new();
    for dir in &dirs {
        let name = dir.file_name().expect("name").to_string_lossy().to_string();
        let expected = parse_expected(&std::fs::read_to_string(dir.join("expected.txt")).expect("expected.txt"));
        let log = dir.join("output.log");
        let (events, out) = p.run_json(&["--name", "tool", "--", "cat", log.to_str().expect("path")], LIMIT);
        assert_eq!(out.code, Some(0), "{name}: {}", out.stderr);
        let found: Vec<&Value> = of_type(&events, "error.detected");
        let want: Vec<&Expected> = expected.iter().filter(|e| e.kind == "error" || e.kind == "warning").collect();
        // file:line precision/recall
        let key =
            |file: Option<&str>, line: Option<u64>| file.map(|f| (f.rsplit('/').next().unwrap_or(f).to_string(), line));
        let want_keys: Vec<_> = want.iter().filter_map(|e| key(e.file.as_deref(), e.line)).collect();
        let got_keys: Vec<_> = found.iter().filter_map(|f| key(f["file"].as_str(), f["line"].as_u64())).collect();
        let hits = got_keys.iter().filter(|k| want_keys.contains(k)).count();
        tp += hits;
        fp += got_keys.len() - hits;
        fneg += want_keys.len().saturating_sub(hits);
        // exactness: same count, each expected one matched in order
        let exact = found.len() == want.len() && want.iter().zip(&found).all(|(e, f)| matches(e, f));
        if !exact {
            failures.push(format!("{name}: expected {want:#?}\nfound {found:#?}"));
        }
        for (kind, types) in [("test", &["test.passed", "test.failed"][..]), ("build", &["build.event"][..])] {
            let n_want = expected.iter().filter(|e| e.kind == kind).count();
            let n_got = events.iter().filter(|e| types.iter().any(|t| e["type"] == *t)).count();
            if n_want != n_got {
                failures.push(format!("{name}: {n_want} {kind} results expected, {n_got} found"));
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fneg).max(1) as f64;
    println!(
        "corpus: {} scenarios; file:line tp={tp} fp={fp} fn={fneg} precision={precision:.3} recall={recall:.3}",
        dirs.len()
    );
    // Exactness is the assertion; it implies precision = recall = 1, so a
    // threshold on them could never fail on its own. They are printed (before
    // the assertion) to say how far off a failing corpus is.
    assert!(failures.is_empty(), "{} scenario(s) differ:\n{}", failures.len(), failures.join("\n\n"));
}

/// A process printing a real tsc diagnostic twice (a watcher recompiling)
/// and a real Python traceback, then exiting 0.
const TWO_TOOLS: &str = r#"
[process.types]
cmd = '''printf "src/App.tsx(12,7): error TS2322: Type 'number' is not assignable to type 'string'.\n"; sleep 0.1; printf "src/App.tsx(12,7): error TS2322: Type 'number' is not assignable to type 'string'.\n"'''
[process.api]
cmd = '''printf 'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n    main()\nValueError: bad, port: 100%%\n' >&2'''
"#;

#[test]
fn github_format_annotates_errors_and_groups_output() {
    let p = Project::with_toml(TWO_TOOLS);
    let out = p.run(&["run", "--format", "github"], LIMIT);
    assert_eq!(out.code, Some(0));
    let text = out.stdout_text();
    assert!(
        text.contains("::error file=src/App.tsx,line=12,col=7,title=types%3A TS2322::Type 'number' is not assignable to type 'string'.\n"),
        "{text}"
    );
    assert!(text.contains("::error file=app.py,line=3,title=api%3A error::ValueError: bad, port: 100%25\n"), "{text}");
    assert!(text.contains("::group::types\n") && text.contains("::group::api\n"), "{text}");
    assert_eq!(text.matches("::group::").count(), text.matches("::endgroup::").count(), "groups are balanced");
    // chosen automatically on GitHub Actions when stdout is not a terminal
    let mut cmd = p.cmd(&["run"]);
    cmd.env("GITHUB_ACTIONS", "true");
    let auto = finish(
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn"),
        LIMIT,
    );
    assert!(auto.stdout_text().contains("::error file=src/App.tsx"), "{}", auto.stdout_text());
    // ... but not over an explicit --json
    let mut cmd = p.cmd(&["run", "--json"]);
    cmd.env("GITHUB_ACTIONS", "true");
    let json = finish(
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn"),
        LIMIT,
    );
    assert!(!json.stdout_text().contains("::error"));
}

#[test]
fn repeated_errors_share_a_fingerprint_and_count_up() {
    let p = Project::with_toml(TWO_TOOLS);
    let (events, _) = p.run_json(&[], LIMIT);
    let ts: Vec<&Value> = of_type(&events, "error.detected").into_iter().filter(|e| e["process"] == "types").collect();
    assert_eq!(ts.len(), 2);
    assert_eq!(ts[0]["fingerprint"], ts[1]["fingerprint"]);
    assert_eq!((ts[0]["count"].as_u64(), ts[1]["count"].as_u64()), (Some(1), Some(2)));
    let api = of_type(&events, "error.detected").into_iter().find(|e| e["process"] == "api").expect("api error");
    assert_ne!(api["fingerprint"], ts[0]["fingerprint"]);
}

#[test]
fn run_summary_and_fail_on() {
    let p = Project::with_toml(TWO_TOOLS);
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0), "every process exited 0");
    let summary = of_type(&events, "run.summary");
    assert_eq!(summary.len(), 1);
    let rows = summary[0]["processes"].as_array().expect("rows");
    let types = rows.iter().find(|r| r["process"] == "types").expect("types row");
    assert_eq!(types["state"], "success");
    assert_eq!(types["errors"], 2);
    assert_eq!(types["errors_open"], 1, "the same error twice is one open error");
    assert_eq!(types["code"], 0);
    let api = rows.iter().find(|r| r["process"] == "api").expect("api row");
    assert_eq!(api["errors"], 1);
    let last_two: Vec<&Value> = events[events.len() - 2..].iter().map(|e| &e["type"]).collect();
    assert_eq!(last_two, ["run.summary", "daemon.stopped"]);
    let (events, out) = p.run_json(&["--fail-on", "error"], LIMIT);
    assert_eq!(out.code, Some(1), "--fail-on error fails a run with errors");
    assert_eq!(of_type(&events, "daemon.stopped")[0]["exit_code"], 1);
    let human = p.run(&["run"], LIMIT).stdout_text();
    assert!(human.contains("brum  * summary (exit code 0)"), "{human}");
    assert!(human.contains("types * success  exit 0"), "{human}");
    // the same error printed twice is one open error (seen twice)
    assert!(human.contains("1 error "), "{human}");
}
