//! What a session loads, in order: the built-in plugins that are on (by
//! default or by their `[plugin.NAME]` table), the project's
//! `.brum/plugins/*.wasm`, the configured `plugins_dir`, then the files
//! named with `--plugin`. A `[plugin.NAME]` table with `enabled = false`
//! turns off a built-in or a file whose stem is NAME here (one whose
//! declared name is NAME when it is loaded); its other keys are the
//! plugin's settings, found by the host once the plugin said its name.
//!
//! Reads `config` (the validated plugin settings) and directory listings;
//! loads nothing — the host does, from the [`PluginSpec`]s returned here.

use std::path::{Path, PathBuf};

use super::{BUILTINS, Budgets, Builtin, DEFAULT_FUEL, DEFAULT_MEMORY, Origin, PluginSpec};
use crate::config::PluginConfig;

/// The project's own plugins folder.
pub fn project_plugins_dir(project_dir: &Path) -> PathBuf {
    project_dir.join(".brum").join("plugins")
}

/// Whether built-in `b` is on in this configuration.
pub fn builtin_enabled(cfg: &PluginConfig, b: &Builtin) -> bool {
    cfg.table(b.name).map(|t| t.enabled).unwrap_or(b.default_on)
}

/// The plugins to load. With `no_plugins` only the `extra` files (from
/// `--plugin`) are loaded: no built-ins and no folders.
pub fn specs(cfg: &PluginConfig, project_dir: &Path, extra: &[PathBuf], no_plugins: bool) -> Vec<PluginSpec> {
    let mut specs = Vec::new();
    let mut files = Vec::new();
    if !no_plugins {
        for b in BUILTINS.iter().filter(|b| builtin_enabled(cfg, b)) {
            specs.push(PluginSpec { origin: Origin::Builtin(b), rank: specs.len() });
        }
        files.extend(wasm_files(&project_plugins_dir(project_dir)));
        if let Some(d) = &cfg.dir {
            files.extend(wasm_files(d));
        }
    }
    files.extend(extra.iter().cloned());
    for f in files {
        let stem = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        // for a built-in's name, `enabled` switches the built-in (a file may replace it)
        if cfg.table(&stem).is_some_and(|t| !t.enabled) && !BUILTINS.iter().any(|b| b.name == stem) {
            continue;
        }
        specs.push(PluginSpec { origin: Origin::File(f), rank: specs.len() });
    }
    specs
}

/// The built-ins on in this session (none with `no_plugins`).
pub fn builtins_on(cfg: &PluginConfig, no_plugins: bool) -> Vec<&'static str> {
    if no_plugins {
        return Vec::new();
    }
    BUILTINS.iter().filter(|b| builtin_enabled(cfg, b)).map(|b| b.name).collect()
}

/// The budgets of every plugin: the configured ones, else the defaults.
pub fn budgets(cfg: &PluginConfig) -> Budgets {
    Budgets { fuel: cfg.fuel.unwrap_or(DEFAULT_FUEL), memory: cfg.memory.unwrap_or(DEFAULT_MEMORY) }
}

/// The `.wasm` files directly in `dir`, sorted by name (none if it cannot
/// be read: a missing folder is the usual case).
/// The `*.wasm` files of a folder, sorted (none when it cannot be read).
pub fn wasm_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "wasm")).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PluginTable;

    fn table(name: &str, enabled: bool) -> PluginTable {
        PluginTable { name: name.into(), enabled, settings: vec![("k".into(), "v".into())], line: 0, column: 0 }
    }

    fn describe(specs: &[PluginSpec]) -> Vec<String> {
        specs.iter().map(|s| s.origin.describe()).collect()
    }

    #[test]
    fn builtins_then_project_folder_then_plugins_dir_then_flags() {
        let project = tempfile::tempdir().expect("tempdir");
        let other = tempfile::tempdir().expect("tempdir");
        let own = project_plugins_dir(project.path());
        std::fs::create_dir_all(&own).expect("mkdir");
        for f in ["b.wasm", "a.wasm", "notes.txt"] {
            std::fs::write(own.join(f), b"").expect("write");
        }
        std::fs::write(other.path().join("c.wasm"), b"").expect("write");
        let cfg = PluginConfig {
            dir: Some(other.path().to_path_buf()),
            tables: vec![table("filter", true), table("urls", false), table("b", false)],
            ..PluginConfig::default()
        };
        let flag = PathBuf::from("/x/d.wasm");
        let got = describe(&specs(&cfg, project.path(), std::slice::from_ref(&flag), false));
        let want = vec![
            "builtin:errors".to_string(),
            "builtin:filter".to_string(),
            own.join("a.wasm").display().to_string(),
            other.path().join("c.wasm").display().to_string(),
            "/x/d.wasm".to_string(),
        ];
        assert_eq!(got, want);
        let ranks: Vec<usize> = specs(&cfg, project.path(), &[], false).iter().map(|s| s.rank).collect();
        assert_eq!(ranks, [0, 1, 2, 3]);
    }

    #[test]
    fn no_plugins_keeps_only_the_named_files() {
        let project = tempfile::tempdir().expect("tempdir");
        let own = project_plugins_dir(project.path());
        std::fs::create_dir_all(&own).expect("mkdir");
        std::fs::write(own.join("a.wasm"), b"").expect("write");
        let got = describe(&specs(&PluginConfig::default(), project.path(), &[PathBuf::from("/x/d.wasm")], true));
        assert_eq!(got, ["/x/d.wasm"]);
    }
}
