//! The built-in plugins, compiled from `plugins/` by `build.rs` and
//! embedded in the binary.

/// A plugin shipped inside brum.
#[derive(Debug)]
pub struct Builtin {
    pub name: &'static str,
    pub wasm: &'static [u8],
    /// Loaded without a `[plugin.NAME]` table (the filter needs rules).
    pub default_on: bool,
}

pub static BUILTINS: [Builtin; 3] = [
    Builtin {
        name: "errors",
        wasm: include_bytes!(concat!(env!("BRUM_PLUGIN_WASM_DIR"), "/errors.wasm")),
        default_on: true,
    },
    Builtin {
        name: "urls",
        wasm: include_bytes!(concat!(env!("BRUM_PLUGIN_WASM_DIR"), "/urls.wasm")),
        default_on: true,
    },
    Builtin {
        name: "filter",
        wasm: include_bytes!(concat!(env!("BRUM_PLUGIN_WASM_DIR"), "/filter.wasm")),
        default_on: false,
    },
];

/// Where build.rs left the compiled plugins, test fixtures included.
pub fn fixture_wasm_dir() -> &'static str {
    env!("BRUM_PLUGIN_WASM_DIR")
}
