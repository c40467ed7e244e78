//! Dates and times in PostgreSQL's binary formats, to and from RFC 3339 text.
//!
//! The binary formats are integers: `date` counts days and `timestamp`/`timestamptz`
//! count microseconds from 2000-01-01 (UTC for `timestamptz`), `time` counts microseconds
//! from midnight; `i32::MAX`/`i64::MAX` and their minimums mean `infinity`/`-infinity`.
//! The calendar arithmetic below (proleptic Gregorian, H. Hinnant's days-from-civil)
//! covers PostgreSQL's whole range (years up to 294276 for timestamps, 5874897 for
//! dates), which date crates limited to four-digit years do not.

use std::fmt::Write as _;

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

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

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn write_date(out: &mut String, days_since_pg_epoch: i64) {
    let (year, month, day) = civil_from_days(days_since_pg_epoch + PG_EPOCH_DAYS);
    if year <= 0 {
        // RFC 3339 has no year 0 or negative years; PostgreSQL prints them as BC.
        let _ = write!(out, "{:04}-{month:02}-{day:02} BC", 1 - year);
    } else {
        let _ = write!(out, "{year:04}-{month:02}-{day:02}");
    }
}

fn write_time(out: &mut String, micros_of_day: i64) {
    let secs = micros_of_day / 1_000_000;
    let micros = micros_of_day % 1_000_000;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    if micros != 0 {
        let frac = format!("{micros:06}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
}

/// `date` as `YYYY-MM-DD` (`infinity`, `-infinity`, and `YYYY-MM-DD BC` before year 1).
pub(crate) fn format_date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".to_owned(),
        i32::MIN => "-infinity".to_owned(),
        d => {
            let mut s = String::with_capacity(10);
            write_date(&mut s, i64::from(d));
            s
        }
    }
}

/// `time` as `HH:MM:SS[.ffffff]`.
pub(crate) fn format_time(micros: i64) -> String {
    let mut s = String::with_capacity(15);
    write_time(&mut s, micros);
    s
}

/// `timestamp` as `YYYY-MM-DDTHH:MM:SS[.ffffff]` (no offset: the type has none), and
/// `timestamptz` the same with `Z` appended (always UTC).
pub(crate) fn format_timestamp(micros: i64, utc: bool) -> String {
    match micros {
        i64::MAX => return "infinity".to_owned(),
        i64::MIN => return "-infinity".to_owned(),
        _ => {}
    }
    let days = micros.div_euclid(MICROS_PER_DAY);
    let of_day = micros.rem_euclid(MICROS_PER_DAY);
    let mut s = String::with_capacity(27);
    write_date(&mut s, days);
    let bc = s.ends_with(" BC");
    if bc {
        s.truncate(s.len() - 3);
    }
    s.push('T');
    write_time(&mut s, of_day);
    if utc {
        s.push('Z');
    }
    if bc {
        s.push_str(" BC");
    }
    s
}

/// Parses `YYYY-MM-DD` (or `infinity`/`-infinity`) into days since 2000-01-01.
pub(crate) fn parse_date(s: &str) -> Result<i32, String> {
    match s {
        "infinity" => return Ok(i32::MAX),
        "-infinity" => return Ok(i32::MIN),
        _ => {}
    }
    let days = parse_date_days(s)?;
    i32::try_from(days).map_err(|_| "date out of range".to_owned())
}

fn parse_date_days(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a date: expected YYYY-MM-DD");
    let mut parts = s.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if y.len() < 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let year: i64 = digits(y).ok_or_else(bad)?;
    let month: u32 = digits(m).ok_or_else(bad)?;
    let day: u32 = digits(d).ok_or_else(bad)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(format!("`{s}` is not a valid calendar date"));
    }
    Ok(days_from_civil(year, month, day) - PG_EPOCH_DAYS)
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `HH:MM[:SS[.f…]]` into microseconds since midnight (digits past the sixth
/// fractional one are dropped; `24:00:00` is allowed, as PostgreSQL allows it).
pub(crate) fn parse_time(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a time: expected HH:MM:SS[.ffffff]");
    let (hms, frac) = match s.split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (s, None),
    };
    let mut parts = hms.split(':');
    let h: i64 = parts.next().and_then(digits).ok_or_else(bad)?;
    let m: i64 = parts.next().and_then(digits).ok_or_else(bad)?;
    let sec: i64 = match parts.next() {
        Some(p) => digits(p).ok_or_else(bad)?,
        None if frac.is_none() => 0,
        None => return Err(bad()),
    };
    if parts.next().is_some() || m > 59 || sec > 60 {
        return Err(bad());
    }
    let micros = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let six: String = f.chars().chain(std::iter::repeat('0')).take(6).collect();
            six.parse::<i64>().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    let total = ((h * 60 + m) * 60 + sec) * 1_000_000 + micros;
    if total > MICROS_PER_DAY {
        return Err(format!("`{s}` is past 24:00:00"));
    }
    Ok(total)
}

/// Parses an RFC 3339 timestamp (`T`, `t` or a space between date and time) into
/// microseconds since 2000-01-01 UTC. An offset is applied (the instant is kept);
/// without one the time is taken as UTC. `infinity`/`-infinity` are accepted.
pub(crate) fn parse_timestamp(s: &str) -> Result<i64, String> {
    match s {
        "infinity" => return Ok(i64::MAX),
        "-infinity" => return Ok(i64::MIN),
        _ => {}
    }
    let bad = || format!("`{s}` is not an RFC 3339 timestamp");
    let split = s
        .char_indices()
        .find(|&(_, c)| c == 'T' || c == 't' || c == ' ')
        .map(|(i, _)| i)
        .ok_or_else(bad)?;
    let (date, rest) = (&s[..split], &s[split + 1..]);
    let days = parse_date_days(date)?;
    let (time, offset_secs) = split_offset(rest).ok_or_else(bad)?;
    let of_day = parse_time(time)?;
    days.checked_mul(MICROS_PER_DAY)
        .and_then(|d| d.checked_add(of_day))
        .and_then(|t| t.checked_sub(offset_secs * 1_000_000))
        .filter(|t| *t != i64::MAX && *t != i64::MIN)
        .ok_or_else(|| format!("`{s}` is out of range"))
}

/// Splits `HH:MM:SS[.f][Z|±HH[:MM]]` into the time and the offset in seconds.
fn split_offset(rest: &str) -> Option<(&str, i64)> {
    if let Some(time) = rest.strip_suffix(['Z', 'z']) {
        return Some((time, 0));
    }
    let Some(at) = rest.rfind(['+', '-']) else {
        return Some((rest, 0));
    };
    let (time, offset) = (&rest[..at], &rest[at + 1..]);
    let sign = if rest[at..].starts_with('-') { -1 } else { 1 };
    let (h, m) = match offset.split_once(':') {
        Some((h, m)) => (h, m),
        None if offset.len() == 4 => offset.split_at(2),
        None => (offset, "0"),
    };
    let h: i64 = digits(h)?;
    let m: i64 = digits(m)?;
    (h <= 15 && m <= 59).then_some((time, sign * (h * 3600 + m * 60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_covers_leap_days_and_far_years() {
        for days in [-800_000_000, -1, 0, 59, 60, 366, 2_000_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(parse_date("2000-01-01").unwrap(), 0);
        assert_eq!(format_date(parse_date("2024-02-29").unwrap()), "2024-02-29");
        assert!(parse_date("2023-02-29").is_err());
    }

    #[test]
    fn timestamps_apply_offsets_and_keep_micros() {
        let t = parse_timestamp("2024-05-06T07:08:09.123456+02:00").unwrap();
        assert_eq!(format_timestamp(t, true), "2024-05-06T05:08:09.123456Z");
        let t = parse_timestamp("1999-12-31 23:59:59.5").unwrap();
        assert_eq!(t, -500_000);
        assert_eq!(format_timestamp(t, false), "1999-12-31T23:59:59.5");
    }

    #[test]
    fn times_parse_and_format() {
        assert_eq!(parse_time("01:02:03.25").unwrap(), 3_723_250_000);
        assert_eq!(format_time(3_723_250_000), "01:02:03.25");
        assert!(parse_time("1:2:x").is_err());
    }

    #[test]
    fn dates_before_year_one_are_bc() {
        assert_eq!(
            format_date(parse_date("0000-01-01").unwrap()),
            "0001-01-01 BC"
        );
    }
}
