//! The built-in plugins, compiled from `plugins/` by `build.rs` and
//! embedded in the binary.

/// A plugin shipped inside brum.
#[derive(Debug)]
pub struct Builtin {
    pub name: &'static str,
    pub wasm: &'static [u8],
    /// The SHA-256 of `wasm`, computed by build.rs.
    pub digest: &'static [u8; 32],
    /// Loaded without a `[plugin.NAME]` table (the filter needs rules).
    pub default_on: bool,
}

pub static BUILTINS: [Builtin; 3] = [
    Builtin {
        name: "errors",
        wasm: include_bytes!(concat!(env!("BRUM_PLUGIN_WASM_DIR"), "/errors.wasm")),
        digest: include_bytes!(concat!(env!("BRUM_PLUGIN_WASM_DIR"), "/errors.sha256")),
        default_on: true,
    },
    Builtin {
        name: "urls",
        wasm: include_bytes!(concat!(env!("BRUM_PLUGIN_WASM_DIR"), "/urls.wasm")),
        digest: include_bytes!(concat!(env!("BRUM_PLUGIN_WASM_DIR"), "/urls.sha256")),
        default_on: true,
    },
    Builtin {
        name: "filter",
        wasm: include_bytes!(concat!(env!("BRUM_PLUGIN_WASM_DIR"), "/filter.wasm")),
        digest: include_bytes!(concat!(env!("BRUM_PLUGIN_WASM_DIR"), "/filter.sha256")),
        default_on: false,
    },
];

/// Where build.rs left the compiled plugins, test fixtures included.
pub fn fixture_wasm_dir() -> &'static str {
    env!("BRUM_PLUGIN_WASM_DIR")
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    #[test]
    fn each_builtin_digest_is_the_sha256_of_its_wasm() {
        for b in &super::BUILTINS {
            let digest: [u8; 32] = Sha256::digest(b.wasm).into();
            assert_eq!(&digest, b.digest, "{}", b.name);
        }
    }
}
