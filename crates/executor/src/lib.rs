//! The executor engine: it takes tasks (an HTTP request, a GraphQL operation, a
//! PostgreSQL statement), queues them, and runs each through the attempt pipeline with
//! timeouts, retries with backoff and jitter, circuit breakers, rate limits and
//! authentication, recording every attempt.
//!
//! # Design
//!
//! - **Validated once, at the edge.** [`Engine::submit`] parses the JSON task
//!   ([`model::input::TaskInput`], the API's field names), merges its stored config
//!   beneath it, resolves `${name}` placeholders (inputs, then the config's secrets) and
//!   produces a [`model::prepared::PreparedTask`]: typed method, URL, headers, encoded
//!   body, retry policy, breaker and limiter settings. Every error names its field
//!   (`retry.delay`), and nothing is queued when anything is wrong.
//! - **One attempt, in order** (see `pipeline.rs`, readable in one place): rate limiter
//!   for the task's key (config, else upstream origin) → circuit breaker for the same key
//!   → auth → egress-checked send under the attempt timeout and size limit → classify
//!   and record in the breaker → retry decision (`Retry-After`, the safe-method rule,
//!   `on_status`).
//! - **State behind traits** ([`store::ExecutionStore`], [`store::ConfigStore`],
//!   [`store::Queue`]), served from memory ([`Engine::in_memory`]) or from Redis
//!   ([`Engine::with_redis`], [`store::redis`]: any number of instances share the queue,
//!   the records, the configs and the rate limits; a dead instance's work is taken over
//!   after its lease runs out).
//! - **Retry waits hold no worker.** An execution waiting for its next attempt gives its
//!   slot back; `concurrency` bounds attempts in flight.
//! - **No hand-off when none is needed.** In memory, a task submitted while a slot is
//!   free and nothing is queued starts at once; with [`Engine::submit_and_wait`]
//!   (`?wait=`) it runs inside the caller's task, and goes on in a task of its own if the
//!   caller stops waiting.
//! - **Secrets never come back.** Values that came from a config's secrets and every
//!   credential are masked as `***` in records, and in any response body or error
//!   message that echoes them.
//!
//! # Example
//!
//! ```
//! use flunq_executor::{Engine, EngineOptions};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::in_memory(EngineOptions::default())?;
//! // A bad task is refused with the field at fault, and nothing is queued.
//! let err = engine.submit(br#"{"type": "http", "url": "https://api.example.com", "timeout": 30}"#, None).await.unwrap_err();
//! assert!(err.to_string().contains("timeout"));
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod auth;
mod engine;
pub mod limits;
pub mod metrics;
pub mod model;
mod pipeline;
mod recent;
pub mod record;
mod runner;
pub mod store;

pub use engine::{
    CancelError, ConfigError, Engine, EngineOptions, StartError, SubmitError, Submitted,
};
pub use model::errors::{FieldError, Invalid};
pub use record::{AttemptRecord, ErrorKind, ExecError, ExecutionRecord, Status};
