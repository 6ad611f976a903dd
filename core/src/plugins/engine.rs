//! The wasmtime engine brum uses, and checking components: before anything
//! is compiled, the component's own sections are read (milliseconds even for
//! an 18 MB component) to check that it is a component of the brum plugin
//! world importing only what the sandbox offers; then [`compile`] (seconds
//! for a large one: brum does it in a child process, see `reactor/compiles`).
//! The compiled code is cached by `cache.rs`.

use std::path::PathBuf;

use wasmparser::{
    BinaryReader, ComponentExportSectionReader, ComponentExternalKind, ComponentImportSectionReader, ComponentTypeRef,
};
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
        // The whole 32-bit space reserved (address space only, never
        // memory: a plugin's memory stays capped by its budget) plus a
        // guard: then a plugin's loads and stores need no bounds check of
        // their own, the guard pages catch what is out of bounds. With a
        // 64 MiB reservation every access was checked: the built-in
        // plugins took 49-58 (errors) and 11-16 (urls) ns a line on the
        // plugin bench, 41-43 and 9-11 with this.
        .memory_reservation(4 << 30)
        .memory_guard_size(32 << 20)
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

/// The functions the `plugin` world exports (wit/plugin.wit).
const WORLD_EXPORTS: [&str; 6] = ["describe", "configure", "process-started", "process-ended", "lines", "tick"];

/// What a component's own sections say, read without compiling it.
#[derive(Debug, Clone, Default)]
pub struct Outline {
    pub imports: Vec<String>,
    /// Functions it exports.
    pub exports: Vec<String>,
}

/// Reads the imports and exports of a component from its top-level
/// sections (nested modules and components are skipped, not parsed), and
/// checks them: a component (not a core module), importing only what the
/// sandbox offers, exporting the world's functions. Cheap: no compiling.
pub fn precheck(what: &str, wasm: &[u8]) -> Result<Outline, LoadError> {
    if !has_component_header(wasm) {
        if wasm.starts_with(b"\0asm") {
            return Err(LoadError::NotComponent(what.to_string()));
        }
        return Err(LoadError::Invalid(what.to_string(), "missing the \\0asm header".into()));
    }
    let outline = outline(wasm).map_err(|e| LoadError::Invalid(what.to_string(), e))?;
    check_imports(what, outline.imports.iter().map(String::as_str))?;
    let missing: Vec<&str> = WORLD_EXPORTS.into_iter().filter(|f| !outline.exports.iter().any(|e| e == f)).collect();
    if !missing.is_empty() {
        let detail = format!(
            "it does not export {} (a brum plugin exports the functions {})",
            missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
            WORLD_EXPORTS.join(", ")
        );
        return Err(LoadError::WrongWorld { what: what.to_string(), detail });
    }
    Ok(outline)
}

/// Walks the top-level sections (id, LEB128 size, contents) after the
/// 8-byte header, reading the import (10) and export (11) sections.
fn outline(wasm: &[u8]) -> Result<Outline, String> {
    let mut out = Outline::default();
    let mut at = 8;
    while at < wasm.len() {
        let id = wasm[at];
        let mut r = BinaryReader::new(&wasm[at + 1..], at + 1);
        let size = r.read_var_u32().map_err(|e| format!("section at byte {at}: {e}"))? as usize;
        let start = at + 1 + r.current_position();
        let end = start.checked_add(size).filter(|&e| e <= wasm.len()).ok_or_else(|| {
            format!("section at byte {at} is {size} bytes long, past the end of the file ({} bytes)", wasm.len())
        })?;
        let body = BinaryReader::new(&wasm[start..end], start);
        match id {
            10 => {
                let section = ComponentImportSectionReader::new(body).map_err(|e| e.to_string())?;
                for import in section {
                    let import = import.map_err(|e| e.to_string())?;
                    // types a world `use`s are imported by name (`info`): not capabilities
                    if !matches!(import.ty, ComponentTypeRef::Type(_)) {
                        out.imports.push(import.name.name.to_string());
                    }
                }
            }
            11 => {
                let section = ComponentExportSectionReader::new(body).map_err(|e| e.to_string())?;
                for export in section {
                    let export = export.map_err(|e| e.to_string())?;
                    if export.kind == ComponentExternalKind::Func {
                        out.exports.push(export.name.name.to_string());
                    }
                }
            }
            _ => {}
        }
        at = end;
    }
    Ok(out)
}

/// Compiles a component (which [`precheck`] accepted). Seconds for a large
/// one in an optimized build, several times that in a debug build.
pub fn compile(engine: &Engine, what: &str, wasm: &[u8]) -> Result<Component, LoadError> {
    let component = Component::new(engine, wasm).map_err(|e| LoadError::Invalid(what.to_string(), format!("{e:#}")))?;
    let imports: Vec<String> = component.component_type().imports(engine).map(|(n, _)| n.to_string()).collect();
    check_imports(what, imports.iter().map(String::as_str))?;
    Ok(component)
}

/// Reads the 8-byte header only (no parsing): a component starts with the wasm magic and a layer field of 1 (version
/// 0x0d 0x00 0x01 0x00); a core module has layer 0.
fn has_component_header(wasm: &[u8]) -> bool {
    wasm.len() >= 8 && &wasm[..4] == b"\0asm" && wasm[6..8] == [1, 0]
}

/// Checks import names against what the sandbox links (`link.rs`).
fn check_imports<'a>(what: &str, names: impl IntoIterator<Item = &'a str>) -> Result<(), LoadError> {
    super::link::check_imports(what, names)
}

/// `a`, `b` and `c`
fn quoted(names: &[String]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match q.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => q.concat(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(Path::new(crate::plugins::fixture_wasm_dir()).join(format!("{name}.wasm"))).expect("fixture")
    }

    #[test]
    fn the_outline_of_a_plugin_names_its_imports_and_the_world_functions() {
        let o = precheck("misbehave.wasm", &fixture("misbehave")).expect("a plugin");
        for f in WORLD_EXPORTS {
            assert!(o.exports.iter().any(|e| e == f), "{f} in {:?}", o.exports);
        }
        assert!(o.imports.iter().any(|i| i.starts_with("brum:plugin/types@0.2.")), "{:?}", o.imports);
        assert!(o.imports.iter().any(|i| i.starts_with("wasi:cli/")), "{:?}", o.imports);
    }

    #[test]
    fn refusals_before_compiling_name_the_file_and_the_reason() {
        let msg = |wasm: &[u8]| precheck("x.wasm", wasm).expect_err("refused").to_string();
        let intruder = msg(&fixture("intruder"));
        assert!(intruder.contains("imports `fixture:intruder/shell` and `fixture:intruder/keychain`"), "{intruder}");
        // files and sockets are linked (refused at run time), so this passes
        assert!(precheck("snoop.wasm", &fixture("snoop")).is_ok());
        assert!(msg(&fixture("oldabi")).contains("brum:plugin/types@0.1.0"));
        assert!(msg(b"\0asm\x01\0\0\0").contains("not a WebAssembly component"));
        assert!(msg(b"junk").contains("not valid WebAssembly"));
        // a section that claims more bytes than the file has
        assert!(msg(b"\0asm\x0d\0\x01\0\x0a\xff\x01").contains("past the end of the file"));
        // a component exporting nothing of the world
        let empty = b"\0asm\x0d\0\x01\0";
        let m = msg(empty);
        assert!(m.contains("does not implement the brum:plugin@0.2.0 world") && m.contains("`describe`"), "{m}");
    }
}
