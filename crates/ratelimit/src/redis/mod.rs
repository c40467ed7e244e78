//! Limits shared by every process that uses the same Redis (feature `redis`).
//!
//! [`RedisRateLimiter`] keeps the state of each key in Redis and decides with one Lua script
//! per check, run atomically by the server (the approach of redis-cell and of Stripe's Lua
//! token bucket), so any number of processes, on any number of hosts, share one limit per key.
//! It implements [`RateLimitBackend`], the trait the executor holds, with the semantics of the
//! in-memory algorithms:
//!
//! - [`RedisRateLimiter::token_bucket`]: the GCRA of [`Gcra`](crate::Gcra), `rate` per
//!   `period` with at most `burst` at once.
//! - [`RedisRateLimiter::sliding_window`]: the counter of
//!   [`SlidingWindow`](crate::SlidingWindow), at most `rate` per rolling `period`, the previous
//!   window's count weighted by its share still inside the sliding window (same error bound).
//!
//! # Time
//!
//! The script reads the time from Redis (`TIME`), never from the caller, so processes whose
//! clocks disagree still agree on the limit. Redis 5 and later replicate a script's effects
//! rather than the script, which is what makes reading the time before writing allowed; older
//! servers refuse the write. Times are whole microseconds of Redis's clock: the emission
//! interval and the window are rounded up to microseconds (never faster than asked), so rates
//! above 10⁶ per second act as 10⁶ per second, and windows (`interval × burst`, or the
//! period) longer than 2⁵⁰ µs (35 years) are cut to it, so that every value the script
//! computes stays well below 2⁵³, where Lua's doubles stop being exact. A sliding window whose
//! `rate × period` exceeds 2⁵⁰ µs weighs the previous window at a coarser step (at least 2¹⁷
//! steps per window), rounded towards the stricter answer. If Redis's clock steps back, the
//! limits get stricter for as long, never looser.
//!
//! # Keys and commands
//!
//! A key `k` lives at `{prefix}:rl:tb:{rate}/{period_µs}/{burst}:{k}` (`sw` for the sliding
//! window; the period rounded up to microseconds), so limiters with different quotas never
//! share state. One check sends one `EVALSHA` (through [`redis::Script`], which on `NOSCRIPT`,
//! after a restart or a `SCRIPT FLUSH`, sends `SCRIPT LOAD` and `EVALSHA` again). Inside, the
//! token bucket runs `TIME`, `GET` and, when it grants, `SET … PX`; the sliding window runs
//! `TIME`, `HMGET` and, when it grants, `HSET` and `PEXPIRE`. A refusal writes nothing.
//! Every write sets an expiry: until the bucket's theoretical arrival time has passed (then a
//! missing key means the same thing) or until the end of the next window, plus one second, so
//! idle keys vanish by themselves. The script touches only the key it is given in `KEYS`, as
//! Redis Cluster requires.
//!
//! `n` permits are taken at once or not at all. `n` above the capacity (the burst, or the
//! sliding window's rate) is [`BackendError::InsufficientCapacity`] and `n == 0` is
//! [`Decision::Allowed`], both without a round trip to Redis.
//!
//! # When Redis is out of reach
//!
//! Every failure (connection refused, a timeout, an error raised by the script) is
//! [`BackendError::Unavailable`] holding the [`redis::RedisError`] (downcast the box to read
//! it). The limiter takes no side: whether to let requests through unlimited (fail open) or
//! refuse them (fail closed) is the caller's call, as described on [`BackendError`]; either
//! way, log it, since no limit holds while it lasts.
//!
//! How long a failing check takes is the [`ConnectionManager`]'s business. It reconnects by
//! itself: after an I/O error it starts a new connection in the background, and once Redis is
//! back the next checks succeed, with no need to rebuild the limiter. Meanwhile each check
//! waits for the reconnection in progress and fails when it does; with the default
//! [`ConnectionManagerConfig`](redis::aio::ConnectionManagerConfig) that can be several
//! seconds (6 retries from 100 ms, doubling, 1 s to connect, 500 ms for a reply). A rate
//! limiter should answer faster: lower the retries and timeouts (as in the example below), or
//! bound each check with [`tokio::time::timeout`].
//!
//! A check that fails after its script reached Redis (a reply timeout), or whose future is
//! dropped after the command was sent, may still have taken its permits: Redis runs the script
//! whether or not anyone reads the answer.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use flunq_ratelimit::redis::RedisRateLimiter;
//! use flunq_ratelimit::{BackendError, Decision, Quota, RateLimitBackend};
//! use redis::aio::{ConnectionManager, ConnectionManagerConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let client = redis::Client::open("redis://127.0.0.1:6379")?;
//! // Answer within about 200 ms even while Redis is away; reconnect in the background.
//! let config = ConnectionManagerConfig::new()
//!     .set_number_of_retries(1)
//!     .set_connection_timeout(Some(Duration::from_millis(100)))
//!     .set_response_timeout(Some(Duration::from_millis(100)));
//! let conn = ConnectionManager::new_with_config(client, config).await?;
//!
//! // 100 per second per tenant, at most 20 at once, shared by every replica of the service.
//! let per_tenant: Arc<dyn RateLimitBackend> = Arc::new(RedisRateLimiter::token_bucket(
//!     conn,
//!     "my-service",
//!     Quota::per_second(100).burst(20),
//! )?);
//!
//! match per_tenant.check("tenant-42", 1).await {
//!     Ok(Decision::Allowed) => { /* serve it */ }
//!     Ok(Decision::Limited { retry_after }) => { /* 429, Retry-After: retry_after */ }
//!     Err(BackendError::Unavailable(error)) => {
//!         // Fail open: serve it unlimited, and say so.
//!         eprintln!("rate limiter unavailable, not limiting: {error}");
//!     }
//!     Err(other) => return Err(other.into()),
//! }
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{ErrorKind, RedisError, Script};

use crate::backend::{BackendError, BoxFuture, Decision, RateLimitBackend};
use crate::quota::{Quota, QuotaError};

/// The longest window, in microseconds (2⁵⁰ µs, 35 years): Redis's clock (about 1.8 · 10¹⁵ µs
/// since 1970, a little over 2⁵⁰) plus two windows stays well below 2⁵³ (9 · 10¹⁵), where Lua's
/// doubles stop being exact integers.
const MAX_WINDOW_US: u64 = 1 << 50;

/// The sliding window keeps `limit × window-in-weight-units` at most this, so that the sums of
/// products in its script stay below 2⁵³.
const MAX_WEIGHT_PRODUCT: u128 = 1 << 50;

/// How much longer than it can matter a key lives, in milliseconds: rounding, and a margin for
/// a Redis clock that steps back a little.
const EXPIRY_MARGIN_MS: u64 = 1_000;

static GCRA_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("gcra.lua")));
static SLIDING_WINDOW_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("sliding_window.lua")));

/// A rate limiter whose state lives in Redis, shared by every process using the same Redis and
/// prefix.
///
/// Cheap to clone (the [`ConnectionManager`] is a handle); clones share the connection. See
/// the [module docs](self) for the keys, the commands and what happens while Redis is away.
#[derive(Clone)]
pub struct RedisRateLimiter {
    conn: ConnectionManager,
    /// `{prefix}:rl:{tb|sw}:{rate}/{period_us}/{burst}:`, to which the caller's key is appended.
    key_prefix: String,
    quota: Quota,
    rule: Rule,
}

/// The algorithm and its parameters in the script's units (microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    TokenBucket {
        /// Microseconds between two permits at the steady rate.
        interval: u64,
        /// `interval × burst`: how far ahead of now the bucket may run.
        window: u64,
        burst: u32,
    },
    SlidingWindow {
        window: u64,
        limit: u32,
        /// Microseconds per weight unit (1 unless `limit × window` is huge).
        scale: u64,
        /// `window / scale`: the window in weight units.
        scaled_window: u64,
    },
}

impl Rule {
    fn token_bucket(quota: Quota) -> Result<Self, QuotaError> {
        quota.validate()?;
        let interval = period_micros(quota)
            .div_ceil(u64::from(quota.rate()))
            .max(1);
        let burst = quota.burst_size();
        let window = interval.saturating_mul(u64::from(burst)).min(MAX_WINDOW_US);
        Ok(Self::TokenBucket {
            interval: interval.min(window),
            window,
            burst,
        })
    }

    fn sliding_window(quota: Quota) -> Result<Self, QuotaError> {
        quota.validate()?;
        let window = period_micros(quota);
        let limit = quota.rate();
        let product = u128::from(limit) * u128::from(window);
        // At most 2^32 · 2^50 / 2^50: fits in u64.
        let scale = u64::try_from(product.div_ceil(MAX_WEIGHT_PRODUCT))
            .unwrap_or(u64::MAX)
            .max(1);
        Ok(Self::SlidingWindow {
            window,
            limit,
            scale,
            scaled_window: (window / scale).max(1),
        })
    }

    fn capacity(&self) -> u32 {
        match *self {
            Self::TokenBucket { burst, .. } => burst,
            Self::SlidingWindow { limit, .. } => limit,
        }
    }

    fn tag(&self) -> &'static str {
        match self {
            Self::TokenBucket { .. } => "tb",
            Self::SlidingWindow { .. } => "sw",
        }
    }
}

/// The period in whole microseconds, rounded up, between 1 and [`MAX_WINDOW_US`].
fn period_micros(quota: Quota) -> u64 {
    let micros = quota.period().as_nanos().div_ceil(1_000);
    u64::try_from(micros)
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_WINDOW_US)
}

impl RedisRateLimiter {
    /// A GCRA token bucket (the semantics of [`Gcra`](crate::Gcra)): `quota.rate()` per
    /// `quota.period()`, at most `quota.burst_size()` at once.
    ///
    /// Keys live under `{prefix}:rl:tb:…`. Fails if the rate, the period or the burst is zero.
    pub fn token_bucket(
        conn: ConnectionManager,
        prefix: impl Into<String>,
        quota: Quota,
    ) -> Result<Self, QuotaError> {
        Ok(Self::new(
            conn,
            prefix.into(),
            quota,
            Rule::token_bucket(quota)?,
        ))
    }

    /// A sliding-window counter (the semantics of [`SlidingWindow`](crate::SlidingWindow)): at
    /// most `quota.rate()` per rolling `quota.period()`, the previous window's count weighted
    /// by its remaining share. The quota's burst is not used.
    ///
    /// Keys live under `{prefix}:rl:sw:…`. Fails if the rate or the period is zero (or a burst
    /// was set to zero, as for every limiter).
    pub fn sliding_window(
        conn: ConnectionManager,
        prefix: impl Into<String>,
        quota: Quota,
    ) -> Result<Self, QuotaError> {
        Ok(Self::new(
            conn,
            prefix.into(),
            quota,
            Rule::sliding_window(quota)?,
        ))
    }

    fn new(conn: ConnectionManager, prefix: String, quota: Quota, rule: Rule) -> Self {
        let key_prefix = format!(
            "{prefix}:rl:{}:{}/{}/{}:",
            rule.tag(),
            quota.rate(),
            period_micros(quota),
            quota.burst_size()
        );
        Self {
            conn,
            key_prefix,
            quota,
            rule,
        }
    }

    /// The quota it enforces.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    async fn decide(&self, key: &str, n: u32) -> Result<Decision, BackendError> {
        let capacity = self.rule.capacity();
        if n > capacity {
            return Err(BackendError::InsufficientCapacity {
                requested: n,
                capacity,
            });
        }
        if n == 0 {
            return Ok(Decision::Allowed);
        }
        let redis_key = format!("{}{key}", self.key_prefix);
        let invocation = match self.rule {
            Rule::TokenBucket {
                interval, window, ..
            } => {
                // n ≤ burst, so the cost is at most the window unless the window was cut.
                let cost = interval.saturating_mul(u64::from(n)).min(window);
                let mut invocation = GCRA_SCRIPT.key(redis_key);
                invocation.arg(window).arg(cost).arg(EXPIRY_MARGIN_MS);
                invocation
            }
            Rule::SlidingWindow {
                window,
                limit,
                scale,
                scaled_window,
            } => {
                let mut invocation = SLIDING_WINDOW_SCRIPT.key(redis_key);
                invocation
                    .arg(window)
                    .arg(limit)
                    .arg(n)
                    .arg(scale)
                    .arg(scaled_window)
                    .arg(EXPIRY_MARGIN_MS);
                invocation
            }
        };
        let mut conn = self.conn.clone();
        let wait_micros: i64 = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match u64::try_from(wait_micros) {
            Ok(0) => Ok(Decision::Allowed),
            Ok(wait) => Ok(Decision::Limited {
                retry_after: Duration::from_micros(wait),
            }),
            Err(_) => Err(unavailable(RedisError::from((
                ErrorKind::UnexpectedReturnType,
                "rate-limit script returned a negative wait",
                wait_micros.to_string(),
            )))),
        }
    }
}

fn unavailable(error: RedisError) -> BackendError {
    BackendError::Unavailable(Box::new(error))
}

impl RateLimitBackend for RedisRateLimiter {
    fn check<'a>(&'a self, key: &'a str, n: u32) -> BoxFuture<'a, Result<Decision, BackendError>> {
        Box::pin(self.decide(key, n))
    }
}

impl fmt::Debug for RedisRateLimiter {
    /// Shows the algorithm, the quota and the key prefix; never the connection (whose address
    /// may carry credentials).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("rule", &self.rule)
            .field("quota", &self.quota)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_interval_rounds_up_to_whole_microseconds() {
        assert_eq!(
            Rule::token_bucket(Quota::per_second(3).burst(3)),
            Ok(Rule::TokenBucket {
                interval: 333_334,
                window: 1_000_002,
                burst: 3
            })
        );
        // Above 10^6 per second the interval stays at one microsecond.
        assert_eq!(
            Rule::token_bucket(Quota::new(10, Duration::from_nanos(1))),
            Ok(Rule::TokenBucket {
                interval: 1,
                window: 10,
                burst: 10
            })
        );
    }

    #[test]
    fn huge_windows_are_cut_to_keep_lua_integers_exact() {
        let Ok(Rule::TokenBucket {
            interval, window, ..
        }) = Rule::token_bucket(Quota::new(1, Duration::MAX).burst(u32::MAX))
        else {
            panic!("valid quota");
        };
        assert_eq!((interval, window), (MAX_WINDOW_US, MAX_WINDOW_US));
    }

    #[test]
    fn sliding_window_scales_the_weight_only_when_the_products_get_large() {
        assert_eq!(
            Rule::sliding_window(Quota::per_second(10)),
            Ok(Rule::SlidingWindow {
                window: 1_000_000,
                limit: 10,
                scale: 1,
                scaled_window: 1_000_000
            })
        );
        let Ok(Rule::SlidingWindow {
            window,
            limit,
            scale,
            scaled_window,
        }) = Rule::sliding_window(Quota::new(u32::MAX, Duration::MAX))
        else {
            panic!("valid quota");
        };
        assert_eq!(window, MAX_WINDOW_US);
        assert!(scale > 1);
        assert!(u128::from(limit) * u128::from(scaled_window) <= MAX_WEIGHT_PRODUCT);
        assert!(scaled_window >= 1 << 17);
    }

    #[test]
    fn zero_quotas_are_refused() {
        assert_eq!(
            Rule::token_bucket(Quota::per_second(0)),
            Err(QuotaError::ZeroRate)
        );
        assert_eq!(
            Rule::sliding_window(Quota::new(1, Duration::ZERO)),
            Err(QuotaError::ZeroPeriod)
        );
    }
}
