//! Config-driven line filter: each output line gets a [`Verdict`] from an ordered list
//! of rules (first matching rule wins; no match means [`Verdict::Keep`]).
//!
//! Plain Rust logic (no threads, no filesystem, no clock) so it can be wrapped as a
//! `wasm32-wasip2` component.
//!
//! # Flat configuration syntax
//!
//! The host flattens the `[plugin.filter]` table of `brum.toml` into string
//! key/value pairs. Every key has the form `rule.<N>.<field>` (`rules.<N>.<field>`
//! is accepted as well, so a TOML array `rules = [ {..}, {..} ]` flattened with
//! 0-based indices works unchanged). `<N>` is a non-negative decimal integer; rules
//! are applied in ascending numeric order of `<N>` (gaps allowed, so `rule.10`
//! comes after `rule.9`; `rule.01` and `rule.1` are the same rule).
//!
//! | field            | required        | values                                                     |
//! |------------------|-----------------|------------------------------------------------------------|
//! | `match`          | yes             | `contains`, `exact`, `prefix`, `suffix`, `regex`            |
//! | `pattern`        | yes             | any string (may be empty)                                   |
//! | `action`         | yes             | `keep`, `drop`, `boost`, `tag`                              |
//! | `tag`            | iff action=tag  | non-empty string, returned in [`Verdict::Tag`]             |
//! | `case_sensitive` | no (`true`)     | `true` or `false`                                           |
//! | `stream`         | no (`any`)      | `stdout`, `stderr`, `any`                                   |
//! | `process`        | no (any)        | a process name; the rule applies only to that process      |
//!
//! Keyword values (`match`, `action`, `stream`, `case_sensitive`) are
//! case-insensitive and surrounding whitespace is ignored; `pattern`, `tag` and
//! `process` are taken verbatim.
//!
//! Example (the flat form of `{ match = "contains", pattern = "GET /health", action = "drop" }`
//! and friends):
//!
//! ```text
//! rule.1.match=contains        rule.1.pattern=GET /health    rule.1.action=drop
//! rule.2.match=regex           rule.2.pattern=(?i)deprecat   rule.2.action=tag   rule.2.tag=deprecation
//! rule.3.match=exact           rule.3.pattern=ready          rule.3.action=boost rule.3.case_sensitive=false
//! rule.4.match=contains        rule.4.pattern=ERROR          rule.4.action=keep  rule.4.process=api  rule.4.stream=stderr
//! ```
//!
//! Errors name the exact key, e.g.
//! `rule.2.action: expected keep, drop, boost or tag, found "hide"`. Unknown keys,
//! unknown fields, duplicate keys, missing required fields, a `tag` on a non-tag
//! action and invalid regexes are all errors. No settings at all is valid (every
//! line is kept).
//!
//! # Matching semantics
//!
//! ANSI escape sequences are stripped from the line before matching (into a reused
//! buffer, only when the line contains ESC), so patterns see the visible text.
//!
//! * `contains`: the pattern occurs anywhere in the line.
//! * `exact`: the line equals the pattern after trimming ASCII whitespace (including
//!   a trailing `\r`) from both ends of the line; the pattern is used as written.
//! * `prefix` / `suffix`: the line (after the same trimming) starts / ends with the
//!   pattern.
//! * `regex`: [`regex::bytes::Regex`] syntax, searched anywhere in the (untrimmed)
//!   line; anchor with `^`/`$` as needed. Lines need not be UTF-8. The crate is built
//!   without Unicode Perl classes, so a pattern using `\d`, `\w`, `\s` or `\b` is
//!   compiled in ASCII mode (`(?-u)`) instead of being rejected.
//!
//! `case_sensitive = false` folds ASCII letters only for `contains`, `exact`,
//! `prefix` and `suffix` (no per-line allocation); for `regex` it enables the regex
//! engine's (Unicode-aware) case-insensitive mode, like a `(?i)` prefix.

#[cfg(target_arch = "wasm32")]
mod component;

use brum_plugin_sdk::text::strip_ansi_into;
use memchr::memmem;
use regex::bytes::{Regex, RegexBuilder};

/// What to do with a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    Drop,
    Boost,
    Tag(String),
}

#[derive(Debug)]
enum Matcher {
    /// Case-sensitive substring search.
    Contains(Box<memmem::Finder<'static>>),
    /// ASCII-case-insensitive substring search; the pattern is ASCII-lowercased.
    ContainsNoCase(Vec<u8>),
    Exact {
        pat: Vec<u8>,
        fold: bool,
    },
    Prefix {
        pat: Vec<u8>,
        fold: bool,
    },
    Suffix {
        pat: Vec<u8>,
        fold: bool,
    },
    Regex(Regex),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamSel {
    Any,
    Stdout,
    Stderr,
}

#[derive(Debug)]
struct Rule {
    matcher: Matcher,
    stream: StreamSel,
    process: Option<String>,
    verdict: Verdict,
}

/// An ordered set of rules; see the crate docs for the configuration syntax.
#[derive(Debug, Default)]
pub struct Filter {
    rules: Vec<Rule>,
    /// Reused buffer for the ANSI-stripped line.
    scratch: Vec<u8>,
}

/// Raw (unvalidated) fields of one rule, with the key each came from.
#[derive(Default)]
struct RawRule<'a> {
    index: u64,
    match_: Option<(&'a str, &'a str)>,
    pattern: Option<(&'a str, &'a str)>,
    action: Option<(&'a str, &'a str)>,
    tag: Option<(&'a str, &'a str)>,
    case_sensitive: Option<(&'a str, &'a str)>,
    stream: Option<(&'a str, &'a str)>,
    process: Option<(&'a str, &'a str)>,
}

const FIELDS: &str = "match, pattern, action, tag, case_sensitive, stream or process";

impl Filter {
    /// Builds a filter from flattened `key=value` settings (see the crate docs).
    pub fn from_settings(settings: &[(String, String)]) -> Result<Filter, String> {
        let mut raws: Vec<RawRule<'_>> = Vec::new();
        for (key, value) in settings {
            let (index, field) = parse_key(key)?;
            let pos = match raws.iter().position(|r| r.index == index) {
                Some(p) => p,
                None => {
                    raws.push(RawRule { index, ..RawRule::default() });
                    raws.len() - 1
                }
            };
            let raw = &mut raws[pos];
            let slot = match field {
                "match" => &mut raw.match_,
                "pattern" => &mut raw.pattern,
                "action" => &mut raw.action,
                "tag" => &mut raw.tag,
                "case_sensitive" => &mut raw.case_sensitive,
                "stream" => &mut raw.stream,
                "process" => &mut raw.process,
                other => {
                    return Err(format!("{key}: unknown field {other:?}, expected {FIELDS}"));
                }
            };
            if let Some((prev_key, _)) = slot {
                return Err(if *prev_key == key.as_str() {
                    format!("{key}: duplicate key")
                } else {
                    format!("{key}: same setting as {prev_key}")
                });
            }
            *slot = Some((key.as_str(), value.as_str()));
        }
        raws.sort_by_key(|r| r.index);
        let rules = raws.iter().map(build_rule).collect::<Result<Vec<_>, _>>()?;
        Ok(Filter { rules, scratch: Vec::new() })
    }

    /// Number of configured rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule is configured (every line is kept).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The verdict for one line: the first rule whose process, stream and pattern
    /// all match decides; when none matches the line is kept.
    ///
    /// `&mut self` only for the reused ANSI-stripping buffer.
    pub fn verdict(&mut self, process_name: &str, stream_is_stderr: bool, line: &[u8]) -> Verdict {
        let mut text: Option<&[u8]> = None;
        for rule in &self.rules {
            match rule.stream {
                StreamSel::Any => {}
                StreamSel::Stdout if stream_is_stderr => continue,
                StreamSel::Stderr if !stream_is_stderr => continue,
                _ => {}
            }
            if let Some(p) = &rule.process
                && p != process_name
            {
                continue;
            }
            let t = match text {
                Some(t) => t,
                None => {
                    let t = if memchr::memchr(0x1b, line).is_some() {
                        strip_ansi_into(line, &mut self.scratch);
                        &self.scratch[..]
                    } else {
                        line
                    };
                    text = Some(t);
                    t
                }
            };
            if rule.matcher.is_match(t) {
                return rule.verdict.clone();
            }
        }
        Verdict::Keep
    }
}

/// Splits `rule.<N>.<field>` (or `rules.<N>.<field>`) into `(N, field)`.
fn parse_key(key: &str) -> Result<(u64, &str), String> {
    let rest = key
        .strip_prefix("rule.")
        .or_else(|| key.strip_prefix("rules."))
        .ok_or_else(|| format!("{key}: unknown setting, expected keys of the form rule.<N>.<field>"))?;
    let (num, field) = rest
        .split_once('.')
        .ok_or_else(|| format!("{key}: expected rule.<N>.<field> with <N> a number and <field> one of {FIELDS}"))?;
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{key}: rule number must be a non-negative integer, found {num:?}"));
    }
    let index = num.parse::<u64>().map_err(|_| format!("{key}: rule number {num:?} is too large"))?;
    Ok((index, field))
}

fn build_rule(raw: &RawRule<'_>) -> Result<Rule, String> {
    let (match_key, match_val) = required(raw, raw.match_, "match")?;
    let (_, pattern) = required(raw, raw.pattern, "pattern")?;
    let (action_key, action_val) = required(raw, raw.action, "action")?;

    let case_sensitive = match raw.case_sensitive {
        None => true,
        Some((key, v)) => match keyword(v).as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(format!("{key}: expected true or false, found {v:?}")),
        },
    };

    let stream = match raw.stream {
        None => StreamSel::Any,
        Some((key, v)) => match keyword(v).as_str() {
            "stdout" => StreamSel::Stdout,
            "stderr" => StreamSel::Stderr,
            "any" => StreamSel::Any,
            _ => {
                return Err(format!("{key}: expected stdout, stderr or any, found {v:?}"));
            }
        },
    };

    let process = match raw.process {
        None => None,
        Some((key, "")) => {
            return Err(format!("{key}: process name must not be empty"));
        }
        Some((_, v)) => Some(v.to_owned()),
    };

    let verdict = match keyword(action_val).as_str() {
        "keep" => Verdict::Keep,
        "drop" => Verdict::Drop,
        "boost" => Verdict::Boost,
        "tag" => {
            let (tag_key, tag) =
                required(raw, raw.tag, "tag").map_err(|e| format!("{e}; action = \"tag\" needs a tag"))?;
            if tag.is_empty() {
                return Err(format!("{tag_key}: tag must not be empty"));
            }
            Verdict::Tag(tag.to_owned())
        }
        _ => {
            return Err(format!("{action_key}: expected keep, drop, boost or tag, found {action_val:?}"));
        }
    };
    if let (Some((tag_key, _)), false) = (raw.tag, matches!(verdict, Verdict::Tag(_))) {
        return Err(format!("{tag_key}: only valid with action = \"tag\", but the action is {action_val:?}"));
    }

    let pat = pattern.as_bytes();
    let matcher = match keyword(match_val).as_str() {
        "contains" if case_sensitive => Matcher::Contains(Box::new(memmem::Finder::new(pat).into_owned())),
        "contains" => Matcher::ContainsNoCase(pat.to_ascii_lowercase()),
        "exact" => Matcher::Exact { pat: fold_if(pat, !case_sensitive), fold: !case_sensitive },
        "prefix" => Matcher::Prefix { pat: fold_if(pat, !case_sensitive), fold: !case_sensitive },
        "suffix" => Matcher::Suffix { pat: fold_if(pat, !case_sensitive), fold: !case_sensitive },
        "regex" => {
            let pattern_key = raw.pattern.map_or(match_key, |(k, _)| k);
            Matcher::Regex(build_regex(pattern, case_sensitive, pattern_key)?)
        }
        _ => {
            return Err(format!("{match_key}: expected contains, exact, prefix, suffix or regex, found {match_val:?}"));
        }
    };

    Ok(Rule { matcher, stream, process, verdict })
}

/// The value of a required field, or an error naming the missing key (spelled with
/// the same `rule.`/`rules.` prefix and number as the rule's other keys).
fn required<'a>(
    raw: &RawRule<'a>,
    slot: Option<(&'a str, &'a str)>,
    field: &str,
) -> Result<(&'a str, &'a str), String> {
    slot.ok_or_else(|| {
        let any_key = [raw.match_, raw.pattern, raw.action, raw.tag, raw.case_sensitive, raw.stream, raw.process]
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
            .next()
            .unwrap_or("rule.?.x");
        let prefix = &any_key[..any_key.rfind('.').map_or(0, |p| p + 1)];
        let n = raw.index;
        format!("{prefix}{field}: missing (rule {n} needs match, pattern and action)")
    })
}

fn keyword(v: &str) -> String {
    v.trim().to_ascii_lowercase()
}

fn fold_if(pat: &[u8], fold: bool) -> Vec<u8> {
    if fold { pat.to_ascii_lowercase() } else { pat.to_vec() }
}

/// Compiled-program size cap, so a pathological pattern cannot eat the plugin's memory.
const REGEX_SIZE_LIMIT: usize = 2 * 1024 * 1024;

fn build_regex(pattern: &str, case_sensitive: bool, key: &str) -> Result<Regex, String> {
    let build = |unicode: bool| {
        RegexBuilder::new(pattern)
            .case_insensitive(!case_sensitive)
            .unicode(unicode)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
    };
    match build(true) {
        Ok(re) => Ok(re),
        // Without the `unicode-perl` feature, \d \w \s \b only exist in ASCII mode.
        Err(first) => build(false).map_err(|_| {
            let msg = first.to_string();
            format!("{key}: invalid regex: {}", msg.trim())
        }),
    }
}

impl Matcher {
    fn is_match(&self, line: &[u8]) -> bool {
        match self {
            Matcher::Contains(f) => f.find(line).is_some(),
            Matcher::ContainsNoCase(pat) => contains_ascii_nocase(line, pat),
            Matcher::Exact { pat, fold } => eq(trim_ascii(line), pat, *fold),
            Matcher::Prefix { pat, fold } => {
                let l = trim_ascii(line);
                l.len() >= pat.len() && eq(&l[..pat.len()], pat, *fold)
            }
            Matcher::Suffix { pat, fold } => {
                let l = trim_ascii(line);
                l.len() >= pat.len() && eq(&l[l.len() - pat.len()..], pat, *fold)
            }
            Matcher::Regex(re) => re.is_match(line),
        }
    }
}

fn trim_ascii(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

/// `a == b`, or with `fold`, `a` equals the (already lowercase) `b` ignoring ASCII case.
fn eq(a: &[u8], b: &[u8], fold: bool) -> bool {
    if fold { a.eq_ignore_ascii_case(b) } else { a == b }
}

/// Whether `hay` contains `needle_lower` (ASCII-lowercased) ignoring ASCII case.
/// Candidate positions are found with `memchr2` on the needle's first byte in both
/// cases, so it is fast and never allocates.
fn contains_ascii_nocase(hay: &[u8], needle_lower: &[u8]) -> bool {
    let Some((&first, rest)) = needle_lower.split_first() else {
        return true;
    };
    if hay.len() < needle_lower.len() {
        return false;
    }
    let last_start = hay.len() - needle_lower.len();
    let upper = first.to_ascii_uppercase();
    let mut from = 0;
    while from <= last_start {
        let Some(rel) = memchr::memchr2(first, upper, &hay[from..=last_start]) else {
            return false;
        };
        let at = from + rel;
        if hay[at + 1..at + needle_lower.len()].eq_ignore_ascii_case(rest) {
            return true;
        }
        from = at + 1;
    }
    false
}

#[cfg(test)]
mod tests;
