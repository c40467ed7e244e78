//! One attempt of each task type: send, and classify what came back.
//!
//! A runner returns an [`AttemptResult`]: the value for `result` (when there is a
//! response), and the failure, if any, with what the retry decision needs (is it worth
//! retrying, could the request have reached the upstream, a `Retry-After` hint).

mod database;
mod http;

use std::time::Duration;

use serde_json::Value;

pub(crate) use database::run_database;
pub(crate) use http::{HttpContext, run_graphql, run_http, timeout_failure};

use crate::record::{ErrorKind, ExecError};

/// What one attempt produced.
#[derive(Debug)]
pub(crate) struct AttemptResult {
    /// The value for the record's `result` (the response, or the rows).
    pub(crate) result: Option<Value>,
    /// The upstream's status code, for HTTP.
    pub(crate) status_code: Option<u16>,
    /// `None` on success.
    pub(crate) failure: Option<Failure>,
}

/// Why an attempt did not succeed.
#[derive(Debug)]
pub(crate) struct Failure {
    /// For records and metrics.
    pub(crate) error: ExecError,
    /// Worth another attempt (before the safe-method rule).
    pub(crate) retryable: bool,
    /// Whether the request may have reached the upstream: `false` only for failures
    /// before anything was sent (connect refused, DNS, TLS handshake, open circuit).
    pub(crate) may_have_reached: bool,
    /// A `Retry-After` from a 429 or 503.
    pub(crate) retry_after: Option<Duration>,
    /// How the circuit breaker should count it.
    pub(crate) breaker: BreakerVerdict,
}

/// How an attempt counts for the circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BreakerVerdict {
    /// The upstream is healthy (2xx, and client errors that are the caller's fault).
    Success,
    /// The upstream failed (5xx, 429, timeouts, connection failures).
    Failure,
    /// Says nothing about the upstream (egress denied, bad credentials config).
    Ignored,
}

impl AttemptResult {
    pub(crate) fn success(result: Value, status_code: Option<u16>) -> Self {
        Self {
            result: Some(result),
            status_code,
            failure: None,
        }
    }

    pub(crate) fn failed(failure: Failure) -> Self {
        Self {
            result: None,
            status_code: None,
            failure: Some(failure),
        }
    }

    pub(crate) fn breaker_verdict(&self) -> BreakerVerdict {
        self.failure
            .as_ref()
            .map_or(BreakerVerdict::Success, |f| f.breaker)
    }
}

impl Failure {
    /// A failure that is final and says nothing about the upstream.
    pub(crate) fn final_(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            error: ExecError::new(kind, message),
            retryable: false,
            may_have_reached: false,
            retry_after: None,
            breaker: BreakerVerdict::Ignored,
        }
    }
}
