//! `env_file` contents (`.env`) → variables, with dotenvy's rules: `#`
//! comments, blank lines, an optional `export ` prefix, single quotes
//! (literal), double quotes (escapes, values spanning lines), and `$NAME` /
//! `${NAME}` in unquoted and double-quoted values, taken from brum's own
//! environment or from a variable defined earlier in the file.
//!
//! A leaf of `config`: no I/O beyond the text it is given.

/// The variables of an env file, in file order; on a malformed entry, its
/// 1-based line and what is wrong.
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut vars = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok(kv) => vars.push(kv),
            Err(dotenvy::Error::LineParse(entry, at)) => {
                let start = entry_line(text, vars.len());
                let shown = entry.lines().next().unwrap_or_default();
                // `at` counts chars into what dotenvy quotes (the entry or
                // its value); past the end means a quote never closed
                let Some(before) = entry.char_indices().nth(at).map(|(i, _)| &entry[..i]) else {
                    return Err((start, format!("\"{shown}\": a quote is never closed")));
                };
                let line = start + before.matches('\n').count();
                return Err((
                    line,
                    format!(
                        "cannot parse \"{shown}\": expected KEY=VALUE (a name of letters, digits, _ and ., the value quoted if it has spaces)"
                    ),
                ));
            }
            // reading from a byte slice fails only on bad UTF-8
            Err(e) => return Err((entry_line(text, vars.len()), e.to_string())),
        }
    }
    Ok(vars)
}

/// The 1-based line where the entry after the first `n` good ones begins:
/// the shortest prefix of whole lines in which dotenvy finds more than `n`
/// entries (a prefix that cuts an entry short counts it, as an error).
/// dotenvy does not say which line it was on; env files are short, and this
/// runs only for a file with an error.
fn entry_line(text: &str, n: usize) -> usize {
    let mut end = 0;
    let mut line = 0;
    for l in text.split_inclusive('\n') {
        end += l.len();
        line += 1;
        let mut found = 0;
        for item in dotenvy::from_read_iter(&text.as_bytes()[..end]) {
            found += 1;
            if item.is_err() {
                break;
            }
        }
        if found > n {
            return line;
        }
    }
    line.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        parse_env_file(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn comments_export_and_quotes() {
        let vars = ok("# c\nexport A=1\nB = \"two words\"\n\nC='x'\n  # indented comment\nD=4 # trailing\n");
        assert_eq!(vars, kv(&[("A", "1"), ("B", "two words"), ("C", "x"), ("D", "4")]));
    }

    #[test]
    fn single_quotes_are_literal_and_double_quotes_escape_and_span_lines() {
        let vars = ok("A='$HOME \\n'\nB=\"a\\nb\\\"c\"\nC=\"one\ntwo\"\n");
        assert_eq!(vars, kv(&[("A", "$HOME \\n"), ("B", "a\nb\"c"), ("C", "one\ntwo")]));
    }

    #[test]
    fn earlier_variables_are_substituted() {
        let vars = ok("BRUM_TEST_UNSET_HOST=db\nURL=postgres://${BRUM_TEST_UNSET_HOST}:5432\n");
        assert_eq!(vars[1], ("URL".to_string(), "postgres://db:5432".to_string()));
    }

    #[test]
    fn an_error_names_its_line() {
        assert_eq!(parse_env_file("A=1\noops\n").map_err(|e| e.0), Err(2));
        assert_eq!(parse_env_file("A=1\n\n# c\nB='unterminated\nC=3\n").map_err(|e| e.0), Err(4));
        let (line, msg) = parse_env_file("A=1\nB=2\nA-B=3\n").expect_err("a dash in a name");
        assert_eq!(line, 3);
        assert!(msg.contains("A-B=3"), "{msg}");
        let (line, msg) = parse_env_file("A=1\nB=\"x\nC=2\n").expect_err("unclosed quote");
        assert_eq!(line, 2);
        assert!(msg.contains("never closed"), "{msg}");
    }

    #[test]
    fn a_bad_entry_after_a_multi_line_value_is_found_at_its_own_line() {
        // "oops" also stands inside the quoted value before it
        assert_eq!(parse_env_file("A=\"x\noops\ny\"\noops\n").map_err(|e| e.0), Err(4));
        assert_eq!(parse_env_file("A=\"x\ny\"\nB=1 2\n").map_err(|e| e.0), Err(3));
    }
}
