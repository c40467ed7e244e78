//! A circuit breaker around a call.
//!
//! An upstream starts failing. After 5 failures in a row the breaker opens and the next
//! calls are refused at once, without touching the upstream, with the time left before
//! a probe. After `open_for` the breaker lets 2 probe calls through (half-open); the
//! upstream has recovered, both succeed, and the breaker closes. Every state change is
//! printed by a listener.
//!
//! Run with `cargo run -p flunq-examples --example circuit_breaker`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use flunq_circuit::{CallError, CircuitBreaker, Config, Outcome, State, StateChange};

async fn upstream(healthy: &AtomicBool) -> Result<&'static str, &'static str> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    if healthy.load(Ordering::SeqCst) {
        Ok("200 OK")
    } else {
        Err("503 Service Unavailable")
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::builder()
        .consecutive_failures(5)
        .open_for(Duration::from_millis(200))
        .half_open_calls(2)
        .build()?;
    let breaker = CircuitBreaker::builder("billing-api", config)
        .on_state_change(|change: &StateChange| {
            println!(
                "breaker {}: {:?} -> {:?}",
                change.key, change.from, change.to
            );
        })
        .build()?;

    let healthy = AtomicBool::new(false);
    for i in 1..=8 {
        match breaker.call(upstream(&healthy), Outcome::of_result).await {
            Ok(reply) => println!("call {i}: {reply}"),
            Err(CallError::Rejected(rejected)) => {
                println!("call {i}: refused at once ({rejected})")
            }
            Err(CallError::Inner(e)) => println!("call {i}: upstream failed: {e}"),
        }
    }
    assert_eq!(breaker.state(), State::Open);

    // The upstream recovers; wait out the open period, then probe.
    healthy.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(250)).await;
    for i in 9..=10 {
        let reply = breaker.call(upstream(&healthy), Outcome::of_result).await?;
        println!("call {i}: {reply}");
    }
    assert_eq!(breaker.state(), State::Closed);
    println!("snapshot: {:?}", breaker.snapshot());
    Ok(())
}
