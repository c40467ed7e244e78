//! Parsing `Retry-After` values (RFC 9110 §10.2.3).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flunq_retry::{RetryAfterError, parse_retry_after};

/// Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example date.
fn rfc_example_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(784_111_777)
}

#[test]
fn parses_delay_seconds() {
    let now = rfc_example_time();
    assert_eq!(parse_retry_after("120", now), Ok(Duration::from_secs(120)));
    assert_eq!(parse_retry_after("0", now), Ok(Duration::ZERO));
    assert_eq!(
        parse_retry_after(" \t30 ", now),
        Ok(Duration::from_secs(30))
    );
}

#[test]
fn overflowing_seconds_saturate() {
    let now = rfc_example_time();
    let huge = "99999999999999999999999999999999";
    assert_eq!(
        parse_retry_after(huge, now),
        Ok(Duration::from_secs(u64::MAX))
    );
    assert_eq!(
        parse_retry_after("18446744073709551615", now),
        Ok(Duration::from_secs(u64::MAX))
    );
}

#[test]
fn parses_imf_fixdate_relative_to_now() {
    let now = rfc_example_time();
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
        Ok(Duration::from_secs(60))
    );
}

#[test]
fn parses_obsolete_rfc850_date() {
    let now = rfc_example_time();
    assert_eq!(
        parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now),
        Ok(Duration::from_secs(10))
    );
}

#[test]
fn parses_obsolete_asctime_date() {
    let now = rfc_example_time();
    assert_eq!(
        parse_retry_after("Sun Nov  6 08:49:57 1994", now),
        Ok(Duration::from_secs(20))
    );
}

#[test]
fn date_in_the_past_means_zero() {
    let now = rfc_example_time();
    assert_eq!(
        parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now),
        Ok(Duration::ZERO)
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
        Ok(Duration::ZERO)
    );
}

#[test]
fn garbage_is_an_invalid_value_error() {
    let now = rfc_example_time();
    for garbage in [
        "soon",
        "-5",
        "1.5",
        "12s",
        "+3",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 GMT extra",
        "Sun, 06 Nov 94",
        "Sun Nov  6 08:49:37",
    ] {
        let err = parse_retry_after(garbage, now).unwrap_err();
        assert_eq!(
            err,
            RetryAfterError::Invalid {
                value: garbage.to_string()
            }
        );
        assert!(err.to_string().contains(garbage), "{err}");
    }
}

#[test]
fn empty_value_is_an_empty_error() {
    assert_eq!(
        parse_retry_after("  ", rfc_example_time()),
        Err(RetryAfterError::Empty)
    );
}

#[test]
fn long_garbage_is_quoted_in_part() {
    let long = "x".repeat(10_000);
    let RetryAfterError::Invalid { value } =
        parse_retry_after(&long, rfc_example_time()).unwrap_err()
    else {
        panic!("expected Invalid");
    };
    assert_eq!(value.len(), 64);
}

#[test]
fn accepts_a_date_whose_weekday_is_wrong() {
    // 6 November 1994 was a Sunday.
    let now = rfc_example_time();
    assert_eq!(
        parse_retry_after("Mon, 06 Nov 1994 08:50:37 GMT", now),
        Ok(Duration::from_secs(60))
    );
    assert_eq!(
        parse_retry_after("Monday, 06-Nov-94 08:50:37 GMT", now),
        Ok(Duration::from_secs(60))
    );
    assert_eq!(
        parse_retry_after("Mon Nov  6 08:50:37 1994", now),
        Ok(Duration::from_secs(60))
    );
}

#[test]
fn reads_a_two_digit_year_within_fifty_years_of_now() {
    // Now: Tue, 01 Jan 2030 00:00:00 GMT.
    let now = UNIX_EPOCH + Duration::from_secs(1893456000);
    assert_eq!(
        parse_retry_after("Tuesday, 01-Jan-30 00:01:00 GMT", now),
        Ok(Duration::from_secs(60))
    );
    // 2099 would be more than 50 years ahead: it is 1999, in the past.
    assert_eq!(
        parse_retry_after("Friday, 01-Jan-99 00:00:00 GMT", now),
        Ok(Duration::ZERO)
    );
    // 2070 is 40 years ahead: 2070, not 1970 (a fixed 1970 pivot would say the past).
    assert_eq!(
        parse_retry_after("Wednesday, 01-Jan-70 00:00:00 GMT", now),
        Ok(Duration::from_secs(1262304000))
    );
}
