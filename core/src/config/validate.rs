//! The meaning of a `brum.toml` whose shape is right (`schema.rs`):
//! processes, their commands, directories, environments, restart policies,
//! signals, probes and dependencies (no cycles), plugin tables. Every
//! mistake is collected, located by line, column and dotted key.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use toml::{Spanned, Value};

use super::*;

pub(super) struct Validator<'a> {
    pub(super) path: &'a Path,
    pub(super) lines: LineIndex,
    pub(super) errors: Vec<ConfigError>,
    /// Whether a file without processes is a mistake (not when only its
    /// plugin settings are read).
    pub(super) need_processes: bool,
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

    pub(super) fn run(mut self, raw: raw::RawFile) -> Result<Config, ConfigErrors> {
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
        if raw.process.is_empty() && self.need_processes {
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
        let proxy = self.proxy(raw.proxy.as_ref());
        if !self.errors.is_empty() {
            return Err(ConfigErrors(self.errors));
        }
        let scripts = vec![None; processes.len()];
        Ok(Config { source: Source::Toml(self.path.to_path_buf()), settings, processes, scripts, plugins, proxy })
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
                Value::String(t) => crate::signals::parse_signal(t),
                Value::Integer(n) => crate::signals::parse_signal(&n.to_string()),
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
        let mut pc = PluginConfig { file: Some(self.path.to_path_buf()), ..PluginConfig::default() };
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
            let (line, column) = self.lines.locate(table.span().start);
            pc.tables.push(PluginTable { name: name.clone(), enabled, settings, line, column });
        }
        pc
    }

    /// `[proxy]`: on or off, the first port, the script injection.
    fn proxy(&mut self, raw: Option<&raw::RawProxy>) -> ProxyConfig {
        let mut pc = ProxyConfig::default();
        let Some(raw) = raw else { return pc };
        pc.enabled = raw.enabled.unwrap_or(true);
        pc.inject = raw.inject.unwrap_or(true);
        if let Some(p) = &raw.port {
            let port = match p.get_ref() {
                Value::Integer(n) => u16::try_from(*n).ok(),
                Value::String(s) => s.trim().parse::<u16>().ok(),
                _ => None,
            };
            match port {
                Some(n) => pc.port = n,
                None => self.err(
                    p.span(),
                    "proxy.port".into(),
                    format!(
                        "expected a TCP port from 1 to 65535 (the first one tried; each proxied URL takes \
                         the next free one) or 0 (any free port), found {}",
                        describe(p.get_ref())
                    ),
                ),
            }
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
