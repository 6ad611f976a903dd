//! Plugin settings you cannot get wrong: tables named after the name a
//! plugin declares (its file stem still works), a table naming no plugin is
//! a configuration error, ad-hoc runs read brum.toml's settings, duplicate
//! plugins and plugins taking a built-in's name are refused, and a custom
//! finding counts by its severity.

use serde_json::{Value, json};

use crate::*;

/// The misbehave fixture as `.brum/plugins/mis_behave.wasm`: it declares
/// the name `misbehave`, its file stem is `mis_behave`.
fn project(toml: &str) -> Project {
    let p = Project::with_toml(toml);
    p.add_plugin("mis_behave", &plugin_wasm("misbehave"));
    p
}

/// The fixture in `mode = "stderr"` echoes lines as `plugin.log`: proof it
/// got its settings.
fn got_settings(events: &[Value]) -> bool {
    of_type(events, "plugin.log").iter().any(|e| e["plugin"] == "misbehave" && e["text"] == "saw: hello")
}

/// Compiles the fixtures into the default cache, so a session knows every
/// plugin's name at start-up (the cold path is in `startup.rs`).
fn warm(p: &Project) {
    for f in ["misbehave", "impostor"] {
        let out = p.run(&["plugins", "check", plugin_wasm(f).to_str().expect("path")], LIMIT);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
    }
}

#[test]
fn settings_go_by_the_declared_name_and_the_file_stem_still_works() {
    for table in ["misbehave", "mis_behave"] {
        let p = project(&format!("[process.a]\ncmd = \"echo hello\"\n[plugin.{table}]\nmode = \"stderr\"\n"));
        warm(&p);
        let (events, out) = p.run_json(&[], LIMIT);
        assert_eq!(out.code, Some(0), "[plugin.{table}]: {}", out.stderr);
        assert!(got_settings(&events), "[plugin.{table}] reaches the plugin: {events:#?}");
    }
    // both at once: which one was meant?
    let p = project(
        "[process.a]\ncmd = \"echo hello\"\n[plugin.misbehave]\nmode = \"stderr\"\n[plugin.mis_behave]\nmode = \"trap\"\n",
    );
    let (events, _) = p.run_json(&[], LIMIT);
    let failed = of_type(&events, "plugin.failed");
    assert_eq!(failed.len(), 1, "{events:#?}");
    assert_eq!(failed[0]["plugin"], "misbehave");
    let reason = failed[0]["reason"].as_str().expect("reason");
    assert!(reason.contains("given twice") && reason.contains("[plugin.misbehave]"), "{reason}");
}

#[test]
fn a_table_naming_no_plugin_is_a_config_error_listing_the_plugins() {
    let p = project("[process.a]\ncmd = \"echo hello\"\n\n[plugin.misbehav]\nmode = \"stderr\"\n");
    warm(&p);
    let out = p.run(&["run", "--json"], LIMIT);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "nothing runs");
    let want = "brum.toml:4:1: plugin.misbehav: no plugin is named `misbehav`; loaded: errors, urls, misbehave (";
    assert!(out.stderr.contains(want), "{}", out.stderr);
    assert!(out.stderr.contains("mis_behave.wasm)"), "names the file: {}", out.stderr);
    // `brum plugins` says the same
    let listed = p.run(&["plugins"], LIMIT);
    assert_eq!(listed.code, Some(2));
    assert!(listed.stderr.contains(want), "{}", listed.stderr);
    // a table for a built-in, even one that is off, is not a mistake
    let p =
        project("[process.a]\ncmd = \"echo hello\"\n[plugin.urls]\nenabled = false\n[plugin.errors]\nquiet_ms = 100\n");
    assert_eq!(p.run(&["run"], LIMIT).code, Some(0));
}

#[test]
fn a_rejected_plugin_is_named_as_it_names_itself() {
    let p = project("[process.a]\ncmd = \"echo hello\"\n[plugin.misbehave]\nmode = \"fail-configure\"\n");
    warm(&p);
    let (events, _) = p.run_json(&[], LIMIT);
    let failed = of_type(&events, "plugin.failed");
    assert_eq!(failed.len(), 1, "{events:#?}");
    assert_eq!(failed[0]["plugin"], "misbehave", "the declared name, like plugin.loaded, not the file stem");
    assert!(failed[0]["reason"].as_str().expect("reason").contains("mis_behave.wasm"), "and the file");
}

#[test]
fn ad_hoc_runs_read_the_plugin_settings_of_brum_toml() {
    let p = project("[process.a]\ncmd = \"true\"\n[plugin.misbehave]\nmode = \"stderr\"\n");
    warm(&p);
    let (events, out) = p.run_json(&["--", "echo", "hello"], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(got_settings(&events), "{events:#?}");
    // from elsewhere with --config: that project's plugins and settings
    let elsewhere = Project::new();
    let toml = p.path().join("brum.toml");
    let mut cmd = elsewhere.cmd(&["run", "--json", "--config", toml.to_str().expect("path"), "--", "echo", "hello"]);
    let out = finish(
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn"),
        LIMIT,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(got_settings(&parse_events(&out.stdout)));
    // a brum.toml with only plugin settings is fine for an ad-hoc run
    let p = project("[plugin.misbehave]\nmode = \"stderr\"\n");
    let (events, out) = p.run_json(&["--", "echo", "hello"], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(got_settings(&events));
}

#[test]
fn the_same_plugin_twice_is_refused_naming_both_files() {
    let p = project("plugins_dir = \"more\"\n[process.a]\ncmd = \"echo hello\"\n");
    warm(&p);
    std::fs::create_dir_all(p.path().join("more")).expect("mkdir");
    std::fs::copy(plugin_wasm("misbehave"), p.path().join("more/mis_behave.wasm")).expect("copy");
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0));
    let failed = of_type(&events, "plugin.failed");
    assert_eq!(failed.len(), 1, "{events:#?}");
    let reason = failed[0]["reason"].as_str().expect("reason");
    assert!(reason.contains(".brum/plugins/mis_behave.wasm") && reason.contains("more/mis_behave.wasm"), "{reason}");
    assert_eq!(of_type(&events, "plugin.loaded").iter().filter(|e| e["plugin"] == "misbehave").count(), 1);
    // different files that say the same name
    std::fs::remove_file(p.path().join("more/mis_behave.wasm")).expect("rm");
    let p2 = p.path().join("more/other.wasm");
    let mut bytes = std::fs::read(plugin_wasm("misbehave")).expect("read");
    bytes.extend_from_slice(b"\0\x06\x05extra"); // a custom section: another file, the same plugin
    std::fs::write(&p2, &bytes).expect("write");
    let out = p.run(&["plugins"], LIMIT);
    assert_eq!(out.code, Some(2), "{}", out.stdout_text());
    let text = out.stdout_text();
    assert!(text.contains("two plugins are named `misbehave`"), "{text}");
    assert!(text.contains("mis_behave.wasm") && text.contains("more/other.wasm"), "{text}");
    let strict = p.run(&["run", "--strict-plugins"], LIMIT);
    assert_eq!(strict.code, Some(2), "{}", strict.stderr);
    assert!(strict.stderr.contains("two plugins are named `misbehave`"), "{}", strict.stderr);
}

#[test]
fn a_plugin_cannot_take_a_builtins_name_unless_it_is_off() {
    let p = Project::with_toml("[process.a]\ncmd = \"echo oops\"\n[plugin.errors]\nquiet_ms = 100\n");
    p.add_plugin("impostor", &plugin_wasm("impostor"));
    warm(&p);
    let (events, _) = p.run_json(&[], LIMIT);
    let failed = of_type(&events, "plugin.failed");
    assert_eq!(failed.len(), 1, "{events:#?}");
    let reason = failed[0]["reason"].as_str().expect("reason");
    assert!(reason.contains("impostor.wasm calls itself `errors`, the name of a built-in plugin"), "{reason}");
    assert!(reason.contains("[plugin.errors] enabled = false"), "{reason}");
    // with the built-in off, the file takes its place and its settings
    p.write("brum.toml", "[process.a]\ncmd = \"echo oops\"\n[plugin.errors]\nenabled = false\nnote = \"mine\"\n");
    let (events, out) = p.run_json(&[], LIMIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(of_type(&events, "plugin.failed").is_empty(), "{events:#?}");
    let loaded: Vec<&Value> =
        of_type(&events, "plugin.loaded").into_iter().filter(|e| e["plugin"] == "errors").collect();
    assert_eq!(loaded.len(), 1);
    assert!(loaded[0]["source"].as_str().expect("source").ends_with("impostor.wasm"));
    let found = of_type(&events, "finding");
    assert_eq!(found.len(), 1, "{events:#?}");
    assert_eq!((&found[0]["kind"], &found[0]["message"]), (&json!("impostor"), &json!("mine")));
}

/// A plugin's own kind counts by its severity: warning is a warning, error
/// and critical are errors, info nothing — in the summary, `brum errors`
/// and `--fail-on`.
#[test]
fn custom_findings_count_by_their_severity() {
    let toml = |severity: &str| {
        format!(
            "[process.a]\ncmd = \"echo boom; while [ ! -e done ]; do sleep 0.05; done\"\n\
             [plugin.misbehave]\nseverity = \"{severity}\"\n"
        )
    };
    let p = project(&toml("warning"));
    warm(&p);
    let mut live = Live::spawn(p.cmd(&["run", "--json", "--fail-on", "warning"]));
    let seen = live.until(|e| e["type"] == "finding");
    let f = seen.last().expect("finding");
    assert_eq!((&f["kind"], &f["severity"], &f["count"]), (&json!("boom"), &json!("warning"), &json!(1)));
    assert!(f["id"].as_u64().is_some_and(|id| id > 0), "tracked like an error: {f}");
    let (listed, _) = ask_timed(&p, &json!({"cmd": "errors"}));
    let errors = listed["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{listed}");
    assert_eq!((&errors[0]["type"], &errors[0]["kind"]), (&json!("finding"), &json!("boom")));
    p.write("done", "");
    let (events, code) = live.rest(LIMIT);
    assert_eq!(code, Some(1), "--fail-on warning fails on it");
    let summary = of_type(&events, "run.summary")[0]["processes"][0].clone();
    assert_eq!((&summary["warnings"], &summary["warnings_open"]), (&json!(1), &json!(1)), "{summary}");
    std::fs::remove_file(p.path().join("done")).expect("rm");
    // error and critical are errors; info is nothing
    for (severity, errors, code) in [("error", 1, 1), ("critical", 1, 1), ("info", 0, 0)] {
        p.write("brum.toml", &toml(severity));
        p.write("done", "");
        let (events, out) = p.run_json(&["--fail-on", "error"], LIMIT);
        assert_eq!(out.code, Some(code), "{severity}: {}", out.stderr);
        let summary = &of_type(&events, "run.summary")[0]["processes"][0];
        assert_eq!((&summary["errors"], &summary["warnings"]), (&json!(errors), &json!(0)), "{severity}");
    }
}
