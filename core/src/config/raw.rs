//! The `brum.toml` file as written: serde types that mirror the file, with
//! spans kept where validation needs to point at a line. Nothing here checks
//! meaning; `super::validate` does.

use indexmap::IndexMap;
use serde::Deserialize;
use toml::{Spanned, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// Longest line emitted in one piece (bytes, or a size like "64KiB").
    pub max_line_bytes: Option<Spanned<Value>>,
    /// Ring store budget per process (bytes, or a size like "8MiB").
    pub ring_bytes: Option<Spanned<Value>>,
    /// Extra folder of `.wasm` plugins (relative to brum.toml).
    pub plugins_dir: Option<Spanned<String>>,
    /// CPU budget per plugin call, in fuel units.
    pub plugin_fuel: Option<Spanned<Value>>,
    /// Memory cap per plugin (bytes, or a size like "32MiB").
    pub plugin_memory: Option<Spanned<Value>>,
    #[serde(default)]
    pub process: IndexMap<String, Spanned<RawProcess>>,
    /// Settings of plugins, by plugin name.
    #[serde(default)]
    pub plugin: IndexMap<String, Spanned<toml::Table>>,
    /// `[proxy]`: a reverse proxy per announced dev-server URL.
    pub proxy: Option<RawProxy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProxy {
    pub enabled: Option<bool>,
    /// First port tried for a proxy.
    pub port: Option<Spanned<Value>>,
    /// Add the telemetry script to HTML pages.
    pub inject: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProcess {
    pub cmd: Option<Spanned<String>>,
    pub argv: Option<Spanned<Vec<String>>>,
    pub cwd: Option<Spanned<String>>,
    #[serde(default)]
    pub env: IndexMap<String, Spanned<Value>>,
    pub env_file: Option<Spanned<String>>,
    pub autostart: Option<bool>,
    pub restart: Option<Spanned<String>>,
    pub restart_delay: Option<Spanned<Value>>,
    pub restart_max_delay: Option<Spanned<Value>>,
    pub max_restarts: Option<Spanned<Value>>,
    pub stop_signal: Option<Spanned<Value>>,
    pub stop_timeout: Option<Spanned<Value>>,
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    /// `ready.*`: the readiness probe.
    pub ready: Option<Spanned<toml::Table>>,
    /// `health.*`: the liveness check.
    pub health: Option<Spanned<toml::Table>>,
    /// Colour for this child (FORCE_COLOR) when brum's output has colour;
    /// false: never.
    pub color: Option<bool>,
    /// Pass its screen-clearing sequences through to readable output.
    pub raw_terminal: Option<bool>,
}
