//! An HTTP call under an egress policy and a response size limit.
//!
//! A local server stands in for an upstream on 127.0.0.1. The client's default egress
//! policy refuses it (loopback, like private networks and cloud metadata, is denied)
//! before anything is dialed: the server sees no request. A client whose allowlist opens
//! `127.0.0.0/8` reaches it. Then the server answers 4 MiB of text, gzip-compressed to a
//! few KiB: the 1 MiB limit counts *decoded* bytes, so the call fails with
//! `is_body_too_large()` instead of inflating the body in memory. A request that raises
//! its own limit to 8 MiB reads it whole.
//!
//! Every client here also carries a dial filter that refuses any address that is not
//! loopback, whatever the policy says: nothing leaves the machine.
//!
//! Run with `cargo run -p flunq-examples --example http_egress_and_limits`.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use flunq_http_client::{Client, EgressPolicy, Request};
use http_body_util::Full;
use hyper::Response;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ServerBuilder;
use tokio::net::TcpListener;

const DECODED_SIZE: usize = 4 * 1024 * 1024;

/// A local upstream: `/hello` answers a greeting, `/big` 4 MiB of text sent gzip-encoded.
async fn start_upstream(hits: Arc<AtomicUsize>) -> std::io::Result<SocketAddr> {
    let line = b"the same line of text, over and over, compresses very well\n";
    let text: Vec<u8> = line.iter().copied().cycle().take(DECODED_SIZE).collect();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&text)?;
    let big = Bytes::from(encoder.finish()?);
    println!(
        "upstream: /big is {} bytes decoded, {} bytes gzip-encoded on the wire",
        text.len(),
        big.len()
    );

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (hits, big) = (Arc::clone(&hits), big.clone());
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                hits.fetch_add(1, Ordering::SeqCst);
                let reply = match req.uri().path() {
                    "/big" => Response::builder()
                        .header("content-type", "text/plain")
                        .header("content-encoding", "gzip")
                        .body(Full::new(big.clone())),
                    _ => Response::builder()
                        .header("content-type", "text/plain")
                        .body(Full::new(Bytes::from_static(b"hello from loopback"))),
                };
                async move { Ok::<_, Infallible>(reply.expect("a valid response")) }
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hits = Arc::new(AtomicUsize::new(0));
    let addr = start_upstream(Arc::clone(&hits)).await?;
    let hello = format!("http://{addr}/hello");
    let big = format!("http://{addr}/big");

    // 1. The default policy: loopback is denied, before a connection is opened.
    let guarded = Client::builder()
        .egress_policy(EgressPolicy::default())
        .dial_filter(|addr| addr.ip().is_loopback())
        .build()?;
    let err = guarded
        .execute(Request::get(&hello)?)
        .await
        .expect_err("the default policy denies loopback");
    println!("default policy, GET {hello}: refused ({err})");
    assert!(err.is_egress_denied());
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the upstream"
    );

    // 2. An allowlist opens loopback; the limit on decoded bytes is 1 MiB.
    let client = Client::builder()
        .egress_policy(EgressPolicy::from_allowlist("127.0.0.0/8")?)
        .dial_filter(|addr| addr.ip().is_loopback())
        .max_response_bytes(1024 * 1024)
        .build()?;
    let response = client.execute(Request::get(&hello)?).await?;
    let body = String::from_utf8_lossy(response.body());
    println!(
        "allowlist 127.0.0.0/8, GET {hello}: {} {body:?}",
        response.status()
    );
    assert_eq!(response.status(), 200);
    assert_eq!(body, "hello from loopback");

    // 3. A few KiB on the wire, 4 MiB decoded: over the 1 MiB limit.
    let err = client
        .execute(Request::get(&big)?)
        .await
        .expect_err("4 MiB decoded is over the 1 MiB limit");
    println!("limit 1 MiB, GET {big}: failed ({err})");
    assert!(err.is_body_too_large());

    // 4. One request may raise its own limit.
    let response = client
        .execute(Request::get(&big)?.max_response_bytes(8 * 1024 * 1024))
        .await?;
    println!(
        "limit 8 MiB, GET {big}: {} with {} decoded bytes (content-encoding removed: {})",
        response.status(),
        response.body().len(),
        response.headers().get("content-encoding").is_none()
    );
    assert_eq!(response.body().len(), DECODED_SIZE);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    Ok(())
}
