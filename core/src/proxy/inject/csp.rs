//! Would a `Content-Security-Policy` stop the telemetry script? The script
//! is a parser-inserted, same-origin `<script src>` without a nonce, and it
//! sends same-origin beacons: it runs only if every enforced policy lets a
//! same-origin script load (`script-src-elem`, else `script-src`, else
//! `default-src`) and lets it connect home (`connect-src`, else
//! `default-src`). Host sources are not matched (the browser's view of the
//! proxy's host is not known here): a policy that allows the page's origin
//! only by naming it counts as blocking, so brum errs on the side of not
//! breaking a page.

/// Why the policies in `values` (the `Content-Security-Policy` header
/// values, each possibly several comma-separated policies) would block the
/// script or its beacon; `None` when they would not.
pub fn blocks<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<&'static str> {
    for value in values {
        let text = String::from_utf8_lossy(value);
        for policy in text.split(',') {
            if let Some(reason) = policy_blocks(policy) {
                return Some(reason);
            }
        }
    }
    None
}

/// One policy: `name value…; name value…`. A repeated directive is
/// ignored (the first one counts, as in browsers).
fn policy_blocks(policy: &str) -> Option<&'static str> {
    let mut directives: Vec<(String, Vec<&str>)> = Vec::new();
    for d in policy.split(';') {
        let mut tokens = d.split_ascii_whitespace();
        let Some(name) = tokens.next() else { continue };
        let name = name.to_ascii_lowercase();
        if !directives.iter().any(|(n, _)| *n == name) {
            directives.push((name, tokens.collect()));
        }
    }
    let find = |names: &[&'static str]| {
        names.iter().find_map(|n| directives.iter().find(|(d, _)| d == n).map(|(_, list)| (*n, list.as_slice())))
    };
    if let Some((name, list)) = find(&["script-src-elem", "script-src", "default-src"]) {
        if has(list, "'strict-dynamic'") {
            return Some(match name {
                "script-src-elem" => {
                    "Content-Security-Policy script-src-elem has 'strict-dynamic' (only nonce or hash scripts run)"
                }
                "script-src" => {
                    "Content-Security-Policy script-src has 'strict-dynamic' (only nonce or hash scripts run)"
                }
                _ => "Content-Security-Policy default-src has 'strict-dynamic' (only nonce or hash scripts run)",
            });
        }
        if !allows_same_origin(list) {
            return Some(match name {
                "script-src-elem" => {
                    "Content-Security-Policy script-src-elem does not allow same-origin scripts ('self')"
                }
                "script-src" => "Content-Security-Policy script-src does not allow same-origin scripts ('self')",
                _ => "Content-Security-Policy default-src does not allow same-origin scripts ('self')",
            });
        }
    }
    if let Some((name, list)) = find(&["connect-src", "default-src"])
        && !allows_same_origin(list)
    {
        return Some(if name == "connect-src" {
            "Content-Security-Policy connect-src does not allow the same-origin telemetry beacon ('self')"
        } else {
            "Content-Security-Policy default-src does not allow the same-origin telemetry beacon ('self')"
        });
    }
    None
}

fn has(list: &[&str], token: &str) -> bool {
    list.iter().any(|t| t.eq_ignore_ascii_case(token))
}

/// Whether a source list lets a same-origin `http://` URL load: `'self'`,
/// `*`, or the `http:` scheme (which also allows https). `'none'` and an
/// empty list allow nothing.
fn allows_same_origin(list: &[&str]) -> bool {
    list.iter().any(|t| t.eq_ignore_ascii_case("'self'") || *t == "*" || t.eq_ignore_ascii_case("http:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: &str) -> Option<&'static str> {
        blocks([v.as_bytes()])
    }

    #[test]
    fn policies_that_let_the_script_and_beacon_through() {
        for ok in [
            "",
            "default-src 'self'",
            "DEFAULT-SRC 'SELF'",
            "script-src 'self' 'nonce-abc'; connect-src 'self' ws:",
            "default-src *",
            "script-src http:; img-src 'none'",
            "img-src 'none'; style-src 'unsafe-inline'",
            "frame-ancestors 'none'",
            // a repeated directive: the first counts
            "script-src 'self'; script-src 'none'",
            // script-src-elem takes precedence over script-src
            "script-src 'none'; script-src-elem 'self'",
            " ; ; default-src 'self' ;",
        ] {
            assert_eq!(check(ok), None, "{ok:?}");
        }
    }

    #[test]
    fn policies_that_block_it_say_which_directive() {
        let cases = [
            ("default-src 'none'", "default-src does not allow same-origin scripts"),
            ("script-src 'nonce-r4nd0m'", "script-src does not allow"),
            ("script-src 'self' 'strict-dynamic' 'nonce-x'", "'strict-dynamic'"),
            ("default-src 'self' 'strict-dynamic'", "default-src has 'strict-dynamic'"),
            ("script-src-elem https://cdn.example", "script-src-elem does not allow"),
            ("script-src 'self'; connect-src https://api.example", "connect-src does not allow"),
            ("default-src https:", "default-src does not allow same-origin scripts"),
            ("script-src 'self'; default-src 'none'", "default-src does not allow the same-origin telemetry beacon"),
            ("script-src", "script-src does not allow"),
            ("script-src 'none' 'self'x", "script-src does not allow"),
        ];
        for (policy, want) in cases {
            let got = check(policy).unwrap_or_else(|| panic!("{policy:?} should block"));
            assert!(got.contains(want), "{policy:?}: {got}");
        }
    }

    #[test]
    fn every_policy_is_enforced() {
        // two policies in one header value, or two headers: each must allow
        assert!(check("default-src 'self', script-src 'none'").is_some());
        assert!(blocks(["default-src 'self'".as_bytes(), b"script-src 'none'"]).is_some());
        assert!(blocks(["default-src 'self'".as_bytes(), b"img-src *"]).is_none());
        assert!(blocks([b"default-src \xff 'self'".as_slice()]).is_none(), "bad bytes are not a panic");
    }
}
