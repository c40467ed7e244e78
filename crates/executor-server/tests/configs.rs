//! Configurations: CRUD, If-Match, duplicate names, masking, and their use by tasks
//! (base URL, headers, placeholders from secrets, breakers, rate limits).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flunq_http_client::Method;
use serde_json::{Value, json};
use support::{Answer, Executor, json_reply, reply, upstream};

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
        // Auth and headers are checked when the config is stored, not by each task.
        (
            json!({"name": "a", "auth": {"type": "bearer"}}),
            "auth.token",
        ),
        (
            json!({"name": "a", "auth": {"type": "basic", "username": "u:x"}}),
            "auth.username",
        ),
        // A placeholder the config's own secrets fill is checked with its value.
        (
            json!({"name": "a", "auth": {"type": "api_key", "name": "${n}", "value": "v"},
                   "secrets": {"n": "not a header"}}),
            "auth.name",
        ),
        (json!({"name": "a", "headers": {"X Y": "1"}}), "headers.X Y"),
        (
            json!({"name": "a", "headers": {"X-Y": "line\nbreak"}}),
            "headers.X-Y",
        ),
        // A name that looks like a config id would be shadowed by the id.
        (
            json!({"name": "0192f3a4-5b6c-7d8e-9f00-112233445566"}),
            "name",
        ),
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
    // A key given twice.
    let answer = ex
        .post("/api/v1/configs", r#"{"name": "a", "name": "b"}"#)
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_eq!(answer.json["errors"][0]["field"], "name", "{}", answer.text);
    // Placeholders a task's inputs fill are checked with each task.
    let later = json!({"name": "later", "auth": {"type": "bearer", "token": "${token}"},
        "headers": {"X-Tenant": "${tenant}"}});
    let stored = ex.post("/api/v1/configs", &later.to_string()).await;
    assert_eq!(stored.status, 201, "{}", stored.text);
    assert!(
        ex.get("/api/v1/configs").await.json["items"]
            .as_array()
            .is_some_and(|items| items.len() == 1),
        "nothing else was stored"
    );
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
    // An open circuit fails fast: not retried, whatever the retries left.
    let with_retries =
        json!({"type": "http", "config": "flaky", "url": "/x", "retries": 3}).to_string();
    let refused = ex
        .post("/api/v1/execute?wait=true", &with_retries)
        .await
        .json;
    assert_eq!(refused["error"]["kind"], "circuit_open", "{refused}");
    assert_eq!(
        refused["attempts"].as_array().unwrap().len(),
        1,
        "{refused}"
    );
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

/// A `PUT` of `config` to `path` with these `If-Match` header lines.
async fn put_if_match(ex: &Executor, path: &str, config: &Value, if_match: &[&str]) -> Answer {
    let headers: Vec<(&str, &str)> = if_match.iter().map(|v| ("if-match", *v)).collect();
    ex.call(Method::PUT, path, Some(&config.to_string()), &headers)
        .await
}

#[tokio::test]
async fn if_match_star_replaces_whatever_the_version_and_404s_without_a_config() {
    let ex = Executor::start().await;
    let config = json!({"name": "starred", "retries": 1});
    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        201
    );
    for expected_version in [2, 3] {
        let replaced = put_if_match(&ex, "/api/v1/configs/starred", &config, &["*"]).await;
        assert_eq!(replaced.status, 200, "{}", replaced.text);
        assert_eq!(replaced.json["version"], expected_version);
    }
    let missing = put_if_match(&ex, "/api/v1/configs/nowhere", &config, &["*"]).await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
}

#[tokio::test]
async fn if_match_list_replaces_when_any_listed_version_is_current() {
    let ex = Executor::start().await;
    let config = json!({"name": "listed", "retries": 1});
    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        201
    );
    let path = "/api/v1/configs/listed";
    // Version 1 is current.
    let stale = put_if_match(&ex, path, &config, &["\"2\", \"3\""]).await;
    assert_eq!(stale.status, 412, "{}", stale.text);
    assert_eq!(
        stale.header("content-type"),
        Some("application/problem+json")
    );
    // The precondition comes first: a stale version is a 412 whatever the body.
    for body in [
        r#"{"name": "listed", "timeout": 5}"#,
        r#"{"name": "listed", "foo": 1}"#,
        "[]",
        "{bad",
    ] {
        let answer = ex
            .call(Method::PUT, path, Some(body), &[("if-match", "\"2\"")])
            .await;
        assert_eq!(answer.status, 412, "{body}: {}", answer.text);
        // With the current version, the body is what is wrong.
        let answer = ex
            .call(Method::PUT, path, Some(body), &[("if-match", "\"1\"")])
            .await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
    }
    for (if_match, version) in [
        (&["\"7\", \"1\""][..], 2),
        // Optional whitespace and empty list elements (RFC 9110 §5.6.1).
        (&[" \"2\" ,, \"9\" "][..], 3),
        // One list over two header lines.
        (&["\"8\"", "\"3\""][..], 4),
        // Weak and bare entries are still read as versions.
        (&["W/\"4\", 9"][..], 5),
    ] {
        let answer = put_if_match(&ex, path, &config, if_match).await;
        assert_eq!(answer.status, 200, "{if_match:?}: {}", answer.text);
        assert_eq!(answer.json["version"], version, "{if_match:?}");
        assert_eq!(
            answer.header("etag"),
            Some(format!("\"{version}\"").as_str())
        );
    }
    let missing = put_if_match(&ex, "/api/v1/configs/nowhere", &config, &["\"1\", \"2\""]).await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    for malformed in ["\"5\", soon", "*, \"5\"", ","] {
        let answer = put_if_match(&ex, path, &config, &[malformed]).await;
        assert_eq!(answer.status, 400, "{malformed}: {}", answer.text);
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
    }
    assert_eq!(
        ex.get(path).await.json["version"],
        5,
        "nothing else replaced it"
    );
}
