//! HTTP-dates (RFC 9110 §5.6.7), parsed as leniently as real-world clients do.
//!
//! All three forms are accepted: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850
//! (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`). The weekday
//! is not checked against the date: it is redundant, and servers do get it wrong. A two-digit
//! year is read as RFC 9110 asks: the year with those last two digits that is at most 50
//! years after the current one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The instant an HTTP-date names, or `None` if `value` is not one. `now` places two-digit
/// years; a date before 1970 is returned as the Unix epoch (it is in the past either way).
pub(crate) fn parse(value: &str, now: SystemTime) -> Option<SystemTime> {
    let (day, month, year, time) = match value.split_once(',') {
        // IMF-fixdate or RFC 850: the weekday before the comma is ignored.
        Some((_weekday, rest)) => {
            let mut fields = rest.split([' ', '-']).filter(|field| !field.is_empty());
            let date = (
                fields.next()?,
                fields.next()?,
                fields.next()?,
                fields.next()?,
            );
            if !fields.next()?.eq_ignore_ascii_case("GMT") || fields.next().is_some() {
                return None;
            }
            date
        }
        // asctime: weekday, month, day, time, year.
        None => {
            let mut fields = value.split_ascii_whitespace();
            let _weekday = fields.next()?;
            let (month, day, time, year) = (
                fields.next()?,
                fields.next()?,
                fields.next()?,
                fields.next()?,
            );
            if fields.next().is_some() {
                return None;
            }
            (day, month, year, time)
        }
    };
    let month = MONTHS
        .iter()
        .position(|name| name.eq_ignore_ascii_case(month))?;
    let year = match year.len() {
        2 => two_digit_year(number(year)?, now),
        4 => number(year)?,
        _ => return None,
    };
    let day = number(day).filter(|day| (1..=days_in_month(year, month)).contains(day))?;
    let seconds = seconds_of_day(time)?;
    let days = days_since_epoch(year, month, day);
    let at = days.checked_mul(86_400)?.checked_add(seconds)?;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(at).unwrap_or(0)))
}

/// One or more ASCII digits (at most four) as a number.
fn number(digits: &str) -> Option<i64> {
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `hh:mm:ss`, two digits each, as seconds since midnight.
fn seconds_of_day(time: &str) -> Option<i64> {
    let mut parts = time.split(':');
    let mut part = |limit: i64| {
        parts
            .next()
            .filter(|part| part.len() == 2)
            .and_then(number)
            .filter(|value| *value < limit)
    };
    let (hours, minutes, seconds) = (part(24)?, part(60)?, part(60)?);
    if parts.next().is_some() {
        return None;
    }
    Some(hours * 3600 + minutes * 60 + seconds)
}

/// RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
fn two_digit_year(two_digits: i64, now: SystemTime) -> i64 {
    // The current year from the mean Gregorian year: off by a day at most around New Year,
    // which moves the pivot only for a date exactly 50 years away.
    let seconds = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let current = 1970 + i64::try_from(seconds / 31_556_952).unwrap_or(0);
    let year = current - current % 100 + two_digits;
    if year > current + 50 {
        year - 100
    } else if year <= current - 50 {
        year + 100
    } else {
        year
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// `month` from 0 (January).
fn days_in_month(year: i64, month: usize) -> i64 {
    match month {
        1 if is_leap(year) => 29,
        1 => 28,
        3 | 5 | 8 | 10 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date (negative before), `month` from 0.
fn days_since_epoch(year: i64, month: usize, day: i64) -> i64 {
    // Count from March, so that the leap day ends the year.
    let (year, month) = if month < 2 {
        (year - 1, month as i64 + 10)
    } else {
        (year, month as i64 - 2)
    };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719_468 days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_days_from_the_epoch() {
        assert_eq!(days_since_epoch(1970, 0, 1), 0);
        assert_eq!(days_since_epoch(1994, 10, 6), 9075);
        assert_eq!(days_since_epoch(2000, 1, 29), 11_016);
        assert_eq!(days_since_epoch(1969, 11, 31), -1);
    }

    #[test]
    fn rejects_the_29th_of_february_of_a_common_year() {
        let now = UNIX_EPOCH;
        assert!(parse("Mon, 29 Feb 2100 00:00:00 GMT", now).is_none());
        assert!(parse("Tue, 29 Feb 2000 00:00:00 GMT", now).is_some());
    }
}
