//! One rate limit shared by several processes through Redis.
//!
//! Two limiters on two separate Redis connections stand for two instances of a service
//! (two processes, or two machines): both allow 5 calls per second to the same partner
//! API, with a burst of 5. Ten calls at once, five from each, get five permits in all;
//! the refusals say how long to wait, and a caller that waits its turn gets through.
//! Each check is one Lua script run on Redis's own clock (GCRA, as in redis-cell).
//!
//! Needs a Redis: `REDIS_URL`, default `redis://127.0.0.1:6379`. Run with
//! `cargo run -p flunq-examples --example shared_rate_limit`.

use std::time::Duration;

use flunq_ratelimit::redis::RedisRateLimiter;
use flunq_ratelimit::{Decision, Quota, RateLimitBackend};
use redis::aio::ConnectionManager;

async fn connect(url: &str) -> Result<ConnectionManager, redis::RedisError> {
    ConnectionManager::new(redis::Client::open(url)?).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    // A prefix of its own, so runs never share state.
    let prefix = format!(
        "flunq-example-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    );
    let quota = Quota::per_second(5);
    let instance_a = RedisRateLimiter::token_bucket(connect(&url).await?, &prefix, quota)?;
    let instance_b = RedisRateLimiter::token_bucket(connect(&url).await?, &prefix, quota)?;

    let mut allowed = 0;
    let mut wait = Duration::ZERO;
    for n in 0..10 {
        let (name, limiter) = if n % 2 == 0 {
            ("a", &instance_a)
        } else {
            ("b", &instance_b)
        };
        match limiter.check("partner-api", 1).await? {
            Decision::Allowed => {
                allowed += 1;
                println!("instance {name}: call {n} allowed");
            }
            Decision::Limited { retry_after } => {
                wait = retry_after;
                println!("instance {name}: call {n} refused, retry in {retry_after:?}");
            }
        }
    }
    assert_eq!(allowed, 5, "5 per second across both instances, not 5 each");
    assert!(wait > Duration::ZERO && wait <= Duration::from_millis(200));

    // Waiting the time the refusal named is enough, whichever instance asks.
    tokio::time::sleep(wait).await;
    assert_eq!(instance_a.check("partner-api", 1).await?, Decision::Allowed);
    println!("after {wait:?}: allowed again");

    // The limiter's keys expire by themselves; this run removes its own at once.
    let mut conn = connect(&url).await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(&mut conn).await?;
    }
    Ok(())
}
