//! The plugin side of the command line: loading a session's plugins for
//! `brum run`, `brum plugins` (what would load here) and `brum plugins
//! check`, and the hidden `brum __compile` that a session runs to compile a
//! plugin without waiting for it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use brum::config::{Config, ConfigErrors, PluginConfig};
use brum::plugins::{self, Begun, Budgets, Notice, Origin, PluginHost, discover};

use crate::args::{CompileArgs, PluginOpts, PluginsAction, PluginsArgs};
use crate::{EXIT_USAGE, fail, load, project_dir};

pub(crate) fn new_host(cfg: &Config) -> Result<PluginHost, ExitCode> {
    let budgets = discover::budgets(&cfg.plugins);
    let names = cfg.processes.iter().map(|p| p.name.clone()).collect();
    PluginHost::new(budgets, names).map_err(|e| {
        eprintln!("brum: {e}");
        ExitCode::from(1)
    })
}

/// Where a session's project plugins live: the folder of the brum.toml the
/// plugin settings come from, else the project directory.
fn plugins_project_dir(cfg: &Config) -> PathBuf {
    match cfg.plugins.file.as_deref().and_then(Path::parent) {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => project_dir(cfg),
    }
}

/// The plugins of a session. Those in the compiled-component cache are
/// loaded now (milliseconds); the others stay pending, compiled by the
/// reactor in child processes while everything runs. With
/// `--strict-plugins` every plugin is compiled here first, and any problem
/// is exit 2. Settings tables that name no plugin are exit 2 when that is
/// known now (no plugin pending).
pub(crate) fn load_plugins(cfg: &Config, opts: &PluginOpts) -> Result<Option<PluginHost>, ExitCode> {
    let specs = discover::specs(&cfg.plugins, &plugins_project_dir(cfg), &opts.plugins, opts.no_plugins);
    if specs.is_empty() && (opts.no_plugins || cfg.plugins.tables.is_empty()) {
        return Ok(None);
    }
    let mut host = new_host(cfg)?;
    host.set_config(&cfg.plugins, discover::builtins_on(&cfg.plugins, opts.no_plugins));
    host.set_cache(plugins::cache_dir().as_deref());
    for spec in &specs {
        let problem = if opts.strict_plugins {
            host.load(spec).err()
        } else {
            match host.begin(spec) {
                Begun::Rejected(reason) => Some(reason),
                Begun::Loaded | Begun::Compile(_) => None,
            }
        };
        if let Some(reason) = problem
            && opts.strict_plugins
        {
            eprintln!("brum: plugin {}: {reason}", spec.origin.describe());
            return Err(ExitCode::from(EXIT_USAGE));
        }
    }
    if !opts.no_plugins && host.pending().is_empty() {
        let errors = host.unmatched_tables();
        if !errors.is_empty() {
            eprintln!("brum: {}", ConfigErrors(errors));
            return Err(ExitCode::from(EXIT_USAGE));
        }
    }
    Ok(Some(host))
}

/// `brum plugins` and `brum plugins check FILE`.
pub(crate) fn plugins_cmd(args: PluginsArgs) -> ExitCode {
    let cache = plugins::cache_dir();
    if let Some(PluginsAction::Check { file }) = &args.action {
        return match plugins::check_file(file, cache.as_deref()) {
            Ok((info, imports)) => {
                println!("{}: ok", file.display());
                println!("  name:        {}", info.name);
                println!("  version:     {}", info.version);
                println!("  description: {}", info.description);
                println!("  filter:      {}", info.filter);
                println!("  imports:     {}", if imports.is_empty() { "none".to_string() } else { imports.join(", ") });
                println!("  settings:    [plugin.{}]", info.name);
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    let cfg = match load(args.config.as_deref()) {
        Ok(c) => c,
        Err(ConfigErrors(errs)) if errs.iter().all(|e| e.message.starts_with("no brum.toml")) => {
            brum::config::ad_hoc(vec!["true".into()], None)
        }
        Err(e) => return fail(e),
    };
    let mut rows: Vec<serde_json::Value> = Vec::new();
    for b in &plugins::BUILTINS {
        if !discover::builtin_enabled(&cfg.plugins, b) {
            rows.push(serde_json::json!({
                "name": b.name, "version": null, "source": format!("builtin:{}", b.name), "state": "off",
                "note": format!("enable with [plugin.{}]", b.name),
            }));
        }
    }
    let specs = discover::specs(&cfg.plugins, &plugins_project_dir(&cfg), &args.plugins, false);
    let mut host = match new_host(&cfg) {
        Ok(h) => h,
        Err(code) => return code,
    };
    host.set_config(&cfg.plugins, discover::builtins_on(&cfg.plugins, false));
    host.set_cache(cache.as_deref());
    let mut bad = false;
    for spec in &specs {
        let _ = host.load(spec);
        for n in host.take_notices() {
            match n {
                Notice::Loaded { plugin, version, source, filter, cached, load_ms } => {
                    let kind = if filter { "filter" } else { "detector" };
                    let how = if cached { "cached" } else { "compiled" };
                    rows.push(serde_json::json!({
                        "name": plugin, "version": version, "source": source, "state": "loaded",
                        "filter": filter, "cached": cached, "load_ms": load_ms,
                        "note": format!("loaded ({kind}, {how} in {load_ms} ms)"),
                    }));
                }
                Notice::Rejected { plugin, source, reason } => {
                    bad = true;
                    rows.push(serde_json::json!({
                        "name": plugin, "version": null, "source": source, "state": "rejected",
                        "reason": reason, "note": format!("REJECTED: {reason}"),
                    }));
                }
                Notice::Failed { .. } | Notice::Log { .. } => {}
            }
        }
    }
    let mistakes = host.unmatched_tables();
    if args.json {
        for r in &rows {
            println!("{r}");
        }
    } else {
        let width = |k: &str, min: usize| {
            rows.iter().filter_map(|r| r[k].as_str()).map(|s| s.chars().count()).max().unwrap_or(0).max(min)
        };
        let (wn, wv, ws) = (width("name", 6), width("version", 7), width("source", 6));
        for r in &rows {
            let s = |k: &str| r[k].as_str().unwrap_or("-").to_string();
            println!("{:<wn$} {:<wv$} {:<ws$} {}", s("name"), s("version"), s("source"), s("note"));
        }
    }
    if !mistakes.is_empty() {
        eprintln!("brum: {}", ConfigErrors(mistakes));
        bad = true;
    }
    if bad { ExitCode::from(EXIT_USAGE) } else { ExitCode::SUCCESS }
}

/// `brum __compile --cache DIR (--builtin NAME | --file PATH)`: compiles one
/// plugin into the cache and answers on stdout, `ok`, or `rejected` (the
/// component is at fault; the refusal is cached too) or `error` (it could
/// not be stored), then the reason on the following lines.
pub(crate) fn compile_cmd(a: CompileArgs) -> ExitCode {
    let answer = compile_one(&a);
    let text = match &answer {
        Ok(()) => "ok\n".to_string(),
        Err(plugins::Refusal { reason, lasting: true }) => format!("rejected\n{reason}\n"),
        Err(plugins::Refusal { reason, lasting: false }) => format!("error\n{reason}\n"),
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    ExitCode::SUCCESS
}

fn compile_one(a: &CompileArgs) -> Result<(), plugins::Refusal> {
    let passing = |reason: String| plugins::Refusal { reason, lasting: false };
    let mut host = PluginHost::new(Budgets::default(), Vec::new()).map_err(|e| passing(e.to_string()))?;
    host.set_cache(Some(&a.cache));
    if host.cache_base() != Some(a.cache.as_path()) {
        return Err(passing(format!("cannot use {} to keep compiled plugins", a.cache.display())));
    }
    let origin = match (&a.builtin, &a.file) {
        (Some(name), _) => match plugins::BUILTINS.iter().find(|b| b.name == name) {
            Some(b) => Origin::Builtin(b),
            None => return Err(passing(format!("no built-in plugin is named {name}"))),
        },
        (None, Some(p)) => Origin::File(p.clone()),
        (None, None) => return Err(passing("nothing to compile".into())),
    };
    let what = origin.describe();
    let wasm = match &origin {
        Origin::Builtin(b) => b.wasm.to_vec(),
        Origin::File(p) => std::fs::read(p).map_err(|e| passing(format!("cannot read {what}: {e}")))?,
    };
    plugins::precheck(&what, &wasm).map_err(|e| plugins::Refusal { reason: e.to_string(), lasting: true })?;
    host.compile_to_cache(&what, &wasm).map(|_| ())
}

/// The plugin settings of a command run ad hoc: `brum.toml`'s, if any.
pub(crate) fn ad_hoc_plugin_settings(explicit: Option<&Path>) -> Result<PluginConfig, ConfigErrors> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    brum::config::plugin_settings(&cwd, explicit)
}
