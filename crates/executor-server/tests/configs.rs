//! Configurations: CRUD, If-Match, duplicate names, masking, and their use by tasks
//! (base URL, headers, placeholders from secrets, breakers, rate limits).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flunq_http_client::Method;
use serde_json::{Value, json};
use support::{Executor, json_reply, reply, upstream};

#[tokio::test]
async fn configs_crud_with_versions_and_unique_names() {
    let ex = Executor::start().await;
    let config = json!({"name": "billing-api", "base_url": "https://api.example.com", "timeout": "10s",
        "retries": 5, "secrets": {"token": "canary-config-secret"},
        "auth": {"type": "bearer", "token": "canary-bearer"}});
    let created = ex.post("/api/v1/configs", &config.to_string()).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/configs/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(created.json["version"], 1);
    assert_eq!(created.json["secrets"]["token"], "***");
    assert_eq!(created.json["auth"]["token"], "***");
    assert!(!created.text.contains("canary"));

    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        409
    );
    let by_name = ex.get("/api/v1/configs/billing-api").await;
    assert_eq!(by_name.json["id"], id.as_str());
    let listed = ex.get("/api/v1/configs").await.json;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    let mut changed = by_name.json.clone();
    changed["retries"] = json!(2);
    let stale = ex
        .call(
            Method::PUT,
            &format!("/api/v1/configs/{id}"),
            Some(&changed.to_string()),
            &[("if-match", "\"7\"")],
        )
        .await;
    assert_eq!(stale.status, 412);
    let replaced = ex
        .call(
            Method::PUT,
            "/api/v1/configs/billing-api",
            Some(&changed.to_string()),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(replaced.json["version"], 2);
    assert_eq!(replaced.json["retries"], 2);
    assert_eq!(replaced.header("etag"), Some("\"2\""));

    assert_eq!(
        ex.call(Method::DELETE, &format!("/api/v1/configs/{id}"), None, &[])
            .await
            .status,
        204
    );
    assert_eq!(ex.get(&format!("/api/v1/configs/{id}")).await.status, 404);
    assert_eq!(
        ex.call(Method::DELETE, &format!("/api/v1/configs/{id}"), None, &[])
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn invalid_configs_name_the_field() {
    let ex = Executor::start().await;
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": "a", "timeout": 10}), "timeout"),
        (json!({"name": "a", "base_url": "ftp://x"}), "base_url"),
        (
            json!({"name": "a", "rate_limit": {"per": "1s"}}),
            "rate_limit.rate",
        ),
        (
            json!({"name": "a", "circuit_breaker": {"failure_rate": 2.0}}),
            "circuit_breaker.failure_rate",
        ),
        (json!({"name": "a", "unknown": 1}), "unknown"),
    ] {
        let answer = ex.post("/api/v1/configs", &body.to_string()).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        let fields: Vec<String> = answer.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect();
        assert!(fields.iter().any(|f| f == field), "{body}: {fields:?}");
    }
}

#[tokio::test]
async fn secrets_fill_placeholders_and_never_come_back() {
    // The upstream echoes the request's headers, as a careless API might.
    let up = upstream(|req: hyper::Request<hyper::body::Incoming>| async move {
        let auth = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let path = req.uri().path().to_owned();
        json_reply(200, &json!({"you_sent": auth, "path": path}))
    })
    .await;
    let ex = Executor::start().await;
    let config = json!({"name": "echo", "base_url": format!("http://{up}/v1"),
        "headers": {"Authorization": "Bearer ${token}"}, "secrets": {"token": "canary-7f3a9"}});
    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        201
    );
    let task =
        json!({"type": "http", "config": "echo", "url": "users/${id}", "inputs": {"id": 42}});
    let answer = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await;
    assert_eq!(answer.json["status"], "succeeded", "{}", answer.text);
    assert_eq!(answer.json["result"]["body"]["path"], "/v1/users/42");
    assert_eq!(answer.json["result"]["body"]["you_sent"], "Bearer ***");
    assert!(!answer.text.contains("canary-7f3a9"), "{}", answer.text);
    let id = answer.json["id"].as_str().unwrap();
    assert!(
        !ex.get(&format!("/api/v1/executions/{id}"))
            .await
            .text
            .contains("canary-7f3a9")
    );
    assert!(
        !ex.get("/api/v1/executions")
            .await
            .text
            .contains("canary-7f3a9")
    );
    assert!(!ex.get("/metrics").await.text.contains("canary-7f3a9"));
}

#[tokio::test]
async fn task_credentials_are_masked_in_the_record() {
    let up = upstream(|_req| async { reply(200, "text/plain", "ok") }).await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/"),
        "auth": {"type": "basic", "username": "ada", "password": "canary-pw-1"}});
    let answer = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await;
    assert_eq!(answer.json["task"]["auth"]["password"], "***");
    assert!(!answer.text.contains("canary-pw-1"));
}

#[tokio::test]
async fn a_breaker_opens_and_refuses_without_touching_the_upstream() {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&hits);
    let up = upstream(move |_req| {
        seen.fetch_add(1, Ordering::SeqCst);
        async { reply(500, "text/plain", "down") }
    })
    .await;
    let ex = Executor::start().await;
    let config = json!({"name": "flaky", "base_url": format!("http://{up}"), "retries": 0,
        "circuit_breaker": {"failure_rate": 0.5, "minimum_calls": 3, "window": "60s", "open_for": "300ms", "half_open_calls": 1}});
    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        201
    );
    let task = json!({"type": "http", "config": "flaky", "url": "/x"}).to_string();
    for _ in 0..3 {
        let r = ex.post("/api/v1/execute?wait=true", &task).await.json;
        assert_eq!(r["error"]["kind"], "http_status");
    }
    let refused = ex.post("/api/v1/execute?wait=true", &task).await.json;
    assert_eq!(refused["error"]["kind"], "circuit_open", "{refused}");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert!(ex.get("/metrics").await.text.contains("circuit_state"));
    // After `open_for`, one probe goes through; it fails and the breaker opens again.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let probe = ex.post("/api/v1/execute?wait=true", &task).await.json;
    assert_eq!(probe["error"]["kind"], "http_status");
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_config_rate_limit_spreads_the_calls() {
    let times = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&times);
    let up = upstream(move |_req| {
        seen.lock().unwrap().push(Instant::now());
        async { reply(200, "text/plain", "ok") }
    })
    .await;
    let ex = Executor::start().await;
    for (name, algorithm) in [("bucket", "token_bucket"), ("window", "sliding_window")] {
        times.lock().unwrap().clear();
        let config = json!({"name": name, "base_url": format!("http://{up}"),
            "rate_limit": {"algorithm": algorithm, "rate": 5, "per": "1s", "burst": 1}});
        assert_eq!(
            ex.post("/api/v1/configs", &config.to_string()).await.status,
            201
        );
        let task = json!({"type": "http", "config": name, "url": "/"}).to_string();
        let started = Instant::now();
        let mut ids = Vec::new();
        for _ in 0..6 {
            ids.push(
                ex.post("/api/v1/execute", &task).await.json["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        for id in &ids {
            assert_eq!(ex.until_final(id).await["status"], "succeeded");
        }
        let elapsed = started.elapsed();
        let stamps = times.lock().unwrap().clone();
        assert_eq!(stamps.len(), 6);
        match algorithm {
            // 1 at once, then one every 200 ms.
            "token_bucket" => assert!(elapsed >= Duration::from_millis(950), "{name}: {elapsed:?}"),
            // 5 in the first second, the sixth only as the window slides.
            _ => assert!(elapsed >= Duration::from_millis(200), "{name}: {elapsed:?}"),
        }
    }
}

#[tokio::test]
async fn put_with_masked_secret_keeps_the_stored_value() {
    let up = upstream(|req: hyper::Request<hyper::body::Incoming>| async move {
        let key = req
            .headers()
            .get("x-api-key")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        reply(if key == "real-key" { 200 } else { 401 }, "text/plain", "")
    })
    .await;
    let ex = Executor::start().await;
    let config = json!({"name": "keyed", "base_url": format!("http://{up}"), "retries": 0,
        "auth": {"type": "api_key", "name": "X-API-Key", "value": "real-key"}});
    let created = ex.post("/api/v1/configs", &config.to_string()).await.json;
    let mut back: Value = created.clone();
    back["timeout"] = json!("5s");
    assert_eq!(back["auth"]["value"], "***");
    let put = ex
        .call(
            Method::PUT,
            "/api/v1/configs/keyed",
            Some(&back.to_string()),
            &[],
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let task = json!({"type": "http", "config": "keyed", "url": "/"}).to_string();
    assert_eq!(
        ex.post("/api/v1/execute?wait=true", &task).await.json["status"],
        "succeeded"
    );
}
