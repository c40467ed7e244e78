//! One limiter per key (client, tenant, upstream), in bounded memory.
//!
//! Idle keys are dropped automatically: a GCRA key whose theoretical arrival time is already in
//! the past is indistinguishable from a fresh key, and a sliding-window key is idle once two
//! windows have passed without traffic, so dropping either loses nothing. Nobody has to
//! remember to call a `retain_recent` (governor's keyed map grows without bound otherwise).

mod store;

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::time::Duration;

use crate::algorithm::{Algorithm, ensure_capacity};
use crate::clock::{Clock, MonotonicClock};
use crate::error::{KeyedError, NotUntil};
use crate::gcra::Gcra;
use crate::quota::{Quota, QuotaError};
use crate::sliding_window::SlidingWindow;
use crate::wait::{self, Jitter};

use store::{Lookup, Store};

/// The floor of the time between two sweeps forced by the key cap: at most 1000 a second.
const MIN_PRESSURE_SWEEP_INTERVAL: u64 = 1_000_000;

/// A rate limiter per key, with the same [`Algorithm`] and quota for every key.
///
/// Keys live in a sharded map (`RwLock<HashMap>` per shard, foldhash seeded from the OS). A
/// check on a known key takes a read lock and updates atomics: no allocation. Memory stays
/// bounded without help: when a shard grows past twice the keys it kept at its last sweep
/// (and at least 32), the next new key in that shard first sweeps out its idle keys. So the
/// map holds at most about `2 × active keys + 32 × shards`. An optional hard cap
/// ([`max_keys`](KeyedRateLimiter::max_keys)) bounds it absolutely: at the cap, a *new* key is
/// refused with [`KeyedError::TooManyKeys`] (fail closed) unless a sweep of every shard makes
/// room. Such sweeps run at most once per emission interval (GCRA) or window (sliding window),
/// and at most once per millisecond; between them new keys are refused at once, so a client
/// sending fresh keys at the cap cannot make every request sweep the whole map. Existing keys
/// keep their state: evicting an active key would hand it a fresh burst, which is exactly what
/// a rate limiter must not do.
///
/// A check reads the clock before it takes a shard lock, so it may act a little in the past.
/// When its key was swept meanwhile, the recreated key acts no earlier than the sweep, so the
/// late check cannot be granted what the dropped state would have refused.
pub struct KeyedRateLimiter<K, A: Algorithm = Gcra, C: Clock = MonotonicClock> {
    algorithm: A,
    clock: C,
    store: Store<K, A::State>,
}

impl<K: Hash + Eq> KeyedRateLimiter<K, Gcra, MonotonicClock> {
    /// A GCRA token bucket per key, on the default clock.
    pub fn gcra(quota: Quota) -> Result<Self, QuotaError> {
        Ok(Self::with_clock(Gcra::new(quota)?, MonotonicClock::new()))
    }
}

impl<K: Hash + Eq> KeyedRateLimiter<K, SlidingWindow, MonotonicClock> {
    /// A sliding-window counter per key, on the default clock.
    pub fn sliding_window(quota: Quota) -> Result<Self, QuotaError> {
        Ok(Self::with_clock(
            SlidingWindow::new(quota)?,
            MonotonicClock::new(),
        ))
    }
}

impl<K: Hash + Eq, A: Algorithm, C: Clock> KeyedRateLimiter<K, A, C> {
    /// A keyed limiter running `algorithm` for every key on `clock`, with no cap on keys.
    pub fn with_clock(algorithm: A, clock: C) -> Self {
        let pressure_interval = algorithm
            .idle_granularity()
            .max(MIN_PRESSURE_SWEEP_INTERVAL);
        Self {
            algorithm,
            clock,
            store: Store::new(default_shards(), None, pressure_interval),
        }
    }

    /// Caps the number of keys held at once (see the type's docs for what happens at the cap).
    /// Builder style; call it before sharing the limiter.
    #[must_use]
    pub fn max_keys(self, max_keys: usize) -> Self {
        Self {
            store: Store::new(
                self.store.shard_count(),
                Some(max_keys),
                self.store.pressure_interval(),
            ),
            ..self
        }
    }

    /// Takes one permit for `key` now, or says when it will have one. Never waits.
    #[inline]
    pub fn check_key<Q>(&self, key: &Q) -> Result<(), KeyedError>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.acquire(key, 1)
    }

    /// Takes `n` permits for `key` at once, or none (`n == 0` always succeeds).
    pub fn check_key_n<Q>(&self, key: &Q, n: u32) -> Result<(), KeyedError>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        ensure_capacity(&self.algorithm, n)?;
        if n == 0 {
            return Ok(());
        }
        self.acquire(key, n)
    }

    /// Waits on the tokio timer until `key` has a permit; cancel safe (a dropped wait takes
    /// nothing). Fails only with [`KeyedError::TooManyKeys`].
    pub async fn until_key_ready<Q>(&self, key: &Q) -> Result<(), KeyedError>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.until_key_n_ready_with_jitter(key, 1, Duration::ZERO)
            .await
    }

    /// Waits until `key` has `n` permits at once, adding a random `[0, max_jitter)` to each
    /// wait. Fails at once if `n` exceeds the capacity or the key cannot be tracked.
    pub async fn until_key_n_ready_with_jitter<Q>(
        &self,
        key: &Q,
        n: u32,
        max_jitter: Duration,
    ) -> Result<(), KeyedError>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        ensure_capacity(&self.algorithm, n)?;
        if n == 0 {
            return Ok(());
        }
        let mut refused = None;
        wait::until(
            || match self.acquire(key, n) {
                Ok(()) => Ok(()),
                Err(KeyedError::Limited(not_until)) => Err(not_until),
                Err(other) => {
                    refused = Some(other);
                    Ok(())
                }
            },
            Jitter::up_to(max_jitter),
        )
        .await;
        refused.map_or(Ok(()), Err)
    }

    /// `n` must be between 1 and the capacity.
    #[inline]
    fn acquire<Q>(&self, key: &Q, n: u32) -> Result<(), KeyedError>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let now = self.clock.now();
        let algorithm = &self.algorithm;
        let lookup = self.store.with_state(
            key,
            now,
            |state, at| {
                algorithm
                    .acquire(state, at, n)
                    .map_err(|earliest| (earliest, at))
            },
            || algorithm.new_state(),
            |state, at| algorithm.is_idle(state, at),
        );
        match lookup {
            Lookup::Found(Ok(())) => Ok(()),
            Lookup::Found(Err((earliest, at))) => Err(KeyedError::Limited(NotUntil::new(
                earliest,
                at,
                self.clock.origin(),
            ))),
            Lookup::Full => Err(KeyedError::TooManyKeys {
                max_keys: self.store.max_keys().unwrap_or(usize::MAX),
            }),
        }
    }

    /// Drops every idle key now and returns how many were dropped. Never needed for bounded
    /// memory (sweeps happen on their own); useful to shrink after a traffic spike.
    pub fn sweep(&self) -> usize {
        let now = self.clock.now();
        self.store
            .sweep(now, &|state, at| self.algorithm.is_idle(state, at))
    }

    /// The number of keys held (idle keys not yet swept included).
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most permits one call can take for a key.
    pub fn capacity(&self) -> u32 {
        self.algorithm.capacity()
    }

    /// The limiter's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

/// Four shards per core (rounded to a power of two, 8 to 256): enough that threads rarely meet
/// on one lock, few enough that the fixed floor of the memory bound stays small.
fn default_shards() -> usize {
    let cores = std::thread::available_parallelism().map_or(4, usize::from);
    (cores * 4).next_power_of_two().clamp(8, 256)
}

impl<K: Hash + Eq, A: Algorithm + fmt::Debug, C: Clock + fmt::Debug> fmt::Debug
    for KeyedRateLimiter<K, A, C>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimiter")
            .field("algorithm", &self.algorithm)
            .field("clock", &self.clock)
            .field("keys", &self.store.len())
            .field("max_keys", &self.store.max_keys())
            .finish_non_exhaustive()
    }
}
