//! A check that read the clock before a sweep evicted its key must not get a permit that the
//! evicted state would have refused.
// Helpers outside #[test] functions may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use flunq_ratelimit::{
    Algorithm, Clock, Gcra, KeyedRateLimiter, Quota, RateLimiter, SlidingWindow,
};

thread_local! {
    /// While set, this thread's clock readings return it: a check that read the clock and was
    /// then descheduled before it reached the shard's lock.
    static STALE: Cell<Option<u64>> = const { Cell::new(None) };
}

/// A clock shared by every thread, which one thread can see as it was some time ago.
#[derive(Clone, Debug)]
struct StallClock {
    nanos: Arc<AtomicU64>,
    origin: tokio::time::Instant,
}

impl StallClock {
    fn new() -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(0)),
            origin: tokio::time::Instant::now(),
        }
    }

    fn set_ms(&self, ms: u64) {
        self.nanos.store(ms * 1_000_000, Ordering::Relaxed);
    }
}

impl Clock for StallClock {
    fn now(&self) -> u64 {
        STALE
            .with(Cell::get)
            .unwrap_or_else(|| self.nanos.load(Ordering::Relaxed))
    }

    fn origin(&self) -> tokio::time::Instant {
        self.origin
    }
}

/// Runs `check` as a thread that read the clock at `ms` and only now reaches the limiter.
fn as_of_ms<R>(ms: u64, check: impl FnOnce() -> R) -> R {
    STALE.with(|stale| stale.set(Some(ms * 1_000_000)));
    let result = check();
    STALE.with(|stale| stale.set(None));
    result
}

/// B takes the only permit at 0.5 s; at `evict_at_ms` the key is idle and swept; A, whose
/// clock reading is from 0.4 s, then checks, and C checks at `evict_at_ms`. Returns the
/// permits A and C got from the keyed limiter and from a direct one (which never evicts).
fn stale_reader_after_eviction<A: Algorithm + Clone>(algorithm: A, evict_at_ms: u64) -> [bool; 4] {
    let clock = StallClock::new();
    let keyed = KeyedRateLimiter::<String, _, _>::with_clock(algorithm.clone(), clock.clone());
    let direct = RateLimiter::with_clock(algorithm, clock.clone());
    clock.set_ms(500);
    assert!(keyed.check_key("k").is_ok());
    assert!(direct.check().is_ok());
    clock.set_ms(evict_at_ms);
    assert_eq!(keyed.sweep(), 1, "the key is idle at {evict_at_ms} ms");
    let a_keyed = as_of_ms(400, || keyed.check_key("k").is_ok());
    let a_direct = as_of_ms(400, || direct.check().is_ok());
    let c_keyed = keyed.check_key("k").is_ok();
    let c_direct = direct.check().is_ok();
    [a_keyed, c_keyed, a_direct, c_direct]
}

#[test]
fn evicted_key_does_not_grant_a_permit_to_a_stale_reader() {
    // One per second, burst 1: the key is idle from 1.5 s.
    let gcra = Gcra::new(Quota::per_second(1).burst(1)).unwrap();
    let [a_keyed, c_keyed, a_direct, c_direct] = stale_reader_after_eviction(gcra, 1500);
    assert_eq!(
        u8::from(a_keyed) + u8::from(c_keyed),
        1,
        "one permit at 1.5 s with burst 1 (A: {a_keyed}, C: {c_keyed})"
    );
    assert_eq!(
        u8::from(a_direct) + u8::from(c_direct),
        1,
        "the direct limiter agrees"
    );
}

#[test]
fn evicted_sliding_window_key_does_not_grant_a_permit_to_a_stale_reader() {
    // One per 1 s window: the key is idle from 2 s (two quiet windows).
    let window = SlidingWindow::new(Quota::new(1, Duration::from_secs(1))).unwrap();
    let [a_keyed, c_keyed, a_direct, c_direct] = stale_reader_after_eviction(window, 2000);
    assert_eq!(
        u8::from(a_keyed) + u8::from(c_keyed),
        1,
        "one permit at 2 s with a limit of 1 (A: {a_keyed}, C: {c_keyed})"
    );
    assert_eq!(
        u8::from(a_direct) + u8::from(c_direct),
        1,
        "the direct limiter agrees"
    );
}
