//! The wasmtime engine brum uses, and loading components: validate that a
//! file is a component of the brum plugin world importing only what the
//! sandbox offers, compile it once, and cache the compiled artifact on disk
//! (keyed by the wasm's hash and the engine's compatibility hash) so a warm
//! start only deserializes.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::{Config, Engine, OptLevel};

/// The engine: one per process. Fuel for CPU budgets; no concurrency
/// support (brum makes synchronous calls only, and turning it off makes a
/// component call about three times cheaper); compilation on this thread.
pub fn engine() -> wasmtime::Result<Engine> {
    let mut c = Config::new();
    c.wasm_component_model(true)
        .concurrency_support(false)
        .consume_fuel(true)
        .cranelift_opt_level(OptLevel::Speed)
        // Small reservations: plugins are capped far below 4 GiB anyway,
        // and hundreds of instances should not reserve terabytes.
        .memory_reservation(64 << 20)
        .memory_guard_size(64 << 10)
        .memory_reservation_for_growth(0);
    // For profiling plugins with `perf`: wasm function names in perf's map.
    if std::env::var_os("BRUM_WASM_PERFMAP").is_some() {
        c.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    Engine::new(&c)
}

/// Interfaces a plugin may import: the contract's types and the WASI parts
/// Rust's std needs, linked to a context that grants nothing (see
/// `sandbox`). Anything else — files, sockets, HTTP, an interface brum does
/// not know — is refused when the plugin is loaded.
const ALLOWED_IMPORTS: [&str; 5] = ["brum:plugin/types@0.2.", "wasi:cli/", "wasi:io/", "wasi:clocks/", "wasi:random/"];

/// Why a plugin file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{0} is not a WebAssembly component (a core module? build it for wasm32-wasip2)")]
    NotComponent(String),
    #[error("{0} is not valid WebAssembly: {1}")]
    Invalid(String, String),
    #[error(
        "{what} imports `{import}`, which brum plugins may not use (a plugin may import only wasi:cli, wasi:io, wasi:clocks and wasi:random, which brum links to a context granting nothing; files and sockets are refused)"
    )]
    ForbiddenImport { what: String, import: String },
    #[error(
        "{what} was built for another version of the plugin contract (it imports `{import}`; this brum implements brum:plugin@0.2.0): rebuild it against the current brum-plugin-sdk or wit/plugin.wit"
    )]
    OtherContract { what: String, import: String },
    #[error("{what} does not implement the brum:plugin@0.2.0 world: {detail}")]
    WrongWorld { what: String, detail: String },
}

/// A compiled component and whether it came from the cache.
pub struct Loaded {
    pub component: Component,
    pub cached: bool,
    pub compile_ms: u64,
}

/// Where compiled components are cached: `$BRUM_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/brum`, else `~/.cache/brum`; `None` disables it.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("BRUM_CACHE_DIR") {
        return (!d.is_empty()).then(|| PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("brum"))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    env!("CARGO_PKG_VERSION").hash(&mut h);
    format!("{:016x}-{:016x}-{:x}", fnv1a(wasm), h.finish(), wasm.len())
}

/// Compiles `wasm` (or loads it from the cache) after checking it.
pub fn load(engine: &Engine, what: &str, wasm: &[u8], cache: Option<&Path>) -> Result<Loaded, LoadError> {
    if !has_component_header(wasm) {
        if wasm.starts_with(b"\0asm") {
            return Err(LoadError::NotComponent(what.to_string()));
        }
        return Err(LoadError::Invalid(what.to_string(), "missing the \\0asm header".into()));
    }
    let start = std::time::Instant::now();
    let key = cache_key(engine, wasm);
    let cached_file = cache.map(|d| d.join("components").join(format!("{key}.cwasm")));
    if let Some(file) = &cached_file
        && file.exists()
    {
        // SAFETY: the file is one brum itself wrote into its private cache
        // for this exact wasm and engine configuration (the key covers the
        // wasm's hash and the engine's compatibility hash).
        if let Ok(component) = unsafe { Component::deserialize_file(engine, file) } {
            check_imports(engine, &component, what)?;
            return Ok(Loaded { component, cached: true, compile_ms: start.elapsed().as_millis() as u64 });
        }
    }
    let component = Component::new(engine, wasm).map_err(|e| LoadError::Invalid(what.to_string(), format!("{e:#}")))?;
    check_imports(engine, &component, what)?;
    if let Some(file) = &cached_file
        && let Ok(bytes) = component.serialize()
        && let Some(dir) = file.parent()
        && std::fs::create_dir_all(dir).is_ok()
    {
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, &bytes).is_ok() {
            let _ = std::fs::rename(&tmp, file);
        }
    }
    Ok(Loaded { component, cached: false, compile_ms: start.elapsed().as_millis() as u64 })
}

/// Reads the 8-byte header only (no parsing): a component starts with the wasm magic and a layer field of 1 (version
/// 0x0d 0x00 0x01 0x00); a core module has layer 0.
fn has_component_header(wasm: &[u8]) -> bool {
    wasm.len() >= 8 && &wasm[..4] == b"\0asm" && wasm[6..8] == [1, 0]
}

fn check_imports(engine: &Engine, component: &Component, what: &str) -> Result<(), LoadError> {
    for (name, _) in component.component_type().imports(engine) {
        if !ALLOWED_IMPORTS.iter().any(|p| name.starts_with(p)) {
            if name.starts_with("brum:plugin/") {
                return Err(LoadError::OtherContract { what: what.to_string(), import: name.to_string() });
            }
            return Err(LoadError::ForbiddenImport { what: what.to_string(), import: name.to_string() });
        }
    }
    Ok(())
}

/// The names a component imports (for `brum plugins check`).
pub fn imports(engine: &Engine, component: &Component) -> Vec<String> {
    component.component_type().imports(engine).map(|(n, _)| n.to_string()).collect()
}
