//! Many threads on one limiter never get more permits than the algorithm allows.
// Helpers outside #[test] functions may unwrap too: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use flunq_ratelimit::{Algorithm, Gcra, ManualClock, Quota, RateLimiter, SlidingWindow};

const THREADS: usize = 4;
const STEPS: usize = 200;
const TRIES_PER_STEP: usize = 100;

/// Each step: advance the fake clock, then every thread tries `TRIES_PER_STEP` times.
fn admitted_under_contention<A: Algorithm>(algorithm: A, step: Duration) -> u64 {
    let clock = ManualClock::new();
    let limiter = Arc::new(RateLimiter::with_clock(algorithm, clock.clone()));
    let admitted = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (limiter, admitted, barrier) = (limiter.clone(), admitted.clone(), barrier.clone());
            std::thread::spawn(move || {
                for _ in 0..STEPS {
                    barrier.wait();
                    for _ in 0..TRIES_PER_STEP {
                        if limiter.check().is_ok() {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    barrier.wait();
                }
            })
        })
        .collect();
    for _ in 0..STEPS {
        barrier.wait();
        barrier.wait();
        clock.advance(step);
    }
    for worker in workers {
        worker.join().unwrap();
    }
    admitted.load(Ordering::Relaxed)
}

/// The same clock steps, one caller: at a frozen instant the admitted count is deterministic.
fn admitted_sequentially<A: Algorithm>(algorithm: A, step: Duration) -> u64 {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(algorithm, clock.clone());
    let mut admitted = 0;
    for _ in 0..STEPS {
        for _ in 0..THREADS * TRIES_PER_STEP {
            admitted += u64::from(limiter.check().is_ok());
        }
        clock.advance(step);
    }
    admitted
}

#[test]
fn gcra_admits_exactly_burst_plus_elapsed_intervals_under_contention() {
    // Burst 50, one permit per ms; 199 advances of 1 ms between the 200 steps.
    let gcra = Gcra::new(Quota::per_second(1000).burst(50)).unwrap();
    let admitted = admitted_under_contention(gcra, Duration::from_millis(1));
    assert_eq!(admitted, 50 + (STEPS as u64 - 1));
}

#[test]
fn sliding_window_admits_exactly_the_sequential_count_under_contention() {
    let quota = Quota::new(40, Duration::from_millis(20));
    let step = Duration::from_micros(700);
    let expected = admitted_sequentially(SlidingWindow::new(quota).unwrap(), step);
    let admitted = admitted_under_contention(SlidingWindow::new(quota).unwrap(), step);
    assert_eq!(admitted, expected);
    assert!(expected > 40);
}
