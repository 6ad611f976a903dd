//! `brum reload`: read brum.toml again and apply what changed — restart only
//! the processes whose definition changed, start the new ones (when they
//! autostart), stop the ones that are gone — and say what it did
//! (`daemon.reloaded`). A file with mistakes changes nothing and the answer
//! lists every mistake. A plugin whose `[plugin.NAME]` settings changed is
//! configured afresh (or, if it refuses them, keeps the old ones: the
//! answer says why). What shapes the session as it starts — plugin files,
//! a plugin switched on or off, the proxy, the line and ring sizes — is not
//! applied; the answer names each such change (`restart_needed`), so a new
//! plugin dropped into `.brum/plugins` is never silently ignored.

use std::path::Path;

use super::{Proc, Reactor, Stats, probes};
use crate::capture::Capture;
use crate::config::{self, Config, ProcessSpec, Source};
use crate::events::Event;
use crate::supervise::child::{Child, ChildState, StopKind};

/// What a reload did.
#[derive(Debug, Default)]
pub(super) struct ReloadDiff {
    pub changed: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
    /// Changes that take effect only when brum starts again.
    pub restart_needed: Vec<String>,
    /// Plugins given their table's new settings.
    pub reconfigured: Vec<String>,
    /// Plugins that refused their table's new settings (and why): they go
    /// on with the old ones.
    pub refused: Vec<String>,
}

/// What `config` says about what a reload cannot apply, each a key and a
/// text to compare: the ring and line sizes, `[proxy]`, the plugin budgets
/// and folder, every `[plugin.NAME]` table, and (with `plugin_files`) each
/// `*.wasm` file of the plugin folders with its size and time.
pub fn start_only(config: &Config, plugin_files: bool) -> Vec<(String, String)> {
    let (s, p) = (&config.settings, &config.plugins);
    let mut said = vec![
        ("max_line_bytes".to_string(), s.max_line_bytes.to_string()),
        ("ring_bytes".to_string(), s.ring_bytes.to_string()),
        ("[proxy]".to_string(), format!("{:?}", config.proxy)),
        ("plugins_dir".to_string(), format!("{:?}", p.dir)),
        ("plugin_fuel".to_string(), format!("{:?}", p.fuel)),
        ("plugin_memory".to_string(), format!("{:?}", p.memory)),
    ];
    for t in &p.tables {
        said.push((format!("[plugin.{}]", t.name), format!("{} {:?}", t.enabled, t.settings)));
    }
    if plugin_files {
        let project = p.file.as_deref().or(config.source_path()).and_then(Path::parent).unwrap_or(Path::new("."));
        let mut dirs = vec![crate::plugins::discover::project_plugins_dir(project)];
        dirs.extend(p.dir.clone());
        for f in dirs.iter().flat_map(|d| crate::plugins::discover::wasm_files(d)) {
            let meta = std::fs::metadata(&f).ok();
            let stamp = meta.map(|m| format!("{} {:?}", m.len(), m.modified().ok()));
            said.push((f.display().to_string(), stamp.unwrap_or_default()));
        }
    }
    said
}

/// What differs between two [`start_only`] lists: a setting by its key, a
/// plugin file with `(new)`, `(changed)` or `(removed)`.
fn differences(old: &[(String, String)], new: &[(String, String)]) -> Vec<String> {
    let find = |l: &[(String, String)], k: &str| l.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let file = |k: &str| !k.starts_with('[') && k.ends_with(".wasm");
    let mut out = Vec::new();
    for (k, v) in new {
        match find(old, k) {
            Some(o) if &o == v => {}
            Some(_) if file(k) => out.push(format!("{k} (changed)")),
            None if file(k) => out.push(format!("{k} (new)")),
            _ => out.push(k.clone()),
        }
    }
    for (k, _) in old {
        if find(new, k).is_none() {
            out.push(if file(k) { format!("{k} (removed)") } else { k.clone() });
        }
    }
    out
}

/// A process's definition as far as a reload cares (its dependencies by
/// name, since indices move).
fn definition(spec: &ProcessSpec, all: &[ProcessSpec]) -> String {
    let deps: Vec<&str> = spec.depends_on.iter().map(|&d| all[d].name.as_str()).collect();
    let mut s = spec.clone();
    s.depends_on.clear();
    format!("{s:?} deps={deps:?}")
}

impl Reactor {
    /// Re-reads the configuration file and applies the differences.
    pub(super) fn reload(&mut self) -> Result<ReloadDiff, String> {
        let Source::Toml(path) = &self.source else {
            return Err("reload needs a brum.toml; this session was started from package.json or a command".into());
        };
        if self.shutdown.is_some() {
            return Err("brum is shutting down".into());
        }
        let new = config::load_toml(path).map_err(|e| format!("{} unchanged:\n{e}", path.display()))?;
        let old_specs: Vec<ProcessSpec> = self.procs.iter().map(|p| p.spec.clone()).collect();
        let said = start_only(&new, self.plugin_files);
        let mut diff = ReloadDiff { restart_needed: differences(&self.start_only, &said), ..ReloadDiff::default() };
        self.reconfigure_plugins(&new, &said, &mut diff);
        let mut to_start = Vec::new();
        for spec in &new.processes {
            let def = definition(spec, &new.processes);
            match self.procs.iter().position(|p| p.spec.name == spec.name && !p.removed) {
                Some(i) if definition(&old_specs[i], &old_specs) == def => diff.unchanged += 1,
                Some(i) => {
                    diff.changed.push(spec.name.clone());
                    self.procs[i].spec = spec.clone();
                    match self.procs[i].child.state {
                        // the new definition takes effect with the restart
                        ChildState::Running { .. } => {
                            let _ = self.stop(i, StopKind::Restart);
                        }
                        ChildState::Backoff { .. } | ChildState::Exiting { .. } => {}
                        ChildState::Idle | ChildState::Done { .. } => {
                            if spec.autostart && self.procs[i].child.run > 0 {
                                to_start.push(i);
                            }
                        }
                    }
                }
                None => {
                    diff.added.push(spec.name.clone());
                    let index = self.procs.len();
                    self.procs.push(Proc {
                        spec: spec.clone(),
                        index,
                        child: Child::new(),
                        pipes: [None, None],
                        capture: Capture::new(&self.settings),
                        stats: Stats::default(),
                        probe: probes::ProbeState::default(),
                        removed: false,
                        started_seq: 0,
                    });
                    if let Some(host) = self.host.as_mut() {
                        host.add_process(&spec.name);
                    }
                    self.em.output_mut().add_process(spec.raw_terminal);
                    if spec.autostart {
                        to_start.push(index);
                    }
                }
            }
        }
        for i in 0..self.procs.len() {
            let name = self.procs[i].spec.name.clone();
            if !self.procs[i].removed && !new.processes.iter().any(|s| s.name == name) {
                diff.removed.push(name);
                self.procs[i].removed = true;
                let _ = self.stop(i, StopKind::Stop);
            }
        }
        // dependencies by index in this session's table
        for i in 0..self.procs.len() {
            let Some(spec) = new.processes.iter().find(|s| s.name == self.procs[i].spec.name) else { continue };
            let deps: Vec<usize> = spec
                .depends_on
                .iter()
                .filter_map(|&d| {
                    let name = &new.processes[d].name;
                    self.procs.iter().position(|p| &p.spec.name == name && !p.removed)
                })
                .collect();
            self.procs[i].spec.depends_on = deps;
        }
        for i in to_start {
            if !self.to_spawn.contains(&i) {
                self.to_spawn.push_back(i);
            }
        }
        self.em.publish(&Event::DaemonReloaded {
            changed: &diff.changed,
            added: &diff.added,
            removed: &diff.removed,
            restart_needed: &diff.restart_needed,
            reconfigured: &diff.reconfigured,
            refused: &diff.refused,
        });
        Ok(diff)
    }

    /// A `[plugin.NAME]` table whose settings changed while the plugin
    /// stays on (`enabled` true before and after) is applied now: the
    /// plugin is configured afresh (`PluginHost::reconfigure`); one that is
    /// not loaded and callable, or switched on or off, waits for a new start.
    fn reconfigure_plugins(&mut self, new: &Config, said: &[(String, String)], diff: &mut ReloadDiff) {
        let Some(host) = self.host.as_mut() else { return };
        let mut i = 0;
        while i < diff.restart_needed.len() {
            let key = diff.restart_needed[i].clone();
            let name = key.strip_prefix("[plugin.").and_then(|k| k.strip_suffix(']')).unwrap_or("");
            let was_on = self.start_only.iter().any(|(k, v)| *k == key && v.starts_with("true "));
            let Some(table) = new.plugins.table(name).filter(|t| t.enabled && was_on) else {
                i += 1;
                continue;
            };
            match host.reconfigure(name, &table.settings) {
                Ok(None) => {
                    i += 1;
                    continue;
                }
                Ok(Some(plugin)) => {
                    diff.reconfigured.push(plugin);
                    // what runs now is what a later reload compares with
                    if let (Some(old), Some(now)) =
                        (self.start_only.iter_mut().find(|(k, _)| *k == key), said.iter().find(|(k, _)| *k == key))
                    {
                        old.1.clone_from(&now.1);
                    }
                }
                Err(reason) => diff.refused.push(format!("{key}: {reason}; the old settings stay")),
            }
            diff.restart_needed.remove(i);
        }
        // what a plugin wrote on the way (a refusal often says why there)
        self.after_plugins();
    }
}
