//! The executor started in-process on 127.0.0.1:0, an upstream hyper server started
//! in the test, and a client for both that never dials beyond loopback.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use flunq_executor::model::validate::Defaults;
use flunq_executor::{Engine, EngineOptions};
use flunq_executor_server::{ServerOptions, router};
use flunq_http_client::{Client, EgressPolicy, HeaderValue, Method, Request};
use hyper::body::Incoming;
use serde_json::Value;

/// An executor whose egress policy opens loopback (the test upstreams) and whose
/// dialer refuses anything else.
pub struct Executor {
    pub addr: SocketAddr,
    pub engine: Engine,
    client: Client,
    api_key: Option<String>,
}

pub fn loopback_options() -> EngineOptions {
    EngineOptions {
        defaults: Defaults {
            timeout: Duration::from_secs(10),
            retries: 3,
            rate_limit: 0,
            egress: EgressPolicy::from_allowlist("127.0.0.0/8, localhost").unwrap(),
        },
        concurrency: 16,
        dial_filter: Some(std::sync::Arc::new(|addr: SocketAddr| {
            addr.ip().is_loopback()
        })),
        ..EngineOptions::default()
    }
}

impl Executor {
    pub async fn start() -> Self {
        Self::start_with(loopback_options(), ServerOptions::default()).await
    }

    pub async fn start_with(options: EngineOptions, server: ServerOptions) -> Self {
        let engine = Engine::in_memory(options).unwrap();
        Self::serve(engine, server).await
    }

    /// An instance on Redis (`REDIS_URL`, default 127.0.0.1:6379) under `prefix`.
    pub async fn start_redis(prefix: &str, options: EngineOptions, lease: Duration) -> Self {
        let mut redis = flunq_executor::store::RedisOptions::new(flunq_testkit::redis::url());
        redis.prefix = prefix.to_owned();
        redis.lease_timeout = lease;
        Self::start_on_redis(options, redis).await
    }

    /// An instance on Redis with these options.
    pub async fn start_on_redis(
        options: EngineOptions,
        redis: flunq_executor::store::RedisOptions,
    ) -> Self {
        let engine = Engine::with_redis(options, redis).await.unwrap();
        Self::serve(engine, ServerOptions::default()).await
    }

    async fn serve(engine: Engine, server: ServerOptions) -> Self {
        let api_key = server.api_keys.first().cloned();
        let app = router(engine.clone(), server);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let workers = engine.clone();
        tokio::spawn(async move { workers.run(Duration::from_secs(5)).await });
        let client = plain_client();
        Self {
            addr,
            engine,
            client,
            api_key,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a request to the executor with `headers` (a name repeated is sent as several
    /// header lines); returns (status, headers, JSON body or Null).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = Request::parse(method, &self.url(path))
            .unwrap()
            .follow_redirects(false);
        if let Some(body) = body {
            request = request.body(body.to_owned());
            request
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
        }
        if let Some(key) = &self.api_key {
            request.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
            );
        }
        // A name given once replaces what is set above (the API key); given again, it is
        // sent as another header line of that name.
        let mut given = Vec::new();
        for (name, value) in headers {
            let name = flunq_http_client::HeaderName::from_bytes(name.as_bytes()).unwrap();
            let value = HeaderValue::from_str(value).unwrap();
            if given.contains(&name) {
                request.headers_mut().append(name, value);
            } else {
                given.push(name.clone());
                request.headers_mut().insert(name, value);
            }
        }
        let response = self.client.execute(request).await.unwrap();
        let json = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            json,
            text: String::from_utf8_lossy(response.body()).into_owned(),
        }
    }

    pub async fn post(&self, path: &str, body: &str) -> Answer {
        self.call(Method::POST, path, Some(body), &[]).await
    }

    /// A POST with headers of its own (`Idempotency-Key`, `Prefer`...).
    pub async fn post_with(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
        self.call(Method::POST, path, Some(body), headers).await
    }

    /// Submits `task` with `?wait=true` and returns its record (a 200 asserted).
    pub async fn run(&self, task: &Value) -> Value {
        let answer = self
            .post("/api/v1/execute?wait=true", &task.to_string())
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None, &[]).await
    }

    /// Polls an execution until it is final (or 20 s pass).
    pub async fn until_final(&self, id: &str) -> Value {
        for _ in 0..400 {
            let answer = self.get(&format!("/api/v1/executions/{id}")).await;
            let status = answer.json["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if ["succeeded", "failed", "cancelled"].contains(&status.as_str()) {
                return answer.json;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("execution {id} did not finish");
    }

    /// Polls until the execution has the given status.
    pub async fn until_status(&self, id: &str, wanted: &str) -> Value {
        for _ in 0..400 {
            let answer = self.get(&format!("/api/v1/executions/{id}")).await;
            if answer.json["status"] == wanted {
                return answer.json;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("execution {id} never became {wanted}");
    }
}

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: flunq_http_client::HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A client for the executor that never dials beyond loopback.
pub fn plain_client() -> Client {
    Client::builder()
        .egress_policy(EgressPolicy::from_allowlist("127.0.0.0/8").unwrap())
        .dial_filter(|a| a.ip().is_loopback())
        .request_timeout(Duration::from_secs(90))
        .build()
        .unwrap()
}

/// A key prefix of its own for one test.
pub fn unique_prefix(test: &str) -> String {
    format!(
        "flunq-test-{test}-{}",
        std::process::id() as u64 * 1_000_000 + u64::from(rand_u32() % 1_000_000)
    )
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    h.finish() as u32
}

/// Serves `handler` on 127.0.0.1:0 (HTTP/1.1 and HTTP/2).
pub async fn upstream<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    flunq_testkit::serve(handler).await.unwrap()
}

/// Serves `handler` (as [`upstream`] does) and counts the requests it gets.
pub async fn counted_upstream<F, Fut>(
    handler: F,
) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>)
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&calls);
    let addr = upstream(move |req| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        handler(req)
    })
    .await;
    (addr, calls)
}

pub use flunq_testkit::Reply;
#[allow(unused_imports)] // each test binary uses some of them
pub use flunq_testkit::{json_reply, reply};
