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

use std::path::PathBuf;

mod batch;
mod builtin;
mod cache;
mod calls;
mod catchup;
pub mod discover;
mod engine;
mod host;
mod link;
mod load;
mod sandbox;

pub use batch::{BatchLine, FLAG_STDERR, FLAG_TRUNCATED};
pub use builtin::{BUILTINS, Builtin, fixture_wasm_dir};
pub use cache::{MAX_AGE as CACHE_MAX_AGE, MAX_BYTES as CACHE_MAX_BYTES, cache_dir};
pub use catchup::Life;
pub use engine::LoadError;
pub use engine::precheck;
pub use host::{HostError, PluginHost};
pub use load::{Begun, Pending, Refusal, check_file, file_name};

mod bindings {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit",
    });
}

/// A plugin's answer to one call (the WIT `output` record); kept private so
/// it is not mistaken for [`crate::output::Output`], the stdout writer.
use bindings::brum::plugin::types::Output;
pub use bindings::brum::plugin::types::{
    Batch, Finding, Info, Kind, LineVerdict, Pipe, ProcessEnd, ProcessStart, Severity, Verdict,
};

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

/// Where a plugin's wasm comes from (not to be confused with
/// [`crate::config::Source`], where the configuration comes from).
#[derive(Debug, Clone)]
pub enum Origin {
    Builtin(&'static Builtin),
    File(PathBuf),
}

impl Origin {
    pub fn describe(&self) -> String {
        match self {
            Origin::Builtin(b) => format!("builtin:{}", b.name),
            Origin::File(p) => p.display().to_string(),
        }
    }
}

/// A plugin to load. Its settings come from the `[plugin.NAME]` table of
/// the name it declares (or of its file stem), found when it is loaded.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    pub origin: Origin,
    /// Its place in the load order (built-ins, project folder, plugins_dir,
    /// --plugin): filters' verdicts apply in this order, however long each
    /// took to compile.
    pub rank: usize,
}

impl PluginSpec {
    pub fn new(origin: Origin) -> PluginSpec {
        PluginSpec { origin, rank: 0 }
    }
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

/// One plugin's cost so far.
#[derive(Debug, Clone, Copy)]
pub struct PluginUsage<'a> {
    pub name: &'a str,
    /// compiling, catching up, active, restarting or disabled.
    pub state: &'static str,
    pub calls: u64,
    /// Time spent in its calls (the reactor's one thread, so CPU time but
    /// for preemption).
    pub busy_ms: f64,
    /// Failures in the last minute.
    pub failures: u32,
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
