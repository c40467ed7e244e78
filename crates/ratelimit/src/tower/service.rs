//! The rate-limited service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::{BoxError, ResponseFuture, WhenLimited};
use crate::algorithm::Algorithm;
use crate::clock::{Clock, MonotonicClock};
use crate::direct::RateLimiter;
use crate::error::NotUntil;
use crate::gcra::Gcra;

/// What this instance holds between `poll_ready` and `call`.
#[derive(Debug, Clone, Copy)]
enum Permit {
    None,
    Held,
    Refused(NotUntil),
}

/// A service that takes a permit from a shared [`RateLimiter`] before each call.
///
/// Clones share the limiter (never its own copy of the limit) and start without a permit.
pub struct RateLimit<S, A: Algorithm = Gcra, C: Clock = MonotonicClock> {
    inner: S,
    limiter: Arc<RateLimiter<A, C>>,
    when_limited: WhenLimited,
    permit: Permit,
    /// Reused across waits: allocated at the first wait of this instance only.
    sleep: Option<Pin<Box<Sleep>>>,
    sleeping: bool,
}

impl<S, A: Algorithm, C: Clock> RateLimit<S, A, C> {
    /// Wraps `inner` with `limiter`.
    pub fn new(inner: S, limiter: Arc<RateLimiter<A, C>>, when_limited: WhenLimited) -> Self {
        Self {
            inner,
            limiter,
            when_limited,
            permit: Permit::None,
            sleep: None,
            sleeping: false,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &Arc<RateLimiter<A, C>> {
        &self.limiter
    }

    fn start_sleep(&mut self, not_until: &NotUntil) {
        let deadline = Instant::now() + not_until.wait_time();
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().reset(deadline),
            None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
        self.sleeping = true;
    }
}

impl<S, A, C, Request> Service<Request> for RateLimit<S, A, C>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
    A: Algorithm,
    C: Clock,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match self.permit {
                Permit::Held => return self.inner.poll_ready(cx).map_err(Into::into),
                Permit::Refused(_) => return Poll::Ready(Ok(())),
                Permit::None => {}
            }
            if self.sleeping {
                if let Some(sleep) = self.sleep.as_mut() {
                    ready!(sleep.as_mut().poll(cx));
                }
                self.sleeping = false;
            }
            match self.limiter.check() {
                Ok(()) => self.permit = Permit::Held,
                Err(not_until) => match self.when_limited {
                    WhenLimited::Reject => self.permit = Permit::Refused(not_until),
                    WhenLimited::Wait => self.start_sleep(&not_until),
                },
            }
        }
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match std::mem::replace(&mut self.permit, Permit::None) {
            Permit::Held => ResponseFuture::called(self.inner.call(request)),
            Permit::Refused(not_until) => ResponseFuture::refused(not_until),
            // `call` without a successful `poll_ready` breaks the Service contract; rather than
            // panic, take a permit now or refuse.
            Permit::None => match self.limiter.check() {
                Ok(()) => ResponseFuture::called(self.inner.call(request)),
                Err(not_until) => ResponseFuture::refused(not_until),
            },
        }
    }
}

impl<S: Clone, A: Algorithm, C: Clock> Clone for RateLimit<S, A, C> {
    fn clone(&self) -> Self {
        Self::new(
            self.inner.clone(),
            Arc::clone(&self.limiter),
            self.when_limited,
        )
    }
}

impl<S: fmt::Debug, A: Algorithm + fmt::Debug, C: Clock + fmt::Debug> fmt::Debug
    for RateLimit<S, A, C>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("limiter", &self.limiter)
            .field("when_limited", &self.when_limited)
            .field("permit", &self.permit)
            .finish_non_exhaustive()
    }
}
