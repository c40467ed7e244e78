//! The sliding windows the failure and slow-call rates are computed over.
//!
//! Both windows keep running totals beside their slots (subtract on evict),
//! so reading them is O(1), and both are updated with atomics only: no lock
//! on the closed-state path.
//!
//! Consistency model: each slot or bucket change is applied to the totals
//! with one atomic add of the exact difference, so once the calls in flight
//! have finished, the totals equal the sum of the slots exactly. While calls
//! race, a reader may see a total that is off by the changes of the calls
//! still between their two atomic steps (at most one per racing thread); a
//! reading that is visibly torn (more failures than calls) is not judged.
//! A call whose clock reading predates a bucket rotation, or that stalls
//! across one, may land in a newer bucket or be cleared with the old one:
//! again at most one call per racing thread.
//!
//! The breaker judges the rates when a failure or a slow call is recorded,
//! and when a success brings the window up to `minimum_calls`; a success
//! that only expires old buckets does not (the next failure does).

mod count;
mod time;

use crate::config::SlidingWindow;
pub(crate) use count::CountWindow;
pub(crate) use time::TimeWindow;

/// The window's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Counts {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

impl Counts {
    /// A torn reading (a racing subtraction seen before its addition).
    pub(crate) fn is_torn(self, capacity: u64) -> bool {
        self.failures > self.calls || self.slow > self.calls || self.calls > capacity
    }
}

/// A count- or time-based window.
#[derive(Debug)]
pub(crate) enum RateWindow {
    Calls(CountWindow),
    Time(TimeWindow),
}

impl RateWindow {
    pub(crate) fn new(window: SlidingWindow) -> Self {
        match window {
            SlidingWindow::Calls { size } => RateWindow::Calls(CountWindow::new(size)),
            SlidingWindow::Time { duration, buckets } => {
                RateWindow::Time(TimeWindow::new(duration, buckets))
            }
        }
    }

    /// Whether recording needs the time.
    pub(crate) fn needs_clock(&self) -> bool {
        matches!(self, RateWindow::Time(_))
    }

    /// Records one call (`now` in ns since the breaker's origin, only read by
    /// the time window) and returns the totals after it when they changed.
    #[inline]
    pub(crate) fn record(&self, failure: bool, slow: bool, now: u64) -> Option<Counts> {
        match self {
            RateWindow::Calls(w) => w.record(failure, slow),
            RateWindow::Time(w) => Some(w.record(failure, slow, now)),
        }
    }

    /// The totals, after expiring old buckets of a time window.
    pub(crate) fn counts(&self, now: u64) -> Counts {
        match self {
            RateWindow::Calls(w) => w.counts(),
            RateWindow::Time(w) => w.counts(now),
        }
    }

    /// The most calls the totals can hold (a reading above it is torn).
    pub(crate) fn capacity(&self) -> u64 {
        match self {
            RateWindow::Calls(w) => w.capacity(),
            RateWindow::Time(_) => u64::from(u32::MAX),
        }
    }

    /// Empties the window.
    pub(crate) fn clear(&self) {
        match self {
            RateWindow::Calls(w) => w.clear(),
            RateWindow::Time(w) => w.clear(),
        }
    }
}
