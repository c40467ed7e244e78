//! What API.md implies where an audit of the running server found it wanting: masking
//! of short secrets, credentials in tasks and configs, `***` sent back in a `PUT`,
//! idempotency keys, a replay under `?wait`, `max_elapsed` over rate-limit waits, the
//! OAuth2 token URL under the egress policy, GraphQL results as sent, redirect loops,
//! the origin label of upstream metrics, and a config's credentials kept to its origin
//! (its base_url, and across redirects).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flunq_http_client::Method;
use serde_json::json;
use support::{Executor, counted_upstream, json_reply, reply, upstream};

/// An upstream that answers 200 with its request path, and counts calls.
async fn path_echo() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    counted_upstream(|req| async move { json_reply(200, &json!({"path": req.uri().path()})) }).await
}

#[tokio::test]
async fn a_short_secret_in_a_url_path_is_masked_in_errors_and_results() {
    let ex = Executor::start().await;
    let config = json!({"name": "short", "secrets": {"a": "AAA"}});
    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        201
    );
    // Nothing listens on port 1: the error names the URL, secret in its path.
    let task = json!({"type": "http", "config": "short", "url": "http://127.0.0.1:1/x/${a}",
        "retries": 0});
    let failed = ex.post("/api/v1/execute?wait=10s", &task.to_string()).await;
    assert_eq!(failed.json["status"], "failed", "{}", failed.text);
    assert!(!failed.text.contains("AAA"), "{}", failed.text);
    assert!(failed.text.contains("/x/***"), "{}", failed.text);

    let (echo, _) = path_echo().await;
    let task = json!({"type": "http", "config": "short",
        "url": format!("http://{echo}/items/${{a}}")});
    let done = ex.post("/api/v1/execute?wait=10s", &task.to_string()).await;
    assert_eq!(done.json["status"], "succeeded", "{}", done.text);
    assert_eq!(done.json["result"]["body"]["path"], "/items/***");
    assert!(!done.text.contains("AAA"), "{}", done.text);
}

#[tokio::test]
async fn a_secret_in_a_binary_body_is_masked() {
    let ex = Executor::start().await;
    let config = json!({"name": "bin", "secrets": {"k": "canary-binary-secret"}});
    ex.post("/api/v1/configs", &config.to_string()).await;
    let addr = upstream(|req| async move {
        let echoed = req.uri().query().unwrap_or_default().to_owned();
        let mut body = vec![0u8, 255, 1];
        body.extend_from_slice(echoed.as_bytes());
        reply(200, "application/octet-stream", body)
    })
    .await;
    let task = json!({"type": "http", "config": "bin",
        "url": format!("http://{addr}/b?${{k}}")});
    let done = ex.post("/api/v1/execute?wait=10s", &task.to_string()).await;
    assert_eq!(done.json["status"], "succeeded", "{}", done.text);
    use base64::Engine as _;
    let encoded = done.json["result"]["body"]["base64"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(bytes, b"\x00\xff\x01***");

    // A secret that is in the base64 text by chance, not in the bytes: the body is
    // left whole ("YWJj" is the base64 of "abc").
    let config = json!({"name": "chance", "secrets": {"k": "YWJj"}});
    ex.post("/api/v1/configs", &config.to_string()).await;
    let addr = upstream(|_req| async move {
        reply(200, "application/octet-stream", b"\x00\xff\x01abc".to_vec())
    })
    .await;
    let task = json!({"type": "http", "config": "chance", "url": format!("http://{addr}/c"),
        "headers": {"X-Tag": "${k}"}});
    let done = ex.post("/api/v1/execute?wait=10s", &task.to_string()).await;
    let encoded = done.json["result"]["body"]["base64"].as_str().unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
        b"\x00\xff\x01abc"
    );
}

#[tokio::test]
async fn a_config_round_trips_through_get_and_put_with_its_masked_values() {
    let ex = Executor::start().await;
    let config = json!({"name": "rt", "base_url": "http://bob:canary-url-pw@127.0.0.1:9/v1",
        "headers": {"Authorization": "Bearer canary-header", "Accept": "application/json"},
        "connection": "postgres://postgres:canary-pg@127.0.0.1:5432/test",
        "secrets": {"s": "canary-secret"}, "auth": {"type": "bearer", "token": "canary-token"}});
    let created = ex.post("/api/v1/configs", &config.to_string()).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(!created.text.contains("canary"), "{}", created.text);
    assert_eq!(created.json["headers"]["Authorization"], "***");
    assert_eq!(created.json["headers"]["Accept"], "application/json");
    assert_eq!(created.json["base_url"], "http://bob:***@127.0.0.1:9/v1");
    // GET, change one thing, PUT it back: the masked values keep the stored ones.
    let mut shown = ex.get("/api/v1/configs/rt").await.json;
    shown["retries"] = json!(1);
    let replaced = ex
        .call(
            Method::PUT,
            "/api/v1/configs/rt",
            Some(&shown.to_string()),
            &[],
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(replaced.json["version"], 2);
    let stored = ex.engine.config("rt").await.unwrap().unwrap();
    let input = &stored.input;
    assert_eq!(input.retries, Some(1));
    assert_eq!(
        input.base_url.as_deref(),
        Some("http://bob:canary-url-pw@127.0.0.1:9/v1")
    );
    assert_eq!(
        input.headers.as_ref().unwrap()["Authorization"],
        "Bearer canary-header"
    );
    assert_eq!(
        input.connection.as_ref().unwrap().expose(),
        "postgres://postgres:canary-pg@127.0.0.1:5432/test"
    );
    assert_eq!(
        input.secrets.as_ref().unwrap()["s"].expose(),
        "canary-secret"
    );
}

#[tokio::test]
async fn a_masked_value_with_nothing_stored_behind_it_is_refused() {
    let ex = Executor::start().await;
    let created = ex
        .post(
            "/api/v1/configs",
            &json!({"name": "m", "secrets": {"b": "***"}}).to_string(),
        )
        .await;
    assert_eq!(created.status, 400, "{}", created.text);
    assert_eq!(created.json["errors"][0]["field"], "secrets.b");
    ex.post(
        "/api/v1/configs",
        &json!({"name": "m", "secrets": {"a": "x-value"}}).to_string(),
    )
    .await;
    let put = ex
        .call(
            Method::PUT,
            "/api/v1/configs/m",
            Some(
                &json!({"name": "m", "secrets": {"a": "***", "b": "***"},
                    "auth": {"type": "bearer", "token": "***"}})
                .to_string(),
            ),
            &[],
        )
        .await;
    assert_eq!(put.status, 400, "{}", put.text);
    let fields: Vec<&str> = put.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["secrets.b", "auth.token"], "{}", put.text);
    // Refused: the stored config is unchanged.
    assert_eq!(ex.get("/api/v1/configs/m").await.json["version"], 1);
    // A PUT to a config that does not exist is a 404, masked values or not.
    let missing = ex
        .call(
            Method::PUT,
            "/api/v1/configs/nope",
            Some(&json!({"name": "nope", "secrets": {"a": "***"}}).to_string()),
            &[],
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.text);
}

#[tokio::test]
async fn a_record_shows_the_task_as_sent_with_its_credentials_masked() {
    let ex = Executor::start().await;
    let (echo, _) = path_echo().await;
    let task = json!({"type": "http", "url": format!("http://alice:canary-userinfo@{echo}/t"),
        "timeout": "1.5s", "retry": {"policy": "fixed", "delay": "250ms"},
        "headers": {"Authorization": "Bearer canary-h", "Cookie": "sid=canary-c",
                    "X-Api-Key": "canary-k", "Accept": "application/json"},
        "auth": {"type": "jwt", "algorithm": "HS256", "secret": "canary-jwt-secret-canary-jwt"}});
    let accepted = ex.post("/api/v1/execute", &task.to_string()).await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let id = accepted.json["id"].as_str().unwrap().to_owned();
    let record = ex.until_final(&id).await;
    let shown = &record["task"];
    assert_eq!(shown["timeout"], "1.5s");
    assert_eq!(shown["retry"]["delay"], "250ms");
    assert_eq!(shown["headers"]["Accept"], "application/json");
    for header in ["Authorization", "Cookie", "X-Api-Key"] {
        assert_eq!(shown["headers"][header], "***", "{header}");
    }
    assert_eq!(shown["auth"]["secret"], "***");
    // Only what was sent: no `null` fields for the auth type's other settings.
    assert_eq!(
        shown["auth"].as_object().unwrap().len(),
        3,
        "{}",
        shown["auth"]
    );
    assert_eq!(shown["url"], format!("http://alice:***@{echo}/t"));
    let text = record.to_string();
    assert!(!text.contains("canary"), "{text}");
}

#[tokio::test]
async fn idempotency_keys_must_not_be_empty_nor_disagree() {
    let ex = Executor::start().await;
    let (echo, calls) = path_echo().await;
    let task = |key: Option<&str>| {
        let mut t = json!({"type": "http", "url": format!("http://{echo}/k")});
        if let Some(key) = key {
            t["idempotency_key"] = json!(key);
        }
        t.to_string()
    };
    let empty_field = ex.post("/api/v1/execute", &task(Some(""))).await;
    assert_eq!(empty_field.status, 400, "{}", empty_field.text);
    assert_eq!(empty_field.json["errors"][0]["field"], "idempotency_key");
    let empty_header = ex
        .post_with("/api/v1/execute", &task(None), &[("idempotency-key", "")])
        .await;
    assert_eq!(empty_header.status, 400, "{}", empty_header.text);
    let long = "k".repeat(256);
    assert_eq!(
        ex.post("/api/v1/execute", &task(Some(&long))).await.status,
        400
    );
    let both = ex
        .post_with(
            "/api/v1/execute",
            &task(Some("k3")),
            &[("idempotency-key", "k2")],
        )
        .await;
    assert_eq!(both.status, 400, "{}", both.text);
    assert!(both.text.contains("Idempotency-Key"), "{}", both.text);
    // The same key in both is one key.
    let same = ex
        .post_with(
            "/api/v1/execute?wait=10s",
            &task(Some("k4")),
            &[("idempotency-key", "k4")],
        )
        .await;
    assert_eq!(same.status, 200, "{}", same.text);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "nothing ran for the refused ones"
    );
}

#[tokio::test]
async fn a_replay_under_wait_waits_for_the_first_execution() {
    let ex = Executor::start().await;
    let addr = upstream(|_req| async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        json_reply(200, &json!({"ok": true}))
    })
    .await;
    let task = json!({"type": "http", "url": format!("http://{addr}/slow")}).to_string();
    let first = ex
        .post_with("/api/v1/execute", &task, &[("idempotency-key", "w1")])
        .await;
    assert_eq!(first.status, 202);
    let replay = ex
        .post_with(
            "/api/v1/execute?wait=10s",
            &task,
            &[("idempotency-key", "w1")],
        )
        .await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.json["id"], first.json["id"]);
    assert_eq!(replay.json["status"], "succeeded", "{}", replay.text);
}

#[tokio::test]
async fn max_elapsed_bounds_the_wait_for_a_rate_limit() {
    let ex = Executor::start().await;
    let (echo, calls) = path_echo().await;
    let config = json!({"name": "rl", "base_url": format!("http://{echo}"),
        "rate_limit": {"rate": 1, "per": "5s", "burst": 1}});
    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        201
    );
    let task = json!({"type": "http", "config": "rl", "url": "one",
        "retry": {"max_elapsed": "500ms"}})
    .to_string();
    let first = ex.post("/api/v1/execute?wait=10s", &task).await;
    assert_eq!(first.json["status"], "succeeded", "{}", first.text);
    let started = Instant::now();
    let second = ex.post("/api/v1/execute?wait=10s", &task).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(second.json["status"], "failed", "{}", second.text);
    assert_eq!(second.json["error"]["kind"], "timeout");
    assert!(
        second.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_elapsed"),
        "{}",
        second.text
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the second sent nothing");
}

#[tokio::test]
async fn a_literal_private_token_url_is_refused_at_submission() {
    // The default egress policy (loopback and private ranges closed).
    let mut options = support::loopback_options();
    options.defaults.egress = flunq_http_client::EgressPolicy::default();
    let ex = Executor::start_with(options, Default::default()).await;
    let task = json!({"type": "http", "url": "https://api.example.com/x",
        "auth": {"type": "oauth2", "token_url": "http://10.0.0.1/token",
                 "client_id": "c", "client_secret": "s"}});
    let refused = ex.post("/api/v1/execute", &task.to_string()).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.json["errors"][0]["field"], "auth.token_url");
    let listed = ex.get("/api/v1/executions").await;
    assert_eq!(listed.json["items"], json!([]), "nothing queued");
}

#[tokio::test]
async fn a_graphql_result_has_only_what_the_server_sent() {
    let ex = Executor::start().await;
    let addr = upstream(|_req| async move {
        json_reply(200, &json!({"data": {"n": 1}, "extensions": {"cost": 3}}))
    })
    .await;
    let task = json!({"type": "graphql", "endpoint": format!("http://{addr}/graphql"),
        "query": "{ n }"});
    let done = ex.post("/api/v1/execute?wait=10s", &task.to_string()).await;
    assert_eq!(done.json["status"], "succeeded", "{}", done.text);
    assert_eq!(
        done.json["result"],
        json!({"data": {"n": 1}, "extensions": {"cost": 3}})
    );
}

#[tokio::test]
async fn a_redirect_loop_fails_with_kind_http_status_and_is_not_retried() {
    let ex = Executor::start().await;
    let (addr, calls) = counted_upstream(|_req| async move {
        let mut r = reply(302, "text/plain", "again");
        r.headers_mut().insert("location", "/loop".parse().unwrap());
        r
    })
    .await;
    let task = json!({"type": "http", "url": format!("http://{addr}/loop"), "retries": 2});
    let done = ex.post("/api/v1/execute?wait=10s", &task.to_string()).await;
    assert_eq!(done.json["status"], "failed", "{}", done.text);
    assert_eq!(done.json["error"]["kind"], "http_status", "{}", done.text);
    assert_eq!(done.json["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        11,
        "the request and 10 redirects"
    );
}

#[tokio::test]
async fn upstream_request_metrics_name_the_origin_and_skip_open_circuits() {
    let ex = Executor::start().await;
    let addr = upstream(|_req| async move { json_reply(500, &json!({"down": true})) }).await;
    let config = json!({"name": "cb", "base_url": format!("http://{addr}"),
        "circuit_breaker": {"failure_rate": 0.5, "minimum_calls": 2, "window": "60s",
                            "open_for": "60s", "half_open_calls": 1}});
    ex.post("/api/v1/configs", &config.to_string()).await;
    let task = json!({"type": "http", "config": "cb", "url": "x", "retries": 0}).to_string();
    for _ in 0..4 {
        ex.post("/api/v1/execute?wait=10s", &task).await;
    }
    let last = ex.post("/api/v1/execute?wait=10s", &task).await;
    assert_eq!(last.json["error"]["kind"], "circuit_open", "{}", last.text);
    let metrics = ex.get("/metrics").await.text;
    let origin = format!("origin=\"http://{addr}\"");
    let lines: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("flunq_upstream_requests_total"))
        .collect();
    assert!(lines.iter().all(|l| !l.contains("config:")), "{lines:?}");
    let five_xx: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains(&origin) && l.contains("class=\"5xx\""))
        .collect();
    assert_eq!(five_xx.len(), 1, "{lines:?}");
    assert!(
        five_xx[0].ends_with(" 2"),
        "two reached the upstream: {lines:?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains("class=\"error\"")),
        "open-circuit refusals are not upstream requests: {lines:?}"
    );
}

#[tokio::test]
async fn a_request_whose_redirect_the_egress_policy_refuses_was_still_sent() {
    let ex = Executor::start().await;
    // 10.0.0.1 is refused by the policy before any dial.
    let addr =
        upstream(|_req| async move { flunq_testkit::redirect(302, "http://10.0.0.1/in") }).await;
    let task = json!({"type": "http", "url": format!("http://{addr}/out"), "retries": 0});
    let done = ex.post("/api/v1/execute?wait=10s", &task.to_string()).await;
    assert_eq!(done.json["error"]["kind"], "egress_denied", "{}", done.text);
    let metrics = ex.get("/metrics").await.text;
    let sent: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("flunq_upstream_requests_total")
                && l.contains(&format!("origin=\"http://{addr}\""))
        })
        .collect();
    assert_eq!(sent.len(), 1, "{metrics}");
    assert!(
        sent[0].ends_with(" 1"),
        "the first hop reached it: {sent:?}"
    );
    // Refused at the first hop: not an upstream request.
    let task = json!({"type": "http", "url": "http://10.0.0.1/direct", "retries": 0});
    let refused = ex.post("/api/v1/execute?wait=10s", &task.to_string()).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(!ex.get("/metrics").await.text.contains("10.0.0.1"));
}

#[tokio::test]
async fn a_host_from_a_configs_secrets_is_masked_in_metric_labels() {
    let ex = Executor::start().await;
    let (echo, _) = path_echo().await;
    let config = json!({"name": "hidden", "base_url": format!("http://${{host}}:{}", echo.port()),
        "secrets": {"host": "127.0.0.1"}});
    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        201
    );
    let task = json!({"type": "http", "config": "hidden", "url": "x"}).to_string();
    let done = ex.post("/api/v1/execute?wait=10s", &task).await;
    assert_eq!(done.json["status"], "succeeded", "{}", done.text);
    let metrics = ex.get("/metrics").await.text;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("flunq_upstream_requests_total"))
        .unwrap();
    assert!(
        line.contains(&format!("origin=\"http://***:{}\"", echo.port())),
        "{line}"
    );
    assert!(!metrics.contains("127.0.0.1"), "{metrics}");
}

#[tokio::test]
async fn a_list_cursor_that_is_not_one_is_refused() {
    let ex = Executor::start().await;
    for bad in ["garbage", "0192f3a4-0000-7000-8000-00000000000g"] {
        let answer = ex.get(&format!("/api/v1/executions?cursor={bad}")).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.text);
        assert_eq!(answer.json["errors"][0]["field"], "cursor");
    }
    let (echo, _) = path_echo().await;
    let task = json!({"type": "http", "url": format!("http://{echo}/c")}).to_string();
    for _ in 0..3 {
        ex.post("/api/v1/execute?wait=10s", &task).await;
    }
    let first = ex.get("/api/v1/executions?limit=2").await;
    let next = first.json["next"].as_str().unwrap().to_owned();
    let second = ex
        .get(&format!("/api/v1/executions?limit=2&cursor={next}"))
        .await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.json["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_configs_credentials_go_to_its_base_url_origin_only() {
    let ex = Executor::start().await;
    let (home, home_calls) = counted_upstream(|req| async move {
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        json_reply(200, &json!({"auth": auth}))
    })
    .await;
    let (elsewhere, elsewhere_calls) = path_echo().await;
    let config = json!({"name": "scoped", "base_url": format!("http://{home}/v1"),
        "auth": {"type": "bearer", "token": "canary-scoped-token"},
        "headers": {"X-Api-Key": "${key}"}, "secrets": {"key": "canary-scoped-key"}});
    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        201
    );

    // Another port, another host spelling, another scheme: each another origin.
    let other_origins = [
        format!("http://{elsewhere}/v1/steal"),
        format!("http://localhost:{}/v1/steal", home.port()),
        format!("https://{home}/v1/steal"),
    ];
    for url in &other_origins {
        let task = json!({"type": "http", "config": "scoped", "url": url});
        let refused = ex.post("/api/v1/execute?wait=5s", &task.to_string()).await;
        assert_eq!(refused.status, 400, "{url}: {}", refused.text);
        assert_eq!(
            refused.json["errors"][0]["field"], "url",
            "{}",
            refused.text
        );
        assert!(
            refused.json["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("origin")),
            "{}",
            refused.text
        );
        assert!(!refused.text.contains("canary"), "{}", refused.text);
    }
    // The same refusal when the other origin comes from a placeholder.
    let task = json!({"type": "http", "config": "scoped", "url": "${target}",
        "inputs": {"target": format!("http://{elsewhere}/")}});
    assert_eq!(
        ex.post("/api/v1/execute", &task.to_string()).await.status,
        400
    );
    // A GraphQL endpoint is held to the same rule.
    let task = json!({"type": "graphql", "config": "scoped", "query": "{ me { id } }",
        "endpoint": format!("http://{elsewhere}/graphql")});
    let refused = ex.post("/api/v1/execute", &task.to_string()).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(
        refused.json["errors"][0]["field"], "endpoint",
        "{}",
        refused.text
    );
    assert_eq!(elsewhere_calls.load(Ordering::SeqCst), 0);
    assert_eq!(home_calls.load(Ordering::SeqCst), 0);
    let listed = ex.get("/api/v1/executions").await;
    assert_eq!(listed.json["items"], json!([]), "{}", listed.text);

    // An absolute URL on the base_url's origin, and a relative one, carry the credentials.
    for url in [format!("http://{home}/other/path"), "items".to_owned()] {
        let task = json!({"type": "http", "config": "scoped", "url": url});
        let done = ex.post("/api/v1/execute?wait=10s", &task.to_string()).await;
        assert_eq!(done.json["status"], "succeeded", "{}", done.text);
        assert_eq!(
            done.json["result"]["body"]["auth"], "Bearer ***",
            "{}",
            done.text
        );
    }
    assert_eq!(home_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_redirect_to_another_origin_carries_no_credential_of_the_config() {
    let ex = Executor::start().await;
    let (elsewhere, elsewhere_calls) = counted_upstream(|req| async move {
        let names: Vec<String> = req
            .headers()
            .keys()
            .map(|name| name.as_str().to_owned())
            .collect();
        json_reply(200, &json!({"headers": names}))
    })
    .await;
    let landing = format!("http://{elsewhere}/landing");
    let home = upstream(move |_req| {
        let landing = landing.clone();
        async move { flunq_testkit::redirect(302, &landing) }
    })
    .await;
    // Credentials under names that say so, under a name that does not (made from a
    // secret), and an api_key under a plain name: none may follow the redirect.
    let config = json!({"name": "hops", "base_url": format!("http://{home}"),
        "auth": {"type": "api_key", "name": "X-Client-Id", "value": "${client}", "in": "header"},
        "headers": {"X-Api-Key": "${key}", "X-Tenant": "${tenant}", "X-Plain": "visible"},
        "secrets": {"key": "canary-hop-key", "tenant": "canary-hop-tenant",
            "client": "canary-hop-client"}});
    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        201
    );
    let task = json!({"type": "http", "config": "hops", "url": "start",
        "headers": {"Authorization": "Bearer canary-hop-bearer"}});
    let done = ex.post("/api/v1/execute?wait=10s", &task.to_string()).await;
    assert_eq!(done.json["status"], "succeeded", "{}", done.text);
    assert_eq!(elsewhere_calls.load(Ordering::SeqCst), 1);
    let seen = &done.json["result"]["body"]["headers"];
    assert!(
        seen.as_array().unwrap().contains(&json!("x-plain")),
        "{seen}"
    );
    for name in ["authorization", "x-api-key", "x-tenant", "x-client-id"] {
        assert!(
            !seen.as_array().unwrap().contains(&json!(name)),
            "{name} followed the redirect: {seen}"
        );
    }
}
