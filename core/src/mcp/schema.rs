//! Checks tool arguments against the input schema `schemars` derived for
//! them, before they are deserialised: what `tools/list` declares (types,
//! ranges, lengths, enums, required and unknown keys) is exactly what is
//! enforced, and a violation is a -32602 naming the argument and the real
//! bounds. Only the keywords our derived schemas use are understood; an
//! unknown keyword is ignored, never guessed at.

use serde_json::{Map, Value};

/// The first violation of `schema` by the arguments `args` of tool `tool`.
pub fn check(tool: &str, schema: &Map<String, Value>, args: &Value) -> Result<(), String> {
    let root = Value::Object(schema.clone());
    let empty = Map::new();
    let args = match args {
        Value::Null => &empty,
        Value::Object(m) => m,
        _ => return Err(format!("{tool}: arguments must be an object")),
    };
    let props = schema.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    if let Some(k) = args.keys().find(|k| !props.contains_key(*k)) {
        let allowed: Vec<&str> = props.keys().map(String::as_str).collect();
        let allowed = if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") };
        return Err(format!("{tool}: unknown argument `{k}` (allowed: {allowed})"));
    }
    for req in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
        if let Some(r) = req.as_str()
            && args.get(r).is_none_or(Value::is_null)
        {
            return Err(format!("{tool}: missing required argument `{r}`"));
        }
    }
    for (k, v) in args {
        if let Some(s) = props.get(k) {
            value(&root, s, v).map_err(|why| format!("{tool}: `{k}` {why}"))?;
        }
    }
    Ok(())
}

/// `$ref: "#/$defs/X"` resolved against the root schema.
fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/")) {
        Some(path) => path.split('/').try_fold(root, |v, p| v.get(p)).unwrap_or(s),
        None => s,
    }
}

fn value(root: &Value, s: &Value, v: &Value) -> Result<(), String> {
    let s = resolve(root, s);
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = s.get(key).and_then(Value::as_array) {
            let mut first = None;
            for a in alts {
                match value(root, a, v) {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        first.get_or_insert(e);
                    }
                }
            }
            let consts: Vec<String> =
                alts.iter().filter_map(|a| resolve(root, a).get("const")).map(|c| c.to_string()).collect();
            return Err(if consts.len() == alts.len() {
                format!("must be one of {}", consts.join(", "))
            } else {
                first.unwrap_or_else(|| "matches none of its alternatives".into())
            });
        }
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return Err(format!("must be {c}"));
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        let names: Vec<String> = e.iter().map(Value::to_string).collect();
        return Err(format!("must be one of {}", names.join(", ")));
    }
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let ok_type = types.is_empty()
        || types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_u64() || v.is_i64(),
            "number" => v.is_number(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            _ => true,
        });
    if !ok_type {
        return Err(format!("must be {}", types.iter().map(|t| article(t)).collect::<Vec<_>>().join(" or ")));
    }
    if let Some(n) = v.as_f64() {
        let min = s.get("minimum").and_then(Value::as_f64);
        let max = s.get("maximum").and_then(Value::as_f64);
        if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
            return Err(match (min, max) {
                (Some(a), Some(b)) => format!("must be from {a} to {b} (got {v})"),
                (Some(a), None) => format!("must be at least {a} (got {v})"),
                (None, Some(b)) => format!("must be at most {b} (got {v})"),
                (None, None) => format!("is out of range (got {v})"),
            });
        }
    }
    if let Some(t) = v.as_str() {
        let len = t.chars().count() as u64;
        let min = s.get("minLength").and_then(Value::as_u64);
        let max = s.get("maxLength").and_then(Value::as_u64);
        if min.is_some_and(|m| len < m) {
            return Err(format!("must be at least {} character(s) long", min.unwrap_or(0)));
        }
        if max.is_some_and(|m| len > m) {
            return Err(format!("must be at most {} characters long", max.unwrap_or(0)));
        }
    }
    Ok(())
}

fn article(t: &str) -> String {
    match t {
        "integer" => "an integer".into(),
        "object" => "an object".into(),
        "array" => "an array".into(),
        "null" => "null".into(),
        "boolean" => "true or false".into(),
        other => format!("a {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Map<String, Value> {
        let v = json!({
            "$defs": {"Mode": {"type": "string", "enum": ["fast", "slow"]}},
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "n": {"type": ["integer", "null"], "minimum": 1, "maximum": 10},
                "mode": {"anyOf": [{"$ref": "#/$defs/Mode"}, {"type": "null"}]},
                "on": {"type": ["boolean", "null"]}
            },
            "additionalProperties": false,
            "required": ["name"]
        });
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn what_the_schema_declares_is_what_is_enforced() {
        let s = schema();
        let err = |args: Value| check("t", &s, &args).expect_err(&args.to_string());
        assert!(check("t", &s, &json!({"name": "a", "n": 10, "mode": "slow", "on": null})).is_ok());
        assert!(check("t", &s, &json!({"name": "a", "n": null})).is_ok(), "null is an absent optional");
        assert_eq!(err(json!({})), "t: missing required argument `name`");
        assert_eq!(err(json!({"name": ""})), "t: `name` must be at least 1 character(s) long");
        assert_eq!(err(json!({"name": "a", "n": 0})), "t: `n` must be from 1 to 10 (got 0)");
        assert_eq!(err(json!({"name": "a", "n": 11})), "t: `n` must be from 1 to 10 (got 11)");
        assert_eq!(err(json!({"name": "a", "n": 1.5})), "t: `n` must be an integer or null");
        assert_eq!(err(json!({"name": "a", "n": "3"})), "t: `n` must be an integer or null");
        assert!(err(json!({"name": "a", "mode": "soon"})).contains("`mode`"));
        assert_eq!(err(json!({"name": "a", "on": "yes"})), "t: `on` must be true or false or null");
        assert_eq!(err(json!({"name": "a", "colour": 1})), "t: unknown argument `colour` (allowed: name, n, mode, on)");
        assert_eq!(err(json!([1])), "t: arguments must be an object");
    }
}
