//! Configuration: what to run and how, flowing one way —
//! raw (`brum.toml` via serde, or `package.json` scripts, or an ad-hoc
//! command) → validated [`Config`] that the reactor runs.
//!
//! No mio and no processes here; loading only reads files. Every mistake in
//! a `brum.toml` becomes a [`ConfigError`] naming the file, line, column and
//! key; validation collects all of them before giving up.

pub mod dotenv;
mod package;
mod probes;
mod raw;
mod schema;
pub mod shell;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Value;

pub use package::{PackageManager, detect_package_manager};
pub use probes::{HealthSpec, Probe, ReadySpec};

/// Defaults a user can rely on (and the docs quote).
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024;
pub const DEFAULT_RING_BYTES: usize = 8 * 1024 * 1024;
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_RESTART_DELAY: Duration = Duration::from_millis(500);
pub const DEFAULT_RESTART_MAX_DELAY: Duration = Duration::from_secs(30);

/// When a process that ended is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    Never,
    OnFailure,
    Always,
}

/// One process, ready to spawn.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub name: String,
    /// Program and arguments (a `cmd` becomes `sh -c CMD`).
    pub argv: Vec<String>,
    /// The command as a person would type it.
    pub display: String,
    pub cwd: Option<PathBuf>,
    /// Extra environment, applied over brum's own.
    pub env: Vec<(String, String)>,
    pub autostart: bool,
    pub restart: RestartPolicy,
    pub restart_delay: Duration,
    pub restart_max_delay: Duration,
    /// `None`: no limit.
    pub max_restarts: Option<u32>,
    pub stop_signal: i32,
    pub stop_timeout: Duration,
    /// Indices into [`Config::processes`].
    pub depends_on: Vec<usize>,
    /// What "ready" means for it (dependents wait for it).
    pub ready: Option<ReadySpec>,
    /// A liveness check after ready.
    pub health: Option<HealthSpec>,
    /// `color = false`: never ask this child for colour.
    pub color: bool,
    /// Its screen-clearing sequences reach readable output.
    pub raw_terminal: bool,
}

impl ProcessSpec {
    /// A spec with every option at its default.
    pub fn new(name: impl Into<String>, argv: Vec<String>, display: String) -> Self {
        ProcessSpec {
            name: name.into(),
            argv,
            display,
            cwd: None,
            env: Vec::new(),
            autostart: true,
            restart: RestartPolicy::Never,
            restart_delay: DEFAULT_RESTART_DELAY,
            restart_max_delay: DEFAULT_RESTART_MAX_DELAY,
            max_restarts: None,
            stop_signal: libc::SIGTERM,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            depends_on: Vec::new(),
            ready: None,
            health: None,
            color: true,
            raw_terminal: false,
        }
    }
}

/// Where the process list came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Toml(PathBuf),
    PackageJson { path: PathBuf, manager: PackageManager },
    AdHoc,
}

/// Session-wide settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub max_line_bytes: usize,
    pub ring_bytes: usize,
}

/// Upper limits (each buffer is allocated up front).
pub const MAX_LINE_LIMIT: usize = 16 << 20;
pub const RING_LIMIT: usize = 4 << 30;

impl Settings {
    /// Checks the sizes against [`MAX_LINE_LIMIT`] and [`RING_LIMIT`].
    pub fn check_limits(&self) -> Result<(), String> {
        if self.max_line_bytes > MAX_LINE_LIMIT {
            return Err(format!("max_line_bytes may be at most 16MiB, got {} bytes", self.max_line_bytes));
        }
        if self.ring_bytes > RING_LIMIT {
            return Err(format!("ring_bytes may be at most 4GiB, got {} bytes", self.ring_bytes));
        }
        Ok(())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings { max_line_bytes: DEFAULT_MAX_LINE_BYTES, ring_bytes: DEFAULT_RING_BYTES }
    }
}

/// A `[plugin.NAME]` table: `enabled` for brum, the rest for the plugin,
/// flattened to dotted keys (`rule.0.pattern`) with string values. NAME is
/// the name the plugin declares (`describe`), or its file's stem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginTable {
    pub name: String,
    pub enabled: bool,
    pub settings: Vec<(String, String)>,
    /// Where the table starts in the file (1-based; 0 when not from a file).
    pub line: usize,
    pub column: usize,
}

/// Plugin settings of the session.
#[derive(Debug, Clone, Default)]
pub struct PluginConfig {
    /// The brum.toml they come from (none: no file, only defaults).
    pub file: Option<PathBuf>,
    pub dir: Option<PathBuf>,
    pub fuel: Option<u64>,
    pub memory: Option<usize>,
    pub tables: Vec<PluginTable>,
}

impl PluginConfig {
    pub fn table(&self, name: &str) -> Option<&PluginTable> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// A mistake in table `name`, located at the table in the file.
    pub fn table_error(&self, t: &PluginTable, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone().unwrap_or_else(|| PathBuf::from("brum.toml")),
            line: (t.line > 0).then_some(t.line),
            column: (t.column > 0).then_some(t.column),
            key: Some(format!("plugin.{}", t.name)),
            message: message.into(),
        }
    }
}

/// The first port a proxy listens on (`[proxy] port`).
pub const DEFAULT_PROXY_PORT: u16 = 20888;

/// `[proxy]`: a reverse proxy per dev-server URL (off unless asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyConfig {
    pub enabled: bool,
    /// First port tried; each proxied URL takes the next free one (0:
    /// any free port the system picks).
    pub port: u16,
    /// Add the telemetry script to HTML responses.
    pub inject: bool,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig { enabled: false, port: DEFAULT_PROXY_PORT, inject: true }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Source,
    pub settings: Settings,
    pub plugins: PluginConfig,
    pub proxy: ProxyConfig,
    pub processes: Vec<ProcessSpec>,
    /// For package.json: the script text behind each process, by index.
    pub scripts: Vec<Option<String>>,
}

/// One configuration mistake, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted key path, e.g. `process.web.restart`.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(k) = &self.key {
            write!(f, "{}: ", escape_controls(k))?;
        }
        // messages may quote names and values from the file; only the
        // line breaks brum puts in its own hints are kept
        let message: String =
            self.message.split('\n').map(|l| escape_controls(l).into_owned()).collect::<Vec<_>>().join("\n");
        write!(f, "{message}")
    }
}

/// All the mistakes found at once.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl ConfigErrors {
    fn one(file: &Path, message: impl Into<String>) -> Self {
        ConfigErrors(vec![ConfigError {
            file: file.to_path_buf(),
            line: None,
            column: None,
            key: None,
            message: message.into(),
        }])
    }
}

/// Finds and loads the configuration for `dir`: `--config PATH` if given,
/// else `brum.toml`, else `package.json`.
pub fn discover(dir: &Path, explicit: Option<&Path>) -> Result<Config, ConfigErrors> {
    if let Some(path) = explicit {
        if path.file_name().is_some_and(|n| n == "package.json") {
            return package::load(path);
        }
        return load_toml(path);
    }
    let toml_path = dir.join("brum.toml");
    if toml_path.exists() {
        return load_toml(&toml_path);
    }
    let pkg = dir.join("package.json");
    if pkg.exists() {
        return package::load(&pkg);
    }
    Err(ConfigErrors::one(
        &toml_path,
        "no brum.toml or package.json here; create a brum.toml with [process.NAME] tables, \
         pass --config PATH, or run one command with `brum run -- CMD ARGS...`",
    ))
}

/// A configuration running one command given on the command line.
pub fn ad_hoc(argv: Vec<String>, name: Option<String>) -> Config {
    let name = name.unwrap_or_else(|| {
        Path::new(&argv[0]).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| argv[0].clone())
    });
    let display = shell_join(&argv);
    Config {
        source: Source::AdHoc,
        settings: Settings::default(),
        processes: vec![ProcessSpec::new(name, argv, display)],
        scripts: vec![None],
        plugins: PluginConfig::default(),
        proxy: ProxyConfig::default(),
    }
}

/// Loads and validates a `brum.toml`.
pub fn load_toml(path: &Path) -> Result<Config, ConfigErrors> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigErrors::one(path, format!("cannot read the file: {e}")))?;
    parse_toml(path, &text)
}

/// The plugin settings for a command run ad hoc (`brum run -- CMD`): those
/// of `--config PATH` when it is a brum.toml, else of `dir/brum.toml` when
/// there is one, else none. The file is checked as a whole, but it need not
/// define processes.
pub fn plugin_settings(dir: &Path, explicit: Option<&Path>) -> Result<PluginConfig, ConfigErrors> {
    let path = match explicit {
        Some(p) if p.file_name().is_some_and(|n| n == "package.json") => return Ok(PluginConfig::default()),
        Some(p) => p.to_path_buf(),
        None if dir.join("brum.toml").exists() => dir.join("brum.toml"),
        None => return Ok(PluginConfig::default()),
    };
    let text =
        std::fs::read_to_string(&path).map_err(|e| ConfigErrors::one(&path, format!("cannot read the file: {e}")))?;
    match parse_toml_with(&path, &text, false) {
        Ok(cfg) => Ok(cfg.plugins),
        Err(e) => Err(e),
    }
}

/// Parses `brum.toml` text; `path` is used for messages and relative paths.
pub fn parse_toml(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    parse_toml_with(path, text, true)
}

/// [`parse_toml`]; `need_processes`: a file without `[process.*]` tables is
/// a mistake.
fn parse_toml_with(path: &Path, text: &str, need_processes: bool) -> Result<Config, ConfigErrors> {
    let lines = LineIndex::new(text);
    // the shape first: every unknown key and wrong type at once
    if let Ok(doc) = toml::de::DeTable::parse(text) {
        let shape = schema::check(&doc);
        if !shape.is_empty() {
            let errors = shape
                .into_iter()
                .map(|e| {
                    let (l, c) = lines.locate(e.span.start);
                    ConfigError {
                        file: path.to_path_buf(),
                        line: Some(l),
                        column: Some(c),
                        key: Some(e.key),
                        message: e.message,
                    }
                })
                .collect();
            return Err(ConfigErrors(errors));
        }
    }
    let raw: raw::RawFile = toml::from_str(text).map_err(|e| {
        let (line, column) = match e.span() {
            Some(s) => {
                let (l, c) = lines.locate(s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        let mut message = e.message().trim().to_string();
        if message.starts_with("unknown field") {
            message.push_str("; check the spelling (see `brum run --help` and README.md)");
        }
        ConfigErrors(vec![ConfigError { file: path.to_path_buf(), line, column, key: None, message }])
    })?;
    Validator { path, lines, errors: Vec::new(), need_processes }.run(raw)
}

/// Byte offset → (line, column), both 1-based.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { starts }
    }

    fn locate(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset);
        (line, offset - self.starts[line - 1] + 1)
    }
}

use validate::Validator;

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        other => other.type_str().to_string(),
    }
}

/// A process name: letters, digits, `-`, `_`, `.` and `:`, starting with a
/// letter, digit or `_` (so never `..` nor something that reads like a flag
/// such as `--json`).
fn valid_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// Why an environment variable cannot be passed to a process, if it cannot.
fn env_problem(key: &str, value: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("an environment variable needs a name")
    } else if key.contains('=') {
        Some("a variable name cannot contain '=' (the child would see a different variable)")
    } else if key.contains('\0') || value.contains('\0') {
        Some("a variable cannot contain a NUL byte")
    } else {
        None
    }
}

/// `text` with control characters written as escapes, so a name or value
/// with ESC or a newline cannot rewrite the terminal it is shown on.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// "500ms", "5s", "2m", "1h", "1.5s", or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && (0.0..=MAX_DURATION_SECS).contains(&secs)).then(|| Duration::from_secs_f64(secs))
}

/// Longest duration a setting may have (a week): larger values are
/// mistakes, and would overflow deadline arithmetic.
const MAX_DURATION_SECS: f64 = 7.0 * 86_400.0;
/// Largest size a setting may have.
const MAX_SIZE: usize = 1 << 40;

/// "65536", "64KiB", "64K", "8MiB", "8MB", "1GiB".
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num.parse().ok()?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&v| v > 0 && v <= MAX_SIZE)
}

pub use dotenv::parse_env_file;
pub use shell::shell_join;

impl Config {
    /// Indices of the processes to run for the names asked for (all
    /// autostart processes when none), with their dependencies pulled in,
    /// in start order (dependencies first).
    pub fn select(&self, names: &[String]) -> Result<Vec<usize>, String> {
        let mut roots = Vec::new();
        if names.is_empty() {
            roots.extend((0..self.processes.len()).filter(|&i| self.processes[i].autostart));
        } else {
            for n in names {
                match self.processes.iter().position(|p| &p.name == n) {
                    Some(i) => roots.push(i),
                    None => {
                        let known: Vec<&str> = self.processes.iter().map(|p| p.name.as_str()).collect();
                        return Err(format!("unknown process \"{n}\" (defined: {})", known.join(", ")));
                    }
                }
            }
        }
        let mut order = Vec::new();
        let mut seen = vec![false; self.processes.len()];
        fn visit(i: usize, cfg: &Config, seen: &mut [bool], order: &mut Vec<usize>) {
            if seen[i] {
                return;
            }
            seen[i] = true;
            for &d in &cfg.processes[i].depends_on {
                visit(d, cfg, seen, order);
            }
            order.push(i);
        }
        for r in roots {
            visit(r, self, &mut seen, &mut order);
        }
        Ok(order)
    }

    /// The file the configuration came from, for messages.
    pub fn source_path(&self) -> Option<&Path> {
        match &self.source {
            Source::Toml(p) => Some(p),
            Source::PackageJson { path, .. } => Some(path),
            Source::AdHoc => None,
        }
    }
}

#[cfg(test)]
mod tests;
