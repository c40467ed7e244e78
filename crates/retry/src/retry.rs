//! The retry loop for async operations.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::budget::RetryBudget;
use crate::classify::{Classify, Decision, RetryOnError};
use crate::notify::{NoNotify, Notify};
use crate::outcome::{RetryOutcome, StopReason};
use crate::policy::RetryPolicy;
use crate::sleep::{Sleeper, TokioSleeper};

/// Runs an async operation until the classifier is satisfied or the policy, the elapsed
/// limit or the budget says stop.
///
/// A `Retry` is configuration: build it once and call [`run`](Self::run) as often as you
/// like, from as many tasks as you like. Each `run` is one future with no spawned task and
/// no allocation of its own: drop it and nothing more happens.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use flunq_retry::{Decision, Retry, RetryPolicy, StopReason};
///
/// let policy = RetryPolicy::fixed(Duration::from_millis(10)).max_retries(2).build().unwrap();
/// let retry = Retry::new(policy).when(|outcome: &Result<u16, ()>| match outcome {
///     Ok(503) | Err(_) => Decision::Retry,
///     Ok(_) => Decision::Done,
/// });
/// let outcome = retry.run(|| async { Ok(503) }).await;
/// assert_eq!(outcome.result(), &Ok(503)); // the last response, as it came
/// assert_eq!(outcome.attempts(), 3);
/// assert_eq!(outcome.stop_reason(), StopReason::RetriesExhausted);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Retry<C = RetryOnError, N = NoNotify, S = TokioSleeper> {
    policy: RetryPolicy,
    classifier: C,
    notify: N,
    sleeper: S,
    budget: Option<RetryBudget>,
}

impl Retry {
    /// A retry loop with `policy` that retries every `Err`, notifies nobody, sleeps on
    /// tokio's timer and has no budget.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            classifier: RetryOnError,
            notify: NoNotify,
            sleeper: TokioSleeper,
            budget: None,
        }
    }
}

impl<C, N, S> Retry<C, N, S> {
    /// Decides per outcome whether to retry (see [`Classify`]).
    pub fn when<C2>(self, classifier: C2) -> Retry<C2, N, S> {
        Retry {
            policy: self.policy,
            classifier,
            notify: self.notify,
            sleeper: self.sleeper,
            budget: self.budget,
        }
    }

    /// Calls `hook(attempt, &outcome, delay)` before each wait (see [`Notify`]).
    pub fn notify<N2>(self, hook: N2) -> Retry<C, N2, S> {
        Retry {
            policy: self.policy,
            classifier: self.classifier,
            notify: hook,
            sleeper: self.sleeper,
            budget: self.budget,
        }
    }

    /// Waits on `sleeper` instead of tokio's timer (see [`Sleeper`]).
    pub fn sleeper<S2: Sleeper>(self, sleeper: S2) -> Retry<C, N, S2> {
        Retry {
            policy: self.policy,
            classifier: self.classifier,
            notify: self.notify,
            sleeper,
            budget: self.budget,
        }
    }

    /// Shares `budget` with every other loop that holds a clone of it: each `run`
    /// deposits once, each retry withdraws, and an empty budget stops the loop with
    /// [`StopReason::BudgetExhausted`].
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The policy this loop follows.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Runs `operation` (called once per attempt) until it is done or the loop must stop,
    /// and returns the last outcome with the attempt count and the reason.
    ///
    /// Zero delays do not touch the timer. The clock is read only when the policy has an
    /// elapsed limit or a budget is attached.
    pub async fn run<T, E, F, Fut>(&self, mut operation: F) -> RetryOutcome<T, E>
    where
        C: Classify<T, E>,
        N: Notify<T, E>,
        S: Sleeper,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let start = self.policy.max_elapsed.map(|_| Instant::now());
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
        let mut cursor = None;
        let mut attempts: u32 = 0;
        loop {
            let outcome = operation().await;
            attempts = attempts.saturating_add(1);
            let hint = match self.classifier.classify(&outcome) {
                Decision::Done => return RetryOutcome::new(outcome, attempts, StopReason::Done),
                Decision::Retry => None,
                Decision::RetryAfter(delay) => Some(delay),
            };
            let cursor = cursor.get_or_insert_with(|| self.policy.cursor());
            let elapsed = start.map_or(Duration::ZERO, |start| start.elapsed());
            let delay = match cursor.next_delay(&self.policy, elapsed, hint) {
                Ok(delay) => delay,
                Err(stop) => return RetryOutcome::new(outcome, attempts, stop),
            };
            if let Some(budget) = &self.budget
                && !budget.withdraw()
            {
                return RetryOutcome::new(outcome, attempts, StopReason::BudgetExhausted);
            }
            self.notify.notify(attempts, &outcome, delay);
            drop(outcome);
            if !delay.is_zero() {
                self.sleeper.sleep(delay).await;
            }
        }
    }
}
