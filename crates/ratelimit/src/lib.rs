//! Rate limiters for clients and servers: a GCRA token bucket on one atomic, a sliding-window
//! counter, keyed limiters whose memory stays bounded on its own, a backend trait for limits
//! shared between processes (feature `redis`: the same two algorithms kept in Redis), and
//! (feature `tower`) a layer whose clones share one limit.
//!
//! # When to use which
//!
//! - [`RateLimiter::gcra`]: "`rate` per `period`, at most `burst` at once", smooth spacing
//!   (`Quota::per_second(10).burst(1)` admits exactly one request every 100 ms). The default.
//! - [`RateLimiter::sliding_window`]: "at most `rate` per rolling `period`" as users of HTTP
//!   APIs understand it, with an approximation whose error bound is stated in
//!   [`SlidingWindow`]'s docs (worst case near 2× the limit for traffic bunched just before a
//!   window boundary; exact for evenly spread traffic).
//! - [`KeyedRateLimiter`]: one limit per client, tenant or upstream, in bounded memory.
//! - [`RateLimitBackend`]: when limits must hold across processes; the executor holds an
//!   `Arc<dyn RateLimitBackend>`, served from memory by [`KeyedRateLimiter`] (one process) or
//!   from Redis by `redis::RedisRateLimiter` (feature `redis`: every process sharing a Redis
//!   shares the limit; one atomic Lua script per check, with Redis's clock).
//!
//! # Design
//!
//! - **GCRA** keeps one theoretical arrival time (TAT, ns since the clock's origin) in one
//!   `AtomicU64`. A check reads the clock once, loads the TAT, decides with a few integer
//!   operations and writes only when it admits (a compare-and-swap): a refusal is a plain load,
//!   so a saturated limiter hammered by many threads does not bounce its cache line.
//! - A refusal is a [`NotUntil`] carrying both the wait as a [`Duration`](std::time::Duration)
//!   and the instant of the next permit, usable without the limiter's clock.
//! - Waits (`until_ready*`) sleep on the tokio timer, optionally with jitter, and are cancel
//!   safe: a permit is recorded only by the check that grants it, never reserved ahead.
//! - Limiters are generic over a [`Clock`] with [`MonotonicClock`] (tokio's `Instant`, which
//!   follows paused time in tests) as default type parameter, so the hot path has no `dyn`.
//!   [`ManualClock`] is a shareable fake clock. Feature `quanta` adds a TSC clock for hot paths
//!   on machines where `clock_gettime` is slow.
//! - Keyed limiters shard a `RwLock<HashMap>` with a seeded foldhash; a known key costs a read
//!   lock and the atomic update (no allocation); new keys sweep idle ones out as shards grow.
//!
//! Trade-offs: the GCRA interval is whole nanoseconds (rates above 10⁹/s saturate); the quota
//! is fixed for the life of a limiter (build a new one to change it, which resets its state);
//! the sliding window is an approximation, as documented.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use flunq_ratelimit::{ManualClock, Quota, RateLimiter, Gcra};
//!
//! let clock = ManualClock::new();
//! let limiter = RateLimiter::with_clock(Gcra::new(Quota::per_second(10).burst(2))?, clock.clone());
//!
//! assert!(limiter.check().is_ok());
//! assert!(limiter.check().is_ok());
//! let refused = limiter.check().unwrap_err();
//! assert_eq!(refused.wait_time(), Duration::from_millis(100));
//!
//! clock.advance(Duration::from_millis(100));
//! assert!(limiter.check().is_ok());
//! # Ok::<(), flunq_ratelimit::QuotaError>(())
//! ```
//!
//! Waiting, on tokio:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), flunq_ratelimit::QuotaError> {
//! use flunq_ratelimit::{KeyedRateLimiter, Quota};
//!
//! let per_client = KeyedRateLimiter::<String>::gcra(Quota::per_second(1000).burst(5))?;
//! for _ in 0..5 {
//!     per_client.until_key_ready("client-a").await.expect("one permit never exceeds the burst");
//! }
//! assert!(per_client.check_key("client-a").is_err());
//! assert!(per_client.check_key("client-b").is_ok());
//! # Ok(()) }
//! ```
//!
//! A limit shared through Redis (feature `redis`; needs a Redis server, so not run here):
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn shared() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use flunq_ratelimit::{Decision, Quota, RateLimitBackend, redis::RedisRateLimiter};
//!
//! let client = redis::Client::open("redis://127.0.0.1:6379")?;
//! let conn = redis::aio::ConnectionManager::new(client).await?;
//! let limiter = RedisRateLimiter::token_bucket(conn, "my-service", Quota::per_second(10))?;
//! if let Decision::Limited { retry_after } = limiter.check("tenant-1", 1).await? {
//!     println!("try again in {retry_after:?}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! None is on by default.
//!
//! - `tower`: the `tower` module, a `Layer` that waits for (or refuses) a permit in
//!   `poll_ready`.
//! - `quanta`: `QuantaClock`, a TSC-based clock, cheaper to read than `Instant::now()` on VMs.
//! - `redis`: the `redis` module, `RedisRateLimiter`: GCRA and sliding-window limits kept in
//!   Redis and shared by every process that uses it (redis-rs with tokio and its
//!   `ConnectionManager`, which reconnects by itself).
//!
//! # Compared with the alternatives
//!
//! - **governor** (the fastest and most used): also GCRA on one atomic, and the model for this
//!   crate's core. What it lacks that this crate has: keyed maps that stay bounded without a
//!   manual `retain_recent` (governor#171), a refusal that gives the wait without the limiter's
//!   clock (governor#241), a sliding window, limits shared through Redis, a tower layer, and a
//!   default clock that never steps backwards (quanta, its default, has been seen to). What it
//!   has that this crate does not: `no_std`, Stream/Sink adapters, state-snapshot middleware
//!   for `X-RateLimit-Remaining`, and a TSC clock by default (cheaper to read than
//!   `clock_gettime` on VMs; here it is the opt-in `quanta` feature).
//! - **leaky-bucket**: async-only, fair queueing of waiters, behind a mutex, 1 ms resolution;
//!   no synchronous check that reports the wait, no keys.
//! - **tower::limit::RateLimit**: a fixed window kept per service instance, so clones do not
//!   share the limit (tower#794); no burst smoothing, no keys. The layer here shares one limiter.
//! - **ratelimit** (iopsystems): a lock-free token bucket with rate changes at run time (which
//!   this crate lacks), but no keys, no async wait and no sliding window.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod algorithm;
mod backend;
mod clock;
mod direct;
mod error;
mod gcra;
mod keyed;
mod quota;
mod sliding_window;
mod wait;

#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "tower")]
pub mod tower;

pub use algorithm::Algorithm;
pub use backend::{BackendError, BoxFuture, Decision, RateLimitBackend};
#[cfg(feature = "quanta")]
pub use clock::QuantaClock;
pub use clock::{Clock, ManualClock, MonotonicClock};
pub use direct::{RateLimiter, SlidingWindowLimiter};
pub use error::{CheckNError, InsufficientCapacity, KeyedError, NotUntil};
pub use gcra::{Gcra, GcraState};
pub use keyed::KeyedRateLimiter;
pub use quota::{Quota, QuotaError};
pub use sliding_window::{SlidingWindow, SlidingWindowState};
