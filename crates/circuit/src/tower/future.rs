use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::Classifier;
use crate::{CallError, OwnedPermit, Rejected};

pin_project! {
    /// The response future of [`CircuitBreakerService`](super::CircuitBreakerService).
    #[derive(Debug)]
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: Option<F>,
        permit: Option<OwnedPermit>,
        classifier: Option<C>,
        rejected: Option<Rejected>,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn running(inner: F, permit: OwnedPermit, classifier: C) -> Self {
        Self {
            inner: Some(inner),
            permit: Some(permit),
            classifier: Some(classifier),
            rejected: None,
        }
    }

    pub(crate) fn rejected(rejected: Rejected) -> Self {
        Self {
            inner: None,
            permit: None,
            classifier: None,
            rejected: Some(rejected),
        }
    }
}

impl<F, C, Res, Err> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<Res, Err>>,
    C: Classifier<Res, Err>,
{
    type Output = Result<Res, CallError<Err>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(rejected) = this.rejected.take() {
            return Poll::Ready(Err(CallError::Rejected(rejected)));
        }
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            // Polled after completion: nothing more will come.
            return Poll::Pending;
        };
        let result = ready!(inner.poll(cx));
        this.inner.set(None);
        if let (Some(permit), Some(classifier)) = (this.permit.take(), this.classifier.take()) {
            permit.record(classifier.classify(&result));
        }
        Poll::Ready(result.map_err(CallError::Inner))
    }
}
