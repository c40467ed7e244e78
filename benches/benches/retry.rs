//! flunq-retry against backon, in the same criterion groups.
//!
//! Each case awaits the retry loop `iters` times inside one `block_on` on a current-thread
//! tokio runtime. backon gets a no-op sleeper so its zero-delay case measures the loop and
//! not tokio's `sleep(ZERO)` (about 1 ms); ours skips the timer on zero delays by itself,
//! and is measured with a no-op sleeper too, and with its default tokio sleeper.

use std::future::{Ready, ready};
use std::hint::black_box;
use std::time::{Duration, Instant};

use backon::{ConstantBuilder, ExponentialBuilder, Retryable};
use criterion::{Criterion, criterion_group, criterion_main};
use flunq_retry::{Retry, RetryPolicy};
use tokio::runtime::Runtime;

#[global_allocator]
static ALLOC: flunq_benches::CountingAlloc = flunq_benches::CountingAlloc;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

fn noop_sleep(_: Duration) -> Ready<()> {
    ready(())
}

/// An operation that fails `failures` times, then succeeds.
fn failing_then_ok(failures: u32) -> impl FnMut() -> Ready<Result<u32, &'static str>> {
    let mut calls = 0;
    move || {
        calls += 1;
        ready(if calls <= failures {
            Err("transient")
        } else {
            Ok(calls)
        })
    }
}

/// Times `iters` runs of `one` inside a single `block_on`.
fn timed<F, Fut>(rt: &Runtime, iters: u64, mut one: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(one().await);
        }
        start.elapsed()
    })
}

/// Allocations per run of `one`, counted over `iters` runs inside one `block_on`.
fn allocations_per_call<F, Fut>(rt: &Runtime, iters: u64, mut one: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future,
{
    rt.block_on(async {
        let before = flunq_benches::allocations();
        for _ in 0..iters {
            black_box(one().await);
        }
        (flunq_benches::allocations() - before) as f64 / iters as f64
    })
}

fn first_call_succeeds(c: &mut Criterion) {
    let rt = runtime();
    let policy = RetryPolicy::default();
    let ours = Retry::new(policy.clone());
    let mut group = c.benchmark_group("retry/first_call_succeeds");
    group.bench_function("flunq-retry", |b| {
        b.iter_custom(|iters| timed(&rt, iters, || ours.run(|| ready(Ok::<u32, ()>(1)))))
    });
    group.bench_function("flunq-retry (Retry built per call)", |b| {
        b.iter_custom(|iters| {
            timed(&rt, iters, || async {
                Retry::new(policy.clone())
                    .run(|| ready(Ok::<u32, ()>(1)))
                    .await
            })
        })
    });
    group.bench_function("backon", |b| {
        b.iter_custom(|iters| {
            timed(&rt, iters, || {
                (|| ready(Ok::<u32, ()>(1))).retry(ExponentialBuilder::default())
            })
        })
    });
    group.finish();

    let allocs = allocations_per_call(&rt, 10_000, || ours.run(|| ready(Ok::<u32, ()>(1))));
    println!("flunq-retry first_call_succeeds: {allocs} allocations/call");
}

fn three_failures_then_success(c: &mut Criterion) {
    let rt = runtime();
    let policy = RetryPolicy::fixed(Duration::ZERO)
        .max_retries(3)
        .build()
        .expect("policy");
    let ours_noop = Retry::new(policy.clone()).sleeper(noop_sleep);
    let ours_tokio = Retry::new(policy);
    let backoff = ConstantBuilder::default()
        .with_delay(Duration::ZERO)
        .with_max_times(3);
    let mut group = c.benchmark_group("retry/3_failures_then_success_zero_delay");
    group.bench_function("flunq-retry (no-op sleeper)", |b| {
        b.iter_custom(|iters| timed(&rt, iters, || ours_noop.run(failing_then_ok(3))))
    });
    group.bench_function("flunq-retry (tokio sleeper)", |b| {
        b.iter_custom(|iters| timed(&rt, iters, || ours_tokio.run(failing_then_ok(3))))
    });
    group.bench_function("backon (no-op sleeper)", |b| {
        b.iter_custom(|iters| {
            timed(&rt, iters, || {
                failing_then_ok(3).retry(backoff).sleep(noop_sleep)
            })
        })
    });
    group.finish();

    let allocs = allocations_per_call(&rt, 10_000, || ours_tokio.run(failing_then_ok(3)));
    println!("flunq-retry 3_failures_then_success (tokio sleeper): {allocs} allocations/call");
}

criterion_group!(benches, first_call_succeeds, three_failures_then_success);
criterion_main!(benches);
