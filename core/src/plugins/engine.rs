//! The wasmtime engine brum uses, and loading components: validate that a
//! file is a component of the brum plugin world importing only what the
//! sandbox offers, compile it once, and cache the compiled artifact on disk
//! so a warm start only deserializes.
//!
//! Deserializing compiled code is `unsafe` (wasmtime runs it as native code
//! and trusts it), so the cache is kept to what brum itself wrote: a 0700
//! folder (tightened if wider, not used if another user owns it), files
//! named by the SHA-256 of the engine's compatibility hash and the wasm
//! bytes, and a file that another user owns or that others may write is
//! compiled again instead of loaded.

use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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
        "{what} imports {}, which brum plugins may not use: a plugin may import brum:plugin/types and WASI 0.2 (cli, io, clocks, random, filesystem, sockets, http types and outgoing-handler), which brum links to a sandbox that grants nothing",
        quoted(imports)
    )]
    ForbiddenImport { what: String, imports: Vec<String> },
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

/// Feeds what `Hash` writes into SHA-256, to hash the engine's
/// compatibility hash (only `impl Hash`) with the wasm bytes.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Never called (`Hash` impls only write); the digest is read instead.
    fn finish(&self) -> u64 {
        0
    }
}

/// The cache file name of `wasm` for `engine`: SHA-256 of the engine's
/// precompile-compatibility hash (wasmtime version, target, settings),
/// brum's version and the wasm, hex encoded.
fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut h = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    env!("CARGO_PKG_VERSION").hash(&mut h);
    (wasm.len() as u64).hash(&mut h);
    h.0.update(wasm);
    h.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The folder compiled components go in, `dir/components`: created 0700,
/// tightened to 0700 if wider; `None` (no cache) if that fails or another
/// user owns it.
fn components_dir(dir: &Path) -> Option<PathBuf> {
    let components = dir.join("components");
    for d in [dir, components.as_path()] {
        crate::files::private_dir(d).ok()?;
        if std::fs::symlink_metadata(d).ok()?.uid() != rustix::process::geteuid().as_raw() {
            return None;
        }
    }
    Some(components)
}

/// The bytes of a cache file, if it may be trusted: a regular file (not a
/// link) owned by this user that no one else may write. Read from the one
/// open descriptor that was checked, so it cannot be swapped in between.
fn read_trusted(file: &Path) -> Option<Vec<u8>> {
    let mut f =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(file).ok()?;
    let meta = f.metadata().ok()?;
    let ours = meta.uid() == rustix::process::geteuid().as_raw();
    if !meta.is_file() || !ours || meta.mode() & 0o022 != 0 {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut bytes).ok()?;
    Some(bytes)
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
    let cached_file = cache.and_then(components_dir).map(|d| d.join(format!("{}.cwasm", cache_key(engine, wasm))));
    if let Some(bytes) = cached_file.as_deref().and_then(read_trusted) {
        // SAFETY: wasmtime runs deserialized code as trusted native code, so
        // the bytes must be what `Component::serialize` produced for this
        // engine. They come from a regular file owned by this user, not
        // writable by others, in a 0700 folder of this user (checked above):
        // only this user — brum itself, below — can have written it. Its name
        // is the SHA-256 of this engine's compatibility hash and these exact
        // wasm bytes, so it is this component's code for this engine; and
        // wasmtime checks the header's engine and version again and refuses
        // a mismatch (then we compile). The bytes are a private copy, so the
        // file changing afterwards cannot affect the loaded code.
        if let Ok(component) = unsafe { Component::deserialize(engine, &bytes) } {
            check_imports(engine, &component, what)?;
            return Ok(Loaded { component, cached: true, compile_ms: start.elapsed().as_millis() as u64 });
        }
    }
    let component = Component::new(engine, wasm).map_err(|e| LoadError::Invalid(what.to_string(), format!("{e:#}")))?;
    check_imports(engine, &component, what)?;
    if let Some(file) = &cached_file
        && let Ok(bytes) = component.serialize()
    {
        // written whole under a private name, then renamed into place, so
        // a concurrent brum never reads half a file
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        let written = crate::files::private_file(&tmp, false)
            .is_ok_and(|mut f| std::io::Write::write_all(&mut f, &bytes).is_ok());
        if !written || std::fs::rename(&tmp, file).is_err() {
            let _ = std::fs::remove_file(&tmp);
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
    super::link::check_imports(what, component.component_type().imports(engine).map(|(name, _)| name))
}

/// `a`, `b` and `c`
fn quoted(names: &[String]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match q.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => q.concat(),
    }
}

/// The names a component imports (for `brum plugins check`).
pub fn imports(engine: &Engine, component: &Component) -> Vec<String> {
    component.component_type().imports(engine).map(|(n, _)| n.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).expect("exists").permissions().mode() & 0o777
    }

    fn fixture() -> Vec<u8> {
        std::fs::read(Path::new(crate::plugins::fixture_wasm_dir()).join("misbehave.wasm")).expect("fixture")
    }

    #[test]
    fn the_key_is_a_sha256_of_the_engine_and_the_exact_bytes() {
        let engine = engine().expect("engine");
        let a = cache_key(&engine, b"\0asm\x0d\0\x01\0one");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, cache_key(&engine, b"\0asm\x0d\0\x01\0one"));
        assert_ne!(a, cache_key(&engine, b"\0asm\x0d\0\x01\0onf"));
    }

    #[test]
    fn the_cache_folder_is_made_private_and_tightened_when_wider() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let fresh = tmp.path().join("new/brum");
        let components = components_dir(&fresh).expect("usable");
        assert_eq!((mode(&fresh), mode(&components)), (0o700, 0o700));
        let wide = tmp.path().join("wide");
        std::fs::create_dir_all(wide.join("components")).expect("mkdir");
        for d in [wide.clone(), wide.join("components")] {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        let components = components_dir(&wide).expect("usable");
        assert_eq!((mode(&wide), mode(&components)), (0o700, 0o700));
    }

    #[test]
    fn a_cache_file_others_may_write_or_a_link_is_not_trusted() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("x.cwasm");
        std::fs::write(&file, b"code").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(read_trusted(&file).as_deref(), Some(&b"code"[..]));
        for wide in [0o620, 0o602, 0o666] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(wide)).expect("chmod");
            assert_eq!(read_trusted(&file), None, "mode {wide:o}");
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let link = tmp.path().join("link.cwasm");
        std::os::unix::fs::symlink(&file, &link).expect("symlink");
        assert_eq!(read_trusted(&link), None);
    }

    #[test]
    #[ignore = "needs root"]
    fn a_cache_file_another_user_owns_is_not_trusted_as_root() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("x.cwasm");
        std::fs::write(&file, b"code").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(read_trusted(&file).is_some());
        std::os::unix::fs::chown(&file, Some(65534), Some(65534)).expect("chown (needs root)");
        assert_eq!(read_trusted(&file), None);
    }

    #[test]
    fn a_tampered_cache_file_is_compiled_again_and_replaced() {
        let engine = engine().expect("engine");
        let tmp = tempfile::tempdir().expect("tempdir");
        let wasm = fixture();
        let first = load(&engine, "misbehave", &wasm, Some(tmp.path())).expect("compiles");
        assert!(!first.cached);
        let file = tmp.path().join("components").join(format!("{}.cwasm", cache_key(&engine, &wasm)));
        assert_eq!(mode(&file), 0o600);
        assert!(load(&engine, "misbehave", &wasm, Some(tmp.path())).expect("loads").cached);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        assert!(!load(&engine, "misbehave", &wasm, Some(tmp.path())).expect("compiles").cached);
        assert_eq!(mode(&file), 0o600, "rewritten privately");
        std::fs::write(&file, b"not code").expect("write");
        assert!(!load(&engine, "misbehave", &wasm, Some(tmp.path())).expect("compiles").cached);
        assert!(load(&engine, "misbehave", &wasm, Some(tmp.path())).expect("loads").cached);
    }
}
