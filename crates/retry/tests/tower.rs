//! The tower layer.
#![cfg(feature = "tower")]
// Helpers outside `#[test]` functions unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use flunq_retry::tower::RetryLayer;
use flunq_retry::{Decision, RetryBudget, RetryPolicy};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

/// A service that fails its first `failures` calls, then echoes the request.
fn flaky(
    failures: u32,
    calls: Arc<AtomicU32>,
) -> impl Service<String, Response = String, Error = String, Future: Send> + Clone {
    service_fn(move |request: String| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n <= failures {
                Err(format!("failure {n}"))
            } else {
                Ok(request)
            }
        }
    })
}

fn fixed(delay: Duration, retries: u32) -> RetryPolicy {
    RetryPolicy::fixed(delay)
        .max_retries(retries)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn retries_a_failing_service_and_stops_on_success() {
    let calls = Arc::new(AtomicU32::new(0));
    let start = Instant::now();
    let service = RetryLayer::new(fixed(Duration::from_secs(1), 5)).layer(flaky(2, calls.clone()));
    let response = service.oneshot("ping".to_string()).await;
    assert_eq!(response, Ok("ping".to_string()));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn returns_the_last_error_when_retries_run_out() {
    let calls = Arc::new(AtomicU32::new(0));
    let service = RetryLayer::new(fixed(Duration::ZERO, 2)).layer(flaky(10, calls.clone()));
    let response = service.oneshot("ping".to_string()).await;
    assert_eq!(response, Err("failure 3".to_string()));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn classifier_retries_an_unwanted_response() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let inner = service_fn(move |_: ()| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<u16, ()>(if n < 2 { 503 } else { 200 }) }
    });
    let layer =
        RetryLayer::new(fixed(Duration::from_millis(5), 5)).when(|outcome: &Result<u16, ()>| {
            match outcome {
                Ok(503) => Decision::RetryAfter(Duration::from_secs(3)),
                _ => Decision::Done,
            }
        });
    let start = Instant::now();
    let response = layer.layer(inner).oneshot(()).await;
    assert_eq!(response, Ok(200));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(6),
        "two Retry-After hints of 3 s"
    );
}

#[tokio::test(start_paused = true)]
async fn budget_limits_retries_of_the_layer() {
    let calls = Arc::new(AtomicU32::new(0));
    let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.5).unwrap();
    let mut service = RetryLayer::new(fixed(Duration::ZERO, 3))
        .budget(budget)
        .layer(flaky(u32::MAX, calls.clone()));
    for _ in 0..4 {
        let response = service.ready().await.unwrap().call("x".to_string()).await;
        assert!(response.is_err());
    }
    // 4 requests earn 2 retries in all.
    assert_eq!(calls.load(Ordering::SeqCst), 4 + 2);
}

#[tokio::test(start_paused = true)]
async fn layered_service_is_cloneable_and_send() {
    fn assert_send<T: Send>(_: &T) {}
    let calls = Arc::new(AtomicU32::new(0));
    let service = RetryLayer::new(fixed(Duration::ZERO, 1)).layer(flaky(0, calls));
    let clone = service.clone();
    let future = clone.oneshot("a".to_string());
    assert_send(&future);
    assert_eq!(future.await, Ok("a".to_string()));
}
