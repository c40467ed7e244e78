//! The successive delays of one retry loop.

use std::fmt;
use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;

use crate::jitter::JitterState;
use crate::outcome::StopReason;
use crate::policy::{RetryPolicy, Schedule};

/// The delays before each retry of one loop, from [`RetryPolicy::delays`].
///
/// As an [`Iterator`] it yields the delay before retry 1, 2, … and ends when the policy says
/// stop; its elapsed limit then counts only the waits. A loop that measures time itself
/// calls [`next_delay`](Self::next_delay) with the real elapsed time instead.
pub struct Delays<R = SmallRng> {
    policy: RetryPolicy,
    cursor: Cursor<R>,
    waited: Duration,
}

impl<R> fmt::Debug for Delays<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delays")
            .field("policy", &self.policy)
            .field("retries", &self.cursor.retries())
            .field("waited", &self.waited)
            .finish_non_exhaustive()
    }
}

impl<R: Rng> Delays<R> {
    pub(crate) fn new(policy: &RetryPolicy, rng: Option<R>) -> Self {
        Self {
            policy: policy.clone(),
            cursor: Cursor::new(policy, rng),
            waited: Duration::ZERO,
        }
    }

    /// The delay before the next retry, or why there is none.
    ///
    /// `elapsed` is the time since the loop's first attempt started; a retry whose wait
    /// would end past the policy's `max_elapsed` is refused with
    /// [`StopReason::ElapsedLimit`]. `hint` (a server's `Retry-After`, say) replaces the
    /// computed delay, clamped to the policy's cap; the schedule still advances by one.
    /// A refused retry does not count.
    pub fn next_delay(
        &mut self,
        elapsed: Duration,
        hint: Option<Duration>,
    ) -> Result<Duration, StopReason> {
        self.cursor.next_delay(&self.policy, elapsed, hint)
    }

    /// How many retries this loop has been granted so far.
    pub fn retries(&self) -> u32 {
        self.cursor.retries()
    }
}

impl<R: Rng> Iterator for Delays<R> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.next_delay(self.waited, None).ok()?;
        self.waited = self.waited.saturating_add(delay);
        Some(delay)
    }
}

/// The state of one loop's walk through a policy it borrows at each step: what
/// [`Delays`] holds beside its own copy of the policy, and what the retry loop holds
/// beside a borrowed one (nothing to clone on the hot path).
pub(crate) struct Cursor<R> {
    iter: Option<Box<dyn Iterator<Item = Duration> + Send>>,
    jitter: JitterState,
    rng: Option<R>,
    retries: u32,
}

impl<R> Cursor<R> {
    /// How many retries have been granted so far.
    pub(crate) fn retries(&self) -> u32 {
        self.retries
    }
}

impl<R: Rng> Cursor<R> {
    pub(crate) fn new(policy: &RetryPolicy, rng: Option<R>) -> Self {
        let iter = match &policy.schedule {
            Schedule::Iterator(factory) => Some(factory()),
            _ => None,
        };
        Self {
            iter,
            jitter: JitterState::new(),
            rng,
            retries: 0,
        }
    }

    /// See [`Delays::next_delay`].
    pub(crate) fn next_delay(
        &mut self,
        policy: &RetryPolicy,
        elapsed: Duration,
        hint: Option<Duration>,
    ) -> Result<Duration, StopReason> {
        if policy.max_retries.is_some_and(|max| self.retries >= max) {
            return Err(StopReason::RetriesExhausted);
        }
        let cap = policy.max_delay.unwrap_or(Duration::MAX);
        let Some(planned) = self.scheduled(&policy.schedule, cap) else {
            return Err(StopReason::RetriesExhausted);
        };
        let capped = planned.min(cap);
        let jittered = match &mut self.rng {
            // Nanoseconds only here: the plain path stays in `Duration`, conversion-free.
            Some(rng) => Duration::from_nanos(self.jitter.apply(
                policy.jitter,
                nanos(capped),
                nanos(cap),
                rng,
            )),
            None => capped,
        };
        // The draw above happens even under a hint, so hints do not shift the sequence.
        let delay = hint.map_or(jittered, |hint| hint.min(cap));
        if let Some(limit) = policy.max_elapsed
            && elapsed.saturating_add(delay) > limit
        {
            return Err(StopReason::ElapsedLimit);
        }
        self.retries += 1;
        Ok(delay)
    }

    /// The un-jittered delay before the next retry, capped only where the computation
    /// could otherwise overflow.
    fn scheduled(&mut self, schedule: &Schedule, cap: Duration) -> Option<Duration> {
        let n = self.retries;
        match schedule {
            Schedule::Fixed { delay } => Some(*delay),
            Schedule::Exponential { base, multiplier } => Some(Duration::from_nanos(exponential(
                nanos(*base),
                *multiplier,
                n,
                nanos(cap),
            ))),
            Schedule::Linear { base, increment } => {
                Some(increment.saturating_mul(n).saturating_add(*base))
            }
            Schedule::Custom(delays) => {
                let index = usize::try_from(n).unwrap_or(usize::MAX);
                delays.get(index).or(delays.last()).copied()
            }
            Schedule::Function(delay) => delay(n),
            Schedule::Iterator(_) => self.iter.as_mut()?.next(),
        }
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (about 584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `base * multiplier^n` in nanoseconds, saturating at `cap` without overflow or panic.
fn exponential(base: u64, multiplier: f64, n: u32, cap: u64) -> u64 {
    if base == 0 {
        return 0;
    }
    // An exact integer path for the common doubling: delays exact to the nanosecond.
    if multiplier == 2.0 {
        return if n < 64 {
            base.saturating_mul(1 << n).min(cap)
        } else {
            cap
        };
    }
    let exponent = i32::try_from(n).unwrap_or(i32::MAX);
    // The multiplier is finite and >= 1 (checked when the policy was built), so the
    // product is finite or +inf, never NaN; +inf fails the comparison and gives the cap.
    let value = base as f64 * multiplier.powi(exponent);
    if value < cap as f64 {
        // `as` saturates, and `min` keeps the rounding from stepping over the cap.
        (value.round() as u64).min(cap)
    } else {
        cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_saturates_at_the_cap_for_huge_exponents() {
        assert_eq!(exponential(1, 2.0, u32::MAX, 500), 500);
        assert_eq!(exponential(1, 1.5, u32::MAX, 500), 500);
        assert_eq!(exponential(1, 1e300, 3, u64::MAX), u64::MAX);
        assert_eq!(exponential(0, 1e300, 3, u64::MAX), 0);
    }

    #[test]
    fn exponential_with_multiplier_one_is_fixed() {
        assert_eq!(exponential(7, 1.0, 1_000_000, u64::MAX), 7);
    }
}
