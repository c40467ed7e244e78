//! A retry budget shared by many callers, so a failing upstream is not buried in retries.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Slots the TTL window is cut into: the window slides one slot at a time.
const SLOTS: usize = 10;
/// Budget units one retry costs; a first attempt earns `ratio * UNITS_PER_RETRY`.
const UNITS_PER_RETRY: i64 = 1000;

/// A budget built from numbers that make no sense.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// The window is shorter than 1 s or longer than 1 h.
    #[error("invalid retry budget window {ttl:?}: it must be between 1 s and 1 h")]
    InvalidTtl {
        /// The window that was given.
        ttl: Duration,
    },
    /// The ratio is NaN, negative or above 1000.
    #[error("invalid retry budget ratio {ratio}: it must be between 0 and 1000")]
    InvalidRatio {
        /// The ratio that was given.
        ratio: f64,
    },
}

/// A retry budget: retries may be at most `ratio` times the first attempts of the last
/// `ttl`, plus a floor of `min_per_sec` retries per second, whatever the traffic.
///
/// This is the idea of gRPC's retry throttling and of Finagle's and tower's `TpsBudget`:
/// with a plain retry count, a failing upstream receives `max_retries + 1` times its normal
/// load from every client; with a budget it receives at most `1 + ratio` times.
///
/// Every [`Retry::run`](crate::Retry::run) deposits once (its first attempt) and withdraws
/// once per retry. A clone is the same budget (an `Arc` inside), so share one per upstream.
///
/// The window is ten slots of one packed atomic each (a slot's epoch and its balance):
/// deposits and withdrawals are one compare-and-swap, with no lock. A slot records at most
/// about 2.1 million retries' worth either way (its balance is an `i32` of thousandths):
/// beyond that, within one tenth of the window, withdrawals are refused and deposits
/// dropped, so however large `min_per_sec` is, the budget never grants a retry it did not
/// record. Two callers that
/// withdraw the last retry at the same instant may both get it, so the budget can be
/// overdrawn by at most the number of concurrent withdrawals. Time comes from tokio's
/// clock, so paused-time tests drive it.
///
/// ```
/// use std::time::Duration;
/// use flunq_retry::RetryBudget;
///
/// // No floor, one retry for every two first attempts.
/// let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.5).unwrap();
/// assert!(!budget.withdraw());
/// budget.deposit();
/// budget.deposit();
/// assert!(budget.withdraw());
/// assert!(!budget.withdraw());
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    ledger: Arc<Ledger>,
}

struct Ledger {
    origin: Instant,
    ttl: Duration,
    slot_nanos: u128,
    /// Per slot: the epoch it belongs to (high 32 bits) and its net balance in units
    /// (low 32 bits, two's complement).
    slots: [AtomicU64; SLOTS],
    /// The floor, in units: `min_per_sec * ttl` retries.
    reserve: i64,
    /// Units earned by one first attempt.
    deposit: i32,
}

impl RetryBudget {
    /// A budget over a sliding window of `ttl` (1 s to 1 h) allowing `ratio` retries per
    /// first attempt (0 to 1000; `0.2` = 20 % extra load) on top of `min_per_sec`.
    pub fn new(ttl: Duration, min_per_sec: u32, ratio: f64) -> Result<Self, BudgetError> {
        if ttl < Duration::from_secs(1) || ttl > Duration::from_secs(3600) {
            return Err(BudgetError::InvalidTtl { ttl });
        }
        if !(0.0..=1000.0).contains(&ratio) {
            return Err(BudgetError::InvalidRatio { ratio });
        }
        // ratio <= 1000 so the product is at most 1_000_000: it fits an i32.
        let deposit = (ratio * UNITS_PER_RETRY as f64).round() as i32;
        let reserve = i64::from(min_per_sec)
            .saturating_mul(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
            .saturating_mul(UNITS_PER_RETRY);
        Ok(Self::with_units(ttl, reserve, deposit))
    }

    fn with_units(ttl: Duration, reserve: i64, deposit: i32) -> Self {
        Self {
            ledger: Arc::new(Ledger {
                origin: Instant::now(),
                ttl,
                slot_nanos: ttl.as_nanos() / SLOTS as u128,
                slots: std::array::from_fn(|_| AtomicU64::new(0)),
                reserve,
                deposit,
            }),
        }
    }

    /// Records a first attempt, which earns `ratio` of a retry.
    pub fn deposit(&self) {
        if self.ledger.deposit > 0 {
            // A slot too full to record it (over two million retries' worth) drops it.
            let _recorded = self.ledger.add(self.ledger.epoch(), self.ledger.deposit);
        }
    }

    /// Takes one retry from the budget; `false` (and nothing taken) when it is empty.
    pub fn withdraw(&self) -> bool {
        let epoch = self.ledger.epoch();
        if self.ledger.balance(epoch) < UNITS_PER_RETRY {
            return false;
        }
        // UNITS_PER_RETRY (1000) fits an i32.
        self.ledger.add(epoch, -(UNITS_PER_RETRY as i32))
    }

    /// How many whole retries the budget would grant now.
    pub fn remaining(&self) -> u64 {
        let balance = self.ledger.balance(self.ledger.epoch());
        u64::try_from(balance / UNITS_PER_RETRY).unwrap_or(0)
    }
}

impl Default for RetryBudget {
    /// A 10 s window, a floor of 10 retries per second and 20 % extra load (tower's and
    /// Finagle's defaults).
    fn default() -> Self {
        // 10 retries/s over 10 s; 0.2 * UNITS_PER_RETRY per first attempt.
        Self::with_units(Duration::from_secs(10), 10 * 10 * UNITS_PER_RETRY, 200)
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("window", &self.ledger.ttl)
            .field("remaining", &self.remaining())
            .finish()
    }
}

impl Ledger {
    /// The current slot number since the budget was made (wrapping at 2^32 slots,
    /// over 13 years with the shortest window).
    fn epoch(&self) -> u32 {
        let elapsed = self.origin.elapsed().as_nanos();
        // Truncation is the wrapping we want; slot_nanos >= 100 ms, never zero.
        (elapsed / self.slot_nanos) as u32
    }

    /// Adds `amount` units to the slot of `epoch`, resetting it first if it held an
    /// older epoch. Returns `false`, changing nothing, when the slot's `i32` balance cannot
    /// hold the result: a withdrawal that cannot be recorded must not be granted (a large
    /// floor could otherwise fund retries forever), and a lost deposit only makes the
    /// budget stricter.
    fn add(&self, epoch: u32, amount: i32) -> bool {
        let slot = &self.slots[epoch as usize % SLOTS];
        let mut current = slot.load(Ordering::Acquire);
        loop {
            let (tag, balance) = unpack(current);
            let base = if tag == epoch { balance } else { 0 };
            let Some(sum) = base.checked_add(amount) else {
                return false;
            };
            let next = pack(epoch, sum);
            match slot.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// The reserve plus every slot of the last `SLOTS` epochs, in units.
    fn balance(&self, epoch: u32) -> i64 {
        let windowed: i64 = self
            .slots
            .iter()
            .map(|slot| unpack(slot.load(Ordering::Acquire)))
            .filter(|(tag, _)| (epoch.wrapping_sub(*tag) as usize) < SLOTS)
            .map(|(_, balance)| i64::from(balance))
            .sum();
        self.reserve.saturating_add(windowed)
    }
}

fn pack(epoch: u32, balance: i32) -> u64 {
    (u64::from(epoch) << 32) | u64::from(balance as u32)
}

fn unpack(word: u64) -> (u32, i32) {
    ((word >> 32) as u32, word as u32 as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_negative_balances() {
        assert_eq!(unpack(pack(7, -1000)), (7, -1000));
        assert_eq!(unpack(pack(u32::MAX, i32::MIN)), (u32::MAX, i32::MIN));
    }

    #[test]
    fn refuses_a_withdrawal_the_slot_cannot_record() {
        // A floor far beyond what one slot can record.
        let budget = RetryBudget::with_units(Duration::from_secs(10), i64::MAX / 2, 0);
        let ledger = &budget.ledger;
        let epoch = ledger.epoch();
        ledger.slots[epoch as usize % SLOTS].store(pack(epoch, i32::MIN + 999), Ordering::Relaxed);
        assert!(!budget.withdraw(), "the slot cannot go 1000 units lower");
        assert_eq!(
            unpack(ledger.slots[epoch as usize % SLOTS].load(Ordering::Relaxed)),
            (epoch, i32::MIN + 999)
        );
    }

    #[test]
    fn rejects_bad_numbers() {
        assert!(matches!(
            RetryBudget::new(Duration::from_millis(10), 1, 0.1),
            Err(BudgetError::InvalidTtl { .. })
        ));
        for ratio in [f64::NAN, -0.1, 1000.5] {
            assert!(matches!(
                RetryBudget::new(Duration::from_secs(10), 1, ratio),
                Err(BudgetError::InvalidRatio { .. })
            ));
        }
    }
}
