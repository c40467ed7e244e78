//! Quotas: how many permits per period, and how many at once.

use std::time::Duration;

use crate::clock::saturating_nanos;

/// A quota was unusable; the message names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    /// The rate was zero: a limiter that never admits anything is a closed gate, not a quota.
    #[error("quota rate is zero: at least one permit per period is required")]
    ZeroRate,
    /// The period was zero.
    #[error("quota period is zero: the period must be at least one nanosecond")]
    ZeroPeriod,
    /// The burst was set to zero: no request could ever pass.
    #[error("quota burst is zero: the burst must allow at least one permit")]
    ZeroBurst,
}

/// `rate` permits per `period`, with at most `burst` of them at once.
///
/// Plain data: building one never fails; a limiter validates it when it is built (zero rate,
/// period or burst give a [`QuotaError`]). The burst defaults to the rate, as in governor:
/// `Quota::per_second(100)` admits 100 at once after an idle second, then one every 10 ms.
/// Huge values saturate instead of overflowing: the GCRA emission interval is at least one
/// nanosecond (so rates above 10⁹ per second act as 10⁹ per second) and products of
/// nanoseconds saturate at `u64::MAX` (584 years).
///
/// ```
/// use flunq_ratelimit::Quota;
/// use std::time::Duration;
///
/// let quota = Quota::per_second(100).burst(20);
/// assert_eq!(quota.emission_interval(), Some(Duration::from_millis(10)));
/// assert_eq!(Quota::new(3, Duration::from_secs(60)).burst_size(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    rate: u32,
    period: Duration,
    burst: Option<u32>,
}

impl Quota {
    /// `rate` permits per `period`.
    pub const fn new(rate: u32, period: Duration) -> Self {
        Self {
            rate,
            period,
            burst: None,
        }
    }

    /// `rate` permits per second.
    pub const fn per_second(rate: u32) -> Self {
        Self::new(rate, Duration::from_secs(1))
    }

    /// `rate` permits per minute.
    pub const fn per_minute(rate: u32) -> Self {
        Self::new(rate, Duration::from_secs(60))
    }

    /// `rate` permits per hour.
    pub const fn per_hour(rate: u32) -> Self {
        Self::new(rate, Duration::from_secs(3600))
    }

    /// At most `burst` permits at once (the bucket's capacity). The GCRA limiter uses it; the
    /// sliding window ignores it (its limit is `rate` per window).
    #[must_use]
    pub const fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// The number of permits per period.
    pub const fn rate(&self) -> u32 {
        self.rate
    }

    /// The period.
    pub const fn period(&self) -> Duration {
        self.period
    }

    /// The burst: the value set with [`burst`](Quota::burst), else the rate.
    pub const fn burst_size(&self) -> u32 {
        match self.burst {
            Some(burst) => burst,
            None => self.rate,
        }
    }

    /// Checks that rate, period and burst are all non-zero.
    pub fn validate(&self) -> Result<(), QuotaError> {
        if self.rate == 0 {
            return Err(QuotaError::ZeroRate);
        }
        if self.period.is_zero() {
            return Err(QuotaError::ZeroPeriod);
        }
        if self.burst_size() == 0 {
            return Err(QuotaError::ZeroBurst);
        }
        Ok(())
    }

    /// The time between two permits at the steady rate (`period / rate`, rounded up to whole
    /// nanoseconds so the limiter never runs faster than asked, and at least 1 ns), or `None`
    /// if the quota is invalid.
    pub fn emission_interval(&self) -> Option<Duration> {
        self.emission_interval_nanos().map(Duration::from_nanos)
    }

    pub(crate) fn emission_interval_nanos(&self) -> Option<u64> {
        self.validate().ok()?;
        let period = saturating_nanos(self.period);
        Some(period.div_ceil(u64::from(self.rate)).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_rounds_up_and_never_reaches_zero() {
        assert_eq!(
            Quota::per_second(3).emission_interval_nanos(),
            Some(333_333_334)
        );
        assert_eq!(
            Quota::new(u32::MAX, Duration::from_nanos(1)).emission_interval_nanos(),
            Some(1)
        );
        assert_eq!(
            Quota::new(1, Duration::MAX).emission_interval_nanos(),
            Some(u64::MAX)
        );
    }
}
