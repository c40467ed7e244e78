//! One limiter for one stream of requests (no keys).

use std::fmt;

use crate::algorithm::{Algorithm, ensure_capacity};
use crate::clock::{Clock, MonotonicClock};
use crate::error::{CheckNError, InsufficientCapacity, NotUntil};
use crate::gcra::Gcra;
use crate::quota::{Quota, QuotaError};
use crate::sliding_window::SlidingWindow;
use crate::wait::{self, Jitter};

/// A rate limiter: one [`Algorithm`] state, read against one [`Clock`].
///
/// `RateLimiter<Gcra>` is the token bucket, `RateLimiter<SlidingWindow>` (alias
/// [`SlidingWindowLimiter`]) the sliding-window counter. Share it behind an `Arc`: every
/// method takes `&self` and is lock-free.
pub struct RateLimiter<A: Algorithm = Gcra, C: Clock = MonotonicClock> {
    algorithm: A,
    state: A::State,
    clock: C,
}

/// The sliding-window counter limiter.
pub type SlidingWindowLimiter<C = MonotonicClock> = RateLimiter<SlidingWindow, C>;

impl RateLimiter<Gcra, MonotonicClock> {
    /// A GCRA token bucket on the default clock.
    pub fn gcra(quota: Quota) -> Result<Self, QuotaError> {
        Ok(Self::with_clock(Gcra::new(quota)?, MonotonicClock::new()))
    }
}

impl RateLimiter<SlidingWindow, MonotonicClock> {
    /// A sliding-window counter (`quota.rate()` per `quota.period()`) on the default clock.
    pub fn sliding_window(quota: Quota) -> Result<Self, QuotaError> {
        Ok(Self::with_clock(
            SlidingWindow::new(quota)?,
            MonotonicClock::new(),
        ))
    }
}

impl<A: Algorithm, C: Clock> RateLimiter<A, C> {
    /// A limiter running `algorithm` on `clock`.
    pub fn with_clock(algorithm: A, clock: C) -> Self {
        Self {
            state: algorithm.new_state(),
            algorithm,
            clock,
        }
    }

    /// Takes one permit now, or says when the next one will be available. Never waits.
    #[inline]
    pub fn check(&self) -> Result<(), NotUntil> {
        self.acquire(1)
    }

    /// Takes `n` permits at once, or none. `n == 0` always succeeds. `n` above the capacity
    /// (the burst) is [`CheckNError::InsufficientCapacity`]: it can never succeed.
    pub fn check_n(&self, n: u32) -> Result<(), CheckNError> {
        ensure_capacity(&self.algorithm, n)?;
        if n == 0 {
            return Ok(());
        }
        Ok(self.acquire(n)?)
    }

    /// `n` must be between 1 and the capacity.
    #[inline]
    fn acquire(&self, n: u32) -> Result<(), NotUntil> {
        let now = self.clock.now();
        self.algorithm
            .acquire(&self.state, now, n)
            .map_err(|earliest| NotUntil::new(earliest, now, self.clock.origin()))
    }

    /// Waits on the tokio timer until one permit is granted.
    ///
    /// Cancel safe: a permit is recorded only by the check that grants it, so dropping the
    /// future before it completes takes nothing.
    pub async fn until_ready(&self) {
        wait::until(|| self.check(), Jitter::NONE).await;
    }

    /// Like [`until_ready`](RateLimiter::until_ready), adding to each wait a random extra in
    /// `[0, max_jitter)`, so that callers refused together do not all come back together.
    pub async fn until_ready_with_jitter(&self, max_jitter: std::time::Duration) {
        wait::until(|| self.check(), Jitter::up_to(max_jitter)).await;
    }

    /// Waits until `n` permits are granted at once. Fails at once if `n` exceeds the capacity.
    pub async fn until_n_ready(&self, n: u32) -> Result<(), InsufficientCapacity> {
        self.until_n_ready_with_jitter(n, std::time::Duration::ZERO)
            .await
    }

    /// [`until_n_ready`](RateLimiter::until_n_ready) with jitter, as in
    /// [`until_ready_with_jitter`](RateLimiter::until_ready_with_jitter).
    pub async fn until_n_ready_with_jitter(
        &self,
        n: u32,
        max_jitter: std::time::Duration,
    ) -> Result<(), InsufficientCapacity> {
        ensure_capacity(&self.algorithm, n)?;
        if n > 0 {
            wait::until(|| self.acquire(n), Jitter::up_to(max_jitter)).await;
        }
        Ok(())
    }

    /// The most permits one call can take (the burst, or the sliding window's limit).
    pub fn capacity(&self) -> u32 {
        self.algorithm.capacity()
    }

    /// The limiter's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

impl<A: Algorithm + fmt::Debug, C: Clock + fmt::Debug> fmt::Debug for RateLimiter<A, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("algorithm", &self.algorithm)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}
