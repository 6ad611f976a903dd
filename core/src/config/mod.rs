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

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Spanned, Value};

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
/// flattened to dotted keys (`rule.0.pattern`) with string values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginTable {
    pub name: String,
    pub enabled: bool,
    pub settings: Vec<(String, String)>,
}

/// Plugin settings of the session.
#[derive(Debug, Clone, Default)]
pub struct PluginConfig {
    pub dir: Option<PathBuf>,
    pub fuel: Option<u64>,
    pub memory: Option<usize>,
    pub tables: Vec<PluginTable>,
}

impl PluginConfig {
    pub fn table(&self, name: &str) -> Option<&PluginTable> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Source,
    pub settings: Settings,
    pub plugins: PluginConfig,
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
    }
}

/// Loads and validates a `brum.toml`.
pub fn load_toml(path: &Path) -> Result<Config, ConfigErrors> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigErrors::one(path, format!("cannot read the file: {e}")))?;
    parse_toml(path, &text)
}

/// Parses `brum.toml` text; `path` is used for messages and relative paths.
pub fn parse_toml(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
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
    Validator { path, lines, errors: Vec::new() }.run(raw)
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

struct Validator<'a> {
    path: &'a Path,
    lines: LineIndex,
    errors: Vec<ConfigError>,
}

impl Validator<'_> {
    fn err(&mut self, span: std::ops::Range<usize>, key: String, message: impl Into<String>) {
        let (l, c) = self.lines.locate(span.start);
        self.errors.push(ConfigError {
            file: self.path.to_path_buf(),
            line: Some(l),
            column: Some(c),
            key: Some(key),
            message: message.into(),
        });
    }

    fn run(mut self, raw: raw::RawFile) -> Result<Config, ConfigErrors> {
        let mut settings = Settings::default();
        if let Some(v) = &raw.max_line_bytes
            && let Some(n) = self.size(v, "max_line_bytes".into())
        {
            settings.max_line_bytes = n;
        }
        if let Some(v) = &raw.ring_bytes
            && let Some(n) = self.size(v, "ring_bytes".into())
        {
            settings.ring_bytes = n;
        }
        if let Err(msg) = settings.check_limits() {
            let span = raw.max_line_bytes.as_ref().or(raw.ring_bytes.as_ref()).map(|s| s.span()).unwrap_or(0..0);
            self.err(span, "max_line_bytes".into(), msg);
        } else if settings.ring_bytes < 2 * settings.max_line_bytes {
            let span = raw.ring_bytes.as_ref().map(|s| s.span()).unwrap_or(0..0);
            self.err(
                span,
                "ring_bytes".into(),
                format!(
                    "must be at least twice max_line_bytes ({} bytes), got {} bytes",
                    settings.max_line_bytes, settings.ring_bytes
                ),
            );
        }
        if raw.process.is_empty() {
            self.errors.push(ConfigError {
                file: self.path.to_path_buf(),
                line: None,
                column: None,
                key: Some("process".into()),
                message: "no processes defined; add a table like\n  [process.web]\n  cmd = \"npm run dev\"".into(),
            });
        }
        let base = self.path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let index: HashMap<&str, usize> = raw.process.keys().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
        let mut processes = Vec::with_capacity(raw.process.len());
        let mut dep_spans = Vec::with_capacity(raw.process.len());
        for (name, p) in &raw.process {
            let (spec, spans) = self.process(name, p, &base, &index);
            processes.push(spec);
            dep_spans.push(spans);
        }
        self.check_cycles(&processes, &dep_spans);
        self.check_ready_exit(&processes, &raw);
        let plugins = self.plugins(&raw, &base);
        if !self.errors.is_empty() {
            return Err(ConfigErrors(self.errors));
        }
        let scripts = vec![None; processes.len()];
        Ok(Config { source: Source::Toml(self.path.to_path_buf()), settings, processes, scripts, plugins })
    }

    fn process(
        &mut self,
        name: &str,
        sp: &Spanned<raw::RawProcess>,
        base: &Path,
        index: &HashMap<&str, usize>,
    ) -> (ProcessSpec, Vec<std::ops::Range<usize>>) {
        let key = |k: &str| format!("process.{name}.{k}");
        let p = sp.get_ref();
        if !valid_name(name) {
            self.err(
                sp.span(),
                format!("process.{name}"),
                "a process name may contain letters, digits, '-', '_', '.' and ':' only, \
                 and starts with a letter, a digit or '_'",
            );
        }
        let (argv, display) = match (&p.cmd, &p.argv) {
            (Some(c), None) => {
                if c.get_ref().trim().is_empty() {
                    self.err(c.span(), key("cmd"), "is empty");
                }
                (vec!["sh".into(), "-c".into(), c.get_ref().clone()], c.get_ref().clone())
            }
            (None, Some(a)) => {
                if a.get_ref().is_empty() || a.get_ref()[0].is_empty() {
                    self.err(a.span(), key("argv"), "needs at least the program to run");
                }
                (a.get_ref().clone(), shell_join(a.get_ref()))
            }
            (Some(c), Some(_)) => {
                self.err(c.span(), key("cmd"), "give either `cmd` (run with sh -c) or `argv` (a list), not both");
                (Vec::new(), String::new())
            }
            (None, None) => {
                self.err(
                    sp.span(),
                    format!("process.{name}"),
                    "missing `cmd`: add cmd = \"...\" (run with sh -c) or argv = [\"prog\", \"arg\"]",
                );
                (Vec::new(), String::new())
            }
        };
        let mut spec = ProcessSpec::new(name, argv, display);
        if let Some(cwd) = &p.cwd {
            let dir = base.join(cwd.get_ref());
            if !dir.is_dir() {
                self.err(cwd.span(), key("cwd"), format!("directory {} does not exist", dir.display()));
            }
            spec.cwd = Some(dir);
        } else if base != Path::new("") {
            spec.cwd = Some(base.to_path_buf());
        }
        if let Some(f) = &p.env_file {
            let file = base.join(f.get_ref());
            match std::fs::read_to_string(&file) {
                Ok(text) => match parse_env_file(&text) {
                    Ok(vars) => {
                        for (k, v) in vars {
                            match env_problem(&k, &v) {
                                Some(why) => {
                                    self.err(f.span(), key("env_file"), format!("{}: {k}: {why}", file.display()))
                                }
                                None => spec.env.push((k, v)),
                            }
                        }
                    }
                    Err((line, msg)) => {
                        self.err(f.span(), key("env_file"), format!("{}:{line}: {msg}", file.display()))
                    }
                },
                Err(e) => self.err(f.span(), key("env_file"), format!("cannot read {}: {e}", file.display())),
            }
        }
        for (k, v) in &p.env {
            let text = match v.get_ref() {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let Some(why) = env_problem(k, &text) {
                self.err(v.span(), format!("process.{name}.env.{k}"), why);
                continue;
            }
            match v.get_ref() {
                Value::String(s) => spec.env.push((k.clone(), s.clone())),
                Value::Integer(i) => spec.env.push((k.clone(), i.to_string())),
                Value::Float(x) => spec.env.push((k.clone(), x.to_string())),
                Value::Boolean(b) => spec.env.push((k.clone(), b.to_string())),
                other => self.err(
                    v.span(),
                    format!("process.{name}.env.{k}"),
                    format!("expected a string, number or boolean, found {}", other.type_str()),
                ),
            }
        }
        spec.autostart = p.autostart.unwrap_or(true);
        spec.color = p.color.unwrap_or(true);
        spec.raw_terminal = p.raw_terminal.unwrap_or(false);
        if let Some(r) = &p.restart {
            spec.restart = match r.get_ref().as_str() {
                "never" | "no" => RestartPolicy::Never,
                "on-failure" => RestartPolicy::OnFailure,
                "always" => RestartPolicy::Always,
                other => {
                    self.err(
                        r.span(),
                        key("restart"),
                        format!("expected \"never\", \"on-failure\" or \"always\", found \"{other}\""),
                    );
                    RestartPolicy::Never
                }
            };
        }
        if let Some(d) = &p.restart_delay
            && let Some(d) = self.duration(d, key("restart_delay"))
        {
            spec.restart_delay = d;
        }
        if let Some(d) = &p.restart_max_delay
            && let Some(d) = self.duration(d, key("restart_max_delay"))
        {
            spec.restart_max_delay = d;
        }
        if spec.restart_max_delay < spec.restart_delay {
            spec.restart_max_delay = spec.restart_delay;
        }
        if let Some(m) = &p.max_restarts {
            match m.get_ref() {
                Value::Integer(n) if (0..=u32::MAX as i64).contains(n) => spec.max_restarts = Some(*n as u32),
                other => self.err(
                    m.span(),
                    key("max_restarts"),
                    format!("expected a non-negative integer, found {}", describe(other)),
                ),
            }
        }
        if let Some(s) = &p.stop_signal {
            let parsed = match s.get_ref() {
                Value::String(t) => crate::events::parse_signal(t),
                Value::Integer(n) => crate::events::parse_signal(&n.to_string()),
                _ => None,
            };
            match parsed {
                Some(sig) => spec.stop_signal = sig,
                None => self.err(
                    s.span(),
                    key("stop_signal"),
                    format!("expected a signal such as \"TERM\", \"INT\" or 15, found {}", describe(s.get_ref())),
                ),
            }
        }
        if let Some(d) = &p.stop_timeout
            && let Some(d) = self.duration(d, key("stop_timeout"))
        {
            spec.stop_timeout = d;
        }
        if let Some(t) = &p.ready {
            spec.ready = self.ready(name, t);
        }
        if let Some(t) = &p.health {
            spec.health = self.health(name, t);
        }
        let mut spans = Vec::new();
        for dep in &p.depends_on {
            match index.get(dep.get_ref().as_str()) {
                Some(&i) => {
                    spec.depends_on.push(i);
                    spans.push(dep.span());
                }
                None => {
                    let mut known: Vec<&str> = index.keys().copied().collect();
                    known.sort_unstable();
                    self.err(
                        dep.span(),
                        key("depends_on"),
                        format!("unknown process \"{}\" (defined: {})", dep.get_ref(), known.join(", ")),
                    )
                }
            }
        }
        (spec, spans)
    }

    fn ready(&mut self, name: &str, t: &Spanned<toml::Table>) -> Option<ReadySpec> {
        let span = t.span();
        let (probe, problems) =
            probes::probe_of(t.get_ref(), &|_| span.clone(), &["log", "regex", "url", "tcp", "http", "exit"]);
        for (k, sp, msg) in problems {
            self.err(sp, format!("process.{name}.ready.{k}"), msg);
        }
        let timeout = match t.get_ref().get("timeout") {
            Some(v) => {
                self.duration(&Spanned::new(span.clone(), v.clone()), format!("process.{name}.ready.timeout"))?
            }
            None => probes::DEFAULT_READY_TIMEOUT,
        };
        let interval = match t.get_ref().get("interval") {
            Some(v) => {
                self.duration(&Spanned::new(span.clone(), v.clone()), format!("process.{name}.ready.interval"))?
            }
            None => probes::DEFAULT_READY_INTERVAL,
        };
        let Some(probe) = probe else {
            if !t.get_ref().keys().any(|k| ["log", "regex", "url", "tcp", "http", "exit"].contains(&k.as_str())) {
                self.err(
                    span,
                    format!("process.{name}.ready"),
                    "needs one probe: ready.log, ready.regex, ready.url, ready.tcp, ready.http or ready.exit",
                );
            }
            return None;
        };
        Some(ReadySpec { probe, timeout, interval: interval.max(Duration::from_millis(10)) })
    }

    fn health(&mut self, name: &str, t: &Spanned<toml::Table>) -> Option<HealthSpec> {
        let span = t.span();
        let (probe, problems) = probes::probe_of(t.get_ref(), &|_| span.clone(), &["tcp", "http"]);
        for (k, sp, msg) in problems {
            self.err(sp, format!("process.{name}.health.{k}"), msg);
        }
        let interval = match t.get_ref().get("interval") {
            Some(v) => {
                self.duration(&Spanned::new(span.clone(), v.clone()), format!("process.{name}.health.interval"))?
            }
            None => probes::DEFAULT_HEALTH_INTERVAL,
        };
        let failures = match t.get_ref().get("failures") {
            None => probes::DEFAULT_HEALTH_FAILURES,
            Some(Value::Integer(n)) if (1..=1000).contains(n) => *n as u32,
            Some(other) => {
                self.err(
                    span,
                    format!("process.{name}.health.failures"),
                    format!("expected a number from 1 to 1000, found {}", describe(other)),
                );
                return None;
            }
        };
        let Some(probe) = probe else {
            if !t.get_ref().contains_key("tcp") && !t.get_ref().contains_key("http") {
                self.err(span, format!("process.{name}.health"), "needs one check: health.tcp or health.http");
            }
            return None;
        };
        Some(HealthSpec { probe, interval: interval.max(Duration::from_millis(10)), failures })
    }

    /// A one-shot task others depend on must be started to become ready.
    fn check_ready_exit(&mut self, procs: &[ProcessSpec], raw: &raw::RawFile) {
        for (i, p) in procs.iter().enumerate() {
            let Some(ReadySpec { probe: Probe::Exit(_), .. }) = &p.ready else { continue };
            let has_dependents = procs.iter().any(|q| q.depends_on.contains(&i));
            if !p.autostart && has_dependents {
                let span =
                    raw.process.get_index(i).and_then(|(_, r)| r.get_ref().ready.as_ref()).map_or(0..0, |r| r.span());
                self.err(
                    span,
                    format!("process.{}.ready.exit", p.name),
                    "a one-shot task with autostart = false never runs on its own, so its dependents would wait forever; \
                     remove autostart = false",
                );
            }
        }
    }

    fn check_cycles(&mut self, procs: &[ProcessSpec], spans: &[Vec<std::ops::Range<usize>>]) {
        // 0 = unvisited, 1 = on the current path, 2 = done
        let mut mark = vec![0u8; procs.len()];
        let mut path = Vec::new();
        for start in 0..procs.len() {
            if let Some(cycle) = dfs(start, procs, &mut mark, &mut path) {
                let first = cycle[0];
                let names: Vec<&str> = cycle.iter().map(|&i| procs[i].name.as_str()).collect();
                let dep_pos = procs[first].depends_on.iter().position(|&d| d == cycle[1]).unwrap_or(0);
                let span = spans[first].get(dep_pos).cloned().unwrap_or(0..0);
                self.err(
                    span,
                    format!("process.{}.depends_on", procs[first].name),
                    format!("dependency cycle: {}", names.join(" -> ")),
                );
                return;
            }
        }
    }

    fn plugins(&mut self, raw: &raw::RawFile, base: &Path) -> PluginConfig {
        let mut pc = PluginConfig::default();
        if let Some(d) = &raw.plugins_dir {
            let dir = base.join(d.get_ref());
            if !dir.is_dir() {
                self.err(d.span(), "plugins_dir".into(), format!("directory {} does not exist", dir.display()));
            }
            pc.dir = Some(dir);
        }
        if let Some(f) = &raw.plugin_fuel {
            match f.get_ref() {
                Value::Integer(n) if *n > 0 => pc.fuel = Some(*n as u64),
                other => self.err(
                    f.span(),
                    "plugin_fuel".into(),
                    format!("expected a positive integer, found {}", describe(other)),
                ),
            }
        }
        if let Some(m) = &raw.plugin_memory {
            pc.memory = self.size(m, "plugin_memory".into());
        }
        for (name, table) in &raw.plugin {
            let mut enabled = true;
            let mut settings = Vec::new();
            for (k, v) in table.get_ref() {
                if k == "enabled" {
                    match v {
                        Value::Boolean(b) => enabled = *b,
                        other => self.err(
                            table.span(),
                            format!("plugin.{name}.enabled"),
                            format!("expected true or false, found {}", describe(other)),
                        ),
                    }
                    continue;
                }
                flatten(k, v, &mut settings);
            }
            pc.tables.push(PluginTable { name: name.clone(), enabled, settings });
        }
        pc
    }

    fn duration(&mut self, v: &Spanned<Value>, key: String) -> Option<Duration> {
        let parsed = match v.get_ref() {
            Value::Integer(n) if (0..=MAX_DURATION_SECS as i64).contains(n) => Some(Duration::from_secs(*n as u64)),
            Value::Float(x) if (0.0..=MAX_DURATION_SECS).contains(x) => Some(Duration::from_secs_f64(*x)),
            Value::String(s) => parse_duration(s),
            _ => None,
        };
        if parsed.is_none() {
            self.err(
                v.span(),
                key,
                format!(
                    "expected a duration such as 5, 2.5, \"500ms\" or \"2m\" (at most a week), found {}",
                    describe(v.get_ref())
                ),
            );
        }
        parsed
    }

    fn size(&mut self, v: &Spanned<Value>, key: String) -> Option<usize> {
        let parsed = match v.get_ref() {
            Value::Integer(n) if *n > 0 && (*n as u64) <= MAX_SIZE as u64 => Some(*n as usize),
            Value::String(s) => parse_size(s),
            _ => None,
        };
        if parsed.is_none() {
            self.err(
                v.span(),
                key,
                format!("expected a size such as 65536, \"64KiB\" or \"8MiB\", found {}", describe(v.get_ref())),
            );
        }
        parsed
    }
}

fn dfs(n: usize, procs: &[ProcessSpec], mark: &mut [u8], path: &mut Vec<usize>) -> Option<Vec<usize>> {
    if mark[n] == 2 {
        return None;
    }
    if mark[n] == 1 {
        let at = path.iter().position(|&p| p == n).unwrap_or(0);
        let mut cycle = path[at..].to_vec();
        cycle.push(n);
        return Some(cycle);
    }
    mark[n] = 1;
    path.push(n);
    for &d in &procs[n].depends_on {
        if let Some(c) = dfs(d, procs, mark, path) {
            return Some(c);
        }
    }
    path.pop();
    mark[n] = 2;
    None
}

/// Flattens a TOML value into dotted keys with string values: tables by
/// key, arrays by 0-based index.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Table(t) => {
            for (k, v) in t {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten(&format!("{prefix}.{i}"), v, out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

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

/// `KEY=VALUE` lines; `#` comments, blank lines, `export ` prefixes and
/// single or double quotes are understood. Errors carry the 1-based line.
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut vars = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            return Err((i + 1, format!("expected KEY=VALUE, found \"{line}\"")));
        };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err((i + 1, format!("invalid variable name \"{k}\"")));
        }
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
        {
            &v[1..v.len() - 1]
        } else {
            v
        };
        vars.push((k.to_string(), v.to_string()));
    }
    Ok(vars)
}

/// Joins argv for display, quoting what a shell would need quoted.
pub fn shell_join(argv: &[String]) -> String {
    let mut out = String::new();
    for (i, a) in argv.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let plain = !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
        if plain {
            out.push_str(a);
        } else {
            out.push('\'');
            out.push_str(&a.replace('\'', "'\\''"));
            out.push('\'');
        }
    }
    out
}

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
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigErrors> {
        parse_toml(Path::new("brum.toml"), text)
    }

    fn errors(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(_) => panic!("expected errors for:\n{text}"),
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn full_process_table() {
        let cfg = parse(
            r#"
max_line_bytes = "16KiB"
[process.db]
argv = ["postgres", "-D", "data dir"]
autostart = false
[process.web]
cmd = "npm run dev"
env = { PORT = 3000, DEBUG = true }
restart = "on-failure"
restart_delay = "250ms"
restart_max_delay = 10
max_restarts = 3
stop_signal = "INT"
stop_timeout = 2.5
depends_on = ["db"]
"#,
        )
        .expect("valid");
        assert_eq!(cfg.settings.max_line_bytes, 16 * 1024);
        let db = &cfg.processes[0];
        assert_eq!(db.display, "postgres -D 'data dir'");
        assert!(!db.autostart);
        let web = &cfg.processes[1];
        assert_eq!(web.argv, ["sh", "-c", "npm run dev"]);
        assert_eq!(web.env, [("PORT".into(), "3000".into()), ("DEBUG".into(), "true".into())]);
        assert_eq!(web.restart, RestartPolicy::OnFailure);
        assert_eq!(web.restart_delay, Duration::from_millis(250));
        assert_eq!(web.restart_max_delay, Duration::from_secs(10));
        assert_eq!(web.max_restarts, Some(3));
        assert_eq!(web.stop_signal, libc::SIGINT);
        assert_eq!(web.stop_timeout, Duration::from_millis(2500));
        assert_eq!(web.depends_on, [0]);
        // no names: autostart ones, dependencies first
        assert_eq!(cfg.select(&[]).expect("select"), [0, 1]);
        assert!(cfg.select(&["nope".into()]).unwrap_err().contains("unknown process \"nope\""));
    }

    #[test]
    fn bad_toml_names_line_and_column() {
        let e = errors("[process.web]\ncmd = \"x\n");
        assert!(e[0].starts_with("brum.toml:2:"), "{e:?}");
    }

    #[test]
    fn unknown_key_is_named() {
        let e = errors("[process.web]\ncmd = \"x\"\nrestrat = \"always\"\n");
        assert!(e[0].starts_with("brum.toml:3:1: process.web.restrat: unknown key in [process.web]"), "{e:?}");
    }

    #[test]
    fn wrong_type_is_named() {
        let e = errors("[process.web]\ncmd = 5\n");
        assert!(e[0].starts_with("brum.toml:2:7: process.web.cmd: expected a string, found the number 5"), "{e:?}");
    }

    #[test]
    fn all_semantic_errors_are_collected() {
        let e = errors(
            "[process.a]\nrestart = \"sometimes\"\n[process.b]\ncmd = \"x\"\nstop_timeout = \"soon\"\ndepends_on = [\"zzz\"]\n",
        );
        assert_eq!(e.len(), 4, "{e:#?}");
        assert!(e[0].starts_with("brum.toml:1:") && e[0].contains("process.a: missing `cmd`"), "{e:?}");
        assert!(e[1].starts_with("brum.toml:2:11: process.a.restart: expected"), "{e:?}");
        assert!(e[2].starts_with("brum.toml:5:16: process.b.stop_timeout: expected a duration"), "{e:?}");
        assert!(e[3].starts_with("brum.toml:6:15: process.b.depends_on: unknown process \"zzz\""), "{e:?}");
    }

    #[test]
    fn cycles_are_reported_with_their_path() {
        let e =
            errors("[process.a]\ncmd = \"x\"\ndepends_on = [\"b\"]\n[process.b]\ncmd = \"y\"\ndepends_on = [\"a\"]\n");
        assert_eq!(e, ["brum.toml:3:15: process.a.depends_on: dependency cycle: a -> b -> a"]);
    }

    #[test]
    fn durations_sizes_env_files() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("fast"), None);
        assert_eq!(parse_size("8MiB"), Some(8 << 20));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        assert_eq!(parse_size("lots"), None);
        let vars = parse_env_file("# c\nexport A=1\nB = \"two words\"\n\nC='x'\n").expect("ok");
        assert_eq!(vars, [("A".into(), "1".into()), ("B".into(), "two words".into()), ("C".into(), "x".into())]);
        assert_eq!(parse_env_file("A=1\noops\n").unwrap_err().0, 2);
    }

    #[test]
    fn shell_join_quotes_what_needs_it() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(shell_join(&v(&["echo", "a b", "it's"])), "echo 'a b' 'it'\\''s'");
    }
}
