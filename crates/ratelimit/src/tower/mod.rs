//! A tower [`Layer`](tower_layer::Layer) that rate-limits a service with a shared limiter.
//!
//! Every clone of the service, and every service the layer builds, draws from the same
//! [`RateLimiter`](crate::RateLimiter) (held in an `Arc`). tower's own `RateLimit` keeps its
//! state per instance, so under axum, where each connection clones the service, its limit is
//! per clone (tower#794); here the limit is global to the limiter.
//!
//! The permit is taken in `poll_ready`. With [`WhenLimited::Wait`] (the default) `poll_ready`
//! sleeps on the tokio timer until the limiter grants a permit, then waits for the inner
//! service; with [`WhenLimited::Reject`] it reports ready at once and the call fails with a
//! boxed [`NotUntil`](crate::NotUntil) (downcast it to read the wait, e.g. for `Retry-After`).
//! A service dropped between `poll_ready` and `call` loses the permit it took.

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::RateLimitLayer;
pub use service::RateLimit;

/// The error type of the rate-limited service: the inner error or a refusal, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the service does when the limiter has no permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenLimited {
    /// `poll_ready` waits until a permit is granted (back-pressure).
    #[default]
    Wait,
    /// `poll_ready` is ready at once and the call fails with a [`NotUntil`](crate::NotUntil).
    Reject,
}
