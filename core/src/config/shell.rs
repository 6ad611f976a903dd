//! A command line for people: argv joined with POSIX shell quoting where a
//! word needs it (shlex), so what `brum ls` and events show can be pasted
//! into a shell.

/// Joins `argv` for display, quoting what a shell would need quoted. A word
/// with a NUL byte (no shell can take one) is shown Rust-escaped instead.
pub fn shell_join(argv: &[String]) -> String {
    shlex::try_join(argv.iter().map(String::as_str))
        .unwrap_or_else(|_| argv.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn quotes_what_needs_it() {
        assert_eq!(
            shell_join(&v(&["npm", "run", "dev", "--port=3000", "./a/b.js"])),
            "npm run dev '--port=3000' ./a/b.js"
        );
        let joined = shell_join(&v(&["echo", "a b", "it's", "", "$HOME"]));
        assert_eq!(shlex::split(&joined), Some(v(&["echo", "a b", "it's", "", "$HOME"])));
    }

    #[test]
    fn a_nul_byte_is_shown_escaped() {
        assert_eq!(shell_join(&v(&["printf", "a\0b"])), "\"printf\" \"a\\0b\"");
    }
}
