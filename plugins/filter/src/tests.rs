use super::*;

fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn filter(pairs: &[(&str, &str)]) -> Filter {
    Filter::from_settings(&settings(pairs)).unwrap_or_else(|e| panic!("config error: {e}"))
}

fn err(pairs: &[(&str, &str)]) -> String {
    match Filter::from_settings(&settings(pairs)) {
        Ok(f) => panic!("expected an error, got {f:?}"),
        Err(e) => e,
    }
}

/// One rule with the given match kind, pattern and action (+ extra fields).
fn rule(kind: &str, pattern: &str, extra: &[(&str, &str)]) -> Filter {
    let mut pairs = vec![("rule.1.match", kind), ("rule.1.pattern", pattern), ("rule.1.action", "drop")];
    pairs.extend_from_slice(extra);
    filter(&pairs)
}

fn v(f: &mut Filter, line: &str) -> Verdict {
    f.verdict("web", false, line.as_bytes())
}

// ---- the example from the brief ----

fn example() -> Filter {
    filter(&[
        ("rule.1.match", "contains"),
        ("rule.1.pattern", "GET /health"),
        ("rule.1.action", "drop"),
        ("rule.2.match", "regex"),
        ("rule.2.pattern", "(?i)deprecat"),
        ("rule.2.action", "tag"),
        ("rule.2.tag", "deprecation"),
        ("rule.3.match", "exact"),
        ("rule.3.pattern", "ready"),
        ("rule.3.action", "boost"),
        ("rule.3.case_sensitive", "false"),
        ("rule.4.match", "contains"),
        ("rule.4.pattern", "ERROR"),
        ("rule.4.action", "keep"),
        ("rule.4.process", "api"),
        ("rule.4.stream", "stderr"),
    ])
}

#[test]
fn example_config() {
    let mut f = example();
    assert_eq!(f.len(), 4);
    assert_eq!(f.verdict("web", false, b"GET /health 200 1ms"), Verdict::Drop);
    assert_eq!(f.verdict("web", true, b"Warning: DEPRECATED option foo"), Verdict::Tag("deprecation".into()));
    assert_eq!(f.verdict("web", false, b"READY"), Verdict::Boost);
    assert_eq!(f.verdict("web", false, b"  Ready \r"), Verdict::Boost);
    assert_eq!(f.verdict("web", false, b"ready now"), Verdict::Keep);
    assert_eq!(f.verdict("api", true, b"ERROR boom"), Verdict::Keep);
    assert_eq!(f.verdict("web", false, b"hello"), Verdict::Keep);
}

#[test]
fn first_matching_rule_wins() {
    let mut f = filter(&[
        ("rule.1.match", "contains"),
        ("rule.1.pattern", "health"),
        ("rule.1.action", "keep"),
        ("rule.2.match", "contains"),
        ("rule.2.pattern", "GET"),
        ("rule.2.action", "drop"),
    ]);
    assert_eq!(v(&mut f, "GET /health"), Verdict::Keep);
    assert_eq!(v(&mut f, "GET /api"), Verdict::Drop);
    assert_eq!(v(&mut f, "POST /api"), Verdict::Keep);
}

#[test]
fn rules_ordered_numerically_not_by_key_order() {
    // rule.10 is given first but rule.2 must be tried first; rule.9 < rule.10.
    let mut f = filter(&[
        ("rule.10.match", "contains"),
        ("rule.10.pattern", "x"),
        ("rule.10.action", "drop"),
        ("rule.2.match", "contains"),
        ("rule.2.pattern", "x"),
        ("rule.2.action", "boost"),
        ("rule.9.pattern", "y"),
        ("rule.9.action", "tag"),
        ("rule.9.match", "contains"),
        ("rule.9.tag", "nine"),
    ]);
    assert_eq!(v(&mut f, "x"), Verdict::Boost);
    assert_eq!(v(&mut f, "xy"), Verdict::Boost);
    assert_eq!(v(&mut f, "y"), Verdict::Tag("nine".into()));
}

#[test]
fn rules_prefix_and_zero_index_accepted() {
    let mut f = filter(&[
        ("rules.0.match", "contains"),
        ("rules.0.pattern", "a"),
        ("rules.0.action", "drop"),
        ("rules.1.match", "contains"),
        ("rules.1.pattern", "b"),
        ("rules.1.action", "boost"),
    ]);
    assert_eq!(v(&mut f, "ab"), Verdict::Drop);
    assert_eq!(v(&mut f, "b"), Verdict::Boost);
}

#[test]
fn no_rules_keeps_everything() {
    let mut f = filter(&[]);
    assert!(f.is_empty());
    assert_eq!(v(&mut f, "anything"), Verdict::Keep);
    assert_eq!(v(&mut f, ""), Verdict::Keep);
}

// ---- match kinds ----

#[test]
fn contains_case_sensitive() {
    let mut f = rule("contains", "Health", &[]);
    assert_eq!(v(&mut f, "GET /Health"), Verdict::Drop);
    assert_eq!(v(&mut f, "GET /health"), Verdict::Keep);
    assert_eq!(v(&mut f, "Healt"), Verdict::Keep);
    assert_eq!(v(&mut f, ""), Verdict::Keep);
}

#[test]
fn contains_case_insensitive() {
    let mut f = rule("contains", "HeAlTh", &[("rule.1.case_sensitive", "false")]);
    for line in ["health", "HEALTH", "GET /Health 200", "xxhealth", "healthxx"] {
        assert_eq!(v(&mut f, line), Verdict::Drop, "{line}");
    }
    for line in ["", "heal", "healt", "h e a l t h", "hhhhealtx"] {
        assert_eq!(v(&mut f, line), Verdict::Keep, "{line}");
    }
    // Overlapping candidate starts.
    let mut f = rule("contains", "aab", &[("rule.1.case_sensitive", "false")]);
    assert_eq!(v(&mut f, "AAAAB"), Verdict::Drop);
    assert_eq!(v(&mut f, "AAAA"), Verdict::Keep);
}

#[test]
fn contains_nocase_non_letter_first_byte() {
    let mut f = rule("contains", "[error]", &[("rule.1.case_sensitive", "false")]);
    assert_eq!(v(&mut f, "x [ERROR] y"), Verdict::Drop);
    assert_eq!(v(&mut f, "x (ERROR) y"), Verdict::Keep);
}

#[test]
fn case_folding_is_ascii_only_for_plain_kinds() {
    let mut f = rule("contains", "ÉCOLE", &[("rule.1.case_sensitive", "false")]);
    assert_eq!(v(&mut f, "xÉCOLEx"), Verdict::Drop);
    assert_eq!(v(&mut f, "xÉcolex"), Verdict::Drop);
    assert_eq!(v(&mut f, "xécolex"), Verdict::Keep);
    // regex with case_sensitive = false folds Unicode.
    let mut f = rule("regex", "ÉCOLE", &[("rule.1.case_sensitive", "false")]);
    assert_eq!(v(&mut f, "xécolex"), Verdict::Drop);
}

#[test]
fn empty_contains_pattern_matches_everything() {
    let mut f = rule("contains", "", &[("rule.1.process", "noisy")]);
    assert_eq!(f.verdict("noisy", false, b"whatever"), Verdict::Drop);
    assert_eq!(f.verdict("noisy", true, b""), Verdict::Drop);
    assert_eq!(f.verdict("other", false, b"whatever"), Verdict::Keep);
    let mut f = rule("contains", "", &[("rule.1.case_sensitive", "false")]);
    assert_eq!(v(&mut f, "x"), Verdict::Drop);
}

#[test]
fn exact_trims_whitespace() {
    let mut f = rule("exact", "ready", &[]);
    assert_eq!(v(&mut f, "ready"), Verdict::Drop);
    assert_eq!(v(&mut f, "  ready\t\r\n"), Verdict::Drop);
    assert_eq!(v(&mut f, "Ready"), Verdict::Keep);
    assert_eq!(v(&mut f, "ready!"), Verdict::Keep);
    assert_eq!(v(&mut f, "already"), Verdict::Keep);
    let mut f = rule("exact", "ReAdY", &[("rule.1.case_sensitive", "FALSE")]);
    assert_eq!(v(&mut f, "READY"), Verdict::Drop);
    assert_eq!(v(&mut f, "readyy"), Verdict::Keep);
}

#[test]
fn exact_empty_matches_blank_lines() {
    let mut f = rule("exact", "", &[]);
    assert_eq!(v(&mut f, ""), Verdict::Drop);
    assert_eq!(v(&mut f, "   \t"), Verdict::Drop);
    assert_eq!(f.verdict("web", false, b"\x1b[0m  "), Verdict::Drop);
    assert_eq!(v(&mut f, " x "), Verdict::Keep);
}

#[test]
fn prefix_and_suffix() {
    let mut f = rule("prefix", "[vite]", &[]);
    assert_eq!(v(&mut f, "  [vite] hmr update"), Verdict::Drop);
    assert_eq!(v(&mut f, "x [vite]"), Verdict::Keep);
    assert_eq!(v(&mut f, "[vit"), Verdict::Keep);
    let mut f = rule("suffix", "MS", &[("rule.1.case_sensitive", "false")]);
    assert_eq!(v(&mut f, "built in 12ms  "), Verdict::Drop);
    assert_eq!(v(&mut f, "ms later"), Verdict::Keep);
    assert_eq!(v(&mut f, "s"), Verdict::Keep);
}

#[test]
fn regex_kind() {
    let mut f = rule("regex", r"^GET /(health|ready)z? \d{3}", &[]);
    assert_eq!(v(&mut f, "GET /healthz 200 3ms"), Verdict::Drop);
    assert_eq!(v(&mut f, "GET /ready 204"), Verdict::Drop);
    assert_eq!(v(&mut f, " GET /health 200"), Verdict::Keep);
    assert_eq!(v(&mut f, "GET /health abc"), Verdict::Keep);
}

#[test]
fn regex_perl_classes_work_without_unicode_tables() {
    let mut f = rule("regex", r"\bwarn\w*\s+\d+", &[]);
    assert_eq!(v(&mut f, "x warnings 12"), Verdict::Drop);
    assert_eq!(v(&mut f, "xwarnings 12"), Verdict::Keep);
}

#[test]
fn regex_case_insensitive_setting_and_inline_flag() {
    let mut f = rule("regex", "deprecat", &[("rule.1.case_sensitive", "false")]);
    assert_eq!(v(&mut f, "DEPRECATED"), Verdict::Drop);
    let mut f = rule("regex", "deprecat", &[]);
    assert_eq!(v(&mut f, "DEPRECATED"), Verdict::Keep);
    let mut f = rule("regex", "(?i)deprecat", &[]);
    assert_eq!(v(&mut f, "Deprecation"), Verdict::Drop);
}

#[test]
fn regex_on_non_utf8_lines() {
    let mut f = rule("regex", "boom", &[]);
    assert_eq!(f.verdict("p", false, b"\xff\xfe boom \xc3"), Verdict::Drop);
    let mut f = rule("contains", "boom", &[("rule.1.case_sensitive", "false")]);
    assert_eq!(f.verdict("p", false, b"\xff\xfe BOOM \xc3"), Verdict::Drop);
}

// ---- process / stream selectors ----

#[test]
fn stream_selector() {
    let mut f = rule("contains", "x", &[("rule.1.stream", "stderr")]);
    assert_eq!(f.verdict("p", true, b"x"), Verdict::Drop);
    assert_eq!(f.verdict("p", false, b"x"), Verdict::Keep);
    let mut f = rule("contains", "x", &[("rule.1.stream", " StdOut ")]);
    assert_eq!(f.verdict("p", true, b"x"), Verdict::Keep);
    assert_eq!(f.verdict("p", false, b"x"), Verdict::Drop);
    let mut f = rule("contains", "x", &[("rule.1.stream", "any")]);
    assert_eq!(f.verdict("p", true, b"x"), Verdict::Drop);
    assert_eq!(f.verdict("p", false, b"x"), Verdict::Drop);
}

#[test]
fn process_selector_is_exact() {
    let mut f = rule("contains", "x", &[("rule.1.process", "api")]);
    assert_eq!(f.verdict("api", false, b"x"), Verdict::Drop);
    assert_eq!(f.verdict("API", false, b"x"), Verdict::Keep);
    assert_eq!(f.verdict("api2", false, b"x"), Verdict::Keep);
    assert_eq!(f.verdict("", false, b"x"), Verdict::Keep);
}

#[test]
fn skipped_rule_falls_through_to_next() {
    let mut f = filter(&[
        ("rule.1.match", "contains"),
        ("rule.1.pattern", "x"),
        ("rule.1.action", "boost"),
        ("rule.1.process", "api"),
        ("rule.2.match", "contains"),
        ("rule.2.pattern", "x"),
        ("rule.2.action", "drop"),
    ]);
    assert_eq!(f.verdict("api", false, b"x"), Verdict::Boost);
    assert_eq!(f.verdict("web", false, b"x"), Verdict::Drop);
}

// ---- ANSI ----

#[test]
fn ansi_is_stripped_before_matching() {
    let mut f = filter(&[
        ("rule.1.match", "contains"),
        ("rule.1.pattern", "GET /health"),
        ("rule.1.action", "drop"),
        ("rule.2.match", "exact"),
        ("rule.2.pattern", "ready"),
        ("rule.2.action", "boost"),
        ("rule.3.match", "regex"),
        ("rule.3.pattern", "^error: .*failed$"),
        ("rule.3.action", "tag"),
        ("rule.3.tag", "err"),
    ]);
    assert_eq!(f.verdict("p", false, b"\x1b[32mGET\x1b[0m /\x1b[1mhealth\x1b[22m 200"), Verdict::Drop);
    assert_eq!(f.verdict("p", false, b"\x1b[1m\x1b[32mready\x1b[39m\x1b[22m"), Verdict::Boost);
    assert_eq!(
        f.verdict("p", true, b"\x1b[31merror\x1b[39m: build \x1b]8;;http://x\x1b\\failed\x1b]8;;\x1b\\"),
        Verdict::Tag("err".into())
    );
    // The scratch buffer is reused: a later plain line is unaffected.
    assert_eq!(f.verdict("p", false, b"ready"), Verdict::Boost);
    assert_eq!(f.verdict("p", false, b"GET /"), Verdict::Keep);
}

#[test]
fn strip_ansi_variants() {
    let mut buf = Vec::new();
    strip_ansi_into(b"a\x1b[1;31mb\x1b[0mc", &mut buf);
    assert_eq!(buf, b"abc");
    strip_ansi_into(b"a\x1b(Bb\x1b=c", &mut buf);
    assert_eq!(buf, b"abc");
    strip_ansi_into(b"a\x1b]0;title\x07b", &mut buf);
    assert_eq!(buf, b"ab");
    strip_ansi_into(b"a\x1b[?25lb\x1b[2K\x1b[1Gc", &mut buf);
    assert_eq!(buf, b"abc");
    strip_ansi_into(b"ab\x1b[", &mut buf);
    assert_eq!(buf, b"ab");
    strip_ansi_into(b"ab\x1b", &mut buf);
    assert_eq!(buf, b"ab");
    strip_ansi_into(b"ab\x1bPunterminated", &mut buf);
    assert_eq!(buf, b"ab");
}

// ---- configuration parsing ----

#[test]
fn keywords_are_case_insensitive_and_trimmed() {
    let mut f = filter(&[
        ("rule.1.match", " Contains "),
        ("rule.1.pattern", " x "),
        ("rule.1.action", "DROP"),
        ("rule.1.case_sensitive", "True"),
    ]);
    // The pattern is verbatim, spaces included.
    assert_eq!(v(&mut f, "a x b"), Verdict::Drop);
    assert_eq!(v(&mut f, "ax b"), Verdict::Keep);
}

#[test]
fn leading_zeros_name_the_same_rule() {
    assert_eq!(
        err(&[("rule.1.match", "contains"), ("rule.01.match", "exact"),]),
        "rule.01.match: same setting as rule.1.match"
    );
}

#[test]
fn error_bad_action() {
    assert_eq!(
        err(&[
            ("rule.1.match", "contains"),
            ("rule.1.pattern", "a"),
            ("rule.1.action", "drop"),
            ("rule.2.match", "contains"),
            ("rule.2.pattern", "b"),
            ("rule.2.action", "hide"),
        ]),
        "rule.2.action: expected keep, drop, boost or tag, found \"hide\""
    );
}

#[test]
fn error_bad_match_kind() {
    assert_eq!(
        err(&[("rule.1.match", "glob"), ("rule.1.pattern", "a*"), ("rule.1.action", "drop"),]),
        "rule.1.match: expected contains, exact, prefix, suffix or regex, found \"glob\""
    );
}

#[test]
fn error_missing_fields() {
    assert_eq!(
        err(&[("rule.3.pattern", "a"), ("rule.3.action", "drop")]),
        "rule.3.match: missing (rule 3 needs match, pattern and action)"
    );
    assert_eq!(
        err(&[("rule.3.match", "contains"), ("rule.3.action", "drop")]),
        "rule.3.pattern: missing (rule 3 needs match, pattern and action)"
    );
    assert_eq!(
        err(&[("rules.0.match", "contains"), ("rules.0.pattern", "x")]),
        "rules.0.action: missing (rule 0 needs match, pattern and action)"
    );
}

#[test]
fn error_tag_rules() {
    let e = err(&[("rule.1.match", "contains"), ("rule.1.pattern", "x"), ("rule.1.action", "tag")]);
    assert!(e.starts_with("rule.1.tag: missing"), "{e}");
    assert!(e.contains("action = \"tag\" needs a tag"), "{e}");
    assert_eq!(
        err(&[("rule.1.match", "contains"), ("rule.1.pattern", "x"), ("rule.1.action", "tag"), ("rule.1.tag", ""),]),
        "rule.1.tag: tag must not be empty"
    );
    assert_eq!(
        err(&[("rule.1.match", "contains"), ("rule.1.pattern", "x"), ("rule.1.action", "drop"), ("rule.1.tag", "t"),]),
        "rule.1.tag: only valid with action = \"tag\", but the action is \"drop\""
    );
}

#[test]
fn error_bad_bool_and_stream_and_process() {
    let base = [("rule.1.match", "contains"), ("rule.1.pattern", "x"), ("rule.1.action", "drop")];
    let with = |extra: (&'static str, &'static str)| {
        let mut p = base.to_vec();
        p.push(extra);
        err(&p)
    };
    assert_eq!(
        with(("rule.1.case_sensitive", "nope")),
        "rule.1.case_sensitive: expected true or false, found \"nope\""
    );
    assert_eq!(with(("rule.1.stream", "both")), "rule.1.stream: expected stdout, stderr or any, found \"both\"");
    assert_eq!(with(("rule.1.process", "")), "rule.1.process: process name must not be empty");
}

#[test]
fn error_unknown_keys() {
    assert_eq!(
        err(&[("rule.1.matches", "contains")]),
        "rule.1.matches: unknown field \"matches\", expected match, pattern, action, tag, case_sensitive, stream or process"
    );
    assert_eq!(err(&[("enabled", "true")]), "enabled: unknown setting, expected keys of the form rule.<N>.<field>");
    assert_eq!(
        err(&[("rule.x.match", "contains")]),
        "rule.x.match: rule number must be a non-negative integer, found \"x\""
    );
    assert_eq!(
        err(&[("rule..match", "contains")]),
        "rule..match: rule number must be a non-negative integer, found \"\""
    );
    assert_eq!(
        err(&[("rule.-1.match", "contains")]),
        "rule.-1.match: rule number must be a non-negative integer, found \"-1\""
    );
    assert!(err(&[("rule.1", "contains")]).starts_with("rule.1: expected rule.<N>.<field>"));
    assert_eq!(
        err(&[("rule.99999999999999999999999.match", "contains")]),
        "rule.99999999999999999999999.match: rule number \"99999999999999999999999\" is too large"
    );
    assert_eq!(
        err(&[("rule.1.match.x", "contains")]),
        "rule.1.match.x: unknown field \"match.x\", expected match, pattern, action, tag, case_sensitive, stream or process"
    );
}

#[test]
fn error_duplicate_key() {
    assert_eq!(err(&[("rule.1.match", "contains"), ("rule.1.match", "exact")]), "rule.1.match: duplicate key");
}

#[test]
fn error_invalid_regex_names_pattern_key() {
    let e = err(&[("rule.2.match", "regex"), ("rule.2.pattern", "(unclosed"), ("rule.2.action", "drop")]);
    assert!(e.starts_with("rule.2.pattern: invalid regex:"), "{e}");
    assert!(e.contains("unclosed group"), "{e}");
}

#[test]
fn error_regex_too_big() {
    let e = err(&[("rule.1.match", "regex"), ("rule.1.pattern", "(?:[a-z]{1000}){1000}"), ("rule.1.action", "drop")]);
    assert!(e.starts_with("rule.1.pattern: invalid regex:"), "{e}");
}

#[test]
fn regex_fallback_to_ascii_mode_only_when_needed() {
    // Unicode mode stays on where possible: '.' matches a whole multi-byte char.
    let mut f = rule("regex", "^a.b$", &[]);
    assert_eq!(v(&mut f, "aéb"), Verdict::Drop);
}

#[test]
fn verdict_tag_is_cloned_each_time() {
    let mut f = rule("contains", "x", &[]);
    let mut f2 =
        filter(&[("rule.1.match", "contains"), ("rule.1.pattern", "x"), ("rule.1.action", "tag"), ("rule.1.tag", "t")]);
    assert_eq!(v(&mut f, "x"), Verdict::Drop);
    assert_eq!(v(&mut f2, "x"), Verdict::Tag("t".into()));
    assert_eq!(v(&mut f2, "xx"), Verdict::Tag("t".into()));
}

// ---- allocation accounting ----

// brum's one counting allocator (per thread)
#[path = "../../../core/tests/support/alloc.rs"]
mod counting;

#[test]
fn no_allocation_per_line_for_plain_kinds() {
    let mut f = filter(&[
        ("rule.1.match", "contains"),
        ("rule.1.pattern", "GET /health"),
        ("rule.1.action", "drop"),
        ("rule.2.match", "contains"),
        ("rule.2.pattern", "Deprecat"),
        ("rule.2.case_sensitive", "false"),
        ("rule.2.action", "boost"),
        ("rule.3.match", "exact"),
        ("rule.3.pattern", "READY"),
        ("rule.3.case_sensitive", "false"),
        ("rule.3.action", "keep"),
        ("rule.4.match", "prefix"),
        ("rule.4.pattern", "[hmr]"),
        ("rule.4.action", "drop"),
        ("rule.5.match", "regex"),
        ("rule.5.pattern", r"took \d+ms$"),
        ("rule.5.action", "drop"),
    ]);
    // Warm up the scratch buffer (and the regex engine's lazily built caches).
    f.verdict("p", false, &[b'x'; 256]);
    f.verdict("p", false, b"\x1b[1mwarm up the scratch buffer with a long enough line\x1b[0m");
    f.verdict("p", false, b"query took 12ms");
    let lines: [&[u8]; 6] = [
        b"GET /health 200",
        b"\x1b[33mDEPRECATION\x1b[0m warning",
        b"  ready  ",
        b"[hmr] update /src/App.tsx",
        b"query took 12ms",
        b"\x1b[32mnothing\x1b[0m matches here",
    ];
    let n = counting::allocs_during(|| {
        for _ in 0..100 {
            for l in lines {
                let _ = f.verdict("p", false, l);
            }
        }
    });
    assert_eq!(n, 0, "verdicts without a tag must not allocate");
}

#[test]
fn allocation_counter_counts() {
    let n = counting::allocs_during(|| {
        std::hint::black_box(Vec::<u8>::with_capacity(16));
    });
    assert!(n >= 1);
}
