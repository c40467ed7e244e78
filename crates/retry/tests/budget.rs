//! The shared retry budget, on paused tokio time.

use std::cell::Cell;
use std::time::Duration;

use flunq_retry::{Retry, RetryBudget, RetryPolicy, StopReason};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn always_failing(
    calls: &Cell<u32>,
) -> impl FnMut() -> std::future::Ready<Result<(), &'static str>> {
    move || {
        calls.set(calls.get() + 1);
        std::future::ready(Err("upstream down"))
    }
}

#[tokio::test(start_paused = true)]
async fn reserve_allows_min_per_sec_times_ttl_retries() {
    let budget = RetryBudget::new(secs(1), 5, 0.0).unwrap();
    for _ in 0..5 {
        assert!(budget.withdraw());
    }
    assert!(!budget.withdraw());
    assert_eq!(budget.remaining(), 0);
}

#[tokio::test(start_paused = true)]
async fn deposits_earn_ratio_retries() {
    let budget = RetryBudget::new(secs(10), 0, 0.25).unwrap();
    for _ in 0..8 {
        budget.deposit();
    }
    assert_eq!(budget.remaining(), 2);
    assert!(budget.withdraw());
    assert!(budget.withdraw());
    assert!(!budget.withdraw());
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_budget() {
    let budget = RetryBudget::new(secs(10), 0, 1.0).unwrap();
    let other = budget.clone();
    budget.deposit();
    assert!(other.withdraw());
    assert!(!budget.withdraw());
}

#[tokio::test(start_paused = true)]
async fn failing_upstream_exhausts_the_budget_across_callers() {
    let budget = RetryBudget::new(secs(10), 0, 0.5).unwrap();
    let policy = RetryPolicy::fixed(Duration::from_millis(10))
        .max_retries(3)
        .build()
        .unwrap();
    let retry = Retry::new(policy).budget(budget.clone());
    let calls = Cell::new(0);
    let mut reasons = Vec::new();
    for _ in 0..10 {
        let outcome = retry.run(always_failing(&calls)).await;
        reasons.push(outcome.stop_reason());
    }
    // 10 first attempts earn 5 retries in all: far fewer than the 30 a retry count allows.
    assert_eq!(calls.get(), 10 + 5);
    assert_eq!(reasons.last(), Some(&StopReason::BudgetExhausted));
    assert!(reasons.iter().all(|r| *r == StopReason::BudgetExhausted));
}

#[tokio::test(start_paused = true)]
async fn budget_recovers_after_the_window_passes() {
    let budget = RetryBudget::new(secs(2), 1, 0.0).unwrap();
    assert!(budget.withdraw());
    assert!(budget.withdraw());
    assert!(!budget.withdraw());
    tokio::time::advance(Duration::from_millis(1000)).await;
    assert!(!budget.withdraw(), "withdrawals still inside the window");
    tokio::time::advance(Duration::from_millis(1100)).await;
    assert!(
        budget.withdraw(),
        "withdrawals older than the window expired"
    );
}

#[tokio::test(start_paused = true)]
async fn deposits_expire_after_the_window() {
    let budget = RetryBudget::new(secs(1), 0, 1.0).unwrap();
    budget.deposit();
    tokio::time::advance(Duration::from_millis(1200)).await;
    assert!(!budget.withdraw());
}

#[tokio::test(start_paused = true)]
async fn window_slides_slot_by_slot() {
    let budget = RetryBudget::new(secs(1), 0, 1.0).unwrap();
    budget.deposit();
    tokio::time::advance(Duration::from_millis(500)).await;
    budget.deposit();
    tokio::time::advance(Duration::from_millis(600)).await;
    // The first deposit (1.1 s ago) is gone, the second (0.6 s ago) is not.
    assert_eq!(budget.remaining(), 1);
}

#[tokio::test(start_paused = true)]
async fn successes_refill_an_exhausted_budget() {
    let budget = RetryBudget::new(secs(10), 0, 0.5).unwrap();
    let policy = RetryPolicy::fixed(Duration::ZERO)
        .max_retries(5)
        .build()
        .unwrap();
    let retry = Retry::new(policy).budget(budget.clone());
    let calls = Cell::new(0);
    let outcome = retry.run(always_failing(&calls)).await;
    assert_eq!(outcome.stop_reason(), StopReason::BudgetExhausted);
    assert_eq!(calls.get(), 1, "half a retry is not a retry");
    // Healthy traffic: four first attempts that succeed.
    for _ in 0..4 {
        let outcome = retry.run(|| async { Ok::<_, &str>(()) }).await;
        assert_eq!(outcome.attempts(), 1);
    }
    assert_eq!(budget.remaining(), 2);
    let calls = Cell::new(0);
    let outcome = retry.run(always_failing(&calls)).await;
    // 0.5 left over + 2 from the successes + 0.5 of its own: three retries, then refused.
    assert_eq!(calls.get(), 4);
    assert_eq!(outcome.stop_reason(), StopReason::BudgetExhausted);
}

#[test]
fn default_budget_allows_the_floor_of_retries() {
    let budget = RetryBudget::default();
    assert_eq!(budget.remaining(), 100);
}
