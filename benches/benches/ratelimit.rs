//! flunq-ratelimit against governor, in the same groups of one run.
//!
//! - direct check on one thread, with a huge quota (every check admitted) and with a saturated
//!   limiter (every check refused);
//! - two threads on one limiter (per-thread latency, `iter_custom` with two std threads);
//! - keyed, 10,000 keys cycling.
//!
//! Ours runs with the default clock (`MonotonicClock`, tokio's `Instant`) and with the opt-in
//! `QuantaClock` (the TSC, the same clock governor uses by default).

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use flunq_ratelimit::{
    Clock, Gcra, KeyedRateLimiter, MonotonicClock, QuantaClock, Quota, RateLimiter,
};

#[global_allocator]
static ALLOC: flunq_benches::CountingAlloc = flunq_benches::CountingAlloc;

const HUGE: u32 = 1_000_000_000;
const KEYS: u64 = 10_000;

fn governor_huge() -> governor::DefaultDirectRateLimiter {
    let rate = NonZeroU32::new(HUGE).unwrap();
    governor::RateLimiter::direct(governor::Quota::per_second(rate).allow_burst(rate))
}

fn governor_saturated() -> governor::DefaultDirectRateLimiter {
    let one = NonZeroU32::new(1).unwrap();
    let limiter = governor::RateLimiter::direct(governor::Quota::per_hour(one));
    let _ = limiter.check();
    limiter
}

fn ours_huge<C: Clock>(clock: C) -> RateLimiter<Gcra, C> {
    RateLimiter::with_clock(
        Gcra::new(Quota::per_second(HUGE).burst(HUGE)).unwrap(),
        clock,
    )
}

fn ours_saturated<C: Clock>(clock: C) -> RateLimiter<Gcra, C> {
    let limiter = RateLimiter::with_clock(Gcra::new(Quota::per_hour(1)).unwrap(), clock);
    let _ = limiter.check();
    limiter
}

fn clocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("ratelimit/clock_read");
    let monotonic = MonotonicClock::new();
    group.bench_function("flunq MonotonicClock (tokio Instant)", |b| {
        b.iter(|| black_box(monotonic.now()))
    });
    let quanta = QuantaClock::new();
    group.bench_function("flunq QuantaClock (TSC)", |b| {
        b.iter(|| black_box(quanta.now()))
    });
    group.finish();
}

fn direct_one_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("ratelimit/direct_1_thread_admitted");
    let governor = governor_huge();
    group.bench_function("governor", |b| {
        b.iter(|| black_box(governor.check().is_ok()))
    });
    let ours = ours_huge(MonotonicClock::new());
    group.bench_function("flunq (MonotonicClock)", |b| {
        b.iter(|| black_box(ours.check().is_ok()))
    });
    let ours_q = ours_huge(QuantaClock::new());
    group.bench_function("flunq (QuantaClock)", |b| {
        b.iter(|| black_box(ours_q.check().is_ok()))
    });
    group.finish();

    let mut group = c.benchmark_group("ratelimit/direct_1_thread_refused");
    let governor = governor_saturated();
    group.bench_function("governor", |b| {
        b.iter(|| black_box(governor.check().is_ok()))
    });
    let ours = ours_saturated(MonotonicClock::new());
    group.bench_function("flunq (MonotonicClock)", |b| {
        b.iter(|| black_box(ours.check().is_ok()))
    });
    let ours_q = ours_saturated(QuantaClock::new());
    group.bench_function("flunq (QuantaClock)", |b| {
        b.iter(|| black_box(ours_q.check().is_ok()))
    });
    group.finish();
}

/// Runs `check` `iters` times on each of two threads started together; returns the mean of
/// the two threads' times, i.e. the per-thread latency per check.
fn two_threads(iters: u64, check: impl Fn() -> bool + Send + Sync + 'static) -> Duration {
    let check = Arc::new(check);
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (check, barrier) = (check.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(check());
                }
                start.elapsed()
            })
        })
        .collect();
    let total: Duration = threads.into_iter().map(|t| t.join().unwrap()).sum();
    total / 2
}

fn direct_two_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("ratelimit/direct_2_threads_admitted");
    let governor = Arc::new(governor_huge());
    group.bench_function("governor", |b| {
        b.iter_custom(|iters| {
            let g = governor.clone();
            two_threads(iters, move || g.check().is_ok())
        })
    });
    let ours = Arc::new(ours_huge(MonotonicClock::new()));
    group.bench_function("flunq (MonotonicClock)", |b| {
        b.iter_custom(|iters| {
            let o = ours.clone();
            two_threads(iters, move || o.check().is_ok())
        })
    });
    let ours_q = Arc::new(ours_huge(QuantaClock::new()));
    group.bench_function("flunq (QuantaClock)", |b| {
        b.iter_custom(|iters| {
            let o = ours_q.clone();
            two_threads(iters, move || o.check().is_ok())
        })
    });
    group.finish();

    let mut group = c.benchmark_group("ratelimit/direct_2_threads_refused");
    let governor = Arc::new(governor_saturated());
    group.bench_function("governor", |b| {
        b.iter_custom(|iters| {
            let g = governor.clone();
            two_threads(iters, move || g.check().is_ok())
        })
    });
    let ours_q = Arc::new(ours_saturated(QuantaClock::new()));
    group.bench_function("flunq (QuantaClock)", |b| {
        b.iter_custom(|iters| {
            let o = ours_q.clone();
            two_threads(iters, move || o.check().is_ok())
        })
    });
    group.finish();
}

fn keyed(c: &mut Criterion) {
    let mut group = c.benchmark_group("ratelimit/keyed_10k_keys_cycling");
    // One permit per ms with a burst of 10⁹: every check is admitted and every key stays
    // active (its TAT runs ahead of the clock), so no key is ever idle or evicted mid-run.
    let governor = governor::RateLimiter::keyed(
        governor::Quota::per_second(NonZeroU32::new(1000).unwrap())
            .allow_burst(NonZeroU32::new(HUGE).unwrap()),
    );
    let mut key = 0u64;
    group.bench_function("governor (dashmap)", |b| {
        b.iter(|| {
            key = (key + 1) % KEYS;
            black_box(governor.check_key(&key).is_ok())
        })
    });
    let quota = Quota::per_second(1000).burst(HUGE);
    let ours = KeyedRateLimiter::<u64>::gcra(quota).unwrap();
    group.bench_function("flunq (MonotonicClock)", |b| {
        b.iter(|| {
            key = (key + 1) % KEYS;
            black_box(ours.check_key(&key).is_ok())
        })
    });
    let ours_q =
        KeyedRateLimiter::<u64, _, _>::with_clock(Gcra::new(quota).unwrap(), QuantaClock::new());
    group.bench_function("flunq (QuantaClock)", |b| {
        b.iter(|| {
            key = (key + 1) % KEYS;
            black_box(ours_q.check_key(&key).is_ok())
        })
    });
    group.finish();

    // Allocations per check of ours: direct, and keyed on keys already present.
    let direct = ours_huge(MonotonicClock::new());
    let direct_allocs = flunq_benches::allocations_per_call(100_000, || {
        black_box(direct.check().is_ok());
    });
    let keyed_allocs = flunq_benches::allocations_per_call(100_000, || {
        key = (key + 1) % KEYS;
        black_box(ours.check_key(&key).is_ok());
    });
    println!(
        "flunq-ratelimit allocations per check: direct {direct_allocs}, keyed (existing key) {keyed_allocs}"
    );
}

criterion_group!(
    benches,
    clocks,
    direct_one_thread,
    direct_two_threads,
    keyed
);
criterion_main!(benches);
