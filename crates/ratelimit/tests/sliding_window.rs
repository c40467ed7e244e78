//! The sliding-window counter through the public API (limit 10 per 1 s window).
// Helpers outside #[test] functions may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use flunq_ratelimit::{
    CheckNError, InsufficientCapacity, ManualClock, Quota, RateLimiter, SlidingWindow,
    SlidingWindowLimiter,
};
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);
const LIMIT: u32 = 10;

fn ten_per_second() -> (SlidingWindowLimiter<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(
        SlidingWindow::new(Quota::per_second(LIMIT)).unwrap(),
        clock.clone(),
    );
    (limiter, clock)
}

fn admit_all(limiter: &SlidingWindowLimiter<ManualClock>) -> u32 {
    let mut admitted = 0;
    while limiter.check().is_ok() {
        admitted += 1;
    }
    admitted
}

#[test]
fn admits_the_limit_in_one_window_then_refuses() {
    let (limiter, _clock) = ten_per_second();
    assert_eq!(admit_all(&limiter), LIMIT);
    // 10 in window 0: in window 1 one more fits once 10·(1 − e) + 1 ≤ 10, at e = 0.1 s.
    assert_eq!(limiter.check().unwrap_err().wait_time(), 1100 * MS);
}

#[test]
fn the_previous_window_weighs_fully_at_the_boundary() {
    let (limiter, clock) = ten_per_second();
    clock.set(500 * MS);
    assert_eq!(admit_all(&limiter), LIMIT);
    clock.set(1000 * MS);
    assert!(
        limiter.check().is_err(),
        "at e = 0 the estimate is 10 · 1 + 0"
    );
    clock.set(1100 * MS - Duration::from_nanos(1));
    assert!(limiter.check().is_err());
    clock.set(1100 * MS);
    assert!(limiter.check().is_ok());
}

#[test]
fn the_previous_window_weight_decays_linearly() {
    let (limiter, clock) = ten_per_second();
    assert_eq!(admit_all(&limiter), LIMIT);
    clock.set(1500 * MS);
    // Estimate 10 · 0.5 = 5: five more fit.
    assert_eq!(admit_all(&limiter), 5);
    // The next needs 10 · (1 − e) + 6 ≤ 10, e = 0.6 s.
    assert_eq!(limiter.check().unwrap_err().wait_time(), 100 * MS);
}

#[test]
fn traffic_two_windows_old_is_forgotten() {
    let (limiter, clock) = ten_per_second();
    assert_eq!(admit_all(&limiter), LIMIT);
    clock.set(2000 * MS);
    assert_eq!(admit_all(&limiter), LIMIT);
}

#[test]
fn check_n_refusal_consumes_nothing_and_n_above_limit_never_succeeds() {
    let (limiter, _clock) = ten_per_second();
    assert_eq!(limiter.check_n(7), Ok(()));
    assert!(matches!(limiter.check_n(4), Err(CheckNError::Limited(_))));
    assert_eq!(limiter.check_n(3), Ok(()));
    assert_eq!(
        limiter.check_n(11),
        Err(CheckNError::InsufficientCapacity(InsufficientCapacity {
            requested: 11,
            capacity: LIMIT
        }))
    );
}

/// The documented worst case: traffic bunched just before a boundary is undercounted, so an
/// interval of length W can see up to L·(2 − a/W) admissions, where a is the part of the
/// interval in the previous window; never 2·L.
#[test]
fn over_admission_stays_within_the_stated_bound() {
    let (limiter, clock) = ten_per_second();
    let mut admitted_at = Vec::new();
    // All of window 0's traffic in its last millisecond.
    clock.set(999 * MS);
    for _ in 0..admit_all(&limiter) {
        admitted_at.push(clock.elapsed());
    }
    // Then a request every millisecond through window 1.
    for ms in 1000..2000 {
        clock.set(ms * MS);
        if limiter.check().is_ok() {
            admitted_at.push(clock.elapsed());
        }
    }
    let window = Duration::from_secs(1);
    let (worst, worst_end) = admitted_at
        .iter()
        .map(|&end| {
            let count = admitted_at
                .iter()
                .filter(|&&t| t + window > end && t <= end)
                .count();
            (count, end)
        })
        .max()
        .unwrap();
    // The busiest interval is (0.9 s, 1.9 s]: 10 from window 0 and 9 from window 1 (one per
    // 100 ms as window 0's weight decays). a = 0.1 s of it lies in window 0, so the bound is
    // 10 · (2 − 0.1) = 19: the bound is tight.
    assert_eq!(worst, 19);
    assert_eq!(worst_end, 1900 * MS);
    let a = (window + 1000 * MS).as_secs_f64() - worst_end.as_secs_f64();
    let bound = f64::from(LIMIT) * (2.0 - a / window.as_secs_f64());
    assert!((worst as f64) <= bound, "{worst} > {bound}");
    assert!(worst < 2 * LIMIT as usize);
    // And each fixed window alone stays within the limit.
    assert!(admitted_at.iter().filter(|&&t| t >= window).count() <= LIMIT as usize);
}

#[tokio::test(start_paused = true)]
async fn until_ready_waits_for_the_previous_window_to_decay() {
    let limiter = RateLimiter::sliding_window(Quota::per_second(LIMIT)).unwrap();
    for _ in 0..LIMIT {
        limiter.check().unwrap();
    }
    let start = Instant::now();
    limiter.until_ready().await;
    assert_eq!(start.elapsed(), 1100 * MS);
}

/// 10 per 1 ms window, on a manual clock.
fn ten_per_millisecond() -> (SlidingWindowLimiter<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(
        SlidingWindow::new(Quota::new(LIMIT, MS)).unwrap(),
        clock.clone(),
    );
    (limiter, clock)
}

#[test]
fn admits_after_idling_for_more_than_2_pow_31_windows() {
    let (limiter, clock) = ten_per_millisecond();
    assert_eq!(admit_all(&limiter), LIMIT);
    // About 24.9 days of 1 ms windows: the window index has gone more than half way round.
    clock.advance(MS * ((1 << 31) + 5));
    assert_eq!(limiter.check(), Ok(()));
}

#[test]
fn counts_the_previous_window_after_idling_for_more_than_2_pow_31_windows() {
    let (limiter, clock) = ten_per_millisecond();
    // Fill both completed-window slots with old windows (0 and 1), then move to window 2.
    for _ in 0..3 {
        limiter.check().unwrap();
        clock.advance(MS);
    }
    clock.advance(MS * (1 << 31));
    // 5 in this window, then half way into the next: the previous window still weighs 2.5.
    for _ in 0..5 {
        limiter.check().unwrap();
    }
    clock.advance(MS + MS / 2);
    assert_eq!(admit_all(&limiter), 7, "10 − 2.5 admits 7");
}
