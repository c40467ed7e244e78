//! Every transition of the state machine, on paused tokio time.
// Helpers outside #[test] fns may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use flunq_circuit::{CallError, CircuitBreaker, Config, Outcome, Rejected, State};
use tokio::time::advance;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn record(breaker: &CircuitBreaker, outcome: Outcome, times: usize) {
    for _ in 0..times {
        breaker.try_acquire().expect("permitted").record(outcome);
    }
}

fn count_breaker() -> CircuitBreaker {
    let config = Config::builder()
        .count_window(10)
        .minimum_calls(10)
        .failure_rate(0.5)
        .open_for(secs(30))
        .half_open_calls(3)
        .build()
        .unwrap();
    CircuitBreaker::new("upstream", config).unwrap()
}

#[tokio::test(start_paused = true)]
async fn opens_after_failure_rate_exceeded_in_count_window() {
    let breaker = count_breaker();
    record(&breaker, Outcome::Success, 5);
    record(&breaker, Outcome::Failure, 4);
    assert_eq!(breaker.state(), State::Closed);
    record(&breaker, Outcome::Failure, 1);
    assert_eq!(breaker.state(), State::Open);
    assert!(matches!(breaker.try_acquire(), Err(Rejected::Open { .. })));
}

#[tokio::test(start_paused = true)]
async fn stays_closed_below_failure_rate() {
    let breaker = count_breaker();
    for _ in 0..10 {
        record(&breaker, Outcome::Success, 6);
        record(&breaker, Outcome::Failure, 4);
    }
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn opens_after_failure_rate_exceeded_in_time_window() {
    let config = Config::builder()
        .time_window(secs(60), 10)
        .minimum_calls(4)
        .failure_rate(0.5)
        .build()
        .unwrap();
    let breaker = CircuitBreaker::new("upstream", config).unwrap();
    record(&breaker, Outcome::Success, 2);
    advance(secs(20)).await;
    record(&breaker, Outcome::Failure, 1);
    assert_eq!(breaker.state(), State::Closed);
    advance(secs(20)).await;
    record(&breaker, Outcome::Failure, 1);
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn waits_for_minimum_calls() {
    let breaker = count_breaker();
    record(&breaker, Outcome::Failure, 9);
    assert_eq!(
        breaker.state(),
        State::Closed,
        "9 failures, 10 calls required"
    );
    record(&breaker, Outcome::Failure, 1);
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_success_reaching_minimum_calls_can_trip() {
    let breaker = count_breaker();
    record(&breaker, Outcome::Failure, 9);
    record(&breaker, Outcome::Success, 1);
    assert_eq!(breaker.state(), State::Open, "9 of 10 failed");
}

#[tokio::test(start_paused = true)]
async fn opens_after_slow_call_rate_exceeded() {
    let config = Config::builder()
        .count_window(4)
        .minimum_calls(4)
        .slow_calls(secs(5), 0.5)
        .build()
        .unwrap();
    let breaker = CircuitBreaker::new("upstream", config).unwrap();
    record(&breaker, Outcome::Success, 2);
    let permit = breaker.try_acquire().unwrap();
    advance(secs(5)).await;
    permit.record(Outcome::Success);
    assert_eq!(breaker.state(), State::Closed, "1 slow of 3");
    let permit = breaker.try_acquire().unwrap();
    advance(secs(6)).await;
    permit.record(Outcome::Success);
    assert_eq!(breaker.state(), State::Open, "2 slow of 4");
}

#[tokio::test(start_paused = true)]
async fn opens_after_consecutive_failures() {
    let config = Config::builder()
        .no_failure_rate()
        .consecutive_failures(3)
        .build()
        .unwrap();
    let breaker = CircuitBreaker::new("upstream", config).unwrap();
    record(&breaker, Outcome::Failure, 2);
    record(&breaker, Outcome::Success, 1);
    record(&breaker, Outcome::Failure, 2);
    assert_eq!(breaker.state(), State::Closed, "a success broke the run");
    record(&breaker, Outcome::Failure, 1);
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn ignored_outcomes_are_not_counted() {
    let breaker = count_breaker();
    record(&breaker, Outcome::Failure, 9);
    record(&breaker, Outcome::Ignored, 20);
    drop(breaker.try_acquire().unwrap());
    let snapshot = breaker.snapshot();
    assert_eq!((snapshot.calls, snapshot.failures), (9, 9));
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn turns_half_open_after_open_duration() {
    let breaker = count_breaker();
    record(&breaker, Outcome::Failure, 10);
    advance(secs(29)).await;
    assert!(breaker.try_acquire().is_err());
    assert_eq!(breaker.state(), State::Open);
    advance(secs(1)).await;
    let probe = breaker
        .try_acquire()
        .expect("first call after the open duration is a probe");
    assert!(probe.is_probe());
    assert_eq!(breaker.state(), State::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn retry_after_decreases_as_time_passes() {
    let breaker = count_breaker();
    record(&breaker, Outcome::Failure, 10);
    let retry_after = |b: &CircuitBreaker| match b.try_acquire() {
        Err(Rejected::Open { retry_after }) => retry_after,
        other => panic!("expected open, got {other:?}"),
    };
    assert_eq!(retry_after(&breaker), secs(30));
    advance(secs(10)).await;
    assert_eq!(retry_after(&breaker), secs(20));
    advance(Duration::from_millis(19_500)).await;
    assert_eq!(retry_after(&breaker), Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn closes_when_probes_succeed() {
    let breaker = count_breaker();
    record(&breaker, Outcome::Failure, 10);
    advance(secs(30)).await;
    record(&breaker, Outcome::Success, 2);
    assert_eq!(
        breaker.state(),
        State::HalfOpen,
        "one probe still to report"
    );
    record(&breaker, Outcome::Success, 1);
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.snapshot().calls, 0, "the window starts empty");
}

#[tokio::test(start_paused = true)]
async fn reopens_when_probes_fail() {
    let breaker = count_breaker();
    record(&breaker, Outcome::Failure, 10);
    advance(secs(30)).await;
    record(&breaker, Outcome::Success, 1);
    record(&breaker, Outcome::Failure, 2);
    assert_eq!(
        breaker.state(),
        State::Open,
        "2 of 3 probes failed, threshold 50%"
    );
}

#[tokio::test(start_paused = true)]
async fn forced_open_rejects_until_reset() {
    let breaker = count_breaker();
    breaker.force_open();
    assert_eq!(breaker.state(), State::ForcedOpen);
    advance(secs(3600)).await;
    assert_eq!(breaker.try_acquire().unwrap_err(), Rejected::ForcedOpen);
    breaker.reset();
    assert_eq!(breaker.state(), State::Closed);
    assert!(breaker.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn disabled_permits_all_and_records_nothing() {
    let breaker = count_breaker();
    breaker.disable();
    record(&breaker, Outcome::Failure, 100);
    assert_eq!(breaker.state(), State::Disabled);
    assert_eq!(breaker.snapshot().calls, 0);
    assert_eq!(breaker.snapshot().consecutive_failures, 0);
}

#[tokio::test(start_paused = true)]
async fn reset_closes_with_empty_window() {
    let breaker = count_breaker();
    record(&breaker, Outcome::Failure, 10);
    assert_eq!(breaker.state(), State::Open);
    breaker.reset();
    assert_eq!(breaker.state(), State::Closed);
    let snapshot = breaker.snapshot();
    assert_eq!(
        (
            snapshot.calls,
            snapshot.failures,
            snapshot.consecutive_failures
        ),
        (0, 0, 0)
    );
    record(&breaker, Outcome::Failure, 9);
    assert_eq!(
        breaker.state(),
        State::Closed,
        "minimum calls counted afresh"
    );
}

#[tokio::test(start_paused = true)]
async fn records_of_calls_granted_before_a_transition_are_dropped() {
    let breaker = count_breaker();
    let old = breaker.try_acquire().unwrap();
    breaker.reset();
    old.record(Outcome::Failure);
    assert_eq!(breaker.snapshot().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn call_records_the_classified_outcome() {
    let breaker = count_breaker();
    for _ in 0..10 {
        let result = breaker
            .call(async { Err::<(), _>("boom") }, Outcome::of_result)
            .await;
        assert_eq!(result, Err(CallError::Inner("boom")));
    }
    let result = breaker
        .call(async { Ok::<_, &str>(1) }, Outcome::of_result)
        .await;
    assert!(matches!(
        result,
        Err(CallError::Rejected(Rejected::Open { .. }))
    ));
}

#[tokio::test(start_paused = true)]
async fn call_with_custom_classifier_ignores_client_errors() {
    let breaker = count_breaker();
    for _ in 0..20 {
        let result = breaker
            .call(
                async { Err::<(), u16>(404) },
                |r: &Result<(), u16>| match r {
                    Err(code) if *code >= 500 => Outcome::Failure,
                    Err(_) => Outcome::Ignored,
                    Ok(()) => Outcome::Success,
                },
            )
            .await;
        assert_eq!(result, Err(CallError::Inner(404)));
    }
    assert_eq!(breaker.state(), State::Closed);
}

/// A count window of 10 judged from 5 calls, with only `rate` as its trip condition.
fn zero_rate_breaker(failure_rate: Option<f64>, slow_rate: Option<f64>) -> CircuitBreaker {
    let mut builder = Config::builder().count_window(10).minimum_calls(5);
    builder = match failure_rate {
        Some(rate) => builder.failure_rate(rate),
        None => builder.no_failure_rate(),
    };
    if let Some(rate) = slow_rate {
        builder = builder.slow_calls(secs(1), rate);
    }
    CircuitBreaker::new("upstream", builder.build().unwrap()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn zero_failure_rate_does_not_trip_without_a_failure() {
    let breaker = zero_rate_breaker(Some(0.0), None);
    record(&breaker, Outcome::Success, 10);
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn zero_failure_rate_trips_on_any_failure_once_minimum_calls_are_reached() {
    let breaker = zero_rate_breaker(Some(0.0), None);
    record(&breaker, Outcome::Success, 5);
    assert_eq!(breaker.state(), State::Closed);
    record(&breaker, Outcome::Failure, 1);
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn zero_slow_call_rate_does_not_trip_without_a_slow_call() {
    let breaker = zero_rate_breaker(None, Some(0.0));
    record(&breaker, Outcome::Success, 10);
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn zero_slow_call_rate_trips_on_any_slow_call_once_minimum_calls_are_reached() {
    let breaker = zero_rate_breaker(None, Some(0.0));
    record(&breaker, Outcome::Success, 5);
    let permit = breaker.try_acquire().unwrap();
    advance(secs(1)).await;
    permit.record(Outcome::Success);
    assert_eq!(breaker.state(), State::Open);
}
