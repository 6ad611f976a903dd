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
    expect_error("[process.web]\ncmd = \"x\"\nautostrat = true\n", &[], "brum.toml:3:1: unknown field `autostrat`");
}

#[test]
fn wrong_type() {
    expect_error(
        "[process.web]\ncmd = \"x\"\nautostart = \"yes\"\n",
        &[],
        "brum.toml:3:13: invalid type: string \"yes\", expected a boolean",
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
