//! The GCRA token bucket through the public API.
// Helpers outside #[test] functions may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use flunq_ratelimit::{
    CheckNError, Clock, Gcra, InsufficientCapacity, ManualClock, Quota, QuotaError, RateLimiter,
    SlidingWindow,
};
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

fn manual(quota: Quota) -> (RateLimiter<Gcra, ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(Gcra::new(quota).unwrap(), clock.clone());
    (limiter, clock)
}

#[test]
fn permits_are_spaced_exactly_one_interval_apart() {
    let (limiter, clock) = manual(Quota::per_second(10).burst(1));
    for _ in 0..10 {
        assert!(limiter.check().is_ok());
        assert_eq!(limiter.check().unwrap_err().wait_time(), 100 * MS);
        clock.advance(99 * MS);
        assert_eq!(limiter.check().unwrap_err().wait_time(), MS);
        clock.advance(MS);
    }
}

#[test]
fn burst_is_admitted_at_once_then_refused_with_correct_not_until() {
    let (limiter, clock) = manual(Quota::per_second(10).burst(5));
    for _ in 0..5 {
        assert!(limiter.check().is_ok());
    }
    clock.advance(30 * MS);
    let refused = limiter.check().unwrap_err();
    assert_eq!(refused.wait_time(), 70 * MS);
    assert_eq!(refused.earliest_nanos(), 100_000_000);
    assert_eq!(refused.earliest_possible(), clock.origin() + 100 * MS);
}

#[test]
fn check_n_refusal_consumes_nothing() {
    let (limiter, _clock) = manual(Quota::per_second(10).burst(5));
    assert_eq!(limiter.check_n(3), Ok(()));
    assert!(matches!(limiter.check_n(3), Err(CheckNError::Limited(_))));
    assert_eq!(limiter.check_n(2), Ok(()));
    assert!(limiter.check().is_err());
}

#[test]
fn check_n_above_burst_can_never_succeed() {
    let (limiter, _clock) = manual(Quota::per_second(10).burst(5));
    let expected = InsufficientCapacity {
        requested: 6,
        capacity: 5,
    };
    assert_eq!(
        limiter.check_n(6),
        Err(CheckNError::InsufficientCapacity(expected))
    );
    // Nothing was taken either.
    assert_eq!(limiter.check_n(5), Ok(()));
}

#[test]
fn check_n_of_zero_always_succeeds() {
    let (limiter, _clock) = manual(Quota::per_second(1).burst(1));
    limiter.check().unwrap();
    assert_eq!(limiter.check_n(0), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn until_ready_waits_exactly_the_interval_on_paused_time() {
    let limiter = RateLimiter::gcra(Quota::per_second(10).burst(1)).unwrap();
    limiter.check().unwrap();
    let start = Instant::now();
    limiter.until_ready().await;
    assert_eq!(start.elapsed(), 100 * MS);
    limiter.until_ready().await;
    assert_eq!(start.elapsed(), 200 * MS);
}

#[tokio::test(start_paused = true)]
async fn until_n_ready_waits_for_n_intervals() {
    let limiter = RateLimiter::gcra(Quota::per_second(10).burst(5)).unwrap();
    limiter.check_n(5).unwrap();
    let start = Instant::now();
    limiter.until_n_ready(3).await.unwrap();
    assert_eq!(start.elapsed(), 300 * MS);
}

#[tokio::test(start_paused = true)]
async fn until_n_ready_above_burst_fails_at_once() {
    let limiter = RateLimiter::gcra(Quota::per_second(10).burst(5)).unwrap();
    let start = Instant::now();
    assert_eq!(
        limiter.until_n_ready(6).await,
        Err(InsufficientCapacity {
            requested: 6,
            capacity: 5
        })
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn jitter_adds_a_random_wait_within_bounds() {
    let limiter = RateLimiter::gcra(Quota::per_second(10).burst(1)).unwrap();
    limiter.check().unwrap();
    let mut waits = Vec::new();
    for _ in 0..30 {
        let start = Instant::now();
        limiter.until_ready_with_jitter(50 * MS).await;
        let waited = start.elapsed();
        // At least the interval left; at most interval + max jitter (tokio's timer rounds a
        // deadline up to the next millisecond, hence the inclusive upper bound).
        assert!(waited >= 100 * MS && waited <= 150 * MS, "{waited:?}");
        // The permit was taken on waking, so the next one is again one interval away.
        waits.push(waited);
    }
    waits.sort();
    waits.dedup();
    assert!(waits.len() > 5, "jitter should vary: {waits:?}");
}

#[tokio::test(start_paused = true)]
async fn dropping_until_ready_consumes_no_permit() {
    let limiter = RateLimiter::gcra(Quota::per_second(10).burst(1)).unwrap();
    limiter.check().unwrap();
    // Give up after 50 ms: the future is dropped mid-sleep.
    let gave_up = tokio::time::timeout(50 * MS, limiter.until_ready()).await;
    assert!(gave_up.is_err());
    tokio::time::advance(50 * MS).await;
    assert!(
        limiter.check().is_ok(),
        "the abandoned wait must not have taken the permit"
    );
    assert!(limiter.check().is_err());
}

#[test]
fn zero_rate_period_or_burst_is_a_quota_error() {
    for (quota, error) in [
        (Quota::per_second(0), QuotaError::ZeroRate),
        (Quota::new(1, Duration::ZERO), QuotaError::ZeroPeriod),
        (Quota::per_second(5).burst(0), QuotaError::ZeroBurst),
    ] {
        assert_eq!(Gcra::new(quota).unwrap_err(), error);
        assert_eq!(RateLimiter::gcra(quota).unwrap_err(), error);
        assert_eq!(SlidingWindow::new(quota).unwrap_err(), error);
        assert_eq!(quota.emission_interval(), None);
    }
}

#[test]
fn huge_quota_values_saturate_instead_of_panicking() {
    let (limiter, clock) = manual(Quota::new(u32::MAX, Duration::from_nanos(1)).burst(u32::MAX));
    assert!(limiter.check_n(u32::MAX).is_ok());
    clock.advance(Duration::MAX);
    assert!(limiter.check().is_ok());

    let (slow, _clock) = manual(Quota::new(1, Duration::MAX).burst(u32::MAX));
    assert!(slow.check().is_ok());
    assert!(slow.check_n(u32::MAX).is_err());
    let refused = slow.check().unwrap_err();
    assert!(refused.wait_time() > Duration::from_secs(100 * 365 * 24 * 3600));
}
