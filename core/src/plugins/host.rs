//! The plugin host's state and set-up: one `Engine` and `Linker`, one
//! `Store` per plugin (a [`Slot`]), loading and (re-)instantiating a plugin.
//! The calls into plugins and what is done with their answers are in
//! `calls.rs`. No mio and no fds here.

use wasmtime::component::Linker;
use wasmtime::{Engine, Store};

use super::batch::empty_batch;
use super::calls::{log_stderr, reason};
use super::engine;
use super::link;
use super::load::Loading;
use super::sandbox::State;
use super::{
    Batch, Budgets, Info, MAX_BATCH_BYTES, MAX_BATCH_LINES, Notice, Pipe, PluginUsage, ProcessStart, bindings,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Active,
    /// Loaded while processes ran: given the lines it missed (from the
    /// rings, by the reactor) before it sees new ones.
    CatchingUp,
    /// Failed; re-instantiated at the next call after this time.
    Backoff {
        until_ms: i64,
    },
    Disabled,
}

pub(super) struct Slot {
    /// The name it declares.
    pub(super) name: String,
    /// `builtin:NAME` or its file.
    pub(super) source: String,
    /// Its place in the load order (slots are kept in it).
    pub(super) rank: usize,
    pub(super) pre: bindings::PluginPre<State>,
    pub(super) live: Option<(Store<State>, bindings::Plugin)>,
    pub(super) info: Info,
    pub(super) settings: Vec<(String, String)>,
    pub(super) status: Status,
    pub(super) failures: u32,
    /// When its recent failures happened (ms), at most MAX_FAILURES.
    pub(super) failed_at: std::collections::VecDeque<i64>,
    /// Calls made and time spent in them.
    pub(super) calls: u64,
    pub(super) busy: std::time::Duration,
    /// Process ids (by index) it wants; empty = all.
    pub(super) want_procs: Vec<u32>,
    pub(super) want_stdout: bool,
    pub(super) want_stderr: bool,
    pub(super) tick_at_ms: Option<i64>,
    /// Highest seq this plugin has been given.
    pub(super) max_seq: u64,
}

/// The loaded plugins and the batch being filled.
pub struct PluginHost {
    pub(super) engine: Engine,
    pub(super) linker: Linker<State>,
    pub(super) rt: tokio::runtime::Runtime,
    /// When the plugin call under way began.
    pub(super) call_started: std::time::Instant,
    pub(super) slots: Vec<Slot>,
    pub(super) budgets: Budgets,
    /// Lines of the current turn, filled by the reactor.
    pub batch: Batch,
    pub(super) sub: Batch,
    pub(super) notices: Vec<Notice>,
    pub(super) process_names: Vec<String>,
    /// Processes started (and not ended): replayed to a re-instantiated
    /// plugin, with the command line of their current run.
    pub(super) running: Vec<bool>,
    pub(super) commands: Vec<String>,
    /// Settings, cache, plugins waiting for their compile.
    pub(super) loading: Loading,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").field("plugins", &self.slots.len()).finish()
    }
}

/// Fatal host set-up failure (the engine itself).
#[derive(Debug, thiserror::Error)]
#[error("cannot start the WebAssembly engine: {0}")]
pub struct HostError(String);

impl PluginHost {
    /// A host with no plugins yet. `process_names` are indexed by the
    /// process ids the reactor will use.
    pub fn new(budgets: Budgets, process_names: Vec<String>) -> Result<PluginHost, HostError> {
        let engine = engine::engine().map_err(|e| HostError(format!("{e:#}")))?;
        let linker = link::linker(&engine).map_err(|e| HostError(format!("{e:#}")))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| HostError(format!("tokio runtime: {e}")))?;
        Ok(PluginHost {
            engine,
            linker,
            rt,
            call_started: std::time::Instant::now(),
            slots: Vec::new(),
            budgets,
            batch: empty_batch(),
            sub: empty_batch(),
            notices: Vec::new(),
            running: vec![false; process_names.len()],
            commands: vec![String::new(); process_names.len()],
            process_names,
            loading: Loading::default(),
        })
    }

    /// A process added to the session (`brum reload`): its id is the next
    /// index.
    pub fn add_process(&mut self, name: &str) {
        self.process_names.push(name.to_string());
        self.running.push(false);
        self.commands.push(String::new());
    }

    /// Number of plugins loaded (active or not).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Name of plugin `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.slots[i].name
    }

    /// What each plugin has cost so far, for `brum ps` (those still
    /// compiling last).
    pub fn usage(&self) -> Vec<PluginUsage<'_>> {
        let loaded = self.slots.iter().map(|s| PluginUsage {
            name: &s.name,
            state: match s.status {
                Status::Active => "active",
                Status::CatchingUp => "catching up",
                Status::Backoff { .. } => "restarting",
                Status::Disabled => "disabled",
            },
            calls: s.calls,
            busy_ms: s.busy.as_secs_f64() * 1000.0,
            failures: s.failures,
        });
        let compiling = self.pending().iter().map(|p| PluginUsage {
            name: &p.name,
            state: "compiling",
            calls: 0,
            busy_ms: 0.0,
            failures: 0,
        });
        loaded.chain(compiling).collect()
    }

    /// Whether it has plugins, will have once they are compiled, or has
    /// something to say about plugins it refused.
    pub fn has_plugins(&self) -> bool {
        !self.slots.is_empty() || !self.pending().is_empty() || !self.notices.is_empty()
    }

    /// Takes the notices produced since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// A fresh store and instance for `slot`: describe, configure, and
    /// replay the processes it should know about. What the plugin wrote to
    /// stderr on the way is logged even when this fails (a rejected
    /// `configure` often says why there).
    pub(super) fn instantiate(&mut self, slot: &mut Slot) -> Result<(), String> {
        let _rt = self.rt.enter();
        let mut store = Store::new(&self.engine, State::new(self.budgets.memory));
        store.limiter(|s| &mut s.limits);
        let mut name = slot.name.clone();
        match self.start(slot, &mut store, &mut name) {
            Ok(inst) => {
                slot.live = Some((store, inst));
                Ok(())
            }
            Err(e) => {
                log_stderr(&store.data().stderr, &name, &mut self.notices);
                Err(e)
            }
        }
    }

    /// New settings for the plugin that `[plugin.TABLE]` configures (by its
    /// declared name or its file's name), from `brum reload`: a fresh
    /// instance configured with them takes the running one's place — its
    /// state goes with it, as after a restart, and it learns the running
    /// processes again. If the plugin refuses them, the running instance
    /// stays, with the old settings, and the reason is returned. `Ok(None)`:
    /// no plugin of that table is loaded and callable (compiling, catching
    /// up, disabled); else the plugin's name.
    pub fn reconfigure(&mut self, table: &str, settings: &[(String, String)]) -> Result<Option<String>, String> {
        let stem = |s: &Slot| std::path::Path::new(&s.source).file_stem().is_some_and(|f| f == table);
        let Some(i) = self.slots.iter().position(|s| s.name == table || (s.source.ends_with(".wasm") && stem(s)))
        else {
            return Ok(None);
        };
        if matches!(self.slots[i].status, Status::Disabled | Status::CatchingUp) {
            return Ok(None);
        }
        let mut slot = self.slots.remove(i);
        let old = (
            std::mem::replace(&mut slot.settings, settings.to_vec()),
            slot.live.take(),
            slot.name.clone(),
            slot.info.clone(),
            slot.want_procs.clone(),
            (slot.want_stdout, slot.want_stderr),
        );
        let result = self.instantiate(&mut slot);
        match &result {
            Ok(()) => {
                slot.status = Status::Active;
                slot.tick_at_ms = None;
            }
            Err(_) => {
                (slot.settings, slot.live, slot.name, slot.info, slot.want_procs) = (old.0, old.1, old.2, old.3, old.4);
                (slot.want_stdout, slot.want_stderr) = old.5;
            }
        }
        let name = slot.name.clone();
        self.slots.insert(i, slot);
        result.map(|()| Some(name))
    }

    /// `instantiate`'s calls; `name` becomes the described name.
    fn start(&self, slot: &mut Slot, store: &mut Store<State>, name: &mut String) -> Result<bindings::Plugin, String> {
        store.set_fuel(self.budgets.fuel).map_err(|e| e.to_string())?;
        let inst = slot.pre.instantiate(&mut *store).map_err(|e| format!("cannot be instantiated: {}", reason(&e)))?;
        store.set_fuel(self.budgets.fuel).map_err(|e| e.to_string())?;
        let info = inst.call_describe(&mut *store).map_err(|e| format!("describe failed: {}", reason(&e)))?;
        if info.name.is_empty() || info.name.len() > 64 {
            return Err("describe returned an empty or over-long name".into());
        }
        name.clone_from(&info.name);
        store.set_fuel(self.budgets.fuel).map_err(|e| e.to_string())?;
        match inst.call_configure(&mut *store, &slot.settings) {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => return Err(format!("rejected its settings: {msg}")),
            Err(e) => return Err(format!("configure failed: {}", reason(&e))),
        }
        slot.name = info.name.clone();
        slot.want_stdout = info.pipes.is_empty() || info.pipes.contains(&Pipe::Stdout);
        slot.want_stderr = info.pipes.is_empty() || info.pipes.contains(&Pipe::Stderr);
        slot.want_procs = info
            .processes
            .iter()
            .filter_map(|n| self.process_names.iter().position(|p| p == n).map(|i| i as u32))
            .collect();
        slot.info = info;
        // A re-instantiated plugin learns the processes again.
        for (i, name) in self.process_names.iter().enumerate() {
            let wanted = slot.want_procs.is_empty() || slot.want_procs.contains(&(i as u32));
            if !wanted || !self.running.get(i).copied().unwrap_or(false) {
                continue;
            }
            let command = self.commands.get(i).cloned().unwrap_or_default();
            let ps = ProcessStart { process: i as u32, name: name.clone(), command };
            store.set_fuel(self.budgets.fuel).map_err(|e| e.to_string())?;
            if let Err(e) = inst.call_process_started(&mut *store, &ps) {
                return Err(format!("process-started failed: {}", reason(&e)));
            }
        }
        Ok(inst)
    }

    /// True when the batch should be handed over now.
    pub fn batch_full(&self) -> bool {
        self.batch.len() >= MAX_BATCH_LINES || self.batch.data.len() >= MAX_BATCH_BYTES
    }

    /// Appends one line to the current batch.
    #[inline]
    pub fn push_line(&mut self, process: u32, pipe: Pipe, seq: u64, ts_ms: i64, truncated: bool, bytes: &[u8]) {
        self.batch.push(process, pipe, seq, ts_ms, truncated, bytes);
    }

    /// Empties the batch (keeping its buffers).
    pub fn clear_batch(&mut self) {
        self.batch.clear();
    }
}
