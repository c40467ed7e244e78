//! Many threads on one breaker: the counts add up.
// Helpers outside #[test] fns may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use flunq_circuit::{CircuitBreaker, Config, Outcome, State, StateChange};

const THREADS: usize = 4;
const CALLS: usize = 50_000;

fn hammer(breaker: &Arc<CircuitBreaker>) {
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let breaker = Arc::clone(breaker);
            thread::spawn(move || {
                for i in 0..CALLS {
                    let outcome = if i % 10 == 0 {
                        Outcome::Failure
                    } else {
                        Outcome::Success
                    };
                    breaker.try_acquire().expect("never trips").record(outcome);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

#[test]
fn count_window_totals_add_up_across_threads() {
    let config = Config::builder()
        .count_window(1_000_000)
        .minimum_calls(10)
        .failure_rate(0.5)
        .build()
        .unwrap();
    let breaker = Arc::new(CircuitBreaker::new("shared", config).unwrap());
    hammer(&breaker);
    let snapshot = breaker.snapshot();
    assert_eq!(snapshot.state, State::Closed);
    assert_eq!(snapshot.calls, (THREADS * CALLS) as u64);
    assert_eq!(snapshot.failures, (THREADS * CALLS / 10) as u64);
}

#[test]
fn full_count_window_stays_consistent_across_threads() {
    let config = Config::builder()
        .count_window(1000)
        .minimum_calls(10)
        .failure_rate(0.5)
        .build()
        .unwrap();
    let breaker = Arc::new(CircuitBreaker::new("shared", config).unwrap());
    hammer(&breaker);
    let snapshot = breaker.snapshot();
    assert_eq!(snapshot.calls, 1000);
    // Each thread fails one call in ten; the last 1000 calls are interleaved.
    assert!((50..=150).contains(&snapshot.failures), "{snapshot:?}");
}

#[test]
fn time_window_totals_add_up_across_threads() {
    let config = Config::builder()
        .time_window(Duration::from_secs(3600), 10)
        .minimum_calls(10)
        .failure_rate(0.5)
        .build()
        .unwrap();
    let breaker = Arc::new(CircuitBreaker::new("shared", config).unwrap());
    hammer(&breaker);
    let snapshot = breaker.snapshot();
    assert_eq!(snapshot.calls, (THREADS * CALLS) as u64);
    assert_eq!(snapshot.failures, (THREADS * CALLS / 10) as u64);
}

#[test]
fn threads_trip_the_breaker_once() {
    let config = Config::builder()
        .count_window(100)
        .minimum_calls(100)
        .build()
        .unwrap();
    let events: Arc<Mutex<Vec<(State, State)>>> = Arc::default();
    let sink = Arc::clone(&events);
    let breaker = Arc::new(
        CircuitBreaker::builder("shared", config)
            .on_state_change(move |change: &StateChange| {
                sink.lock().unwrap().push((change.from, change.to));
            })
            .build()
            .unwrap(),
    );
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || {
                for _ in 0..CALLS {
                    if let Ok(permit) = breaker.try_acquire() {
                        permit.record(Outcome::Failure);
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(
        *events.lock().unwrap(),
        [(State::Closed, State::Open)],
        "one trip, seen once"
    );
}
