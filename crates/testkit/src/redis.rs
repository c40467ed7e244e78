//! The Redis of the tests and benches: `REDIS_URL`, else 127.0.0.1:6379 (loopback only),
//! and the clean-up of a test's keys.

// Test support: a Redis that does not answer fails the test that needs it, loudly.
#![allow(clippy::expect_used)]

/// `REDIS_URL`, else the local Redis. Panics on a non-loopback URL: tests and benches
/// never talk to another host.
pub fn url() -> String {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    assert!(
        url.contains("127.0.0.1") || url.contains("localhost") || url.contains("[::1]"),
        "tests use a Redis on loopback only, not {url}"
    );
    url
}

/// A connection to [`url`]. Panics when Redis does not answer.
pub async fn connection() -> ::redis::aio::MultiplexedConnection {
    ::redis::Client::open(url())
        .expect("a valid REDIS_URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers at REDIS_URL")
}

/// Deletes every key under the hash tag `{prefix}` (the keys of one test's instances).
pub async fn delete_prefix(prefix: &str) {
    let mut conn = connection().await;
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg(format!("{{{prefix}}}*"))
        .query_async(&mut conn)
        .await
        .expect("KEYS answers");
    if !keys.is_empty() {
        let _: () = ::redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .expect("DEL answers");
    }
}

/// What a one-key command that answers a number (`PTTL`, `XLEN`, `ZCARD`...) says of
/// `key`. Panics when Redis does not answer.
pub async fn number(command: &str, key: &str) -> i64 {
    ::redis::cmd(command)
        .arg(key)
        .query_async(&mut connection().await)
        .await
        .expect("Redis answers the command")
}
