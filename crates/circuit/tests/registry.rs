//! The keyed registry.
// Helpers outside #[test] fns may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use flunq_circuit::{CircuitBreakerRegistry, Config, Outcome, RegistryFull, State, StateChange};
use tokio::time::advance;

fn template() -> Config {
    Config::builder()
        .count_window(2)
        .minimum_calls(2)
        .open_for(Duration::from_secs(3600))
        .build()
        .unwrap()
}

fn registry(max_keys: usize) -> CircuitBreakerRegistry {
    CircuitBreakerRegistry::builder(template())
        .idle_after(Duration::from_secs(60))
        .sweep_interval(Duration::from_secs(10))
        .max_keys(max_keys)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn builds_breakers_from_the_template() {
    let registry = registry(10);
    let breaker = registry.get("https://a.example").unwrap();
    assert_eq!(breaker.config(), &template());
    assert_eq!(&**breaker.key(), "https://a.example");
    assert_eq!(registry.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn returns_the_same_breaker_for_the_same_key() {
    let registry = registry(10);
    registry.get("a").unwrap().force_open();
    assert_eq!(registry.get("a").unwrap().state(), State::ForcedOpen);
    assert_eq!(registry.get("b").unwrap().state(), State::Closed);
    assert_eq!(registry.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn shared_listener_sees_each_key() {
    let keys = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&keys);
    let registry = CircuitBreakerRegistry::builder(template())
        .on_state_change(move |change: &StateChange| {
            sink.lock().unwrap().push(change.key.to_string());
        })
        .build()
        .unwrap();
    registry.get("a").unwrap().force_open();
    registry.get("b").unwrap().disable();
    assert_eq!(*keys.lock().unwrap(), ["a", "b"]);
}

#[tokio::test(start_paused = true)]
async fn evicts_idle_breakers() {
    let registry = registry(10);
    registry
        .get("idle")
        .unwrap()
        .try_acquire()
        .unwrap()
        .record(Outcome::Success);
    advance(Duration::from_secs(30)).await;
    assert_eq!(registry.evict_idle(), 0, "used since the last sweep");
    advance(Duration::from_secs(59)).await;
    assert_eq!(registry.evict_idle(), 0, "idle for 59 s only");
    advance(Duration::from_secs(1)).await;
    assert_eq!(registry.evict_idle(), 1);
    assert!(registry.is_empty());
    assert!(registry.get_existing("idle").is_none());
}

#[tokio::test(start_paused = true)]
async fn keeps_active_breakers() {
    let registry = registry(10);
    let breaker = registry.get("busy").unwrap();
    for _ in 0..10 {
        advance(Duration::from_secs(30)).await;
        breaker.try_acquire().unwrap().record(Outcome::Success);
        registry.evict_idle();
    }
    assert_eq!(registry.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn keeps_open_breakers_while_open() {
    let registry = registry(10);
    let breaker = registry.get("failing").unwrap();
    breaker.try_acquire().unwrap().record(Outcome::Failure);
    breaker.try_acquire().unwrap().record(Outcome::Failure);
    assert_eq!(breaker.state(), State::Open);
    advance(Duration::from_secs(600)).await;
    registry.evict_idle();
    advance(Duration::from_secs(600)).await;
    assert_eq!(registry.evict_idle(), 0, "open for another 40 min");
    advance(Duration::from_secs(2400)).await;
    assert_eq!(registry.evict_idle(), 1, "open period over");
}

#[tokio::test(start_paused = true)]
async fn keeps_idle_breakers_holding_failures_until_pressed() {
    let registry = registry(1);
    registry
        .get("flaky")
        .unwrap()
        .try_acquire()
        .unwrap()
        .record(Outcome::Failure);
    advance(Duration::from_secs(120)).await;
    registry.evict_idle();
    advance(Duration::from_secs(120)).await;
    assert_eq!(
        registry.evict_idle(),
        0,
        "idle, but its window holds a failure"
    );
    assert!(
        registry.get("new").is_ok(),
        "a full registry evicts it for a new key"
    );
    assert!(registry.get_existing("flaky").is_none());
}

#[tokio::test(start_paused = true)]
async fn respects_max_keys() {
    let registry = registry(2);
    let a = registry.get("a").unwrap();
    let b = registry.get("b").unwrap();
    a.force_open();
    assert_eq!(registry.get("c").unwrap_err(), RegistryFull { max_keys: 2 });
    assert_eq!(registry.len(), 2);
    advance(Duration::from_secs(120)).await;
    registry.evict_idle();
    drop(b);
    let c = registry
        .get("c")
        .expect("the idle closed breaker made room");
    assert_eq!(c.state(), State::Closed);
    assert_eq!(registry.len(), 2);
    assert_eq!(
        registry.get("a").unwrap().state(),
        State::ForcedOpen,
        "forced-open is kept"
    );
}

#[tokio::test(start_paused = true)]
async fn sweeps_on_insert_when_due() {
    let registry = registry(100);
    registry.get("old").unwrap();
    advance(Duration::from_secs(61)).await;
    registry.get("trigger").unwrap();
    assert!(
        registry.get_existing("old").is_none(),
        "swept while inserting"
    );
    assert_eq!(registry.len(), 1);
}
