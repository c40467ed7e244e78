//! The count-based window: a ring of atomic slots and packed running totals.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering::Relaxed};

use super::Counts;

const SLOT_CALL: u8 = 1;
const SLOT_FAILURE: u8 = 2;
const SLOT_SLOW: u8 = 4;

const FIELD_BITS: u32 = 21;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;

/// The totals of one slot, packed as the running totals are: calls in bits
/// 0..21, failures in 21..42, slow calls in 42..63.
fn packed(slot: u8) -> u64 {
    u64::from(slot & SLOT_CALL)
        | (u64::from((slot & SLOT_FAILURE) >> 1) << FIELD_BITS)
        | (u64::from((slot & SLOT_SLOW) >> 2) << (2 * FIELD_BITS))
}

fn unpack(totals: u64) -> Counts {
    Counts {
        calls: totals & FIELD_MASK,
        failures: (totals >> FIELD_BITS) & FIELD_MASK,
        slow: (totals >> (2 * FIELD_BITS)) & FIELD_MASK,
    }
}

/// The last `size` calls. A call takes the next position (one `fetch_add`),
/// swaps its outcome into that slot (one `swap`), and adds the difference
/// between the new and the evicted outcome to the totals (one `fetch_add`,
/// skipped when they are equal: a success replacing a success costs two
/// atomic operations).
///
/// The totals are one word with three 21-bit fields, so one add moves all
/// three and one load reads a consistent triple. Adds of differences are
/// exact modulo 2^64, so a field that dips below zero while threads race
/// borrows from its neighbour and gives it back once the racing add lands;
/// the reading in between is torn and [`Counts::is_torn`] rejects it.
#[derive(Debug)]
pub(crate) struct CountWindow {
    next: AtomicU32,
    size: u32,
    /// Lemire's fastmod constant for `size`: a division costs ~30 cycles here.
    fastmod: u64,
    slots: Box<[AtomicU8]>,
    totals: AtomicU64,
}

impl CountWindow {
    pub(crate) fn new(size: u32) -> Self {
        let size = size.max(1);
        Self {
            next: AtomicU32::new(0),
            size,
            fastmod: (u64::MAX / u64::from(size)).wrapping_add(1),
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
            totals: AtomicU64::new(0),
        }
    }

    /// `i % size` without a division (valid for every `u32`).
    #[inline]
    fn position(&self, i: u32) -> usize {
        let low = self.fastmod.wrapping_mul(u64::from(i));
        ((u128::from(low) * u128::from(self.size)) >> 64) as usize
    }

    #[inline]
    pub(crate) fn record(&self, failure: bool, slow: bool) -> Option<Counts> {
        let slot = SLOT_CALL | (u8::from(failure) << 1) | (u8::from(slow) << 2);
        // At u32 wrap-around the ring restarts at slot 0: one slot's turn
        // comes early, which the swap below keeps exact.
        let i = self.next.fetch_add(1, Relaxed);
        let old = self.slots.get(self.position(i))?.swap(slot, Relaxed);
        if old == slot {
            return None;
        }
        let delta = packed(slot).wrapping_sub(packed(old));
        let before = self.totals.fetch_add(delta, Relaxed);
        Some(unpack(before.wrapping_add(delta)))
    }

    pub(crate) fn counts(&self) -> Counts {
        unpack(self.totals.load(Relaxed))
    }

    pub(crate) fn capacity(&self) -> u64 {
        u64::from(self.size)
    }

    /// Empties every slot, subtracting what it held, so a racing record
    /// stays counted exactly once.
    pub(crate) fn clear(&self) {
        for slot in self.slots.iter() {
            let old = slot.swap(0, Relaxed);
            if old != 0 {
                self.totals.fetch_sub(packed(old), Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastmod_matches_remainder() {
        for size in [1, 2, 3, 7, 10, 100, 1000, (1 << 20) - 1] {
            let window = CountWindow::new(size);
            for i in [0, 1, 5, 99, 100, 101, 12_345, u32::MAX - 1, u32::MAX] {
                assert_eq!(window.position(i), (i % size) as usize, "{i} % {size}");
            }
        }
    }

    #[test]
    fn evicts_oldest_call() {
        let window = CountWindow::new(3);
        window.record(true, false);
        window.record(false, true);
        window.record(false, false);
        assert_eq!(
            window.counts(),
            Counts {
                calls: 3,
                failures: 1,
                slow: 1
            }
        );
        window.record(false, false);
        assert_eq!(
            window.counts(),
            Counts {
                calls: 3,
                failures: 0,
                slow: 1
            }
        );
        window.record(false, false);
        assert_eq!(
            window.counts(),
            Counts {
                calls: 3,
                failures: 0,
                slow: 0
            }
        );
    }

    #[test]
    fn same_outcome_over_same_outcome_changes_nothing() {
        let window = CountWindow::new(2);
        assert!(window.record(false, false).is_some());
        assert!(window.record(false, false).is_some());
        assert_eq!(window.record(false, false), None);
    }

    #[test]
    fn clear_empties_totals() {
        let window = CountWindow::new(4);
        window.record(true, true);
        window.record(true, false);
        window.clear();
        assert_eq!(window.counts(), Counts::default());
    }
}
