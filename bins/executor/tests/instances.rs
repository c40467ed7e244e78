//! The `executor` binary as separate processes sharing the real Redis (127.0.0.1:6379,
//! `REDIS_URL` overrides), each test under a key prefix of its own: an instance killed
//! with SIGKILL leaves its executions to the others after the lease timeout; one sent
//! SIGTERM finishes what it runs before it exits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flunq_http_client::{Client, EgressPolicy, HeaderValue, Method, Request};
use serde_json::{Value, json};

fn prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("flunq-test-{test}-{}-{nanos}", std::process::id())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn client() -> Client {
    Client::builder()
        .egress_policy(EgressPolicy::from_allowlist("127.0.0.0/8").unwrap())
        .dial_filter(|a| a.ip().is_loopback())
        .request_timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// One `executor` process.
struct Instance {
    child: Child,
    port: u16,
    client: Client,
}

impl Instance {
    async fn start(prefix: &str, concurrency: usize) -> Self {
        Self::start_on(&flunq_testkit::redis::url(), &[], prefix, concurrency).await
    }

    /// An instance on the Redis at `url`, with `env` besides the usual settings.
    async fn start_on(url: &str, env: &[(&str, &str)], prefix: &str, concurrency: usize) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_executor"))
            .envs(env.iter().copied())
            .env("PORT", port.to_string())
            .env("REDIS_URL", url)
            .env("REDIS_PREFIX", prefix)
            .env("LEASE_TIMEOUT", "2s")
            .env("CONCURRENCY", concurrency.to_string())
            .env("RATE_LIMIT", "0")
            .env("EGRESS_ALLOW", "127.0.0.0/8")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .env_remove("API_KEYS")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the executor binary starts");
        let instance = Self {
            child,
            port,
            client: client(),
        };
        for _ in 0..200 {
            if instance.call(Method::GET, "/readyz", None).await.0 == 200 {
                return instance;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the executor on port {port} did not become ready");
    }

    async fn call(&self, method: Method, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut request =
            Request::parse(method, &format!("http://127.0.0.1:{}{path}", self.port)).unwrap();
        if let Some(body) = body {
            request = request.body(body.to_owned());
            request
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
        }
        match self.client.execute(request).await {
            Ok(r) => (
                r.status().as_u16(),
                serde_json::from_slice(r.body()).unwrap_or(Value::Null),
            ),
            Err(_) => (0, Value::Null),
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An upstream answering after `delay`; counts calls.
async fn slow_upstream(delay: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let addr = flunq_testkit::serve(move |_req| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            flunq_testkit::json_reply(200, &json!({"ok": true}))
        }
    })
    .await
    .unwrap();
    (addr, calls)
}

async fn until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_of_an_instance_killed_with_sigkill_are_finished_by_another() {
    let prefix = prefix("kill");
    let (upstream, calls) = slow_upstream(Duration::from_secs(3)).await;
    let doomed = Instance::start(&prefix, 100).await;
    let task = json!({"type": "http", "url": format!("http://{upstream}/work"), "timeout": "10s"})
        .to_string();
    let mut ids = Vec::new();
    for _ in 0..60 {
        let (status, record) = doomed
            .call(Method::POST, "/api/v1/execute", Some(&task))
            .await;
        assert_eq!(status, 202);
        ids.push(record["id"].as_str().unwrap().to_owned());
    }
    // All 60 are in flight on the doomed instance (the upstream holds each for 3 s).
    until("60 calls in flight", Duration::from_secs(10), async || {
        calls.load(Ordering::SeqCst) == 60
    })
    .await;
    let survivor = Instance::start(&prefix, 100).await;
    let in_flight_at_kill = calls.load(Ordering::SeqCst);
    doomed.signal("-KILL");
    let killed_at = Instant::now();
    for id in &ids {
        let path = format!("/api/v1/executions/{id}");
        until(
            "the survivor to finish it",
            Duration::from_secs(30),
            async || survivor.call(Method::GET, &path, None).await.1["status"] == "succeeded",
        )
        .await;
    }
    // Taken over only once the 2 s lease ran out, then run for 3 s.
    assert!(killed_at.elapsed() >= Duration::from_secs(3));
    let total = calls.load(Ordering::SeqCst);
    assert!(
        total <= 60 + in_flight_at_kill,
        "{total} upstream calls: more than 60 plus the {in_flight_at_kill} in flight at the kill"
    );
    assert_eq!(
        total, 120,
        "each in-flight execution ran once more, no more"
    );
    // The records show the attempt that was cut off is not counted twice.
    let (_, record) = survivor
        .call(Method::GET, &format!("/api/v1/executions/{}", ids[0]), None)
        .await;
    assert_eq!(record["attempts"].as_array().unwrap().len(), 1, "{record}");
    drop(doomed);
    flunq_testkit::redis::delete_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_sent_sigterm_finishes_its_execution_then_exits() {
    let prefix = prefix("term");
    let (upstream, calls) = slow_upstream(Duration::from_millis(1500)).await;
    let mut leaving = Instance::start(&prefix, 10).await;
    let task = json!({"type": "http", "url": format!("http://{upstream}/work")}).to_string();
    let (status, record) = leaving
        .call(Method::POST, "/api/v1/execute", Some(&task))
        .await;
    assert_eq!(status, 202);
    let id = record["id"].as_str().unwrap().to_owned();
    until("the call in flight", Duration::from_secs(10), async || {
        calls.load(Ordering::SeqCst) == 1
    })
    .await;
    let staying = Instance::start(&prefix, 10).await;
    leaving.signal("-TERM");
    // It stops taking work at once, and answers while it drains: not ready, no new
    // submissions, its records still readable...
    until("readyz to answer 503", Duration::from_secs(5), async || {
        leaving.call(Method::GET, "/readyz", None).await.0 == 503
    })
    .await;
    let (status, _) = leaving
        .call(Method::POST, "/api/v1/execute", Some(&task))
        .await;
    assert_eq!(status, 503, "a submission while draining");
    let (status, draining) = leaving
        .call(Method::GET, &format!("/api/v1/executions/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(draining["id"], id.as_str());
    // ...finishes the execution it runs, and exits cleanly.
    let path = format!("/api/v1/executions/{id}");
    until(
        "the execution to finish",
        Duration::from_secs(15),
        async || staying.call(Method::GET, &path, None).await.1["status"] == "succeeded",
    )
    .await;
    let exited = Instant::now();
    let code = loop {
        if let Some(code) = leaving.child.try_wait().unwrap() {
            break code;
        }
        assert!(exited.elapsed() < Duration::from_secs(10), "did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(code.success(), "exit status {code}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "run once, not handed over");
    // Work submitted now goes to the instance that stayed.
    let (status, record) = staying
        .call(Method::POST, "/api/v1/execute", Some(&task))
        .await;
    assert_eq!(status, 202);
    let path = format!("/api/v1/executions/{}", record["id"].as_str().unwrap());
    until("the next execution", Duration::from_secs(15), async || {
        staying.call(Method::GET, &path, None).await.1["status"] == "succeeded"
    })
    .await;
    flunq_testkit::redis::delete_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_taken_over_while_waiting_to_retry_keeps_its_retry_budget() {
    let prefix = prefix("budget");
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let upstream = flunq_testkit::serve(move |_req| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            flunq_testkit::json_reply(503, &json!({"busy": true}))
        }
    })
    .await
    .unwrap();
    let doomed = Instance::start(&prefix, 10).await;
    let task = json!({"type": "http", "url": format!("http://{upstream}/"), "retries": 1,
                      "retry": {"policy": "fixed", "delay": "20s"}})
    .to_string();
    let (_, record) = doomed
        .call(Method::POST, "/api/v1/execute", Some(&task))
        .await;
    let path = format!("/api/v1/executions/{}", record["id"].as_str().unwrap());
    // The first attempt failed and is recorded; the execution waits 20 s to retry.
    until(
        "the first attempt recorded",
        Duration::from_secs(10),
        async || {
            doomed.call(Method::GET, &path, None).await.1["attempts"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
        },
    )
    .await;
    let survivor = Instance::start(&prefix, 10).await;
    doomed.signal("-KILL");
    // Taken over after the lease: the one retry is all that is left.
    until(
        "the execution to fail",
        Duration::from_secs(20),
        async || survivor.call(Method::GET, &path, None).await.1["status"] == "failed",
    )
    .await;
    let (_, record) = survivor.call(Method::GET, &path, None).await;
    let numbers: Vec<u64> = record["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2], "{record}");
    assert_eq!(record["error"]["kind"], "http_status");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "retries: 1 means two calls in all"
    );
    drop(doomed);
    flunq_testkit::redis::delete_prefix(&prefix).await;
}

#[test]
fn a_bad_or_unreachable_redis_url_stops_the_start_with_a_clear_error() {
    let closed = free_port();
    for (url, expected) in [
        ("not a url".to_owned(), "REDIS_URL"),
        (
            format!("redis://127.0.0.1:{closed}"),
            "cannot start on Redis",
        ),
        (
            format!("redis://:hunter2-canary@127.0.0.1:{closed}"),
            "cannot start on Redis",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_executor"))
            .env("PORT", free_port().to_string())
            .env("REDIS_URL", &url)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .output()
            .expect("the executor binary runs");
        assert!(!output.status.success(), "started with REDIS_URL={url}");
        let logs = String::from_utf8_lossy(&output.stdout);
        assert!(logs.contains(expected), "REDIS_URL={url}: {logs}");
        assert!(!logs.contains("hunter2"), "the password was logged: {logs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_runs_on_redis_over_tls_with_the_ca_of_redis_ca_cert() {
    let pki = flunq_testkit::pki::TestPki::new();
    let redis = flunq_testkit::redis::TlsRedis::start(&pki, false).await;
    let ca = redis.dir.join("ca.pem");
    let ca = ca.to_str().unwrap();
    let instance =
        Instance::start_on(&redis.url(), &[("REDIS_CA_CERT", ca)], &prefix("tls"), 4).await;
    let (addr, calls) = slow_upstream(Duration::ZERO).await;
    let task = json!({"type": "http", "url": format!("http://{addr}/")}).to_string();
    let (status, record) = instance
        .call(Method::POST, "/api/v1/execute?wait=10s", Some(&task))
        .await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["status"], "succeeded", "{record}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn bad_redis_tls_settings_stop_the_start_with_a_clear_error() {
    let missing = std::env::temp_dir().join("flunq-no-such-ca.pem");
    let missing = missing.to_str().unwrap();
    let tls_url = format!("rediss://127.0.0.1:{}", free_port());
    for (env, expected) in [
        (
            vec![("REDIS_URL", tls_url.as_str()), ("REDIS_CA_CERT", missing)],
            "REDIS_CA_CERT: cannot read",
        ),
        // A certificate without its key: refused before anything starts.
        (
            vec![
                ("REDIS_URL", tls_url.as_str()),
                ("REDIS_CLIENT_CERT", missing),
            ],
            "REDIS_CLIENT_KEY",
        ),
        // TLS settings without Redis: not ignored.
        (
            vec![("REDIS_CA_CERT", missing)],
            "need a rediss:// REDIS_URL",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_executor"))
            .env_remove("REDIS_URL")
            .envs(env.iter().copied())
            .env("PORT", free_port().to_string())
            .env("LOG_FORMAT", "json")
            .output()
            .expect("the executor binary runs");
        assert!(!output.status.success(), "started with {env:?}");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(said.contains(expected), "{env:?}: {said}");
    }
}
