//! Runs every fixture in tests/fixtures/<scenario>/ (see tests/fixtures/README.md):
//! feeds output.log line by line (process 1, stdout, seq = line index + 1,
//! ts = seq ms), flushes with on_process_end and compares the findings with
//! expected.txt, in order. Prints a precision/recall summary over file:line.

use brum_plugin_errors::{Detector, Finding, Kind, LineIn, Settings, Severity, Stream};
use std::path::Path;

struct Expect {
    kind: Kind,
    severity: Severity,
    file: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
    code: Option<String>,
    message: String,
    fields: Vec<(String, String)>,
    src: String,
}

fn parse_kind(s: &str) -> Kind {
    match s {
        "error" => Kind::Error,
        "warning" => Kind::Warning,
        "build" => Kind::Build,
        "test" => Kind::Test,
        _ => panic!("bad kind {s}"),
    }
}

fn parse_sev(s: &str) -> Severity {
    match s {
        "critical" => Severity::Critical,
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        "info" => Severity::Info,
        _ => panic!("bad severity {s}"),
    }
}

fn parse_expected(text: &str) -> Vec<Expect> {
    let mut v = Vec::new();
    for raw in text.lines() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (main, fields) = match l.split_once(" | ") {
            Some((a, b)) => (a, b),
            None => (l, ""),
        };
        let mut it = main.splitn(5, ' ');
        let kind = parse_kind(it.next().unwrap());
        let severity = parse_sev(it.next().unwrap());
        let loc = it.next().expect("loc");
        let code = it.next().expect("code");
        let message = it.next().unwrap_or("").to_string();
        let (mut file, mut line, mut column) = (None, None, None);
        if loc != "-" {
            let parts: Vec<&str> = loc.rsplitn(3, ':').collect();
            // parts reversed: [last, middle, first]
            let nums: Vec<u32> =
                parts.iter().take_while(|p| p.parse::<u32>().is_ok()).map(|p| p.parse().unwrap()).collect();
            match nums.len() {
                2 => {
                    column = Some(nums[0]);
                    line = Some(nums[1]);
                    file = Some(parts[2].to_string());
                }
                1 => {
                    line = Some(nums[0]);
                    file = Some(loc[..loc.len() - parts[0].len() - 1].to_string());
                }
                _ => file = Some(loc.to_string()),
            }
        }
        // `key=value` pairs; a word without `=` continues the previous value
        // (`test=cart › total › sums prices`)
        let mut kvs: Vec<(String, String)> = Vec::new();
        for w in fields.split_whitespace() {
            match w.split_once('=') {
                Some((k, v)) => kvs.push((k.to_string(), v.to_string())),
                None => {
                    let last = kvs.last_mut().expect("key=value");
                    last.1.push(' ');
                    last.1.push_str(w);
                }
            }
        }
        v.push(Expect {
            kind,
            severity,
            file,
            line,
            column,
            code: (code != "-").then(|| code.to_string()),
            message,
            fields: kvs,
            src: raw.to_string(),
        });
    }
    v
}

fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    if v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

fn detect(data: &[u8]) -> Vec<Finding> {
    let mut d = Detector::new(Settings::default());
    let mut out = Vec::new();
    for (i, l) in split_lines(data).iter().enumerate() {
        let seq = i as u64 + 1;
        d.on_line(&LineIn { process: 1, stream: Stream::Stdout, seq, ts_ms: seq as i64, bytes: l }, &mut out);
    }
    d.on_process_end(1, &mut out);
    out
}

fn check(e: &Expect, f: &Finding) -> Vec<String> {
    let mut errs = Vec::new();
    if e.kind != f.kind {
        errs.push(format!("kind {:?} != {:?}", f.kind, e.kind));
    }
    if e.severity != f.severity {
        errs.push(format!("severity {:?} != {:?}", f.severity, e.severity));
    }
    match (&e.file, &f.file) {
        (None, None) => {}
        (Some(ef), Some(ff)) if ff.ends_with(ef.as_str()) => {}
        _ => errs.push(format!("file {:?} != {:?}", f.file, e.file)),
    }
    if e.line != f.line {
        errs.push(format!("line {:?} != {:?}", f.line, e.line));
    }
    if e.column.is_some() && e.column != f.column {
        errs.push(format!("column {:?} != {:?}", f.column, e.column));
    }
    if e.code != f.code {
        errs.push(format!("code {:?} != {:?}", f.code, e.code));
    }
    if !f.message.contains(&e.message) {
        errs.push(format!("message {:?} lacks {:?}", f.message, e.message));
    }
    for (k, v) in &e.fields {
        if k == "seq" {
            let got = format!("{}-{}", f.first_seq, f.last_seq);
            if &got != v {
                errs.push(format!("seq {got} != {v}"));
            }
            continue;
        }
        if !f.fields.iter().any(|(fk, fv)| fk == k && fv == v) {
            errs.push(format!("field {k}={v} missing in {:?}", f.fields));
        }
    }
    errs
}

#[test]
fn fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("output.log").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 25, "expected at least 25 fixtures, found {}", dirs.len());
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    let mut total_findings = 0;
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let data = std::fs::read(dir.join("output.log")).unwrap();
        let exp_text = std::fs::read_to_string(dir.join("expected.txt"))
            .unwrap_or_else(|_| panic!("{name}: missing expected.txt"));
        let expected = parse_expected(&exp_text);
        let found = detect(&data);
        total_findings += found.len();

        // precision / recall over (file suffix, line) of error/warning findings
        let exp_locs: Vec<(&str, u32)> = expected
            .iter()
            .filter(|e| matches!(e.kind, Kind::Error | Kind::Warning))
            .filter_map(|e| Some((e.file.as_deref()?, e.line?)))
            .collect();
        let got_locs: Vec<(&str, u32)> = found
            .iter()
            .filter(|f| matches!(f.kind, Kind::Error | Kind::Warning))
            .filter_map(|f| Some((f.file.as_deref()?, f.line?)))
            .collect();
        let mut used = vec![false; exp_locs.len()];
        for g in &got_locs {
            match exp_locs.iter().enumerate().position(|(i, e)| !used[i] && g.0.ends_with(e.0) && g.1 == e.1) {
                Some(i) => {
                    used[i] = true;
                    tp += 1;
                }
                None => fp += 1,
            }
        }
        fneg += used.iter().filter(|u| !**u).count();

        let mut errs = Vec::new();
        if found.len() != expected.len() {
            errs.push(format!("expected {} findings, got {}", expected.len(), found.len()));
        }
        for (i, (e, f)) in expected.iter().zip(found.iter()).enumerate() {
            for m in check(e, f) {
                errs.push(format!("#{i} [{}]: {m}", e.src.trim()));
            }
        }
        if !errs.is_empty() {
            let mut s = format!("--- {name}:\n  {}\n  findings:\n", errs.join("\n  "));
            for f in &found {
                s += &format!(
                    "    {:?} {:?} {}:{:?}:{:?} code={:?} lang={:?} seq={}..{} msg={:?} fields={:?}\n",
                    f.kind,
                    f.severity,
                    f.file.as_deref().unwrap_or("-"),
                    f.line,
                    f.column,
                    f.code,
                    f.language,
                    f.first_seq,
                    f.last_seq,
                    f.message,
                    f.fields
                );
            }
            failures.push(s);
        }
    }
    let precision = if tp + fp == 0 { 1.0 } else { tp as f64 / (tp + fp) as f64 };
    let recall = if tp + fneg == 0 { 1.0 } else { tp as f64 / (tp + fneg) as f64 };
    println!(
        "fixtures: {} scenarios, {} findings; file:line of error/warning findings: tp={tp} fp={fp} fn={fneg} precision={:.3} recall={:.3}",
        dirs.len(),
        total_findings,
        precision,
        recall
    );
    assert!(failures.is_empty(), "{} fixture(s) failed:\n{}", failures.len(), failures.join("\n"));
}

/// Dumps the findings of every fixture (for writing expected.txt):
/// `cargo test -p brum-plugin-errors --test fixtures dump -- --ignored --nocapture`
#[test]
#[ignore]
fn dump() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let only = std::env::var("FIXTURE").ok();
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("output.log").exists())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        println!("== {name}");
        for f in detect(&std::fs::read(dir.join("output.log")).unwrap()) {
            println!(
                "  {:?} {:?} {}:{:?}:{:?} code={:?} lang={:?} seq={}..{} msg={:?} fields={:?}",
                f.kind,
                f.severity,
                f.file.as_deref().unwrap_or("-"),
                f.line,
                f.column,
                f.code,
                f.language,
                f.first_seq,
                f.last_seq,
                f.message,
                f.fields
            );
        }
    }
}

/// Rough native throughput over the whole corpus plus noise:
/// `cargo test --release -p brum-plugin-errors --test fixtures throughput -- --ignored --nocapture`
#[test]
#[ignore]
fn throughput() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut all: Vec<Vec<u8>> = Vec::new();
    for e in std::fs::read_dir(&root).unwrap().filter_map(|e| e.ok()) {
        if let Ok(data) = std::fs::read(e.path().join("output.log")) {
            all.extend(split_lines(&data).into_iter().map(|l| l.to_vec()));
        }
    }
    let noise = b"GET /api/users/42 200 in 12ms (cache hit) - \x1b[32mok\x1b[39m".to_vec();
    let n_corpus = all.len();
    for _ in 0..n_corpus * 4 {
        all.push(noise.clone());
    }
    let mut d = Detector::new(Settings::default());
    let mut out = Vec::new();
    let rounds = 200;
    let start = std::time::Instant::now();
    let mut seq = 0u64;
    for _ in 0..rounds {
        for l in &all {
            seq += 1;
            d.on_line(&LineIn { process: 1, stream: Stream::Stdout, seq, ts_ms: seq as i64, bytes: l }, &mut out);
        }
        out.clear();
    }
    let el = start.elapsed();
    let lines = (rounds * all.len()) as f64;
    println!(
        "{} lines ({} corpus + {} noise per round) in {:?}: {:.1} M lines/s, {:.0} ns/line",
        lines,
        n_corpus,
        all.len() - n_corpus,
        el,
        lines / el.as_secs_f64() / 1e6,
        el.as_nanos() as f64 / lines
    );
}
