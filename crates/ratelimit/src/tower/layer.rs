//! The layer that wraps services in [`RateLimit`].

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::{RateLimit, WhenLimited};
use crate::algorithm::Algorithm;
use crate::clock::{Clock, MonotonicClock};
use crate::direct::RateLimiter;
use crate::gcra::Gcra;

/// Wraps services so that each request first takes a permit from one shared limiter.
///
/// ```
/// use std::sync::Arc;
/// use flunq_ratelimit::{Quota, RateLimiter};
/// use flunq_ratelimit::tower::RateLimitLayer;
///
/// let limiter = Arc::new(RateLimiter::gcra(Quota::per_second(50))?);
/// let layer = RateLimitLayer::new(limiter).reject_when_limited();
/// # let _ = layer;
/// # Ok::<(), flunq_ratelimit::QuotaError>(())
/// ```
pub struct RateLimitLayer<A: Algorithm = Gcra, C: Clock = MonotonicClock> {
    limiter: Arc<RateLimiter<A, C>>,
    when_limited: WhenLimited,
}

impl<A: Algorithm, C: Clock> RateLimitLayer<A, C> {
    /// A layer whose services wait for a permit from `limiter` in `poll_ready`.
    pub fn new(limiter: Arc<RateLimiter<A, C>>) -> Self {
        Self {
            limiter,
            when_limited: WhenLimited::Wait,
        }
    }

    /// Fail calls at once with a [`NotUntil`](crate::NotUntil) instead of waiting.
    #[must_use]
    pub fn reject_when_limited(self) -> Self {
        self.when_limited(WhenLimited::Reject)
    }

    /// Sets what happens when the limiter has no permit.
    #[must_use]
    pub fn when_limited(mut self, when_limited: WhenLimited) -> Self {
        self.when_limited = when_limited;
        self
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &Arc<RateLimiter<A, C>> {
        &self.limiter
    }
}

impl<S, A: Algorithm, C: Clock> Layer<S> for RateLimitLayer<A, C> {
    type Service = RateLimit<S, A, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, Arc::clone(&self.limiter), self.when_limited)
    }
}

impl<A: Algorithm, C: Clock> Clone for RateLimitLayer<A, C> {
    fn clone(&self) -> Self {
        Self {
            limiter: Arc::clone(&self.limiter),
            when_limited: self.when_limited,
        }
    }
}

impl<A: Algorithm + fmt::Debug, C: Clock + fmt::Debug> fmt::Debug for RateLimitLayer<A, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("limiter", &self.limiter)
            .field("when_limited", &self.when_limited)
            .finish()
    }
}
