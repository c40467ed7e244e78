//! Jitter stays within its bounds, never exceeds the cap, and has the expected mean.
// Helpers outside `#[test]` functions unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use flunq_retry::{Jitter, RetryPolicy};
use rand::SeedableRng;
use rand::rngs::SmallRng;

const DRAWS: usize = 20_000;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `DRAWS` delays of retry 0 of a fixed 1 s policy, from a seeded generator.
fn draws(jitter: Jitter, seed: u64) -> Vec<f64> {
    let policy = RetryPolicy::fixed(Duration::from_secs(1))
        .jitter(jitter)
        .max_retries(1)
        .build()
        .unwrap();
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..DRAWS)
        .map(|_| {
            let delay = policy.delays_with_rng(&mut rng).next().unwrap();
            delay.as_secs_f64()
        })
        .collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
fn no_jitter_is_exact() {
    assert!(draws(Jitter::None, 1).iter().all(|d| *d == 1.0));
}

#[test]
fn full_jitter_is_uniform_between_zero_and_the_delay() {
    let values = draws(Jitter::Full, 7);
    assert!(values.iter().all(|d| (0.0..=1.0).contains(d)));
    assert!((mean(&values) - 0.5).abs() < 0.01, "mean {}", mean(&values));
    assert!(values.iter().any(|d| *d < 0.05) && values.iter().any(|d| *d > 0.95));
}

#[test]
fn equal_jitter_is_uniform_between_half_and_the_delay() {
    let values = draws(Jitter::Equal, 7);
    assert!(values.iter().all(|d| (0.5..=1.0).contains(d)));
    assert!(
        (mean(&values) - 0.75).abs() < 0.01,
        "mean {}",
        mean(&values)
    );
}

#[test]
fn decorrelated_jitter_stays_between_base_and_cap() {
    let base = ms(100);
    let cap = Duration::from_secs(2);
    let policy = RetryPolicy::exponential(base)
        .jitter(Jitter::Decorrelated)
        .max_delay(cap)
        .max_retries(50)
        .build()
        .unwrap();
    let mut rng = SmallRng::seed_from_u64(3);
    let mut reached_cap = false;
    for _ in 0..500 {
        let delays: Vec<Duration> = policy.delays_with_rng(&mut rng).collect();
        assert_eq!(delays.len(), 50);
        assert!(delays.iter().all(|d| *d >= base && *d <= cap), "{delays:?}");
        reached_cap |= delays.contains(&cap);
    }
    assert!(reached_cap, "the random walk should hit the cap at times");
}

#[test]
fn decorrelated_first_delay_is_uniform_between_base_and_three_base() {
    let values = draws(Jitter::Decorrelated, 11);
    assert!(values.iter().all(|d| (1.0..=3.0).contains(d)));
    assert!((mean(&values) - 2.0).abs() < 0.02, "mean {}", mean(&values));
}

#[test]
fn jittered_delay_never_exceeds_the_cap() {
    let cap = ms(500);
    for jitter in [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ] {
        let policy = RetryPolicy::exponential(ms(100))
            .multiplier(3.0)
            .jitter(jitter)
            .max_delay(cap)
            .max_retries(20)
            .build()
            .unwrap();
        let mut rng = SmallRng::seed_from_u64(5);
        let mut longest = Duration::ZERO;
        for _ in 0..1000 {
            longest = longest.max(policy.delays_with_rng(&mut rng).max().unwrap());
        }
        assert!(longest <= cap, "{jitter:?}: {longest:?}");
        assert!(
            longest >= cap * 9 / 10,
            "{jitter:?} should come close to the cap"
        );
    }
}

#[test]
fn policy_seed_makes_jitter_reproducible() {
    let policy = RetryPolicy::exponential(ms(100))
        .jitter(Jitter::Full)
        .jitter_seed(42)
        .max_retries(5)
        .build()
        .unwrap();
    let first: Vec<Duration> = policy.delays().collect();
    let second: Vec<Duration> = policy.delays().collect();
    assert_eq!(first, second);
}

#[test]
fn unseeded_jitter_differs_between_loops() {
    let policy = RetryPolicy::fixed(Duration::from_secs(1))
        .jitter(Jitter::Full)
        .max_retries(8)
        .build()
        .unwrap();
    let first: Vec<Duration> = policy.delays().collect();
    let second: Vec<Duration> = policy.delays().collect();
    assert_ne!(first, second);
}

#[test]
fn decorrelated_jitter_takes_its_base_from_the_first_non_zero_delay() {
    let policy = RetryPolicy::custom([ms(0), ms(100), ms(1000)])
        .jitter(Jitter::Decorrelated)
        .max_delay(Duration::from_secs(10))
        .max_retries(6)
        .build()
        .unwrap();
    let mut rng = SmallRng::seed_from_u64(9);
    for _ in 0..100 {
        let delays: Vec<Duration> = policy.delays_with_rng(&mut rng).collect();
        assert_eq!(delays[0], Duration::ZERO, "the leading zero is kept");
        assert!(
            (ms(100)..=ms(300)).contains(&delays[1]),
            "uniform in [base, 3 base]: {delays:?}"
        );
        assert!(delays[1..].iter().all(|d| *d >= ms(100)), "{delays:?}");
    }
}
