//! A flaky async call retried with exponential backoff and full jitter.
//!
//! The "upstream" fails twice with a transient error, then answers. The retry loop
//! waits 50 ms, then up to 100 ms (full jitter draws each wait from zero to the
//! exponential delay, never above the cap), and returns the answer with the number of
//! attempts it took. A notify hook logs each retry. A permanent error is not retried.
//!
//! Run with `cargo run -p flunq-examples --example retry_flaky_call`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use flunq_retry::{Decision, Jitter, Retry, RetryBudget, RetryPolicy, StopReason};

#[derive(Debug)]
#[allow(dead_code)] // the messages are read through `Debug` only
enum CallError {
    /// Worth another try: a reset connection, a 503.
    Transient(&'static str),
    /// Not worth it: a 400 will be a 400 again.
    Permanent(&'static str),
}

/// Stands in for an HTTP call that fails twice before it answers.
async fn flaky_upstream(calls: &AtomicU32) -> Result<String, CallError> {
    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
    tokio::time::sleep(Duration::from_millis(5)).await;
    match n {
        1 => Err(CallError::Transient("connection reset")),
        2 => Err(CallError::Transient("503 Service Unavailable")),
        _ => Ok(format!("answer after {n} calls")),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = RetryPolicy::exponential(Duration::from_millis(50))
        .multiplier(2.0)
        .max_delay(Duration::from_secs(2))
        .jitter(Jitter::Full)
        .max_retries(5)
        .max_elapsed(Duration::from_secs(10))
        .build()?;

    let calls = AtomicU32::new(0);
    let retry = Retry::new(policy)
        .when(|outcome: &Result<String, CallError>| match outcome {
            Ok(_) => Decision::Done,
            Err(CallError::Transient(_)) => Decision::Retry,
            Err(CallError::Permanent(_)) => Decision::Done,
        })
        .notify(
            |attempt, outcome: &Result<String, CallError>, delay: Duration| {
                if let Err(e) = outcome {
                    println!("attempt {attempt} failed ({e:?}); retrying in {delay:?}");
                }
            },
        )
        // One budget per upstream: a failing upstream sees at most ~20% extra load.
        .budget(RetryBudget::default());

    let started = tokio::time::Instant::now();
    let outcome = retry.run(|| flaky_upstream(&calls)).await;
    println!(
        "{:?} after {} attempts in {:?} (stopped: {:?})",
        outcome.result(),
        outcome.attempts(),
        started.elapsed(),
        outcome.stop_reason()
    );
    assert_eq!(outcome.attempts(), 3);
    assert_eq!(outcome.stop_reason(), StopReason::Done);
    assert!(outcome.into_result().is_ok());

    // A permanent error is not retried: one attempt, and the error comes back as it was.
    let rejected = retry
        .run(|| async { Err::<String, _>(CallError::Permanent("400 Bad Request")) })
        .await;
    println!(
        "{:?} after {} attempt",
        rejected.result(),
        rejected.attempts()
    );
    assert_eq!(rejected.attempts(), 1);
    Ok(())
}
