//! Every configuration mistake gets one clear message (file, line, key) and
//! exit code 2.

use crate::*;

fn expect_error(toml: &str, args: &[&str], want: &str) {
    let p = Project::with_toml(toml);
    let mut full = vec!["run"];
    full.extend_from_slice(args);
    let out = p.run(&full, LIMIT);
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    assert!(out.stderr.contains(want), "want {want:?} in:\n{}", out.stderr);
    assert!(out.stdout.is_empty(), "nothing runs on a config error");
}

#[test]
fn bad_toml() {
    expect_error("[process.web\ncmd = \"x\"\n", &[], "brum.toml:1:");
}

#[test]
fn unknown_key() {
    expect_error(
        "[process.web]\ncmd = \"x\"\nautostrat = true\n",
        &[],
        "brum.toml:3:1: process.web.autostrat: unknown key in [process.web]; the keys are cmd, argv,",
    );
}

#[test]
fn wrong_type() {
    expect_error(
        "[process.web]\ncmd = \"x\"\nautostart = \"yes\"\n",
        &[],
        "brum.toml:3:13: process.web.autostart: expected true or false, found the string \"yes\"",
    );
}

#[test]
fn missing_cmd() {
    expect_error("[process.web]\ncwd = \".\"\n", &[], "process.web: missing `cmd`");
}

#[test]
fn unknown_name() {
    expect_error("[process.web]\ncmd = \"x\"\n", &["api"], "unknown process \"api\" (defined: web)");
}

#[test]
fn dependency_cycle() {
    expect_error(
        "[process.a]\ncmd = \"x\"\ndepends_on = [\"b\"]\n[process.b]\ncmd = \"x\"\ndepends_on = [\"a\"]\n",
        &[],
        "brum.toml:3:15: process.a.depends_on: dependency cycle: a -> b -> a",
    );
}

#[test]
fn several_mistakes_reported_at_once() {
    let p = Project::with_toml("[process.a]\ncmd = \"x\"\nrestart = \"sometimes\"\nstop_signal = \"NOPE\"\n");
    let out = p.run(&["run"], LIMIT);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("brum.toml:3:11: process.a.restart:"), "{}", out.stderr);
    assert!(out.stderr.contains("brum.toml:4:15: process.a.stop_signal:"), "{}", out.stderr);
}

#[test]
fn no_configuration_at_all() {
    let p = Project::new();
    let out = p.run(&["run"], LIMIT);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("no brum.toml or package.json"), "{}", out.stderr);
}

#[test]
fn missing_env_file() {
    expect_error("[process.a]\ncmd = \"x\"\nenv_file = \".env.local\"\n", &[], "process.a.env_file: cannot read");
}

#[test]
fn every_shape_mistake_at_once_with_its_dotted_key() {
    let p = Project::with_toml(
        "ring_bytes = 99999999999999999999\n[process.a]\ncmd = 5\nbogus = 1\n[process.b]\ncmd = \"x\"\nautostart = \"yes\"\n",
    );
    let out = p.run(&["run"], LIMIT);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    for want in [
        "brum.toml:1:14: ring_bytes: this number is too large",
        "brum.toml:3:7: process.a.cmd: expected a string, found the number 5",
        "brum.toml:4:1: process.a.bogus: unknown key in [process.a]",
        "brum.toml:7:13: process.b.autostart: expected true or false",
    ] {
        assert!(out.stderr.contains(want), "want {want:?} in:\n{}", out.stderr);
    }
}

#[test]
fn bad_env_names_values_and_process_names_are_config_errors() {
    let p = Project::with_toml(
        "[process.\"--json\"]\ncmd = \"x\"\n[process.\"a\\u001b[2Jb\"]\ncmd = \"y\"\nenv = { \"WEIRD=X\" = \"1\", OK = \"a\\u0000b\" }\n[process.\"..\"]\ncmd = \"z\"\n",
    );
    let out = p.run(&["run"], LIMIT);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("process.--json: a process name may contain"), "{}", out.stderr);
    assert!(out.stderr.contains("process...: a process name may contain"), "{}", out.stderr);
    assert!(out.stderr.contains("env.WEIRD=X: a variable name cannot contain '='"), "{}", out.stderr);
    assert!(out.stderr.contains("env.OK: a variable cannot contain a NUL byte"), "{}", out.stderr);
    // the escape sequence in the name is shown escaped, never sent raw
    assert!(out.stderr.contains("process.a\\u{1b}[2Jb"), "{}", out.stderr);
    assert!(!out.stderr.contains('\x1b'), "raw ESC reached the terminal: {:?}", out.stderr);
}
