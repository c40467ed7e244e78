//! The engine and server under load, in one process, in one run (not criterion: these
//! are load runs with latency percentiles):
//!
//! - (a) a direct hyper client against a local hyper upstream;
//! - (b) synchronous executions through the server (`POST /api/v1/execute?wait=true`)
//!   against the same upstream;
//! - (c) asynchronous submission (`202`) and completion, in memory mode;
//! - (d) memory per queued execution: RSS growth with 100,000 executions queued behind
//!   an upstream that never answers.
//!
//! With `-- redis`, the Redis mode instead (the real Redis at `REDIS_URL`, default
//! 127.0.0.1:6379, under a fresh key prefix):
//!
//! - (e) asynchronous submission and completion with 1 instance, then with 2 instances
//!   on the same Redis (both in this process, sharing its cores), and the Redis commands
//!   one execution costs (from `INFO commandstats`).
//!
//! With `ENGINE_BENCH_EXECUTOR=127.0.0.1:8083`, (a) and then (b) against an `executor`
//! binary started separately (its upstream egress must allow loopback:
//! `EGRESS_ALLOW=127.0.0.0/8`; `RATE_LIMIT=0` as here).
//!
//! Everything shares the machine's cores: the upstream and the executor on their own
//! runtimes, the load generator on a third. Run with
//! `cargo bench -p flunq-benches --bench engine` (`ENGINE_BENCH_SECS` sets the length of
//! each run, default 5), and `cargo bench -p flunq-benches --bench engine -- redis`.
//! `-- sync`, `-- proxy` and `-- async` run (b), (p) or (c) alone, for profiling one case.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use flunq_executor::model::validate::Defaults;
use flunq_executor::{Engine, EngineOptions, Status};
use flunq_executor_server::{ServerOptions, router};
use flunq_http_client::EgressPolicy;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The `executor` binary's allocator (its default feature `mimalloc`), so that the
/// in-process runs measure what the binary runs. It serves the load generator and the
/// upstream too: (a) moved by less than its run-to-run noise with it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: usize = 32;

/// A runtime whose threads are named `name` (so a profile can tell the parts apart).
fn runtime(threads: usize, name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap()
}

/// The upstream: `{"ok":true}` at once, or never (`/hang`).
fn start_upstream(rt: &tokio::runtime::Runtime) -> SocketAddr {
    rt.block_on(flunq_testkit::serve(
        |req: hyper::Request<hyper::body::Incoming>| async move {
            if req.uri().path() == "/hang" {
                std::future::pending::<()>().await;
            }
            flunq_testkit::reply(
                200,
                "application/json",
                Bytes::from_static(b"{\"ok\":true}"),
            )
        },
    ))
    .unwrap()
}

/// The floor for anything that adds a hop: a minimal proxy on hyper (its server, and
/// hyper-util's pooled client as in the executor), nothing else, on the executor's
/// runtime. Every request is forwarded to the upstream and its body returned.
fn start_proxy(rt: &tokio::runtime::Runtime, upstream: SocketAddr) -> SocketAddr {
    rt.block_on(async move {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: HyperClient<_, Full<Bytes>> =
            HyperClient::builder(TokioExecutor::new()).build(connector);
        let target: hyper::Uri = format!("http://{upstream}/").parse().unwrap();
        flunq_testkit::serve(move |req: hyper::Request<hyper::body::Incoming>| {
            let (client, target) = (client.clone(), target.clone());
            async move {
                let _ = req.into_body().collect().await;
                let forwarded = hyper::Request::get(target).body(Full::default()).unwrap();
                match client.request(forwarded).await {
                    Ok(response) => {
                        let body = response.into_body().collect().await.unwrap().to_bytes();
                        flunq_testkit::reply(200, "application/json", body)
                    }
                    Err(_) => flunq_testkit::reply(502, "text/plain", Bytes::new()),
                }
            }
        })
        .await
        .unwrap()
    })
}

fn engine_options(concurrency: usize) -> EngineOptions {
    EngineOptions {
        defaults: Defaults {
            timeout: Duration::from_secs(30),
            retries: 0,
            rate_limit: 0,
            egress: EgressPolicy::from_allowlist("127.0.0.0/8").unwrap(),
        },
        concurrency,
        dial_filter: Some(Arc::new(|a: SocketAddr| a.ip().is_loopback())),
        ..EngineOptions::default()
    }
}

fn start_executor(rt: &tokio::runtime::Runtime, concurrency: usize) -> (SocketAddr, Engine) {
    let engine = Engine::in_memory(engine_options(concurrency)).unwrap();
    serve(rt, engine)
}

fn start_redis_executor(
    rt: &tokio::runtime::Runtime,
    concurrency: usize,
    prefix: &str,
) -> (SocketAddr, Engine) {
    let mut redis = flunq_executor::store::RedisOptions::new(flunq_testkit::redis::url());
    redis.prefix = prefix.to_owned();
    let engine = rt
        .block_on(Engine::with_redis(engine_options(concurrency), redis))
        .unwrap();
    serve(rt, engine)
}

fn serve(rt: &tokio::runtime::Runtime, engine: Engine) -> (SocketAddr, Engine) {
    rt.block_on(async {
        let app = router(engine.clone(), ServerOptions::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let workers = engine.clone();
        tokio::spawn(async move { workers.run(Duration::from_secs(1)).await });
        (addr, engine)
    })
}

struct Report {
    name: &'static str,
    requests: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// CPU time of the executor's threads during the run.
    executor_cpu: Duration,
}

/// CPU time so far of this process's threads named `name` (from
/// `/proc/self/task/*/schedstat`, nanoseconds on CPU): steadier than a rate on a shared
/// machine, and it tells the executor's share from the load generator's and the
/// upstream's.
fn threads_cpu(name: &str) -> Duration {
    let mut total = 0u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(total)
}

impl Report {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[i]
    }
}

/// `CONNECTIONS` loops, each sending one request after the other for `length`.
fn load(
    rt: &tokio::runtime::Runtime,
    name: &'static str,
    length: Duration,
    method: hyper::Method,
    url: String,
    body: &'static str,
) -> Report {
    rt.block_on(async move {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: HyperClient<_, Full<Bytes>> =
            HyperClient::builder(TokioExecutor::new()).build(connector);
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let cpu_before = threads_cpu("executor");
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..CONNECTIONS {
            let (client, url, method, stop, count) = (
                client.clone(),
                url.clone(),
                method.clone(),
                Arc::clone(&stop),
                Arc::clone(&count),
            );
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let request = hyper::Request::builder()
                        .method(method.clone())
                        .uri(&url)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from_static(body.as_bytes())))
                        .unwrap();
                    let t = Instant::now();
                    let response = client.request(request).await.unwrap();
                    let status = response.status();
                    let _ = response.into_body().collect().await.unwrap();
                    assert!(status.is_success(), "{status}");
                    latencies.push(t.elapsed());
                    count.fetch_add(1, Ordering::Relaxed);
                }
                latencies
            }));
        }
        tokio::time::sleep(length).await;
        stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.unwrap());
        }
        Report {
            name,
            requests: count.load(Ordering::Relaxed),
            elapsed: started.elapsed(),
            latencies,
            executor_cpu: threads_cpu("executor").saturating_sub(cpu_before),
        }
    })
}

/// Submits `n` tasks through the API (`202`), then waits until all have finished.
fn async_throughput(
    rt: &tokio::runtime::Runtime,
    executors: &[SocketAddr],
    engine: &Engine,
    upstream: SocketAddr,
    n: usize,
    name: &'static str,
) -> Report {
    let body: &'static str =
        Box::leak(format!(r#"{{"type":"http","url":"http://{upstream}/"}}"#).into_boxed_str());
    rt.block_on(async move {
        let client: HyperClient<_, Full<Bytes>> =
            HyperClient::builder(TokioExecutor::new()).build(HttpConnector::new());
        let cpu_before = threads_cpu("executor");
        let started = Instant::now();
        let per_conn = n / CONNECTIONS;
        let mut tasks = Vec::new();
        for c in 0..CONNECTIONS {
            let executor = executors[c % executors.len()];
            let url = format!("http://{executor}/api/v1/execute");
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::with_capacity(per_conn);
                for _ in 0..per_conn {
                    let request = hyper::Request::post(&url)
                        .body(Full::new(Bytes::from_static(body.as_bytes())))
                        .unwrap();
                    let response = client.request(request).await.unwrap();
                    assert_eq!(response.status(), 202);
                    // The id from `Location`, as a client polling it would take it (the
                    // record in the body, read, is not parsed: a JSON tree of it cost
                    // the load generator 15,000 instructions per submission, a tenth
                    // of all the work of an execution, on the same two cores).
                    let location = response.headers()["location"].to_str().unwrap();
                    let id = location.strip_prefix("/api/v1/executions/").unwrap();
                    ids.push(id.to_owned());
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    assert!(body.starts_with(b"{"));
                }
                ids
            }));
        }
        let mut ids = Vec::new();
        for t in tasks {
            ids.extend(t.await.unwrap());
        }
        let submitted = started.elapsed();
        // Completion: every record final, checked by as many waiters as connections
        // (one after the other, each wait is a round trip in Redis mode).
        let mut waiters = Vec::new();
        for chunk in ids.chunks(ids.len().div_ceil(CONNECTIONS).max(1)) {
            let (engine, chunk) = (engine.clone(), chunk.to_vec());
            waiters.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(chunk.len());
                for id in &chunk {
                    let record = engine
                        .wait(id, Duration::from_secs(60))
                        .await
                        .unwrap()
                        .unwrap();
                    assert_eq!(record.status, Status::Succeeded);
                    let created = record.created_at;
                    let finished = record.finished_at.unwrap();
                    latencies.push(finished.duration_since(created).unwrap_or_default());
                }
                latencies
            }));
        }
        let mut latencies = Vec::new();
        for waiter in waiters {
            latencies.extend(waiter.await.unwrap());
        }
        let elapsed = started.elapsed();
        eprintln!(
            "    (c) submitted {} in {:?}, all finished after {:?}",
            ids.len(),
            submitted,
            elapsed
        );
        Report {
            name,
            requests: ids.len() as u64,
            elapsed,
            latencies,
            executor_cpu: threads_cpu("executor").saturating_sub(cpu_before),
        }
    })
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// RSS per execution queued behind one worker stuck on an upstream that never answers.
fn queued_memory(rt: &tokio::runtime::Runtime, upstream: SocketAddr, n: usize) -> f64 {
    rt.block_on(async move {
        let engine = Engine::in_memory(engine_options(1)).unwrap();
        let workers = engine.clone();
        tokio::spawn(async move { workers.run(Duration::from_secs(1)).await });
        let body = format!(r#"{{"type":"http","url":"http://{upstream}/hang"}}"#);
        // Warm up allocator pools with a first batch, then measure the next `n`.
        for _ in 0..1000 {
            engine.submit(body.as_bytes(), None).await.unwrap();
        }
        let before = rss_bytes();
        for _ in 0..n {
            engine.submit(body.as_bytes(), None).await.unwrap();
        }
        let after = rss_bytes();
        engine.shutdown();
        after.saturating_sub(before) as f64 / n as f64
    })
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run a short
    // smoke version then.
    let full = std::env::args().any(|a| a == "--bench");
    let secs: u64 = std::env::var("ENGINE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let length = if full {
        Duration::from_secs(secs)
    } else {
        Duration::from_millis(300)
    };
    let upstream_rt = runtime(1, "upstream");
    let executor_rt = runtime(2, "executor");
    let load_rt = runtime(1, "load");
    let upstream = start_upstream(&upstream_rt);
    if std::env::args().any(|a| a == "redis") {
        redis_mode(&executor_rt, &load_rt, upstream, full);
        return;
    }
    if let Ok(addr) = std::env::var("ENGINE_BENCH_EXECUTOR") {
        external(&load_rt, upstream, &addr, length);
        return;
    }
    let only = |case: &str| std::env::args().any(|a| a == case);
    // `-- async` runs (c) only (for profiling it).
    if only("async") {
        let (executor, engine) = start_executor(&executor_rt, 256);
        let n = if full { 40_000 } else { 640 };
        let report = async_throughput(
            &load_rt,
            &[executor],
            &engine,
            upstream,
            n,
            "(c) async submit + completion",
        );
        table(&[&report]);
        return;
    }
    let direct = (!only("proxy") && !only("sync")).then(|| {
        load(
            &load_rt,
            "(a) direct hyper client",
            length,
            hyper::Method::GET,
            format!("http://{upstream}/"),
            "",
        )
    });
    // The proxy on a runtime of its own, dropped after its run with its connections:
    // what one case leaves behind (pooled connections, their tasks) stays out of the
    // next.
    let proxied = (!only("sync")).then(|| {
        let proxy_rt = runtime(2, "executor");
        let proxy = start_proxy(&proxy_rt, upstream);
        load(
            &load_rt,
            "(p) minimal hyper proxy (reference)",
            length,
            hyper::Method::GET,
            format!("http://{proxy}/"),
            "",
        )
    });
    // `-- proxy` runs (p) only, `-- sync` (b) only (for profiling one case).
    if let (true, Some(proxied)) = (only("proxy"), &proxied) {
        table(&[proxied]);
        return;
    }
    let (executor, engine) = start_executor(&executor_rt, 256);
    let task: &'static str =
        Box::leak(format!(r#"{{"type":"http","url":"http://{upstream}/"}}"#).into_boxed_str());
    let sync = load(
        &load_rt,
        "(b) sync through the server (?wait=true)",
        length,
        hyper::Method::POST,
        format!("http://{executor}/api/v1/execute?wait=true"),
        task,
    );
    let (Some(direct), Some(proxied)) = (direct, proxied) else {
        table(&[&sync]);
        return;
    };
    let n_async = if full { 40_000 } else { 640 };
    let asynchronous = async_throughput(
        &load_rt,
        &[executor],
        &engine,
        upstream,
        n_async,
        "(c) async submit + completion",
    );
    table(&[&direct, &proxied, &sync, &asynchronous]);
    println!(
        "(b)/(a) = {:.2}; for scale, (p)/(a) = {:.2} and (b)/(p) = {:.2}",
        sync.rps() / direct.rps(),
        proxied.rps() / direct.rps(),
        sync.rps() / proxied.rps()
    );
    let n_mem = if full { 100_000 } else { 2_000 };
    let per = queued_memory(&executor_rt, upstream, n_mem);
    println!("(d) memory per queued execution: {per:.0} bytes (RSS growth over {n_mem} queued)");
}

/// (b) against an `executor` binary started separately (the real server, with its
/// logging), at `addr` (loopback only). Its CPU is read from `/proc` (the process named
/// `executor`), in clock ticks.
fn external(load_rt: &tokio::runtime::Runtime, upstream: SocketAddr, addr: &str, length: Duration) {
    let addr: SocketAddr = addr
        .parse()
        .expect("ENGINE_BENCH_EXECUTOR: an address such as 127.0.0.1:8083");
    assert!(addr.ip().is_loopback(), "loopback executors only");
    let task: &'static str =
        Box::leak(format!(r#"{{"type":"http","url":"http://{upstream}/"}}"#).into_boxed_str());
    let direct = load(
        load_rt,
        "(a) direct hyper client",
        length,
        hyper::Method::GET,
        format!("http://{upstream}/"),
        "",
    );
    let before = process_cpu("executor");
    let mut sync = load(
        load_rt,
        "(b) sync through the `executor` binary (?wait=true)",
        length,
        hyper::Method::POST,
        format!("http://{addr}/api/v1/execute?wait=true"),
        task,
    );
    sync.executor_cpu = process_cpu("executor").saturating_sub(before);
    table(&[&direct, &sync]);
    println!("(b)/(a) = {:.2}", sync.rps() / direct.rps());
}

/// User and system time of the process named `name` (another process), from
/// `/proc/<pid>/stat`; zero when there is none.
fn process_cpu(name: &str) -> Duration {
    let own = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid == own || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // Fields after the command's closing parenthesis: utime and stime are the
        // 12th and 13th of those.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let ticks: u64 = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|t| t.parse::<u64>().ok())
            .sum();
        // The kernel's USER_HZ is 100 on Linux.
        return Duration::from_millis(ticks * 10);
    }
    Duration::ZERO
}

fn table(reports: &[&Report]) {
    println!();
    println!("| case | requests | per second | p50 | p99 | CPU of the middle tier per request |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for r in reports {
        let cpu = if r.executor_cpu.is_zero() {
            "-".to_owned()
        } else {
            format!(
                "{:.1} µs",
                r.executor_cpu.as_secs_f64() * 1e6 / r.requests.max(1) as f64
            )
        };
        println!(
            "| {} | {} | {:.0} | {:.2} ms | {:.2} ms | {cpu} |",
            r.name,
            r.requests,
            r.rps(),
            r.percentile(0.5).as_secs_f64() * 1e3,
            r.percentile(0.99).as_secs_f64() * 1e3
        );
    }
    println!();
}

/// Command counts of the Redis server, by command name.
fn command_stats(conn: &mut redis::Connection) -> std::collections::BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
    info.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("cmdstat_")?;
            let (name, stats) = rest.split_once(':')?;
            let calls = stats
                .split(',')
                .next()?
                .strip_prefix("calls=")?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// (e): asynchronous throughput on Redis, 1 then 2 instances, and commands per execution.
fn redis_mode(
    executor_rt: &tokio::runtime::Runtime,
    load_rt: &tokio::runtime::Runtime,
    upstream: SocketAddr,
    full: bool,
) {
    let n = if full { 40_000 } else { 640 };
    let mut conn = redis::Client::open(flunq_testkit::redis::url())
        .unwrap()
        .get_connection()
        .unwrap();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let mut reports = Vec::new();
    let mut per_execution = Vec::new();
    for (instances, name) in [
        (1usize, "(e) Redis, 1 instance"),
        (2, "(e) Redis, 2 instances"),
    ] {
        let prefix = format!("flunq-bench-{stamp}-{instances}");
        let started: Vec<(SocketAddr, Engine)> = (0..instances)
            .map(|_| start_redis_executor(executor_rt, 256, &prefix))
            .collect();
        let addrs: Vec<SocketAddr> = started.iter().map(|(a, _)| *a).collect();
        let before = command_stats(&mut conn);
        let report = async_throughput(load_rt, &addrs, &started[0].1, upstream, n, name);
        let after = command_stats(&mut conn);
        let mut diff: Vec<(String, f64)> = after
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    (v - before.get(k).copied().unwrap_or(0)) as f64 / n as f64,
                )
            })
            .filter(|(_, v)| *v >= 0.01)
            .collect();
        diff.sort_by(|a, b| b.1.total_cmp(&a.1));
        per_execution.push((name, diff));
        reports.push(report);
        for (_, engine) in &started {
            engine.shutdown();
        }
        load_rt.block_on(flunq_testkit::redis::delete_prefix(&prefix));
    }
    table(&reports.iter().collect::<Vec<_>>());
    for (name, diff) in per_execution {
        let total: f64 = diff.iter().map(|(_, v)| v).sum();
        let listed: Vec<String> = diff.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
        println!(
            "{name}: {total:.1} Redis commands per execution ({}), counted by INFO commandstats, which also counts the commands scripts run",
            listed.join(", ")
        );
    }
    println!(
        "(the bench's own waits are included: one HMGET for an execution already final when its waiter looks, a few more for one still running)"
    );
}
