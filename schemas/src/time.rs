//! Timestamp parsing for every form the supported vendors write, without allocation.
//!
//! A record whose time cannot be parsed is a dead letter: the normaliser never substitutes the time
//! of ingestion, because every rule runs on event time.
//!
//! Accepted (format `auto`):
//! - ISO 8601 / RFC 3339 with `T` or a space between date and time, optional seconds fraction of any
//!   length (truncated to microseconds), and `Z`, `±HH:MM`, `±HHMM`, `±HH` or no zone (taken as UTC):
//!   `2019-10-18T04:45:48.0729893-05:00`, `2024-10-29 18:52:51.953000000`;
//! - Common Log Format as NGINX `$time_local` writes it: `10/Jun/2023:15:36:28 +0000`;
//! - epoch numbers, integer or fractional, as JSON numbers or strings; the unit is taken from the
//!   magnitude (seconds below 10^11, milliseconds below 10^14, microseconds below 10^17, else
//!   nanoseconds), or fixed with an explicit format.

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::json::Node;

/// How a mapping's time field is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// Any of the forms in the module documentation.
    #[default]
    Auto,
    /// ISO 8601 / RFC 3339 only.
    Rfc3339,
    /// Common Log Format (`10/Jun/2023:15:36:28 +0000`) only.
    Clf,
    /// Seconds since the epoch (fraction allowed).
    EpochS,
    /// Milliseconds since the epoch.
    EpochMs,
    /// Microseconds since the epoch.
    EpochUs,
    /// Nanoseconds since the epoch.
    EpochNs,
}

/// Earliest accepted event time: 1990-01-01T00:00:00Z. Anything older is a mangled value.
const MIN_TIME_US: i64 = 631_152_000_000_000;
/// Latest accepted event time: 9999-12-31T23:59:59Z.
const MAX_TIME_US: i64 = 253_402_300_799_000_000;

/// Parses a JSON value holding a timestamp into microseconds since the epoch (UTC).
pub fn parse_value(value: &Value, format: TimeFormat) -> Option<i64> {
    match value {
        Value::String(text) => parse_str(text, format),
        Value::Number(number) => parse_number(number, format),
        _ => None,
    }
}

/// [`parse_value`] for a value of a borrowed tree (what the normaliser parses records into).
pub fn parse_node(value: &Node<'_>, format: TimeFormat) -> Option<i64> {
    match value {
        Node::String(text) => parse_str(text, format),
        Node::Number(number) => parse_number(number, format),
        _ => None,
    }
}

/// A JSON number as a timestamp: epoch seconds to nanoseconds (`auto` guesses the unit).
fn parse_number(number: &Number, format: TimeFormat) -> Option<i64> {
    let micros = match format {
        TimeFormat::Auto => epoch_auto(number.as_f64()?, number.as_i64())?,
        TimeFormat::EpochS | TimeFormat::EpochMs | TimeFormat::EpochUs | TimeFormat::EpochNs => {
            epoch_with_unit(number.as_f64()?, number.as_i64(), format)?
        }
        TimeFormat::Rfc3339 | TimeFormat::Clf => return None,
    };
    (MIN_TIME_US..=MAX_TIME_US).contains(&micros).then_some(micros)
}

/// Parses a textual timestamp into microseconds since the epoch (UTC).
pub fn parse_str(text: &str, format: TimeFormat) -> Option<i64> {
    let text = text.trim();
    let micros = match format {
        TimeFormat::Auto => {
            parse_iso(text).or_else(|| parse_clf(text)).or_else(|| parse_numeric_str(text, TimeFormat::Auto))?
        }
        TimeFormat::Rfc3339 => parse_iso(text)?,
        TimeFormat::Clf => parse_clf(text)?,
        unit => parse_numeric_str(text, unit)?,
    };
    (MIN_TIME_US..=MAX_TIME_US).contains(&micros).then_some(micros)
}

fn parse_numeric_str(text: &str, format: TimeFormat) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') {
        return None;
    }
    let float: f64 = text.parse().ok()?;
    let int: Option<i64> = text.parse().ok();
    match format {
        TimeFormat::Auto => epoch_auto(float, int),
        unit => epoch_with_unit(float, int, unit),
    }
}

fn epoch_auto(float: f64, int: Option<i64>) -> Option<i64> {
    let magnitude = float.abs();
    let unit = if magnitude < 1e11 {
        TimeFormat::EpochS
    } else if magnitude < 1e14 {
        TimeFormat::EpochMs
    } else if magnitude < 1e17 {
        TimeFormat::EpochUs
    } else {
        TimeFormat::EpochNs
    };
    epoch_with_unit(float, int, unit)
}

fn epoch_with_unit(float: f64, int: Option<i64>, unit: TimeFormat) -> Option<i64> {
    if !float.is_finite() {
        return None;
    }
    // Integers are converted exactly; fractions through f64 (sub-microsecond error only).
    if let Some(int) = int {
        return match unit {
            TimeFormat::EpochS => int.checked_mul(1_000_000),
            TimeFormat::EpochMs => int.checked_mul(1_000),
            TimeFormat::EpochUs => Some(int),
            TimeFormat::EpochNs => Some(int / 1_000),
            _ => None,
        };
    }
    let micros = match unit {
        TimeFormat::EpochS => float * 1e6,
        TimeFormat::EpochMs => float * 1e3,
        TimeFormat::EpochUs => float,
        TimeFormat::EpochNs => float / 1e3,
        _ => return None,
    };
    (micros.abs() < 9.2e18).then(|| micros.round() as i64)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor { bytes: text.as_bytes(), pos: 0 }
    }

    fn digits(&mut self, count: usize) -> Option<u32> {
        let end = self.pos.checked_add(count)?;
        let slice = self.bytes.get(self.pos..end)?;
        let mut value = 0u32;
        for &b in slice {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(b - b'0');
        }
        self.pos = end;
        Some(value)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.peek()? == expected).then(|| self.pos += 1)
    }

    fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// ISO 8601 / RFC 3339 and the space-separated variants.
fn parse_iso(text: &str) -> Option<i64> {
    let mut cur = Cursor::new(text);
    let year = cur.digits(4)?;
    cur.eat(b'-')?;
    let month = cur.digits(2)?;
    cur.eat(b'-')?;
    let day = cur.digits(2)?;
    let (mut hour, mut minute, mut second, mut micros) = (0, 0, 0, 0i64);
    if !cur.at_end() {
        match cur.peek()? {
            b'T' | b't' | b' ' => cur.pos += 1,
            _ => return None,
        }
        hour = cur.digits(2)?;
        cur.eat(b':')?;
        minute = cur.digits(2)?;
        if cur.peek() == Some(b':') {
            cur.pos += 1;
            second = cur.digits(2)?;
            if matches!(cur.peek(), Some(b'.') | Some(b',')) {
                cur.pos += 1;
                let start = cur.pos;
                let mut scale = 100_000i64;
                while let Some(b) = cur.peek().filter(u8::is_ascii_digit) {
                    micros += i64::from(b - b'0') * scale;
                    scale /= 10;
                    cur.pos += 1;
                }
                if cur.pos == start {
                    return None;
                }
            }
        }
    }
    let offset_seconds = parse_zone(&mut cur)?;
    if !cur.at_end() {
        return None;
    }
    let seconds = civil_to_epoch_seconds(year, month, day, hour, minute, second)?;
    Some((seconds - offset_seconds) * 1_000_000 + micros)
}

/// Zone designator after the time: `Z`, `±HH:MM`, `±HHMM`, `±HH`, ` UTC`, ` +0000`, or nothing (UTC).
fn parse_zone(cur: &mut Cursor<'_>) -> Option<i64> {
    if cur.peek() == Some(b' ') {
        cur.pos += 1;
        let rest = &cur.bytes[cur.pos..];
        if rest == b"UTC" || rest == b"GMT" || rest == b"Z" {
            cur.pos = cur.bytes.len();
            return Some(0);
        }
    }
    match cur.peek() {
        None => Some(0),
        Some(b'Z') | Some(b'z') => {
            cur.pos += 1;
            Some(0)
        }
        Some(sign @ (b'+' | b'-')) => {
            cur.pos += 1;
            let hours = cur.digits(2)?;
            let minutes = if cur.peek() == Some(b':') {
                cur.pos += 1;
                cur.digits(2)?
            } else if cur.at_end() {
                0
            } else {
                cur.digits(2)?
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = i64::from(hours * 3600 + minutes * 60);
            Some(if sign == b'-' { -offset } else { offset })
        }
        Some(_) => None,
    }
}

/// Common Log Format: `10/Jun/2023:15:36:28 +0000`.
fn parse_clf(text: &str) -> Option<i64> {
    let text = text.strip_prefix('[').unwrap_or(text);
    let text = text.strip_suffix(']').unwrap_or(text);
    let mut cur = Cursor::new(text);
    let day = cur.digits(2)?;
    cur.eat(b'/')?;
    let month_name = text.get(cur.pos..cur.pos + 3)?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month_name))? as u32 + 1;
    cur.pos += 3;
    cur.eat(b'/')?;
    let year = cur.digits(4)?;
    cur.eat(b':')?;
    let hour = cur.digits(2)?;
    cur.eat(b':')?;
    let minute = cur.digits(2)?;
    cur.eat(b':')?;
    let second = cur.digits(2)?;
    let mut micros = 0i64;
    if cur.peek() == Some(b'.') {
        cur.pos += 1;
        let mut scale = 100_000i64;
        while let Some(b) = cur.peek().filter(u8::is_ascii_digit) {
            micros += i64::from(b - b'0') * scale;
            scale /= 10;
            cur.pos += 1;
        }
    }
    let offset_seconds = parse_zone(&mut cur)?;
    if !cur.at_end() {
        return None;
    }
    let seconds = civil_to_epoch_seconds(year, month, day, hour, minute, second)?;
    Some((seconds - offset_seconds) * 1_000_000 + micros)
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn civil_to_epoch_seconds(year: u32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
    // A leap second (`:60`) is folded into the next second.
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second))
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format_rfc3339_micros(time_us: i64) -> String {
    let seconds = time_us.div_euclid(1_000_000);
    let micros = time_us.rem_euclid(1_000_000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        second_of_day / 3600,
        (second_of_day / 60) % 60,
        second_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T_2019_10_18_09_45_48: i64 = 1_571_391_948;

    #[test]
    fn iso_forms_vendors_write() {
        let cases = [
            ("2019-10-18T09:45:48Z", 0),
            ("2019-10-18T09:45:48.0729893Z", 72_989),
            ("2019-10-18T04:45:48.0729893-05:00", 72_989),
            ("2019-10-18T11:45:48.072+02:00", 72_000),
            ("2019-10-18T11:45:48+0200", 0),
            ("2019-10-18T11:45:48+02", 0),
            ("2019-10-18 09:45:48", 0),
            ("2019-10-18 09:45:48.072989300", 72_989),
            ("2019-10-18T09:45:48", 0),
            ("2019-10-18 09:45:48 UTC", 0),
        ];
        for (text, micros) in cases {
            assert_eq!(parse_str(text, TimeFormat::Auto), Some(T_2019_10_18_09_45_48 * 1_000_000 + micros), "{text}");
        }
    }

    #[test]
    fn common_log_format() {
        let expected = 1_686_411_388 * 1_000_000; // 2023-06-10T15:36:28Z
        assert_eq!(parse_str("10/Jun/2023:15:36:28 +0000", TimeFormat::Auto), Some(expected));
        assert_eq!(parse_str("[10/Jun/2023:17:36:28 +0200]", TimeFormat::Clf), Some(expected));
        assert_eq!(parse_str("10/Jun/2023:15:36:28 +0000", TimeFormat::Rfc3339), None);
    }

    #[test]
    fn epoch_units_from_magnitude_and_explicit() {
        let s = 1_671_111_111i64;
        assert_eq!(parse_value(&json!(s), TimeFormat::Auto), Some(s * 1_000_000));
        assert_eq!(parse_value(&json!(s * 1000 + 111), TimeFormat::Auto), Some(s * 1_000_000 + 111_000));
        assert_eq!(parse_value(&json!(1_671_111_111.25), TimeFormat::Auto), Some(s * 1_000_000 + 250_000));
        assert_eq!(parse_value(&json!(s * 1_000_000_000), TimeFormat::Auto), Some(s * 1_000_000));
        assert_eq!(parse_value(&json!("1671111111111"), TimeFormat::Auto), Some(s * 1_000_000 + 111_000));
        assert_eq!(parse_value(&json!(s * 1000), TimeFormat::EpochMs), Some(s * 1_000_000));
        assert_eq!(parse_value(&json!("1671111111.5"), TimeFormat::EpochS), Some(s * 1_000_000 + 500_000));
    }

    #[test]
    fn garbage_and_impossible_dates_are_rejected() {
        for text in [
            "",
            "now",
            "2019-13-01T00:00:00Z",
            "2019-02-29T00:00:00Z",
            "2019-10-18T25:00:00Z",
            "2019-10-18T09:45:48Zjunk",
            "2019-10-18T09:45:48.Z",
            "10/Foo/2023:15:36:28 +0000",
            "1e400",
            "12",
        ] {
            assert_eq!(parse_str(text, TimeFormat::Auto), None, "{text:?}");
        }
        assert_eq!(parse_value(&json!(null), TimeFormat::Auto), None);
        assert_eq!(parse_value(&json!(true), TimeFormat::Auto), None);
        assert_eq!(parse_value(&json!(f64::MAX), TimeFormat::Auto), None);
        assert_eq!(parse_str("2020-02-29T00:00:00Z", TimeFormat::Auto), Some(1_582_934_400_000_000));
    }

    #[test]
    fn formatting_round_trips() {
        for micros in [0i64, 1, 999_999, 1_571_391_948_072_989, 951_782_400_000_000, 4_102_444_800_000_000] {
            let text = format_rfc3339_micros(micros + MIN_TIME_US);
            assert_eq!(parse_str(&text, TimeFormat::Rfc3339), Some(micros + MIN_TIME_US), "{text}");
        }
        assert_eq!(format_rfc3339_micros(1_571_391_948_072_989), "2019-10-18T09:45:48.072989Z");
    }
}
