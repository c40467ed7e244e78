//! The decision rule shared by the direct and keyed limiters.

use crate::error::InsufficientCapacity;

/// A rate-limiting algorithm: an immutable configuration plus a per-limiter (or per-key)
/// lock-free state.
///
/// Implemented by [`Gcra`](crate::Gcra) and [`SlidingWindow`](crate::SlidingWindow). All times
/// are nanoseconds since the clock's origin. An implementation must record a permit only when
/// it grants it, so a refused or abandoned check leaves no trace.
pub trait Algorithm: Send + Sync + 'static {
    /// The per-limiter or per-key state, updated through `&self` (atomics).
    type State: Send + Sync + 'static;

    /// A state that has seen no request.
    fn new_state(&self) -> Self::State;

    /// Grants `n` permits at `now` and records them, or returns the earliest time at which `n`
    /// permits could be granted if nobody else takes them. `n` is between 1 and
    /// [`capacity`](Algorithm::capacity).
    fn acquire(&self, state: &Self::State, now: u64, n: u32) -> Result<(), u64>;

    /// The most permits one call can be granted.
    fn capacity(&self) -> u32;

    /// True when the state is indistinguishable from [`new_state`](Algorithm::new_state) at
    /// `now` (and so at any later time, if nobody touches it): a keyed limiter may drop it and
    /// lose nothing.
    fn is_idle(&self, state: &Self::State, now: u64) -> bool;

    /// About how long, in nanoseconds, states take to change from busy to idle: a keyed
    /// limiter at its key cap sweeps for room at most once per this long (and at most once per
    /// millisecond), since an earlier sweep would mostly find what the last one found. The
    /// default, 0, leaves only the one-millisecond floor.
    fn idle_granularity(&self) -> u64 {
        0
    }
}

/// `Ok` when `n` permits can ever be granted at once by `algorithm`.
pub(crate) fn ensure_capacity<A: Algorithm>(
    algorithm: &A,
    n: u32,
) -> Result<(), InsufficientCapacity> {
    let capacity = algorithm.capacity();
    if n > capacity {
        return Err(InsufficientCapacity {
            requested: n,
            capacity,
        });
    }
    Ok(())
}
