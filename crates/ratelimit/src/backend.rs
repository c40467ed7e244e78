//! The seam for limits shared by several processes.
//!
//! [`RateLimitBackend`] is what the executor holds (`Arc<dyn RateLimitBackend>`): the in-memory
//! keyed limiters implement it here, and `crate::redis::RedisRateLimiter` (feature `redis`: one
//! Lua script per check, for GCRA and for the sliding window) implements it with the state in
//! Redis, so callers switch from one to the other without changing.

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::algorithm::Algorithm;
use crate::clock::Clock;
use crate::error::KeyedError;
use crate::keyed::KeyedRateLimiter;

/// A boxed, `Send` future: what a dyn-compatible async method returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The answer of a backend to one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The permits were granted and recorded.
    Allowed,
    /// Not now: nothing was recorded; the permits may be granted after `retry_after`.
    Limited {
        /// How long to wait before asking again.
        retry_after: Duration,
    },
}

/// The backend could not decide. No permit was recorded.
///
/// What the caller should do: [`InsufficientCapacity`](BackendError::InsufficientCapacity) is a
/// configuration error (the request can never pass: do not retry it).
/// [`TooManyKeys`](BackendError::TooManyKeys) and [`Unavailable`](BackendError::Unavailable)
/// mean the limiter itself is unable to answer right now; the caller picks fail-open (let the
/// request through unlimited, Stripe's advice for a limiter that is down, so that an outage of
/// the limiter is not an outage of the service) or fail-closed (treat it as limited), and should
/// log it, since limits are not enforced while it lasts.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// More permits than the limit's capacity were asked at once.
    #[error("{requested} permits can never be granted at once: the capacity is {capacity}")]
    InsufficientCapacity {
        /// The permits asked for.
        requested: u32,
        /// The most permits one check can get.
        capacity: u32,
    },
    /// The key is new and the backend holds its maximum number of active keys.
    #[error("key refused: the backend already tracks its maximum of {max_keys} active keys")]
    TooManyKeys {
        /// The configured maximum.
        max_keys: usize,
    },
    /// The backend failed (a network error or timeout talking to Redis, a script error).
    #[error("rate-limit backend unavailable")]
    Unavailable(#[source] Box<dyn Error + Send + Sync>),
}

/// A rate-limit store that decides for a key: in memory ([`KeyedRateLimiter`], one process) or
/// in Redis (`redis::RedisRateLimiter`, feature `redis`, shared by every process using it).
///
/// Dyn-compatible (`Arc<dyn RateLimitBackend>`); `check` returns a boxed future, so each call
/// allocates one small box, even in memory: use [`KeyedRateLimiter`] directly where that matters.
pub trait RateLimitBackend: Send + Sync {
    /// Takes `n` permits for `key`, or says how long to wait. A refusal records nothing.
    fn check<'a>(&'a self, key: &'a str, n: u32) -> BoxFuture<'a, Result<Decision, BackendError>>;
}

impl<A: Algorithm, C: Clock> RateLimitBackend for KeyedRateLimiter<String, A, C> {
    fn check<'a>(&'a self, key: &'a str, n: u32) -> BoxFuture<'a, Result<Decision, BackendError>> {
        Box::pin(std::future::ready(decide(self.check_key_n(key, n))))
    }
}

fn decide(result: Result<(), KeyedError>) -> Result<Decision, BackendError> {
    match result {
        Ok(()) => Ok(Decision::Allowed),
        Err(KeyedError::Limited(not_until)) => Ok(Decision::Limited {
            retry_after: not_until.wait_time(),
        }),
        Err(KeyedError::InsufficientCapacity(c)) => Err(BackendError::InsufficientCapacity {
            requested: c.requested,
            capacity: c.capacity,
        }),
        Err(KeyedError::TooManyKeys { max_keys }) => Err(BackendError::TooManyKeys { max_keys }),
    }
}
