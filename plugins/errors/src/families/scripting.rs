//! Interpreters whose errors are one header line plus indented frames:
//! Ruby (`path:19:in 'm': msg (Class)` + `from` lines), Perl (`msg at path
//! line 6.`), Lua (`lua: path:4: msg` + `stack traceback:`), Elixir (`**
//! (MatchError) msg` + `(app 0.1.0) lib/x.ex:7: M.f/1` frames), PHP
//! (`Warning: msg in path on line 8`, `Fatal error: Uncaught X: msg in
//! path:31` + `Stack trace:`).

use crate::blocks::StreamState;
use crate::frames::is_library_path;
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Kind, Severity};

/// `... in /app/report.php on line 8` → (path, 8) and the text before ` in `
pub fn php_loc(t: &[u8]) -> Option<(&[u8], &[u8], u32)> {
    let p = find(t, b" on line ")?;
    let (line, _) = parse_num(&t[p + 9..])?;
    let i = t[..p].windows(4).rposition(|w| w == b" in ")?;
    Some((&t[..i], &t[i + 4..p], line))
}

/// Perl's own warnings (the rest of `... at x.pl line N.` lines are `die`s).
const PERL_WARNINGS: [&[u8]; 7] = [
    b"Use of uninitialized value",
    b"Useless use of",
    b"Argument \"",
    b"Name \"",
    b"Scalar value",
    b"Deprecated",
    b"Odd number of elements",
];

impl StreamState {
    /// Returns true when the line started a record.
    pub(crate) fn start_script(&mut self, t: &[u8], seq: u64, ts: i64) -> bool {
        let b0 = t[0];
        // PHP (optionally `PHP ` prefixed, as the CLI writes to stderr)
        let php = t.strip_prefix(b"PHP ").unwrap_or(t);
        let php_words = matches!(php.first(), Some(b'W' | b'N' | b'D' | b'F' | b'P'));
        for (word, kind) in [
            (&b"Warning: "[..], Kind::Warning),
            (b"Notice: ", Kind::Warning),
            (b"Deprecated: ", Kind::Warning),
            (b"Fatal error: ", Kind::Error),
            (b"Parse error: ", Kind::Error),
        ] {
            if !php_words {
                break;
            }
            if let Some(body) = php.strip_prefix(word) {
                let body = trim_start(body);
                let (msg, file, line) = if let Some((m, f, l)) = php_loc(body) {
                    (m, f, l)
                } else if let Some(i) = body.windows(4).rposition(|w| w == b" in ")
                    && let Some((f, l, _)) = loc_from_end(&body[i + 4..])
                {
                    (&body[..i], f, l)
                } else {
                    return false;
                };
                let sev = if kind == Kind::Error { Severity::Error } else { Severity::Warning };
                let mut r = Rec::new(Mode::Script, kind, sev, lossy(trim(msg)), seq, ts);
                r.file = Some(lossy(file));
                r.line = Some(line);
                r.language = Some("php");
                self.open(r);
                return true;
            }
        }
        // Elixir `** (MatchError) no match of right hand side value: x`
        if let Some(m) = t.strip_prefix(b"** (") {
            let mut r = Rec::new(Mode::Script, Kind::Error, Severity::Error, lossy(trim(&t[3..])), seq, ts);
            r.language = Some("elixir");
            r.stage = 1;
            // `** (CompileError) lib/report.ex:5: undefined function totl/0`
            if let Some(q) = find(m, b") ")
                && let Some(loc) = parse_loc(&m[q + 2..])
            {
                r.set_loc(loc.path, loc.line, loc.col);
                r.message = lossy(trim(loc.rest));
            }
            // `== Compilation error in file lib/report.ex ==` announces it
            if self.rule_seq + 1 == seq {
                r.first_seq = self.rule_seq;
            }
            self.open(r);
            return true;
        }
        // Lua `lua5.4: ./lib/config.lua:4: attempt to index a nil value`
        if b0 == b'l'
            && starts(t, b"lua")
            && let Some(p) = find(t, b": ")
            && p < 12
            && let Some(loc) = parse_loc(&t[p + 2..])
        {
            let mut r = Rec::new(Mode::Script, Kind::Error, Severity::Error, lossy(trim(loc.rest)), seq, ts);
            r.set_loc(loc.path.strip_prefix(b"./").unwrap_or(loc.path), loc.line, loc.col);
            r.language = Some("lua");
            self.open(r);
            return true;
        }
        // Perl `bad port 80a at lib/Conf.pm line 9.`
        if let Some((msg, path, line)) = perl_loc(t)
            && matches!(language_of(path), Some("perl"))
        {
            let warn = PERL_WARNINGS.iter().any(|w| starts(msg, w));
            let (kind, sev) = if warn { (Kind::Warning, Severity::Warning) } else { (Kind::Error, Severity::Error) };
            let mut r = Rec::new(Mode::Single, kind, sev, lossy(msg), seq, ts);
            r.file = Some(lossy(path));
            r.line = Some(line);
            r.language = Some("perl");
            self.open(r);
            return true;
        }
        false
    }

    /// Ruby `lib/cart.rb:19:in 'discount': undefined method ... (NoMethodError)`
    pub(crate) fn start_ruby(&mut self, loc: &Loc<'_>, seq: u64, ts: i64) -> bool {
        let rest = trim_start(loc.rest);
        if !starts(rest, b"in ") {
            return false;
        }
        let Some(p) = find(rest, b": ") else { return false };
        let mut r = Rec::new(Mode::Script, Kind::Error, Severity::Error, lossy(trim(&rest[p + 2..])), seq, ts);
        r.set_loc(loc.path, loc.line, loc.col);
        r.language = Some("ruby");
        self.open(r);
        true
    }
}

/// Perl's `msg at path line N.` → (msg, path, N); `at path line N.` → (``, path, N)
pub(crate) fn perl_loc(t: &[u8]) -> Option<(&[u8], &[u8], u32)> {
    if !t.ends_with(b".") {
        return None;
    }
    let p = find(t, b" line ")?;
    let i = match t[..p].windows(4).rposition(|w| w == b" at ") {
        Some(i) => i + 4,
        None if starts(t, b"at ") => 3,
        None => return None,
    };
    let (line, _) = parse_num(&t[p + 6..])?;
    Some((&t[..i.saturating_sub(4)], &t[i..p], line))
}

impl StreamState {
    /// Test::More `  Failed test 'adds wrong'` + `  at t/calc.t line 8.` +
    /// got / expected lines (TAP comments, read without their `# `)
    pub(crate) fn start_test_more(&mut self, tw: &[u8], seq: u64, ts: i64) {
        let mut r = Rec::new(Mode::Script, Kind::Error, Severity::Error, lossy(trim(tw)), seq, ts);
        r.language = Some("perl");
        if let Some(q) = memchr::memchr(b'\'', tw)
            && let Some(e) = memchr::memrchr(b'\'', tw)
            && e > q
        {
            r.test = Some(lossy(&tw[q + 1..e]));
        }
        self.open(r);
    }
}

/// Indented frames and code lines, `Stack trace:` / `stack traceback:`
/// headers, Ruby's `from` lines; one blank line inside.
pub(crate) fn cont_script(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if r.stage == 5 || r.stage == 6 {
        return cont_phpunit(r, t);
    }
    if r.stage >= 3 {
        return cont_exunit(r, tw, ws);
    }
    if r.language == Some("php")
        && let Some(rest) = trim(t).strip_prefix(b"thrown in ")
        && let Some((_, file, line)) = php_loc(trim(t))
    {
        // `  thrown in /app/src/Cart.php on line 11`: where the exception was raised
        let _ = rest;
        r.file = Some(lossy(file));
        r.line = Some(line);
        return Accept;
    }
    if starts(t, b"Stack trace:") || starts(t, b"stack traceback:") || (r.language == Some("php") && starts(t, b"#")) {
        return Accept;
    }
    if !ws {
        return Reject;
    }
    if r.language == Some("perl")
        && r.file.is_none()
        && let Some((_, path, line)) = perl_loc(tw)
    {
        r.file = Some(lossy(path));
        r.line = Some(line);
        return Accept;
    }
    if r.stage == 1 && r.file.is_none() {
        // Elixir frame `(ledger 0.1.0) lib/ledger.ex:7: Ledger.parse/1`:
        // the first one outside Elixir/OTP's own applications
        if let Some(p) = find(tw, b") ")
            && starts(tw, b"(")
            && let Some(loc) = parse_loc(&tw[p + 2..])
        {
            let app = &tw[1..p];
            let otp = ["elixir ", "stdlib ", "kernel ", "ex_unit ", "mix ", "iex ", "logger "]
                .iter()
                .any(|a| starts(app, a.as_bytes()));
            if !otp && !is_library_path(loc.path) {
                r.set_loc(loc.path, loc.line, loc.col);
            }
        }
    }
    Accept
}

impl StreamState {
    /// RSpec `  1) Cart matches the item list` after `Failures:`
    pub(crate) fn start_rspec(&mut self, tw: &[u8], seq: u64, ts: i64) {
        let n = count_digits(tw);
        let mut r = Rec::new(Mode::RSpec, Kind::Error, Severity::Error, String::new(), seq, ts);
        r.test = Some(lossy(trim(&tw[n + 2..])));
        r.language = Some("ruby");
        r.confirmed = false;
        self.open(r);
    }
}

/// An RSpec failure: `Failure/Error: code`, the message lines, `# ./spec/x_spec.rb:9:in ...` frames.
pub(crate) fn cont_rspec(r: &mut Rec, t: &[u8], tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if !ws || t.len() - tw.len() <= 2 {
        return Reject;
    }
    if starts(tw, b"Failure/Error:") {
        r.stage = 1;
        r.confirmed = true;
    } else if let Some(f) = tw.strip_prefix(b"# ") {
        let f = f.strip_prefix(b"./").unwrap_or(f);
        if r.file.is_none()
            && let Some(loc) = parse_loc(f)
            && !is_library_path(loc.path)
            && !contains(loc.path, b"/gems/")
        {
            r.set_loc(loc.path, loc.line, loc.col);
        }
    } else if r.stage == 1 && r.message.is_empty() {
        r.message = lossy(trim(tw));
    } else if r.stage == 1 && r.message.ends_with(':') && !r.detail {
        // `ArgumentError:` then the exception's message on the next line
        r.message.push(' ');
        r.message.push_str(&String::from_utf8_lossy(trim(tw)));
        r.detail = true;
    }
    Accept
}

/// The body of an ExUnit failure (stage 3: before `stacktrace:`, 4: in it).
fn cont_exunit(r: &mut Rec, tw: &[u8], ws: bool) -> Cont {
    use Cont::*;
    if !ws {
        return Reject;
    }
    if tw == b"stacktrace:" {
        r.stage = 4;
        return Accept;
    }
    if r.stage == 3 {
        if r.message.is_empty() && parse_loc(tw).is_none() && !starts(tw, b"code:") {
            r.message = lossy(trim(tw.strip_prefix(b"** ").unwrap_or(tw)));
            r.confirmed = true;
        }
        return Accept;
    }
    if r.file.is_none() {
        // `(ledger 0.1.0) lib/ledger.ex:7: Ledger.parse/1` / `test/x_test.exs:9: (test)`
        let f = match (starts(tw, b"("), find(tw, b") ")) {
            (true, Some(p)) => {
                let app = &tw[1..p];
                let otp =
                    ["elixir ", "stdlib ", "kernel ", "ex_unit ", "mix "].iter().any(|a| starts(app, a.as_bytes()));
                if otp { None } else { Some(&tw[p + 2..]) }
            }
            _ => Some(tw),
        };
        if let Some(loc) = f.and_then(parse_loc) {
            r.set_loc(loc.path, loc.line, loc.col);
        }
    }
    Accept
}

/// A PHPUnit failure: message lines (a `Failed asserting ...` line is the
/// message), then after a blank line the `path:line` frames (the first
/// outside `vendor/` locates it); a blank line after them ends it.
fn cont_phpunit(r: &mut Rec, t: &[u8]) -> Cont {
    use Cont::*;
    let frame = memchr::memchr(b' ', trim(t)).is_none() && loc_from_end(t).is_some();
    if r.stage == 5 && frame {
        r.stage = 6;
    }
    if r.stage == 5 {
        if starts(t, b"Failed asserting") || r.message.is_empty() {
            r.message = lossy(trim(t));
            r.confirmed = true;
        }
        return Accept;
    }
    match loc_from_end(t) {
        Some((p, l, c)) => {
            if r.file.is_none() && !contains(p, b"/vendor/") {
                r.set_loc(p, l, c);
            }
            Accept
        }
        None => Reject,
    }
}
