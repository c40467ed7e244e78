//! The time-based window: atomic buckets with subtract-on-evict totals.

use std::sync::atomic::{AtomicU64, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed};
use std::time::Duration;

use super::Counts;

const INDEX_BITS: u32 = 16;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
const FAILURE_SHIFT: u32 = 32;

fn unpack(calls_failures: u64, slow: u64) -> Counts {
    Counts {
        calls: calls_failures & u64::from(u32::MAX),
        failures: calls_failures >> FAILURE_SHIFT,
        slow,
    }
}

#[derive(Debug, Default)]
struct Bucket {
    /// Calls in the low 32 bits, failures in the high 32.
    calls_failures: AtomicU64,
    slow: AtomicU64,
}

/// The calls of the last `duration`, in equal buckets. Time is cut into
/// epochs of one bucket length; `head` holds the newest epoch (and its
/// bucket index, so the hot path divides nothing), which tags every bucket:
/// bucket `i` holds epoch `head - ((head_index - i) mod n)`.
///
/// A record whose time falls in the head epoch adds to the head bucket and
/// to the totals (two `fetch_add`s). The first record of a later epoch wins
/// a CAS on `head` and empties the buckets it skipped over, subtracting
/// their contents from the totals, so old failures leave the window even
/// when no call landed in their slot for a while.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    bucket_nanos: u64,
    buckets: Box<[Bucket]>,
    /// `epoch << 16 | index of the epoch's bucket`.
    head: AtomicU64,
    totals: AtomicU64,
    total_slow: AtomicU64,
}

impl TimeWindow {
    pub(crate) fn new(duration: Duration, buckets: u32) -> Self {
        let buckets = buckets.max(1);
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Self {
            bucket_nanos: (nanos / u64::from(buckets)).max(1),
            buckets: (0..buckets).map(|_| Bucket::default()).collect(),
            head: AtomicU64::new(0),
            totals: AtomicU64::new(0),
            total_slow: AtomicU64::new(0),
        }
    }

    /// The bucket for time `now`, rotating the window when `now` has moved
    /// past the head epoch. A clock reading older than the head (taken
    /// before another thread rotated) goes into the head bucket.
    #[inline]
    fn bucket_for(&self, now: u64) -> usize {
        let head = self.head.load(Acquire);
        let start = (head >> INDEX_BITS).saturating_mul(self.bucket_nanos);
        if now < start.saturating_add(self.bucket_nanos) {
            return (head & INDEX_MASK) as usize;
        }
        self.advance(now)
    }

    #[cold]
    fn advance(&self, now: u64) -> usize {
        let target = now / self.bucket_nanos;
        let len = self.buckets.len() as u64;
        let mut head = self.head.load(Acquire);
        loop {
            let epoch = head >> INDEX_BITS;
            if target <= epoch {
                return (head & INDEX_MASK) as usize;
            }
            let index = target % len;
            match self.head.compare_exchange_weak(
                head,
                (target << INDEX_BITS) | index,
                AcqRel,
                Acquire,
            ) {
                Ok(_) => {
                    let skipped = (target - epoch).min(len);
                    for k in 0..skipped {
                        // The epochs target-skipped+1 ..= target.
                        let stale = (target - k) % len;
                        self.empty_bucket(stale as usize);
                    }
                    return index as usize;
                }
                Err(now_head) => head = now_head,
            }
        }
    }

    fn empty_bucket(&self, index: usize) {
        let Some(bucket) = self.buckets.get(index) else {
            return;
        };
        let old = bucket.calls_failures.swap(0, Relaxed);
        if old != 0 {
            self.totals.fetch_sub(old, Relaxed);
        }
        let old_slow = bucket.slow.swap(0, Relaxed);
        if old_slow != 0 {
            self.total_slow.fetch_sub(old_slow, Relaxed);
        }
    }

    #[inline]
    pub(crate) fn record(&self, failure: bool, slow: bool, now: u64) -> Counts {
        let index = self.bucket_for(now);
        let delta = 1 | (u64::from(failure) << FAILURE_SHIFT);
        if let Some(bucket) = self.buckets.get(index) {
            bucket.calls_failures.fetch_add(delta, Relaxed);
            if slow {
                bucket.slow.fetch_add(1, Relaxed);
            }
        }
        let before = self.totals.fetch_add(delta, Relaxed);
        let slow_total = if slow {
            self.total_slow.fetch_add(1, Relaxed).wrapping_add(1)
        } else {
            self.total_slow.load(Relaxed)
        };
        unpack(before.wrapping_add(delta), slow_total)
    }

    pub(crate) fn counts(&self, now: u64) -> Counts {
        self.bucket_for(now);
        unpack(self.totals.load(Relaxed), self.total_slow.load(Relaxed))
    }

    pub(crate) fn clear(&self) {
        for index in 0..self.buckets.len() {
            self.empty_bucket(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn old_buckets_leave_the_window() {
        let window = TimeWindow::new(Duration::from_secs(10), 10);
        window.record(true, false, 0);
        window.record(false, false, 5 * SEC);
        assert_eq!(
            window.counts(9 * SEC),
            Counts {
                calls: 2,
                failures: 1,
                slow: 0
            }
        );
        assert_eq!(
            window.counts(10 * SEC),
            Counts {
                calls: 1,
                failures: 0,
                slow: 0
            }
        );
        assert_eq!(window.counts(16 * SEC), Counts::default());
    }

    #[test]
    fn a_long_gap_empties_every_bucket() {
        let window = TimeWindow::new(Duration::from_secs(10), 10);
        for s in 0..10 {
            window.record(true, true, s * SEC);
        }
        assert_eq!(window.counts(9 * SEC).calls, 10);
        assert_eq!(window.counts(1000 * SEC), Counts::default());
        window.record(false, false, 1000 * SEC);
        assert_eq!(
            window.counts(1000 * SEC),
            Counts {
                calls: 1,
                failures: 0,
                slow: 0
            }
        );
    }

    #[test]
    fn late_reading_goes_to_head_bucket() {
        let window = TimeWindow::new(Duration::from_secs(10), 10);
        window.record(false, false, 20 * SEC);
        window.record(true, false, 3 * SEC);
        assert_eq!(
            window.counts(20 * SEC),
            Counts {
                calls: 2,
                failures: 1,
                slow: 0
            }
        );
    }
}
