//! One breaker per key, built from a template on first use, with idle
//! breakers evicted so memory stays bounded.
//!
//! # Eviction policy
//!
//! - A breaker is *idle* when no call was acquired on it, and nothing
//!   outside the registry held it, for `idle_after`. Activity is a flag that
//!   `try_acquire` sets (a relaxed load, and a store once per sweep), and
//!   that sweeps clear, so idleness is seen with the sweep's granularity: a
//!   breaker is evicted between `idle_after` and `idle_after +
//!   sweep_interval` after its last call, never earlier.
//! - A breaker that anything outside the registry still holds is never
//!   evicted, however long ago its last call was acquired: a handle from
//!   [`get`](CircuitBreakerRegistry::get) (or a service built on one), or the
//!   [`OwnedPermit`](crate::OwnedPermit) of a call still running. So a long
//!   call's outcome always lands on the breaker the registry hands out, and
//!   two holders of one key never see two breakers. The check is the
//!   handle's reference count, read by the sweep: it costs the calls
//!   nothing.
//! - An idle, unheld breaker is evicted when it holds nothing of interest:
//!   closed with no failure, no slow call and no consecutive failure in its
//!   window. An open breaker whose period is still running is always kept
//!   (dropping it would let traffic hit a failing upstream), and so are
//!   forced-open and disabled ones (an operator's decision). A breaker that
//!   has not recovered yet (open with its period over, or half-open with no
//!   probe in flight) is kept too, since it remembers its grown open
//!   duration and that its next calls are probes; like a closed breaker
//!   with failures in its window, it is evicted only to make room at
//!   `max_keys`.
//! - Sweeps run on the insert path at most once per `sweep_interval`, and on
//!   [`CircuitBreakerRegistry::evict_idle`]. Lookups of existing keys never
//!   sweep: without new keys the registry cannot grow.
//! - At `max_keys`, an insert may sweep for room, also evicting the idle,
//!   unheld breakers that hold failures or have not recovered; such sweeps
//!   run at most once per `sweep_interval` (one thread at a time), so a
//!   stream of new keys at the cap does not sweep every shard for each of
//!   them. If no sweep is due, or it freed nothing, the insert fails with
//!   [`RegistryFull`] (fail closed: the caller decides what a full registry
//!   means).

//! # Cost
//!
//! The map is cut into 16 shards, each a `RwLock<HashMap>`. Looking up an
//! existing key hashes it twice (shard, then map), takes its shard's read
//! lock, and clones the handle (one reference-count increment). Inserts take
//! one shard's write lock.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::breaker::CircuitBreaker;
use crate::config::{Config, ConfigError};
use crate::core::Idleness;
use crate::state::StateListener;

const SHARDS: usize = 16;

/// The registry holds `max_keys` breakers, none of which can be evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker registry full: {max_keys} keys, none idle")]
pub struct RegistryFull {
    /// The configured maximum.
    pub max_keys: usize,
}

struct Entry {
    breaker: CircuitBreaker,
    /// The last sweep that saw activity (or the insert).
    last_seen: Instant,
}

type Shard = RwLock<HashMap<Arc<str>, Entry>>;

/// Breakers by key, built from one template configuration.
pub struct CircuitBreakerRegistry {
    template: Config,
    listener: Option<Arc<dyn StateListener>>,
    shards: Box<[Shard]>,
    hasher: RandomState,
    len: AtomicUsize,
    idle_after: Duration,
    sweep_interval: Duration,
    max_keys: usize,
    last_sweep: Mutex<Instant>,
    /// The last sweep for room at `max_keys`, if any.
    last_pressure_sweep: Mutex<Option<Instant>>,
}

impl fmt::Debug for CircuitBreakerRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerRegistry")
            .field("template", &self.template)
            .field("len", &self.len())
            .field("idle_after", &self.idle_after)
            .field("sweep_interval", &self.sweep_interval)
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}

impl CircuitBreakerRegistry {
    /// Breakers are evicted after this long without a call.
    pub const DEFAULT_IDLE_AFTER: Duration = Duration::from_secs(600);
    /// At most one insert-path sweep per this interval.
    pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(60);
    /// The default cap on keys.
    pub const DEFAULT_MAX_KEYS: usize = 10_000;

    /// A registry with the default eviction settings.
    pub fn new(template: Config) -> Result<Self, ConfigError> {
        Self::builder(template).build()
    }

    /// A builder for the eviction settings and a shared listener.
    pub fn builder(template: Config) -> RegistryBuilder {
        RegistryBuilder {
            template,
            listener: None,
            idle_after: Self::DEFAULT_IDLE_AFTER,
            sweep_interval: Self::DEFAULT_SWEEP_INTERVAL,
            max_keys: Self::DEFAULT_MAX_KEYS,
        }
    }

    fn shard(&self, key: &str) -> &Shard {
        let index = self.hasher.hash_one(key) as usize % SHARDS;
        // `shards` has exactly SHARDS entries (built in `RegistryBuilder::build`).
        &self.shards[index]
    }

    /// The breaker for `key`, built from the template on first use.
    pub fn get(&self, key: &str) -> Result<CircuitBreaker, RegistryFull> {
        let shard = self.shard(key);
        if let Some(entry) = shard
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return Ok(entry.breaker.clone());
        }
        self.insert(shard, key)
    }

    /// The breaker for `key` if the registry holds one.
    pub fn get_existing(&self, key: &str) -> Option<CircuitBreaker> {
        let shard = self
            .shard(key)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        shard.get(key).map(|entry| entry.breaker.clone())
    }

    #[cold]
    fn insert(&self, shard: &Shard, key: &str) -> Result<CircuitBreaker, RegistryFull> {
        let now = Instant::now();
        self.sweep_if_due(now);
        if self.len.fetch_add(1, Relaxed) >= self.max_keys {
            self.len.fetch_sub(1, Relaxed);
            let full = RegistryFull {
                max_keys: self.max_keys,
            };
            if !self.sweep_for_room_if_due(now) {
                return Err(full);
            }
            if self.len.fetch_add(1, Relaxed) >= self.max_keys {
                self.len.fetch_sub(1, Relaxed);
                return Err(full);
            }
        }
        let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = map.get(key) {
            // Another thread inserted it meanwhile: give the reservation back.
            self.len.fetch_sub(1, Relaxed);
            return Ok(entry.breaker.clone());
        }
        let key: Arc<str> = Arc::from(key);
        let breaker = CircuitBreaker::from_valid(
            Arc::clone(&key),
            self.template.clone(),
            self.listener.clone(),
        );
        map.insert(
            key,
            Entry {
                breaker: breaker.clone(),
                last_seen: now,
            },
        );
        Ok(breaker)
    }

    fn sweep_if_due(&self, now: Instant) {
        let due = match self.last_sweep.try_lock() {
            Ok(mut last) if now.saturating_duration_since(*last) >= self.sweep_interval => {
                *last = now;
                true
            }
            _ => false,
        };
        if due {
            self.sweep(now, false);
        }
    }

    /// Sweeps for room at `max_keys` unless another thread is doing so or the
    /// last such sweep is under `sweep_interval` old; returns whether it swept.
    fn sweep_for_room_if_due(&self, now: Instant) -> bool {
        let due = match self.last_pressure_sweep.try_lock() {
            Ok(mut last)
                if last
                    .is_none_or(|at| now.saturating_duration_since(at) >= self.sweep_interval) =>
            {
                *last = Some(now);
                true
            }
            _ => false,
        };
        if due {
            self.sweep(now, true);
        }
        due
    }

    /// Evicts the idle breakers that hold nothing of interest (see the
    /// module's policy) and returns how many went.
    pub fn evict_idle(&self) -> usize {
        let now = Instant::now();
        *self
            .last_sweep
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = now;
        self.sweep(now, false)
    }

    fn sweep(&self, now: Instant, under_pressure: bool) -> usize {
        let mut evicted = 0;
        for shard in self.shards.iter() {
            let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
            let before = map.len();
            map.retain(|_, entry| {
                // Being held (by a handle, or a permit of a call in flight) counts as
                // activity: the holder may record an outcome at any time.
                if entry.breaker.take_touched() | entry.breaker.is_shared() {
                    entry.last_seen = now;
                    return true;
                }
                if now.saturating_duration_since(entry.last_seen) < self.idle_after {
                    return true;
                }
                match entry.breaker.idleness(now) {
                    Idleness::Clean => false,
                    Idleness::HoldsHistory => !under_pressure,
                    Idleness::Keep => true,
                }
            });
            evicted += before - map.len();
        }
        self.len.fetch_sub(evicted, Relaxed);
        evicted
    }

    /// How many breakers the registry holds.
    pub fn len(&self) -> usize {
        self.len.load(Relaxed)
    }

    /// Whether the registry holds no breaker.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Builds a [`CircuitBreakerRegistry`].
#[must_use]
pub struct RegistryBuilder {
    template: Config,
    listener: Option<Arc<dyn StateListener>>,
    idle_after: Duration,
    sweep_interval: Duration,
    max_keys: usize,
}

impl fmt::Debug for RegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryBuilder")
            .field("template", &self.template)
            .field("listener", &self.listener.is_some())
            .field("idle_after", &self.idle_after)
            .field("sweep_interval", &self.sweep_interval)
            .field("max_keys", &self.max_keys)
            .finish()
    }
}

impl RegistryBuilder {
    /// Evict breakers after this long without a call (default 10 min).
    pub fn idle_after(mut self, idle_after: Duration) -> Self {
        self.idle_after = idle_after;
        self
    }

    /// Sweep on insert at most once per this interval (default 1 min).
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// Hold at most this many keys (default 10,000).
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// One listener for every breaker; each event carries its key.
    pub fn on_state_change(mut self, listener: impl StateListener) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// Validates the template and builds the registry.
    pub fn build(self) -> Result<CircuitBreakerRegistry, ConfigError> {
        self.template.validate()?;
        Ok(CircuitBreakerRegistry {
            template: self.template,
            listener: self.listener,
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            len: AtomicUsize::new(0),
            idle_after: self.idle_after,
            sweep_interval: self.sweep_interval,
            max_keys: self.max_keys,
            last_sweep: Mutex::new(Instant::now()),
            last_pressure_sweep: Mutex::new(None),
        })
    }
}
