//! What a retry loop hands back: the last outcome, the attempts, and why it stopped.

use std::fmt;

/// Why a retry loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// The classifier said [`Decision::Done`](crate::Decision::Done): a success, or an
    /// outcome not worth retrying.
    Done,
    /// The policy's retry count was used up, or its schedule of delays ended.
    RetriesExhausted,
    /// The next wait would have ended past the policy's `max_elapsed`.
    ElapsedLimit,
    /// The shared [`RetryBudget`](crate::RetryBudget) had no retry left.
    BudgetExhausted,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Done => "done",
            Self::RetriesExhausted => "retries exhausted",
            Self::ElapsedLimit => "elapsed-time limit reached",
            Self::BudgetExhausted => "retry budget exhausted",
        })
    }
}

/// The end of a retry loop: the last outcome exactly as the operation returned it (an
/// `Err`, or an unwanted `Ok` such as a 503 response), how many attempts were made, and
/// why the loop stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryOutcome<T, E> {
    result: Result<T, E>,
    attempts: u32,
    stop: StopReason,
}

impl<T, E> RetryOutcome<T, E> {
    pub(crate) fn new(result: Result<T, E>, attempts: u32, stop: StopReason) -> Self {
        Self {
            result,
            attempts,
            stop,
        }
    }

    /// The last outcome, by reference.
    pub fn result(&self) -> &Result<T, E> {
        &self.result
    }

    /// The last outcome, as the operation returned it.
    pub fn into_result(self) -> Result<T, E> {
        self.result
    }

    /// How many times the operation ran (1 when the first attempt was final).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Why the loop stopped.
    pub fn stop_reason(&self) -> StopReason {
        self.stop
    }

    /// Whether the classifier accepted the last outcome ([`StopReason::Done`]).
    pub fn is_done(&self) -> bool {
        self.stop == StopReason::Done
    }

    /// The outcome, the attempts and the reason, taken apart.
    pub fn into_parts(self) -> (Result<T, E>, u32, StopReason) {
        (self.result, self.attempts, self.stop)
    }
}
