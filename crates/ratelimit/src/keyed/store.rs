//! A sharded map of per-key states that forgets idle keys on its own.
//!
//! Each shard is an `RwLock<HashMap>`. A check on a known key takes the shard's read lock and
//! updates the key's atomics in place: no allocation, no reference count. A new key takes the
//! write lock; while it holds it, if the shard has grown past its sweep mark, it first drops
//! the shard's idle keys and sets the next mark at twice the survivors (at least
//! [`MIN_SWEEP_MARK`]). Sweeping is thus amortised O(1) per insert, and a shard never holds
//! more than `max(MIN_SWEEP_MARK, 2 × its keys that were active at its last sweep)` keys.
//!
//! Times are passed in by the caller (nanoseconds since the clock's origin), read *before* it
//! reaches the shard lock, so a caller may be late. A sweep at `t` only drops states that are
//! idle at `t`, so a late caller that then recreates a dropped key must act no earlier than
//! `t`, or the fresh state would grant at an old time what the dropped one would have refused:
//! each shard remembers its latest sweep time, and a key created there acts at
//! `max(now, swept_at)`. Keys found on the read path use the caller's time as is.
//!
//! At the key cap, a new key may sweep every shard, but at most once per `pressure_interval`
//! (and one thread at a time); otherwise it is refused at once, so a client sending new keys
//! at the cap costs one atomic load per request, not a sweep of the whole map.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use foldhash::SharedSeed;
use foldhash::fast::SeedableRandomState;

/// A shard sweeps when it reaches this many keys, or twice its survivors of the last sweep.
pub(crate) const MIN_SWEEP_MARK: usize = 32;

/// Shards are chosen by hash bits 40 and up: hashbrown uses the low bits for the bucket and
/// the top seven as tags, so these stay independent of both (at most 2^16 shards).
const SHARD_SHIFT: u32 = 40;

/// foldhash keyed with 64 bits from the OS (through std's SipHash keys), so that users who
/// choose the keys (client addresses, API keys) cannot predict collisions: foldhash's own
/// global seed comes from address-space layout and the time, which is weaker.
fn seeded_hasher() -> SeedableRandomState {
    static SHARED: OnceLock<SharedSeed> = OnceLock::new();
    let shared = SHARED.get_or_init(|| SharedSeed::from_u64(os_random_u64()));
    SeedableRandomState::with_seed(os_random_u64(), shared)
}

fn os_random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x5eed);
    hasher.finish()
}

/// One shard, on its own cache lines so that two shards' locks never share one.
#[repr(align(128))]
struct Shard<K, V> {
    map: RwLock<ShardMap<K, V>>,
}

struct ShardMap<K, V> {
    entries: HashMap<K, V, SeedableRandomState>,
    sweep_mark: usize,
    /// The latest time at which a sweep dropped keys from this shard.
    swept_at: u64,
}

/// The result of asking for a key's state.
pub(crate) enum Lookup<R> {
    Found(R),
    /// The key is new and the store is at its maximum of live keys.
    Full,
}

pub(crate) struct Store<K, V> {
    shards: Box<[Shard<K, V>]>,
    hasher: SeedableRandomState,
    len: AtomicUsize,
    max_keys: Option<usize>,
    /// The least time between two sweeps forced by the key cap.
    pressure_interval: u64,
    /// The earliest time of the next sweep forced by the key cap.
    next_pressure_sweep: AtomicU64,
}

impl<K: Hash + Eq, V> Store<K, V> {
    pub(crate) fn new(shards: usize, max_keys: Option<usize>, pressure_interval: u64) -> Self {
        let shards = shards.clamp(1, 1 << 16).next_power_of_two();
        let hasher = seeded_hasher();
        Self {
            shards: (0..shards)
                .map(|_| Shard {
                    map: RwLock::new(ShardMap {
                        entries: HashMap::with_hasher(hasher.clone()),
                        sweep_mark: MIN_SWEEP_MARK,
                        swept_at: 0,
                    }),
                })
                .collect(),
            hasher,
            len: AtomicUsize::new(0),
            max_keys,
            pressure_interval,
            next_pressure_sweep: AtomicU64::new(0),
        }
    }

    fn shard_of<Q: Hash + ?Sized>(&self, key: &Q) -> &Shard<K, V> {
        let hash = self.hasher.hash_one(key);
        let mask = self.shards.len() - 1;
        // The mask keeps the index in bounds.
        &self.shards[((hash >> SHARD_SHIFT) as usize) & mask]
    }

    /// Runs `use_state` on the key's state at `now`, creating the state with `create` if the
    /// key is new; a new key's state is used at `max(now, the shard's last sweep)`, and
    /// `use_state` is told that time. `is_idle` tells which keys a sweep at a time may drop.
    pub(crate) fn with_state<Q, R>(
        &self,
        key: &Q,
        now: u64,
        use_state: impl FnOnce(&V, u64) -> R,
        create: impl FnOnce() -> V,
        is_idle: impl Fn(&V, u64) -> bool,
    ) -> Lookup<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let shard = self.shard_of(key);
        {
            let map = read(&shard.map);
            if let Some(state) = map.entries.get(key) {
                return Lookup::Found(use_state(state, now));
            }
        }
        let mut map = write(&shard.map);
        if !map.entries.contains_key(key) {
            if map.entries.len() >= map.sweep_mark {
                self.sweep_shard(&mut map, now, &is_idle);
            }
            if !self.reserve_slot() {
                drop(map);
                if !self.claim_pressure_sweep(now) {
                    return Lookup::Full;
                }
                self.sweep(now, &is_idle);
                map = write(&shard.map);
                if !map.entries.contains_key(key) && !self.reserve_slot() {
                    return Lookup::Full;
                }
            }
        }
        // Whether the key is new or another thread created it meanwhile, act no earlier than
        // the sweeps that may have dropped its earlier state.
        let at = now.max(map.swept_at);
        let state = map.entries.entry(key.to_owned()).or_insert_with(create);
        Lookup::Found(use_state(state, at))
    }

    /// Whether this caller may sweep every shard for room at the cap: true for one caller
    /// per `pressure_interval`.
    fn claim_pressure_sweep(&self, now: u64) -> bool {
        let next = self.next_pressure_sweep.load(Ordering::Relaxed);
        now >= next
            && self
                .next_pressure_sweep
                .compare_exchange(
                    next,
                    now.saturating_add(self.pressure_interval),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// Counts one more key unless that would pass the maximum.
    fn reserve_slot(&self) -> bool {
        let Some(max) = self.max_keys else {
            self.len.fetch_add(1, Ordering::Relaxed);
            return true;
        };
        self.len
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |len| {
                (len < max).then_some(len + 1)
            })
            .is_ok()
    }

    fn sweep_shard(
        &self,
        map: &mut ShardMap<K, V>,
        now: u64,
        is_idle: &impl Fn(&V, u64) -> bool,
    ) -> usize {
        let before = map.entries.len();
        map.entries.retain(|_, state| !is_idle(state, now));
        let removed = before - map.entries.len();
        map.sweep_mark = (map.entries.len() * 2).max(MIN_SWEEP_MARK);
        if removed > 0 {
            map.swept_at = map.swept_at.max(now);
        }
        self.len.fetch_sub(removed, Ordering::Relaxed);
        removed
    }

    /// Drops every key idle at `now`, one shard at a time; returns how many were dropped.
    pub(crate) fn sweep(&self, now: u64, is_idle: &impl Fn(&V, u64) -> bool) -> usize {
        self.shards
            .iter()
            .map(|shard| self.sweep_shard(&mut write(&shard.map), now, is_idle))
            .sum()
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    pub(crate) fn max_keys(&self) -> Option<usize> {
        self.max_keys
    }

    pub(crate) fn pressure_interval(&self) -> u64 {
        self.pressure_interval
    }
}

// A panic while a lock was held cannot leave a map half-updated in a way that matters here
// (states are atomics; the length counter is advisory), so a poisoned lock is used as is.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
