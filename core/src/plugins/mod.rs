//! The plugin host: runs WebAssembly components that implement the
//! `brum:plugin` world (`wit/`) in a sandbox, feeds them batches of lines,
//! and turns their answers into findings and line verdicts.
//!
//! No mio and no fds here: the reactor fills [`PluginHost::batch`] while it
//! reads, then calls [`PluginHost::run_batch`] once per turn. One `Engine`
//! and `Linker` for all plugins, one `Store` per plugin, fuel per call and a
//! memory cap per store. A plugin that traps, runs out of fuel or memory, or
//! returns a malformed answer is reported, re-instantiated from its
//! pre-instantiated component after a backoff, and disabled after repeated
//! failures; no failure of a plugin ever stops the session.
//!
//! Threads: wasmtime is built without parallel compilation, and
//! wasmtime-wasi's synchronous shims find brum's current-thread tokio runtime
//! (entered around every call), so no thread is ever started; a test checks.

mod builtin;
mod engine;
mod sandbox;

use std::path::{Path, PathBuf};

use wasmtime::component::Linker;
use wasmtime::{Engine, Store, Trap};

pub use builtin::{BUILTINS, Builtin, fixture_wasm_dir};
pub use engine::{LoadError, cache_dir};
use sandbox::State;

mod bindings {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit",
    });
}

pub use bindings::brum::plugin::types::{
    Batch, Finding, Info, Kind, LineVerdict, Output, Pipe, ProcessEnd, ProcessStart, Severity, Verdict,
};

/// Bit of `Batch::flags`: the line came from stderr.
pub const FLAG_STDERR: u8 = 1;
/// Bit of `Batch::flags`: the line was cut at the maximum length.
pub const FLAG_TRUNCATED: u8 = 2;

/// One line of a [`Batch`], read back from its columns.
#[derive(Debug, Clone, Copy)]
pub struct BatchLine<'a> {
    pub process: u32,
    pub pipe: Pipe,
    pub seq: u64,
    pub ts_ms: i64,
    pub truncated: bool,
    pub bytes: &'a [u8],
}

impl Batch {
    fn with_capacity(lines: usize, bytes: usize) -> Batch {
        Batch {
            data: Vec::with_capacity(bytes),
            process: Vec::with_capacity(lines),
            seq: Vec::with_capacity(lines),
            ts_ms: Vec::with_capacity(lines),
            start: Vec::with_capacity(lines),
            len: Vec::with_capacity(lines),
            flags: Vec::with_capacity(lines),
            now_ms: 0,
        }
    }

    /// Lines in the batch.
    pub fn len(&self) -> usize {
        self.seq.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seq.is_empty()
    }

    /// Line `i` (which must be below [`Batch::len`]).
    #[inline]
    pub fn line(&self, i: usize) -> BatchLine<'_> {
        let start = self.start[i] as usize;
        let flags = self.flags[i];
        BatchLine {
            process: self.process[i],
            pipe: if flags & FLAG_STDERR != 0 { Pipe::Stderr } else { Pipe::Stdout },
            seq: self.seq[i],
            ts_ms: self.ts_ms[i],
            truncated: flags & FLAG_TRUNCATED != 0,
            bytes: &self.data[start..start + self.len[i] as usize],
        }
    }

    /// Appends one line, its bytes copied to the end of `data`.
    #[inline]
    fn push(&mut self, process: u32, pipe: Pipe, seq: u64, ts_ms: i64, truncated: bool, bytes: &[u8]) {
        self.start.push(self.data.len() as u32);
        self.len.push(bytes.len() as u32);
        self.data.extend_from_slice(bytes);
        self.process.push(process);
        self.seq.push(seq);
        self.ts_ms.push(ts_ms);
        self.flags.push(
            if matches!(pipe, Pipe::Stderr) { FLAG_STDERR } else { 0 } | if truncated { FLAG_TRUNCATED } else { 0 },
        );
    }

    /// Empties every column, keeping the buffers.
    fn clear(&mut self) {
        self.data.clear();
        self.process.clear();
        self.seq.clear();
        self.ts_ms.clear();
        self.start.clear();
        self.len.clear();
        self.flags.clear();
    }
}

/// Default CPU budget of one call, in fuel units (about one per wasm
/// instruction): generous for a batch of thousands of lines, and a runaway
/// loop ends within a second or so.
pub const DEFAULT_FUEL: u64 = 2_000_000_000;
/// Default memory cap per plugin.
pub const DEFAULT_MEMORY: usize = 32 << 20;
/// Lines per batch before the reactor hands it to the plugins.
pub const MAX_BATCH_LINES: usize = 4096;
/// Bytes per batch before the reactor hands it to the plugins.
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// A call returning more findings than this is malformed.
const MAX_FINDINGS_PER_CALL: usize = 10_000;
/// Strings in a finding longer than this are malformed.
const MAX_STRING: usize = 64 * 1024;
/// Failures within [`FAILURE_WINDOW_MS`] after which a plugin is disabled.
/// Successes in between do not wipe the slate: a plugin that fails every
/// other call is still disabled.
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW_MS: i64 = 60_000;

/// Where a plugin comes from.
#[derive(Debug, Clone)]
pub enum Source {
    Builtin(&'static Builtin),
    File(PathBuf),
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::Builtin(b) => format!("builtin:{}", b.name),
            Source::File(p) => p.display().to_string(),
        }
    }
}

/// A plugin to load, with its settings from `[plugin.NAME]`.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    pub source: Source,
    pub settings: Vec<(String, String)>,
}

/// Limits applied to every plugin.
#[derive(Debug, Clone, Copy)]
pub struct Budgets {
    pub fuel: u64,
    pub memory: usize,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets { fuel: DEFAULT_FUEL, memory: DEFAULT_MEMORY }
    }
}

/// What the host has to tell the reactor (turned into events there).
#[derive(Debug)]
pub enum Notice {
    Loaded {
        plugin: String,
        version: String,
        source: String,
        filter: bool,
        cached: bool,
        load_ms: u64,
    },
    /// Could not be loaded or configured at all.
    Rejected {
        plugin: String,
        source: String,
        reason: String,
    },
    Failed {
        plugin: String,
        reason: String,
        failures: u32,
        disabled: bool,
        retry_ms: u64,
    },
    Log {
        plugin: String,
        text: String,
    },
}

/// A finding with the index of the plugin that made it.
#[derive(Debug, Clone)]
pub struct Found {
    pub plugin: usize,
    pub finding: Finding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Active,
    /// Failed; re-instantiated at the next call after this time.
    Backoff {
        until_ms: i64,
    },
    Disabled,
}

struct Slot {
    name: String,
    pre: bindings::PluginPre<State>,
    live: Option<(Store<State>, bindings::Plugin)>,
    info: Info,
    settings: Vec<(String, String)>,
    status: Status,
    failures: u32,
    /// When its recent failures happened (ms), at most MAX_FAILURES.
    failed_at: std::collections::VecDeque<i64>,
    /// Calls made and time spent in them.
    calls: u64,
    busy: std::time::Duration,
    /// Process ids (by index) it wants; empty = all.
    want_procs: Vec<u32>,
    want_stdout: bool,
    want_stderr: bool,
    tick_at_ms: Option<i64>,
    /// Highest seq this plugin has been given.
    max_seq: u64,
}

/// One plugin's cost so far.
#[derive(Debug, Clone, Copy)]
pub struct PluginUsage<'a> {
    pub name: &'a str,
    /// active, restarting or disabled.
    pub state: &'static str,
    pub calls: u64,
    /// Time spent in its calls (the reactor's one thread, so CPU time but
    /// for preemption).
    pub busy_ms: f64,
    /// Failures in the last minute.
    pub failures: u32,
}

/// The loaded plugins and the batch being filled.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<State>,
    rt: tokio::runtime::Runtime,
    /// When the plugin call under way began.
    call_started: std::time::Instant,
    slots: Vec<Slot>,
    budgets: Budgets,
    /// Lines of the current turn, filled by the reactor.
    pub batch: Batch,
    sub: Batch,
    notices: Vec<Notice>,
    process_names: Vec<String>,
    /// Processes started (and not ended): replayed to a re-instantiated
    /// plugin.
    running: Vec<bool>,
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

fn empty_batch() -> Batch {
    Batch::with_capacity(MAX_BATCH_LINES, MAX_BATCH_BYTES + 128 * 1024)
}

impl PluginHost {
    /// A host with no plugins yet. `process_names` are indexed by the
    /// process ids the reactor will use.
    pub fn new(budgets: Budgets, process_names: Vec<String>) -> Result<PluginHost, HostError> {
        let engine = engine::engine().map_err(|e| HostError(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| HostError(format!("{e:#}")))?;
        sandbox::deny_waiting(&mut linker).map_err(|e| HostError(format!("{e:#}")))?;
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
            process_names,
        })
    }

    /// A process added to the session (`brum reload`): its id is the next
    /// index.
    pub fn add_process(&mut self, name: &str) {
        self.process_names.push(name.to_string());
        self.running.push(false);
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

    /// What each plugin has cost so far, for `brum ps`.
    pub fn usage(&self) -> Vec<PluginUsage<'_>> {
        self.slots
            .iter()
            .map(|s| PluginUsage {
                name: &s.name,
                state: match s.status {
                    Status::Active => "active",
                    Status::Backoff { .. } => "restarting",
                    Status::Disabled => "disabled",
                },
                calls: s.calls,
                busy_ms: s.busy.as_secs_f64() * 1000.0,
                failures: s.failures,
            })
            .collect()
    }

    /// Whether any loaded plugin is a filter (its verdicts decide output).
    pub fn has_filter(&self) -> bool {
        self.slots.iter().any(|s| s.info.filter && s.status != Status::Disabled)
    }

    /// Takes the notices produced since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// Loads, instantiates, describes and configures one plugin. Problems
    /// become a `Rejected` notice and the error is returned.
    pub fn load(&mut self, spec: &PluginSpec, cache: Option<&Path>) -> Result<(), String> {
        let source = spec.source.describe();
        let reject = |this: &mut Self, plugin: String, reason: String| {
            this.notices.push(Notice::Rejected { plugin, source: source.clone(), reason: reason.clone() });
            Err(reason)
        };
        let fallback_name = match &spec.source {
            Source::Builtin(b) => b.name.to_string(),
            Source::File(p) => p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        let bytes: std::borrow::Cow<'_, [u8]> = match &spec.source {
            Source::Builtin(b) => b.wasm.into(),
            Source::File(p) => match std::fs::read(p) {
                Ok(b) => b.into(),
                Err(e) => {
                    return reject(self, fallback_name, format!("cannot read {}: {e}", p.display()));
                }
            },
        };
        let loaded = match engine::load(&self.engine, &source, &bytes, cache) {
            Ok(l) => l,
            Err(e) => return reject(self, fallback_name, e.to_string()),
        };
        let pre = match self.linker.instantiate_pre(&loaded.component) {
            Ok(p) => p,
            Err(e) => {
                return reject(self, fallback_name, format!("{source}: cannot be linked: {e:#}"));
            }
        };
        let pre = match bindings::PluginPre::new(pre) {
            Ok(p) => p,
            Err(e) => {
                let detail = format!("{e:#}");
                return reject(self, fallback_name, LoadError::WrongWorld { what: source.clone(), detail }.to_string());
            }
        };
        let mut slot = Slot {
            name: fallback_name.clone(),
            pre,
            live: None,
            info: Info {
                name: fallback_name.clone(),
                version: String::new(),
                description: String::new(),
                pipes: Vec::new(),
                processes: Vec::new(),
                filter: false,
            },
            settings: spec.settings.clone(),
            status: Status::Active,
            failures: 0,
            failed_at: std::collections::VecDeque::new(),
            calls: 0,
            busy: std::time::Duration::ZERO,
            want_procs: Vec::new(),
            want_stdout: true,
            want_stderr: true,
            tick_at_ms: None,
            max_seq: 0,
        };
        if let Err(reason) = self.instantiate(&mut slot) {
            return reject(self, fallback_name, reason);
        }
        let info = slot.info.clone();
        self.notices.push(Notice::Loaded {
            plugin: slot.name.clone(),
            version: info.version.clone(),
            source: source.clone(),
            filter: info.filter,
            cached: loaded.cached,
            load_ms: loaded.compile_ms,
        });
        self.slots.push(slot);
        Ok(())
    }

    /// A fresh store and instance for `slot`: describe, configure, and
    /// replay the processes it should know about.
    fn instantiate(&mut self, slot: &mut Slot) -> Result<(), String> {
        let _rt = self.rt.enter();
        let mut store = Store::new(&self.engine, State::new(self.budgets.memory));
        store.limiter(|s| &mut s.limits);
        store.set_fuel(self.budgets.fuel).map_err(|e| e.to_string())?;
        let inst = slot.pre.instantiate(&mut store).map_err(|e| format!("cannot be instantiated: {}", reason(&e)))?;
        store.set_fuel(self.budgets.fuel).map_err(|e| e.to_string())?;
        let info = inst.call_describe(&mut store).map_err(|e| format!("describe failed: {}", reason(&e)))?;
        if info.name.is_empty() || info.name.len() > 64 {
            return Err("describe returned an empty or over-long name".into());
        }
        store.set_fuel(self.budgets.fuel).map_err(|e| e.to_string())?;
        match inst.call_configure(&mut store, &slot.settings) {
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
            let ps = ProcessStart { process: i as u32, name: name.clone(), command: String::new() };
            store.set_fuel(self.budgets.fuel).map_err(|e| e.to_string())?;
            if let Err(e) = inst.call_process_started(&mut store, &ps) {
                return Err(format!("process-started failed: {}", reason(&e)));
            }
        }
        slot.live = Some((store, inst));
        Ok(())
    }

    /// Whether the plugin in `slot` asked for line `j` of `batch` (read
    /// from the process and flags columns only).
    fn wants(slot: &Slot, batch: &Batch, j: usize) -> bool {
        let process = batch.process[j];
        (if batch.flags[j] & FLAG_STDERR != 0 { slot.want_stderr } else { slot.want_stdout })
            && (slot.want_procs.is_empty() || slot.want_procs.contains(&process))
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

    /// Hands the current batch to every active plugin. Findings are
    /// appended to `found`; verdicts (first non-keep verdict per line, in
    /// plugin order) to `verdicts`, sorted by seq. The batch is left in
    /// place for the caller to emit, then `clear_batch`.
    pub fn run_batch(&mut self, now_ms: i64, found: &mut Vec<Found>, verdicts: &mut Vec<(u64, Verdict)>) {
        let (Some(&first), Some(&last)) = (self.batch.seq.first(), self.batch.seq.last()) else {
            return;
        };
        self.batch.now_ms = now_ms;
        for i in 0..self.slots.len() {
            if !self.ready(i, now_ms) {
                continue;
            }
            let slot = &self.slots[i];
            let all = (0..self.batch.len()).all(|j| Self::wants(slot, &self.batch, j));
            if !all {
                self.sub.clear();
                self.sub.now_ms = now_ms;
                for j in 0..self.batch.len() {
                    if Self::wants(slot, &self.batch, j) {
                        let l = self.batch.line(j);
                        self.sub.push(l.process, l.pipe, l.seq, l.ts_ms, l.truncated, l.bytes);
                    }
                }
                if self.sub.is_empty() {
                    continue;
                }
            }
            let given_last = if all { last } else { self.sub.seq.last().copied().unwrap_or(last) };
            self.slots[i].max_seq = self.slots[i].max_seq.max(given_last);
            let _rt = self.rt.enter();
            let (slots, batch, sub) = (&mut self.slots, &self.batch, &self.sub);
            let slot = &mut slots[i];
            let Some((store, inst)) = slot.live.as_mut() else {
                continue;
            };
            let input = if all { batch } else { sub };
            let _ = store.set_fuel(self.budgets.fuel);
            self.call_started = std::time::Instant::now();
            let result = inst.call_lines(&mut *store, input);
            self.finish_call(i, now_ms, result, Some((first, last)), found, Some(verdicts));
        }
        verdicts.sort_by_key(|v| v.0);
        verdicts.dedup_by_key(|v| v.0);
    }

    /// Empties the batch (keeping its buffers).
    pub fn clear_batch(&mut self) {
        self.batch.clear();
    }

    /// Tells every plugin that process `id` started.
    pub fn process_started(&mut self, id: u32, name: &str, command: &str, now_ms: i64, found: &mut Vec<Found>) {
        if let Some(r) = self.running.get_mut(id as usize) {
            *r = true;
        }
        let ps = ProcessStart { process: id, name: name.to_string(), command: command.to_string() };
        self.call_wanting(id, now_ms, found, |inst, store| inst.call_process_started(store, &ps));
    }

    /// Calls every ready plugin that wants process `id` with `call`.
    fn call_wanting(
        &mut self,
        id: u32,
        now_ms: i64,
        found: &mut Vec<Found>,
        call: impl Fn(&bindings::Plugin, &mut Store<State>) -> wasmtime::Result<Output>,
    ) {
        for i in 0..self.slots.len() {
            if !self.ready(i, now_ms) {
                continue;
            }
            let slot = &mut self.slots[i];
            if !slot.want_procs.is_empty() && !slot.want_procs.contains(&id) {
                continue;
            }
            let _rt = self.rt.enter();
            let Some((store, inst)) = slot.live.as_mut() else {
                continue;
            };
            let _ = store.set_fuel(self.budgets.fuel);
            self.call_started = std::time::Instant::now();
            let result = call(inst, store);
            self.finish_call(i, now_ms, result, None, found, None);
        }
    }

    /// Tells every plugin that process `id` ended, so it flushes.
    pub fn process_ended(
        &mut self,
        id: u32,
        code: Option<i32>,
        signal: Option<i32>,
        now_ms: i64,
        found: &mut Vec<Found>,
    ) {
        match self.running.get_mut(id as usize) {
            Some(r) if *r => *r = false,
            _ => return, // never started: nothing to flush
        }
        let pe = ProcessEnd { process: id, code, signal, now_ms };
        self.call_wanting(id, now_ms, found, |inst, store| inst.call_process_ended(store, pe));
    }

    /// The earliest time a plugin asked to be ticked at.
    pub fn next_tick(&self) -> Option<i64> {
        self.slots.iter().filter(|s| s.status == Status::Active).filter_map(|s| s.tick_at_ms).min()
    }

    /// Ticks every plugin whose quiet period has passed.
    pub fn tick(&mut self, now_ms: i64, found: &mut Vec<Found>) {
        for i in 0..self.slots.len() {
            let due = self.slots[i].tick_at_ms.is_some_and(|t| t <= now_ms);
            if !due || !self.ready(i, now_ms) {
                continue;
            }
            self.slots[i].tick_at_ms = None;
            let _rt = self.rt.enter();
            let slot = &mut self.slots[i];
            let Some((store, inst)) = slot.live.as_mut() else {
                continue;
            };
            let _ = store.set_fuel(self.budgets.fuel);
            self.call_started = std::time::Instant::now();
            let result = inst.call_tick(&mut *store, now_ms);
            self.finish_call(i, now_ms, result, None, found, None);
        }
    }

    /// Whether plugin `i` can be called now, re-instantiating it after its
    /// backoff.
    fn ready(&mut self, i: usize, now_ms: i64) -> bool {
        match self.slots[i].status {
            Status::Active => self.slots[i].live.is_some(),
            Status::Disabled => false,
            Status::Backoff { until_ms } if now_ms < until_ms => false,
            Status::Backoff { .. } => {
                let mut slot = self.slots.remove(i);
                let result = self.instantiate(&mut slot);
                self.slots.insert(i, slot);
                match result {
                    Ok(()) => {
                        self.slots[i].status = Status::Active;
                        true
                    }
                    Err(reason) => {
                        self.fail(i, now_ms, format!("restart failed: {reason}"));
                        false
                    }
                }
            }
        }
    }

    fn finish_call(
        &mut self,
        i: usize,
        now_ms: i64,
        result: wasmtime::Result<Output>,
        batch_range: Option<(u64, u64)>,
        found: &mut Vec<Found>,
        verdicts: Option<&mut Vec<(u64, Verdict)>>,
    ) {
        let slot = &mut self.slots[i];
        slot.calls += 1;
        slot.busy += self.call_started.elapsed();
        self.drain_stderr(i);
        let out = match result {
            Ok(o) => o,
            Err(e) => {
                let r = reason(&e);
                self.fail(i, now_ms, r);
                return;
            }
        };
        if let Err(why) = self.validate(i, &out, batch_range) {
            self.fail(i, now_ms, format!("malformed result: {why}"));
            return;
        }
        let slot = &mut self.slots[i];
        // at least 20 ms: a plugin asking for 0 must not spin the reactor
        slot.tick_at_ms = out.tick_after_ms.map(|ms| now_ms + i64::from(ms.max(20)));
        if let Some(v) = verdicts
            && slot.info.filter
        {
            v.extend(
                out.verdicts
                    .into_iter()
                    .filter(|lv| !matches!(lv.verdict, Verdict::Keep))
                    .map(|lv| (lv.seq, lv.verdict)),
            );
        }
        found.extend(out.findings.into_iter().map(|finding| Found { plugin: i, finding }));
    }

    fn validate(&self, i: usize, out: &Output, batch_range: Option<(u64, u64)>) -> Result<(), String> {
        let slot = &self.slots[i];
        if out.findings.len() > MAX_FINDINGS_PER_CALL {
            return Err(format!("{} findings in one call (at most {MAX_FINDINGS_PER_CALL})", out.findings.len()));
        }
        for f in &out.findings {
            if f.first_seq > f.last_seq || f.last_seq > slot.max_seq || f.first_seq == 0 {
                return Err(format!(
                    "finding \"{}\" covers seq {}..{}, lines it was never given",
                    truncate(&f.message, 80),
                    f.first_seq,
                    f.last_seq
                ));
            }
            if f.process as usize >= self.process_names.len() {
                return Err(format!("finding names unknown process id {}", f.process));
            }
            let strings = [
                Some(&f.message),
                f.file.as_ref(),
                f.code.as_ref(),
                f.url.as_ref(),
                f.language.as_ref(),
                f.custom_kind.as_ref(),
            ];
            if strings.iter().flatten().any(|s| s.len() > MAX_STRING) || f.fields.len() > 256 {
                return Err("finding with an absurdly long string or too many fields".into());
            }
        }
        if out.verdicts.iter().any(|v| matches!(&v.verdict, Verdict::Tag(t) if t.len() > 256)) {
            return Err("a tag longer than 256 bytes".into());
        }
        if let Some((first, last)) = batch_range {
            if out.verdicts.iter().any(|v| v.seq < first || v.seq > last) {
                return Err("verdict for a line outside the batch".into());
            }
        } else if !out.verdicts.is_empty() {
            return Err("verdicts outside a batch".into());
        }
        Ok(())
    }

    fn fail(&mut self, i: usize, now_ms: i64, reason: String) {
        let slot = &mut self.slots[i];
        slot.live = None;
        slot.tick_at_ms = None;
        while slot.failed_at.front().is_some_and(|&t| now_ms - t >= FAILURE_WINDOW_MS) {
            slot.failed_at.pop_front();
        }
        slot.failed_at.push_back(now_ms);
        slot.failures = slot.failed_at.len() as u32;
        let disabled = slot.failures >= MAX_FAILURES;
        let retry_ms = 100u64 << (slot.failures.min(10) - 1);
        slot.status = if disabled { Status::Disabled } else { Status::Backoff { until_ms: now_ms + retry_ms as i64 } };
        self.notices.push(Notice::Failed {
            plugin: slot.name.clone(),
            reason,
            failures: slot.failures,
            disabled,
            retry_ms: if disabled { 0 } else { retry_ms },
        });
    }

    fn drain_stderr(&mut self, i: usize) {
        let slot = &self.slots[i];
        let Some((store, _)) = slot.live.as_ref() else {
            return;
        };
        let Some((bytes, dropped)) = store.data().stderr.drain() else {
            return;
        };
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines().filter(|l| !l.is_empty()).take(20) {
            self.notices.push(Notice::Log { plugin: slot.name.clone(), text: truncate(line, 1000).to_string() });
        }
        let lines = text.lines().count();
        if lines > 20 || dropped > 0 {
            self.notices.push(Notice::Log {
                plugin: slot.name.clone(),
                text: format!("(stderr rate limit: {} more lines, {dropped} bytes dropped)", lines.saturating_sub(20)),
            });
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A failure described for people: fuel, memory, trap or other.
fn reason(e: &wasmtime::Error) -> String {
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return match trap {
            Trap::OutOfFuel => "CPU budget exhausted (fuel): the call ran too long".to_string(),
            Trap::UnreachableCodeReached => "trap: unreachable code reached (a panic in the plugin)".to_string(),
            Trap::MemoryOutOfBounds => "trap: out-of-bounds memory access".to_string(),
            Trap::StackOverflow => "trap: stack overflow".to_string(),
            other => format!("trap: {other}"),
        };
    }
    let text = format!("{e:#}");
    if text.contains("memory") && (text.contains("grow") || text.contains("limit")) {
        return format!("memory limit exceeded: {}", truncate(&text, 300));
    }
    truncate(&text, 500).to_string()
}

/// Checks one `.wasm` file as `brum plugins check` does: loads, links,
/// instantiates and describes it. Returns its info and its imports.
pub fn check_file(path: &Path) -> Result<(Info, Vec<String>), String> {
    let mut host = PluginHost::new(Budgets::default(), Vec::new()).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let loaded = engine::load(&host.engine, &path.display().to_string(), &bytes, None).map_err(|e| e.to_string())?;
    let imports = engine::imports(&host.engine, &loaded.component);
    let spec = PluginSpec { source: Source::File(path.to_path_buf()), settings: Vec::new() };
    match host.load(&spec, None) {
        Ok(()) => Ok((host.slots[0].info.clone(), imports)),
        Err(e) => Err(e),
    }
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Error => "error",
            Kind::Warning => "warning",
            Kind::Url => "url",
            Kind::Build => "build",
            Kind::Test => "test",
            Kind::Custom => "custom",
        }
    }
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_reads_back_its_columns() {
        let mut b = Batch::with_capacity(4, 64);
        b.push(0, Pipe::Stdout, 7, 100, false, b"first");
        b.push(3, Pipe::Stderr, 9, 101, true, b"");
        b.push(1, Pipe::Stdout, 12, 102, false, "é!".as_bytes());
        assert_eq!(b.len(), 3);
        let got: Vec<_> = (0..b.len())
            .map(|i| {
                let l = b.line(i);
                (l.process, l.pipe, l.seq, l.ts_ms, l.truncated, l.bytes.to_vec())
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0, Pipe::Stdout, 7, 100, false, b"first".to_vec()),
                (3, Pipe::Stderr, 9, 101, true, Vec::new()),
                (1, Pipe::Stdout, 12, 102, false, "é!".as_bytes().to_vec()),
            ]
        );
        assert_eq!(b.flags, [0, FLAG_STDERR | FLAG_TRUNCATED, 0]);
        b.clear();
        assert!(b.is_empty() && b.data.is_empty() && b.flags.is_empty());
    }
}
