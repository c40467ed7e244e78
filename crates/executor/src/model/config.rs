//! Stored configurations: settings that apply beneath a task's own, by config id or name.

use std::collections::BTreeMap;

use flunq_auth::{AuthConfig, Secret};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::duration::ApiDuration;
use super::input::RetryInput;

/// A configuration as the API receives it (`POST /api/v1/configs`, `PUT .../{id}`).
///
/// The response-only fields (`id`, `version`, `created_at`, `updated_at`) are accepted
/// and ignored, so a client can `GET`, change a field and `PUT` the document back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigInput {
    /// Unique name. Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Base of relative task URLs.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::shown::serialize_url"
    )]
    pub base_url: Option<String>,
    /// Headers sent with every request (the task's own win).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::shown::serialize_headers"
    )]
    pub headers: Option<BTreeMap<String, String>>,
    /// Credentials used when the task has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    /// Attempt timeout when the task has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<ApiDuration>,
    /// Retries when the task says nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Retry policy when the task has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryInput>,
    /// Circuit breaker settings for calls under this config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitInput>,
    /// Rate limit for calls under this config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitInput>,
    /// Values for `${name}` placeholders, never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<BTreeMap<String, Secret>>,
    /// A PostgreSQL connection string for database tasks naming this config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<Secret>,

    /// Response-only, ignored on input.
    #[serde(default, skip_serializing)]
    pub id: Option<Value>,
    /// Response-only, ignored on input.
    #[serde(default, skip_serializing)]
    pub version: Option<Value>,
    /// Response-only, ignored on input.
    #[serde(default, skip_serializing)]
    pub created_at: Option<Value>,
    /// Response-only, ignored on input.
    #[serde(default, skip_serializing)]
    pub updated_at: Option<Value>,
}

/// `circuit_breaker` of a config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitInput {
    /// Failure rate (0..=1] that opens the breaker. Default 0.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_rate: Option<f64>,
    /// Calls in the window before rates are judged. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_calls: Option<u32>,
    /// Time window of the rates. Default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<ApiDuration>,
    /// How long the breaker stays open. Default `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_for: Option<ApiDuration>,
    /// Probe calls let through when half-open. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open_calls: Option<u32>,
    /// Calls slower than this count as slow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_call_duration: Option<ApiDuration>,
    /// Slow-call rate that opens the breaker. Default 1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_call_rate: Option<f64>,
    /// Open after this many failures in a row, whatever the rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<u32>,
}

/// `rate_limit` of a config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitInput {
    /// `token_bucket` (default) or `sliding_window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<RateAlgorithm>,
    /// Requests per `per`. Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
    /// The period of `rate`. Default `1s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<ApiDuration>,
    /// Token bucket burst. Default `rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

/// A rate-limit algorithm's name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateAlgorithm {
    /// GCRA token bucket.
    #[default]
    TokenBucket,
    /// Weighted two-window counter.
    SlidingWindow,
}
