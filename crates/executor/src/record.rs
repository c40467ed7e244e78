//! Execution records: status, attempts, result, error, as the API shows them.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// Where an execution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted, waiting for a worker.
    Queued,
    /// A worker runs it.
    Running,
    /// Finished well.
    Succeeded,
    /// Finished badly.
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl Status {
    /// Whether the execution is over.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Cancelled)
    }

    /// The name used in the API and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Parses a status name (for the `status` filter of the listing).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => Status::Queued,
            "running" => Status::Running,
            "succeeded" => Status::Succeeded,
            "failed" => Status::Failed,
            "cancelled" => Status::Cancelled,
            _ => return None,
        })
    }
}

/// What kind of failure an attempt or an execution met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The attempt timed out.
    Timeout,
    /// No connection could be made.
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// The upstream answered with a status that is not a success.
    HttpStatus,
    /// The circuit breaker refused the call.
    CircuitOpen,
    /// The egress policy refused the destination.
    EgressDenied,
    /// The response exceeded `MAX_RESPONSE_BYTES`.
    ResponseTooLarge,
    /// Credentials could not be obtained or applied.
    Auth,
    /// The GraphQL response had errors and no data.
    Graphql,
    /// The database refused the statement.
    Database,
    /// The execution was cancelled.
    Cancelled,
    /// Anything else.
    Internal,
}

impl ErrorKind {
    /// The name used in the API and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::EgressDenied => "egress_denied",
            ErrorKind::ResponseTooLarge => "response_too_large",
            ErrorKind::Auth => "auth",
            ErrorKind::Graphql => "graphql",
            ErrorKind::Database => "database",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error as records show it: `{"kind": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecError {
    /// The kind.
    pub kind: ErrorKind,
    /// What happened, secrets masked.
    pub message: String,
}

impl ExecError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// One attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// 1 for the first attempt.
    pub number: u32,
    /// When it started (RFC 3339).
    #[serde(with = "rfc3339")]
    pub started_at: SystemTime,
    /// How long it took.
    pub duration_ms: u64,
    /// The upstream's status, when there was a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// What went wrong, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ExecError>,
}

/// An execution record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// A UUIDv7: sorts by creation time.
    pub id: String,
    /// The task's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where the execution is.
    pub status: Status,
    /// When it was accepted.
    #[serde(with = "rfc3339")]
    pub created_at: SystemTime,
    /// When a worker took it.
    #[serde(with = "rfc3339_opt", default)]
    pub started_at: Option<SystemTime>,
    /// When it finished.
    #[serde(with = "rfc3339_opt", default)]
    pub finished_at: Option<SystemTime>,
    /// Every attempt, in order.
    pub attempts: Vec<AttemptRecord>,
    /// The last response (http, graphql) or the statement's result (database).
    pub result: Option<Value>,
    /// Why it failed, when it did.
    pub error: Option<ExecError>,
    /// The submitted task, secrets masked, kept as its JSON text: a parsed copy would
    /// cost several times the memory for every queued execution.
    pub task: Box<RawValue>,
    /// The idempotency key it was submitted with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl ExecutionRecord {
    /// A new record, `queued` now, with no attempt yet.
    pub fn queued(
        id: String,
        kind: &str,
        task: Box<RawValue>,
        idempotency_key: Option<String>,
    ) -> Self {
        Self {
            id,
            kind: kind.to_owned(),
            status: Status::Queued,
            created_at: SystemTime::now(),
            started_at: None,
            finished_at: None,
            attempts: Vec::new(),
            result: None,
            error: None,
            task,
            idempotency_key,
        }
    }
}

/// RFC 3339 UTC timestamps with milliseconds.
pub mod rfc3339 {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    /// Formats a time.
    pub fn format(time: SystemTime) -> String {
        let mut buf = [0u8; 24];
        write(time, &mut buf).to_owned()
    }

    /// Serializes a time.
    pub fn serialize<S: Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 24];
        s.serialize_str(write(*time, &mut buf))
    }

    /// Deserializes a time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)
    }

    /// The last instant this form can show: 9999-12-31T23:59:59.999Z.
    const LAST: Duration = Duration::from_millis(253_402_300_799_999);

    /// `time` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (milliseconds truncated: the text humantime's
    /// `format_rfc3339_millis` gives), written into `buf`. Every record carries up to
    /// four timestamps, and going through `Display` and serde's `collect_str` cost about
    /// 900 instructions each, ten times this. A time outside the years 1970 to 9999,
    /// which this form cannot show (humantime panics on it), is written as the nearest
    /// of the two: this process's clock gives none, but a record read back from Redis
    /// might (a leap second in the year 9999).
    pub(crate) fn write(time: SystemTime, buf: &mut [u8; 24]) -> &str {
        let since = time
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .min(LAST);
        let secs = since.as_secs();
        let (days, of_day) = (secs / 86_400, secs % 86_400);
        // Days to a civil date (H. Hinnant's `civil_from_days`, for days >= 0).
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        let fields = [
            (0, 4, year),
            (5, 2, month),
            (8, 2, day),
            (11, 2, of_day / 3_600),
            (14, 2, of_day % 3_600 / 60),
            (17, 2, of_day % 60),
            (20, 3, u64::from(since.subsec_millis())),
        ];
        for (at, width, mut value) in fields {
            for i in (at..at + width).rev() {
                // A digit: `value % 10` is below 10.
                buf[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        for (at, sep) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (23, b'Z'),
        ] {
            buf[at] = sep;
        }
        // ASCII digits and separators only: always UTF-8.
        std::str::from_utf8(buf).unwrap_or_default()
    }

    #[cfg(test)]
    mod tests {

        use super::*;

        #[test]
        fn the_text_is_humantimes_on_every_day_from_1970_to_9999() {
            const LAST_DAY: u64 = 2_932_896; // 9999-12-31
            let mut buf = [0u8; 24];
            for day in 0..=LAST_DAY {
                // A different time of day and millisecond each day, both bounds included.
                let of_day = match day {
                    0 => 0,
                    LAST_DAY => 86_399_999,
                    _ => day.wrapping_mul(2_654_435_761) % 86_400_000,
                };
                let time = UNIX_EPOCH + Duration::from_millis(day * 86_400_000 + of_day);
                assert_eq!(
                    write(time, &mut buf),
                    humantime::format_rfc3339_millis(time).to_string(),
                    "day {day}"
                );
            }
        }

        #[test]
        fn out_of_range_times_are_written_as_the_nearest_bound() {
            let mut buf = [0u8; 24];
            let late = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
            assert_eq!(write(late, &mut buf), "9999-12-31T23:59:59.999Z");
            let early = UNIX_EPOCH - Duration::from_secs(1);
            assert_eq!(write(early, &mut buf), "1970-01-01T00:00:00.000Z");
            assert_eq!(
                format(UNIX_EPOCH + Duration::from_millis(1_500)),
                "1970-01-01T00:00:01.500Z"
            );
        }
    }
}

/// Optional RFC 3339 timestamps (`null` when absent).
pub mod rfc3339_opt {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes an optional time.
    pub fn serialize<S: Serializer>(time: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match time {
            Some(t) => super::rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    /// Deserializes an optional time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| humantime::parse_rfc3339_weak(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}
