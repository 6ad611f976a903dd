//! RFC 3339 timestamps (UTC, milliseconds) without allocation: the date and
//! time up to the second are cached, so formatting a line's time is a copy.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(_) => 0,
    }
}

/// Formats `YYYY-MM-DDTHH:MM:SS.mmmZ`, caching the part up to the second.
#[derive(Debug, Default)]
pub struct Timestamps {
    sec: i64,
    prefix: [u8; 20],
    valid: bool,
}

impl Timestamps {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the timestamp for `ms` (Unix milliseconds) to `out`.
    pub fn write(&mut self, out: &mut Vec<u8>, ms: i64) {
        let sec = ms.div_euclid(1000);
        let milli = ms.rem_euclid(1000) as u32;
        if !self.valid || sec != self.sec {
            self.prefix = format_prefix(sec);
            self.sec = sec;
            self.valid = true;
        }
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(&[
            b'0' + (milli / 100) as u8,
            b'0' + (milli / 10 % 10) as u8,
            b'0' + (milli % 10) as u8,
            b'Z',
        ]);
    }
}

fn two(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10 % 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

/// `YYYY-MM-DDTHH:MM:SS.` for a Unix second (civil-from-days, H. Hinnant).
fn format_prefix(sec: i64) -> [u8; 20] {
    let days = sec.div_euclid(86_400);
    let secs = sec.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)).clamp(0, 9999) as u32;
    let mut b = *b"0000-00-00T00:00:00.";
    two(&mut b[0..2], year / 100);
    two(&mut b[2..4], year % 100);
    two(&mut b[5..7], month);
    two(&mut b[8..10], day);
    two(&mut b[11..13], secs / 3600);
    two(&mut b[14..16], secs / 60 % 60);
    two(&mut b[17..19], secs % 60);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(ms: i64) -> String {
        let mut out = Vec::new();
        Timestamps::new().write(&mut out, ms);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn known_instants() {
        assert_eq!(fmt(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(fmt(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(fmt(1_795_704_462_007), "2026-11-26T14:47:42.007Z");
        assert_eq!(fmt(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn cache_is_refreshed_when_the_second_changes() {
        let mut t = Timestamps::new();
        let mut out = Vec::new();
        t.write(&mut out, 999);
        out.push(b' ');
        t.write(&mut out, 1000);
        assert_eq!(out, b"1970-01-01T00:00:00.999Z 1970-01-01T00:00:01.000Z");
    }
}
