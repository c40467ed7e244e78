//! Bad input gets a clear problem document naming the field, and nothing is queued.

#![allow(clippy::unwrap_used)]

mod support;

use flunq_executor::EngineOptions;
use flunq_executor_server::ServerOptions;
use flunq_http_client::Method;
use serde_json::json;
use support::{Answer, Executor, loopback_options};

async fn assert_refused(ex: &Executor, body: &str, status: u16, field: Option<&str>) {
    let answer = ex.post("/api/v1/execute", body).await;
    assert_problem(&answer, status, field, body);
}

/// `answer` is a problem document of `status`, naming `field` in `errors` when given.
fn assert_problem(answer: &Answer, status: u16, field: Option<&str>, context: &str) {
    assert_eq!(answer.status, status, "{context} -> {}", answer.text);
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json"),
        "{context}"
    );
    assert_eq!(answer.json["status"], status);
    assert!(
        answer.json["detail"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    if field.is_none() {
        // The body as a whole: no `errors` entry with an empty field.
        assert!(
            answer.json.get("errors").is_none(),
            "{context}: {}",
            answer.text
        );
    }
    if let Some(field) = field {
        let fields: Vec<&str> = answer.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.contains(&field),
            "{context}: expected field {field}, got {fields:?}"
        );
    }
}

#[tokio::test]
async fn every_bad_input_is_refused_and_nothing_is_queued() {
    let ex = Executor::start().await;
    let url = "http://127.0.0.1:9/";
    let cases: Vec<(String, u16, Option<&str>)> = vec![
        ("{not json".into(), 400, None),
        ("".into(), 400, None),
        ("[1, 2]".into(), 400, None),
        (json!({"url": url}).to_string(), 400, Some("type")),
        (json!({"type": "ftp", "url": url}).to_string(), 400, Some("type")),
        (json!({"type": "http"}).to_string(), 400, Some("url")),
        (json!({"type": "http", "url": "not a url"}).to_string(), 400, Some("url")),
        (json!({"type": "http", "url": "ftp://127.0.0.1/"}).to_string(), 400, Some("url")),
        (json!({"type": "http", "url": url, "timeout": 30}).to_string(), 400, Some("timeout")),
        (json!({"type": "http", "url": url, "timeout": "30"}).to_string(), 400, Some("timeout")),
        (json!({"type": "http", "url": url, "retries": -1}).to_string(), 400, Some("retries")),
        (json!({"type": "http", "url": url, "method": "GE T"}).to_string(), 400, Some("method")),
        (json!({"type": "http", "url": url, "retry": {"policy": "sometimes"}}).to_string(), 400, Some("retry.policy")),
        (json!({"type": "http", "url": url, "retry": {"delay": 5}}).to_string(), 400, Some("retry.delay")),
        (json!({"type": "http", "url": url, "retry": {"multiplier": 0.5}}).to_string(), 400, Some("retry.multiplier")),
        (json!({"type": "http", "url": url, "auth": {"type": "magic"}}).to_string(), 400, Some("auth.type")),
        (json!({"type": "http", "url": url, "auth": {"type": "bearer"}}).to_string(), 400, Some("auth.token")),
        (json!({"type": "http", "url": url, "retires": 3}).to_string(), 400, Some("retires")),
        (json!({"type": "http", "url": url, "endpoint": url}).to_string(), 400, Some("endpoint")),
        (json!({"type": "http", "url": "http://127.0.0.1/${missing}"}).to_string(), 400, Some("url")),
        (json!({"type": "http", "url": url, "config": "nope"}).to_string(), 400, Some("config")),
        (json!({"type": "graphql", "endpoint": url}).to_string(), 400, Some("query")),
        (format!(r#"{{"type": "http", "url": "{url}", "url": "{url}"}}"#), 400, Some("url")),
        (format!(r#"{{"type": "http", "url": "{url}", "retry": {{"delay": "1s", "delay": "2s"}}}}"#), 400, Some("retry.delay")),
        (json!({"type": "database", "query": "SELECT 1"}).to_string(), 400, Some("connection")),
        (json!({"type": "database", "connection": "host=/var/run/postgresql user=x", "query": "SELECT 1"}).to_string(), 400, Some("connection")),
        (json!({"type": "database", "connection": "postgres://u@127.0.0.1/db?options=-c%20statement_timeout%3D0", "query": "SELECT 1"}).to_string(), 400, Some("connection")),
        (json!({"type": "database", "connection": "postgres://u@a,b/db", "query": "SELECT 1"}).to_string(), 400, Some("connection")),
    ];
    for (body, status, field) in &cases {
        assert_refused(&ex, body, *status, *field).await;
    }
    let listed = ex.get("/api/v1/executions").await.json;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        0,
        "nothing may be queued"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let ex = Executor::start().await;
    let big =
        json!({"type": "http", "url": "http://127.0.0.1:9/", "body": "x".repeat(2 * 1024 * 1024)})
            .to_string();
    let answer = ex.post("/api/v1/execute", &big).await;
    assert_eq!(answer.status, 413);
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        ex.get("/api/v1/executions").await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn default_policy_refuses_literal_private_addresses_with_422() {
    let ex = Executor::start_with(EngineOptions::default(), ServerOptions::default()).await;
    for url in [
        "http://127.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://10.0.0.1/",
        "http://0x7f000001/",
    ] {
        let answer = ex
            .post(
                "/api/v1/execute",
                &json!({"type": "http", "url": url}).to_string(),
            )
            .await;
        assert_eq!(answer.status, 422, "{url}: {}", answer.text);
        assert_eq!(answer.json["errors"][0]["field"], "url");
    }
    for connection in [
        "postgres://postgres@127.0.0.1/test",
        "postgres://postgres@[::1]/test",
        "host=10.1.2.3 user=postgres dbname=test",
    ] {
        let db = json!({"type": "database", "connection": connection, "query": "SELECT 1"});
        let answer = ex.post("/api/v1/execute", &db.to_string()).await;
        assert_eq!(answer.status, 422, "{connection}: {}", answer.text);
        assert_eq!(answer.json["errors"][0]["field"], "connection");
    }
    // `hostaddr` is the address dialed: it is the one checked, whatever `host` says.
    let open_loopback = Executor::start().await;
    let db = json!({"type": "database", "query": "SELECT 1",
        "connection": "postgres://postgres@127.0.0.1/test?hostaddr=10.0.0.5"});
    let answer = open_loopback.post("/api/v1/execute", &db.to_string()).await;
    assert_eq!(answer.status, 422, "{}", answer.text);
    assert_eq!(
        ex.get("/api/v1/executions").await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn localhost_is_refused_by_name_at_submission() {
    let options = EngineOptions {
        dial_filter: loopback_options().dial_filter,
        ..EngineOptions::default()
    };
    let ex = Executor::start_with(options, ServerOptions::default()).await;
    let answer = ex
        .post(
            "/api/v1/execute?wait=true",
            &json!({"type": "http", "url": "http://localhost.:9/", "retries": 0}).to_string(),
        )
        .await;
    // `localhost` is refused by name at submission.
    assert_eq!(answer.status, 422, "{}", answer.text);
}

#[tokio::test]
async fn api_keys_are_required_when_set() {
    let server = ServerOptions {
        api_keys: vec!["k-123".into()],
        ..ServerOptions::default()
    };
    let ex = Executor::start_with(loopback_options(), server).await;
    // The support client sends the first key.
    assert_eq!(ex.get("/api/v1/executions").await.status, 200);
    let wrong_key = |method: Method, path: &'static str| {
        ex.call(method, path, None, &[("authorization", "Bearer wrong")])
    };
    let without = wrong_key(Method::GET, "/api/v1/executions").await;
    assert_eq!(without.status, 401);
    assert_eq!(without.header("www-authenticate"), Some("Bearer"));
    // Everything under /api/v1 asks for a key, whatever the method, routes or not: a
    // caller without a key learns nothing of what exists. With the key, a path that is
    // no route is a 404 and a wrong method a 405.
    for (method, path) in [
        (Method::POST, "/api/v1/execute"),
        (Method::POST, "/api/v1/executions/x/cancel"),
        (Method::GET, "/api/v1/configs/x"),
        (Method::GET, "/api/v1/openapi.json"),
        (Method::GET, "/api/v1/nothing-here"),
        (Method::GET, "/api/v1/configs/"),
        (Method::GET, "/api/v1"),
        (Method::DELETE, "/api/v1/execute"),
        (Method::GET, "/api/v1/execute"),
    ] {
        assert_eq!(
            wrong_key(method.clone(), path).await.status,
            401,
            "{method} {path}"
        );
    }
    let unknown = ex.get("/api/v1/nothing-here").await;
    assert_eq!(unknown.status, 404);
    let wrong_method = ex.call(Method::DELETE, "/api/v1/execute", None, &[]).await;
    assert_eq!(wrong_method.status, 405);
    // Outside /api/v1 (even a path that begins with its letters), no key is asked.
    assert_eq!(wrong_key(Method::GET, "/api/v1x").await.status, 404);
    assert_eq!(wrong_key(Method::GET, "/nothing").await.status, 404);
    // Health and metrics stay open.
    assert_eq!(wrong_key(Method::GET, "/healthz").await.status, 200);
    assert_eq!(wrong_key(Method::GET, "/metrics").await.status, 200);
}

#[tokio::test]
async fn the_bearer_scheme_is_read_in_any_case() {
    let server = ServerOptions {
        api_keys: vec!["k-123".into()],
        ..ServerOptions::default()
    };
    let ex = Executor::start_with(loopback_options(), server).await;
    let with = async |authorization: &str| {
        ex.call(
            Method::GET,
            "/api/v1/executions",
            None,
            &[("authorization", authorization)],
        )
        .await
    };
    for accepted in [
        "Bearer k-123",
        "bearer k-123",
        "BEARER k-123",
        "bEaReR k-123",
        "BEARER  k-123",
    ] {
        assert_eq!(with(accepted).await.status, 200, "{accepted}");
    }
    for refused in [
        "BEARER k-1234",
        "BEARER K-123",
        "Basic k-123",
        "Bearerk-123",
        "Bearers k-123",
        "BEARER",
    ] {
        let answer = with(refused).await;
        assert_eq!(answer.status, 401, "{refused}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
    }
}

#[tokio::test]
async fn wait_parameter_is_validated() {
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": "http://127.0.0.1:9/"}).to_string();
    for bad in ["2m", "soon", "5", "0"] {
        let answer = ex.post(&format!("/api/v1/execute?wait={bad}"), &task).await;
        assert_eq!(answer.status, 400, "?wait={bad}");
        assert_eq!(answer.json["errors"][0]["field"], "wait", "?wait={bad}");
    }
    // Nothing was queued by the refused ones.
    assert_eq!(ex.get("/api/v1/executions").await.json["items"], json!([]));
}

#[tokio::test]
async fn unreadable_query_and_path_parameters_are_problems_naming_them() {
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": "http://127.0.0.1:9/"}).to_string();
    let cases: [(Method, &str, &str); 9] = [
        (
            Method::GET,
            "/api/v1/executions?status=failed&status=succeeded",
            "status",
        ),
        (Method::GET, "/api/v1/executions?limit=1&limit=2", "limit"),
        (Method::POST, "/api/v1/execute?wait=1s&wait=2s", "wait"),
        (Method::GET, "/api/v1/executions/%FF", "id"),
        (Method::POST, "/api/v1/executions/%FF/cancel", "id"),
        (Method::GET, "/api/v1/configs/%FF", "id"),
        (Method::PUT, "/api/v1/configs/%FF", "id"),
        (Method::DELETE, "/api/v1/configs/%FF", "id"),
        (Method::GET, "/api/v1/configs/a%FFb", "id"),
    ];
    for (method, path, field) in cases {
        let body = matches!(method, Method::POST | Method::PUT).then_some(task.as_str());
        let answer = ex.call(method.clone(), path, body, &[]).await;
        assert_problem(&answer, 400, Some(field), &format!("{method} {path}"));
    }
    // A parameter no route reads may repeat, as before.
    assert_eq!(ex.get("/api/v1/executions?x=1&x=2").await.status, 200);
    assert_eq!(
        ex.get("/api/v1/executions").await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "nothing may be queued"
    );
}
