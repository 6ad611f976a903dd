//! The control protocol: newline-delimited JSON requests and responses on a
//! Unix socket (see `docs/control.md`). This module is the protocol only —
//! parsing requests, shaping answers, reading the header of an encoded
//! event — plus the blocking client the CLI uses ([`client`]). The reactor
//! owns the socket and the connections.

pub mod client;

use serde::Deserialize;
use serde_json::Value;

/// Version of the control protocol, sent in every `hello` answer.
pub const PROTOCOL_VERSION: u32 = 1;
/// Longest request line accepted; longer ones are rejected and the
/// connection closed.
pub const MAX_REQUEST: usize = 64 * 1024;
/// Bytes queued for one client before it counts as not reading and is
/// disconnected.
pub const MAX_OUTBOX: usize = 8 << 20;

/// A parsed request.
#[derive(Debug)]
pub struct Request {
    /// Echoed in the answer (any JSON value; null when absent).
    pub id: Value,
    pub cmd: Command,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tail {
    /// Event types to send (`log.line`, or a prefix ending in `*` such as
    /// `process.*`); empty: all.
    #[serde(default)]
    pub types: Vec<String>,
    /// Process names to send events of; empty: all (events without a
    /// process, like `daemon.stopped`, always pass).
    #[serde(default)]
    pub processes: Vec<String>,
    /// Start after this seq (history from the event log), then live.
    pub since: Option<u64>,
    /// Start with the last N matching events of history.
    pub last: Option<usize>,
    /// Keep sending live events (default true); false ends after history.
    #[serde(default = "yes")]
    pub follow: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    pub process: String,
    /// At most this many lines (the newest), default 100.
    pub n: Option<usize>,
    /// Substring to look for.
    pub grep: Option<String>,
    /// Regular expression to look for (Rust `regex` syntax).
    pub regex: Option<String>,
    /// `stdout` or `stderr`.
    pub stream: Option<String>,
    /// Only lines after this seq.
    pub since: Option<u64>,
    /// Only lines up to this seq.
    pub until: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Findings {
    pub process: Option<String>,
    pub limit: Option<usize>,
    /// `errors`: the resolved ones too (default: open only).
    pub all: Option<bool>,
}

/// `requests`: the recent requests through brum's proxies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requests {
    pub process: Option<String>,
    /// Statuses to show: codes (404), classes (5xx), ranges (400-499),
    /// comma-separated.
    pub status: Option<String>,
    /// At most this many (the newest), default 50.
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Named {
    pub process: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// What a client can ask.
#[derive(Debug)]
pub enum Command {
    Hello,
    Ps,
    Tail(Tail),
    Logs(Logs),
    Errors(Findings),
    Urls(Findings),
    Requests(Requests),
    Start(Named),
    Stop(Named),
    Restart(Named),
    /// Re-read brum.toml and apply what changed.
    Reload,
    Shutdown,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub id: Value,
    pub message: String,
}

fn args<T: for<'de> Deserialize<'de>>(v: Value, cmd: &str) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| format!("{cmd}: {e}"))
}

/// A JSON value read with duplicate object keys refused: with serde_json
/// the last duplicate would win silently, so `{"cmd":"ps","cmd":"shutdown"}`
/// would shut down a daemon that a reader of the request took for a `ps`.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut v = Vec::new();
        while let Some(Strict(x)) = seq.next_element()? {
            v.push(x);
        }
        Ok(Value::Array(v))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = serde_json::Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if m.contains_key(&k) {
                return Err(serde::de::Error::custom(format_args!("duplicate key \"{k}\"")));
            }
            let Strict(v) = map.next_value()?;
            m.insert(k, v);
        }
        Ok(Value::Object(m))
    }
}

/// A short, safe rendering of a JSON value for an error message.
fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 { format!("{}…", &s[..s.floor_char_boundary(40)]) } else { s }
}

/// Parses one request line.
pub fn parse(line: &[u8]) -> Result<Request, RequestError> {
    let err = |id: Value, message: String| RequestError { id, message };
    let Strict(v) = serde_json::from_slice(line).map_err(|e| err(Value::Null, format!("not JSON: {e}")))?;
    let Value::Object(mut map) = v else {
        return Err(err(Value::Null, "a request is a JSON object like {\"cmd\":\"ps\"}".into()));
    };
    let id = map.remove("id").unwrap_or(Value::Null);
    const CMDS: &str = "hello, ps, tail, logs, errors, urls, requests, start, stop, restart, reload, shutdown";
    let cmd = match map.remove("cmd") {
        Some(Value::String(cmd)) => cmd,
        None => return Err(err(id, format!("missing \"cmd\" (a string: {CMDS})"))),
        Some(other) => return Err(err(id, format!("\"cmd\" must be a string ({CMDS}), found {}", shown(&other)))),
    };
    let rest = Value::Object(map);
    let parsed = match cmd.as_str() {
        "hello" | "status" => args::<Empty>(rest, &cmd).map(|_| Command::Hello),
        "ps" => args::<Empty>(rest, &cmd).map(|_| Command::Ps),
        "tail" => args(rest, &cmd).map(Command::Tail),
        "logs" => args(rest, &cmd).map(Command::Logs),
        "errors" => args(rest, &cmd).map(Command::Errors),
        "urls" => args(rest, &cmd).map(Command::Urls),
        "requests" => args(rest, &cmd).map(Command::Requests),
        "start" => args(rest, &cmd).map(Command::Start),
        "stop" => args(rest, &cmd).map(Command::Stop),
        "restart" => args(rest, &cmd).map(Command::Restart),
        "shutdown" => args::<Empty>(rest, &cmd).map(|_| Command::Shutdown),
        "reload" => args::<Empty>(rest, &cmd).map(|_| Command::Reload),
        other => Err(format!("unknown cmd \"{other}\"")),
    };
    match parsed {
        Ok(cmd) => Ok(Request { id, cmd }),
        Err(message) => Err(err(id, message)),
    }
}

/// An error answer line.
pub fn error_line(id: &Value, message: &str) -> Vec<u8> {
    let mut v = serde_json::to_vec(&serde_json::json!({ "id": id, "ok": false, "error": message }))
        .unwrap_or_else(|_| b"{\"ok\":false}".to_vec());
    v.push(b'\n');
    v
}

/// A success answer line with `fields` merged in.
pub fn ok_line(id: &Value, fields: Value) -> Vec<u8> {
    let mut obj = serde_json::Map::new();
    obj.insert("id".into(), id.clone());
    obj.insert("ok".into(), Value::Bool(true));
    if let Value::Object(f) = fields {
        obj.extend(f);
    }
    let mut v = serde_json::to_vec(&Value::Object(obj)).unwrap_or_else(|_| b"{\"ok\":true}".to_vec());
    v.push(b'\n');
    v
}

pub use crate::events::meta::{EventMeta, event_meta};

impl Tail {
    /// Whether an event passes this tail's filters.
    pub fn wants(&self, meta: &EventMeta<'_>) -> bool {
        let type_ok = self.types.is_empty()
            || self.types.iter().any(|t| match t.strip_suffix('*') {
                Some(prefix) => meta.ty.starts_with(prefix),
                None => t == meta.ty,
            });
        let proc_ok = self.processes.is_empty() || meta.process.is_none_or(|p| self.processes.iter().any(|x| x == p));
        type_ok && proc_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests_and_rejects_garbage() {
        let r = parse(br#"{"id":7,"cmd":"logs","process":"web","n":5,"grep":"ERR"}"#).expect("valid");
        assert_eq!(r.id, 7);
        assert!(matches!(r.cmd, Command::Logs(Logs { ref process, n: Some(5), .. }) if process == "web"));
        assert!(matches!(parse(br#"{"cmd":"tail"}"#).expect("valid").cmd, Command::Tail(Tail { follow: true, .. })));
        let e = parse(b"{nope").expect_err("garbage");
        assert!(e.message.starts_with("not JSON"));
        let e = parse(br#"{"id":"x","cmd":"explode"}"#).expect_err("unknown");
        assert_eq!((e.id, e.message.as_str()), (Value::from("x"), "unknown cmd \"explode\""));
        let e = parse(br#"{"cmd":"logs"}"#).expect_err("missing process");
        assert!(e.message.contains("missing field `process`"), "{}", e.message);
        let e = parse(br#"{"cmd":"ps","bogus":1}"#).expect_err("unknown field");
        assert!(e.message.contains("unknown field `bogus`"), "{}", e.message);
        assert!(parse(b"[1,2]").is_err());
        let r = parse(br#"{"cmd":"requests","process":"web","status":"5xx","limit":3}"#).expect("valid");
        assert!(matches!(r.cmd, Command::Requests(Requests { status: Some(ref s), limit: Some(3), .. }) if s == "5xx"));
    }

    #[test]
    fn duplicate_keys_and_wrong_types_are_named() {
        let e = parse(br#"{"cmd":"ps","cmd":"shutdown"}"#).expect_err("duplicate");
        assert!(e.message.contains("duplicate key \"cmd\""), "{}", e.message);
        let e = parse(br#"{"cmd":"logs","process":"a","grep":{"x":1,"x":2}}"#).expect_err("nested duplicate");
        assert!(e.message.contains("duplicate key \"x\""), "{}", e.message);
        let e = parse(br#"{"cmd":5}"#).expect_err("wrong type");
        assert!(e.message.contains("\"cmd\" must be a string") && e.message.contains("found 5"), "{}", e.message);
        let e = parse(br#"{"cmd":"logs","process":"a","n":"ten"}"#).expect_err("wrong field type");
        assert!(e.message.contains("logs: invalid type: string \"ten\""), "{}", e.message);
        assert!(parse(br#"{"id":1.5,"cmd":"ps","x":null}"#).is_err(), "unknown field, even null");
        assert!(parse(br#"{"id":"a","cmd":"ps"}"#).is_ok());
    }

    #[test]
    fn reads_event_headers() {
        let m = event_meta(br#"{"seq":42,"ts":"2026-11-26T14:47:42.007Z","type":"log.line","process":"web","stream":"stdout","text":"x"}"#)
            .expect("meta");
        assert_eq!(m, EventMeta { seq: 42, ty: "log.line", process: Some("web") });
        let m = event_meta(br#"{"seq":3,"ts":"x","type":"daemon.stopped","exit_code":0}"#).expect("meta");
        assert_eq!(m.process, None);
        let t = Tail {
            types: vec!["process.*".into()],
            processes: vec!["api".into()],
            since: None,
            last: None,
            follow: true,
        };
        assert!(t.wants(&EventMeta { seq: 1, ty: "process.exited", process: Some("api") }));
        assert!(!t.wants(&EventMeta { seq: 1, ty: "log.line", process: Some("api") }));
        assert!(!t.wants(&EventMeta { seq: 1, ty: "process.exited", process: Some("web") }));
    }
}
