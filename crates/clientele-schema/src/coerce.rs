//! Coercion of text values to canonical types. Each parser returns `None` for text it does
//! not accept; the caller turns that into an error naming file, row, column and value.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};

/// Earliest date accepted in any date or timestamp column (1900-01-01).
pub const MIN_DATE: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
/// Latest date accepted in any date or timestamp column (2100-12-31).
pub const MAX_DATE: NaiveDate = NaiveDate::from_ymd_opt(2100, 12, 31).unwrap();

const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Days since 1970-01-01 (Arrow `Date32`) of a calendar date.
pub fn date_to_days(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

/// The calendar date of an Arrow `Date32` value.
pub fn days_to_date(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + EPOCH_DAYS_FROM_CE).unwrap_or(MIN_DATE)
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parses `YYYY-MM-DD` or `YYYYMMDD` without allocating.
fn plain_date(b: &[u8]) -> Option<NaiveDate> {
    let (y, m, d) = match b.len() {
        10 if b[4] == b'-' && b[7] == b'-' => (&b[0..4], &b[5..7], &b[8..10]),
        10 if b[4] == b'/' && b[7] == b'/' => (&b[0..4], &b[5..7], &b[8..10]),
        8 => (&b[0..4], &b[4..6], &b[6..8]),
        _ => return None,
    };
    NaiveDate::from_ymd_opt(digits(y)? as i32, digits(m)?, digits(d)?)
}

/// A calendar date: `2024-03-01`, `20240301`, or an ISO 8601 timestamp whose date part is
/// taken as written (`2024-03-01T23:30:00-05:00` is 2024-03-01). Returns `None` for anything
/// else, including impossible dates such as 2024-02-30.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let b = s.as_bytes();
    if let Some(d) = plain_date(b) {
        return Some(d);
    }
    if b.len() > 10 && (b[10] == b'T' || b[10] == b' ') {
        parse_timestamp(s)?;
        return plain_date(&b[..10]);
    }
    None
}

/// An instant as microseconds since the Unix epoch, UTC. Accepts a date (midnight UTC), an
/// RFC 3339 timestamp with `Z` or an offset, or a timestamp without zone (taken as UTC), with
/// `T` or a space between date and time and optional fractional seconds.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(d) = plain_date(s.as_bytes()) {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros());
    }
    if s.len() < 16 {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    let with_t = s.replacen(' ', "T", 1);
    if let Ok(t) = DateTime::parse_from_rfc3339(&with_t) {
        return Some(t.timestamp_micros());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&with_t, fmt) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    None
}

/// true/false, 1/0, yes/no, y/n, t/f in any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "t" => Some(true),
        "false" | "0" | "no" | "n" | "f" => Some(false),
        _ => None,
    }
}

/// A decimal amount: optional sign, digits, optional `.` and decimals (`1234.50`, `-3`,
/// `.5`). Thousands separators, currency signs and exponents are rejected rather than
/// guessed at, since `1,234` means different things in different locales. A number too
/// large for a float (more than about 1.8 × 10^308) is `None` rather than infinity.
pub fn parse_money(s: &str) -> Option<f64> {
    let t = s.trim();
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let mut seen_digit = false;
    let mut seen_dot = false;
    for c in body.bytes() {
        match c {
            b'0'..=b'9' => seen_digit = true,
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if !seen_digit {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Whether text is a number, in any form Rust reads, too large to be stored as a float: it
/// parses as infinity without saying `inf`. Lets an error say "too large" rather than "not a
/// number".
pub fn overflows(s: &str) -> bool {
    let t = s.trim();
    !t.bytes()
        .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
        && t.parse::<f64>().is_ok_and(f64::is_infinite)
}

/// A parsed canonical value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text, trimmed.
    Text(String),
    /// Arrow Date32 days.
    Date(i32),
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
    /// Float64.
    Float(f64),
    /// Int64.
    Integer(i64),
    /// Boolean.
    Bool(bool),
}

/// Parses text as a value of the given type. `None` when it does not parse or a date lies
/// outside [`MIN_DATE`]..=[`MAX_DATE`].
pub fn parse_value(ty: crate::ColumnType, s: &str) -> Option<Value> {
    use crate::ColumnType as T;
    let in_range = |d: NaiveDate| (MIN_DATE..=MAX_DATE).contains(&d);
    match ty {
        T::Text => Some(Value::Text(s.trim().to_string())),
        T::Date => parse_date(s)
            .filter(|d| in_range(*d))
            .map(|d| Value::Date(date_to_days(d))),
        T::Timestamp => {
            let us = parse_timestamp(s)?;
            let d = DateTime::from_timestamp_micros(us)?.date_naive();
            in_range(d).then_some(Value::Timestamp(us))
        }
        T::Money => parse_money(s).map(Value::Float),
        T::Float => {
            let v: f64 = s.trim().parse().ok()?;
            v.is_finite().then_some(Value::Float(v))
        }
        T::Integer => {
            let t = s.trim();
            t.parse::<i64>()
                .ok()
                .or_else(|| {
                    // Spreadsheets export whole numbers as "3.0".
                    let f: f64 = t.parse().ok()?;
                    (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
                })
                .map(Value::Integer)
        }
        T::Bool => parse_bool(s).map(Value::Bool),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ColumnType;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn dates_in_every_accepted_form() {
        assert_eq!(parse_date("2024-03-01"), Some(ymd(2024, 3, 1)));
        assert_eq!(parse_date(" 20240301 "), Some(ymd(2024, 3, 1)));
        assert_eq!(
            parse_date("2024-03-01T23:30:00-05:00"),
            Some(ymd(2024, 3, 1))
        );
        assert_eq!(parse_date("2024-03-01T10:00:00Z"), Some(ymd(2024, 3, 1)));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_date("03/01/2024"), None);
        assert_eq!(parse_date("2024-03-01Tgarbage"), None);
        assert_eq!(parse_date(""), None);
    }

    #[test]
    fn epoch_days_round_trip() {
        assert_eq!(date_to_days(ymd(1970, 1, 1)), 0);
        assert_eq!(date_to_days(ymd(2024, 3, 1)), 19783);
        assert_eq!(days_to_date(19783), ymd(2024, 3, 1));
    }

    #[test]
    fn timestamps_normalise_to_utc() {
        let z = parse_timestamp("2024-03-01T10:00:00Z").unwrap();
        assert_eq!(z, 1_709_287_200_000_000);
        assert_eq!(parse_timestamp("2024-03-01T05:00:00-05:00"), Some(z));
        assert_eq!(parse_timestamp("2024-03-01 10:00:00"), Some(z));
        assert_eq!(parse_timestamp("2024-03-01T10:00"), Some(z));
        assert_eq!(parse_timestamp("2024-03-01"), Some(1_709_251_200_000_000));
        assert_eq!(parse_timestamp("20240301"), Some(1_709_251_200_000_000));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn booleans_and_money() {
        for t in ["true", "TRUE", "1", "yes", "Y"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "0", "No", "n"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(parse_money("1234.50"), Some(1234.5));
        assert_eq!(parse_money("-3"), Some(-3.0));
        assert_eq!(parse_money(".5"), Some(0.5));
        for bad in ["1,234.50", "$12", "1e3", "", ".", "12.3.4", "abc"] {
            assert_eq!(parse_money(bad), None, "{bad}");
        }
    }

    #[test]
    fn values_outside_the_date_range_are_rejected() {
        assert_eq!(parse_value(ColumnType::Date, "1899-12-31"), None);
        assert_eq!(parse_value(ColumnType::Date, "2101-01-01"), None);
        assert!(parse_value(ColumnType::Timestamp, "2100-12-31T23:59:59Z").is_some());
        assert_eq!(
            parse_value(ColumnType::Integer, "3.0"),
            Some(Value::Integer(3))
        );
        assert_eq!(parse_value(ColumnType::Integer, "3.5"), None);
        assert_eq!(parse_value(ColumnType::Float, "NaN"), None);
        let huge = format!("1{}", "0".repeat(400));
        for ty in [ColumnType::Money, ColumnType::Float, ColumnType::Integer] {
            assert_eq!(parse_value(ty, &huge), None, "{ty:?}");
        }
        assert_eq!(parse_money(&format!("-{huge}.5")), None);
        assert!(overflows(&huge) && overflows("1e400") && !overflows("inf") && !overflows("12"));
    }
}
