//! Parsing the `Retry-After` header value (RFC 9110 §10.2.3), free of any HTTP crate.

use std::time::{Duration, SystemTime};

use crate::http_date;

/// The longest part of a bad value an error repeats.
const MAX_QUOTED: usize = 64;

/// A `Retry-After` value that is neither delay-seconds nor an HTTP-date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryAfterError {
    /// The value is empty or only whitespace.
    #[error("empty Retry-After value")]
    Empty,
    /// The value is neither a number of seconds nor an HTTP-date.
    #[error(
        "invalid Retry-After value {value:?}: expected delay-seconds (\"120\") or an \
         HTTP-date (\"Sun, 06 Nov 1994 08:49:37 GMT\")"
    )]
    Invalid {
        /// The value (its first 64 characters).
        value: String,
    },
}

/// How long a `Retry-After` value asks to wait, measured from `now`.
///
/// Accepts delay-seconds (`"120"`) and every HTTP-date form: IMF-fixdate
/// (`"Sun, 06 Nov 1994 08:49:37 GMT"`) and the obsolete RFC 850
/// (`"Sunday, 06-Nov-94 08:49:37 GMT"`) and asctime (`"Sun Nov  6 08:49:37 1994"`) forms.
/// Like browsers and curl, it is lenient where servers are known to slip: the weekday is not
/// checked against the date, and month names and `GMT` may be in any case. An RFC 850
/// two-digit year more than 50 years after `now`'s year is in the previous century
/// (RFC 9110 §5.6.7). Surrounding spaces and tabs are ignored. A date in the past means zero. A number of
/// seconds too large to represent saturates at `u64::MAX` seconds, as RFC 9111 §1.2.2 asks
/// of delta-seconds; a retry policy's cap then applies (see
/// [`Decision::RetryAfter`](crate::Decision::RetryAfter)).
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use flunq_retry::parse_retry_after;
///
/// let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
/// assert_eq!(parse_retry_after("120", now), Ok(Duration::from_secs(120)));
/// assert_eq!(
///     parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", now),
///     Ok(Duration::from_secs(120))
/// );
/// assert!(parse_retry_after("soon", now).is_err());
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Result<Duration, RetryAfterError> {
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() {
        return Err(RetryAfterError::Empty);
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // Only digits, at least one: parsing can fail only by overflow.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Ok(Duration::from_secs(seconds));
    }
    match http_date::parse(value, now) {
        Some(at) => Ok(at.duration_since(now).unwrap_or(Duration::ZERO)),
        None => Err(RetryAfterError::Invalid {
            value: value.chars().take(MAX_QUOTED).collect(),
        }),
    }
}
