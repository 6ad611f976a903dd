//! `package.json` scripts as processes, run through the project's package
//! manager: the `packageManager` field first, then the lockfile present
//! (`bun.lock`/`bun.lockb`, `pnpm-lock.yaml`, `yarn.lock`,
//! `package-lock.json`), npm by default.

use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;

use super::{Config, ConfigError, ConfigErrors, ProcessSpec, Settings, Source};

/// A JavaScript package manager brum knows how to run scripts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageManager {
    Npm,
    Pnpm,
    Yarn,
    Bun,
}

impl PackageManager {
    pub fn program(self) -> &'static str {
        match self {
            PackageManager::Npm => "npm",
            PackageManager::Pnpm => "pnpm",
            PackageManager::Yarn => "yarn",
            PackageManager::Bun => "bun",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "npm" => Some(PackageManager::Npm),
            "pnpm" => Some(PackageManager::Pnpm),
            "yarn" => Some(PackageManager::Yarn),
            "bun" => Some(PackageManager::Bun),
            _ => None,
        }
    }
}

#[derive(Debug, Deserialize)]
struct PackageJson {
    #[serde(default)]
    scripts: IndexMap<String, serde_json::Value>,
    #[serde(rename = "packageManager")]
    package_manager: Option<String>,
}

/// Which manager runs scripts in `dir`, given the `packageManager` field.
/// Returns an error message for a `packageManager` brum cannot run.
pub fn detect_package_manager(dir: &Path, field: Option<&str>) -> Result<PackageManager, String> {
    if let Some(f) = field {
        let name = f.split('@').next().unwrap_or("").trim();
        return PackageManager::from_name(name)
            .ok_or_else(|| format!("packageManager \"{f}\" is not supported; use npm, pnpm, yarn or bun"));
    }
    const LOCKS: [(&str, PackageManager); 6] = [
        ("bun.lock", PackageManager::Bun),
        ("bun.lockb", PackageManager::Bun),
        ("pnpm-lock.yaml", PackageManager::Pnpm),
        ("pnpm-workspace.yaml", PackageManager::Pnpm),
        ("yarn.lock", PackageManager::Yarn),
        ("package-lock.json", PackageManager::Npm),
    ];
    // a package inside a workspace has its lockfile (and often the
    // `packageManager` field) at the workspace root: look up to there,
    // stopping at the repository's root
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    for (depth, d) in dir.ancestors().enumerate() {
        if let Some(&(_, m)) = LOCKS.iter().find(|(f, _)| d.join(f).exists()) {
            return Ok(m);
        }
        if depth > 0
            && let Some(field) = std::fs::read_to_string(d.join("package.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<PackageJson>(&t).ok())
                .and_then(|p| p.package_manager)
        {
            return detect_package_manager(d, Some(&field));
        }
        if d.join(".yarnrc.yml").exists() {
            return Ok(PackageManager::Yarn);
        }
        if d.join(".git").exists() {
            break;
        }
    }
    Ok(PackageManager::Npm)
}

/// Loads the scripts of a `package.json` as processes.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigErrors::one(path, format!("cannot read the file: {e}")))?;
    let pkg: PackageJson = serde_json::from_str(&text).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: Some(e.line()),
            column: Some(e.column()),
            key: None,
            message: format!("invalid package.json: {e}"),
        }])
    })?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let manager = detect_package_manager(dir, pkg.package_manager.as_deref()).map_err(|m| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: None,
            column: None,
            key: Some("packageManager".into()),
            message: m,
        }])
    })?;
    let mut processes = Vec::new();
    let mut scripts = Vec::new();
    for (name, body) in &pkg.scripts {
        let Some(body) = body.as_str() else {
            return Err(ConfigErrors(vec![ConfigError {
                file: path.to_path_buf(),
                line: None,
                column: None,
                key: Some(format!("scripts.{name}")),
                message: "a script must be a string".into(),
            }]));
        };
        let prog = manager.program();
        let argv = vec![prog.to_string(), "run".to_string(), name.clone()];
        let display = format!("{prog} run {name}");
        let mut spec = ProcessSpec::new(name.clone(), argv, display);
        spec.cwd = Some(dir.to_path_buf());
        spec.autostart = name == "dev";
        processes.push(spec);
        scripts.push(Some(body.to_string()));
    }
    Ok(Config {
        source: Source::PackageJson { path: path.to_path_buf(), manager },
        settings: Settings::default(),
        processes,
        scripts,
        plugins: super::PluginConfig::default(),
        proxy: super::ProxyConfig::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("brum-pm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }

    #[test]
    fn lockfiles_pick_the_manager() {
        for (lock, want) in [
            ("bun.lock", PackageManager::Bun),
            ("bun.lockb", PackageManager::Bun),
            ("pnpm-lock.yaml", PackageManager::Pnpm),
            ("yarn.lock", PackageManager::Yarn),
            ("package-lock.json", PackageManager::Npm),
        ] {
            let d = tempdir(lock);
            std::fs::write(d.join(lock), "").expect("write");
            assert_eq!(detect_package_manager(&d, None), Ok(want), "{lock}");
        }
        let d = tempdir("none");
        assert_eq!(detect_package_manager(&d, None), Ok(PackageManager::Npm));
        std::fs::write(d.join("yarn.lock"), "").expect("write");
        assert_eq!(detect_package_manager(&d, Some("pnpm@9.1.0")), Ok(PackageManager::Pnpm));
        assert!(detect_package_manager(&d, Some("deno@2")).unwrap_err().contains("not supported"));
    }

    #[test]
    fn a_package_in_a_workspace_uses_the_workspace_root_manager() {
        let root = tempdir("ws");
        std::fs::create_dir(root.join(".git")).expect("git");
        std::fs::write(root.join("pnpm-workspace.yaml"), "packages:\n  - packages/*\n").expect("write");
        std::fs::write(root.join("pnpm-lock.yaml"), "").expect("write");
        let web = root.join("packages").join("web");
        std::fs::create_dir_all(&web).expect("mkdir");
        assert_eq!(detect_package_manager(&web, None), Ok(PackageManager::Pnpm));
        // a yarn workspace root names its manager in package.json
        let root = tempdir("yarnws");
        std::fs::create_dir(root.join(".git")).expect("git");
        std::fs::write(root.join("package.json"), r#"{"workspaces":["apps/*"],"packageManager":"yarn@4.1.0"}"#)
            .expect("write");
        let app = root.join("apps").join("site");
        std::fs::create_dir_all(&app).expect("mkdir");
        assert_eq!(detect_package_manager(&app, None), Ok(PackageManager::Yarn));
        // never past the repository root
        let outer = tempdir("outer");
        std::fs::write(outer.join("yarn.lock"), "").expect("write");
        let repo = outer.join("repo");
        std::fs::create_dir_all(repo.join(".git")).expect("git");
        assert_eq!(detect_package_manager(&repo, None), Ok(PackageManager::Npm));
    }

    #[test]
    fn scripts_become_processes() {
        let d = tempdir("scripts");
        std::fs::write(d.join("pnpm-lock.yaml"), "").expect("write");
        std::fs::write(d.join("package.json"), r#"{"scripts":{"build":"tsc","dev":"vite --port 5173"}}"#)
            .expect("write");
        let cfg = load(&d.join("package.json")).expect("loads");
        assert_eq!(cfg.processes[1].argv, ["pnpm", "run", "dev"]);
        assert_eq!(cfg.scripts[1].as_deref(), Some("vite --port 5173"));
        assert_eq!(cfg.select(&[]).expect("select"), [1]);
    }
}
