//! Upstream servers for tests, benches and examples of the flunq crates.
//!
//! [`serve`] starts a hyper server (HTTP/1.1, and HTTP/2 with prior knowledge) on
//! `127.0.0.1:0`, runs `handler` for every request and returns the address. Tests of
//! the HTTP client, the auth crate and the executor all need such an upstream; this is
//! the one copy of it. Servers live as long as the runtime that started them.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let addr = flunq_testkit::serve(|_request| async { flunq_testkit::reply(200, "text/plain", "hello") }).await?;
//! assert!(addr.ip().is_loopback());
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "pki")]
pub mod pki;
#[cfg(feature = "redis")]
pub mod redis;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;

/// A complete response with an in-memory body.
pub type Reply = hyper::Response<Full<Bytes>>;

/// Serves `handler` on 127.0.0.1:0 until the runtime stops; returns the address.
pub async fn serve<F, Fut>(handler: F) -> std::io::Result<SocketAddr>
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// A response with a status, a `Content-Type` and a body.
pub fn reply(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let mut response = hyper::Response::new(Full::new(body.into()));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// A JSON response.
pub fn json_reply(status: u16, body: &serde_json::Value) -> Reply {
    reply(status, "application/json", body.to_string())
}

/// A redirect to `location`.
pub fn redirect(status: u16, location: &str) -> Reply {
    let mut response = reply(status, "text/plain", Bytes::new());
    if let Ok(value) = hyper::header::HeaderValue::from_str(location) {
        response
            .headers_mut()
            .insert(hyper::header::LOCATION, value);
    }
    response
}
