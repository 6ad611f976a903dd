//! The word sets of the fast reject: first words that start records
//! without a ':' and the words after a count, each compared as one integer
//! behind a look at its first letter.

/// A verb of a library's runtime notice after its name (`React
/// encountered ...`, `React has detected ...`; see `notices`).
#[inline]
pub(super) fn is_notice_verb(s: &[u8]) -> bool {
    match s.first() {
        Some(b'e') => s.starts_with(b"encountered "),
        Some(b'd') => s.starts_with(b"detected "),
        Some(b'h') => s.starts_with(b"has detected "),
        _ => false,
    }
}

/// A word of up to eight bytes as one integer (zero-padded), so that a set
/// of words is a few integer compares (`matches!` on byte strings compares
/// them one by one, in wasm with a call each).
const fn key(w: &[u8]) -> u64 {
    let mut k = 0u64;
    let mut j = 0;
    while j < w.len() && j < 8 {
        k |= (w[j] as u64) << (8 * j);
        j += 1;
    }
    k
}

/// The first letters of `words` as bits (`A` is bit 0 ... `z` bit 57).
const fn first_letters(words: &[&[u8]]) -> u64 {
    let mut m = 0u64;
    let mut i = 0;
    while i < words.len() {
        if !words[i].is_empty() {
            m |= 1 << (words[i][0] - b'A');
        }
        i += 1;
    }
    m
}

/// `w` (letters only) is one of the words (each of up to eight bytes): a
/// look at its first letter rules most words out, then integer compares.
macro_rules! one_of {
    ($w:expr, $($word:literal)|+) => {{
        let w: &[u8] = $w;
        const FIRST: u64 = first_letters(&[$($word),+]);
        w.len() <= 8 && (w.is_empty() || (FIRST >> (w[0] - b'A')) & 1 != 0) && {
            let k = key(w);
            $(k == const { key($word) })||+
        }
    }};
}

/// A set of words (each of up to eight bytes) as a function with
/// [`one_of`], and the words' first letters as a constant.
macro_rules! word_set {
    ($(#[$doc:meta])* fn $name:ident, const $first:ident, $($word:literal)|+) => {
        /// The first letters of the words of the set.
        const $first: u64 = first_letters(&[$($word),+]);
        $(#[$doc])*
        fn $name(w: &[u8]) -> bool {
            one_of!(w, $($word)|+)
        }
    };
}

/// The first letters of [`is_count_word`]'s words.
pub(super) const COUNT_FIRST: u64 = COUNT_SET_FIRST | first_letters(&[b"deselected"]);

/// Words after a leading count in the summaries that have no ':'
/// (`2 failed, 3 passed in 0.02s`, `4 tests, 2 failures`, `3 examples`).
pub(super) fn is_count_word(w: &[u8]) -> bool {
    in_count_set(w) || w == b"deselected"
}

word_set!(
    fn in_count_set,
    const COUNT_SET_FIRST,
    b"passed"
        | b"pass"
        | b"fail"
        | b"failed"
        | b"failing"
        | b"passing"
        | b"pending"
        | b"skipped"
        | b"test"
        | b"tests"
        | b"example"
        | b"examples"
        | b"error"
        | b"errors"
        | b"warning"
        | b"warnings"
        | b"problem"
        | b"problems"
        | b"xfailed"
        | b"xpassed"
        | b""
);

/// The first letters of [`is_starter_word`]'s words but the suffixes
/// (`...Error`, `...Exception`: known by the word's last letter).
pub(super) const STARTER_FIRST: u64 = STARTER_SET_FIRST | first_letters(&[b"Exception", b"Traceback"]);

/// First words of the forms that start a record without a ':' in the line
/// (kept in step with `dispatch` and `general`; the corpus test catches a missing one).
pub(super) fn is_starter_word(w: &[u8]) -> bool {
    if let Some(&last) = w.last()
        && matches!(last, b'r' | b'n' | b'g')
        && (w.ends_with(b"Error") || w.ends_with(b"Exception") || w.ends_with(b"Rejection") || w.ends_with(b"Warning"))
    {
        return true;
    }
    in_starter_set(w) || w == b"Exception" || w == b"Traceback"
}

word_set!(
    fn in_starter_set,
    const STARTER_SET_FIRST,
    b"BUILD"
        | b"CRITICAL"
        | b"Compiled"
        | b"E"
        | b"ERRORS"
        | b"FAILURES"
        | b"ERROR"
        | b"FAIL"
        | b"FAILED"
        | b"FATAL"
        | b"Failed"
        | b"Failures"
        | b"File"
        | b"Files"
        | b"Finished"
        | b"Found"
        | b"OK"
        | b"PANIC"
        | b"Ran"
        | b"Summary"
        | b"Tests"
        | b"There"
        | b"Uncaught"
        | b"WARNING"
        | b"hmr"
        | b"ld"
        | b"not"
        | b"npm"
        | b"ok"
        | b"page"
        | b"running"
        | b"webpack"
        | b"x"
);
