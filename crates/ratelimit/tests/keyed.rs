//! Keyed limiters: independent keys, bounded memory, lossless eviction, the key cap.
// Helpers outside #[test] functions may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use flunq_ratelimit::{Gcra, KeyedError, KeyedRateLimiter, ManualClock, Quota, SlidingWindow};

const MS: Duration = Duration::from_millis(1);

fn keyed_gcra(quota: Quota) -> (KeyedRateLimiter<String, Gcra, ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    (
        KeyedRateLimiter::with_clock(Gcra::new(quota).unwrap(), clock.clone()),
        clock,
    )
}

#[test]
fn keys_are_limited_independently() {
    let (limiter, _clock) = keyed_gcra(Quota::per_second(10).burst(2));
    assert!(limiter.check_key("a").is_ok());
    assert!(limiter.check_key("a").is_ok());
    assert!(matches!(
        limiter.check_key("a"),
        Err(KeyedError::Limited(_))
    ));
    assert!(limiter.check_key("b").is_ok());
    assert!(limiter.check_key("b").is_ok());
    assert!(limiter.check_key("b").is_err());
    assert_eq!(limiter.len(), 2);
}

#[test]
fn memory_stays_bounded_while_keys_come_and_go() {
    // One request per key; a key is idle 100 ms after its request.
    let (limiter, clock) = keyed_gcra(Quota::per_second(10).burst(1));
    let mut most = 0;
    for i in 0..100_000 {
        limiter.check_key(&format!("client-{i}")).unwrap();
        clock.advance(MS);
        most = most.max(limiter.len());
    }
    // About 100 keys are active at any time; the bound is 2 × active + 32 per shard.
    assert!(most < 2_000, "held up to {most} keys");
}

#[test]
fn an_evicted_key_behaves_as_fresh() {
    let (limiter, clock) = keyed_gcra(Quota::per_second(10).burst(3));
    limiter.check_key_n("a", 3).unwrap();
    clock.advance(300 * MS);
    assert_eq!(limiter.sweep(), 1);
    assert!(limiter.is_empty());
    assert_eq!(limiter.check_key_n("a", 3), Ok(()));
    assert!(limiter.check_key("a").is_err());
}

#[test]
fn an_active_key_is_not_evicted_and_keeps_its_state() {
    // The hot key takes its whole burst of 1000; it refills one permit per second.
    let (limiter, clock) = keyed_gcra(Quota::per_second(1).burst(1000));
    limiter.check_key_n("hot", 1000).unwrap();
    // 10,000 one-off keys, each idle a second later, over 100 s: many sweeps run.
    for i in 0..10_000 {
        limiter.check_key(&format!("one-off-{i}")).unwrap();
        clock.advance(10 * MS);
    }
    assert!(limiter.len() < 2_000);
    // 100 s later the hot key has 100 permits back, not the 1000 of a fresh key.
    assert!(limiter.check_key_n("hot", 101).is_err());
    assert_eq!(limiter.check_key_n("hot", 100), Ok(()));
}

#[test]
fn at_max_keys_new_keys_are_refused_and_existing_keys_kept() {
    let clock = ManualClock::new();
    let limiter = KeyedRateLimiter::<String, _, _>::with_clock(
        Gcra::new(Quota::per_second(10).burst(1)).unwrap(),
        clock.clone(),
    )
    .max_keys(2);
    limiter.check_key("a").unwrap();
    clock.advance(50 * MS);
    limiter.check_key("b").unwrap();
    assert_eq!(
        limiter.check_key("c"),
        Err(KeyedError::TooManyKeys { max_keys: 2 })
    );
    assert!(limiter.check_key("a").is_err(), "a keeps its state");
    // Once "a" is idle and the last sweep at the cap is an emission interval (100 ms) old, a
    // new sweep at the cap makes room for "c".
    clock.advance(100 * MS);
    assert_eq!(limiter.check_key("c"), Ok(()));
    assert_eq!(
        limiter.len(),
        1,
        "the sweep dropped the idle \"a\" and \"b\""
    );
}

#[test]
fn sliding_window_keys_are_evicted_after_two_quiet_windows() {
    let clock = ManualClock::new();
    let limiter = KeyedRateLimiter::<u64, _, _>::with_clock(
        SlidingWindow::new(Quota::per_second(5)).unwrap(),
        clock.clone(),
    );
    for _ in 0..5 {
        limiter.check_key(&7).unwrap();
    }
    assert!(limiter.check_key(&7).is_err());
    clock.advance(Duration::from_millis(1999));
    assert_eq!(limiter.sweep(), 0, "still counted in the previous window");
    clock.advance(MS);
    assert_eq!(limiter.sweep(), 1);
    for _ in 0..5 {
        limiter.check_key(&7).unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn until_key_ready_waits_per_key() {
    let limiter = KeyedRateLimiter::<&'static str>::gcra(Quota::per_second(10).burst(1)).unwrap();
    limiter.check_key(&"a").unwrap();
    let start = tokio::time::Instant::now();
    limiter.until_key_ready(&"b").await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
    limiter.until_key_ready(&"a").await.unwrap();
    assert_eq!(start.elapsed(), 100 * MS);
}

#[test]
fn sliding_window_key_idle_for_more_than_2_pow_31_windows_is_evicted() {
    let clock = ManualClock::new();
    let limiter = KeyedRateLimiter::<u64, _, _>::with_clock(
        SlidingWindow::new(Quota::new(5, MS)).unwrap(),
        clock.clone(),
    );
    limiter.check_key(&7).unwrap();
    clock.advance(MS * ((1 << 31) + 5));
    assert_eq!(limiter.sweep(), 1);
}

#[test]
fn at_the_key_cap_new_keys_do_not_sweep_more_than_once_per_emission_interval() {
    // Keys are idle 100 ms after their request; pressure sweeps at most every 100 ms.
    let clock = ManualClock::new();
    let limiter = KeyedRateLimiter::<String, _, _>::with_clock(
        Gcra::new(Quota::per_second(10).burst(1)).unwrap(),
        clock.clone(),
    )
    .max_keys(2);
    limiter.check_key("a").unwrap();
    clock.advance(60 * MS);
    limiter.check_key("b").unwrap();
    // The first refusal at the cap sweeps every shard (nothing is idle yet).
    assert!(matches!(
        limiter.check_key("c"),
        Err(KeyedError::TooManyKeys { .. })
    ));
    // 40 ms later "a" is idle, but the last pressure sweep is only 40 ms old: a burst of new
    // keys is refused at once instead of sweeping every shard for each of them.
    clock.advance(40 * MS);
    for i in 0..100 {
        assert!(matches!(
            limiter.check_key(&format!("new-{i}")),
            Err(KeyedError::TooManyKeys { .. })
        ));
    }
    assert_eq!(limiter.sweep(), 1, "\"a\" was still held: nobody swept it");
    // An explicit sweep made room; 100 ms after the last pressure sweep, one runs again.
    assert_eq!(limiter.check_key("c"), Ok(()));
    assert!(limiter.check_key("d").is_err());
    clock.advance(60 * MS);
    assert_eq!(limiter.check_key("d"), Ok(()), "swept \"b\" to make room");
}
