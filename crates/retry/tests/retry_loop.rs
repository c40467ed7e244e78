//! The retry loop, on paused tokio time.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use flunq_retry::{Decision, Jitter, Retry, RetryPolicy, StopReason};
use tokio::time::Instant;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// An operation that fails `failures` times, then returns `Ok(attempt number)`.
fn flaky(
    failures: u32,
    calls: &Cell<u32>,
) -> impl FnMut() -> std::future::Ready<Result<u32, String>> {
    move || {
        calls.set(calls.get() + 1);
        let n = calls.get();
        std::future::ready(if n <= failures {
            Err(format!("failure {n}"))
        } else {
            Ok(n)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn first_success_is_returned_after_one_attempt_without_waiting() {
    let start = Instant::now();
    let calls = Cell::new(0);
    let policy = RetryPolicy::fixed(secs(1)).build().unwrap();
    let outcome = Retry::new(policy).run(flaky(0, &calls)).await;
    assert_eq!(outcome.result(), &Ok(1));
    assert_eq!(outcome.attempts(), 1);
    assert_eq!(outcome.stop_reason(), StopReason::Done);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn retries_errors_until_success_waiting_each_delay() {
    let start = Instant::now();
    let calls = Cell::new(0);
    let policy = RetryPolicy::exponential(secs(1))
        .max_retries(5)
        .build()
        .unwrap();
    let outcome = Retry::new(policy).run(flaky(3, &calls)).await;
    assert_eq!(outcome.result(), &Ok(4));
    assert_eq!(outcome.attempts(), 4);
    assert!(outcome.is_done());
    assert_eq!(start.elapsed(), secs(1 + 2 + 4));
}

#[tokio::test(start_paused = true)]
async fn max_retries_stops_the_loop_with_the_last_error() {
    let calls = Cell::new(0);
    let policy = RetryPolicy::fixed(secs(1)).max_retries(2).build().unwrap();
    let outcome = Retry::new(policy).run(flaky(10, &calls)).await;
    assert_eq!(outcome.result(), &Err("failure 3".to_string()));
    assert_eq!(outcome.attempts(), 3);
    assert_eq!(outcome.stop_reason(), StopReason::RetriesExhausted);
    assert_eq!(calls.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_stops_before_the_wait_that_would_cross_it() {
    let start = Instant::now();
    let calls = Cell::new(0);
    let policy = RetryPolicy::custom(vec![secs(1), secs(2), secs(4)])
        .unlimited_retries()
        .max_elapsed(secs(5))
        .build()
        .unwrap();
    let outcome = Retry::new(policy).run(flaky(10, &calls)).await;
    // Attempts at 0 s, 1 s and 3 s; waiting 4 s more would end at 7 s > 5 s.
    assert_eq!(outcome.attempts(), 3);
    assert_eq!(outcome.stop_reason(), StopReason::ElapsedLimit);
    assert_eq!(start.elapsed(), secs(3));
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_counts_the_time_attempts_take() {
    let start = Instant::now();
    let calls = Cell::new(0);
    let policy = RetryPolicy::fixed(secs(1))
        .unlimited_retries()
        .max_elapsed(secs(10))
        .build()
        .unwrap();
    let outcome = Retry::new(policy)
        .run(|| {
            calls.set(calls.get() + 1);
            async {
                tokio::time::sleep(secs(2)).await;
                Err::<(), _>("slow failure")
            }
        })
        .await;
    // Each attempt takes 2 s plus a 1 s wait: attempts end at 2, 5, 8; 8 + 1 = 9 <= 10,
    // the fourth ends at 11 s and its wait would end at 12 s > 10 s.
    assert_eq!(outcome.attempts(), 4);
    assert_eq!(outcome.stop_reason(), StopReason::ElapsedLimit);
    assert_eq!(start.elapsed(), secs(11));
}

#[tokio::test(start_paused = true)]
async fn classifier_retries_an_unwanted_ok_and_returns_it_as_the_last_outcome() {
    let calls = Cell::new(0);
    let policy = RetryPolicy::fixed(secs(1)).max_retries(2).build().unwrap();
    let outcome = Retry::new(policy)
        .when(|outcome: &Result<u16, ()>| match outcome {
            Ok(503) | Err(_) => Decision::Retry,
            Ok(_) => Decision::Done,
        })
        .run(|| {
            calls.set(calls.get() + 1);
            async { Ok(503) }
        })
        .await;
    assert_eq!(outcome.result(), &Ok(503));
    assert_eq!(outcome.attempts(), 3);
    assert_eq!(outcome.stop_reason(), StopReason::RetriesExhausted);
}

#[tokio::test(start_paused = true)]
async fn classifier_done_on_an_error_stops_at_once() {
    let calls = Cell::new(0);
    let policy = RetryPolicy::fixed(secs(1)).build().unwrap();
    let outcome = Retry::new(policy)
        .when(|outcome: &Result<u32, String>| match outcome {
            Err(e) if e.starts_with("failure") => Decision::Done,
            _ => Decision::Retry,
        })
        .run(flaky(5, &calls))
        .await;
    assert_eq!(outcome.result(), &Err("failure 1".to_string()));
    assert_eq!(outcome.attempts(), 1);
    assert_eq!(outcome.stop_reason(), StopReason::Done);
}

#[tokio::test(start_paused = true)]
async fn retry_after_hint_overrides_the_next_delay() {
    let start = Instant::now();
    let calls = Cell::new(0);
    let policy = RetryPolicy::fixed(secs(1)).max_retries(3).build().unwrap();
    let outcome = Retry::new(policy)
        .when(|outcome: &Result<u32, String>| match outcome {
            Err(e) if e == "failure 1" => Decision::RetryAfter(secs(7)),
            Err(_) => Decision::Retry,
            Ok(_) => Decision::Done,
        })
        .run(flaky(2, &calls))
        .await;
    assert_eq!(outcome.result(), &Ok(3));
    // 7 s (the hint), then the policy's 1 s.
    assert_eq!(start.elapsed(), secs(8));
}

#[tokio::test(start_paused = true)]
async fn retry_after_hint_is_clamped_to_the_cap() {
    let start = Instant::now();
    let calls = Cell::new(0);
    let policy = RetryPolicy::fixed(secs(1))
        .max_delay(secs(30))
        .build()
        .unwrap();
    let outcome = Retry::new(policy)
        .when(|outcome: &Result<u32, String>| match outcome {
            Err(_) => Decision::RetryAfter(secs(86_400)),
            Ok(_) => Decision::Done,
        })
        .run(flaky(1, &calls))
        .await;
    assert_eq!(outcome.result(), &Ok(2));
    assert_eq!(start.elapsed(), secs(30));
}

#[tokio::test(start_paused = true)]
async fn notify_sees_each_attempt_and_delay_in_order() {
    let seen = RefCell::new(Vec::new());
    let calls = Cell::new(0);
    let policy = RetryPolicy::linear(secs(1), secs(1))
        .max_retries(5)
        .build()
        .unwrap();
    let outcome = Retry::new(policy)
        .notify(|attempt, outcome: &Result<u32, String>, delay| {
            seen.borrow_mut()
                .push((attempt, outcome.clone().unwrap_err(), delay));
        })
        .run(flaky(3, &calls))
        .await;
    assert_eq!(outcome.attempts(), 4);
    assert_eq!(
        seen.into_inner(),
        [
            (1, "failure 1".to_string(), secs(1)),
            (2, "failure 2".to_string(), secs(2)),
            (3, "failure 3".to_string(), secs(3)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn notify_is_not_called_when_no_retry_follows() {
    let notified = Cell::new(0);
    let calls = Cell::new(0);
    let policy = RetryPolicy::fixed(secs(1)).max_retries(1).build().unwrap();
    let outcome = Retry::new(policy)
        .notify(|_, _: &Result<u32, String>, _| notified.set(notified.get() + 1))
        .run(flaky(5, &calls))
        .await;
    assert_eq!(outcome.attempts(), 2);
    assert_eq!(notified.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_mid_wait_runs_no_further_attempt() {
    let calls = Cell::new(0);
    let policy = RetryPolicy::fixed(secs(10)).build().unwrap();
    let retry = Retry::new(policy);
    let run = retry.run(flaky(5, &calls));
    let timed_out = tokio::time::timeout(secs(15), run).await;
    assert!(timed_out.is_err());
    // Attempts at 0 s and 10 s; the one due at 20 s never runs.
    assert_eq!(calls.get(), 2);
    tokio::time::sleep(secs(100)).await;
    assert_eq!(calls.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn zero_delays_do_not_call_the_sleeper() {
    let sleeps = Cell::new(0);
    let calls = Cell::new(0);
    let policy = RetryPolicy::fixed(Duration::ZERO)
        .max_retries(3)
        .build()
        .unwrap();
    let outcome = Retry::new(policy)
        .sleeper(|delay: Duration| {
            sleeps.set(sleeps.get() + 1);
            tokio::time::sleep(delay)
        })
        .run(flaky(3, &calls))
        .await;
    assert_eq!(outcome.result(), &Ok(4));
    assert_eq!(sleeps.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn custom_sleeper_receives_every_nonzero_delay() {
    let slept = RefCell::new(Vec::new());
    let calls = Cell::new(0);
    let policy = RetryPolicy::exponential(Duration::from_millis(10))
        .max_retries(3)
        .build()
        .unwrap();
    let outcome = Retry::new(policy)
        .sleeper(|delay: Duration| {
            slept.borrow_mut().push(delay);
            std::future::ready(())
        })
        .run(flaky(3, &calls))
        .await;
    assert_eq!(outcome.result(), &Ok(4));
    assert_eq!(slept.into_inner(), [10, 20, 40].map(Duration::from_millis));
}

#[tokio::test(start_paused = true)]
async fn seeded_jitter_gives_the_same_virtual_time_twice() {
    let policy = RetryPolicy::exponential(secs(1))
        .jitter(Jitter::Full)
        .jitter_seed(9)
        .max_retries(4)
        .build()
        .unwrap();
    let retry = Retry::new(policy);
    let mut elapsed = Vec::new();
    for _ in 0..2 {
        let start = Instant::now();
        let calls = Cell::new(0);
        retry.run(flaky(10, &calls)).await;
        elapsed.push(start.elapsed());
    }
    assert_eq!(elapsed[0], elapsed[1]);
    assert!(elapsed[0] <= secs(1 + 2 + 4 + 8));
}

#[tokio::test(start_paused = true)]
async fn run_future_is_send_and_can_be_spawned() {
    let policy = RetryPolicy::exponential(Duration::from_millis(10))
        .jitter(Jitter::Decorrelated)
        .max_retries(3)
        .build()
        .unwrap();
    let retry = std::sync::Arc::new(Retry::new(policy));
    let task = tokio::spawn(async move {
        let outcome = retry.run(|| async { Err::<(), _>("always") }).await;
        (outcome.attempts(), outcome.stop_reason())
    });
    assert_eq!(task.await.unwrap(), (4, StopReason::RetriesExhausted));
}
