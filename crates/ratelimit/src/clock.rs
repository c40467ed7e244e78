//! Monotonic clocks: time as nanoseconds since an origin.
//!
//! Limiters are generic over a [`Clock`] with [`MonotonicClock`] as the default type parameter,
//! so the hot path calls `now()` statically (no `dyn`). Tests use [`ManualClock`] (advanced by
//! hand) or the default clock on paused tokio time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// A source of monotonic time, in nanoseconds since the clock's origin.
///
/// `now()` must never decrease (a limiter treats a reading from the past as "stricter", never as
/// "more permissive", but a clock that jumps backwards makes it refuse more than it should).
/// Clones must share the same origin and the same time.
pub trait Clock: Clone + Send + Sync + 'static {
    /// Nanoseconds elapsed since [`origin`](Clock::origin).
    fn now(&self) -> u64;

    /// The tokio instant of this clock's time zero, used to turn a time from
    /// [`now`](Clock::now) into an [`Instant`] for callers (see
    /// [`NotUntil::earliest_possible`](crate::NotUntil::earliest_possible)).
    fn origin(&self) -> Instant;
}

/// Converts a duration to whole nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn saturating_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The default clock: [`tokio::time::Instant`], measured from the clock's creation.
///
/// In production it costs one `clock_gettime(CLOCK_MONOTONIC)` (a vDSO read, no system call).
/// Under tokio's `test-util` feature with paused time it follows tokio's virtual clock, so a
/// test that calls `tokio::time::advance` moves the limiter's time too.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose time zero is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now(&self) -> u64 {
        saturating_nanos(Instant::now().saturating_duration_since(self.origin))
    }

    fn origin(&self) -> Instant {
        self.origin
    }
}

/// A fake clock that moves only when told to; clones share the same time.
///
/// Use it in synchronous tests and simulations. The async waits of the limiters
/// (`until_ready`) sleep on tokio's timer, which does not move this clock: for async tests
/// use the default [`MonotonicClock`] with paused tokio time instead.
#[derive(Debug, Clone)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
    origin: Instant,
}

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(0)),
            origin: Instant::now(),
        }
    }

    /// Moves the clock forward by `by` (saturating at `u64::MAX` nanoseconds).
    pub fn advance(&self, by: Duration) {
        let by = saturating_nanos(by);
        // `fetch_update` with a closure that always returns `Some` cannot fail.
        let _ = self
            .nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(by))
            });
    }

    /// Sets the clock to `since_origin`, unless that would move it backwards.
    pub fn set(&self, since_origin: Duration) {
        self.nanos
            .fetch_max(saturating_nanos(since_origin), Ordering::Relaxed);
    }

    /// The time since the origin.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now(&self) -> u64 {
        self.nanos.load(Ordering::Relaxed)
    }

    fn origin(&self) -> Instant {
        self.origin
    }
}

/// A clock on the CPU's time-stamp counter through the `quanta` crate.
///
/// On virtual machines `clock_gettime` often costs 40 ns or more while a TSC read costs a few;
/// this clock is for hot limiters where that difference shows. Trade-offs: the first clock
/// calibrates the TSC (tens to hundreds of milliseconds, once per process); it does not follow
/// tokio's paused time; and on machines whose cores' TSCs are not synchronised quanta has been
/// reported to step backwards (metrics-rs/quanta#111), which a limiter here turns into a few
/// extra refusals, never extra admissions.
#[cfg(feature = "quanta")]
#[derive(Debug, Clone)]
pub struct QuantaClock {
    clock: quanta::Clock,
    origin_raw: u64,
    origin: Instant,
}

#[cfg(feature = "quanta")]
impl QuantaClock {
    /// A clock whose time zero is now (calibrates the TSC on first use in the process).
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let origin_raw = clock.raw();
        Self {
            clock,
            origin_raw,
            origin: Instant::now(),
        }
    }
}

#[cfg(feature = "quanta")]
impl Default for QuantaClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "quanta")]
impl Clock for QuantaClock {
    #[inline]
    fn now(&self) -> u64 {
        let raw = self.clock.raw();
        // A raw reading below the origin (a TSC step backwards) counts as time zero.
        self.clock
            .delta_as_nanos(self.origin_raw, raw.max(self.origin_raw))
    }

    fn origin(&self) -> Instant {
        self.origin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_shared_by_clones_and_never_goes_back() {
        let clock = ManualClock::new();
        let other = clock.clone();
        clock.advance(Duration::from_millis(5));
        assert_eq!(other.now(), 5_000_000);
        other.set(Duration::from_millis(1));
        assert_eq!(clock.now(), 5_000_000);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), u64::MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn monotonic_clock_follows_paused_tokio_time() {
        let clock = MonotonicClock::new();
        tokio::time::advance(Duration::from_millis(250)).await;
        assert_eq!(clock.now(), 250_000_000);
    }
}
