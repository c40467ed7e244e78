//! Refusals and errors of the limiters.

use std::time::Duration;

use tokio::time::Instant;

/// A refusal: no permit now; the next one is possible at a known time.
///
/// It carries both the wait (a [`Duration`], usable from synchronous code without the
/// limiter's clock, unlike governor's `NotUntil`, governor#241) and the instant of the next
/// permit. Both assume no other caller takes that permit first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited: next permit in {wait:?}")]
pub struct NotUntil {
    earliest: u64,
    wait: Duration,
    origin: Instant,
}

impl NotUntil {
    pub(crate) fn new(earliest: u64, now: u64, origin: Instant) -> Self {
        Self {
            earliest,
            wait: Duration::from_nanos(earliest.saturating_sub(now)),
            origin,
        }
    }

    /// How long to wait, from the moment of the check, before the next permit.
    pub fn wait_time(&self) -> Duration {
        self.wait
    }

    /// The instant of the next permit, on tokio's clock (it follows paused time in tests).
    /// With a [`ManualClock`](crate::ManualClock) it is in that clock's frame: its origin plus
    /// [`earliest_nanos`](NotUntil::earliest_nanos).
    pub fn earliest_possible(&self) -> Instant {
        self.origin + Duration::from_nanos(self.earliest)
    }

    /// The time of the next permit in the limiter clock's nanoseconds since its origin.
    pub fn earliest_nanos(&self) -> u64 {
        self.earliest
    }
}

/// More permits were asked for at once than the limiter can ever grant: waiting will not help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{requested} permits can never be granted at once: the capacity is {capacity}")]
pub struct InsufficientCapacity {
    /// The permits asked for.
    pub requested: u32,
    /// The most permits one call can get (the burst for GCRA, the limit for a sliding window).
    pub capacity: u32,
}

/// Why `check_n` refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CheckNError {
    /// Not now; possible later.
    #[error(transparent)]
    Limited(#[from] NotUntil),
    /// Never: `n` exceeds the capacity.
    #[error(transparent)]
    InsufficientCapacity(#[from] InsufficientCapacity),
}

/// Why a keyed limiter refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyedError {
    /// This key is over its quota now; possible later.
    #[error(transparent)]
    Limited(#[from] NotUntil),
    /// Never: `n` exceeds the capacity.
    #[error(transparent)]
    InsufficientCapacity(#[from] InsufficientCapacity),
    /// The key is new and the limiter already tracks its maximum number of keys, none of them
    /// idle. Existing keys are never evicted to make room, since that would reset their limits.
    #[error("key refused: the limiter already tracks its maximum of {max_keys} active keys")]
    TooManyKeys {
        /// The configured maximum.
        max_keys: usize,
    },
}

impl From<CheckNError> for KeyedError {
    fn from(error: CheckNError) -> Self {
        match error {
            CheckNError::Limited(not_until) => Self::Limited(not_until),
            CheckNError::InsufficientCapacity(capacity) => Self::InsufficientCapacity(capacity),
        }
    }
}
