//! Half-open probe counting and the open-duration growth.
// Helpers outside #[test] fns may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use flunq_circuit::{CircuitBreaker, Config, Outcome, Rejected, State};
use tokio::time::advance;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn open_breaker(config: Config) -> CircuitBreaker {
    let breaker = CircuitBreaker::new("upstream", config).unwrap();
    while breaker.state() == State::Closed {
        breaker.try_acquire().unwrap().record(Outcome::Failure);
    }
    breaker
}

fn config() -> Config {
    Config::builder()
        .count_window(4)
        .minimum_calls(4)
        .open_for(secs(10))
        .half_open_calls(3)
        .build()
        .unwrap()
}

fn retry_after(breaker: &CircuitBreaker) -> Duration {
    match breaker.try_acquire() {
        Err(Rejected::Open { retry_after }) => retry_after,
        other => panic!("expected open, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn admits_exactly_half_open_calls_probes() {
    let breaker = open_breaker(config());
    advance(secs(10)).await;
    let probes: Vec<_> = (0..3)
        .map(|_| breaker.try_acquire().expect("probe"))
        .collect();
    assert!(probes.iter().all(|p| p.is_probe()));
    assert_eq!(breaker.try_acquire().unwrap_err(), Rejected::HalfOpenFull);
    assert_eq!(breaker.try_acquire().unwrap_err(), Rejected::HalfOpenFull);
    for probe in probes {
        probe.record(Outcome::Success);
    }
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn dropped_probe_frees_its_slot() {
    let breaker = open_breaker(config());
    advance(secs(10)).await;
    let first = breaker.try_acquire().unwrap();
    let second = breaker.try_acquire().unwrap();
    let third = breaker.try_acquire().unwrap();
    assert_eq!(breaker.try_acquire().unwrap_err(), Rejected::HalfOpenFull);
    drop(third);
    let replacement = breaker
        .try_acquire()
        .expect("the dropped probe's slot is free");
    first.record(Outcome::Success);
    second.record(Outcome::Success);
    assert_eq!(
        breaker.state(),
        State::HalfOpen,
        "the dropped probe does not count"
    );
    replacement.record(Outcome::Success);
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn ignored_probe_frees_its_slot() {
    let breaker = open_breaker(config());
    advance(secs(10)).await;
    let probes: Vec<_> = (0..3).map(|_| breaker.try_acquire().unwrap()).collect();
    let mut probes = probes.into_iter();
    probes.next().unwrap().record(Outcome::Ignored);
    assert!(breaker.try_acquire().is_ok_and(|p| p.is_probe()));
}

#[tokio::test(start_paused = true)]
async fn open_duration_grows_on_repeated_opens_and_caps() {
    let config = Config::builder()
        .count_window(4)
        .minimum_calls(4)
        .open_for(secs(10))
        .open_backoff(2.0, secs(25))
        .half_open_calls(1)
        .build()
        .unwrap();
    let breaker = open_breaker(config);
    assert_eq!(retry_after(&breaker), secs(10));
    advance(secs(10)).await;
    breaker.try_acquire().unwrap().record(Outcome::Failure);
    assert_eq!(retry_after(&breaker), secs(20));
    advance(secs(20)).await;
    breaker.try_acquire().unwrap().record(Outcome::Failure);
    assert_eq!(retry_after(&breaker), secs(25), "capped");
}

#[tokio::test(start_paused = true)]
async fn open_duration_returns_to_base_after_close() {
    let config = Config::builder()
        .count_window(4)
        .minimum_calls(4)
        .open_for(secs(10))
        .open_backoff(2.0, secs(100))
        .half_open_calls(1)
        .build()
        .unwrap();
    let breaker = open_breaker(config);
    advance(secs(10)).await;
    breaker.try_acquire().unwrap().record(Outcome::Failure);
    assert_eq!(retry_after(&breaker), secs(20));
    advance(secs(20)).await;
    breaker.try_acquire().unwrap().record(Outcome::Success);
    assert_eq!(breaker.state(), State::Closed);
    for _ in 0..4 {
        breaker.try_acquire().unwrap().record(Outcome::Failure);
    }
    assert_eq!(retry_after(&breaker), secs(10));
}

#[tokio::test(start_paused = true)]
async fn slow_probes_reopen() {
    let config = Config::builder()
        .count_window(4)
        .minimum_calls(4)
        .slow_calls(secs(1), 0.5)
        .open_for(secs(10))
        .half_open_calls(2)
        .build()
        .unwrap();
    let breaker = open_breaker(config);
    advance(secs(10)).await;
    breaker
        .try_acquire()
        .unwrap()
        .record_with_duration(Outcome::Success, secs(2));
    breaker.try_acquire().unwrap().record(Outcome::Success);
    assert_eq!(
        breaker.state(),
        State::Open,
        "1 slow of 2 probes, threshold 50%"
    );
}
