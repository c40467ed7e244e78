//! Deciding, outcome by outcome, whether to try again.

use std::time::Duration;

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Keep this outcome: a success, or an error that retrying will not fix.
    Done,
    /// Try again after the policy's next delay.
    Retry,
    /// Try again after this delay instead of the policy's next one (a server's
    /// `Retry-After`, for instance). It is clamped to the policy's
    /// [`max_delay`](crate::RetryPolicyBuilder::max_delay), still counts as a retry, and
    /// still respects the elapsed limit.
    RetryAfter(Duration),
}

/// Classifies each outcome, errors and unwanted successes alike (an HTTP 503 returned as
/// `Ok(response)` can be retried).
///
/// Any `Fn(&Result<T, E>) -> Decision` is a classifier:
///
/// ```
/// use flunq_retry::{Classify, Decision};
///
/// let by_status = |outcome: &Result<u16, std::io::Error>| match outcome {
///     Ok(503) => Decision::Retry,
///     Ok(_) => Decision::Done,
///     Err(_) => Decision::Retry,
/// };
/// assert_eq!(by_status.classify(&Ok(503)), Decision::Retry);
/// ```
pub trait Classify<T, E> {
    /// What to do after `outcome`.
    fn classify(&self, outcome: &Result<T, E>) -> Decision;
}

impl<T, E, F> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> Decision,
{
    fn classify(&self, outcome: &Result<T, E>) -> Decision {
        self(outcome)
    }
}

/// The default classifier: every `Err` is retried, every `Ok` is kept.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryOnError;

impl<T, E> Classify<T, E> for RetryOnError {
    #[inline]
    fn classify(&self, outcome: &Result<T, E>) -> Decision {
        match outcome {
            Ok(_) => Decision::Done,
            Err(_) => Decision::Retry,
        }
    }
}
