//! flunq-http-client against reqwest, same local hyper server, same run.
//!
//! The server runs on its own tokio runtime thread and answers `{"ok":true}`. Each client
//! runs on a current-thread runtime in the bench thread, so both pay the same scheduling.
//! Two cases: one request at a time on a kept-alive connection (latency), and batches of
//! 32 concurrent requests (throughput; the figure is time per request).
//! reqwest is built with `gzip` so both clients ask for and can decode compressed bodies,
//! and given the same timeouts as ours (a timer per request costs both the same).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use flunq_http_client::{Client, EgressPolicy, Request};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::runtime::Runtime;

const CONCURRENCY: usize = 32;

fn start_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let service = service_fn(|_req| async {
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from_static(b"{\"ok\":true}")))
                                .unwrap(),
                        )
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn flunq_client() -> Client {
    Client::builder()
        .egress_policy(EgressPolicy::from_allowlist("127.0.0.1/32").unwrap())
        .dial_filter(|addr| addr.ip().is_loopback())
        .build()
        .unwrap()
}

/// reqwest configured as ours is by default: 30 s whole-request timeout, 10 s connect
/// timeout, 90 s pool idle timeout, gzip accepted, no proxy.
fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let addr = start_server();
    let url = format!("http://{addr}/");
    let rt = runtime();
    let ours = flunq_client();
    let theirs = reqwest_client();

    let flunq_get = {
        let (client, url) = (ours.clone(), url.clone());
        move || {
            let client = client.clone();
            let request = Request::get(&url).unwrap();
            async move { client.execute(request).await.unwrap().into_body().len() }
        }
    };
    let reqwest_get = {
        let (client, url) = (theirs.clone(), url.clone());
        move || {
            let request = client.get(&url);
            async move { request.send().await.unwrap().bytes().await.unwrap().len() }
        }
    };

    let mut group = c.benchmark_group("http_client/sequential_get");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("flunq-http-client", |b| {
        b.iter_custom(|iters| sequential(&rt, iters, &flunq_get));
    });
    group.bench_function("reqwest", |b| {
        b.iter_custom(|iters| sequential(&rt, iters, &reqwest_get));
    });
    group.finish();

    let mut group = c.benchmark_group("http_client/concurrent_32_per_request");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("flunq-http-client", |b| {
        b.iter_custom(|iters| concurrent(&rt, iters, &flunq_get));
    });
    group.bench_function("reqwest", |b| {
        b.iter_custom(|iters| concurrent(&rt, iters, &reqwest_get));
    });
    group.finish();
}

/// `iters` requests one after the other; each must return the 11-byte body.
fn sequential<F, Fut>(rt: &Runtime, iters: u64, get: &F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = usize>,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            assert_eq!(get().await, 11);
        }
        start.elapsed()
    })
}

/// `iters` requests in waves of [`CONCURRENCY`] spawned tasks.
fn concurrent<F, Fut>(rt: &Runtime, iters: u64, get: &F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = usize> + Send + 'static,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters.div_ceil(CONCURRENCY as u64) {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..CONCURRENCY {
                set.spawn(get());
            }
            while let Some(n) = set.join_next().await {
                assert_eq!(n.unwrap(), 11);
            }
        }
        start.elapsed()
    })
}

criterion_group!(benches, bench);
criterion_main!(benches);
