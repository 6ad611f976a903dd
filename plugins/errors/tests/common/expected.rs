//! The one reader of the errors plugin's fixture corpus
//! (`plugins/errors/tests/fixtures/`, format in its README.md): scenarios,
//! their output variants, their split (seen / unseen) and the parser of
//! `expected*.txt`.
//!
//! Plain `std` only and no type of the plugin, so that any test can include
//! it with `#[path = ".../plugins/errors/tests/common/expected.rs"] mod expected;`
//! (the plugin's `tests/fixtures.rs` does; a test in `core/` may too).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One expected finding (one line of `expected.txt`).
#[derive(Debug, Clone)]
pub struct Expect {
    /// `error` `warning` `build` `test`
    pub kind: String,
    /// `critical` `error` `warning` `info`
    pub severity: String,
    /// matched as a suffix of the finding's file
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub code: Option<String>,
    /// must be contained in the finding's message
    pub message: String,
    /// `key=value` pairs that must be in the finding's fields (without `seq`)
    pub fields: Vec<(String, String)>,
    /// `seq=A-B`: first and last seq of the lines the finding groups
    pub seq: Option<(u64, u64)>,
    /// the line as written, for messages
    pub src: String,
}

const KINDS: [&str; 4] = ["error", "warning", "build", "test"];
const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

/// Parses an `expected*.txt`: one finding per line, in output order; blank
/// lines and `#` comments are ignored.
/// `<kind> <severity> <loc> <code> <message-substring> [| key=value ...]`
pub fn parse(text: &str) -> Result<Vec<Expect>, String> {
    let mut v = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let err = |m: &str| format!("line {}: {m}: {raw}", n + 1);
        let (main, fields) = split_fields(l);
        let mut it = main.splitn(5, ' ');
        let kind = it.next().unwrap_or("");
        let severity = it.next().unwrap_or("");
        if !KINDS.contains(&kind) {
            return Err(err("bad kind"));
        }
        if !SEVERITIES.contains(&severity) {
            return Err(err("bad severity"));
        }
        let loc = it.next().ok_or_else(|| err("no location"))?;
        let code = it.next().ok_or_else(|| err("no code"))?;
        let message = it.next().unwrap_or("").to_string();
        let (file, line, column) = parse_loc(loc);
        // `key=value` pairs; a word without `=` continues the previous value
        // (`test=cart › total › sums prices`)
        let mut kvs: Vec<(String, String)> = Vec::new();
        for w in fields.split_whitespace() {
            match w.split_once('=') {
                Some((k, val)) => kvs.push((k.to_string(), val.to_string())),
                None => {
                    let last = kvs.last_mut().ok_or_else(|| err("a field without key="))?;
                    last.1.push(' ');
                    last.1.push_str(w);
                }
            }
        }
        let mut seq = None;
        if let Some(i) = kvs.iter().position(|(k, _)| k == "seq") {
            let (_, val) = kvs.remove(i);
            let (a, b) = val.split_once('-').ok_or_else(|| err("seq=A-B"))?;
            seq = Some((a.parse().map_err(|_| err("seq=A-B"))?, b.parse().map_err(|_| err("seq=A-B"))?));
        }
        v.push(Expect {
            kind: kind.to_string(),
            severity: severity.to_string(),
            file,
            line,
            column,
            code: (code != "-").then(|| code.to_string()),
            message,
            fields: kvs,
            seq,
            src: raw.to_string(),
        });
    }
    Ok(v)
}

/// Splits `finding | key=value ...` at the first ` | ` followed by a
/// `key=`; a ` | ` inside the message (`Item | None`) stays in it.
fn split_fields(l: &str) -> (&str, &str) {
    let mut from = 0;
    while let Some(p) = l[from..].find(" | ") {
        let at = from + p;
        let rest = &l[at + 3..];
        let key = rest.split(['=', ' ']).next().unwrap_or("");
        if rest.contains('=')
            && !key.is_empty()
            && rest.as_bytes().get(key.len()) == Some(&b'=')
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return (&l[..at], rest);
        }
        from = at + 3;
    }
    (l, "")
}

/// `-`, `file`, `file:line` or `file:line:col` (the file may contain `:`).
fn parse_loc(loc: &str) -> (Option<String>, Option<u32>, Option<u32>) {
    if loc == "-" {
        return (None, None, None);
    }
    let mut parts = loc.rsplitn(3, ':');
    let last = parts.next().and_then(|p| p.parse::<u32>().ok());
    let mid = parts.next();
    match (last, mid.and_then(|p| p.parse::<u32>().ok())) {
        (Some(c), Some(l)) => (parts.next().map(str::to_string), Some(l), Some(c)),
        (Some(l), _) => (Some(loc[..loc.rfind(':').unwrap_or(0)].to_string()), Some(l), None),
        _ => (Some(loc.to_string()), None, None),
    }
}

/// The three captures of one scenario. `Plain` is the pipe capture the
/// `seq=` checks of `expected.txt` refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `output.log`: stdout and stderr through a pipe
    Plain,
    /// `output.color.log`: FORCE_COLOR=1 CI=true
    Color,
    /// `output.pty.log`: a pseudo-terminal (`script`), lines end in `\r\n`
    Pty,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::Plain, Variant::Color, Variant::Pty];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Color => "color",
            Variant::Pty => "pty",
        }
    }

    pub fn log_file(self) -> &'static str {
        match self {
            Variant::Plain => "output.log",
            Variant::Color => "output.color.log",
            Variant::Pty => "output.pty.log",
        }
    }

    /// the file that overrides `expected.txt` for this variant
    pub fn expected_file(self) -> &'static str {
        match self {
            Variant::Plain => "expected.txt",
            Variant::Color => "expected.color.txt",
            Variant::Pty => "expected.pty.txt",
        }
    }
}

/// One captured variant of a scenario with the findings it must produce.
pub struct Case {
    pub variant: Variant,
    pub log: PathBuf,
    /// the expected file used (`expected.txt` or the variant's override)
    pub expected_file: PathBuf,
    pub expected: Vec<Expect>,
}

pub struct Scenario {
    pub name: String,
    pub dir: PathBuf,
    /// `split: unseen` in tool.txt: its expected findings were written before
    /// the detector was changed for it; it measures, it does not fail tests
    pub unseen: bool,
    pub cases: Vec<Case>,
}

/// Every scenario under `root` (a directory with an `output.log`), sorted by
/// name, each with every variant present. `seq=` checks of `expected.txt`
/// hold for the plain variant only; an override file's hold for its variant.
pub fn scenarios(root: &Path) -> Result<Vec<Scenario>, String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| format!("{}: {e}", root.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("output.log").exists())
        .collect();
    dirs.sort();
    let mut v = Vec::new();
    for dir in dirs {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tool = std::fs::read_to_string(dir.join("tool.txt")).unwrap_or_default();
        let unseen = tool.lines().any(|l| l.strip_prefix("split:").is_some_and(|s| s.trim() == "unseen"));
        let read = |f: &str| -> Result<Option<(PathBuf, Vec<Expect>)>, String> {
            let p = dir.join(f);
            match std::fs::read_to_string(&p) {
                Ok(t) => Ok(Some((p, parse(&t).map_err(|e| format!("{name}/{f}: {e}"))?))),
                Err(_) => Ok(None),
            }
        };
        let base = read("expected.txt")?.ok_or_else(|| format!("{name}: missing expected.txt"))?;
        let mut cases = Vec::new();
        for variant in Variant::ALL {
            let log = dir.join(variant.log_file());
            if !log.exists() {
                continue;
            }
            let (expected_file, expected) = match variant {
                Variant::Plain => base.clone(),
                _ => match read(variant.expected_file())? {
                    Some(o) => o,
                    None => {
                        let mut e = base.1.clone();
                        e.iter_mut().for_each(|x| x.seq = None);
                        (base.0.clone(), e)
                    }
                },
            };
            cases.push(Case { variant, log, expected_file, expected });
        }
        v.push(Scenario { name, dir, unseen, cases });
    }
    Ok(v)
}

/// Splits captured bytes into lines at `\n` (the `\r` of a pty capture
/// stays, as brum's line splitter leaves it); no empty last line.
pub fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    if v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

#[cfg(test)]
mod parser_tests {
    use super::*;

    #[test]
    fn parses_a_line() {
        let e = parse("error error src/a.ts:4:7 TS2322 Type 'x' | test=a › b c seq=3-9 failed=1\n# c\n").unwrap();
        assert_eq!(e.len(), 1);
        let e = &e[0];
        assert_eq!((e.kind.as_str(), e.severity.as_str()), ("error", "error"));
        assert_eq!((e.file.as_deref(), e.line, e.column), (Some("src/a.ts"), Some(4), Some(7)));
        assert_eq!((e.code.as_deref(), e.message.as_str()), (Some("TS2322"), "Type 'x'"));
        assert_eq!(e.fields, vec![("test".into(), "a › b c".into()), ("failed".into(), "1".into())]);
        assert_eq!(e.seq, Some((3, 9)));
        let e = &parse("warning warning C:/a.py:3 - x").unwrap()[0];
        assert_eq!((e.file.as_deref(), e.line, e.column), (Some("C:/a.py"), Some(3), None));
        assert!(parse("oops error - - x").is_err());
        let e = &parse("error error a.py:6 union-attr Item | None has no | seq=2-3").unwrap()[0];
        assert_eq!((e.message.as_str(), e.seq), ("Item | None has no", Some((2, 3))));
    }
}
