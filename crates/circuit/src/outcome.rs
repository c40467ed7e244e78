//! What a call reports, and why a call was refused.

use std::time::Duration;

/// How a guarded call ended, as the breaker should count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The upstream did its job.
    Success,
    /// The upstream failed in a way that says something about its health.
    Failure,
    /// Not counted at all (a client error, a cancelled call); in half-open
    /// the probe slot is given back.
    Ignored,
}

impl Outcome {
    /// `Ok` is a success, `Err` a failure: the usual classifier.
    pub fn of_result<T, E>(result: &Result<T, E>) -> Outcome {
        if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

/// Why [`try_acquire`](crate::CircuitBreaker::try_acquire) refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// The breaker is open; it turns half-open in `retry_after`.
    #[error("circuit open, half-open in {retry_after:?}")]
    Open {
        /// Time left before the next call may be let through as a probe.
        retry_after: Duration,
    },
    /// Half-open, and every probe slot is taken by a call still running.
    #[error("circuit half-open, all probe calls in flight")]
    HalfOpenFull,
    /// Forced open by an operator until reset.
    #[error("circuit forced open")]
    ForcedOpen,
}

/// The error of [`CircuitBreaker::call`](crate::CircuitBreaker::call) and of
/// the tower service: the breaker refused, or the inner call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError<E> {
    /// The breaker refused the call; the inner call never ran.
    #[error(transparent)]
    Rejected(Rejected),
    /// The inner call ran and failed.
    #[error("{0}")]
    Inner(E),
}

impl<E> CallError<E> {
    /// Whether the breaker refused the call ("circuit open").
    pub fn is_rejected(&self) -> bool {
        matches!(self, CallError::Rejected(_))
    }

    /// The inner error, if the call ran.
    pub fn into_inner(self) -> Option<E> {
        match self {
            CallError::Inner(e) => Some(e),
            CallError::Rejected(_) => None,
        }
    }
}

impl<E> From<Rejected> for CallError<E> {
    fn from(rejected: Rejected) -> Self {
        CallError::Rejected(rejected)
    }
}
