//! Window contents through the snapshot.
// Helpers outside #[test] fns may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use flunq_circuit::{CircuitBreaker, Config, Outcome, Snapshot, State};
use tokio::time::advance;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn record(breaker: &CircuitBreaker, outcome: Outcome, times: usize) {
    for _ in 0..times {
        breaker.try_acquire().expect("permitted").record(outcome);
    }
}

#[tokio::test(start_paused = true)]
async fn time_window_expires_old_failures() {
    let config = Config::builder()
        .time_window(secs(60), 6)
        .minimum_calls(5)
        .failure_rate(0.5)
        .build()
        .unwrap();
    let breaker = CircuitBreaker::new("upstream", config).unwrap();
    record(&breaker, Outcome::Failure, 2);
    advance(secs(30)).await;
    record(&breaker, Outcome::Success, 2);
    assert_eq!(breaker.snapshot().failures, 2);
    advance(secs(35)).await;
    assert_eq!(
        breaker.snapshot().failures,
        0,
        "the first bucket left the window"
    );
    assert_eq!(breaker.snapshot().calls, 2);
    record(&breaker, Outcome::Failure, 2);
    assert_eq!(
        breaker.state(),
        State::Closed,
        "old failures no longer count: 2 of 4"
    );
    record(&breaker, Outcome::Failure, 1);
    assert_eq!(breaker.state(), State::Open, "3 of 5");
}

#[tokio::test(start_paused = true)]
async fn count_window_forgets_the_oldest_call() {
    let config = Config::builder()
        .count_window(3)
        .minimum_calls(3)
        .failure_rate(1.0)
        .build()
        .unwrap();
    let breaker = CircuitBreaker::new("upstream", config).unwrap();
    record(&breaker, Outcome::Failure, 2);
    record(&breaker, Outcome::Success, 2);
    let snapshot = breaker.snapshot();
    assert_eq!((snapshot.calls, snapshot.failures), (3, 1));
}

#[tokio::test(start_paused = true)]
async fn snapshot_reports_window_and_rates() {
    let config = Config::builder()
        .count_window(10)
        .minimum_calls(10)
        .slow_calls(secs(1), 1.0)
        .build()
        .unwrap();
    let breaker = CircuitBreaker::new("upstream", config).unwrap();
    record(&breaker, Outcome::Success, 4);
    breaker
        .try_acquire()
        .unwrap()
        .record_with_duration(Outcome::Failure, secs(2));
    breaker
        .try_acquire()
        .unwrap()
        .record_with_duration(Outcome::Success, secs(3));
    record(&breaker, Outcome::Failure, 2);
    assert_eq!(
        breaker.snapshot(),
        Snapshot {
            state: State::Closed,
            calls: 8,
            failures: 3,
            slow_calls: 2,
            failure_rate: 3.0 / 8.0,
            slow_call_rate: 2.0 / 8.0,
            consecutive_failures: 2,
        }
    );
}

#[tokio::test(start_paused = true)]
async fn record_measures_duration_from_acquire() {
    let config = Config::builder()
        .count_window(10)
        .slow_call_duration(Duration::from_millis(100))
        .build()
        .unwrap();
    let breaker = CircuitBreaker::new("upstream", config).unwrap();
    let fast = breaker.try_acquire().unwrap();
    advance(Duration::from_millis(99)).await;
    fast.record(Outcome::Success);
    let slow = breaker.try_acquire().unwrap();
    advance(Duration::from_millis(100)).await;
    slow.record(Outcome::Success);
    assert_eq!(breaker.snapshot().slow_calls, 1);
}

#[tokio::test(start_paused = true)]
async fn empty_snapshot_has_zero_rates() {
    let breaker = CircuitBreaker::new("upstream", Config::default()).unwrap();
    let snapshot = breaker.snapshot();
    assert_eq!(
        (
            snapshot.calls,
            snapshot.failure_rate,
            snapshot.slow_call_rate
        ),
        (0, 0.0, 0.0)
    );
}
