//! Durations as the API spells them: strings such as `"250ms"`, `"30s"`, `"5m"`, `"1h"`.
//! A bare number is refused: `30` could mean seconds or milliseconds.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as a string (`"250ms"`, `"1h 30m"`), never as a bare number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ApiDuration(pub Duration);

impl ApiDuration {
    /// Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"` and combinations (`"1m 30s"`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(
                "expected a duration such as \"250ms\" or \"30s\", got an empty string".into(),
            );
        }
        if trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(format!(
                "\"{trimmed}\" has no unit: write a duration such as \"{trimmed}s\" or \"{trimmed}ms\""
            ));
        }
        let parsed = humantime::parse_duration(trimmed).map_err(|e| {
            format!(
                "\"{}\" is not a duration ({e}); expected e.g. \"250ms\", \"30s\", \"5m\"",
                shorten(trimmed)
            )
        })?;
        if parsed > Self::MAX {
            return Err(format!(
                "\"{}\" is longer than the longest duration the API takes, 365 days",
                shorten(trimmed)
            ));
        }
        Ok(ApiDuration(parsed))
    }

    /// The longest duration the API takes: a year. Longer ones mean nothing for a
    /// call or a wait, and would overflow the clock arithmetic of deadlines.
    pub const MAX: Duration = Duration::from_secs(365 * 24 * 60 * 60);

    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

/// Formats a duration the way the API reads it back (`"1m 30s"`, `"250ms"`).
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

impl Serialize for ApiDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for ApiDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = ApiDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"250ms\", \"30s\" or \"5m\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ApiDuration, E> {
                ApiDuration::parse(v).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ApiDuration, E> {
                Err(E::custom(format!(
                    "a bare number ({v}) is not a duration: write \"{v}s\" or \"{v}ms\""
                )))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ApiDuration, E> {
                Err(E::custom(format!(
                    "a bare number ({v}) is not a duration: write a string such as \"30s\""
                )))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ApiDuration, E> {
                Err(E::custom(format!(
                    "a bare number ({v}) is not a duration: write a string such as \"1.5s\""
                )))
            }
        }

        deserializer.deserialize_any(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(
            ApiDuration::parse("250ms").unwrap().get(),
            Duration::from_millis(250)
        );
        assert_eq!(
            ApiDuration::parse("30s").unwrap().get(),
            Duration::from_secs(30)
        );
        assert_eq!(
            ApiDuration::parse("5m").unwrap().get(),
            Duration::from_secs(300)
        );
        assert_eq!(
            ApiDuration::parse("1h").unwrap().get(),
            Duration::from_secs(3600)
        );
        assert_eq!(
            ApiDuration::parse("1m 30s").unwrap().get(),
            Duration::from_secs(90)
        );
    }

    #[test]
    fn refuses_bare_numbers_and_garbage() {
        assert!(ApiDuration::parse("30").unwrap_err().contains("no unit"));
        assert!(ApiDuration::parse("").is_err());
        assert!(ApiDuration::parse("soon").is_err());
        let err = serde_json::from_str::<ApiDuration>("30")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bare number"), "{err}");
        // Beyond a year: refused (a deadline that far would overflow the clock).
        for long in ["366d", "5000000000000000h", "18446744073709551615s"] {
            let err = ApiDuration::parse(long).unwrap_err();
            assert!(err.contains("365 days"), "{long}: {err}");
            assert!(serde_json::from_str::<ApiDuration>(&format!("\"{long}\"")).is_err());
        }
        assert_eq!(ApiDuration::parse("365d").unwrap().get(), ApiDuration::MAX);
    }

    #[test]
    fn round_trips_through_serde() {
        let d: ApiDuration = serde_json::from_str("\"90s\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"1m 30s\"");
    }
}
