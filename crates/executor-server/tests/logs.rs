//! A canary secret never reaches a log line, while the logs do carry the execution.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use support::{Executor, json_reply, upstream};

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// One thread, so the thread-local subscriber sees the server, the workers and the client.
#[tokio::test(flavor = "current_thread")]
async fn secrets_never_reach_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // The upstream echoes the credential and fails, so the error path is logged too.
    let up = upstream(|req: hyper::Request<hyper::body::Incoming>| async move {
        let auth = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        json_reply(503, &json!({"echo": auth}))
    })
    .await;
    let ex = Executor::start().await;
    let config = json!({"name": "logged", "base_url": format!("http://{up}"), "retries": 1,
        "retry": {"policy": "fixed", "delay": "1ms"},
        "headers": {"Authorization": "Bearer ${token}"}, "secrets": {"token": "canary-log-secret"}});
    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        201
    );
    let task = json!({"type": "http", "config": "logged", "url": "/",
        "query": {"page": "1"}});
    // And a task whose API key travels in the query string, to a port where nothing
    // listens: the connect error names the URL, which must not carry the key.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = json!({"type": "http", "url": format!("http://{closed}/x"), "retries": 0,
        "auth": {"type": "api_key", "name": "key", "value": "canary-log-password", "in": "query"}});
    let failed = ex
        .post("/api/v1/execute?wait=true", &refused.to_string())
        .await
        .json;
    assert_eq!(failed["error"]["kind"], "connect", "{failed}");
    let record = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await
        .json;
    let id = record["id"].as_str().unwrap().to_owned();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains(&id), "the execution is logged:\n{logs}");
    assert!(logs.contains("attempt finished"), "{logs}");
    assert!(!logs.contains("canary-log-secret"), "{logs}");
    assert!(!logs.contains("canary-log-password"), "{logs}");
}
