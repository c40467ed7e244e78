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

    let mut group = c.benchmark_group("http_client/sequential_get");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("flunq-http-client", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let r = ours.execute(Request::get(&url).unwrap()).await.unwrap();
                    assert_eq!(r.body().len(), 11);
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("reqwest", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let r = theirs.get(&url).send().await.unwrap();
                    let body = r.bytes().await.unwrap();
                    assert_eq!(body.len(), 11);
                }
                start.elapsed()
            })
        });
    });
    group.finish();

    let mut group = c.benchmark_group("http_client/concurrent_32_per_request");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("flunq-http-client", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters.div_ceil(CONCURRENCY as u64) {
                    let mut set = tokio::task::JoinSet::new();
                    for _ in 0..CONCURRENCY {
                        let client = ours.clone();
                        let request = Request::get(&url).unwrap();
                        set.spawn(async move {
                            client.execute(request).await.unwrap().into_body().len()
                        });
                    }
                    while let Some(n) = set.join_next().await {
                        assert_eq!(n.unwrap(), 11);
                    }
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("reqwest", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters.div_ceil(CONCURRENCY as u64) {
                    let mut set = tokio::task::JoinSet::new();
                    for _ in 0..CONCURRENCY {
                        let client = theirs.clone();
                        let url = url.clone();
                        set.spawn(async move {
                            client
                                .get(&url)
                                .send()
                                .await
                                .unwrap()
                                .bytes()
                                .await
                                .unwrap()
                                .len()
                        });
                    }
                    while let Some(n) = set.join_next().await {
                        assert_eq!(n.unwrap(), 11);
                    }
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
