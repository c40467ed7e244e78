//! The exact delays each policy produces, the cap, the limits and overflow.

use std::time::Duration;

use flunq_retry::{Jitter, RetryPolicy};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn millis(policy: &RetryPolicy) -> Vec<u128> {
    policy.delays().map(|d| d.as_millis()).collect()
}

#[test]
fn fixed_waits_the_same_delay_before_every_retry() {
    let policy = RetryPolicy::fixed(ms(250)).max_retries(4).build().unwrap();
    assert_eq!(millis(&policy), [250, 250, 250, 250]);
}

#[test]
fn exponential_first_retry_waits_base_then_multiplies() {
    let policy = RetryPolicy::exponential(ms(100))
        .max_retries(5)
        .build()
        .unwrap();
    assert_eq!(millis(&policy), [100, 200, 400, 800, 1600]);
}

#[test]
fn exponential_with_fractional_multiplier_is_exact_to_the_millisecond() {
    let policy = RetryPolicy::exponential(ms(100))
        .multiplier(1.5)
        .max_retries(4)
        .build()
        .unwrap();
    let nanos: Vec<u128> = policy.delays().map(|d| d.as_nanos()).collect();
    assert_eq!(nanos, [100_000_000, 150_000_000, 225_000_000, 337_500_000]);
}

#[test]
fn linear_adds_the_increment_per_retry() {
    let policy = RetryPolicy::linear(ms(100), ms(50))
        .max_retries(4)
        .build()
        .unwrap();
    assert_eq!(millis(&policy), [100, 150, 200, 250]);
}

#[test]
fn custom_list_repeats_its_last_delay() {
    let policy = RetryPolicy::custom(vec![ms(10), ms(30), ms(70)])
        .max_retries(6)
        .build()
        .unwrap();
    assert_eq!(millis(&policy), [10, 30, 70, 70, 70, 70]);
}

#[test]
fn iterator_policy_walks_a_fresh_iterator_each_loop_and_stops_at_its_end() {
    let policy = RetryPolicy::from_iterator([ms(5), ms(6), ms(7)])
        .unlimited_retries()
        .build()
        .unwrap();
    assert_eq!(millis(&policy), [5, 6, 7]);
    assert_eq!(millis(&policy), [5, 6, 7], "a second loop starts over");
}

#[test]
fn iterator_policy_accepts_an_infinite_iterator_limited_by_max_retries() {
    let policy = RetryPolicy::from_iterator((1..).map(Duration::from_secs))
        .max_retries(3)
        .build()
        .unwrap();
    assert_eq!(millis(&policy), [1000, 2000, 3000]);
}

#[test]
fn closure_policy_gives_delay_of_retry_n_and_none_stops() {
    let policy = RetryPolicy::from_fn(|n| (n < 3).then(|| ms(u64::from(n) * 10 + 1)))
        .unlimited_retries()
        .build()
        .unwrap();
    assert_eq!(millis(&policy), [1, 11, 21]);
}

#[test]
fn cap_applies_to_every_policy() {
    let cap = ms(300);
    let policies = [
        RetryPolicy::fixed(ms(500)),
        RetryPolicy::exponential(ms(100)),
        RetryPolicy::linear(ms(100), ms(150)),
        RetryPolicy::custom(vec![ms(100), ms(1000)]),
        RetryPolicy::from_fn(|n| Some(ms(100 * u64::from(n + 1)))),
        RetryPolicy::from_iterator([ms(100), ms(900), ms(200)]),
    ];
    let expected: [&[u128]; 6] = [
        &[300, 300, 300],
        &[100, 200, 300],
        &[100, 250, 300],
        &[100, 300, 300],
        &[100, 200, 300],
        &[100, 300, 200],
    ];
    for (builder, expected) in policies.into_iter().zip(expected) {
        let policy = builder.max_delay(cap).max_retries(3).build().unwrap();
        assert_eq!(millis(&policy), expected, "{policy:?}");
    }
}

#[test]
fn zero_cap_with_nonzero_base_gives_zero_delays() {
    let policy = RetryPolicy::exponential(ms(100))
        .max_delay(Duration::ZERO)
        .max_retries(3)
        .build()
        .unwrap();
    assert_eq!(millis(&policy), [0, 0, 0]);
}

#[test]
fn exponential_saturates_at_the_cap_at_large_retry_numbers() {
    let cap = Duration::from_secs(30);
    let policy = RetryPolicy::exponential(ms(100))
        .max_delay(cap)
        .max_retries(10_000)
        .build()
        .unwrap();
    let delays: Vec<Duration> = policy.delays().collect();
    assert_eq!(delays.len(), 10_000);
    assert!(delays[20..].iter().all(|d| *d == cap));
}

#[test]
fn huge_multiplier_saturates_instead_of_panicking() {
    let policy = RetryPolicy::exponential(Duration::from_secs(u64::MAX))
        .multiplier(f64::MAX)
        .max_retries(3)
        .build()
        .unwrap();
    let delays: Vec<Duration> = policy.delays().collect();
    assert_eq!(delays.len(), 3);
    assert!(delays.iter().all(|d| *d == Duration::from_nanos(u64::MAX)));
}

#[test]
fn linear_saturates_at_huge_increments() {
    let policy = RetryPolicy::linear(Duration::MAX, Duration::MAX)
        .max_delay(Duration::from_secs(60))
        .max_retries(3)
        .build()
        .unwrap();
    assert_eq!(millis(&policy), [60_000, 60_000, 60_000]);
}

#[test]
fn delays_iterator_stops_at_max_retries() {
    let policy = RetryPolicy::fixed(ms(1)).max_retries(2).build().unwrap();
    assert_eq!(policy.delays().count(), 2);
    let none = RetryPolicy::fixed(ms(1)).max_retries(0).build().unwrap();
    assert_eq!(none.delays().count(), 0);
}

#[test]
fn delays_iterator_stops_before_the_wait_that_crosses_max_elapsed() {
    let policy = RetryPolicy::exponential(Duration::from_secs(1))
        .unlimited_retries()
        .max_elapsed(Duration::from_secs(5))
        .build()
        .unwrap();
    // 1 + 2 = 3 s; a further 4 s would end at 7 s > 5 s.
    assert_eq!(millis(&policy), [1000, 2000]);
}

#[test]
fn next_delay_counts_real_elapsed_time_and_reports_why_it_stops() {
    use flunq_retry::StopReason;
    let policy = RetryPolicy::fixed(Duration::from_secs(2))
        .max_retries(5)
        .max_elapsed(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut delays = policy.delays();
    assert_eq!(
        delays.next_delay(Duration::from_secs(8), None),
        Ok(Duration::from_secs(2))
    );
    assert_eq!(
        delays.next_delay(Duration::from_secs(9), None),
        Err(StopReason::ElapsedLimit)
    );
    assert_eq!(delays.retries(), 1);
}

#[test]
fn next_delay_uses_a_hint_clamped_to_the_cap() {
    let policy = RetryPolicy::fixed(ms(100))
        .max_delay(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut delays = policy.delays();
    assert_eq!(
        delays.next_delay(Duration::ZERO, Some(ms(700))),
        Ok(ms(700))
    );
    assert_eq!(
        delays.next_delay(Duration::ZERO, Some(Duration::from_secs(3600))),
        Ok(Duration::from_secs(5))
    );
    assert_eq!(delays.next_delay(Duration::ZERO, None), Ok(ms(100)));
}

#[test]
fn policy_reports_its_settings() {
    let policy = RetryPolicy::fixed(ms(1))
        .jitter(Jitter::Equal)
        .max_delay(ms(9))
        .max_retries(7)
        .max_elapsed(ms(99))
        .build()
        .unwrap();
    assert_eq!(policy.jitter(), Jitter::Equal);
    assert_eq!(policy.max_delay(), Some(ms(9)));
    assert_eq!(policy.max_retries(), Some(7));
    assert_eq!(policy.max_elapsed(), Some(ms(99)));
}
