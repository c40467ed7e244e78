//! A tower [`Layer`](tower_layer::Layer) that retries with this crate's policies,
//! classifiers and budgets.
//!
//! The request must be `Clone`: every attempt sends a clone, and the original is kept
//! for the next one. Requests with streaming bodies must be buffered first (or not
//! retried). The response future owns a clone of the inner service and sleeps on tokio's
//! timer. When retrying stops, the last outcome is returned as the inner service gave it
//! (an error, or the unwanted response the classifier retried).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//! use flunq_retry::{RetryPolicy, tower::RetryLayer};
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! let calls = Arc::new(AtomicU32::new(0));
//! let counter = calls.clone();
//! let flaky = service_fn(move |request: &'static str| {
//!     let n = counter.fetch_add(1, Ordering::SeqCst);
//!     async move { if n < 2 { Err("unavailable") } else { Ok(request.len()) } }
//! });
//! let policy = RetryPolicy::fixed(Duration::from_millis(50)).build().unwrap();
//! let service = RetryLayer::new(policy).layer(flaky);
//! assert_eq!(service.oneshot("hello").await, Ok(5));
//! assert_eq!(calls.load(Ordering::SeqCst), 3);
//! # }
//! ```

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::RetryLayer;
pub use service::RetryService;

use crate::{RetryBudget, RetryPolicy};

/// What every request of one layer shares.
#[derive(Debug)]
pub(crate) struct Shared<C> {
    pub(crate) policy: RetryPolicy,
    pub(crate) classifier: C,
    pub(crate) budget: Option<RetryBudget>,
}
