//! The task as submitted: plain serde data with the API's field names.
//!
//! One flat struct for the three task types, because they share field names with
//! different meanings (`query` is an object of query parameters for `http`, a GraphQL
//! document for `graphql`, SQL for `database`): the validator reads `type` first and then
//! the fields that type owns, and refuses the ones it does not.
//! `deny_unknown_fields` turns a typo (`"retires": 3`) into a `400` naming the field.

use std::collections::BTreeMap;

use flunq_auth::AuthConfig;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::duration::ApiDuration;

/// The `type` of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    /// An HTTP request.
    Http,
    /// A GraphQL operation over HTTP POST.
    Graphql,
    /// One PostgreSQL statement.
    Database,
}

impl TaskType {
    /// The name used in records and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Http => "http",
            TaskType::Graphql => "graphql",
            TaskType::Database => "database",
        }
    }
}

/// A task as the API receives it (`POST /api/v1/execute`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    /// `"http"`, `"graphql"` or `"database"`. Required.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TaskType>,
    /// Id or name of a stored configuration whose settings apply beneath the task's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// Limit of one attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<ApiDuration>,
    /// Retries after the first attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// The retry policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryInput>,
    /// Credentials for the upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    /// Values for `${name}` placeholders.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub inputs: Map<String, Value>,
    /// The same as the `Idempotency-Key` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,

    /// http: the method, `GET` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// http: absolute URL, or relative to the config's `base_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// http and graphql: request headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// http: query parameters (object); graphql: the document; database: the SQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Value>,
    /// http: the body, encoded by the request's `Content-Type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// http: follow redirects (default true, at most 10 hops).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// http: how to decode the response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<flunq_transform::ResponseFormat>,

    /// graphql: the endpoint URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// graphql: the variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Value>,
    /// graphql: the operation name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_name: Option<String>,

    /// database: a stored config's name, or a PostgreSQL connection string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// database: parameters bound by the statement's types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Vec<Value>>,
    /// database: run in a read-only transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// database: at most this many rows come back (default 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<u64>,
}

/// The retry policy object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryInput {
    /// `fixed`, `exponential` (default), `linear`, `custom` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyName>,
    /// The first delay (before jitter). Default `100ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<ApiDuration>,
    /// The cap of every delay. Default `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<ApiDuration>,
    /// Exponential growth. Default 2.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    /// Linear growth. Default `delay`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub increment: Option<ApiDuration>,
    /// Custom schedule; the last repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delays: Option<Vec<ApiDuration>>,
    /// `none`, `full`, `equal` or `decorrelated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<JitterName>,
    /// Bound of the whole execution, waits included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_elapsed: Option<ApiDuration>,
    /// Statuses that are retried. Default `[408, 425, 429, 500, 502, 503, 504]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_status: Option<Vec<u16>>,
    /// Retry `POST`/`PATCH` after failures that may have reached the upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_unsafe: Option<bool>,
}

/// A retry schedule's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyName {
    /// Always `delay`.
    Fixed,
    /// `delay * multiplier^n`.
    Exponential,
    /// `delay + increment * n`.
    Linear,
    /// `delays`, the last repeating.
    Custom,
    /// No retry.
    None,
}

/// A jitter kind's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JitterName {
    /// No jitter.
    None,
    /// `U(0, d)`.
    Full,
    /// `d/2 + U(0, d/2)`.
    Equal,
    /// `min(cap, U(base, prev * 3))`.
    Decorrelated,
}
