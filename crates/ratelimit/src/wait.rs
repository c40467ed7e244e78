//! Waiting for a permit on the tokio timer, with optional jitter.

use std::time::Duration;

use crate::error::NotUntil;

/// A random extra wait in `[0, max)`, added to each sleep to spread a herd of callers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Jitter {
    max_nanos: u64,
}

impl Jitter {
    pub(crate) const NONE: Self = Self { max_nanos: 0 };

    pub(crate) fn up_to(max: Duration) -> Self {
        Self {
            max_nanos: crate::clock::saturating_nanos(max),
        }
    }

    pub(crate) fn sample(self) -> Duration {
        if self.max_nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rand::random_range(0..self.max_nanos))
    }
}

/// Calls `acquire` until it grants, sleeping between tries for the wait it reports plus jitter.
///
/// Cancel safe as long as `acquire` records a permit only when it grants one: dropping this
/// future mid-sleep leaves the limiter as it was.
pub(crate) async fn until(mut acquire: impl FnMut() -> Result<(), NotUntil>, jitter: Jitter) {
    while let Err(not_until) = acquire() {
        tokio::time::sleep(not_until.wait_time().saturating_add(jitter.sample())).await;
    }
}
