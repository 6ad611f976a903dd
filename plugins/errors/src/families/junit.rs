//! JUnit Platform console launcher: the `Failures (N):` section (one
//! finding per failing test: `=> Exception: msg` and frames without `at`)
//! and the closing `[ N tests failed ]` table.

use crate::blocks::StreamState;
use crate::locations::*;
use crate::record::*;
use crate::text::*;
use crate::{Finding, Kind, Severity};

/// A JVM frame's class is the JDK's, a test framework's or a build tool's.
pub(crate) fn is_jvm_library(frame: &[u8]) -> bool {
    let f = frame.strip_prefix(b"at ").unwrap_or(frame);
    let f = match memchr::memchr(b'/', f) {
        // `java.base/jdk.internal...`
        Some(p) if p < memchr::memchr(b'(', f).unwrap_or(f.len()) => &f[p + 1..],
        _ => f,
    };
    [
        &b"java."[..],
        b"javax.",
        b"jdk.",
        b"sun.",
        b"com.sun.",
        b"kotlin.",
        b"kotlinx.",
        b"scala.",
        b"org.junit.",
        b"junit.",
        b"org.opentest4j.",
        b"org.apache.maven.",
        b"org.gradle.",
        b"worker.org.gradle.",
    ]
    .iter()
    .any(|p| starts(f, p))
}

impl StreamState {
    /// `  JUnit Jupiter:SlugTest:collapsesSpaces()` after `Failures (3):`
    pub(crate) fn start_junit_failure(&mut self, tw: &[u8], seq: u64, ts: i64) {
        let mut r = Rec::new(Mode::JUnit, Kind::Error, Severity::Error, String::new(), seq, ts);
        r.language = Some("java");
        r.confirmed = false;
        r.test = Some(lossy(trim(tw)));
        r.indent = 2;
        self.open(r);
    }

    /// `[         3 tests failed          ]`: counts, emitted at `failed`
    pub(crate) fn junit_count(&mut self, pid: u32, t: &[u8], seq: u64, out: &mut Vec<Finding>) -> bool {
        let inner = trim(&t[1..t.len() - 1]);
        let Some((n, len)) = parse_num(inner) else { return false };
        let Some(what) = inner[len..].strip_prefix(b" tests ") else {
            return starts(&inner[len..], b" containers ");
        };
        match trim(what) {
            b"successful" => self.junit_counts[0] = n,
            b"skipped" => self.junit_counts[2] = n,
            b"failed" => {
                self.junit_counts[1] = n;
                let c = std::mem::take(&mut self.junit_counts);
                let mut f = test_finding(pid, "junit", t, seq, c);
                f.message = format!("{} tests successful, {} failed, {} skipped", c[0], c[1], c[2]);
                out.push(f);
            }
            _ => {}
        }
        true
    }
}

pub(crate) fn cont_junit(r: &mut Rec, t: &[u8], tw: &[u8], _ws: bool) -> Cont {
    use Cont::*;
    let ind = t.len() - tw.len();
    if ind <= r.indent {
        return Reject;
    }
    if let Some(m) = tw.strip_prefix(b"=> ") {
        if r.message.is_empty() {
            r.message = lossy(trim(m));
            r.confirmed = true;
        }
        return Accept;
    }
    // frame `com.acme.SlugTest.collapsesSpaces(SlugTest.java:18)`
    if r.confirmed
        && tw.ends_with(b")")
        && let Some(p) = memchr::memrchr(b'(', tw)
        && let Some((path, l, c)) = loc_from_end(&tw[p + 1..tw.len() - 1])
    {
        if r.raised.is_none() {
            r.raised = Some((lossy(path), l));
        }
        if r.file.is_none() && !is_jvm_library(tw) {
            r.set_loc(path, l, c);
        }
    }
    Accept
}
