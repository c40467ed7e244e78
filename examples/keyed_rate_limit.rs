//! A keyed rate limiter in front of a function.
//!
//! Each tenant may call `expensive_lookup` 5 times per second with a burst of 2. Tenant
//! "acme" sends 6 requests at once: 2 pass, the other 4 wait their turn (no request is
//! failed), spaced 200 ms apart. Tenant "globex" is not slowed by acme's traffic. A
//! synchronous `check_key` shows the refusal with the time to wait. Idle tenants are
//! evicted by the limiter itself: nothing to call periodically.
//!
//! Run with `cargo run -p flunq-examples --example keyed_rate_limit`.

use std::sync::Arc;
use std::time::Duration;

use flunq_ratelimit::{KeyedError, KeyedRateLimiter, Quota};
use tokio::time::Instant;

async fn expensive_lookup(tenant: &str, n: u32) -> String {
    format!("{tenant}#{n}")
}

/// The function, behind the limiter: waits for the tenant's turn, then calls through.
async fn limited_lookup(limiter: &KeyedRateLimiter<String>, tenant: &str, n: u32) -> String {
    limiter
        .until_key_ready(tenant)
        .await
        .expect("one permit never exceeds the burst");
    expensive_lookup(tenant, n).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let limiter = Arc::new(KeyedRateLimiter::<String>::gcra(
        Quota::per_second(5).burst(2),
    )?);
    let start = Instant::now();

    let mut tasks = Vec::new();
    for n in 1..=6 {
        let limiter = Arc::clone(&limiter);
        tasks.push(tokio::spawn(async move {
            let reply = limited_lookup(&limiter, "acme", n).await;
            (reply, start.elapsed())
        }));
    }
    let globex = limited_lookup(&limiter, "globex", 1).await;
    println!(
        "{globex} at {:?} (another tenant, not slowed)",
        start.elapsed()
    );

    for task in tasks {
        let (reply, at) = task.await?;
        println!("{reply} at {at:?}");
    }
    let total = start.elapsed();
    assert!(
        total >= Duration::from_millis(780),
        "4 waits of 200 ms: {total:?}"
    );

    match limiter.check_key("acme") {
        Err(KeyedError::Limited(not_until)) => {
            println!(
                "acme refused now; next permit in {:?}",
                not_until.wait_time()
            );
        }
        other => println!("acme: {other:?}"),
    }
    println!("tenants tracked: {}", limiter.len());
    Ok(())
}
