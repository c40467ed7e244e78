//! A task validated, merged with its config and with placeholders resolved: what the
//! attempt pipeline runs. Nothing here is re-parsed later.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use flunq_auth::Authenticator;
use flunq_http_client::{HeaderMap, Method, Url};
use flunq_retry::RetryPolicy;
use flunq_transform::ResponseFormat;
use serde_json::Value;

use super::input::TaskType;
use super::placeholder::Masker;
use crate::limits::LimitSpec;

/// A task ready to run.
#[derive(Debug, Clone)]
pub struct PreparedTask {
    /// The task's type.
    pub kind: TaskType,
    /// What one attempt does.
    pub call: Call,
    /// Limit of one attempt.
    pub timeout: Duration,
    /// When and how to retry.
    pub retry: RetryPlan,
    /// Applies the credentials (placeholders resolved), built once for every attempt.
    pub auth: Option<Arc<Authenticator>>,
    /// The key of the breaker and the limiter: `config:<name>`, else the origin.
    pub key: Arc<str>,
    /// The upstream's origin (`scheme://host:port`), the label of its request metrics.
    pub origin: Arc<str>,
    /// Breaker settings of the config, if it has any.
    pub breaker: Option<crate::limits::BreakerProfile>,
    /// Rate limit of the config, else the default per origin.
    pub limit: Option<LimitSpec>,
    /// Secret values to hide wherever they might surface.
    pub masker: Masker,
    /// The idempotency key, if any (it also allows retrying unsafe methods).
    pub idempotency_key: Option<String>,
}

/// What one attempt sends.
#[derive(Debug, Clone)]
pub enum Call {
    /// An HTTP request.
    Http(HttpCall),
    /// A GraphQL operation (an HTTP POST with a JSON body).
    Graphql(HttpCall),
    /// A PostgreSQL statement.
    Database(DatabaseCall),
}

/// An HTTP request, ready to send.
#[derive(Debug, Clone)]
pub struct HttpCall {
    /// The method.
    pub method: Method,
    /// The absolute URL, query included.
    pub url: Url,
    /// The headers (config's, then the task's).
    pub headers: HeaderMap,
    /// The encoded body.
    pub body: Bytes,
    /// Whether to follow redirects.
    pub follow_redirects: bool,
    /// How to decode the response body.
    pub response_format: ResponseFormat,
    /// Whether sending it twice may do twice what it does: a `POST` or `PATCH`, a
    /// GraphQL mutation. Retried after it may have reached the upstream only when the
    /// task says that is safe (`retry.retry_unsafe`, an idempotency key).
    pub repeat_unsafe: bool,
}

/// A PostgreSQL statement, ready to run.
#[derive(Debug, Clone)]
pub struct DatabaseCall {
    /// The parsed connection target.
    pub target: Arc<flunq_postgres::ConnectionTarget>,
    /// The SQL.
    pub sql: String,
    /// The parameters.
    pub params: Vec<Value>,
    /// Run in a read-only transaction.
    pub read_only: bool,
    /// Rows returned at most.
    pub max_rows: usize,
}

/// The retry decision's inputs.
#[derive(Debug, Clone)]
pub struct RetryPlan {
    /// The schedule, jitter and limits (retries, `max_elapsed`).
    pub policy: RetryPolicy,
    /// Statuses that are retried.
    pub on_status: Vec<u16>,
    /// Whether failures that may have reached the upstream are retried for unsafe methods.
    pub retry_unsafe: bool,
}

impl RetryPlan {
    /// Whether a response status is retried.
    pub fn retries_status(&self, status: u16) -> bool {
        self.on_status.contains(&status)
    }
}
