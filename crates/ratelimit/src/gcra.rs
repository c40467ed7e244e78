//! GCRA: a token bucket kept as one theoretical arrival time in one `AtomicU64`.
//!
//! With emission interval `T` (`period / rate`) and capacity `B` (the burst), the state is the
//! theoretical arrival time `tat`. A request for `n` permits at `now` is granted when
//! `max(tat, now) + n·T ≤ now + B·T`, and then `tat` becomes the left side. When refused, the
//! earliest grant time is `max(tat, now) + n·T − B·T`. A `tat` at or before `now` is the same as
//! a fresh bucket (full burst available), which is what makes keyed eviction lossless.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::algorithm::Algorithm;
use crate::quota::{Quota, QuotaError};

/// The longest burst window (292 years): half the `u64` range, so that `now + window` cannot
/// saturate within the clock's first 292 years. A saturated horizon would admit everything.
const MAX_WINDOW: u64 = u64::MAX / 2;

/// The GCRA token bucket configured from a [`Quota`].
///
/// Windows (`interval × burst`) longer than 292 years are cut to 292 years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    interval: u64,
    window: u64,
    burst: u32,
}

impl Gcra {
    /// Validates `quota` into a GCRA configuration.
    pub fn new(quota: Quota) -> Result<Self, QuotaError> {
        quota.validate()?;
        let interval = quota
            .emission_interval_nanos()
            .ok_or(QuotaError::ZeroRate)?;
        let burst = quota.burst_size();
        let window = interval.saturating_mul(u64::from(burst)).min(MAX_WINDOW);
        Ok(Self {
            interval: interval.min(window),
            window,
            burst,
        })
    }

    /// Nanoseconds between two permits at the steady rate.
    pub fn emission_interval_nanos(&self) -> u64 {
        self.interval
    }
}

/// The state of one GCRA bucket: the theoretical arrival time, in ns since the clock's origin.
#[derive(Debug, Default)]
pub struct GcraState {
    tat: AtomicU64,
}

impl Algorithm for Gcra {
    type State = GcraState;

    fn new_state(&self) -> GcraState {
        GcraState::default()
    }

    #[inline]
    fn acquire(&self, state: &GcraState, now: u64, n: u32) -> Result<(), u64> {
        // n ≤ burst, so cost ≤ window unless the window was cut to MAX_WINDOW.
        let cost = self.interval.saturating_mul(u64::from(n)).min(self.window);
        let horizon = now.saturating_add(self.window);
        // Relaxed is enough: the TAT is the only datum, and read-modify-writes of one atomic
        // are totally ordered, so no two callers can both take the last permit. A refusal only
        // loads: no write, no cache-line steal from the callers that are being admitted.
        let mut tat = state.tat.load(Ordering::Relaxed);
        loop {
            let new_tat = tat.max(now).saturating_add(cost);
            if new_tat > horizon {
                // A saturated TAT means "beyond u64 nanoseconds": say so rather than
                // subtract from a clipped value. Otherwise new_tat > now + window >= window,
                // so the subtraction cannot underflow.
                return Err(if new_tat == u64::MAX {
                    u64::MAX
                } else {
                    new_tat - self.window
                });
            }
            match state.tat.compare_exchange_weak(
                tat,
                new_tat,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(current) => tat = current,
            }
        }
    }

    fn capacity(&self) -> u32 {
        self.burst
    }

    fn is_idle(&self, state: &GcraState, now: u64) -> bool {
        state.tat.load(Ordering::Relaxed) <= now
    }

    fn idle_granularity(&self) -> u64 {
        self.interval
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn gcra(rate: u32, period_ms: u64, burst: u32) -> Gcra {
        Gcra::new(Quota::new(rate, Duration::from_millis(period_ms)).burst(burst)).unwrap()
    }

    #[test]
    fn refusal_does_not_move_the_tat() {
        let g = gcra(10, 1000, 1);
        let s = g.new_state();
        assert_eq!(g.acquire(&s, 0, 1), Ok(()));
        assert_eq!(g.acquire(&s, 10, 1), Err(100_000_000));
        assert_eq!(s.tat.load(Ordering::Relaxed), 100_000_000);
    }

    #[test]
    fn idle_once_tat_is_past() {
        let g = gcra(10, 1000, 2);
        let s = g.new_state();
        g.acquire(&s, 0, 2).unwrap();
        assert!(!g.is_idle(&s, 199_999_999));
        assert!(g.is_idle(&s, 200_000_000));
    }

    #[test]
    fn huge_values_saturate_without_panicking() {
        let g = Gcra::new(Quota::new(1, Duration::MAX).burst(u32::MAX)).unwrap();
        let s = g.new_state();
        assert_eq!(g.acquire(&s, 0, u32::MAX), Ok(()));
        assert_eq!(g.acquire(&s, 1, 1), Err(MAX_WINDOW));
    }
}
