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
    #[serde(default)]
    pub process: IndexMap<String, Spanned<RawProcess>>,
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
}
