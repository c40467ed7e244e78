//! Several executor instances sharing the real Redis (127.0.0.1:6379, `REDIS_URL`
//! overrides), each test under a key prefix of its own: shared configs and records,
//! spread work, idempotency, listing, cancel across instances, a shared rate limit,
//! dead letters, and `/readyz`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flunq_http_client::Method;
use serde_json::json;
use support::{Executor, json_reply, loopback_options, unique_prefix, upstream};

const LEASE: Duration = Duration::from_millis(600);

async fn instances(prefix: &str, n: usize) -> Vec<Executor> {
    let mut all = Vec::new();
    for _ in 0..n {
        all.push(Executor::start_redis(prefix, loopback_options(), LEASE).await);
    }
    all
}

/// Redis options of a test's prefix.
fn redis_options(prefix: &str) -> flunq_executor::store::RedisOptions {
    let mut options = flunq_executor::store::RedisOptions::new(flunq_testkit::redis::url());
    options.prefix = prefix.to_owned();
    options
}

/// An engine on Redis whose workers never run: it accepts, reads, cancels and waits.
async fn idle_engine(options: flunq_executor::store::RedisOptions) -> flunq_executor::Engine {
    flunq_executor::Engine::with_redis(loopback_options(), options)
        .await
        .unwrap()
}

/// A key prefix of its own, an instance running work on it, and an idle engine beside
/// it (its workers never start).
async fn runner_and_idle(test: &str) -> (String, Executor, flunq_executor::Engine) {
    let prefix = unique_prefix(test);
    let runner = Executor::start_redis(&prefix, loopback_options(), LEASE).await;
    let idle = idle_engine(redis_options(&prefix)).await;
    (prefix, runner, idle)
}

/// Submits a task to the hanging upstream; returns its id once the call is in flight.
async fn call_in_flight(
    runner: &Executor,
    addr: std::net::SocketAddr,
    open: &AtomicUsize,
) -> String {
    let answer = runner
        .post(
            "/api/v1/execute",
            &json!({"type": "http", "url": format!("http://{addr}/slow"), "retries": 0})
                .to_string(),
        )
        .await;
    let id = answer.json["id"].as_str().unwrap().to_owned();
    runner.until_status(&id, "running").await;
    for _ in 0..100 {
        if open.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(open.load(Ordering::SeqCst), 1);
    id
}

/// An upstream that answers after `delay`, counting calls.
async fn slow_upstream(delay: Duration) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    support::counted_upstream(move |_req| async move {
        tokio::time::sleep(delay).await;
        json_reply(200, &json!({"ok": true}))
    })
    .await
}

/// An upstream that holds every request for 30 s; counts the requests in flight (a
/// dropped connection drops its request's future).
async fn hanging_upstream() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    struct Open(Arc<AtomicUsize>);
    impl Drop for Open {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let open = Arc::new(AtomicUsize::new(0));
    let gauge = Arc::clone(&open);
    let addr = upstream(move |_req| {
        let gauge = Arc::clone(&gauge);
        async move {
            gauge.fetch_add(1, Ordering::SeqCst);
            let _open = Open(gauge);
            tokio::time::sleep(Duration::from_secs(30)).await;
            json_reply(200, &json!({}))
        }
    })
    .await;
    (addr, open)
}

fn finished_count(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("flunq_executions_total{") && l.contains("status=\"succeeded\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_configs_and_records_and_spread_the_work() {
    let prefix = unique_prefix("share");
    let all = instances(&prefix, 3).await;
    let (addr, calls) = slow_upstream(Duration::from_millis(150)).await;

    // A config made on one instance is seen, replaced and versioned from the others.
    let created = all[0]
        .post(
            "/api/v1/configs",
            &json!({"name": "billing", "base_url": format!("http://{addr}"), "secrets": {"token": "canary-5e1f"}})
                .to_string(),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let seen = all[1].get("/api/v1/configs/billing").await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.json["version"], 1);
    assert_eq!(seen.json["secrets"]["token"], "***");
    let replaced = all[2]
        .call(
            Method::PUT,
            "/api/v1/configs/billing",
            Some(&json!({"name": "billing", "base_url": format!("http://{addr}"), "secrets": {"token": "***"}, "retries": 1}).to_string()),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(replaced.json["version"], 2);
    let stale = all[0]
        .call(
            Method::PUT,
            "/api/v1/configs/billing",
            Some(&json!({"name": "billing"}).to_string()),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(stale.status, 412, "{}", stale.text);
    let duplicate = all[1]
        .post("/api/v1/configs", &json!({"name": "billing"}).to_string())
        .await;
    assert_eq!(duplicate.status, 409);

    // Executions submitted to one instance, using the config (and its secret, kept
    // through the `***` PUT), run on all three.
    let mut ids = Vec::new();
    for _ in 0..30 {
        let answer = all[0]
            .post(
                "/api/v1/execute",
                &json!({"type": "http", "config": "billing", "url": "/x?t=${token}"}).to_string(),
            )
            .await;
        assert_eq!(answer.status, 202, "{}", answer.text);
        ids.push(answer.json["id"].as_str().unwrap().to_owned());
    }
    for (i, id) in ids.iter().enumerate() {
        let record = all[i % 3].until_final(id).await;
        assert_eq!(record["status"], "succeeded", "{record}");
        assert!(!record.to_string().contains("canary-5e1f"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 30, "each execution ran once");
    let mut ran = Vec::new();
    for instance in &all {
        ran.push(finished_count(&instance.get("/metrics").await.text));
    }
    assert_eq!(ran.iter().sum::<u64>(), 30, "{ran:?}");
    assert!(
        ran.iter().filter(|n| **n > 0).count() >= 2,
        "the work is spread over the instances: {ran:?}"
    );

    // The listing is the same from every instance, newest first, with a cursor.
    let page = all[2]
        .get("/api/v1/executions?status=succeeded&limit=20")
        .await;
    assert_eq!(page.json["items"].as_array().unwrap().len(), 20);
    let next = page.json["next"].as_str().unwrap().to_owned();
    let rest = all[1]
        .get(&format!(
            "/api/v1/executions?status=succeeded&limit=20&cursor={next}"
        ))
        .await;
    assert_eq!(rest.json["items"].as_array().unwrap().len(), 10);
    assert!(rest.json["next"].is_null());
    let listed: Vec<String> = page.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest.json["items"].as_array().unwrap())
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    assert!(
        all[0].get("/api/v1/executions?status=queued").await.json["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Deleted on one, gone everywhere.
    let deleted = all[1]
        .call(Method::DELETE, "/api/v1/configs/billing", None, &[])
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(all[2].get("/api/v1/configs/billing").await.status, 404);
    flunq_testkit::redis::delete_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_holds_across_instances() {
    let prefix = unique_prefix("idem");
    let all = instances(&prefix, 2).await;
    let (addr, calls) = slow_upstream(Duration::from_millis(10)).await;
    let task =
        json!({"type": "http", "method": "POST", "url": format!("http://{addr}/pay")}).to_string();
    let first = all[0]
        .post_with("/api/v1/execute", &task, &[("idempotency-key", "order-77")])
        .await;
    assert_eq!(first.status, 202);
    let again = all[1]
        .post_with("/api/v1/execute", &task, &[("idempotency-key", "order-77")])
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json["id"], first.json["id"]);
    let id = first.json["id"].as_str().unwrap();
    all[1].until_final(id).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The key and the record expire together, `EXECUTION_TTL` after the finish.
    let ttl = flunq_testkit::redis::number("PTTL", &format!("{{{prefix}}}:idem:order-77")).await;
    assert!(ttl > 0, "the idempotency key expires: {ttl}");
    let ttl = flunq_testkit::redis::number("PTTL", &format!("{{{prefix}}}:exec:{id}")).await;
    assert!(
        ttl > 0 && ttl <= 24 * 3600 * 1000,
        "the record expires: {ttl}"
    );
    flunq_testkit::redis::delete_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_reaches_the_instance_running_the_execution() {
    let (prefix, runner, other) = runner_and_idle("cancel").await;
    let (addr, open) = hanging_upstream().await;
    let id = call_in_flight(&runner, addr, &open).await;
    let cancelled_at = Instant::now();
    let record = other.cancel(&id).await.unwrap();
    assert_eq!(record.status, flunq_executor::Status::Cancelled);
    while open.load(Ordering::SeqCst) != 0 {
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(1),
            "the attempt on the other instance was not dropped within a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let shown = runner.get(&format!("/api/v1/executions/{id}")).await;
    assert_eq!(shown.json["status"], "cancelled");
    // The runner adds the attempt the cancel cut off, seen from either instance.
    let mut attempts = shown.json["attempts"].clone();
    for _ in 0..100 {
        if attempts.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let record = other.get(&id).await.unwrap().unwrap();
        attempts = serde_json::to_value(&record).unwrap()["attempts"].clone();
    }
    assert_eq!(attempts.as_array().unwrap().len(), 1, "{attempts}");
    assert_eq!(attempts[0]["error"]["kind"], "cancelled");
    // Cancelling again: 409 from either instance.
    let again = runner
        .post(&format!("/api/v1/executions/{id}/cancel"), "")
        .await;
    assert_eq!(again.status, 409);
    flunq_testkit::redis::delete_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_of_5_per_second_holds_across_two_instances() {
    let prefix = unique_prefix("limit");
    let all = instances(&prefix, 2).await;
    let times = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&times);
    let addr = upstream(move |_req| {
        let seen = Arc::clone(&seen);
        async move {
            seen.lock().unwrap().push(Instant::now());
            json_reply(200, &json!({}))
        }
    })
    .await;
    let config = json!({"name": "limited", "base_url": format!("http://{addr}"),
        "rate_limit": {"rate": 5, "per": "1s", "burst": 1}});
    assert_eq!(
        all[0]
            .post("/api/v1/configs", &config.to_string())
            .await
            .status,
        201
    );
    let task = json!({"type": "http", "config": "limited", "url": "/"}).to_string();
    // 12 executions submitted to both instances at once.
    let submits = (0..12).map(|i| {
        let instance = &all[i % 2];
        let task = task.clone();
        async move { instance.post("/api/v1/execute", &task).await }
    });
    let answers = futures_join(submits).await;
    for (i, answer) in answers.iter().enumerate() {
        let id = answer.json["id"].as_str().unwrap();
        assert_eq!(all[i % 2].until_final(id).await["status"], "succeeded");
    }
    let mut times = times.lock().unwrap().clone();
    times.sort();
    assert_eq!(times.len(), 12);
    // 5/s with a burst of 1: 12 calls take at least 11 intervals of 200 ms. Two
    // limiters of their own would let both instances go at 5/s each (about 1.2 s).
    let spread = times[11] - times[0];
    assert!(
        spread >= Duration::from_millis(2000),
        "12 calls in {spread:?}: the limit was not shared"
    );
    // No second holds more than 5 calls (plus one at its edge).
    for (i, t) in times.iter().enumerate() {
        let within = times[i..]
            .iter()
            .filter(|u| **u - *t < Duration::from_secs(1))
            .count();
        assert!(within <= 6, "{within} calls within a second");
    }
    flunq_testkit::redis::delete_prefix(&prefix).await;
}

async fn futures_join<F: std::future::Future>(all: impl Iterator<Item = F>) -> Vec<F::Output> {
    futures_util::future::join_all(all).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_lease_runs_out_is_taken_over_and_one_delivered_too_often_is_dead_lettered() {
    let prefix = unique_prefix("lease");
    let (addr, calls) = slow_upstream(Duration::from_millis(10)).await;
    // Submitted through an engine whose workers never run; a "ghost" consumer reads
    // both jobs and dies without acknowledging them.
    let mut options = redis_options(&prefix);
    options.lease_timeout = LEASE;
    options.max_deliveries = 2;
    options.consumer = "submitter".to_owned();
    let submitter = idle_engine(options.clone()).await;
    let task = json!({"type": "http", "url": format!("http://{addr}/")}).to_string();
    let once = submit_id(&submitter, &task).await;
    let twice = submit_id(&submitter, &task).await;
    let mut conn = flunq_testkit::redis::connection().await;
    let stream = format!("{{{prefix}}}:queue");
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("workers")
        .arg("ghost")
        .arg("COUNT")
        .arg(10)
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    // The second job is delivered once more to the ghost (as if a second instance had
    // taken it over and died too): two deliveries.
    let pending = pending_entries(&mut conn, &stream).await;
    assert_eq!(pending.len(), 2);
    let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    let second_entry = entries
        .iter()
        .find(|(_, fields)| fields.contains(&twice))
        .unwrap()
        .0
        .clone();
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg(&stream)
        .arg("workers")
        .arg("ghost")
        .arg(0)
        .arg(&second_entry)
        .query_async(&mut conn)
        .await
        .unwrap();
    drop(submitter);
    options.consumer = "live".to_owned();

    // A live instance takes both over after the lease: the first runs, the second has
    // now been delivered 3 times (> 2) and is dead-lettered.
    let started = Instant::now();
    let live = Executor::start_on_redis(loopback_options(), options).await;
    let first = live.until_final(&once).await;
    assert_eq!(first["status"], "succeeded", "{first}");
    assert!(
        started.elapsed() >= LEASE / 2,
        "taken before the lease ran out"
    );
    let dead = live.until_final(&twice).await;
    assert_eq!(dead["status"], "failed", "{dead}");
    assert_eq!(dead["error"]["kind"], "internal");
    assert!(
        dead["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dead-letter")
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the dead-lettered job made no call"
    );
    let dead_letters = flunq_testkit::redis::number("XLEN", &format!("{{{prefix}}}:dead")).await;
    assert_eq!(dead_letters, 1);
    // The queue is empty: both entries are acknowledged and deleted.
    let left = flunq_testkit::redis::number("XLEN", &stream).await;
    assert_eq!(left, 0);
    flunq_testkit::redis::delete_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_while_redis_is_out_of_reach_and_work_survives_a_restart_with_aof() {
    let dir = std::env::temp_dir().join(format!("flunq-aof-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let start_redis = || {
        std::process::Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--dir",
                dir.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed")
    };
    let mut server = start_redis();
    let url = format!("redis://127.0.0.1:{port}");
    for _ in 0..100 {
        if redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (addr, calls) = slow_upstream(Duration::from_millis(400)).await;
    let mut options = loopback_options();
    options.concurrency = 2;
    let mut redis_options = flunq_executor::store::RedisOptions::new(url.clone());
    redis_options.lease_timeout = LEASE;
    let engine = flunq_executor::Engine::with_redis(options, redis_options)
        .await
        .unwrap();
    let app = flunq_executor_server::router(engine.clone(), Default::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = support::plain_client();
    let readyz = |client: &flunq_http_client::Client| {
        let client = client.clone();
        async move {
            client
                .execute(
                    flunq_http_client::Request::parse(Method::GET, &format!("http://{api}/readyz"))
                        .unwrap(),
                )
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(readyz(&client).await, 200);

    // Work runs (two at a time, 400 ms each) when Redis dies (kill -9: AOF with fsync
    // always has every write), some of it in flight.
    let workers = engine.clone();
    tokio::spawn(async move { workers.run(Duration::from_secs(5)).await });
    let task = json!({"type": "http", "url": format!("http://{addr}/")}).to_string();
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(submit_id(&engine, &task).await);
    }
    for _ in 0..200 {
        if calls.load(Ordering::SeqCst) >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let mut saw_503 = false;
    for _ in 0..40 {
        if readyz(&client).await == 503 {
            saw_503 = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saw_503, "/readyz did not report Redis down");
    assert!(
        engine.submit(task.as_bytes(), None).await.is_err(),
        "no submission is accepted without Redis"
    );
    // The executions in flight at the kill finished their calls meanwhile, but could
    // not store their results.
    tokio::time::sleep(Duration::from_millis(600)).await;

    // Redis comes back with its data; the instance recovers by itself and runs it all,
    // the two cut off included (again: at least once).
    let mut server = start_redis();
    let mut ready = false;
    for _ in 0..100 {
        if readyz(&client).await == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "/readyz did not recover");
    for id in &ids {
        let mut done = None;
        for _ in 0..200 {
            if let Ok(Some(r)) = engine.get(id).await
                && r.status.is_final()
            {
                done = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let record = done.unwrap_or_else(|| panic!("{id} never finished after the restart"));
        assert_eq!(record.status, flunq_executor::Status::Succeeded);
    }
    let total = calls.load(Ordering::SeqCst);
    assert!(
        (20..=22).contains(&total),
        "{total} calls: 20, plus at most the 2 in flight when Redis died"
    );
    server.kill().unwrap();
    server.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_loses_a_lease_stops_the_run_and_writes_nothing() {
    let prefix = unique_prefix("lost");
    let runner = Executor::start_redis(&prefix, loopback_options(), LEASE).await;
    let (addr, open) = hanging_upstream().await;
    let id = call_in_flight(&runner, addr, &open).await;
    // Another consumer takes the entry over (as after a pause longer than the lease).
    let mut conn = flunq_testkit::redis::connection().await;
    let stream = format!("{{{prefix}}}:queue");
    let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg(&stream)
        .arg("workers")
        .arg("thief")
        .arg(0)
        .arg(&entries[0].0)
        .query_async(&mut conn)
        .await
        .unwrap();
    // The next renewal finds it gone: the attempt is dropped, nothing is written.
    let lost_at = Instant::now();
    while open.load(Ordering::SeqCst) != 0 {
        assert!(
            lost_at.elapsed() < LEASE * 2,
            "the run went on after its lease was lost"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let record = runner.get(&format!("/api/v1/executions/{id}")).await;
    assert_eq!(
        record.json["status"], "running",
        "left to the new owner: {}",
        record.text
    );
    assert!(record.json["attempts"].as_array().unwrap().is_empty());
    let pending = pending_entries(&mut conn, &stream).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].1, "thief", "the entry stays with its new owner");
    flunq_testkit::redis::delete_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_records_leave_the_listing_index() {
    let prefix = unique_prefix("sweep");
    let mut options = loopback_options();
    options.execution_ttl = Duration::from_millis(300);
    let instance = Executor::start_redis(&prefix, options, Duration::from_millis(150)).await;
    let (addr, _) = slow_upstream(Duration::ZERO).await;
    let task = json!({"type": "http", "url": format!("http://{addr}/")}).to_string();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let answer = instance.post("/api/v1/execute?wait=5s", &task).await;
        assert_eq!(answer.json["status"], "succeeded");
        ids.push(answer.json["id"].as_str().unwrap().to_owned());
    }
    let indexed = || {
        let (all, succeeded) = (
            format!("{{{prefix}}}:idx"),
            format!("{{{prefix}}}:idx:succeeded"),
        );
        async move {
            (
                flunq_testkit::redis::number("ZCARD", &all).await,
                flunq_testkit::redis::number("ZCARD", &succeeded).await,
            )
        }
    };
    assert_eq!(indexed().await, (5, 5));
    let started = Instant::now();
    while indexed().await != (0, 0) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the index still holds expired ids: {:?}",
            indexed().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for id in &ids {
        assert_eq!(
            instance
                .get(&format!("/api/v1/executions/{id}"))
                .await
                .status,
            404
        );
    }
    flunq_testkit::redis::delete_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_handed_back_before_any_attempt_is_queued_again() {
    use flunq_executor::store::Queue;
    let prefix = unique_prefix("release");
    let mut options = redis_options(&prefix);
    // An engine whose workers never run, to submit; a bare queue consumer to take.
    let submitter = idle_engine(options.clone()).await;
    options.consumer = "taker".to_owned();
    let queue = flunq_executor::store::RedisBackend::connect(options)
        .await
        .unwrap();
    let (addr, _) = slow_upstream(Duration::ZERO).await;
    let task = json!({"type": "http", "url": format!("http://{addr}/")}).to_string();
    let id = submit_id(&submitter, &task).await;
    let jobs = tokio::time::timeout(Duration::from_secs(5), queue.pop(1))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, id);
    let started = jobs[0]
        .started
        .as_ref()
        .expect("started by the fetch script");
    assert_eq!(started.status, flunq_executor::Status::Running);
    assert_eq!(
        submitter.get(&id).await.unwrap().unwrap().status,
        flunq_executor::Status::Running
    );
    queue.release(&jobs[0]).await;
    let record = submitter.get(&id).await.unwrap().unwrap();
    assert_eq!(record.status, flunq_executor::Status::Queued);
    assert!(record.started_at.is_none());
    let queued = submitter
        .list(Some(flunq_executor::Status::Queued), 10, None)
        .await
        .unwrap();
    assert_eq!(queued.items.len(), 1, "back in the queued index");
    // And it is in the stream again, for any instance.
    let again = tokio::time::timeout(Duration::from_secs(5), queue.pop(1))
        .await
        .unwrap();
    assert_eq!(again[0].id, id);
    assert_ne!(again[0].receipt, jobs[0].receipt);
    flunq_testkit::redis::delete_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_on_one_instance_returns_as_soon_as_another_finishes_the_execution() {
    // The runner runs the work; the other instance only accepts and waits.
    let (prefix, _runner, front) = runner_and_idle("wait").await;
    let (addr, calls) = slow_upstream(Duration::from_millis(300)).await;
    let task = json!({"type": "http", "url": format!("http://{addr}/")}).to_string();
    for _ in 0..3 {
        let id = submit_id(&front, &task).await;
        let started = Instant::now();
        let record = front
            .wait(&id, Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap();
        let took = started.elapsed();
        assert_eq!(record.status, flunq_executor::Status::Succeeded);
        // The finish is announced: no waiting for the next read (1 s apart).
        assert!(took < Duration::from_millis(800), "the wait took {took:?}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let left = flunq_testkit::redis::number("ZCARD", &format!("{{{prefix}}}:waiting")).await;
    assert_eq!(left, 0, "announced waits are forgotten");
    flunq_testkit::redis::delete_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_jobs_waiting_in_the_shared_queue() {
    let prefix = unique_prefix("depth");
    let mut options = redis_options(&prefix);
    options.lease_timeout = Duration::from_millis(150);
    let engine = idle_engine(options).await;
    let (addr, _) = slow_upstream(Duration::ZERO).await;
    let task = json!({"type": "http", "url": format!("http://{addr}/")}).to_string();
    for _ in 0..3 {
        engine.submit(task.as_bytes(), None).await.unwrap();
    }
    let started = Instant::now();
    while !engine.render_metrics().contains("flunq_queue_depth 3") {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{}",
            engine.render_metrics()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    flunq_testkit::redis::delete_prefix(&prefix).await;
}

/// Submits `task` to `engine`; the new execution's id.
async fn submit_id(engine: &flunq_executor::Engine, task: &str) -> String {
    engine
        .submit(task.as_bytes(), None)
        .await
        .unwrap()
        .record
        .id
        .clone()
}

/// The stream's pending entries (the leases): id, consumer, idle ms, deliveries.
async fn pending_entries(
    conn: &mut redis::aio::MultiplexedConnection,
    stream: &str,
) -> Vec<(String, String, u64, u64)> {
    redis::cmd("XPENDING")
        .arg(stream)
        .arg("workers")
        .arg("-")
        .arg("+")
        .arg(10)
        .query_async(conn)
        .await
        .unwrap()
}

/// Options for the TLS Redis under `prefix`, with `scheme` (`rediss` or `redis`),
/// trusting the CA of `pki` when given.
fn tls_options(
    redis: &flunq_testkit::redis::TlsRedis,
    scheme: &str,
    prefix: &str,
    pki: Option<&flunq_testkit::pki::TestPki>,
) -> flunq_executor::store::RedisOptions {
    let mut options =
        flunq_executor::store::RedisOptions::new(format!("{scheme}://127.0.0.1:{}", redis.port));
    options.prefix = prefix.to_owned();
    options.ca_certificate = pki.map(|pki| pki.ca_pem.clone().into_bytes());
    options
}

/// The error of starting an engine on `options`, as text.
async fn redis_start_error(options: flunq_executor::store::RedisOptions) -> String {
    match flunq_executor::Engine::with_redis(loopback_options(), options).await {
        Ok(_) => panic!("the engine started"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_on_redis_over_tls_runs_executions_and_shares_its_limits() {
    let pki = flunq_testkit::pki::TestPki::new();
    let redis = flunq_testkit::redis::TlsRedis::start(&pki, false).await;
    let options = tls_options(&redis, "rediss", "tls", Some(&pki));
    let ex = Executor::start_on_redis(loopback_options(), options).await;
    let (addr, calls) = slow_upstream(Duration::ZERO).await;
    // A config (in Redis) with a shared rate limit (a script in Redis per call).
    let config = json!({"name": "limited", "base_url": format!("http://{addr}"),
        "rate_limit": {"rate": 2, "per": "1s", "burst": 1}});
    assert_eq!(
        ex.post("/api/v1/configs", &config.to_string()).await.status,
        201
    );
    let task = json!({"type": "http", "config": "limited", "url": "/x"}).to_string();
    let started = Instant::now();
    let (first, second) = tokio::join!(
        ex.post("/api/v1/execute?wait=10s", &task),
        ex.post("/api/v1/execute?wait=10s", &task)
    );
    for done in [&first, &second] {
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!(done.json["status"], "succeeded", "{}", done.text);
    }
    // The second waited for the limit's next permit, half a second later.
    assert!(started.elapsed() >= Duration::from_millis(400));
    // The limit was kept in the TLS Redis, not by the fallback in this process.
    let client = redis::Client::build_with_tls(
        redis.url(),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pki.ca_pem.clone().into_bytes()),
        },
    )
    .unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("{tls}:rl:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let id = first.json["id"].as_str().unwrap();
    let read = ex.get(&format!("/api/v1/executions/{id}")).await;
    assert_eq!(read.json["status"], "succeeded", "{}", read.text);
    assert_eq!(ex.get("/readyz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_over_tls_is_refused_when_its_certificate_is_not_trusted_or_the_url_is_plain() {
    let pki = flunq_testkit::pki::TestPki::new();
    let redis = flunq_testkit::redis::TlsRedis::start(&pki, false).await;
    // The bundled roots do not hold the test CA.
    let untrusted = tls_options(&redis, "rediss", "tls-untrusted", None);
    // Another CA than the one that signed it.
    let other = tls_options(
        &redis,
        "rediss",
        "tls-other-ca",
        Some(&flunq_testkit::pki::TestPki::new()),
    );
    // TLS settings with a plain URL: said at once, nothing sent in the clear.
    let plain = tls_options(&redis, "redis", "tls-plain", Some(&pki));
    // A plain connection to the TLS port gets no answer it can use.
    let cleartext = tls_options(&redis, "redis", "tls-cleartext", None);
    // A client key that is not PEM: named, and not repeated.
    let mut garbled = tls_options(&redis, "rediss", "tls-garbled", None);
    garbled.client_identity = Some(flunq_executor::store::RedisClientIdentity {
        certificate_chain: pki.client_identity().0.into_bytes(),
        private_key: b"not a key".to_vec(),
    });
    // A CA file without a PEM certificate (here DER): said at once.
    let mut der = tls_options(&redis, "rediss", "tls-der", None);
    der.ca_certificate = Some(vec![0x30, 0x82, 0x01, 0x0a]);
    // At once: each failed connection is retried for a few seconds before it gives up.
    let (untrusted, wrong, refused, _, bad, not_pem) = tokio::join!(
        redis_start_error(untrusted),
        redis_start_error(other),
        redis_start_error(plain),
        redis_start_error(cleartext),
        redis_start_error(garbled),
        redis_start_error(der),
    );
    assert!(
        not_pem.contains("REDIS_CA_CERT holds no PEM certificate"),
        "{not_pem}"
    );
    assert!(untrusted.contains("certificate"), "{untrusted}");
    assert!(wrong.contains("certificate"), "{wrong}");
    assert!(refused.contains("rediss://"), "{refused}");
    assert!(bad.contains("private key"), "{bad}");
    assert!(!bad.contains("not a key"), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_that_requires_client_certificates_takes_this_instances() {
    let pki = flunq_testkit::pki::TestPki::new();
    let redis = flunq_testkit::redis::TlsRedis::start(&pki, true).await;
    let anonymous = tls_options(&redis, "rediss", "mtls-anonymous", Some(&pki));
    let refused = redis_start_error(anonymous).await;
    assert!(
        refused.contains("state store unavailable: redis:"),
        "{refused}"
    );
    let (chain, key) = pki.client_identity();
    let mut options = tls_options(&redis, "rediss", "mtls", Some(&pki));
    options.client_identity = Some(flunq_executor::store::RedisClientIdentity {
        certificate_chain: chain.into_bytes(),
        private_key: key.into_bytes(),
    });
    let ex = Executor::start_on_redis(loopback_options(), options).await;
    let (addr, _) = slow_upstream(Duration::ZERO).await;
    let task = json!({"type": "http", "url": format!("http://{addr}/")}).to_string();
    let done = ex.post("/api/v1/execute?wait=10s", &task).await;
    assert_eq!(done.json["status"], "succeeded", "{}", done.text);
}
