use super::*;

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    parse_toml(Path::new("brum.toml"), text)
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn full_process_table() {
    let cfg = parse(
        r#"
max_line_bytes = "16KiB"
[process.db]
argv = ["postgres", "-D", "data dir"]
autostart = false
[process.web]
cmd = "npm run dev"
env = { PORT = 3000, DEBUG = true }
restart = "on-failure"
restart_delay = "250ms"
restart_max_delay = 10
max_restarts = 3
stop_signal = "INT"
stop_timeout = 2.5
depends_on = ["db"]
"#,
    )
    .expect("valid");
    assert_eq!(cfg.settings.max_line_bytes, 16 * 1024);
    let db = &cfg.processes[0];
    assert_eq!(db.display, "postgres -D 'data dir'");
    assert!(!db.autostart);
    let web = &cfg.processes[1];
    assert_eq!(web.argv, ["sh", "-c", "npm run dev"]);
    assert_eq!(web.env, [("PORT".into(), "3000".into()), ("DEBUG".into(), "true".into())]);
    assert_eq!(web.restart, RestartPolicy::OnFailure);
    assert_eq!(web.restart_delay, Duration::from_millis(250));
    assert_eq!(web.restart_max_delay, Duration::from_secs(10));
    assert_eq!(web.max_restarts, Some(3));
    assert_eq!(web.stop_signal, libc::SIGINT);
    assert_eq!(web.stop_timeout, Duration::from_millis(2500));
    assert_eq!(web.depends_on, [0]);
    // no names: autostart ones, dependencies first
    assert_eq!(cfg.select(&[]).expect("select"), [0, 1]);
    assert!(cfg.select(&["nope".into()]).unwrap_err().contains("unknown process \"nope\""));
}

#[test]
fn bad_toml_names_line_and_column() {
    let e = errors("[process.web]\ncmd = \"x\n");
    assert!(e[0].starts_with("brum.toml:2:"), "{e:?}");
}

#[test]
fn unknown_key_is_named() {
    let e = errors("[process.web]\ncmd = \"x\"\nrestrat = \"always\"\n");
    assert!(e[0].starts_with("brum.toml:3:1: process.web.restrat: unknown key in [process.web]"), "{e:?}");
}

#[test]
fn wrong_type_is_named() {
    let e = errors("[process.web]\ncmd = 5\n");
    assert!(e[0].starts_with("brum.toml:2:7: process.web.cmd: expected a string, found the number 5"), "{e:?}");
}

#[test]
fn all_semantic_errors_are_collected() {
    let e = errors(
        "[process.a]\nrestart = \"sometimes\"\n[process.b]\ncmd = \"x\"\nstop_timeout = \"soon\"\ndepends_on = [\"zzz\"]\n",
    );
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(e[0].starts_with("brum.toml:1:") && e[0].contains("process.a: missing `cmd`"), "{e:?}");
    assert!(e[1].starts_with("brum.toml:2:11: process.a.restart: expected"), "{e:?}");
    assert!(e[2].starts_with("brum.toml:5:16: process.b.stop_timeout: expected a duration"), "{e:?}");
    assert!(e[3].starts_with("brum.toml:6:15: process.b.depends_on: unknown process \"zzz\""), "{e:?}");
}

#[test]
fn cycles_are_reported_with_their_path() {
    let e = errors("[process.a]\ncmd = \"x\"\ndepends_on = [\"b\"]\n[process.b]\ncmd = \"y\"\ndepends_on = [\"a\"]\n");
    assert_eq!(e, ["brum.toml:3:15: process.a.depends_on: dependency cycle: a -> b -> a"]);
}

#[test]
fn durations_sizes_env_files() {
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
    assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_duration("fast"), None);
    assert_eq!(parse_size("8MiB"), Some(8 << 20));
    assert_eq!(parse_size("64k"), Some(64 << 10));
    assert_eq!(parse_size("lots"), None);
}
