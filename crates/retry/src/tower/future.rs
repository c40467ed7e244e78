use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::Shared;
use rand::rngs::SmallRng;

use crate::delays::Cursor;
use crate::{Classify, Decision};

pin_project! {
    /// The future of [`RetryService`](super::RetryService): attempts, waits, attempts again.
    pub struct ResponseFuture<S, Req, C>
    where
        S: Service<Req>,
    {
        service: S,
        request: Req,
        shared: Arc<Shared<C>>,
        cursor: Option<Cursor<SmallRng>>,
        start: Option<Instant>,
        #[pin]
        state: State<S::Future>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Calling { #[pin] future: F },
        Sleeping { #[pin] sleep: Sleep },
        Readying,
    }
}

impl<S, Req, C> ResponseFuture<S, Req, C>
where
    S: Service<Req>,
{
    pub(crate) fn new(
        service: S,
        request: Req,
        shared: Arc<Shared<C>>,
        first: S::Future,
        start: Option<Instant>,
    ) -> Self {
        Self {
            service,
            request,
            shared,
            cursor: None,
            start,
            state: State::Calling { future: first },
        }
    }
}

impl<S, Req, C> fmt::Debug for ResponseFuture<S, Req, C>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("retries", &self.cursor.as_ref().map_or(0, Cursor::retries))
            .finish_non_exhaustive()
    }
}

impl<S, Req, C> Future for ResponseFuture<S, Req, C>
where
    S: Service<Req>,
    Req: Clone,
    C: Classify<S::Response, S::Error>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    let outcome = ready!(future.poll(cx));
                    let hint = match this.shared.classifier.classify(&outcome) {
                        Decision::Done => return Poll::Ready(outcome),
                        Decision::Retry => None,
                        Decision::RetryAfter(delay) => Some(delay),
                    };
                    let policy = &this.shared.policy;
                    let cursor = this.cursor.get_or_insert_with(|| policy.cursor());
                    let elapsed = this.start.map_or(Duration::ZERO, |start| start.elapsed());
                    let Ok(delay) = cursor.next_delay(policy, elapsed, hint) else {
                        return Poll::Ready(outcome);
                    };
                    if let Some(budget) = &this.shared.budget
                        && !budget.withdraw()
                    {
                        return Poll::Ready(outcome);
                    }
                    if delay.is_zero() {
                        this.state.set(State::Readying);
                    } else {
                        this.state.set(State::Sleeping {
                            sleep: tokio::time::sleep(delay),
                        });
                    }
                }
                StateProj::Sleeping { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Readying);
                }
                StateProj::Readying => {
                    if let Err(error) = ready!(this.service.poll_ready(cx)) {
                        return Poll::Ready(Err(error));
                    }
                    let future = this.service.call(this.request.clone());
                    this.state.set(State::Calling { future });
                }
            }
        }
    }
}
