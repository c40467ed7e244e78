//! State-change events.
// Helpers outside #[test] fns may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use flunq_circuit::{CircuitBreaker, Config, Outcome, State, StateChange};
use tokio::time::{Instant, advance};

fn config() -> Config {
    Config::builder()
        .count_window(2)
        .minimum_calls(2)
        .open_for(Duration::from_secs(5))
        .half_open_calls(1)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn events_are_delivered_in_order_with_key() {
    let events: Arc<Mutex<Vec<StateChange>>> = Arc::default();
    let sink = Arc::clone(&events);
    let breaker = CircuitBreaker::builder("billing", config())
        .on_state_change(move |change: &StateChange| sink.lock().unwrap().push(change.clone()))
        .build()
        .unwrap();
    let start = Instant::now();
    breaker.try_acquire().unwrap().record(Outcome::Failure);
    breaker.try_acquire().unwrap().record(Outcome::Failure);
    advance(Duration::from_secs(5)).await;
    breaker.try_acquire().unwrap().record(Outcome::Success);
    breaker.force_open();
    breaker.disable();
    breaker.reset();

    let events = events.lock().unwrap();
    let transitions: Vec<(State, State)> = events.iter().map(|e| (e.from, e.to)).collect();
    assert_eq!(
        transitions,
        [
            (State::Closed, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Closed),
            (State::Closed, State::ForcedOpen),
            (State::ForcedOpen, State::Disabled),
            (State::Disabled, State::Closed),
        ]
    );
    assert!(events.iter().all(|e| &*e.key == "billing"));
    assert_eq!(events[0].at, start);
    assert_eq!(events[1].at, start + Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn listener_runs_outside_the_lock() {
    // The listener calls back into the breaker, which takes its lock: this
    // would deadlock if the listener ran under it.
    let handle: Arc<OnceLock<CircuitBreaker>> = Arc::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (in_listener, sink) = (Arc::clone(&handle), Arc::clone(&seen));
    let breaker = CircuitBreaker::builder("x", config())
        .on_state_change(move |change: &StateChange| {
            sink.lock().unwrap().push(change.to);
            if change.to == State::Open {
                in_listener.get().unwrap().force_open();
            }
        })
        .build()
        .unwrap();
    handle.set(breaker.clone()).unwrap();
    breaker.try_acquire().unwrap().record(Outcome::Failure);
    breaker.try_acquire().unwrap().record(Outcome::Failure);
    assert_eq!(breaker.state(), State::ForcedOpen);
    assert_eq!(*seen.lock().unwrap(), [State::Open, State::ForcedOpen]);
}

#[tokio::test(start_paused = true)]
async fn no_event_when_the_state_does_not_change() {
    let count = Arc::new(Mutex::new(0));
    let sink = Arc::clone(&count);
    let breaker = CircuitBreaker::builder("x", config())
        .on_state_change(move |_: &StateChange| *sink.lock().unwrap() += 1)
        .build()
        .unwrap();
    breaker.reset();
    breaker.force_open();
    breaker.force_open();
    assert_eq!(*count.lock().unwrap(), 1);
}
