//! `brum reload`: read brum.toml again and apply what changed — restart only
//! the processes whose definition changed, start the new ones (when they
//! autostart), stop the ones that are gone — and say what it did
//! (`daemon.reloaded`). A file with mistakes changes nothing and the answer
//! lists every mistake.

use std::time::Instant;

use super::{Proc, Reactor, Stats, probes};
use crate::capture::Capture;
use crate::config::{self, ProcessSpec, Source};
use crate::events::Event;
use crate::supervise::child::{Child, ChildState, StopKind};

/// What a reload did.
#[derive(Debug, Default)]
pub(super) struct ReloadDiff {
    pub changed: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
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
        let mut diff = ReloadDiff::default();
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
        let _ = Instant::now();
        self.em.publish(&Event::DaemonReloaded { changed: &diff.changed, added: &diff.added, removed: &diff.removed });
        Ok(diff)
    }
}
