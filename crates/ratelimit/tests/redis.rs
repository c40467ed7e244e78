//! The Redis backend, against a real Redis (127.0.0.1:6379, or `REDIS_URL`). Each test works
//! under its own random key prefix and deletes its keys at the end (they expire anyway).
#![cfg(feature = "redis")]
// Helpers outside #[test] functions may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::time::{Duration, Instant};

use flunq_ratelimit::redis::RedisRateLimiter;
use flunq_ratelimit::{BackendError, Decision, Quota, QuotaError, RateLimitBackend};
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::task::JoinSet;

async fn connect() -> ConnectionManager {
    ConnectionManager::new(redis::Client::open(flunq_testkit::redis::url()).unwrap())
        .await
        .unwrap()
}

fn random_prefix() -> String {
    format!("flunq-test:{:016x}", rand::random::<u64>())
}

/// The Redis keys under `prefix`.
async fn keys(conn: &mut ConnectionManager, prefix: &str) -> Vec<String> {
    conn.keys(format!("{prefix}:*")).await.unwrap()
}

async fn clean_up(conn: &mut ConnectionManager, prefix: &str) {
    let keys = keys(conn, prefix).await;
    if !keys.is_empty() {
        let _: () = conn.del(keys).await.unwrap();
    }
}

/// Redis's clock, in microseconds (the clock the scripts use).
async fn redis_now_micros(conn: &mut ConnectionManager) -> u64 {
    let (seconds, micros): (u64, u64) = redis::cmd("TIME").query_async(conn).await.unwrap();
    seconds * 1_000_000 + micros
}

/// A manager for a port on 127.0.0.1 where nothing listens; it connects only when used.
fn closed_port_manager(password: Option<&str>) -> ConnectionManager {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let auth = password.map_or(String::new(), |p| format!(":{p}@"));
    let client = redis::Client::open(format!("redis://{auth}127.0.0.1:{port}")).unwrap();
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(0)
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_millis(500)));
    ConnectionManager::new_lazy_with_config(client, config).unwrap()
}

fn limited(decision: Decision) -> Duration {
    match decision {
        Decision::Limited { retry_after } => retry_after,
        Decision::Allowed => panic!("expected a refusal, got Allowed"),
    }
}

async fn count_allowed(limiter: &RedisRateLimiter, key: &str, checks: usize) -> usize {
    let mut allowed = 0;
    for _ in 0..checks {
        if limiter.check(key, 1).await.unwrap() == Decision::Allowed {
            allowed += 1;
        }
    }
    allowed
}

#[tokio::test]
async fn token_bucket_admits_the_burst_then_limits_with_the_exact_wait() {
    let mut conn = connect().await;
    let prefix = random_prefix();
    let limiter =
        RedisRateLimiter::token_bucket(conn.clone(), &prefix, Quota::per_second(5).burst(5))
            .unwrap();

    let started = Instant::now();
    for i in 0..5 {
        assert_eq!(
            limiter.check("k", 1).await.unwrap(),
            Decision::Allowed,
            "check {i}"
        );
    }
    let retry_after = limited(limiter.check("k", 1).await.unwrap());
    let elapsed = started.elapsed();
    // The sixth permit is due 200 ms after the first check: 200 ms minus the time the six
    // checks took (measured here, from before the first to after the sixth), a little more
    // for rounding to microseconds.
    assert!(retry_after <= Duration::from_millis(200), "{retry_after:?}");
    assert!(
        retry_after + elapsed + Duration::from_millis(2) >= Duration::from_millis(200),
        "{retry_after:?} after {elapsed:?}"
    );

    tokio::time::sleep(retry_after).await;
    assert_eq!(limiter.check("k", 1).await.unwrap(), Decision::Allowed);
    let retry_after = limited(limiter.check("k", 1).await.unwrap());
    assert!(retry_after <= Duration::from_millis(200), "{retry_after:?}");
    clean_up(&mut conn, &prefix).await;
}

#[tokio::test]
async fn two_limiters_on_separate_connections_share_the_limit() {
    let prefix = random_prefix();
    // Per minute, so that no permit comes back during the test.
    let quota = Quota::per_minute(5).burst(5);
    let mut first_conn = connect().await;
    let first = RedisRateLimiter::token_bucket(first_conn.clone(), &prefix, quota).unwrap();
    let second = RedisRateLimiter::token_bucket(connect().await, &prefix, quota).unwrap();

    let mut allowed = 0;
    for i in 0..10 {
        let limiter = if i % 2 == 0 { &first } else { &second };
        if limiter.check("tenant", 1).await.unwrap() == Decision::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5);
    clean_up(&mut first_conn, &prefix).await;
}

#[tokio::test]
async fn different_keys_are_independent() {
    let mut conn = connect().await;
    let prefix = random_prefix();
    let limiter =
        RedisRateLimiter::token_bucket(conn.clone(), &prefix, Quota::per_minute(2)).unwrap();

    assert_eq!(count_allowed(&limiter, "tenant-a", 3).await, 2);
    assert_eq!(count_allowed(&limiter, "tenant-b", 3).await, 2);
    clean_up(&mut conn, &prefix).await;
}

#[tokio::test]
async fn different_quotas_on_the_same_key_do_not_share_state() {
    let mut conn = connect().await;
    let prefix = random_prefix();
    let two = RedisRateLimiter::token_bucket(conn.clone(), &prefix, Quota::per_minute(2)).unwrap();
    let three =
        RedisRateLimiter::token_bucket(conn.clone(), &prefix, Quota::per_minute(3)).unwrap();
    let window =
        RedisRateLimiter::sliding_window(conn.clone(), &prefix, Quota::per_minute(2)).unwrap();

    assert_eq!(count_allowed(&two, "tenant", 3).await, 2);
    assert_eq!(count_allowed(&three, "tenant", 4).await, 3);
    assert_eq!(count_allowed(&window, "tenant", 3).await, 2);
    assert_eq!(keys(&mut conn, &prefix).await.len(), 3);
    clean_up(&mut conn, &prefix).await;
}

#[tokio::test]
async fn sliding_window_holds_the_limit_within_a_window() {
    let mut conn = connect().await;
    let prefix = random_prefix();
    let limiter =
        RedisRateLimiter::sliding_window(conn.clone(), &prefix, Quota::per_minute(5)).unwrap();

    assert_eq!(limiter.check("k", 3).await.unwrap(), Decision::Allowed);
    assert_eq!(limiter.check("k", 2).await.unwrap(), Decision::Allowed);
    // Full: the count becomes the previous window's at the next boundary (0 to 60 s away),
    // and one more fits once its weight is 4/5 (12 s into that window).
    let retry_after = limited(limiter.check("k", 1).await.unwrap());
    assert!(
        retry_after > Duration::from_secs(12) && retry_after <= Duration::from_secs(72),
        "{retry_after:?}"
    );
    clean_up(&mut conn, &prefix).await;
}

#[tokio::test]
async fn sliding_window_weights_the_previous_window() {
    const W: u64 = 200_000; // µs
    let mut conn = connect().await;
    let prefix = random_prefix();
    let limiter = RedisRateLimiter::sliding_window(
        conn.clone(),
        &prefix,
        Quota::new(10, Duration::from_micros(W)),
    )
    .unwrap();

    // Timing on a loaded machine may push a step into the wrong window: then start over with
    // a fresh key. Each attempt takes about two windows.
    for attempt in 0..10 {
        let key = format!("k{attempt}");
        // Fill window i early on, from a fresh key (no previous window).
        let now = redis_now_micros(&mut conn).await;
        let next = (now / W + 1) * W;
        tokio::time::sleep(Duration::from_micros(next + W / 10 - now)).await;
        let before = redis_now_micros(&mut conn).await;
        assert_eq!(limiter.check(&key, 10).await.unwrap(), Decision::Allowed);
        let after = redis_now_micros(&mut conn).await;
        if before / W != after / W {
            continue;
        }
        // Half-way through window i + 1 the previous window still weighs about 5 of 10.
        let start = (before / W + 1) * W;
        tokio::time::sleep(Duration::from_micros(start + W / 2 - after)).await;
        let before = redis_now_micros(&mut conn).await;
        let refused = limiter.check(&key, 9).await.unwrap();
        let after = redis_now_micros(&mut conn).await;
        // 9 fit once 10 · (W − e) / W ≤ 1, at e = 0.9 W; 2 fit from e = 0.2 W.
        if before < start + W / 5 || after >= start + 9 * W / 10 {
            continue;
        }
        let retry_after = limited(refused);
        let due = start + 9 * W / 10;
        assert!(
            retry_after >= Duration::from_micros(due - after)
                && retry_after <= Duration::from_micros(due - before),
            "{retry_after:?}, expected between {}µs and {}µs",
            due - after,
            due - before
        );
        assert_eq!(limiter.check(&key, 2).await.unwrap(), Decision::Allowed);
        clean_up(&mut conn, &prefix).await;
        return;
    }
    panic!("could not time the steps within their windows in 10 attempts");
}

#[tokio::test]
async fn more_permits_than_capacity_fail_without_touching_redis() {
    let mut conn = connect().await;
    let prefix = random_prefix();
    let bucket =
        RedisRateLimiter::token_bucket(conn.clone(), &prefix, Quota::per_second(10).burst(5))
            .unwrap();
    let window =
        RedisRateLimiter::sliding_window(conn.clone(), &prefix, Quota::per_second(10)).unwrap();

    assert!(matches!(
        bucket.check("k", 6).await,
        Err(BackendError::InsufficientCapacity {
            requested: 6,
            capacity: 5
        })
    ));
    assert!(matches!(
        window.check("k", 11).await,
        Err(BackendError::InsufficientCapacity {
            requested: 11,
            capacity: 10
        })
    ));
    assert!(keys(&mut conn, &prefix).await.is_empty());

    // Without a Redis at all, the answer is the same: no round trip was made.
    let unreachable =
        RedisRateLimiter::token_bucket(closed_port_manager(None), &prefix, Quota::per_second(5))
            .unwrap();
    assert!(matches!(
        unreachable.check("k", 6).await,
        Err(BackendError::InsufficientCapacity { .. })
    ));
    assert_eq!(unreachable.check("k", 0).await.unwrap(), Decision::Allowed);
}

#[tokio::test]
async fn keys_expire_once_they_no_longer_matter() {
    let mut conn = connect().await;
    let prefix = random_prefix();
    let bucket =
        RedisRateLimiter::token_bucket(conn.clone(), &prefix, Quota::per_second(5)).unwrap();
    let window =
        RedisRateLimiter::sliding_window(conn.clone(), &prefix, Quota::per_second(5)).unwrap();

    bucket.check("k", 1).await.unwrap();
    window.check("k", 1).await.unwrap();
    let mut found = keys(&mut conn, &prefix).await;
    found.sort();
    assert_eq!(found.len(), 2, "{found:?}");
    let (sliding, bucket_key) = (&found[0], &found[1]);
    assert!(bucket_key.contains(":rl:tb:") && sliding.contains(":rl:sw:"));

    // The bucket matters for one interval (200 ms), the window until the end of the next one
    // (1 to 2 s); each gets one second of margin.
    let bucket_ttl: i64 = conn.pttl(bucket_key).await.unwrap();
    assert!(bucket_ttl > 0 && bucket_ttl <= 1_201, "{bucket_ttl}");
    let sliding_ttl: i64 = conn.pttl(sliding).await.unwrap();
    assert!(sliding_ttl > 1_000 && sliding_ttl <= 3_001, "{sliding_ttl}");

    // Times are stored as exact integers (Lua's tostring would have written 1.7e+15).
    let tat: String = conn.get(bucket_key).await.unwrap();
    assert!(tat.parse::<u64>().is_ok(), "{tat}");
    clean_up(&mut conn, &prefix).await;
}

#[tokio::test]
async fn unreachable_redis_is_reported_as_unavailable() {
    let limiter = RedisRateLimiter::token_bucket(
        closed_port_manager(None),
        random_prefix(),
        Quota::per_second(5),
    )
    .unwrap();

    match limiter.check("k", 1).await {
        Err(BackendError::Unavailable(error)) => {
            let error = error
                .downcast_ref::<redis::RedisError>()
                .expect("the redis error");
            assert!(
                error.is_connection_refusal() || error.is_io_error(),
                "{error}"
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_script_error_is_reported_as_unavailable() {
    let mut conn = connect().await;
    let prefix = random_prefix();
    let limiter =
        RedisRateLimiter::token_bucket(conn.clone(), &prefix, Quota::per_second(5)).unwrap();
    limiter.check("k", 1).await.unwrap();
    // Replace the bucket by a hash: the script's GET fails with WRONGTYPE.
    let key = keys(&mut conn, &prefix).await.pop().unwrap();
    let _: () = conn.del(&key).await.unwrap();
    let _: () = conn.hset(&key, "field", "value").await.unwrap();

    assert!(matches!(
        limiter.check("k", 1).await,
        Err(BackendError::Unavailable(_))
    ));
    clean_up(&mut conn, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_checks_from_two_limiters_admit_exactly_the_burst() {
    let mut conn = connect().await;
    let prefix = random_prefix();
    let quota = Quota::per_minute(20).burst(20);
    let limiters = [
        RedisRateLimiter::token_bucket(conn.clone(), &prefix, quota).unwrap(),
        RedisRateLimiter::token_bucket(connect().await, &prefix, quota).unwrap(),
    ];

    let mut checks = JoinSet::new();
    for i in 0..50 {
        let limiter = limiters[i % 2].clone();
        checks.spawn(async move { limiter.check("shared", 1).await.unwrap() });
    }
    let decisions = checks.join_all().await;
    let allowed = decisions
        .iter()
        .filter(|d| **d == Decision::Allowed)
        .count();
    assert_eq!(allowed, 20);
    clean_up(&mut conn, &prefix).await;
}

#[tokio::test]
async fn zero_quotas_are_refused_at_construction() {
    let conn = closed_port_manager(None);
    assert_eq!(
        RedisRateLimiter::token_bucket(conn.clone(), "p", Quota::per_second(0)).unwrap_err(),
        QuotaError::ZeroRate
    );
    assert_eq!(
        RedisRateLimiter::sliding_window(conn, "p", Quota::new(1, Duration::ZERO)).unwrap_err(),
        QuotaError::ZeroPeriod
    );
}

#[tokio::test]
async fn debug_output_shows_the_quota_but_not_the_password() {
    let quota = Quota::per_second(5);
    let limiter =
        RedisRateLimiter::token_bucket(closed_port_manager(Some("s3cret-pw")), "p", quota).unwrap();
    let debug = format!("{limiter:?}");
    assert!(!debug.contains("s3cret-pw"), "{debug}");
    assert!(debug.contains("RedisRateLimiter"), "{debug}");
    assert_eq!(limiter.quota(), quota);
}
