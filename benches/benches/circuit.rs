//! Circuit breakers in the closed state: flunq-circuit against failsafe and
//! recloser, one group per scenario so the report shows them side by side.
//!
//! A "call" is: ask for leave, run a trivial successful operation, record it.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use failsafe::CircuitBreaker as _;
use flunq_circuit::{CircuitBreaker, Config, Outcome};

#[global_allocator]
static ALLOC: flunq_benches::CountingAlloc = flunq_benches::CountingAlloc;

fn ours(config: Config) -> CircuitBreaker {
    CircuitBreaker::new("bench", config).expect("valid config")
}

/// resilience4j-like defaults: failure rate over the last 100 calls.
fn ours_count_window() -> CircuitBreaker {
    ours(Config::default())
}

/// The analogue of failsafe's default: a rate over a 30 s time window, or
/// 5 failures in a row.
fn ours_time_window() -> CircuitBreaker {
    ours(
        Config::builder()
            .time_window(Duration::from_secs(30), 10)
            .minimum_calls(5)
            .consecutive_failures(5)
            .build()
            .expect("valid config"),
    )
}

fn ours_consecutive() -> CircuitBreaker {
    ours(
        Config::builder()
            .no_failure_rate()
            .consecutive_failures(5)
            .build()
            .expect("valid config"),
    )
}

fn ours_slow_calls() -> CircuitBreaker {
    ours(
        Config::builder()
            .slow_call_duration(Duration::from_secs(5))
            .build()
            .expect("valid config"),
    )
}

#[inline]
fn call_ours(breaker: &CircuitBreaker) {
    if let Ok(permit) = breaker.try_acquire() {
        let value: Result<u32, ()> = black_box(Ok(1));
        permit.record(if value.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        });
    }
}

fn closed_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("circuit/closed_call");
    let count = ours_count_window();
    group.bench_function("flunq count window (default)", |b| {
        b.iter(|| call_ours(&count))
    });
    let time = ours_time_window();
    group.bench_function("flunq time window + consecutive", |b| {
        b.iter(|| call_ours(&time))
    });
    let consecutive = ours_consecutive();
    group.bench_function("flunq consecutive_failures only", |b| {
        b.iter(|| call_ours(&consecutive))
    });
    let slow = ours_slow_calls();
    group.bench_function("flunq count window + slow calls", |b| {
        b.iter(|| call_ours(&slow))
    });

    let failsafe_default = failsafe::Config::new().build();
    group.bench_function("failsafe default", |b| {
        b.iter(|| black_box(failsafe_default.call(|| black_box(Ok::<u32, ()>(1)))))
    });
    let failsafe_consecutive = failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(
            5,
            failsafe::backoff::constant(Duration::from_secs(30)),
        ))
        .build();
    group.bench_function("failsafe consecutive_failures only", |b| {
        b.iter(|| black_box(failsafe_consecutive.call(|| black_box(Ok::<u32, ()>(1)))))
    });
    let recloser = recloser::Recloser::default();
    group.bench_function("recloser default", |b| {
        b.iter(|| black_box(recloser.call(|| black_box(Ok::<u32, ()>(1)))))
    });
    group.finish();
}

/// Two threads on one breaker; reports the time per call of each thread.
fn two_threads<B: Send + Sync + 'static>(breaker: Arc<B>, call: fn(&B), iters: u64) -> Duration {
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (breaker, barrier) = (Arc::clone(&breaker), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for _ in 0..iters {
                    call(&breaker);
                }
                start.elapsed()
            })
        })
        .collect();
    let total: Duration = handles
        .into_iter()
        .map(|h| h.join().expect("bench thread"))
        .sum();
    total / 2
}

fn contended_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("circuit/closed_call_2_threads");
    let count = Arc::new(ours_count_window());
    group.bench_function("flunq count window (default)", |b| {
        b.iter_custom(|iters| two_threads(Arc::clone(&count), call_ours, iters))
    });
    let time = Arc::new(ours_time_window());
    group.bench_function("flunq time window + consecutive", |b| {
        b.iter_custom(|iters| two_threads(Arc::clone(&time), call_ours, iters))
    });
    let failsafe_default = Arc::new(failsafe::Config::new().build());
    group.bench_function("failsafe default", |b| {
        b.iter_custom(|iters| {
            two_threads(
                Arc::clone(&failsafe_default),
                |cb| {
                    black_box(cb.call(|| black_box(Ok::<u32, ()>(1)))).ok();
                },
                iters,
            )
        })
    });
    let recloser = Arc::new(recloser::Recloser::default());
    group.bench_function("recloser default", |b| {
        b.iter_custom(|iters| {
            two_threads(
                Arc::clone(&recloser),
                |r| {
                    black_box(r.call(|| black_box(Ok::<u32, ()>(1)))).ok();
                },
                iters,
            )
        })
    });
    group.finish();
}

fn allocations(_: &mut Criterion) {
    const CALLS: u64 = 100_000;
    for (name, breaker) in [
        ("count window (default)", ours_count_window()),
        ("time window + consecutive", ours_time_window()),
        ("consecutive_failures only", ours_consecutive()),
        ("count window + slow calls", ours_slow_calls()),
    ] {
        call_ours(&breaker);
        let per_call = flunq_benches::allocations_per_call(CALLS, || call_ours(&breaker));
        println!("flunq-circuit {name}: {per_call} allocations per closed-state call");
    }
    let failsafe_default = failsafe::Config::new().build();
    let per_call = flunq_benches::allocations_per_call(CALLS, || {
        black_box(failsafe_default.call(|| black_box(Ok::<u32, ()>(1)))).ok();
    });
    println!("failsafe default: {per_call} allocations per closed-state call");
}

criterion_group!(benches, allocations, closed_call, contended_call);
criterion_main!(benches);
