//! Retries for async Rust: backoff schedules, jitter that respects its cap, `Retry-After`,
//! retry budgets shared between callers, and a tower layer.
//!
//! # When to use it
//!
//! Wrap any operation that can fail transiently (an HTTP call, a database query, a queue
//! publish) when the failures are worth another try. The loop retries errors and, if you
//! say so, unwanted successes such as an HTTP 503 returned as `Ok(response)`; when it
//! gives up it hands back that last outcome as it was, with the number of attempts and
//! the reason it stopped. Use a [`RetryBudget`] per upstream so that a failing upstream
//! sees a bounded extra load instead of a retry storm.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::cell::Cell;
//! use std::time::Duration;
//! use flunq_retry::{Decision, Jitter, Retry, RetryBudget, RetryPolicy, StopReason};
//!
//! let policy = RetryPolicy::exponential(Duration::from_millis(100))
//!     .multiplier(2.0)
//!     .max_delay(Duration::from_secs(2))
//!     .jitter(Jitter::Full)
//!     .max_retries(4)
//!     .max_elapsed(Duration::from_secs(10))
//!     .build()?;
//! let budget = RetryBudget::default(); // share one per upstream
//!
//! // Status codes stand in for responses: 503 twice, then 200.
//! let replies = Cell::new(0);
//! let retry = Retry::new(policy)
//!     .when(|outcome: &Result<u16, String>| match outcome {
//!         Ok(503) => Decision::Retry,
//!         Ok(429) => Decision::RetryAfter(Duration::from_secs(1)), // a Retry-After hint
//!         Ok(_) => Decision::Done,
//!         Err(_) => Decision::Retry,
//!     })
//!     .notify(|attempt, _outcome: &Result<u16, String>, delay| {
//!         assert!(delay <= Duration::from_secs(2), "attempt {attempt}");
//!     })
//!     .budget(budget);
//!
//! let outcome = retry
//!     .run(|| {
//!         replies.set(replies.get() + 1);
//!         let status = if replies.get() < 3 { 503 } else { 200 };
//!         async move { Ok(status) }
//!     })
//!     .await;
//! assert_eq!(outcome.result(), &Ok(200));
//! assert_eq!(outcome.attempts(), 3);
//! assert_eq!(outcome.stop_reason(), StopReason::Done);
//! # Ok(())
//! # }
//! ```
//!
//! # Design
//!
//! - A [`RetryPolicy`] is validated plain data: a schedule (fixed, exponential, linear, a
//!   custom list whose last delay repeats, a closure or any iterator), a cap, a [`Jitter`]
//!   and limits (retry count, elapsed time including the waits). [`RetryPolicy::delays`]
//!   turns it into an iterator of delays for callers that run their own loop.
//! - [`Retry::run`] is one `async fn`: no spawned task, no boxed future, no allocation on
//!   the path where the first attempt succeeds. The classifier, hook and sleeper are type
//!   parameters, so the defaults compile to nothing. Dropping the future stops everything.
//!   Zero delays skip the timer (tokio's `sleep(ZERO)` still costs a timer round-trip).
//! - A [`Decision::RetryAfter`] hint overrides the next delay, clamped to the policy's cap:
//!   a server cannot park a client for longer than the client agreed to wait.
//!   [`parse_retry_after`] reads the header value (seconds or HTTP-date) without any HTTP
//!   crate.
//! - Jitter follows the AWS "Exponential Backoff and Jitter" article (full, equal,
//!   decorrelated) and never exceeds the cap. The default generator is rand's `SmallRng`,
//!   seeded per loop from a per-thread sequence (no system call); inject your own with
//!   [`RetryPolicy::delays_with_rng`] or a fixed seed with
//!   [`RetryPolicyBuilder::jitter_seed`].
//! - [`RetryBudget`] is a sliding window of ten atomic slots (lock-free), with a floor of
//!   retries per second and a ratio of retries to first attempts, on tokio's clock.
//! - Time is tokio's ([`tokio::time::Instant`], [`tokio::time::sleep`]), so paused-time
//!   tests run instantly; other runtimes plug in a [`Sleeper`].
//!
//! Trade-offs: `run` borrows the `Retry`, so closures are `Fn` (use `Cell` or atomics to
//! count); the classifier sees only the outcome, not the attempt number; a budget may be
//! overdrawn by the number of callers withdrawing its last retry at the same instant.
//!
//! # Compared with its peers
//!
//! - **backon** is the popular choice and is pleasant to use. Its jitter adds up to one more
//!   delay, so a jittered delay can reach twice `max_delay`; it offers no full, equal or
//!   decorrelated jitter, no budget, and no way to retry an unwanted `Ok` (its `when` sees
//!   errors only). Retry-After takes an `adjust` hook. We match its speed (see the bench).
//! - **backoff** is unmaintained (RUSTSEC-2025-0012); **tokio-retry** is unmaintained and
//!   its `from_millis(b)` grows as bⁿ.
//! - **tower::retry** has a budget (`TpsBudget`, with a lock to rotate its window) but leaves
//!   the policy, the classification and the backoff to you, and returns no attempt count.
//! - **reqwest-retry** has no Retry-After; reqwest's own retry has a budget and no backoff.
//!
//! None of them hands back the last outcome together with the attempt count and the
//! reason for stopping, which an executor that records attempts needs.
//!
//! # Features
//!
//! - `tower`: `tower::RetryLayer`, retrying a cloneable request with the same policies,
//!   classifiers and budgets.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod budget;
mod classify;
mod delays;
mod http_date;
mod jitter;
mod notify;
mod outcome;
mod policy;
mod retry;
mod retry_after;
mod seed;
mod sleep;

#[cfg(feature = "tower")]
pub mod tower;

pub use budget::{BudgetError, RetryBudget};
pub use classify::{Classify, Decision, RetryOnError};
pub use delays::Delays;
pub use jitter::Jitter;
pub use notify::{NoNotify, Notify};
pub use outcome::{RetryOutcome, StopReason};
pub use policy::{DEFAULT_MAX_RETRIES, PolicyError, RetryPolicy, RetryPolicyBuilder};
pub use retry::Retry;
pub use retry_after::{RetryAfterError, parse_retry_after};
pub use sleep::{Sleeper, TokioSleeper};
