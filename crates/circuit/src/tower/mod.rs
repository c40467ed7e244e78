//! A tower [`Layer`](tower_layer::Layer) that guards a service with a
//! [`CircuitBreaker`](crate::CircuitBreaker).
//!
//! The service asks the breaker for a permit in `call`. When it is refused,
//! the inner service is not called and the response future fails at once
//! with [`CallError::Rejected`](crate::CallError::Rejected) ("circuit open");
//! otherwise the inner result is classified by a [`Classifier`] (so a 5xx
//! response can count as a failure while still being returned as `Ok`), and
//! inner errors come back as [`CallError::Inner`](crate::CallError::Inner).
//! A response future dropped before it completes counts as ignored.
//!
//! Readiness is the inner service's: `poll_ready` does not look at the
//! breaker, because the permit must be taken for the very call it guards.

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::CircuitBreakerLayer;
pub use service::CircuitBreakerService;

use crate::Outcome;

/// Decides how a call's result counts.
///
/// Any `Fn(&Result<Res, Err>) -> Outcome + Clone` closure is a classifier.
pub trait Classifier<Res, Err> {
    /// The outcome to record for `result`.
    fn classify(&self, result: &Result<Res, Err>) -> Outcome;
}

impl<F, Res, Err> Classifier<Res, Err> for F
where
    F: Fn(&Result<Res, Err>) -> Outcome,
{
    fn classify(&self, result: &Result<Res, Err>) -> Outcome {
        self(result)
    }
}

/// The default classifier: `Ok` is a success, `Err` a failure.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorIsFailure;

impl<Res, Err> Classifier<Res, Err> for ErrorIsFailure {
    fn classify(&self, result: &Result<Res, Err>) -> Outcome {
        Outcome::of_result(result)
    }
}
