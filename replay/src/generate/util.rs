//! Time arithmetic, time formats and random identifiers in the vendors' shapes.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub(super) const SEC: i64 = 1_000_000;
pub(super) const MIN: i64 = 60 * SEC;
pub(super) const HOUR: i64 = 60 * MIN;
pub(super) const DAY: i64 = 24 * HOUR;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(super) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
}

fn parts(t: i64) -> Parts {
    let days = t.div_euclid(DAY);
    let rest = t.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        hour: rest / HOUR,
        minute: rest % HOUR / MIN,
        second: rest % MIN / SEC,
        millis: rest % SEC / 1000,
    }
}

/// `2026-01-05T09:12:33.123Z` (Okta).
pub(super) fn rfc3339_ms(t: i64) -> String {
    let p = parts(t);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", p.year, p.month, p.day, p.hour, p.minute, p.second, p.millis)
}

/// `2026-01-05T09:12:33Z` (CloudTrail, the inventory).
pub(super) fn rfc3339_s(t: i64) -> String {
    let p = parts(t);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", p.year, p.month, p.day, p.hour, p.minute, p.second)
}

/// `Jan 5, 2026, 4:07:39 PM` (STS credential expiration in CloudTrail).
pub(super) fn aws_console_time(t: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let p = parts(t);
    let (hour12, half) = match p.hour {
        0 => (12, "AM"),
        1..=11 => (p.hour, "AM"),
        12 => (12, "PM"),
        _ => (p.hour - 12, "PM"),
    };
    format!(
        "{} {}, {}, {}:{:02}:{:02} {}",
        MONTHS[p.month as usize - 1],
        p.day,
        p.year,
        hour12,
        p.minute,
        p.second,
        half
    )
}

/// Day of the week of `t`, 0 = Monday.
pub(super) fn weekday(t: i64) -> u32 {
    (t.div_euclid(DAY) + 3).rem_euclid(7) as u32
}

/// Truncates to whole milliseconds (the precision of Okta, GitHub and Kong times).
pub(super) fn ms(t: i64) -> i64 {
    t - t.rem_euclid(1000)
}

/// Truncates to whole seconds (the precision of CloudTrail's `eventTime`).
pub(super) fn secs(t: i64) -> i64 {
    t - t.rem_euclid(SEC)
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn pick(rng: &mut ChaCha8Rng, alphabet: &[u8], n: usize) -> String {
    (0..n).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

/// Letters and digits (Okta ids, session ids).
pub(super) fn alnum(rng: &mut ChaCha8Rng, n: usize) -> String {
    pick(rng, ALNUM, n)
}

/// Lowercase hex.
pub(super) fn hex(rng: &mut ChaCha8Rng, n: usize) -> String {
    pick(rng, HEX, n)
}

/// AWS access key ids: `AKIA`/`ASIA` + 16 of A–Z2–7.
pub(super) fn aws_key(rng: &mut ChaCha8Rng, prefix: &str) -> String {
    format!("{prefix}{}", pick(rng, UPPER32, 16))
}

/// AWS unique ids (`AIDA…`, `AROA…`): prefix + 17 of A–Z0–9.
pub(super) fn aws_unique_id(rng: &mut ChaCha8Rng, prefix: &str) -> String {
    format!("{prefix}{}", pick(rng, UPPER_DIGITS, 17))
}

/// URL-safe base64 characters (GitHub `_document_id`, JWT signatures).
pub(super) fn b64url_chars(rng: &mut ChaCha8Rng, n: usize) -> String {
    pick(rng, B64URL, n)
}

/// A random UUID version 4.
pub(super) fn uuid4(rng: &mut ChaCha8Rng) -> String {
    let a: u128 = rng.random();
    let a = (a & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let h = format!("{a:032x}");
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// An Okta event `uuid`: a time-based (version 1) UUID as Okta writes them.
pub(super) fn okta_uuid(rng: &mut ChaCha8Rng) -> String {
    let node = hex(rng, 12);
    let low = hex(rng, 8);
    let mid = hex(rng, 4);
    let clock: u16 = rng.random::<u16>() & 0x3fff | 0x8000;
    format!("{low}-{mid}-11f0-{clock:04x}-{node}")
}

/// Standard base64 with padding.
pub(super) fn base64(bytes: &[u8]) -> String {
    encode(bytes, B64, true)
}

/// URL-safe base64 without padding (JWT segments).
pub(super) fn base64url(bytes: &[u8]) -> String {
    encode(bytes, B64URL, false)
}

fn encode(bytes: &[u8], alphabet: &[u8], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.len();
        let b = [chunk[0], if n > 1 { chunk[1] } else { 0 }, if n > 2 { chunk[2] } else { 0 }];
        let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= n {
                out.push(alphabet[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn civil_dates_round_trip() {
        let start = days_from_civil(2026, 1, 5);
        assert_eq!(rfc3339_s(start * DAY), "2026-01-05T00:00:00Z");
        assert_eq!(weekday(start * DAY), 0, "2026-01-05 is a Monday");
        assert_eq!(rfc3339_ms(start * DAY + 9 * HOUR + 1_234_567), "2026-01-05T09:00:01.234Z");
        assert_eq!(aws_console_time(start * DAY + 16 * HOUR + 7 * MIN + 39 * SEC), "Jan 5, 2026, 4:07:39 PM");
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(rfc3339_s(days_from_civil(2024, 2, 29) * DAY), "2024-02-29T00:00:00Z");
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b"any carnal pleas"), "YW55IGNhcm5hbCBwbGVhcw==");
        assert_eq!(base64url(b"any carnal pleasu"), "YW55IGNhcm5hbCBwbGVhc3U");
        assert_eq!(base64url(b"{\"a\":\"?>\"}"), "eyJhIjoiPz4ifQ");
    }

    #[test]
    fn uuids_have_their_version() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let id = uuid4(&mut rng);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        let okta = okta_uuid(&mut rng);
        assert_eq!(&okta[14..18], "11f0");
    }
}
