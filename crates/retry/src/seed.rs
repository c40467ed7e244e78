//! Seeds for the default jitter generator, without an operating-system RNG dependency.
//!
//! Jitter needs spread, not secrecy. Each thread starts from a random key that std
//! already draws for its hash maps, then steps a SplitMix64 sequence: a fresh seed costs a
//! few nanoseconds and no system call.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use rand::SeedableRng;
use rand::rngs::SmallRng;

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

thread_local! {
    static STATE: Cell<u64> = Cell::new(RandomState::new().build_hasher().finish());
}

/// A fast generator with a fresh seed, different on every call and every thread.
pub(crate) fn small_rng() -> SmallRng {
    SmallRng::seed_from_u64(next_seed())
}

fn next_seed() -> u64 {
    let state = STATE.with(|cell| {
        let next = cell.get().wrapping_add(GOLDEN_GAMMA);
        cell.set(next);
        next
    });
    // SplitMix64's output function: consecutive states give unrelated seeds.
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successive_seeds_differ() {
        let a = next_seed();
        let b = next_seed();
        assert_ne!(a, b);
    }
}
