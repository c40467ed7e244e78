//! The tower layer.
// Helpers outside #[test] fns may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "tower")]

use std::convert::Infallible;
use std::future::{Ready, poll_fn, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use flunq_circuit::tower::CircuitBreakerLayer;
use flunq_circuit::{CallError, CircuitBreaker, Config, Outcome, Rejected, State};
use tower_layer::Layer;
use tower_service::Service;

/// Answers every request with the status code it is given, counting calls.
#[derive(Clone, Default)]
struct Upstream {
    calls: Arc<AtomicUsize>,
}

impl Service<u16> for Upstream {
    type Response = u16;
    type Error = Infallible;
    type Future = Ready<Result<u16, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, status: u16) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        ready(Ok(status))
    }
}

async fn send<S: Service<u16>>(service: &mut S, status: u16) -> Result<S::Response, S::Error> {
    poll_fn(|cx| service.poll_ready(cx)).await?;
    service.call(status).await
}

fn breaker() -> CircuitBreaker {
    let config = Config::builder()
        .count_window(2)
        .minimum_calls(2)
        .build()
        .unwrap();
    CircuitBreaker::new("upstream", config).unwrap()
}

fn server_errors_fail(result: &Result<u16, Infallible>) -> Outcome {
    match result {
        Ok(status) if *status >= 500 => Outcome::Failure,
        _ => Outcome::Success,
    }
}

#[tokio::test(start_paused = true)]
async fn passes_through_when_closed() {
    let upstream = Upstream::default();
    let mut service = CircuitBreakerLayer::new(breaker()).layer(upstream.clone());
    assert_eq!(send(&mut service, 200).await, Ok(200));
    assert_eq!(upstream.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn classifier_counts_server_errors_as_failures_and_rejects_while_open() {
    let breaker = breaker();
    let upstream = Upstream::default();
    let mut service = CircuitBreakerLayer::new(breaker.clone())
        .with_classifier(server_errors_fail)
        .layer(upstream.clone());
    assert_eq!(
        send(&mut service, 503).await,
        Ok(503),
        "the response is returned as is"
    );
    assert_eq!(send(&mut service, 500).await, Ok(500));
    assert_eq!(breaker.state(), State::Open);
    let rejected = send(&mut service, 200).await.unwrap_err();
    assert!(matches!(
        rejected,
        CallError::Rejected(Rejected::Open { .. })
    ));
    assert!(rejected.to_string().starts_with("circuit open"));
    assert_eq!(
        upstream.calls.load(Ordering::SeqCst),
        2,
        "the inner service was not called"
    );
}

#[tokio::test(start_paused = true)]
async fn dropped_response_future_counts_as_ignored() {
    let breaker = breaker();
    let mut service = CircuitBreakerLayer::new(breaker.clone()).layer(Upstream::default());
    drop(service.call(500));
    assert_eq!(breaker.snapshot().calls, 0);
}
