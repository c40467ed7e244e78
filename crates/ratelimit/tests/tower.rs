//! The tower layer: spacing, shared state across clones, reject mode.
#![cfg(feature = "tower")]
// Helpers outside #[test] functions may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::future::{Ready, poll_fn, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use flunq_ratelimit::tower::{BoxError, RateLimitLayer};
use flunq_ratelimit::{NotUntil, Quota, RateLimiter};
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

const MS: Duration = Duration::from_millis(1);

/// Counts its calls; always ready.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Service<()> for Counter {
    type Response = usize;
    type Error = Infallible;
    type Future = Ready<Result<usize, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (): ()) -> Self::Future {
        ready(Ok(self.0.fetch_add(1, Ordering::Relaxed) + 1))
    }
}

async fn send<S: Service<(), Error = BoxError>>(service: &mut S) -> Result<S::Response, BoxError> {
    poll_fn(|cx| service.poll_ready(cx)).await?;
    service.call(()).await
}

fn ten_per_second() -> Arc<RateLimiter> {
    Arc::new(RateLimiter::gcra(Quota::per_second(10).burst(1)).unwrap())
}

#[tokio::test(start_paused = true)]
async fn layer_spaces_requests_one_interval_apart() {
    let mut service = RateLimitLayer::new(ten_per_second()).layer(Counter::default());
    let start = Instant::now();
    for expected in 1..=5 {
        assert_eq!(send(&mut service).await.unwrap(), expected);
    }
    assert_eq!(start.elapsed(), 400 * MS);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_limit() {
    let mut first = RateLimitLayer::new(ten_per_second()).layer(Counter::default());
    let mut second = first.clone();
    let start = Instant::now();
    send(&mut first).await.unwrap();
    send(&mut second).await.unwrap();
    assert_eq!(
        start.elapsed(),
        100 * MS,
        "the clone waited for the shared limit"
    );
}

#[tokio::test(start_paused = true)]
async fn services_from_one_layer_share_one_limit_in_reject_mode() {
    let layer = RateLimitLayer::new(ten_per_second()).reject_when_limited();
    let mut first = layer.layer(Counter::default());
    let mut second = layer.layer(Counter::default());
    assert_eq!(send(&mut first).await.unwrap(), 1);
    let error = send(&mut second).await.unwrap_err();
    let refused = error
        .downcast_ref::<NotUntil>()
        .expect("a rate-limit refusal");
    assert_eq!(refused.wait_time(), 100 * MS);
    tokio::time::advance(100 * MS).await;
    assert_eq!(send(&mut second).await.unwrap(), 1);
}
