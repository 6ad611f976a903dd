use super::*;

fn feed(d: &mut Detector, pid: u32, lines: &[&str], seq0: u64, out: &mut Vec<Finding>) {
    for (i, l) in lines.iter().enumerate() {
        let seq = seq0 + i as u64;
        d.on_line(
            &LineIn {
                process: pid,
                pipe: Stream::Stderr,
                truncated: false,
                seq,
                ts_ms: seq as i64,
                bytes: l.as_bytes(),
            },
            out,
        );
    }
}

fn run(lines: &[&str]) -> Vec<Finding> {
    let mut d = Detector::new(Settings::default());
    let mut out = Vec::new();
    feed(&mut d, 1, lines, 1, &mut out);
    d.on_process_end(1, &mut out);
    out
}

#[test]
fn ansi_colored_rust_error() {
    let f = run(&[
        "\x1b[1m\x1b[91merror[E0308]\x1b[0m\x1b[1m: mismatched types\x1b[0m",
        " \x1b[1m\x1b[94m--> \x1b[0msrc/main.rs:5:18",
        "  \x1b[1m\x1b[94m|\x1b[0m",
        "\x1b[1m\x1b[94m5\x1b[0m \x1b[1m\x1b[94m|\x1b[0m     let n: i32 = \"five\";",
        "",
        "\x1b[1m\x1b[91merror\x1b[0m: aborting due to 1 previous error",
    ]);
    // rustc's closing line is the build's outcome
    assert_eq!(f.len(), 2, "{f:#?}");
    assert_eq!(f[1].kind, Kind::Build);
    assert_eq!(f[0].code.as_deref(), Some("E0308"));
    assert_eq!(f[0].file.as_deref(), Some("src/main.rs"));
    assert_eq!((f[0].line, f[0].column), (Some(5), Some(18)));
    assert_eq!((f[0].first_seq, f[0].last_seq), (1, 4));
    assert_eq!(f[0].message, "mismatched types");
}

#[test]
fn ansi_inside_path() {
    let f = run(&[
        "TypeError: x is not a function",
        "    at main \x1b[90m(/srv/app/\x1b[39mserver.js:12:5\x1b[90m)\x1b[39m",
        "\x1b[90m    at Module._compile (node:internal/modules/cjs/loader:1521:14)\x1b[39m",
    ]);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].file.as_deref(), Some("/srv/app/server.js"));
    assert_eq!((f[0].line, f[0].column), (Some(12), Some(5)));
    assert_eq!(f[0].message, "TypeError: x is not a function");
    assert_eq!(f[0].language.as_deref(), Some("javascript"));
}

#[test]
fn chained_python_traceback_is_one_finding() {
    let f = run(&[
        "Traceback (most recent call last):",
        "  File \"/a/app.py\", line 3, in lookup",
        "    return d[k]",
        "KeyError: 'db_url'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        "  File \"/a/app.py\", line 7, in <module>",
        "    lookup({}, \"db_url\")",
        "  File \"/a/app.py\", line 5, in lookup",
        "    raise RuntimeError(f\"missing setting {k}\")",
        "RuntimeError: missing setting db_url",
        "next unrelated line",
    ]);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].message, "RuntimeError: missing setting db_url");
    assert_eq!((f[0].file.as_deref(), f[0].line), (Some("/a/app.py"), Some(5)));
    assert_eq!((f[0].first_seq, f[0].last_seq), (1, 13));
}

#[test]
fn tick_flushes_after_quiet_period() {
    let mut d = Detector::new(Settings { quiet_ms: 200, ..Settings::default() });
    let mut out = Vec::new();
    d.on_line(
        &LineIn { process: 7, pipe: Stream::Stderr, truncated: false, seq: 1, ts_ms: 1000, bytes: b"panic: boom\n" },
        &mut out,
    );
    d.on_line(
        &LineIn { process: 7, pipe: Stream::Stderr, truncated: false, seq: 2, ts_ms: 1010, bytes: b"" },
        &mut out,
    );
    d.on_line(
        &LineIn {
            process: 7,
            pipe: Stream::Stderr,
            truncated: false,
            seq: 3,
            ts_ms: 1020,
            bytes: b"goroutine 1 [running]:",
        },
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(d.next_tick(), Some(1220));
    d.on_tick(1219, &mut out);
    assert!(out.is_empty());
    d.on_tick(1220, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].severity, Severity::Critical);
    assert_eq!((out[0].first_seq, out[0].last_seq), (1, 3));
    assert_eq!(d.next_tick(), None);
}

#[test]
fn interleaved_processes_and_streams_do_not_mix() {
    let mut d = Detector::new(Settings::default());
    let mut out = Vec::new();
    let l = |p, s, seq, b: &'static str| LineIn {
        process: p,
        pipe: s,
        truncated: false,
        seq,
        ts_ms: seq as i64,
        bytes: b.as_bytes(),
    };
    d.on_line(&l(1, Stream::Stderr, 1, "Traceback (most recent call last):"), &mut out);
    d.on_line(&l(2, Stream::Stderr, 2, "TypeError: a is undefined"), &mut out);
    d.on_line(&l(1, Stream::Stdout, 3, "GET / 200"), &mut out);
    d.on_line(&l(1, Stream::Stderr, 4, "  File \"x.py\", line 9, in f"), &mut out);
    d.on_line(&l(2, Stream::Stderr, 5, "    at f (/w/b.js:4:2)"), &mut out);
    d.on_line(&l(1, Stream::Stderr, 6, "    f()"), &mut out);
    d.on_line(&l(1, Stream::Stderr, 7, "ValueError: bad"), &mut out);
    assert!(out.is_empty());
    d.on_process_end(2, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].process, out[0].file.as_deref(), out[0].line), (2, Some("/w/b.js"), Some(4)));
    d.on_process_end(1, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!((out[1].process, out[1].message.as_str(), out[1].line), (1, "ValueError: bad", Some(9)));
    assert_eq!((out[1].first_seq, out[1].last_seq), (1, 7));
}

#[test]
fn old_and_new_rust_panic() {
    let f = run(&[
        "thread 'main' panicked at 'attempt to divide by zero', src/main.rs:2:5",
        "note: run with `RUST_BACKTRACE=1`",
    ]);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].message, "attempt to divide by zero");
    assert_eq!((f[0].file.as_deref(), f[0].line, f[0].column), (Some("src/main.rs"), Some(2), Some(5)));
    assert_eq!(f[0].severity, Severity::Critical);
    let f = run(&["thread 'main' panicked at src/main.rs:2:5:", "boom", "note: run with `RUST_BACKTRACE=1`", "after"]);
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].message.as_str(), f[0].last_seq), ("boom", 3));
}

#[test]
fn not_errors() {
    let f = run(&[
        "0 errors",
        "error-free build",
        "errors: 0",
        "npm WARN deprecated foo@1: use bar",
        "npm warn config production Use `--omit=dev` instead.",
        "✖ 4 problems (4 errors, 0 warnings)",
        "Test Suites: 1 failed, 1 total",
        "[=====>    ] 50% building modules",
        "warning: 3 warnings emitted",
        "warning: `x` (bin \"x\") generated 1 warning",
        "2 errors generated.",
        "1 error",
        "exit status 2",
        "# example.com/pkg",
        "the error handler is installed",
        "ok 1 - adds",
    ]);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn tsc_found_zero_is_build_success() {
    let f = run(&["[3:04:05 PM] Found 0 errors. Watching for file changes."]);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, Kind::Build);
    assert!(f[0].fields.contains(&("status".into(), "success".into())));
}

#[test]
fn gcc_context_belongs_to_next_diagnostic() {
    let f = run(&[
        "main.c: In function 'main':",
        "main.c:3:13: warning: unused variable 'x' [-Wunused-variable]",
        "    3 |     int x;",
        "      |         ^",
        "main.c: In function 'g':",
        "main.c:9:5: error: 'y' undeclared",
    ]);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert_eq!((f[0].first_seq, f[0].last_seq, f[0].kind), (1, 4, Kind::Warning));
    assert_eq!(f[0].code.as_deref(), Some("-Wunused-variable"));
    assert_eq!((f[1].first_seq, f[1].last_seq, f[1].line), (5, 6, Some(9)));
}

#[test]
fn unconfirmed_candidates_are_dropped() {
    // a path:line line without a code frame, a mid-line "Error: " without
    // frames, Python's "Exception in thread" without a traceback
    let f = run(&[
        "/srv/app/index.js:3",
        "just a line",
        "request failed: TypeError: nope",
        "GET / 200",
        "Exception in thread Thread-1 (worker):",
        "done",
    ]);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn carriage_return_progress_then_error() {
    let f = run(&["  3% compiling\r 50% compiling\rsrc/a.ts(1,5): error TS2304: Cannot find name 'x'."]);
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].code.as_deref(), f[0].line, f[0].column), (Some("TS2304"), Some(1), Some(5)));
}

#[test]
fn java_caused_by_chain_is_one_finding() {
    let f = run(&[
        "Exception in thread \"main\" java.lang.IllegalStateException: boom",
        "\tat com.acme.App.start(App.java:7)",
        "Caused by: java.lang.IllegalArgumentException: bad port",
        "\tat com.acme.App.connect(App.java:3)",
        "\t... 1 more",
        "next",
    ]);
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].message.as_str(), f[0].line, f[0].last_seq),
        ("java.lang.IllegalStateException: boom", Some(7), 5)
    );
    assert_eq!(f[0].language.as_deref(), Some("java"));
}

#[test]
fn test_summaries() {
    let f = run(&[
        " Tests  1 failed | 3 passed (4)",
        "Tests:       2 passed, 2 total",
        "===== 1 failed, 3 passed, 1 skipped in 0.12s =====",
        "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out",
    ]);
    let got: Vec<_> =
        f.iter().map(|f| (f.severity, f.fields[0].1.clone(), f.fields[1].1.clone(), f.fields[2].1.clone())).collect();
    assert_eq!(
        got,
        vec![
            (Severity::Error, "3".into(), "1".into(), "0".into()),
            (Severity::Info, "2".into(), "0".into(), "0".into()),
            (Severity::Error, "3".into(), "1".into(), "1".into()),
            (Severity::Info, "3".into(), "0".into(), "1".into()),
        ]
    );
    assert!(f.iter().all(|f| f.kind == Kind::Test));
}

#[test]
fn next_tick_tracks_earliest_open_record() {
    let mut d = Detector::new(Settings { quiet_ms: 50, ..Settings::default() });
    let mut out = Vec::new();
    assert_eq!(d.next_tick(), None);
    d.on_line(
        &LineIn { process: 1, pipe: Stream::Stdout, truncated: false, seq: 1, ts_ms: 100, bytes: b"error: first" },
        &mut out,
    );
    d.on_line(
        &LineIn { process: 2, pipe: Stream::Stdout, truncated: false, seq: 2, ts_ms: 130, bytes: b"error: second" },
        &mut out,
    );
    assert_eq!(d.next_tick(), Some(150));
    d.on_tick(160, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(d.next_tick(), Some(180));
    d.on_tick(180, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(d.next_tick(), None);
}

#[test]
fn phrase_errors() {
    let f = run(&[
        "12:00:00 PM [vite] Pre-transform error: Failed to load url /x.js",
        "no error here: fine",
        "Internal server error: boom",
        "  File: /a/src/x.ts:3:4",
    ]);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert_eq!(f[0].message, "Pre-transform error: Failed to load url /x.js");
    assert_eq!((f[1].file.as_deref(), f[1].line), (Some("/a/src/x.ts"), Some(3)));
}

fn field<'a>(f: &'a Finding, k: &str) -> Option<&'a str> {
    f.fields.iter().find(|(fk, _)| fk == k).map(|(_, v)| v.as_str())
}

#[test]
fn jest_summary_of_failing_tests_is_not_counted_twice() {
    let block = [
        "  ● math › adds",
        "",
        "    expect(received).toBe(expected) // Object.is equality",
        "",
        "      at Object.toBe (src/math.test.js:3:46)",
        "",
    ];
    let mut lines = vec!["FAIL src/math.test.js"];
    lines.extend(block);
    lines.push("Summary of all failing tests");
    lines.push("FAIL src/math.test.js");
    lines.extend(block);
    lines.push("Test Suites: 1 failed, 21 total");
    lines.push("Tests:       1 failed, 40 passed, 41 total");
    let f = run(&lines);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert_eq!(field(&f[0], "test"), Some("math › adds"));
    assert_eq!((f[0].file.as_deref(), f[0].line), (Some("src/math.test.js"), Some(3)));
    assert_eq!(f[1].kind, Kind::Test);
}

#[test]
fn mocha_progress_lines_are_not_failures() {
    // without a preceding `N failing` the `  1) name` lines are progress output
    let f = run(&["  1) adds", "  2) subtracts:", "", "      Error: x", "      at Context.<anonymous> (t.js:1:1)"]);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn go_test_verbose_subtest_and_panic() {
    let f = run(&[
        "=== RUN   TestTable",
        "=== RUN   TestTable/neg",
        "    calc_test.go:21: got -2, want -3",
        "--- FAIL: TestTable (0.00s)",
        "    --- FAIL: TestTable/neg (0.00s)",
        "=== RUN   TestBoom",
        "--- FAIL: TestBoom (0.00s)",
        "panic: boom [recovered]",
        "\tpanic: boom",
        "",
        "goroutine 7 [running]:",
        "example.com/x.TestBoom(0xc000007860)",
        "\t/src/x/calc_test.go:30 +0x27",
        "FAIL\texample.com/x\t0.004s",
    ]);
    assert_eq!(f.len(), 3, "{f:#?}");
    // the log line belongs to the test that was running (`=== RUN`)
    assert_eq!((f[0].line, field(&f[0], "test")), (Some(21), Some("TestTable/neg")));
    // a test's panic is that test's failure, not a crash of the program
    assert_eq!((f[1].severity, f[1].line, field(&f[1], "test")), (Severity::Error, Some(30), Some("TestBoom")));
    assert_eq!(field(&f[2], "failed"), Some("3"));
}

#[test]
fn eslint_problem_without_rule_and_windows_header() {
    let f = run(&[
        "C:\\app\\src\\a.js",
        "  1:10  error  Parsing error: Unexpected token ;",
        "",
        "/srv/app/src/b.ts",
        "  2:1  warning  Unused eslint-disable directive (no problems were reported)",
        "  3:4  error    Missing return type on function  @typescript-eslint/explicit-function-return-type",
        "",
        "✖ 3 problems (2 errors, 1 warning)",
        "  1:2  error  not a problem line any more  x",
    ]);
    assert_eq!(f.len(), 3, "{f:#?}");
    assert_eq!((f[0].file.as_deref(), f[0].line, f[0].column), (Some("C:\\app\\src\\a.js"), Some(1), Some(10)));
    assert_eq!((f[0].code.as_deref(), f[0].message.as_str()), (None, "Parsing error: Unexpected token ;"));
    assert_eq!((f[1].kind, f[1].code.as_deref()), (Kind::Warning, None));
    assert_eq!(f[2].code.as_deref(), Some("@typescript-eslint/explicit-function-return-type"));
    assert_eq!(f[2].language.as_deref(), Some("typescript"));
}

#[test]
fn webpack_warning_and_make_errors() {
    let f = run(&[
        "WARNING in asset size limit: The following asset(s) exceed the recommended size limit (244 KiB).",
        "Assets: ",
        "  main.js (1.2 MiB)",
        "",
        "webpack 5.90.0 compiled with 1 warning in 812 ms",
        "build/rules.mk:12: *** recipe commences before first target.  Stop.",
        "make: *** No rule to make target 'x'.  Stop.",
    ]);
    assert_eq!(f.len(), 3, "{f:#?}");
    assert_eq!((f[0].kind, f[0].file.as_deref()), (Kind::Warning, None));
    assert!(f[0].message.starts_with("asset size limit: "));
    assert_eq!((f[1].kind, field(&f[1], "status")), (Kind::Build, Some("success")));
    assert_eq!((f[2].file.as_deref(), f[2].line), (Some("build/rules.mk"), Some(12)));
    assert_eq!(f[2].message, "recipe commences before first target");
}

#[test]
fn python_location_is_the_project_frame_not_the_stdlib() {
    let f = run(&[
        "Traceback (most recent call last):",
        "  File \"/app/myapp/main.py\", line 9, in <module>",
        "    main()",
        "  File \"/app/myapp/config.py\", line 5, in load",
        "    return os.environ[\"API_KEY\"]",
        "  File \"<frozen os>\", line 679, in __getitem__",
        "KeyError: 'API_KEY'",
    ]);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!((f[0].file.as_deref(), f[0].line), (Some("/app/myapp/config.py"), Some(5)));
    assert!(f[0].fields.contains(&("raised_at".into(), "<frozen os>:679".into())), "{:?}", f[0].fields);
}

fn build_status(f: &Finding) -> Option<&str> {
    (f.kind == Kind::Build).then(|| f.fields.iter().find(|(k, _)| k == "status").map(|(_, v)| v.as_str())).flatten()
}

#[test]
fn hmr_update_is_a_success() {
    let f = run(&[
        "12:00:00 PM [vite] Internal server error: Transform failed with 1 error:",
        "  File: /app/src/App.tsx:3:7",
        "12:00:01 PM [vite] hmr update /src/App.tsx",
        "12:00:02 PM [vite] (client) page reload src/main.ts",
    ]);
    assert_eq!(f.len(), 3, "{f:#?}");
    assert_eq!(f[0].kind, Kind::Error);
    assert_eq!((build_status(&f[1]), build_status(&f[2])), (Some("success"), Some("success")));
}

#[test]
fn full_reports_and_jvm_builds() {
    let f = run(&[
        "Found 2 errors. Watching for file changes.",
        "[INFO] BUILD SUCCESS",
        "BUILD FAILED in 3s",
        "webpack 5.90.0 compiled successfully in 120 ms",
        "Found 2 errors in 1 file.",
    ]);
    let s: Vec<_> = f.iter().map(build_status).collect();
    assert_eq!(s, vec![Some("failure"), Some("success"), Some("failure"), Some("success")]);
    assert!(f[0].fields.contains(&("report".into(), "full".into())));
    assert!(f[3].fields.contains(&("report".into(), "full".into())));
}

/// Regression: `/usr/bin/ld: net.cpp:(.text+0x26): undefined reference`
/// named the file `/usr/bin/ld: net.cpp`.
#[test]
fn the_linker_names_itself_before_the_file() {
    let f = run(&["/usr/bin/ld: net.cpp:(.text+0x26): undefined reference to `net::close(int)'"]);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].file.as_deref(), Some("net.cpp"));
}

/// A make line after a note without source is not the note's: the held
/// lines are replayed when no caret line comes.
#[test]
fn lines_held_for_a_caret_are_replayed_without_one() {
    let f = run(&[
        "src/main.c:2:38: error: 'undefined_var' undeclared (first use in this function)",
        "    2 | int main(void) { return undefined_var; }",
        "      |                         ^~~~~~~~~~~~~",
        "src/main.c:2:38: note: each undeclared identifier is reported only once",
        "make: *** [Makefile:6: src/main.o] Error 1",
        "cc -Wall -c src/parse.c -o src/parse.o",
    ]);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert_eq!((f[0].first_seq, f[0].last_seq), (1, 4));
    assert_eq!((f[1].kind, f[1].first_seq), (Kind::Build, 5));
}

/// esbuild --watch: `build finished` is a failure after errors, a success
/// when the rebuild reported none.
#[test]
fn a_watchers_build_verdict_counts_the_errors_since_the_build_started() {
    let f = run(&[
        "✘ [ERROR] Unexpected \"}\"",
        "",
        "    src/greet.ts:3:1:",
        "      3 │ }}",
        "        ╵  ^",
        "",
        "1 error",
        "[watch] build finished, watching for changes...",
        "[watch] build started (change: \"src/greet.ts\")",
        "[watch] build finished",
    ]);
    let builds: Vec<_> = f.iter().filter(|x| x.kind == Kind::Build).map(|x| x.fields[0].1.as_str()).collect();
    assert_eq!(builds, ["failure", "success"], "{f:#?}");
}
