//! Health, readiness, metrics, the OpenAPI document, traceparent, shutdown.

mod support;

use serde_json::json;
use support::{Executor, reply, upstream};

#[tokio::test]
async fn health_and_readiness() {
    let ex = Executor::start().await;
    assert_eq!(ex.get("/healthz").await.status, 200);
    assert_eq!(ex.get("/readyz").await.status, 200);
    ex.engine.shutdown();
    assert_eq!(ex.get("/readyz").await.status, 503);
    let refused = ex
        .post(
            "/api/v1/execute",
            &json!({"type": "http", "url": "http://127.0.0.1:9/"}).to_string(),
        )
        .await;
    assert_eq!(refused.status, 503);
    assert_eq!(ex.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn metrics_expose_the_listed_series() {
    let up = upstream(|_req| async { reply(503, "text/plain", "busy") }).await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/"), "retries": 1, "retry": {"policy": "fixed", "delay": "1ms"}});
    ex.post("/api/v1/execute?wait=true", &task.to_string())
        .await;
    // Two calls under a limit of 10/s with a burst of 1: the second waits.
    let config = json!({"name": "limited", "base_url": format!("http://{up}"), "retries": 0,
        "rate_limit": {"rate": 10, "per": "1s", "burst": 1}});
    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        201
    );
    for _ in 0..2 {
        ex.post(
            "/api/v1/execute?wait=true",
            &json!({"type": "http", "config": "limited", "url": "/"}).to_string(),
        )
        .await;
    }
    let metrics = ex.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    // The Prometheus text format by default; OpenMetrics for a scraper that asks.
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        metrics
            .text
            .contains("# TYPE flunq_executions_total counter"),
        "{}",
        metrics.text
    );
    assert!(!metrics.text.contains("# EOF"));
    let open = ex
        .call(
            flunq_http_client::Method::GET,
            "/metrics",
            None,
            &[(
                "accept",
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
            )],
        )
        .await;
    assert!(
        open.header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        open.header("content-type")
    );
    assert!(open.text.trim_end().ends_with("# EOF"), "{}", open.text);
    for series in [
        "flunq_executions_total{",
        "flunq_execution_duration_seconds_bucket{",
        "flunq_attempt_duration_seconds_bucket{",
        "flunq_upstream_requests_total{",
        "flunq_retries_total{",
        "flunq_queue_depth",
        "flunq_in_flight_executions",
        "flunq_rate_limit_waits_total{key=\"config:limited\"}",
        "flunq_rate_limit_wait_seconds",
    ] {
        assert!(
            metrics.text.contains(series),
            "{series} missing:\n{}",
            metrics.text
        );
    }
    assert!(metrics.text.contains("status=\"failed\""));
    assert!(metrics.text.contains("class=\"5xx\""));
    // Only a call that had to wait is a wait: the first execution's two attempts found
    // their origin's permits at once, as did the first call of the limited config.
    let waits: Vec<&str> = metrics
        .text
        .lines()
        .filter(|l| l.starts_with("flunq_rate_limit_waits_total{"))
        .collect();
    assert_eq!(
        waits,
        ["flunq_rate_limit_waits_total{key=\"config:limited\"} 1"],
        "{}",
        metrics.text
    );
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let ex = Executor::start().await;
    let doc = ex.get("/api/v1/openapi.json").await.json;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    // Every route of the router, with its methods; and no route the router lacks.
    let routes = [
        ("/api/v1/execute", vec!["post"]),
        ("/api/v1/executions", vec!["get"]),
        ("/api/v1/executions/{id}", vec!["get"]),
        ("/api/v1/executions/{id}/cancel", vec!["post"]),
        ("/api/v1/configs", vec!["get", "post"]),
        ("/api/v1/configs/{id}", vec!["delete", "get", "put"]),
        ("/api/v1/openapi.json", vec!["get"]),
        ("/healthz", vec!["get"]),
        ("/readyz", vec!["get"]),
        ("/metrics", vec!["get"]),
    ];
    assert_eq!(paths.len(), routes.len());
    for (path, methods) in routes {
        let entry = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing from the document"));
        let mut documented: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        documented.sort_unstable();
        assert_eq!(documented, methods, "{path}");
        // And the server answers each documented method on that path with something
        // other than 404/405 (ids filled in).
        let concrete = path.replace("{id}", "some-id");
        for method in methods {
            let m =
                flunq_http_client::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method == "post" || method == "put").then_some("{}");
            let answer = ex.call(m, &concrete, body, &[]).await;
            assert_ne!(answer.status, 405, "{method} {concrete}");
            if !concrete.contains("some-id") {
                assert_ne!(answer.status, 404, "{method} {concrete}");
            }
        }
    }
}

#[tokio::test]
async fn outbound_requests_carry_a_traceparent() {
    let up = upstream(|req: hyper::Request<hyper::body::Incoming>| async move {
        let tp = req
            .headers()
            .get("traceparent")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        reply(200, "text/plain", tp)
    })
    .await;
    let ex = Executor::start().await;
    let record = ex
        .post(
            "/api/v1/execute?wait=true",
            &json!({"type": "http", "url": format!("http://{up}/")}).to_string(),
        )
        .await
        .json;
    let tp = record["result"]["body"].as_str().unwrap();
    assert!(flunq_http_client::TraceContext::parse(tp).is_some(), "{tp}");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let ex = Executor::start().await;
    let missing = ex.get("/api/v1/nothing-here").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    let wrong = ex
        .call(
            flunq_http_client::Method::DELETE,
            "/api/v1/execute",
            None,
            &[],
        )
        .await;
    assert_eq!(wrong.status, 405);
}
