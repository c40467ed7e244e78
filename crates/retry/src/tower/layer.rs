use std::sync::Arc;

use tower_layer::Layer;

use super::{RetryService, Shared};
use crate::{RetryBudget, RetryOnError, RetryPolicy};

/// Wraps a service in [`RetryService`]: retries by `policy`, as the classifier decides,
/// within an optional shared budget. The request type must be `Clone`.
#[derive(Debug, Clone)]
pub struct RetryLayer<C = RetryOnError> {
    policy: RetryPolicy,
    classifier: C,
    budget: Option<RetryBudget>,
}

impl RetryLayer {
    /// A layer that retries every error by `policy`.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            classifier: RetryOnError,
            budget: None,
        }
    }
}

impl<C> RetryLayer<C> {
    /// Decides per outcome whether to retry (see [`Classify`](crate::Classify)); a
    /// `Decision::RetryAfter` hint replaces the next delay, clamped to the policy's cap.
    pub fn when<C2>(self, classifier: C2) -> RetryLayer<C2> {
        RetryLayer {
            policy: self.policy,
            classifier,
            budget: self.budget,
        }
    }

    /// Deposits once per request and withdraws once per retry from `budget`.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }
}

impl<S, C: Clone> Layer<S> for RetryLayer<C> {
    type Service = RetryService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService::new(
            inner,
            Arc::new(Shared {
                policy: self.policy.clone(),
                classifier: self.classifier.clone(),
                budget: self.budget.clone(),
            }),
        )
    }
}
