//! The executor engine embedded in a Rust program, without its HTTP server.
//!
//! `Engine::in_memory` keeps executions, configurations and the queue in memory. Its
//! egress policy opens loopback (denied by default) and its dial filter refuses any
//! address that is not loopback, so nothing leaves the machine. `engine.run` starts the
//! workers; the program submits an http task as JSON bytes, exactly the body the
//! server's `POST /api/v1/execute` takes, against a local upstream that answers 503 once
//! and 200 after. `engine.wait` returns the record once the execution is final: it
//! succeeded on the second attempt, and each attempt is recorded with its status code.
//! `engine.shutdown` stops the workers, and `run` returns.
//!
//! Run with `cargo run -p flunq-examples --example embedded_engine`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use flunq_executor::model::validate::Defaults;
use flunq_executor::{Engine, EngineOptions, Status};
use flunq_http_client::EgressPolicy;
use http_body_util::Full;
use hyper::Response;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ServerBuilder;
use serde_json::json;
use tokio::net::TcpListener;

/// A flaky upstream: the first request gets 503, the next ones 200 with a JSON body.
async fn start_flaky_upstream(hits: Arc<AtomicUsize>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let hits = Arc::clone(&hits);
            let service = service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                let n = hits.fetch_add(1, Ordering::SeqCst) + 1;
                let (status, body) = if n == 1 {
                    (503, json!({"error": "warming up"}))
                } else {
                    (200, json!({"users": [{"id": 1, "name": "Ada"}], "hit": n}))
                };
                let reply = Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body.to_string())))
                    .expect("a valid response");
                async move { Ok::<_, Infallible>(reply) }
            });
            tokio::spawn(async move {
                let _ = ServerBuilder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hits = Arc::new(AtomicUsize::new(0));
    let upstream = start_flaky_upstream(Arc::clone(&hits)).await?;

    let engine = Engine::in_memory(EngineOptions {
        defaults: Defaults {
            timeout: Duration::from_secs(10),
            retries: 3,
            rate_limit: 0,
            egress: EgressPolicy::from_allowlist("127.0.0.0/8")?,
        },
        concurrency: 4,
        dial_filter: Some(Arc::new(|addr: SocketAddr| addr.ip().is_loopback())),
        ..EngineOptions::default()
    })?;
    let workers = engine.clone();
    let running = tokio::spawn(async move { workers.run(Duration::from_secs(5)).await });

    // The task as the HTTP API would receive it.
    let task = json!({
        "type": "http",
        "method": "GET",
        "url": format!("http://{upstream}/users"),
        "retries": 3,
        "retry": {"policy": "fixed", "delay": "50ms"},
    });
    let submitted = engine
        .submit(task.to_string().as_bytes(), Some("example-1"))
        .await?;
    println!(
        "submitted {} ({}), created: {}",
        submitted.record.id,
        submitted.record.status.as_str(),
        submitted.created
    );
    assert!(submitted.created);

    let record = engine
        .wait(&submitted.record.id, Duration::from_secs(10))
        .await?
        .expect("the record is kept");
    println!("status: {}", record.status.as_str());
    for attempt in &record.attempts {
        println!(
            "  attempt {}: status {:?} in {} ms, error: {:?}",
            attempt.number,
            attempt.status_code,
            attempt.duration_ms,
            attempt.error.as_ref().map(|e| e.kind.as_str())
        );
    }
    println!(
        "result: {}",
        serde_json::to_string(&record.result.clone().unwrap_or_default())?
    );
    assert_eq!(record.status, Status::Succeeded);
    assert_eq!(record.attempts.len(), 2);
    assert_eq!(record.attempts[0].status_code, Some(503));
    assert_eq!(record.attempts[1].status_code, Some(200));
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // The same idempotency key names the same execution: nothing runs twice.
    let again = engine
        .submit(task.to_string().as_bytes(), Some("example-1"))
        .await?;
    println!(
        "resubmitted with the same idempotency key: {} (created: {})",
        again.record.id, again.created
    );
    assert!(!again.created);
    assert_eq!(again.record.id, record.id);

    engine.shutdown();
    running.await?;
    println!("engine stopped; ready: {}", engine.is_ready());
    assert!(!engine.is_ready());
    Ok(())
}
