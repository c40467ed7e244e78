//! An OAuth2 client-credentials token, fetched once and shared by every request.
//!
//! Two local servers: a token endpoint that checks the client's credentials (HTTP Basic,
//! `grant_type=client_credentials`) and counts how often it is called, and an API that
//! accepts only the bearer token the endpoint issued. An `Authenticator` built from the
//! auth object (plain JSON, as the HTTP API receives it) puts the token on each request.
//! Five requests start at once while the token endpoint is slow: one fetch goes out and
//! the five wait for it (single flight). Three more requests, and a second
//! `Authenticator` built from the same configuration, reuse the cached token. The token
//! endpoint is called exactly once.
//!
//! Run with `cargo run -p flunq-examples --example oauth2_client_credentials`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use flunq_auth::{AuthConfig, Authenticator, OAuth2Cache};
use flunq_http_client::{Client, EgressPolicy, Request, basic_auth};
use http_body_util::{BodyExt, Full};
use hyper::Response;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ServerBuilder;
use serde_json::json;
use tokio::net::TcpListener;

type Reply = Response<Full<Bytes>>;

const CLIENT_ID: &str = "reporting-app";
const CLIENT_SECRET: &str = "s3cret";

/// Serves `handler` on 127.0.0.1, on a port the system picks.
async fn serve<F, Fut>(handler: F) -> std::io::Result<SocketAddr>
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            let service = service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler(req).await) }
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

fn reply(status: u16, body: serde_json::Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response")
}

/// The token endpoint: checks the client's credentials, answers `token-<n>` slowly.
async fn token_endpoint(fetches: Arc<AtomicUsize>) -> std::io::Result<SocketAddr> {
    let expected = basic_auth(CLIENT_ID, Some(CLIENT_SECRET));
    serve(move |req: hyper::Request<Incoming>| {
        let (fetches, expected) = (Arc::clone(&fetches), expected.clone());
        async move {
            let authorized = req.headers().get("authorization") == Some(&expected);
            let body = match req.into_body().collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => return reply(400, json!({"error": "invalid_request"})),
            };
            let form = String::from_utf8_lossy(&body);
            if !form.split('&').any(|kv| kv == "grant_type=client_credentials") {
                return reply(400, json!({"error": "unsupported_grant_type"}));
            }
            if !authorized {
                return reply(401, json!({"error": "invalid_client"}));
            }
            let n = fetches.fetch_add(1, Ordering::SeqCst) + 1;
            println!("token endpoint: fetch #{n} ({form})");
            // A slow endpoint, so that concurrent callers overlap with the fetch.
            tokio::time::sleep(Duration::from_millis(100)).await;
            reply(
                200,
                json!({"access_token": format!("token-{n}"), "token_type": "Bearer", "expires_in": 3600}),
            )
        }
    })
    .await
}

/// The API: answers 200 to `Bearer token-1`, 401 to anything else.
async fn api_server() -> std::io::Result<SocketAddr> {
    serve(|req: hyper::Request<Incoming>| async move {
        match req.headers().get("authorization") {
            Some(value) if value == "Bearer token-1" => {
                reply(200, json!({"path": req.uri().path(), "ok": true}))
            }
            _ => reply(401, json!({"error": "invalid_token"})),
        }
    })
    .await
}

/// Applies the credentials to a GET and sends it; returns the status.
async fn call(
    auth: &Authenticator,
    client: &Client,
    url: &str,
) -> Result<u16, Box<dyn std::error::Error + Send + Sync>> {
    let mut request = Request::get(url)?;
    auth.apply(&mut request).await?;
    let response = client.execute(request).await?;
    Ok(response.status().as_u16())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let fetches = Arc::new(AtomicUsize::new(0));
    let token_addr = token_endpoint(Arc::clone(&fetches)).await?;
    let api_addr = api_server().await?;

    // One client and one token cache per process; both servers are on loopback.
    let client = Client::builder()
        .egress_policy(EgressPolicy::from_allowlist("127.0.0.0/8")?)
        .dial_filter(|addr| addr.ip().is_loopback())
        .build()?;
    let tokens = OAuth2Cache::new(client.clone());

    let config: AuthConfig = serde_json::from_value(json!({
        "type": "oauth2",
        "token_url": format!("http://{token_addr}/token"),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }))?;
    let auth = Authenticator::new(&config, &tokens)?;
    println!(
        "auth as recorded (secrets masked): {}",
        serde_json::to_string(&config)?
    );

    // Five requests at once: one token fetch, the others wait for it.
    let mut calls = Vec::new();
    for n in 1..=5 {
        let (auth, client) = (auth.clone(), client.clone());
        let url = format!("http://{api_addr}/reports/{n}");
        calls.push(tokio::spawn(
            async move { call(&auth, &client, &url).await },
        ));
    }
    for (n, task) in calls.into_iter().enumerate() {
        let status = task.await??;
        println!("concurrent request {}: {status}", n + 1);
        assert_eq!(status, 200);
    }

    // Later requests, and another Authenticator for the same configuration, hit the cache.
    for n in 6..=8 {
        let status = call(&auth, &client, &format!("http://{api_addr}/reports/{n}")).await?;
        println!("request {n}: {status}");
        assert_eq!(status, 200);
    }
    let same_config = Authenticator::new(&config, &tokens)?;
    let mut request = Request::get(&format!("http://{api_addr}/reports/9"))?;
    let applied = same_config.apply(&mut request).await?;
    let token = applied.token().expect("an OAuth2 token was applied");
    println!(
        "second authenticator: token type {}, expires in {:?}, authorization header {:?} in Debug",
        token.token_type(),
        token.expires_in(),
        request.headers()["authorization"]
    );
    assert_eq!(client.execute(request).await?.status(), 200);

    let fetched = fetches.load(Ordering::SeqCst);
    println!("token endpoint called {fetched} time(s) for 9 requests");
    assert_eq!(fetched, 1);
    assert_eq!(tokens.len(), 1);
    Ok(())
}
