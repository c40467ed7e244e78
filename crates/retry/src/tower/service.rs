use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower_service::Service;

use super::{ResponseFuture, Shared};
use crate::{Classify, RetryOnError};

/// A service that retries its inner service; made by [`RetryLayer`](super::RetryLayer).
pub struct RetryService<S, C = RetryOnError> {
    inner: S,
    shared: Arc<Shared<C>>,
}

impl<S, C> RetryService<S, C> {
    pub(crate) fn new(inner: S, shared: Arc<Shared<C>>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: Clone, C> Clone for RetryService<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug, C: fmt::Debug> fmt::Debug for RetryService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryService")
            .field("inner", &self.inner)
            .field("policy", &self.shared.policy)
            .field("classifier", &self.shared.classifier)
            .field("budget", &self.shared.budget)
            .finish()
    }
}

impl<S, C, Req> Service<Req> for RetryService<S, C>
where
    S: Service<Req> + Clone,
    Req: Clone,
    C: Classify<S::Response, S::Error>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, Req, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // The future takes the service that was polled ready and leaves a fresh clone,
        // as tower's own middleware does.
        let fresh = self.inner.clone();
        let mut service = std::mem::replace(&mut self.inner, fresh);
        let start = self.shared.policy.max_elapsed().map(|_| Instant::now());
        if let Some(budget) = &self.shared.budget {
            budget.deposit();
        }
        let first = service.call(request.clone());
        ResponseFuture::new(service, request, Arc::clone(&self.shared), first, start)
    }
}
