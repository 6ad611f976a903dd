//! Readiness and health probes of a process (`ready.*`, `health.*` in
//! brum.toml): what "ready" means for it, and how a running one is checked.
//! Checked here; run by the reactor (`reactor/probes.rs`).

use std::time::Duration;

use toml::Value;

/// What makes a process ready (or healthy).
#[derive(Debug, Clone)]
pub enum Probe {
    /// A line containing this text.
    Log(String),
    /// A line matching this regex.
    Regex(regex::Regex),
    /// The process announced a URL (the urls plugin found one).
    Url,
    /// A TCP connect to host:port succeeds.
    Tcp { host: String, port: u16 },
    /// An HTTP GET answers 2xx or 3xx.
    Http { host: String, port: u16, path: String, url: String },
    /// A one-shot task exited with this code.
    Exit(i32),
}

impl Probe {
    /// How the probe is named in events (`log`, `tcp`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Probe::Log(_) => "log",
            Probe::Regex(_) => "regex",
            Probe::Url => "url",
            Probe::Tcp { .. } => "tcp",
            Probe::Http { .. } => "http",
            Probe::Exit(_) => "exit",
        }
    }

    /// Whether the reactor polls it over the network.
    pub fn is_network(&self) -> bool {
        matches!(self, Probe::Tcp { .. } | Probe::Http { .. })
    }
}

/// `ready.*`: the probe and its limits.
#[derive(Debug, Clone)]
pub struct ReadySpec {
    pub probe: Probe,
    /// Not ready by then: `process.unready`, dependents not started.
    pub timeout: Duration,
    /// Between two tries of a tcp/http probe.
    pub interval: Duration,
}

/// `health.*`: a liveness check after ready.
#[derive(Debug, Clone)]
pub struct HealthSpec {
    pub probe: Probe,
    pub interval: Duration,
    /// Failures in a row that make it unhealthy (then restarted).
    pub failures: u32,
}

pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_READY_INTERVAL: Duration = Duration::from_millis(250);
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_HEALTH_FAILURES: u32 = 3;

/// One mistake: the key (relative to the table) and what is wrong.
pub type Problem = (String, std::ops::Range<usize>, String);

fn port_of(v: &Value) -> Result<u16, String> {
    match v {
        Value::Integer(n) if (1..=65535).contains(n) => Ok(*n as u16),
        Value::Integer(n) => Err(format!("a port is 1 to 65535, found {n}")),
        _ => Err("expected a port number".into()),
    }
}

/// `5432` or `"host:port"` (loopback when only a port is given).
fn tcp_target(v: &Value) -> Result<(String, u16), String> {
    match v {
        Value::Integer(_) => Ok(("127.0.0.1".into(), port_of(v)?)),
        Value::String(s) => {
            let (host, port) =
                s.rsplit_once(':').ok_or_else(|| format!("expected a port or \"host:port\", found \"{s}\""))?;
            let port: i64 = port.parse().map_err(|_| format!("expected a port or \"host:port\", found \"{s}\""))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(format!("no host in \"{s}\""));
            }
            Ok((host.to_string(), port_of(&Value::Integer(port))?))
        }
        _ => Err("expected a port or \"host:port\"".into()),
    }
}

/// `http://host[:port]/path` (only plain http: a probe does no TLS).
fn http_target(url: &str) -> Result<Probe, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("expected an http:// URL, found \"{url}\" (probes speak plain HTTP; use ready.tcp for other servers)")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            let port: i64 = p.parse().map_err(|_| format!("bad port in \"{url}\""))?;
            (h.trim_start_matches('[').trim_end_matches(']'), port_of(&Value::Integer(port))?)
        }
        _ => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("no host in \"{url}\""));
    }
    Ok(Probe::Http { host: host.to_string(), port, path: path.to_string(), url: url.to_string() })
}

/// Reads the probe keys of a `ready` or `health` table. `allowed` are the
/// probe kinds that table takes. Returns the probe (if exactly one is
/// given) and the problems found.
pub fn probe_of(
    table: &toml::Table,
    spans: &dyn Fn(&str) -> std::ops::Range<usize>,
    allowed: &[&str],
) -> (Option<Probe>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut probes = Vec::new();
    for kind in ["log", "regex", "url", "tcp", "http", "exit"] {
        let Some(v) = table.get(kind) else { continue };
        if !allowed.contains(&kind) {
            problems.push((
                kind.to_string(),
                spans(kind),
                format!("not a probe here; use one of {}", allowed.join(", ")),
            ));
            continue;
        }
        let probe = match (kind, v) {
            ("log", Value::String(s)) if !s.is_empty() => Ok(Probe::Log(s.clone())),
            ("log", _) => Err("expected the text of a line to wait for".to_string()),
            ("regex", Value::String(s)) => regex::RegexBuilder::new(s)
                .size_limit(1 << 20)
                .build()
                .map(Probe::Regex)
                .map_err(|e| format!("not a valid regex: {e}")),
            ("url", Value::Boolean(true)) => Ok(Probe::Url),
            ("url", _) => Err("expected true".to_string()),
            ("tcp", v) => tcp_target(v).map(|(host, port)| Probe::Tcp { host, port }),
            ("http", Value::String(s)) => http_target(s),
            ("http", _) => Err("expected an http:// URL".to_string()),
            ("exit", Value::Integer(n)) if (0..=255).contains(n) => Ok(Probe::Exit(*n as i32)),
            ("exit", _) => Err("expected an exit code from 0 to 255".to_string()),
            _ => continue,
        };
        match probe {
            Ok(p) => probes.push((kind, p)),
            Err(msg) => problems.push((kind.to_string(), spans(kind), msg)),
        }
    }
    if probes.len() > 1 {
        let names: Vec<&str> = probes.iter().map(|(k, _)| *k).collect();
        problems.push((
            probes[1].0.to_string(),
            spans(probes[1].0),
            format!("one probe per table, found {}", names.join(" and ")),
        ));
        return (None, problems);
    }
    (probes.pop().map(|(_, p)| p), problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(tcp_target(&Value::Integer(5432)), Ok(("127.0.0.1".into(), 5432)));
        assert_eq!(tcp_target(&Value::String("db:6379".into())), Ok(("db".into(), 6379)));
        assert!(tcp_target(&Value::Integer(70000)).unwrap_err().contains("1 to 65535"));
        assert!(tcp_target(&Value::Integer(0)).is_err());
        let Ok(Probe::Http { host, port, path, .. }) = http_target("http://127.0.0.1:8000/health") else {
            panic!("http")
        };
        assert_eq!((host.as_str(), port, path.as_str()), ("127.0.0.1", 8000, "/health"));
        let Ok(Probe::Http { port, path, .. }) = http_target("http://localhost") else { panic!("http") };
        assert_eq!((port, path.as_str()), (80, "/"));
        assert!(http_target("https://x/").unwrap_err().contains("http://"));
        assert!(http_target("ftp://x/").is_err());
    }
}
