//! The backend trait, served from memory.
// Helpers outside #[test] functions may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use flunq_ratelimit::{
    BackendError, Decision, Gcra, KeyedRateLimiter, ManualClock, Quota, RateLimitBackend,
};

fn backend(max_keys: usize) -> Arc<dyn RateLimitBackend> {
    Arc::new(
        KeyedRateLimiter::<String, _, _>::with_clock(
            Gcra::new(Quota::per_second(10).burst(2)).unwrap(),
            ManualClock::new(),
        )
        .max_keys(max_keys),
    )
}

#[tokio::test]
async fn in_memory_backend_allows_then_limits_with_retry_after() {
    let backend = backend(100);
    assert_eq!(
        backend.check("tenant-1", 2).await.unwrap(),
        Decision::Allowed
    );
    assert_eq!(
        backend.check("tenant-1", 1).await.unwrap(),
        Decision::Limited {
            retry_after: Duration::from_millis(100)
        }
    );
    assert_eq!(
        backend.check("tenant-2", 1).await.unwrap(),
        Decision::Allowed
    );
}

#[tokio::test]
async fn backend_reports_a_request_above_capacity_as_an_error() {
    let backend = backend(100);
    assert!(matches!(
        backend.check("tenant-1", 3).await,
        Err(BackendError::InsufficientCapacity {
            requested: 3,
            capacity: 2
        })
    ));
}

#[tokio::test]
async fn backend_reports_too_many_keys_as_an_error() {
    let backend = backend(1);
    backend.check("tenant-1", 1).await.unwrap();
    assert!(matches!(
        backend.check("tenant-2", 1).await,
        Err(BackendError::TooManyKeys { max_keys: 1 })
    ));
}
