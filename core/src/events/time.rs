//! An event's stamps without allocation: its RFC 3339 time (UTC,
//! milliseconds), the date and time up to the second cached so formatting a
//! line's time is a copy, and its seq, counted up in decimal from the last
//! one (seqs come one after another) instead of divided out.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(_) => 0,
    }
}

/// Formats `YYYY-MM-DDTHH:MM:SS.mmmZ`, keeping the last one whole (the lines
/// of one read share their time) and the part up to the second, and seqs,
/// keeping the last one's digits.
#[derive(Debug, Default)]
pub struct Timestamps {
    sec: i64,
    prefix: [u8; 20],
    valid: bool,
    /// The last time written, and its text.
    ms: i64,
    last: [u8; 24],
    /// The last seq written and its digits (`digits_len` 0: none yet).
    seq: u64,
    digits: [u8; 20],
    digits_len: usize,
}

impl Timestamps {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the timestamp for `ms` (Unix milliseconds) to `out`.
    #[inline]
    pub fn write(&mut self, out: &mut Vec<u8>, ms: i64) {
        if !self.valid || ms != self.ms {
            self.format(ms);
        }
        out.extend_from_slice(&self.last);
    }

    fn format(&mut self, ms: i64) {
        let sec = ms.div_euclid(1000);
        let milli = ms.rem_euclid(1000) as u32;
        if !self.valid || sec != self.sec {
            self.prefix = format_prefix(sec);
            self.sec = sec;
            self.valid = true;
        }
        self.last[..20].copy_from_slice(&self.prefix);
        self.last[20..].copy_from_slice(&[
            b'0' + (milli / 100) as u8,
            b'0' + (milli / 10 % 10) as u8,
            b'0' + (milli % 10) as u8,
            b'Z',
        ]);
        self.ms = ms;
    }

    /// Appends `seq` in decimal: the last seq's digits plus one when it
    /// follows it (almost always), else formatted afresh.
    #[inline]
    pub fn write_seq(&mut self, out: &mut Vec<u8>, seq: u64) {
        if self.digits_len > 0 && self.seq.checked_add(1) == Some(seq) && self.count_up() {
            // done in place
        } else {
            (self.digits, self.digits_len) = super::json::decimal(seq);
        }
        self.seq = seq;
        // appended whole and cut back, as in `json::push_u64`
        let len = out.len();
        out.extend_from_slice(&self.digits);
        out.truncate(len + self.digits_len);
    }

    /// Adds one to the kept digits; false when that needs another digit.
    #[inline]
    fn count_up(&mut self) -> bool {
        for d in self.digits[..self.digits_len].iter_mut().rev() {
            if *d < b'9' {
                *d += 1;
                return true;
            }
            *d = b'0';
        }
        false
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
    fn seqs_count_up_and_jump() {
        let mut t = Timestamps::new();
        let mut out = Vec::new();
        for seq in [1, 2, 9, 10, 11, 99, 100, 101, 7, 8, 999_999, 1_000_000, u64::MAX - 1, u64::MAX, 0, 1] {
            t.write_seq(&mut out, seq);
            out.push(b' ');
        }
        let want = "1 2 9 10 11 99 100 101 7 8 999999 1000000 18446744073709551614 18446744073709551615 0 1 ";
        assert_eq!(String::from_utf8(out).expect("ascii"), want);
        // every seq from 1 to 100,000 in a row, as a run counts them
        let mut out = Vec::new();
        for seq in 1..=100_000u64 {
            t.write_seq(&mut out, seq);
            out.push(b' ');
        }
        let want: String = (1..=100_000u64).map(|s| format!("{s} ")).collect();
        assert_eq!(String::from_utf8(out).expect("ascii"), want);
    }

    #[test]
    fn cache_is_refreshed_when_the_second_changes() {
        let mut t = Timestamps::new();
        let mut out = Vec::new();
        t.write(&mut out, 999);
        out.push(b' ');
        t.write(&mut out, 1000);
        out.push(b' ');
        t.write(&mut out, 1000);
        out.push(b' ');
        t.write(&mut out, 1);
        assert_eq!(
            out,
            b"1970-01-01T00:00:00.999Z 1970-01-01T00:00:01.000Z 1970-01-01T00:00:01.000Z 1970-01-01T00:00:00.001Z"
        );
    }
}
