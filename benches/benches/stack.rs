//! The three resilience crates together around a no-op call, as the executor wires them
//! (rate limiter, then circuit breaker, inside a retry loop), against the same stack
//! built from the peers (governor, failsafe, backon), in one run.
//!
//! Every call succeeds at once: this is the overhead a healthy upstream pays. Both
//! stacks run on a current-thread tokio runtime inside one `block_on`; both use a no-op
//! sleeper (no retry happens). Allocations per call of ours are printed.

use std::future::{Ready, ready};
use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use criterion::{Criterion, criterion_group, criterion_main};
use failsafe::futures::CircuitBreaker as _;
use flunq_circuit::{CircuitBreaker, Config, Outcome};
use flunq_ratelimit::{Clock, Gcra, Quota, RateLimiter};
use flunq_retry::{Jitter, NoNotify, Retry, RetryOnError, RetryPolicy};
use tokio::runtime::Runtime;

#[global_allocator]
static ALLOC: flunq_benches::CountingAlloc = flunq_benches::CountingAlloc;

#[derive(Debug)]
enum StackError {
    Limited,
    Open,
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

type NoopSleep = fn(Duration) -> Ready<()>;

fn noop_sleep(_: Duration) -> Ready<()> {
    ready(())
}

/// A rate high enough that the bench never waits: the check still runs in full.
fn quota() -> Quota {
    Quota::per_second(1_000_000_000).burst(1_000_000_000)
}

fn ours_policy() -> RetryPolicy {
    RetryPolicy::exponential(Duration::from_millis(100))
        .max_delay(Duration::from_secs(30))
        .jitter(Jitter::Full)
        .max_retries(3)
        .build()
        .expect("valid policy")
}

/// One call through our stack: retry loop around (limiter check, breaker permit, no-op).
async fn ours_call<C: Clock>(
    retry: &Retry<RetryOnError, NoNotify, NoopSleep>,
    limiter: &RateLimiter<Gcra, C>,
    breaker: &CircuitBreaker,
) -> bool {
    retry
        .run(|| {
            let admitted = limiter
                .check()
                .map_err(|_| StackError::Limited)
                .and_then(|()| breaker.try_acquire().map_err(|_| StackError::Open));
            async move {
                let permit = admitted?;
                let value = black_box(7u32);
                permit.record(Outcome::Success);
                Ok::<u32, StackError>(value)
            }
        })
        .await
        .into_result()
        .is_ok()
}

/// Times `iters` awaits of `one` inside a single `block_on`.
fn timed<F, Fut>(rt: &Runtime, iters: u64, mut one: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(one().await);
        }
        start.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("stack/no_op_call");

    // Ours, with the default clock (tokio's Instant, follows paused time in tests), and
    // with the TSC clock for the limiter, as governor uses by default.
    let breaker = CircuitBreaker::new("upstream", Config::default()).expect("valid config");
    let retry = Retry::new(ours_policy()).sleeper(noop_sleep as NoopSleep);
    let limiter = RateLimiter::gcra(quota()).expect("valid quota");
    let q_limiter = RateLimiter::with_clock(
        Gcra::new(quota()).expect("valid quota"),
        flunq_ratelimit::QuantaClock::new(),
    );
    group.bench_function("flunq (ratelimit + circuit + retry)", |b| {
        b.iter_custom(|iters| timed(&rt, iters, || ours_call(&retry, &limiter, &breaker)));
    });
    group.bench_function("flunq, limiter on QuantaClock", |b| {
        b.iter_custom(|iters| timed(&rt, iters, || ours_call(&retry, &q_limiter, &breaker)));
    });

    // The peers: governor + failsafe (default policy) + backon (exponential builder).
    let g_limiter = governor::RateLimiter::direct(
        governor::Quota::per_second(NonZeroU32::new(1_000_000_000).expect("non-zero"))
            .allow_burst(NonZeroU32::new(1_000_000_000).expect("non-zero")),
    );
    let f_breaker = failsafe::Config::new().build();
    let peers_call = || {
        (|| async {
            g_limiter.check().map_err(|_| StackError::Limited)?;
            f_breaker
                .call(async { Ok::<u32, ()>(black_box(7u32)) })
                .await
                .map_err(|_| StackError::Open)
        })
        .retry(
            ExponentialBuilder::default()
                .with_jitter()
                .with_max_times(3),
        )
        .sleep(noop_sleep)
    };
    group.bench_function("peers (governor + failsafe + backon)", |b| {
        b.iter_custom(|iters| timed(&rt, iters, || async { peers_call().await.is_ok() }));
    });
    group.finish();

    // Allocations per call of ours, counted outside criterion.
    let iters = 100_000;
    let per_call = rt.block_on(async {
        for _ in 0..1_000 {
            black_box(ours_call(&retry, &limiter, &breaker).await);
        }
        let before = flunq_benches::allocations();
        for _ in 0..iters {
            black_box(ours_call(&retry, &limiter, &breaker).await);
        }
        (flunq_benches::allocations() - before) as f64 / iters as f64
    });
    println!("stack/no_op_call: flunq allocations per call = {per_call}");
}

criterion_group!(benches, bench);
criterion_main!(benches);
