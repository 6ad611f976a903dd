//! The shape of `brum.toml`, checked before serde reads it: every unknown
//! key and every value of the wrong type is reported at once, each with its
//! line, column and dotted key (serde stops at the first). Meaning (is the
//! directory there, is the signal known) is `super::Validator`'s job.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// What a key's value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Str,
    Bool,
    /// A number or a string like "8MiB" / "500ms".
    NumOrStr,
    Strings,
    /// A table of plain values (env).
    Values,
    Table,
}

impl Shape {
    fn expected(self) -> &'static str {
        match self {
            Shape::Str => "a string",
            Shape::Bool => "true or false",
            Shape::NumOrStr => "a number or a string",
            Shape::Strings => "a list of strings",
            Shape::Values => "a table of strings, numbers or booleans",
            Shape::Table => "a table",
        }
    }
}

const TOP: &[(&str, Shape)] = &[
    ("max_line_bytes", Shape::NumOrStr),
    ("ring_bytes", Shape::NumOrStr),
    ("plugins_dir", Shape::Str),
    ("plugin_fuel", Shape::NumOrStr),
    ("plugin_memory", Shape::NumOrStr),
    ("process", Shape::Table),
    ("plugin", Shape::Table),
    ("proxy", Shape::Table),
];

const PROXY: &[(&str, Shape)] = &[("enabled", Shape::Bool), ("port", Shape::NumOrStr), ("inject", Shape::Bool)];

const PROCESS: &[(&str, Shape)] = &[
    ("cmd", Shape::Str),
    ("argv", Shape::Strings),
    ("cwd", Shape::Str),
    ("env", Shape::Values),
    ("env_file", Shape::Str),
    ("autostart", Shape::Bool),
    ("restart", Shape::Str),
    ("restart_delay", Shape::NumOrStr),
    ("restart_max_delay", Shape::NumOrStr),
    ("max_restarts", Shape::NumOrStr),
    ("stop_signal", Shape::NumOrStr),
    ("stop_timeout", Shape::NumOrStr),
    ("depends_on", Shape::Strings),
    ("ready", Shape::Table),
    ("health", Shape::Table),
    ("color", Shape::Bool),
    ("raw_terminal", Shape::Bool),
];

const READY: &[(&str, Shape)] = &[
    ("log", Shape::Str),
    ("regex", Shape::Str),
    ("url", Shape::Bool),
    ("tcp", Shape::NumOrStr),
    ("http", Shape::Str),
    ("exit", Shape::NumOrStr),
    ("timeout", Shape::NumOrStr),
    ("interval", Shape::NumOrStr),
];

const HEALTH: &[(&str, Shape)] = &[
    ("tcp", Shape::NumOrStr),
    ("http", Shape::Str),
    ("interval", Shape::NumOrStr),
    ("failures", Shape::NumOrStr),
    ("timeout", Shape::NumOrStr),
];

/// One shape mistake: where (byte span), which key, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    pub span: std::ops::Range<usize>,
    pub key: String,
    pub message: String,
}

fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("the string \"{s}\""),
        DeValue::Integer(i) => format!("the number {}", i.as_str()),
        DeValue::Float(f) => format!("the number {}", f.as_str()),
        DeValue::Boolean(b) => format!("{b}"),
        DeValue::Datetime(d) => format!("the date {d}"),
        DeValue::Array(_) => "a list".into(),
        DeValue::Table(_) => "a table".into(),
    }
}

/// An integer TOML accepts but brum cannot hold (over i64).
fn too_big(v: &DeValue<'_>) -> bool {
    match v {
        DeValue::Integer(i) => {
            let digits: String = i.as_str().chars().filter(|c| *c != '_').collect();
            let digits = digits.trim_start_matches(['+', '-']);
            let digits =
                digits.strip_prefix("0x").or(digits.strip_prefix("0o")).or(digits.strip_prefix("0b")).unwrap_or(digits);
            i64::from_str_radix(digits, i.radix()).is_err()
        }
        _ => false,
    }
}

fn fits(shape: Shape, v: &DeValue<'_>) -> bool {
    match shape {
        Shape::Str => matches!(v, DeValue::String(_)),
        Shape::Bool => matches!(v, DeValue::Boolean(_)),
        Shape::NumOrStr => matches!(v, DeValue::String(_) | DeValue::Integer(_) | DeValue::Float(_)),
        Shape::Strings => {
            matches!(v, DeValue::Array(a) if a.iter().all(|x| matches!(x.get_ref(), DeValue::String(_))))
        }
        Shape::Values => matches!(v, DeValue::Table(_)),
        Shape::Table => matches!(v, DeValue::Table(_)),
    }
}

fn check_table(table: &DeTable<'_>, prefix: &str, known: &[(&str, Shape)], errors: &mut Vec<ShapeError>) {
    for (k, v) in table.iter() {
        let name: &str = k.get_ref();
        let key = if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") };
        let Some(&(_, shape)) = known.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
            let within =
                if prefix.is_empty() { "at the top of brum.toml".to_string() } else { format!("in [{prefix}]") };
            errors.push(ShapeError {
                span: k.span(),
                key,
                message: format!("unknown key {within}; the keys are {} (see docs/config.md)", names.join(", ")),
            });
            continue;
        };
        let value = v.get_ref();
        if too_big(value) {
            errors.push(ShapeError {
                span: v.span(),
                key,
                message: "this number is too large (at most 9223372036854775807); sizes can be written \
                          like \"8MiB\""
                    .into(),
            });
            continue;
        }
        if !fits(shape, value) {
            errors.push(ShapeError {
                span: v.span(),
                key,
                message: format!("expected {}, found {}", shape.expected(), describe(value)),
            });
            continue;
        }
        if shape == Shape::Values
            && let DeValue::Table(t) = value
        {
            for (ek, ev) in t.iter() {
                let ok = matches!(
                    ev.get_ref(),
                    DeValue::String(_) | DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_)
                );
                if !ok || too_big(ev.get_ref()) {
                    errors.push(ShapeError {
                        span: ev.span(),
                        key: format!("{key}.{}", ek.get_ref()),
                        message: format!("expected a string, number or boolean, found {}", describe(ev.get_ref())),
                    });
                }
            }
        }
    }
}

/// Every shape mistake of the document (empty when serde may read it).
pub fn check(doc: &Spanned<DeTable<'_>>) -> Vec<ShapeError> {
    let mut errors = Vec::new();
    let top = doc.get_ref();
    check_table(top, "", TOP, &mut errors);
    if let Some(DeValue::Table(procs)) = top.get("process").map(Spanned::get_ref) {
        for (name, p) in procs.iter() {
            let prefix = format!("process.{}", name.get_ref());
            match p.get_ref() {
                DeValue::Table(t) => {
                    check_table(t, &prefix, PROCESS, &mut errors);
                    for (sub, keys) in [("ready", READY), ("health", HEALTH)] {
                        if let Some(DeValue::Table(inner)) = t.get(sub).map(Spanned::get_ref) {
                            check_table(inner, &format!("{prefix}.{sub}"), keys, &mut errors);
                        }
                    }
                }
                other => errors.push(ShapeError {
                    span: p.span(),
                    key: prefix,
                    message: format!("expected a table like [process.NAME], found {}", describe(other)),
                }),
            }
        }
    }
    if let Some(DeValue::Table(proxy)) = top.get("proxy").map(Spanned::get_ref) {
        check_table(proxy, "proxy", PROXY, &mut errors);
    }
    if let Some(DeValue::Table(plugins)) = top.get("plugin").map(Spanned::get_ref) {
        for (name, t) in plugins.iter() {
            if !matches!(t.get_ref(), DeValue::Table(_)) {
                errors.push(ShapeError {
                    span: t.span(),
                    key: format!("plugin.{}", name.get_ref()),
                    message: format!("expected a table like [plugin.NAME], found {}", describe(t.get_ref())),
                });
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(text: &str) -> Vec<(String, String)> {
        let doc = DeTable::parse(text).expect("toml");
        check(&doc).into_iter().map(|e| (e.key, e.message)).collect()
    }

    #[test]
    fn every_unknown_key_and_wrong_type_at_once() {
        let e = errs(
            "rign_bytes = 5\nring_bytes = 99999999999999999999\n[process.a]\ncmd = 5\nbogus = 1\nautostart = \"yes\"\n\
             env = { A = 1, B = [1] }\n[process.b]\ncmd = \"x\"\ndepends_on = [\"a\", 3]\n",
        );
        let keys: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "rign_bytes",
                "ring_bytes",
                "process.a.cmd",
                "process.a.bogus",
                "process.a.autostart",
                "process.a.env.B",
                "process.b.depends_on"
            ]
        );
        assert!(e[0].1.contains("unknown key at the top") && e[0].1.contains("ring_bytes"), "{}", e[0].1);
        assert!(e[1].1.contains("too large"), "{}", e[1].1);
        assert_eq!(e[2].1, "expected a string, found the number 5");
        assert!(e[3].1.starts_with("unknown key in [process.a]"), "{}", e[3].1);
        assert_eq!(e[4].1, "expected true or false, found the string \"yes\"");
        assert!(errs("[process.a]\ncmd = \"ok\"\nenv = { A = 1 }\n").is_empty());
    }
}
