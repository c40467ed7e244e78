//! The keyed registry.
// Helpers outside #[test] fns may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use flunq_circuit::{
    CircuitBreakerRegistry, Config, Outcome, RegistryFull, Rejected, State, StateChange,
};
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

/// Trips `key` open with two failures (the template's window), dropping every handle.
fn trip(registry: &CircuitBreakerRegistry, key: &str) {
    let breaker = registry.get(key).unwrap();
    breaker.try_acquire().unwrap().record(Outcome::Failure);
    breaker.try_acquire().unwrap().record(Outcome::Failure);
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn keeps_open_breakers_while_open() {
    let registry = registry(10);
    trip(&registry, "failing");
    advance(Duration::from_secs(600)).await;
    registry.evict_idle();
    advance(Duration::from_secs(600)).await;
    assert_eq!(registry.evict_idle(), 0, "open for another 40 min");
}

#[tokio::test(start_paused = true)]
async fn keeps_open_breakers_after_their_open_period_with_its_grown_duration() {
    let config = Config::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(10))
        .open_backoff(2.0, Duration::from_secs(3600))
        .half_open_calls(1)
        .build()
        .unwrap();
    let registry = CircuitBreakerRegistry::builder(config)
        .idle_after(Duration::from_secs(60))
        .sweep_interval(Duration::from_secs(10))
        .build()
        .unwrap();
    let fail = || {
        if let Ok(permit) = registry.get("flaky").unwrap().try_acquire() {
            permit.record(Outcome::Failure);
        }
    };
    fail(); // open for 10 s
    advance(Duration::from_secs(10)).await;
    fail(); // the probe fails: open for 20 s
    advance(Duration::from_secs(120)).await;
    registry.evict_idle();
    advance(Duration::from_secs(120)).await;
    assert_eq!(
        registry.evict_idle(),
        0,
        "open, its period over, not closed"
    );
    fail(); // the probe fails again: open for 40 s, not the 10 s of a fresh breaker
    advance(Duration::from_secs(39)).await;
    assert!(matches!(
        registry.get("flaky").unwrap().try_acquire(),
        Err(Rejected::Open { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn evicts_open_breakers_after_their_open_period_under_pressure() {
    let registry = registry(1);
    trip(&registry, "failing");
    advance(Duration::from_secs(3600)).await;
    registry.evict_idle();
    advance(Duration::from_secs(60)).await;
    assert!(registry.get("new").is_ok(), "a full registry evicts it");
    assert!(registry.get_existing("failing").is_none());
}

#[tokio::test(start_paused = true)]
async fn keeps_a_breaker_while_a_call_on_it_is_in_flight() {
    let config = Config::builder().consecutive_failures(1).build().unwrap();
    let registry = CircuitBreakerRegistry::builder(config)
        .idle_after(Duration::from_secs(60))
        .sweep_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let permit = registry.get("up").unwrap().try_acquire_owned().unwrap();
    advance(Duration::from_secs(30)).await;
    registry.evict_idle();
    advance(Duration::from_secs(61)).await;
    assert_eq!(registry.evict_idle(), 0, "a call is in flight");
    permit.record(Outcome::Failure);
    assert_eq!(
        registry.get("up").unwrap().state(),
        State::Open,
        "the late failure reached the registry's breaker"
    );
}

#[tokio::test(start_paused = true)]
async fn keeps_a_breaker_while_a_handle_to_it_is_held() {
    let registry = registry(10);
    let handle = registry.get("held").unwrap();
    advance(Duration::from_secs(120)).await;
    registry.evict_idle();
    advance(Duration::from_secs(120)).await;
    assert_eq!(registry.evict_idle(), 0, "a handle is held");
    drop(handle);
    advance(Duration::from_secs(59)).await;
    assert_eq!(
        registry.evict_idle(),
        0,
        "idle since the handle went, 59 s only"
    );
    advance(Duration::from_secs(1)).await;
    assert_eq!(registry.evict_idle(), 1);
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
    drop(b);
    advance(Duration::from_secs(120)).await;
    registry.evict_idle();
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

#[tokio::test(start_paused = true)]
async fn at_max_keys_new_keys_sweep_at_most_once_per_sweep_interval() {
    let registry = registry(1);
    registry
        .get("a")
        .unwrap()
        .try_acquire()
        .unwrap()
        .record(Outcome::Failure);
    advance(Duration::from_secs(5)).await;
    registry.evict_idle(); // "a" was last seen now
    advance(Duration::from_secs(55)).await;
    assert!(
        registry.get("b").is_err(),
        "swept: \"a\" is idle for 55 s only"
    );
    advance(Duration::from_secs(5)).await;
    // "a" is now idle and evictable at the cap, but the last sweep at the cap is 5 s old:
    // a burst of new keys is refused at once instead of sweeping for each of them.
    for i in 0..100 {
        assert_eq!(
            registry.get(&format!("new-{i}")).unwrap_err(),
            RegistryFull { max_keys: 1 }
        );
    }
    assert!(registry.get_existing("a").is_some(), "nobody swept it");
    advance(Duration::from_secs(5)).await;
    assert!(registry.get("c").is_ok(), "a sweep at the cap is due again");
    assert!(registry.get_existing("a").is_none());
}
