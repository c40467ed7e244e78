//! Executions end to end: submit, wait, poll, retry, timeout, cancel, idempotency, list.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flunq_executor::store::{
    BoxFuture, ExecutionStore, Inserted, MemoryExecutionStore, Page, Queue as _, StoreError,
};
use flunq_executor::{ExecutionRecord, Status};
use flunq_http_client::Method;
use serde_json::{Value, json};
use support::{Executor, Reply, json_reply, reply, upstream};

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// An upstream answering `answer(n)` to its call number `n` (from 0), and its count of
/// calls.
async fn counting_upstream(
    answer: impl Fn(usize) -> Reply + Send + Sync + 'static,
) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let calls = counter();
    let (seen, answer) = (Arc::clone(&calls), Arc::new(answer));
    let up = upstream(move |_req| {
        let reply = answer(seen.fetch_add(1, Ordering::SeqCst));
        async move { reply }
    })
    .await;
    (up, calls)
}

#[tokio::test]
async fn http_task_with_wait_returns_the_final_record() {
    let up = upstream(|req: hyper::Request<hyper::body::Incoming>| async move {
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default();
        json_reply(200, &json!({"id": 7, "path": path}))
    })
    .await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/users"), "query": {"page": "2"}});
    let answer = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let record = &answer.json;
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["type"], "http");
    assert_eq!(record["result"]["status"], 200);
    assert_eq!(
        record["result"]["body"],
        json!({"id": 7, "path": "/users?page=2"})
    );
    assert_eq!(record["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(record["attempts"][0]["status_code"], 200);
    assert!(record["error"].is_null());
    let id = record["id"].as_str().unwrap();
    assert_eq!(
        answer.header("location"),
        Some(format!("/api/v1/executions/{id}").as_str())
    );
}

#[tokio::test]
async fn response_headers_are_kept_with_repeated_values_joined_and_credentials_left_out() {
    let up = upstream(|_req| async {
        let mut response = json_reply(200, &json!({"ok": true}));
        let headers = response.headers_mut();
        headers.append("x-multi", "a".parse().unwrap());
        headers.append("vary", "accept".parse().unwrap());
        headers.append("x-multi", "b".parse().unwrap());
        headers.append("vary", "origin".parse().unwrap());
        headers.append("set-cookie", "session=s3cr3t".parse().unwrap());
        response
    })
    .await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/")});
    let answer = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let headers = &answer.json["result"]["headers"];
    assert_eq!(headers["x-multi"], "a, b", "{headers}");
    assert_eq!(headers["vary"], "accept, origin", "{headers}");
    assert_eq!(headers["content-type"], "application/json", "{headers}");
    assert!(headers.get("set-cookie").is_none(), "{headers}");
    assert!(!answer.text.contains("s3cr3t"), "{}", answer.text);
}

#[tokio::test]
async fn asynchronous_submission_is_accepted_then_finishes() {
    let up = upstream(|_req| async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        reply(200, "text/plain", "done")
    })
    .await;
    let ex = Executor::start().await;
    let answer = ex
        .post(
            "/api/v1/execute",
            &json!({"type": "http", "url": format!("http://{up}/")}).to_string(),
        )
        .await;
    assert_eq!(answer.status, 202);
    assert_eq!(answer.json["status"], "queued");
    let location = answer.header("location").unwrap().to_owned();
    let id = answer.json["id"].as_str().unwrap();
    assert!(location.ends_with(id));
    let record = ex.until_final(id).await;
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["result"]["body"], "done");
    assert!(record["started_at"].is_string() && record["finished_at"].is_string());
}

#[tokio::test]
async fn prefer_wait_header_holds_the_response() {
    let up = upstream(|_req| async { reply(200, "text/plain", "ok") }).await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/")}).to_string();
    let answer = ex
        .post_with("/api/v1/execute", &task, &[("prefer", "wait=10")])
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["status"], "succeeded");
    assert_eq!(answer.header("preference-applied"), Some("wait=10"));
}

/// An upstream that answers after `delay`.
async fn slow_upstream(delay: Duration) -> std::net::SocketAddr {
    upstream(move |_req| async move {
        tokio::time::sleep(delay).await;
        reply(200, "text/plain", "ok")
    })
    .await
}

#[tokio::test]
async fn prefer_wait_is_read_as_rfc_7240_writes_it_and_answered_with_preference_applied() {
    let up = slow_upstream(Duration::from_millis(150)).await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/")}).to_string();
    for (lines, applied) in [
        (&["WAIT=5"][..], "wait=5"),
        (&["wait=\"5\""][..], "wait=5"),
        (&["wait = 5"][..], "wait=5"),
        (&["respond-async, wait=5"][..], "wait=5"),
        (&["respond-async; x=1 ,Wait=\"5\";y=2"][..], "wait=5"),
        // Two Prefer header lines.
        (&["respond-async", "wait=5"][..], "wait=5"),
        // Held at most 60 s, and the 60 s applied is what is said.
        (&["wait=600"][..], "wait=60"),
    ] {
        let headers: Vec<(&str, &str)> = lines.iter().map(|line| ("prefer", *line)).collect();
        let answer = ex
            .call(Method::POST, "/api/v1/execute", Some(&task), &headers)
            .await;
        assert_eq!(answer.status, 200, "{lines:?}: {}", answer.text);
        assert_eq!(answer.json["status"], "succeeded", "{lines:?}");
        assert_eq!(
            answer.header("preference-applied"),
            Some(applied),
            "{lines:?}"
        );
    }
    // A preference not understood is ignored: no wait, nothing said applied.
    let ignored = ex
        .post_with("/api/v1/execute", &task, &[("prefer", "wait=soon")])
        .await;
    assert_eq!(ignored.status, 202, "{}", ignored.text);
    assert_eq!(ignored.header("preference-applied"), None);
}

#[tokio::test]
async fn the_wait_query_parameter_wins_over_prefer_wait() {
    let up = slow_upstream(Duration::from_millis(300)).await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/")}).to_string();
    let prefer = [("prefer", "wait=5")];
    let unheld = ex
        .post_with("/api/v1/execute?wait=false", &task, &prefer)
        .await;
    assert_eq!(unheld.status, 202, "{}", unheld.text);
    assert_eq!(unheld.header("preference-applied"), None);
    let held = ex
        .post_with("/api/v1/execute?wait=true", &task, &[("prefer", "wait=0")])
        .await;
    assert_eq!(held.status, 200, "{}", held.text);
    assert_eq!(held.header("preference-applied"), None);
}

#[tokio::test]
async fn short_wait_answers_202_while_still_running() {
    let up = upstream(|_req| async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        reply(200, "text/plain", "late")
    })
    .await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/")}).to_string();
    let started = Instant::now();
    let answer = ex.post("/api/v1/execute?wait=200ms", &task).await;
    assert_eq!(answer.status, 202);
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert!(["queued", "running"].contains(&answer.json["status"].as_str().unwrap()));
    // The execution, run inside the request while it waited, goes on after the answer.
    let record = ex.until_final(answer.json["id"].as_str().unwrap()).await;
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["result"]["body"], "late");
}

#[tokio::test]
async fn a_client_gone_during_its_wait_leaves_the_execution_running_to_the_end() {
    let hits = counter();
    let seen = Arc::clone(&hits);
    let up = upstream(move |_req| {
        seen.fetch_add(1, Ordering::SeqCst);
        async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            reply(200, "text/plain", "done without its client")
        }
    })
    .await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/")}).to_string();
    // The client gives up (its request dropped, the connection closed) mid-execution.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(150),
        ex.post("/api/v1/execute?wait=true", &task),
    )
    .await;
    assert!(gave_up.is_err(), "the upstream takes 400 ms");
    let listed = ex.get("/api/v1/executions").await.json;
    let id = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let record = ex.until_final(&id).await;
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["result"]["body"], "done without its client");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "one call, not restarted");
}

#[tokio::test]
async fn retries_503_until_success_with_each_attempt_recorded() {
    let (up, hits) = counting_upstream(|n| match n {
        0 | 1 => reply(503, "text/plain", "busy"),
        _ => reply(200, "text/plain", "ok"),
    })
    .await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/"), "retries": 5,
        "retry": {"policy": "fixed", "delay": "10ms"}});
    let answer = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await;
    let record = &answer.json;
    assert_eq!(record["status"], "succeeded", "{record}");
    let attempts = record["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    assert_eq!(attempts[0]["status_code"], 503);
    assert_eq!(attempts[0]["error"]["kind"], "http_status");
    assert_eq!(attempts[2]["status_code"], 200);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn exhausted_retries_fail_with_the_last_response_kept() {
    let up = upstream(|_req| async { json_reply(500, &json!({"error": "boom"})) }).await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/"), "retries": 2,
        "retry": {"policy": "exponential", "delay": "5ms", "jitter": "none"}});
    let record = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await
        .json;
    assert_eq!(record["status"], "failed");
    assert_eq!(record["error"]["kind"], "http_status");
    assert_eq!(record["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(record["result"]["status"], 500);
    assert_eq!(record["result"]["body"], json!({"error": "boom"}));
}

#[tokio::test]
async fn status_outside_on_status_is_not_retried() {
    let (up, hits) = counting_upstream(|_| reply(404, "text/plain", "nope")).await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/"), "retries": 3});
    let record = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await
        .json;
    assert_eq!(record["status"], "failed");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn retry_after_seconds_is_honoured() {
    let (up, hits) = counting_upstream(|n| {
        if n == 0 {
            let mut slow = reply(429, "text/plain", "slow down");
            slow.headers_mut()
                .insert("retry-after", "1".parse().unwrap());
            slow
        } else {
            reply(200, "text/plain", "ok")
        }
    })
    .await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/"), "retry": {"policy": "fixed", "delay": "1ms"}});
    let started = Instant::now();
    let record = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await
        .json;
    assert_eq!(record["status"], "succeeded");
    assert_eq!(hits.load(Ordering::SeqCst), 2, "one 429, then the success");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn post_is_not_retried_after_a_response_unless_allowed() {
    let (up, hits) = counting_upstream(|_| reply(503, "text/plain", "busy")).await;
    let ex = Executor::start().await;
    let base = json!({"type": "http", "method": "POST", "url": format!("http://{up}/"), "body": {"a": 1},
        "retries": 2, "retry": {"policy": "fixed", "delay": "1ms"}});
    let record = ex
        .post("/api/v1/execute?wait=true", &base.to_string())
        .await
        .json;
    assert_eq!(record["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let mut allowed = base.clone();
    allowed["retry"]["retry_unsafe"] = json!(true);
    let record = ex
        .post("/api/v1/execute?wait=true", &allowed.to_string())
        .await
        .json;
    assert_eq!(record["attempts"].as_array().unwrap().len(), 3);

    let with_key = ex
        .call(
            Method::POST,
            "/api/v1/execute?wait=true",
            Some(&base.to_string()),
            &[("idempotency-key", "post-1")],
        )
        .await
        .json;
    assert_eq!(with_key["attempts"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_graphql_mutation_is_not_retried_after_a_response_unless_allowed() {
    let (up, hits) = counting_upstream(|_| reply(503, "text/plain", "busy")).await;
    let ex = Executor::start().await;
    let attempts = |document: &str, operation: Option<&str>, retry_unsafe: bool| {
        let mut task = json!({"type": "graphql", "endpoint": format!("http://{up}/graphql"),
            "query": document, "retries": 1,
            "retry": {"policy": "fixed", "delay": "1ms", "retry_unsafe": retry_unsafe}});
        if let Some(name) = operation {
            task["operation_name"] = json!(name);
        }
        let ex = &ex;
        async move {
            let record = ex.run(&task).await;
            assert_eq!(record["status"], "failed", "{record}");
            record["attempts"].as_array().unwrap().len()
        }
    };
    let mutation = "mutation Add { add(name: \"x\") { id } }";
    assert_eq!(attempts(mutation, None, false).await, 1);
    assert_eq!(attempts(mutation, None, true).await, 2);
    assert_eq!(attempts("query Get { user { id } }", None, false).await, 2);
    // The operation run decides, in a document with both.
    let both = "query Get { user { id } } mutation Add { add { id } }";
    assert_eq!(attempts(both, Some("Get"), false).await, 2);
    assert_eq!(attempts(both, Some("Add"), false).await, 1);
    // Eight calls: under the ten after which the origin's default breaker may open.
    assert_eq!(hits.load(Ordering::SeqCst), 1 + 2 + 2 + 2 + 1);
}

#[tokio::test]
async fn post_is_retried_after_connection_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let ex = Executor::start().await;
    let task = json!({"type": "http", "method": "POST", "url": format!("http://{addr}/"), "body": {},
        "retries": 2, "retry": {"policy": "fixed", "delay": "1ms"}});
    let record = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await
        .json;
    assert_eq!(record["status"], "failed");
    assert_eq!(record["error"]["kind"], "connect");
    assert_eq!(record["attempts"].as_array().unwrap().len(), 3);
}

/// An in-memory engine on `options`, its workers running, without the HTTP layer.
fn running_engine(options: flunq_executor::EngineOptions) -> flunq_executor::Engine {
    let engine = flunq_executor::Engine::in_memory(options).unwrap();
    let workers = engine.clone();
    tokio::spawn(async move { workers.run(Duration::from_secs(5)).await });
    engine
}

/// Submits `task` to `engine` and waits (up to a minute) for its record.
async fn finished(
    engine: &flunq_executor::Engine,
    task: &serde_json::Value,
) -> Arc<ExecutionRecord> {
    engine
        .submit_and_wait(task.to_string().as_bytes(), None, Duration::from_secs(60))
        .await
        .unwrap()
        .record
}

/// An upstream that never answers.
async fn hanging_upstream() -> std::net::SocketAddr {
    upstream(|_req| async {
        std::future::pending::<()>().await;
        reply(200, "text/plain", "never")
    })
    .await
}

/// A task's `timeout` above the HTTP client's own default (30 s) holds: the attempt
/// ends at 45 s, not 30. Paused time: the clock jumps to each timer.
#[tokio::test(start_paused = true)]
async fn an_attempt_timeout_above_30s_is_the_tasks() {
    let up = hanging_upstream().await;
    let engine = running_engine(support::loopback_options());
    let task = json!({"type": "http", "url": format!("http://{up}/"), "timeout": "45s",
        "retries": 0});
    let done = finished(&engine, &task).await;
    assert_eq!(done.status, Status::Failed);
    let error = done.error.as_ref().unwrap();
    assert_eq!(error.kind.as_str(), "timeout", "{error:?}");
    let took = done.attempts[0].duration_ms;
    assert!(
        (45_000..46_000).contains(&took),
        "the attempt took {took} ms"
    );
}

/// `retry.max_elapsed` bounds the whole execution, a running attempt included: an
/// attempt whose `timeout` reaches past it is cut when it ends, and no further attempt
/// starts. Paused time.
#[tokio::test(start_paused = true)]
async fn max_elapsed_cuts_a_running_attempt() {
    let up = hanging_upstream().await;
    let engine = running_engine(support::loopback_options());
    let task = json!({"type": "http", "url": format!("http://{up}/"), "timeout": "1500ms",
        "retries": 5, "retry": {"policy": "fixed", "delay": "100ms", "max_elapsed": "2s"}});
    let started = tokio::time::Instant::now();
    let done = finished(&engine, &task).await;
    let took = started.elapsed();
    assert_eq!(done.status, Status::Failed);
    assert_eq!(done.error.as_ref().unwrap().kind.as_str(), "timeout");
    // 1.5 s, 0.1 s of delay, then the 0.4 s left: two attempts, 2 s in all.
    let attempts: Vec<u64> = done.attempts.iter().map(|a| a.duration_ms).collect();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert!((1_500..1_510).contains(&attempts[0]), "{attempts:?}");
    assert!((395..410).contains(&attempts[1]), "{attempts:?}");
    assert!(took <= Duration::from_millis(2_050), "{took:?}");
}

#[tokio::test]
async fn max_response_bytes_bounds_and_decodes_large_bodies() {
    const MIB: usize = 1024 * 1024;
    let up = upstream(|req: hyper::Request<hyper::body::Incoming>| async move {
        let size: usize = req.uri().query().unwrap().parse().unwrap();
        reply(200, "text/plain", "a".repeat(size))
    })
    .await;
    // Above the decoder's own default of 10 MiB.
    let options = flunq_executor::EngineOptions {
        max_response_bytes: 12 * MIB,
        ..support::loopback_options()
    };
    let engine = running_engine(options);
    let task =
        |size: usize| json!({"type": "http", "url": format!("http://{up}/?{size}"), "retries": 0});
    let fits = finished(&engine, &task(11 * MIB)).await;
    assert_eq!(fits.status, Status::Succeeded);
    let body = &fits.result.as_ref().unwrap()["body"];
    assert_eq!(body.as_str().map(str::len), Some(11 * MIB), "decoded whole");
    let over = finished(&engine, &task(13 * MIB)).await;
    assert_eq!(over.status, Status::Failed);
    let error = over.error.as_ref().unwrap();
    assert_eq!(error.kind.as_str(), "response_too_large", "{error:?}");
    assert_eq!(over.attempts.len(), 1, "not retried");
}

/// Executions waiting for one rate limit are served in the order they came. In real
/// time (0.6 s): under paused time every waiter of the old, unordered limiter woke at
/// the same instant in the order it slept, which hid the disorder.
#[tokio::test]
async fn rate_limited_executions_are_served_first_come_first_served() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let up = {
        let seen = Arc::clone(&seen);
        upstream(move |req: hyper::Request<hyper::body::Incoming>| {
            seen.lock().unwrap().push(req.uri().path().to_owned());
            async { reply(200, "text/plain", "ok") }
        })
        .await
    };
    let engine = running_engine(support::loopback_options());
    let config = json!({"name": "slow-api", "base_url": format!("http://{up}"),
        "rate_limit": {"rate": 50, "per": "1s", "burst": 1}});
    engine
        .create_config(config.to_string().as_bytes())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..30 {
        let task = json!({"type": "http", "config": "slow-api", "url": format!("/{i}")});
        let submitted = engine
            .submit(task.to_string().as_bytes(), None)
            .await
            .unwrap();
        ids.push(submitted.record.id.clone());
    }
    for id in &ids {
        let done = engine
            .wait(id, Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.status, Status::Succeeded);
    }
    let order: Vec<String> = (0..30).map(|i| format!("/{i}")).collect();
    assert_eq!(*seen.lock().unwrap(), order);
}

#[tokio::test]
async fn attempt_timeout_fails_with_kind_timeout() {
    let up = upstream(|_req| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        reply(200, "text/plain", "late")
    })
    .await;
    let ex = Executor::start().await;
    let task =
        json!({"type": "http", "url": format!("http://{up}/"), "timeout": "200ms", "retries": 0});
    let started = Instant::now();
    let record = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await
        .json;
    assert_eq!(record["status"], "failed");
    assert_eq!(record["error"]["kind"], "timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn cancel_drops_the_request_in_flight() {
    let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
    let dropped_tx = Arc::new(std::sync::Mutex::new(Some(dropped_tx)));
    let up = upstream(move |_req| {
        let tx = Arc::clone(&dropped_tx);
        async move {
            // Signals when this handler's future is dropped: the connection went away.
            struct OnDrop(Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>>);
            impl Drop for OnDrop {
                fn drop(&mut self) {
                    if let Some(tx) = self.0.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                }
            }
            let _guard = OnDrop(tx);
            tokio::time::sleep(Duration::from_secs(30)).await;
            reply(200, "text/plain", "too late")
        }
    })
    .await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/"), "retries": 3});
    let id = ex.post("/api/v1/execute", &task.to_string()).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ex.until_status(&id, "running").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let cancelled = ex
        .post(&format!("/api/v1/executions/{id}/cancel"), "")
        .await;
    assert_eq!(cancelled.status, 200);
    assert_eq!(cancelled.json["status"], "cancelled");
    tokio::time::timeout(Duration::from_secs(1), dropped_rx)
        .await
        .expect("connection dropped within a second")
        .ok();
    assert!(started.elapsed() < Duration::from_secs(1));
    let record = ex.until_final(&id).await;
    assert_eq!(record["status"], "cancelled");
    assert_eq!(record["error"]["kind"], "cancelled");
    // The attempt the cancel cut off is in the record, added by the runner just after.
    let mut attempts = record["attempts"].clone();
    for _ in 0..100 {
        if attempts.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        attempts = ex.get(&format!("/api/v1/executions/{id}")).await.json["attempts"].clone();
    }
    assert_eq!(attempts.as_array().unwrap().len(), 1, "{attempts}");
    assert_eq!(attempts[0]["number"], 1);
    assert_eq!(attempts[0]["error"]["kind"], "cancelled");
    assert!(attempts[0]["status_code"].is_null());
    // The cut attempt was a request to the upstream: it is in the metrics, as an error,
    // and its time in the attempt histogram.
    let metrics = ex.get("/metrics").await.text;
    let sent = format!("flunq_upstream_requests_total{{origin=\"http://{up}\",class=\"error\"}} 1");
    assert!(metrics.lines().any(|l| l == sent), "{metrics}");
    assert!(
        metrics
            .lines()
            .any(|l| l == "flunq_attempt_duration_seconds_count{type=\"http\"} 1"),
        "{metrics}"
    );

    let again = ex
        .post(&format!("/api/v1/executions/{id}/cancel"), "")
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(
        again.header("content-type"),
        Some("application/problem+json")
    );
    assert!(again.json["detail"].as_str().unwrap().contains(&id));
    let unknown = ex.post("/api/v1/executions/nope/cancel", "").await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn idempotency_key_returns_the_first_execution() {
    let (up, hits) = counting_upstream(|_| reply(200, "text/plain", "once")).await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/")}).to_string();
    let first = ex
        .post_with(
            "/api/v1/execute?wait=true",
            &task,
            &[("idempotency-key", "k-1")],
        )
        .await;
    let second = ex
        .post_with("/api/v1/execute", &task, &[("idempotency-key", "k-1")])
        .await;
    assert_eq!(first.json["id"], second.json["id"]);
    assert_eq!(second.status, 200);
    let by_field =
        json!({"type": "http", "url": format!("http://{up}/"), "idempotency_key": "k-1"});
    let third = ex.post("/api/v1/execute", &by_field.to_string()).await;
    assert_eq!(third.json["id"], first.json["id"]);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn list_filters_by_status_newest_first_with_a_cursor() {
    let up = upstream(|req: hyper::Request<hyper::body::Incoming>| async move {
        if req.uri().path() == "/bad" {
            reply(400, "text/plain", "bad")
        } else {
            reply(200, "text/plain", "ok")
        }
    })
    .await;
    let ex = Executor::start().await;
    let mut ids = Vec::new();
    for path in ["/ok", "/bad", "/ok", "/bad", "/bad"] {
        let task = json!({"type": "http", "url": format!("http://{up}{path}")});
        ids.push(
            ex.post("/api/v1/execute?wait=true", &task.to_string())
                .await
                .json["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let failed = ex
        .get("/api/v1/executions?status=failed&limit=2")
        .await
        .json;
    let items = failed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], ids[4].as_str());
    assert_eq!(items[1]["id"], ids[3].as_str());
    let next = failed["next"].as_str().unwrap();
    let rest = ex
        .get(&format!(
            "/api/v1/executions?status=failed&limit=2&cursor={next}"
        ))
        .await
        .json;
    let rest_items = rest["items"].as_array().unwrap();
    assert_eq!(rest_items.len(), 1);
    assert_eq!(rest_items[0]["id"], ids[1].as_str());
    assert!(rest["next"].is_null());
    let all = ex.get("/api/v1/executions").await.json;
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    let bad = ex.get("/api/v1/executions?status=weird").await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn unknown_execution_is_404_problem() {
    let ex = Executor::start().await;
    let answer = ex
        .get("/api/v1/executions/0192f000-0000-7000-8000-000000000000")
        .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json["status"], 404);
    assert!(answer.json["title"].is_string() && answer.json["type"].is_string());
}

#[tokio::test]
async fn graphql_result_keeps_data_and_errors() {
    let up = upstream(|req: hyper::Request<hyper::body::Incoming>| async move {
        use http_body_util::BodyExt;
        let body: Value = serde_json::from_slice(&req.into_body().collect().await.unwrap().to_bytes()).unwrap();
        if body["operationName"] == "Broken" {
            json_reply(200, &json!({"data": null, "errors": [{"message": "no such field"}]}))
        } else {
            json_reply(200, &json!({"data": {"createUser": {"id": "1", "name": body["variables"]["input"]["name"]}},
                "errors": [{"message": "partial"}]}))
        }
    })
    .await;
    let ex = Executor::start().await;
    let task = json!({"type": "graphql", "endpoint": format!("http://{up}/graphql"),
        "query": "mutation CreateUser($input: UserInput!) { createUser(input: $input) { id name } }",
        "variables": {"input": {"name": "John Doe"}}, "operation_name": "CreateUser"});
    let record = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await
        .json;
    assert_eq!(record["status"], "succeeded", "{record}");
    assert_eq!(record["result"]["data"]["createUser"]["name"], "John Doe");
    assert_eq!(record["result"]["errors"][0]["message"], "partial");

    let broken = json!({"type": "graphql", "endpoint": format!("http://{up}/graphql"),
        "query": "query Broken { nope }", "operation_name": "Broken"});
    let record = ex
        .post("/api/v1/execute?wait=true", &broken.to_string())
        .await
        .json;
    assert_eq!(record["status"], "failed");
    assert_eq!(record["error"]["kind"], "graphql");
    assert_eq!(record["result"]["errors"][0]["message"], "no such field");
}

#[tokio::test]
async fn xml_and_form_bodies_are_encoded_and_decoded() {
    let up = upstream(|req: hyper::Request<hyper::body::Incoming>| async move {
        use http_body_util::BodyExt;
        let ct = req
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let echoed = format!(
            "<echo><type>{ct}</type><body>{}</body></echo>",
            String::from_utf8_lossy(&body)
                .replace('&', "&amp;")
                .replace('<', "&lt;")
        );
        reply(200, "application/xml", echoed)
    })
    .await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "method": "POST", "url": format!("http://{up}/"),
        "headers": {"Content-Type": "application/x-www-form-urlencoded"}, "body": {"name": "Ada", "tag": ["a", "b"]}});
    let record = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await
        .json;
    assert_eq!(
        record["result"]["body"]["echo"]["body"], "name=Ada&tag=a&tag=b",
        "{record}"
    );
    assert_eq!(
        record["result"]["body"]["echo"]["type"],
        "application/x-www-form-urlencoded"
    );
}

#[tokio::test]
async fn response_format_overrides_the_content_type() {
    // Each path answers a body under a content type.
    let up = upstream(|req: hyper::Request<hyper::body::Incoming>| async move {
        match req.uri().path() {
            "/json-as-text" => reply(200, "text/plain", r#"{"id": 7}"#),
            "/xml" => reply(200, "application/xml", "<user><id>7</id></user>"),
            "/html" => reply(502, "text/html", "<h1>Bad gateway</h1>"),
            "/bytes" => reply(200, "application/json", vec![0xff_u8, 0x00, 0x9c]),
            _ => json_reply(200, &json!({"id": 7})),
        }
    })
    .await;
    let ex = Executor::start().await;
    let body_of = |path: &str, format: Option<&str>| {
        let mut task = json!({"type": "http", "url": format!("http://{up}{path}"), "retries": 0});
        if let Some(format) = format {
            task["response_format"] = json!(format);
        }
        let ex = &ex;
        async move { ex.run(&task).await["result"]["body"].clone() }
    };
    assert_eq!(body_of("/json", None).await, json!({"id": 7}));
    assert_eq!(body_of("/json-as-text", None).await, json!(r#"{"id": 7}"#));
    assert_eq!(
        body_of("/json-as-text", Some("json")).await,
        json!({"id": 7})
    );
    assert_eq!(body_of("/json", Some("text")).await, json!(r#"{"id":7}"#));
    assert_eq!(body_of("/xml", None).await, json!({"user": {"id": "7"}}));
    assert_eq!(
        body_of("/json", Some("base64")).await,
        json!({"base64": "eyJpZCI6N30="})
    );
    // A body that is not what `response_format` says is kept, with the reason.
    let html = body_of("/html", Some("json")).await;
    assert_eq!(html["text"], "<h1>Bad gateway</h1>", "{html}");
    assert!(
        html["decode_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{html}"
    );
    let bytes = body_of("/bytes", Some("json")).await;
    assert_eq!(bytes["base64"], "/wCc", "{bytes}");
    assert!(bytes["decode_error"].is_string(), "{bytes}");
    // Under `auto`, a body its content type does not describe comes back as base64.
    assert_eq!(body_of("/bytes", None).await, json!({"base64": "/wCc"}));
}

/// Attempt start times of one execution, from its record.
fn gaps(record: &Value) -> Vec<Duration> {
    let starts: Vec<std::time::SystemTime> = record["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| humantime::parse_rfc3339_weak(a["started_at"].as_str().unwrap()).unwrap())
        .collect();
    starts
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn linear_and_custom_policies_space_the_attempts() {
    let up = upstream(|_req| async { reply(503, "text/plain", "busy") }).await;
    let ex = Executor::start().await;
    let url = format!("http://{up}/");
    let linear = json!({"type": "http", "url": url, "retries": 3,
        "retry": {"policy": "linear", "delay": "50ms", "increment": "100ms"}});
    let record = ex
        .post("/api/v1/execute?wait=true", &linear.to_string())
        .await
        .json;
    let g = gaps(&record);
    assert_eq!(g.len(), 3, "{record}");
    // 50 ms, 150 ms, 250 ms (each plus the attempt itself, a millisecond or two).
    for (gap, want) in g.iter().zip([50u64, 150, 250]) {
        assert!(
            *gap >= Duration::from_millis(want) && *gap < Duration::from_millis(want + 100),
            "{g:?}"
        );
    }
    let custom = json!({"type": "http", "url": url, "retries": 3,
        "retry": {"policy": "custom", "delays": ["10ms", "200ms"]}});
    let record = ex
        .post("/api/v1/execute?wait=true", &custom.to_string())
        .await
        .json;
    let g = gaps(&record);
    for (gap, want) in g.iter().zip([10u64, 200, 200]) {
        assert!(
            *gap >= Duration::from_millis(want) && *gap < Duration::from_millis(want + 100),
            "{g:?}"
        );
    }
    let none = json!({"type": "http", "url": url, "retries": 3, "retry": {"policy": "none"}});
    let record = ex
        .post("/api/v1/execute?wait=true", &none.to_string())
        .await
        .json;
    assert_eq!(record["attempts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn max_elapsed_bounds_the_whole_execution() {
    let up = upstream(|_req| async { reply(503, "text/plain", "busy") }).await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/"), "retries": 50,
        "retry": {"policy": "fixed", "delay": "100ms", "max_elapsed": "350ms"}});
    let started = Instant::now();
    let record = ex
        .post("/api/v1/execute?wait=true", &task.to_string())
        .await
        .json;
    assert_eq!(record["status"], "failed");
    let attempts = record["attempts"].as_array().unwrap().len();
    assert!((3..=4).contains(&attempts), "{attempts} attempts");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn shutdown_lets_running_executions_finish() {
    let up = upstream(|_req| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        reply(200, "text/plain", "finished")
    })
    .await;
    let ex = Executor::start().await;
    let task = json!({"type": "http", "url": format!("http://{up}/")});
    let id = ex.post("/api/v1/execute", &task.to_string()).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ex.until_status(&id, "running").await;
    ex.engine.shutdown();
    // New work is refused, the running execution still completes.
    assert_eq!(
        ex.post("/api/v1/execute", &task.to_string()).await.status,
        503
    );
    let record = ex.until_final(&id).await;
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["result"]["body"], "finished");
}

#[tokio::test]
async fn an_execution_waiting_to_retry_does_not_hold_a_worker() {
    let flaky_calls = counter();
    let seen = Arc::clone(&flaky_calls);
    let up = upstream(move |req: hyper::Request<hyper::body::Incoming>| {
        let seen = Arc::clone(&seen);
        async move {
            if req.uri().path() == "/flaky" && seen.fetch_add(1, Ordering::SeqCst) == 0 {
                return json_reply(503, &json!({"busy": true}));
            }
            json_reply(200, &json!({"ok": true}))
        }
    })
    .await;
    // One worker only.
    let mut options = support::loopback_options();
    options.concurrency = 1;
    let ex = Executor::start_with(options, Default::default()).await;
    let waiting = ex
        .post(
            "/api/v1/execute",
            &json!({"type": "http", "url": format!("http://{up}/flaky"), "retries": 1,
                    "retry": {"policy": "fixed", "delay": "2s"}})
            .to_string(),
        )
        .await;
    let waiting_id = waiting.json["id"].as_str().unwrap().to_owned();
    // Its first attempt failed; it now waits 2 s for the retry.
    for _ in 0..200 {
        if flaky_calls.load(Ordering::SeqCst) == 1
            && ex
                .get(&format!("/api/v1/executions/{waiting_id}"))
                .await
                .json["attempts"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Another execution runs on the only worker meanwhile.
    let started = Instant::now();
    let other = ex
        .post(
            "/api/v1/execute?wait=5s",
            &json!({"type": "http", "url": format!("http://{up}/quick")}).to_string(),
        )
        .await;
    assert_eq!(other.status, 200, "{}", other.text);
    assert_eq!(other.json["status"], "succeeded");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "it waited for the retrying execution's slot: {:?}",
        started.elapsed()
    );
    let still = ex.get(&format!("/api/v1/executions/{waiting_id}")).await;
    assert_eq!(still.json["status"], "running", "still waiting to retry");
    let done = ex.until_final(&waiting_id).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["attempts"].as_array().unwrap().len(), 2);
}

/// An execution store whose next insert, or next write of a record with a given
/// status, waits at a gate (to race a submission against the shutdown, or a cancel
/// against the last attempt's result); the rest goes straight to the memory store.
#[derive(Debug)]
struct GatedStore {
    inner: MemoryExecutionStore,
    hold_next: std::sync::atomic::AtomicBool,
    hold_update: std::sync::Mutex<Option<Status>>,
    entered: tokio::sync::Notify,
    gate: tokio::sync::Notify,
}

impl GatedStore {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryExecutionStore::new(Duration::from_secs(60)),
            hold_next: std::sync::atomic::AtomicBool::new(false),
            hold_update: std::sync::Mutex::new(None),
            entered: tokio::sync::Notify::new(),
            gate: tokio::sync::Notify::new(),
        })
    }

    /// Holds the next `update` of a record with `status`.
    fn hold_update(&self, status: Status) {
        *self.hold_update.lock().unwrap() = Some(status);
    }
}

type Stored<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

impl ExecutionStore for GatedStore {
    fn insert(&self, record: Arc<ExecutionRecord>) -> Stored<'_, Inserted> {
        Box::pin(async move {
            if self.hold_next.swap(false, Ordering::SeqCst) {
                self.entered.notify_one();
                self.gate.notified().await;
            }
            self.inner.insert(record).await
        })
    }
    fn get(&self, id: &str) -> Stored<'_, Option<ExecutionRecord>> {
        self.inner.get(id)
    }
    fn start(&self, id: &str) -> Stored<'_, Option<ExecutionRecord>> {
        self.inner.start(id)
    }
    fn update(&self, record: Arc<ExecutionRecord>) -> Stored<'_, bool> {
        Box::pin(async move {
            let held = {
                let mut hold = self.hold_update.lock().unwrap();
                hold.take_if(|status| *status == record.status).is_some()
            };
            if held {
                self.entered.notify_one();
                self.gate.notified().await;
            }
            self.inner.update(record).await
        })
    }
    fn amend_cancelled(&self, record: Arc<ExecutionRecord>) -> Stored<'_, bool> {
        self.inner.amend_cancelled(record)
    }
    fn list(
        &self,
        status: Option<Status>,
        limit: usize,
        cursor: Option<String>,
    ) -> Stored<'_, Page> {
        self.inner.list(status, limit, cursor)
    }
}

#[tokio::test]
async fn a_submission_racing_the_shutdown_is_queued_not_started_behind_its_back() {
    let (up, calls) = counting_upstream(|_| reply(200, "text/plain", "ok")).await;
    let store = GatedStore::new();
    let queue = Arc::new(flunq_executor::store::MemoryQueue::new());
    let engine = flunq_executor::Engine::with_stores(
        support::loopback_options(),
        Arc::clone(&store) as Arc<dyn ExecutionStore>,
        Arc::new(flunq_executor::store::MemoryConfigStore::new()),
        Arc::clone(&queue) as Arc<dyn flunq_executor::store::Queue>,
    )
    .unwrap();
    let workers = engine.clone();
    let run = tokio::spawn(async move { workers.run(Duration::from_secs(5)).await });
    let task = json!({"type": "http", "url": format!("http://{up}/")}).to_string();
    // The engine takes work: a first execution runs to the end.
    let first = engine.submit(task.as_bytes(), None).await.unwrap();
    let done = engine
        .wait(&first.record.id, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, Status::Succeeded);

    // The next submission is held inside its insert while the shutdown begins.
    store.hold_next.store(true, Ordering::SeqCst);
    let submitting = engine.clone();
    let task_again = task.clone();
    let second = tokio::spawn(async move { submitting.submit(task_again.as_bytes(), None).await });
    store.entered.notified().await;
    engine.shutdown();
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(
        !run.is_finished(),
        "the shutdown waits for a submission that may still start an execution"
    );
    store.gate.notify_one();
    let second = second.await.unwrap().unwrap();
    run.await.unwrap();
    // The shutdown had begun: the job went to the queue; nothing started it.
    assert_eq!(second.record.status, Status::Queued);
    assert_eq!(
        queue.len(),
        1,
        "queued, not started behind the shutdown's back"
    );
    let stored = engine.get(&second.record.id).await.unwrap().unwrap();
    assert_eq!(stored.status, Status::Queued);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_execution_running_inside_its_waiting_request_can_be_cancelled() {
    let up = hang_unless_quick().await;
    let ex = Arc::new(Executor::start().await);
    // A first execution finished proves the engine takes work: the next one starts at
    // once, inside its request.
    let quick = json!({"type": "http", "url": format!("http://{up}/quick")}).to_string();
    assert_eq!(
        ex.post("/api/v1/execute?wait=true", &quick).await.json["status"],
        "succeeded"
    );
    let task = json!({"type": "http", "url": format!("http://{up}/")}).to_string();
    let waiting = {
        let ex = Arc::clone(&ex);
        tokio::spawn(async move { ex.post("/api/v1/execute?wait=true", &task).await })
    };
    let id = loop {
        let listed = ex.get("/api/v1/executions?status=running").await.json;
        if let Some(id) = listed["items"][0]["id"].as_str() {
            break id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let started = Instant::now();
    let cancelled = ex
        .post(&format!("/api/v1/executions/{id}/cancel"), "")
        .await;
    assert_eq!(cancelled.status, 200);
    // The waiting request answers at once, with the cancelled record.
    let answer = tokio::time::timeout(Duration::from_secs(1), waiting)
        .await
        .expect("the waiting request answers within a second")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["status"], "cancelled");
}

#[tokio::test]
async fn the_shutdown_stops_an_execution_running_inside_its_request_after_the_grace() {
    let (engine, run, up) = engine_taking_work(16, Duration::from_millis(300)).await;
    let task = json!({"type": "http", "url": format!("http://{up}/")}).to_string();
    let waiting = {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .submit_and_wait(task.as_bytes(), None, Duration::from_secs(60))
                .await
        })
    };
    let id = loop {
        let page = engine.list(Some(Status::Running), 1, None).await.unwrap();
        if let Some(record) = page.items.first() {
            break record.id.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let started = Instant::now();
    engine.shutdown();
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("run() returns after its grace")
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    let answer = waiting.await.unwrap().unwrap();
    assert_eq!(answer.record.id, id);
    assert_eq!(answer.record.status, Status::Cancelled);
}

/// An upstream that answers `/quick` at once and hangs on anything else.
async fn hang_unless_quick() -> std::net::SocketAddr {
    upstream(|req: hyper::Request<hyper::body::Incoming>| async move {
        if req.uri().path() != "/quick" {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        reply(200, "text/plain", "ok")
    })
    .await
}

#[tokio::test]
async fn a_wait_on_an_execution_still_queued_at_shutdown_ends_with_the_shutdown() {
    // One worker, held by a hanging call: the next execution stays queued.
    let (engine, run, up) = engine_taking_work(1, Duration::from_millis(200)).await;
    let quick = json!({"type": "http", "url": format!("http://{up}/quick")}).to_string();
    let hang = json!({"type": "http", "url": format!("http://{up}/")}).to_string();
    let held = engine.submit(hang.as_bytes(), None).await.unwrap();
    until_listed(&engine, Status::Running).await;
    let waiting = {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .submit_and_wait(quick.as_bytes(), None, Duration::from_secs(60))
                .await
        })
    };
    until_listed(&engine, Status::Queued).await;
    engine.shutdown();
    // Nothing will run the queued execution here: its waiter is answered with the
    // shutdown, not after its 60 s.
    let answer = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the wait ends with the shutdown")
        .unwrap()
        .unwrap();
    assert_eq!(answer.record.status, Status::Queued);
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("run() returns after its grace")
        .unwrap();
    let stopped = engine.get(&held.record.id).await.unwrap().unwrap();
    assert_eq!(stopped.status, Status::Cancelled);
}

/// Waits until an execution of `status` is listed.
async fn until_listed(engine: &flunq_executor::Engine, status: Status) {
    while engine
        .list(Some(status), 1, None)
        .await
        .unwrap()
        .items
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_shutdown_before_the_workers_start_is_not_lost() {
    let up = hang_unless_quick().await;
    let engine = flunq_executor::Engine::in_memory(support::loopback_options()).unwrap();
    let task = json!({"type": "http", "url": format!("http://{up}/quick")}).to_string();
    let queued = engine.submit(task.as_bytes(), None).await.unwrap();
    // Nobody listens for the shutdown yet: it must still be kept.
    engine.shutdown();
    assert!(matches!(
        engine.submit(task.as_bytes(), None).await,
        Err(flunq_executor::SubmitError::ShuttingDown)
    ));
    tokio::time::timeout(
        Duration::from_secs(5),
        engine.run(Duration::from_millis(100)),
    )
    .await
    .expect("run() returns at once: the engine was shut down before it started");
    let record = engine.get(&queued.record.id).await.unwrap().unwrap();
    assert_eq!(
        record.status,
        Status::Queued,
        "nothing was started after the shutdown"
    );
}

/// An engine with `concurrency` workers whose runner (shutdown grace `grace`) is known to
/// take work (a first execution finished), and an upstream from [`hang_unless_quick`].
async fn engine_taking_work(
    concurrency: usize,
    grace: Duration,
) -> (
    flunq_executor::Engine,
    tokio::task::JoinHandle<()>,
    std::net::SocketAddr,
) {
    let up = hang_unless_quick().await;
    let mut options = support::loopback_options();
    options.concurrency = concurrency;
    let engine = flunq_executor::Engine::in_memory(options).unwrap();
    let workers = engine.clone();
    let run = tokio::spawn(async move { workers.run(grace).await });
    let quick = json!({"type": "http", "url": format!("http://{up}/quick")}).to_string();
    let first = engine
        .submit_and_wait(quick.as_bytes(), None, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        first.record.status,
        Status::Succeeded,
        "the engine takes work"
    );
    (engine, run, up)
}

/// An engine on `store` with its workers running.
fn engine_on(store: &Arc<GatedStore>) -> flunq_executor::Engine {
    let engine = flunq_executor::Engine::with_stores(
        support::loopback_options(),
        Arc::clone(store) as Arc<dyn ExecutionStore>,
        Arc::new(flunq_executor::store::MemoryConfigStore::new()),
        Arc::new(flunq_executor::store::MemoryQueue::new()),
    )
    .unwrap();
    let workers = engine.clone();
    tokio::spawn(async move { workers.run(Duration::from_secs(5)).await });
    engine
}

#[tokio::test]
async fn a_cancel_that_beats_the_last_attempts_result_wins_and_keeps_that_attempt() {
    let (up, calls) = counting_upstream(|_| reply(200, "text/plain", "ok")).await;
    let store = GatedStore::new();
    let engine = engine_on(&store);
    // The attempt has its answer, but the succeeded record is held before its write.
    store.hold_update(Status::Succeeded);
    let task = json!({"type": "http", "url": format!("http://{up}/"), "retries": 0});
    let submitted = engine
        .submit(task.to_string().as_bytes(), None)
        .await
        .unwrap();
    let id = submitted.record.id.clone();
    store.entered.notified().await;

    let cancelled = engine.cancel(&id).await.unwrap();
    assert_eq!(cancelled.status, Status::Cancelled);
    store.gate.notify_one();

    // The late success does not overwrite the cancel; its attempt is added to the record.
    let mut record = engine.get(&id).await.unwrap().unwrap();
    for _ in 0..200 {
        if !record.attempts.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        record = engine.get(&id).await.unwrap().unwrap();
    }
    assert_eq!(record.status, Status::Cancelled);
    assert_eq!(record.attempts.len(), 1, "{:?}", record.attempts);
    assert_eq!(record.attempts[0].status_code, Some(200));
    assert!(
        record.result.is_none(),
        "a cancelled record shows no result"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A second cancel finds it final.
    assert!(matches!(
        engine.cancel(&id).await,
        Err(flunq_executor::CancelError::Finished(r)) if r.status == Status::Cancelled
    ));
}

#[tokio::test]
async fn a_cancel_that_loses_to_the_last_attempts_result_answers_finished() {
    let answer = Arc::new(tokio::sync::Notify::new());
    let calls = counter();
    let up = {
        let (answer, calls) = (Arc::clone(&answer), Arc::clone(&calls));
        upstream(move |_req| {
            let answer = Arc::clone(&answer);
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                answer.notified().await;
                reply(200, "text/plain", "ok")
            }
        })
        .await
    };
    let store = GatedStore::new();
    let engine = engine_on(&store);
    let task = json!({"type": "http", "url": format!("http://{up}/"), "retries": 0});
    let id = engine
        .submit(task.to_string().as_bytes(), None)
        .await
        .unwrap()
        .record
        .id
        .clone();
    for _ in 0..500 {
        if calls.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the attempt is in flight");

    // The cancel has read the running record; its write is held while the attempt
    // answers and the worker writes the success.
    store.hold_update(Status::Cancelled);
    let canceller = engine.clone();
    let cancelling = {
        let id = id.clone();
        tokio::spawn(async move { canceller.cancel(&id).await })
    };
    store.entered.notified().await;
    answer.notify_one();
    let done = engine
        .wait(&id, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, Status::Succeeded);
    store.gate.notify_one();

    match cancelling.await.unwrap() {
        Err(flunq_executor::CancelError::Finished(record)) => {
            assert_eq!(record.status, Status::Succeeded);
        }
        other => panic!("the cancel came after the success: {other:?}"),
    }
    let record = engine.get(&id).await.unwrap().unwrap();
    assert_eq!(record.status, Status::Succeeded);
    assert_eq!(record.attempts.len(), 1);
    assert!(record.result.is_some());
}
