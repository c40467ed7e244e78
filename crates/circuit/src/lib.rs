#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! A circuit breaker: stop calling an upstream that is failing, give it time,
//! probe it, and resume when it is healthy again.
//!
//! Use it in front of any call whose failure you would rather not pay for
//! again and again (a timeout costs the whole timeout): HTTP upstreams,
//! databases, queues. Use [`CircuitBreakerRegistry`] to keep one breaker per
//! upstream or per configuration key, and the `tower` feature's
//! `CircuitBreakerLayer` to put one in a service stack.
//!
//! # What it does
//!
//! - **States**: [`State::Closed`], [`State::Open`], [`State::HalfOpen`],
//!   and the manual [`State::ForcedOpen`] (reject everything) and
//!   [`State::Disabled`] (let everything through, record nothing), entered
//!   with [`CircuitBreaker::force_open`] and [`CircuitBreaker::disable`] and
//!   left with [`CircuitBreaker::reset`].
//! - **Tripping**: on a failure rate over a count-based window (the last N
//!   calls) or a time-based one (buckets over a duration), once the window
//!   holds `minimum_calls`; on a slow-call rate; or after K failures in a
//!   row. See [`Config`] for the defaults (close to resilience4j's).
//! - **Open** for `open_for`, growing by a multiplier up to a cap when the
//!   probes keep failing, back to the base after a successful close. The
//!   first acquire after the open period turns the breaker half-open: no
//!   timer task.
//! - **Half-open** admits exactly `half_open_calls` probes and rejects the
//!   rest while they run ([`Rejected::HalfOpenFull`]); a probe dropped
//!   without a record gives its slot back. Once every probe has reported,
//!   their failure and slow rates decide: close or reopen.
//! - **Events**: a [`StateListener`] set at build time gets every
//!   [`StateChange`] with the key, from, to and time, after locks are
//!   released. **Metrics**: [`CircuitBreaker::snapshot`].
//!
//! # Design and trade-offs
//!
//! The closed state, where a healthy service spends its life, takes no lock
//! and allocates nothing. The state is one atomic word (state and
//! generation). The count window is a ring of atomic slots with packed
//! running totals: a success over a success costs two atomic operations. The
//! time window is a ring of atomic buckets tagged by a head epoch, with
//! running totals subtracted on eviction, so reading it is O(1). Transitions
//! take a mutex; half-open, which is short and admits few calls, runs under
//! it too.
//!
//! The price of atomics is a bounded imprecision under races: a call racing
//! with a bucket rotation or a transition may be counted in a newer bucket,
//! lost with the old one, or dropped; at most one per racing thread, and the
//! totals stay exactly equal to the slots once the racing calls are done.
//! Records from calls granted before a transition are dropped, because they
//! describe the previous period.
//!
//! Time comes from [`tokio::time::Instant`], so tests run on paused time. It
//! is read as little as possible: never in the closed state with a count
//! window and no slow-call threshold; once per record with a time window;
//! once at acquire and once at record when slow calls are judged.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use flunq_circuit::{CircuitBreaker, Config, Outcome, Rejected, SlidingWindow};
//!
//! let config = Config::builder()
//!     .failure_rate(0.5)
//!     .minimum_calls(4)
//!     .window(SlidingWindow::time(Duration::from_secs(60)))
//!     .open_for(Duration::from_secs(30))
//!     .half_open_calls(3)
//!     .build()?;
//! let breaker = CircuitBreaker::builder("payments", config)
//!     .on_state_change(|change: &flunq_circuit::StateChange| {
//!         eprintln!("{}: {} -> {}", change.key, change.from, change.to);
//!     })
//!     .build()?;
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()?;
//! # rt.block_on(async {
//! for _ in 0..4 {
//!     let permit = breaker.try_acquire().expect("closed");
//!     permit.record(Outcome::Failure);
//! }
//! assert!(matches!(breaker.try_acquire(), Err(Rejected::Open { .. })));
//!
//! // Or let the breaker acquire and record around a future.
//! let result = breaker.call(async { Ok::<_, std::io::Error>(42) }, Outcome::of_result).await;
//! assert!(result.unwrap_err().is_rejected());
//! # });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Compared with the peers
//!
//! - **failsafe**: one mutex around the state, an EMA success rate, and a
//!   half-open state that admits every call and closes on one success. It
//!   has no count window, no slow-call detection, no forced or disabled
//!   states and no window snapshot. It does have pluggable jittered backoff
//!   for the open duration (ours is a plain multiplier with a cap).
//! - **recloser**: lock-light and fast, count window only; half-open admits
//!   every call until `half_open_len` results are in. No time window, no
//!   slow calls, no consecutive-failure trip, no forced states, no keyed
//!   registry. It can set a separate half-open error rate, which we don't.
//! - **tower-resilience-circuitbreaker**: the closest in features (windows,
//!   slow calls, permits, manual mode, events) but a tower service first,
//!   with a mutex behind an atomic fast path and a fresh semaphore per
//!   half-open cycle; no keyed registry with eviction.
//! - **resilience4j / Polly v8** are the feature references; we follow
//!   resilience4j's states and defaults. We have no METRICS_ONLY state and
//!   no automatic open-to-half-open timer.

mod breaker;
mod config;
mod core;
mod outcome;
mod permit;
mod registry;
mod state;
mod window;

#[cfg(feature = "tower")]
pub mod tower;

pub use breaker::{CircuitBreaker, CircuitBreakerBuilder, Snapshot};
pub use config::{
    Config, ConfigBuilder, ConfigError, MAX_WINDOW_BUCKETS, MAX_WINDOW_CALLS, MIN_BUCKET,
    SlidingWindow,
};
pub use outcome::{CallError, Outcome, Rejected};
pub use permit::{OwnedPermit, Permit};
pub use registry::{CircuitBreakerRegistry, RegistryBuilder, RegistryFull};
pub use state::{State, StateChange, StateListener};
