//! Configuration: plain data, a builder, and validation.

use std::time::Duration;

/// The largest count-based window: the ring's running counters pack three
/// 21-bit fields into one atomic word.
pub const MAX_WINDOW_CALLS: u32 = (1 << 20) - 1;

/// The most buckets a time-based window may have.
pub const MAX_WINDOW_BUCKETS: u32 = 1024;

/// The shortest bucket of a time-based window.
pub const MIN_BUCKET: Duration = Duration::from_millis(1);

/// Which calls the failure and slow-call rates are computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlidingWindow {
    /// The last `size` recorded calls (resilience4j `COUNT_BASED`).
    Calls {
        /// How many of the latest calls the window holds.
        size: u32,
    },
    /// The calls of the last `duration`, kept in `buckets` equal buckets
    /// (resilience4j `TIME_BASED`, Polly's rolling health metrics).
    ///
    /// A bucket leaves the window whole, so the window covers between
    /// `duration - duration / buckets` and `duration` of history.
    Time {
        /// How far back the window reaches.
        duration: Duration,
        /// How many buckets the duration is cut into.
        buckets: u32,
    },
}

impl SlidingWindow {
    /// The buckets a time window gets from [`SlidingWindow::time`].
    pub const DEFAULT_BUCKETS: u32 = 10;

    /// A window over the last `size` calls.
    pub const fn calls(size: u32) -> Self {
        Self::Calls { size }
    }

    /// A window over the last `duration`, in [`Self::DEFAULT_BUCKETS`] buckets.
    pub const fn time(duration: Duration) -> Self {
        Self::Time {
            duration,
            buckets: Self::DEFAULT_BUCKETS,
        }
    }
}

/// Everything a breaker needs to decide when to trip and how to recover.
///
/// Plain data: build one with [`Config::builder`] (which validates) or fill the
/// fields and call [`Config::validate`]. The defaults follow resilience4j where
/// that makes sense:
///
/// | field | default | resilience4j |
/// | --- | --- | --- |
/// | `failure_rate` | `Some(0.5)` | 50 % |
/// | `window` | last 100 calls | COUNT_BASED, 100 |
/// | `minimum_calls` | 100 | 100 |
/// | `slow_call_duration` | `None` (off) | 60 s |
/// | `slow_call_rate` | 1.0 | 100 % |
/// | `consecutive_failures` | `None` (off) | (none) |
/// | `open_for` | 60 s | 60 s |
/// | `open_multiplier` / `max_open_for` | 1.0 / 60 s (no growth) | constant interval |
/// | `half_open_calls` | 10 | 10 |
///
/// Slow-call detection is off by default (resilience4j's 60 s at 100 % almost
/// never trips) because it costs two clock reads per call.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Trip when the window's failure rate is at least this (in `[0, 1]`),
    /// with at least one failure: `0.0` trips on any failure once the window
    /// holds `minimum_calls` calls, never on successes alone. `None` disables
    /// the failure-rate condition.
    pub failure_rate: Option<f64>,
    /// The window the rates are computed over.
    pub window: SlidingWindow,
    /// Rates are not judged until the window holds this many calls. For a
    /// count-based window, a value above the window size acts as the size.
    pub minimum_calls: u32,
    /// A call that takes at least this long is slow; `None` disables slow-call
    /// detection (and its clock reads).
    pub slow_call_duration: Option<Duration>,
    /// Trip when the slow-call rate is at least this (in `[0, 1]`), with at
    /// least one slow call: `0.0` trips on any slow call once the window holds
    /// `minimum_calls` calls.
    pub slow_call_rate: f64,
    /// Trip after this many failures in a row, whatever the window says.
    pub consecutive_failures: Option<u32>,
    /// How long the breaker stays open the first time.
    pub open_for: Duration,
    /// Each further open in a row (half-open probes failed) lasts this many
    /// times the previous one (at least 1.0).
    pub open_multiplier: f64,
    /// The cap on a grown open duration.
    pub max_open_for: Duration,
    /// How many probe calls half-open lets through (the rest are rejected).
    pub half_open_calls: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            failure_rate: Some(0.5),
            window: SlidingWindow::calls(100),
            minimum_calls: 100,
            slow_call_duration: None,
            slow_call_rate: 1.0,
            consecutive_failures: None,
            open_for: Duration::from_secs(60),
            open_multiplier: 1.0,
            max_open_for: Duration::from_secs(60),
            half_open_calls: 10,
        }
    }
}

/// A configuration value that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A rate threshold is outside `[0, 1]` (or not a number).
    #[error("{field} must be within [0, 1], got {value}")]
    RateOutOfRange {
        /// Which field.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A count-based window of zero calls, or larger than [`MAX_WINDOW_CALLS`].
    #[error("a count window must hold 1..={MAX_WINDOW_CALLS} calls, got {0}")]
    WindowSize(u32),
    /// A time-based window of zero length, zero buckets, too many buckets, or
    /// buckets shorter than [`MIN_BUCKET`].
    #[error(
        "a time window needs 1..={MAX_WINDOW_BUCKETS} buckets of at least 1 ms, got {buckets} over {duration:?}"
    )]
    WindowTime {
        /// The window's duration.
        duration: Duration,
        /// The number of buckets.
        buckets: u32,
    },
    /// `minimum_calls` is zero.
    #[error("minimum_calls must be at least 1")]
    ZeroMinimumCalls,
    /// `half_open_calls` is zero: half-open could never decide.
    #[error("half_open_calls must be at least 1")]
    ZeroHalfOpenCalls,
    /// `consecutive_failures` is `Some(0)`.
    #[error("consecutive_failures must be at least 1")]
    ZeroConsecutiveFailures,
    /// `slow_call_duration` is `Some(0)`: every call would be slow.
    #[error("slow_call_duration must be greater than zero")]
    ZeroSlowCallDuration,
    /// `open_for` is zero.
    #[error("open_for must be greater than zero")]
    ZeroOpenDuration,
    /// `open_multiplier` below 1.0 or not finite.
    #[error("open_multiplier must be a finite number >= 1.0, got {0}")]
    OpenMultiplier(f64),
    /// `max_open_for` is shorter than `open_for`.
    #[error("max_open_for ({max:?}) is shorter than open_for ({base:?})")]
    MaxOpenBelowBase {
        /// `open_for`.
        base: Duration,
        /// `max_open_for`.
        max: Duration,
    },
    /// No failure rate, no slow-call rate and no consecutive failures: the
    /// breaker could never trip.
    #[error("no trip condition: set failure_rate, slow_call_duration or consecutive_failures")]
    NoTripCondition,
}

impl ConfigError {
    /// The setting at fault, by its builder name (`failure_rate`, `window`,
    /// `minimum_calls`...); `None` when no single setting is (no trip condition).
    pub fn field(&self) -> Option<&'static str> {
        Some(match self {
            ConfigError::RateOutOfRange { field, .. } => field,
            ConfigError::WindowSize(_) | ConfigError::WindowTime { .. } => "window",
            ConfigError::ZeroMinimumCalls => "minimum_calls",
            ConfigError::ZeroHalfOpenCalls => "half_open_calls",
            ConfigError::ZeroConsecutiveFailures => "consecutive_failures",
            ConfigError::ZeroSlowCallDuration => "slow_call_duration",
            ConfigError::ZeroOpenDuration => "open_for",
            ConfigError::OpenMultiplier(_) => "open_multiplier",
            ConfigError::MaxOpenBelowBase { .. } => "max_open_for",
            ConfigError::NoTripCondition => return None,
        })
    }
}

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::default(),
        }
    }

    /// Checks every field; the breaker and the registry call this once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let rate = |field, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(ConfigError::RateOutOfRange { field, value })
            }
        };
        if let Some(r) = self.failure_rate {
            rate("failure_rate", r)?;
        }
        rate("slow_call_rate", self.slow_call_rate)?;
        match self.window {
            SlidingWindow::Calls { size } if size == 0 || size > MAX_WINDOW_CALLS => {
                return Err(ConfigError::WindowSize(size));
            }
            SlidingWindow::Time { duration, buckets }
                if buckets == 0
                    || buckets > MAX_WINDOW_BUCKETS
                    || duration / buckets < MIN_BUCKET =>
            {
                return Err(ConfigError::WindowTime { duration, buckets });
            }
            _ => {}
        }
        if self.minimum_calls == 0 {
            return Err(ConfigError::ZeroMinimumCalls);
        }
        if self.half_open_calls == 0 {
            return Err(ConfigError::ZeroHalfOpenCalls);
        }
        if self.consecutive_failures == Some(0) {
            return Err(ConfigError::ZeroConsecutiveFailures);
        }
        if self.slow_call_duration == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroSlowCallDuration);
        }
        if self.open_for.is_zero() {
            return Err(ConfigError::ZeroOpenDuration);
        }
        if !self.open_multiplier.is_finite() || self.open_multiplier < 1.0 {
            return Err(ConfigError::OpenMultiplier(self.open_multiplier));
        }
        if self.max_open_for < self.open_for {
            return Err(ConfigError::MaxOpenBelowBase {
                base: self.open_for,
                max: self.max_open_for,
            });
        }
        if self.failure_rate.is_none()
            && self.slow_call_duration.is_none()
            && self.consecutive_failures.is_none()
        {
            return Err(ConfigError::NoTripCondition);
        }
        Ok(())
    }

    /// Whether the breaker needs a sliding window at all (a rate is judged).
    pub(crate) fn judges_rates(&self) -> bool {
        self.failure_rate.is_some() || self.slow_call_duration.is_some()
    }

    /// The open duration after `opens_in_a_row` opens (1 for the first).
    pub(crate) fn open_duration(&self, opens_in_a_row: u32) -> Duration {
        let growth = self
            .open_multiplier
            .powi(opens_in_a_row.saturating_sub(1).min(1024) as i32);
        let secs = self.open_for.as_secs_f64() * growth;
        if secs >= self.max_open_for.as_secs_f64() {
            self.max_open_for
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

/// Builds a [`Config`], validating it in [`ConfigBuilder::build`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// Trip when the failure rate reaches `rate` (in `[0, 1]`).
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.config.failure_rate = Some(rate);
        self
    }

    /// Do not judge the failure rate (for a consecutive-failures-only breaker).
    pub fn no_failure_rate(mut self) -> Self {
        self.config.failure_rate = None;
        self
    }

    /// Sets the sliding window.
    pub fn window(mut self, window: SlidingWindow) -> Self {
        self.config.window = window;
        self
    }

    /// A count-based window over the last `size` calls.
    pub fn count_window(self, size: u32) -> Self {
        self.window(SlidingWindow::calls(size))
    }

    /// A time-based window over `duration` in `buckets` buckets.
    pub fn time_window(self, duration: Duration, buckets: u32) -> Self {
        self.window(SlidingWindow::Time { duration, buckets })
    }

    /// Rates are judged only once the window holds `calls` calls.
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.config.minimum_calls = calls;
        self
    }

    /// Calls taking at least `duration` are slow; trip when the slow rate
    /// reaches `rate`.
    pub fn slow_calls(mut self, duration: Duration, rate: f64) -> Self {
        self.config.slow_call_duration = Some(duration);
        self.config.slow_call_rate = rate;
        self
    }

    /// Calls taking at least `duration` are slow (the rate stays as it is,
    /// 1.0 by default).
    pub fn slow_call_duration(mut self, duration: Duration) -> Self {
        self.config.slow_call_duration = Some(duration);
        self
    }

    /// Trip after `count` failures in a row.
    pub fn consecutive_failures(mut self, count: u32) -> Self {
        self.config.consecutive_failures = Some(count);
        self
    }

    /// Stay open for `duration` (the first time).
    pub fn open_for(mut self, duration: Duration) -> Self {
        self.config.open_for = duration;
        self
    }

    /// Grow the open duration by `multiplier` on each open in a row, up to
    /// `max`; it returns to `open_for` after a successful close.
    pub fn open_backoff(mut self, multiplier: f64, max: Duration) -> Self {
        self.config.open_multiplier = multiplier;
        self.config.max_open_for = max;
        self
    }

    /// Let `calls` probes through in half-open.
    pub fn half_open_calls(mut self, calls: u32) -> Self {
        self.config.half_open_calls = calls;
        self
    }

    /// Validates and returns the configuration.
    ///
    /// If `open_for` was raised above the default `max_open_for` without
    /// [`ConfigBuilder::open_backoff`], the cap follows `open_for`.
    pub fn build(mut self) -> Result<Config, ConfigError> {
        if self.config.open_multiplier == 1.0 && self.config.max_open_for < self.config.open_for {
            self.config.max_open_for = self.config.open_for;
        }
        self.config.validate()?;
        Ok(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_setting_at_fault() {
        let field = |b: ConfigBuilder| b.build().unwrap_err().field();
        assert_eq!(
            field(Config::builder().failure_rate(1.5)),
            Some("failure_rate")
        );
        assert_eq!(
            field(Config::builder().minimum_calls(0)),
            Some("minimum_calls")
        );
        assert_eq!(
            field(Config::builder().half_open_calls(0)),
            Some("half_open_calls")
        );
        assert_eq!(
            field(Config::builder().window(SlidingWindow::calls(0))),
            Some("window")
        );
        assert_eq!(
            field(Config::builder().open_for(Duration::ZERO)),
            Some("open_for")
        );
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn rejects_rate_above_one() {
        let err = Config::builder().failure_rate(1.5).build().unwrap_err();
        assert!(matches!(
            err,
            ConfigError::RateOutOfRange {
                field: "failure_rate",
                ..
            }
        ));
    }

    #[test]
    fn rejects_nan_slow_rate() {
        let err = Config::builder()
            .slow_calls(Duration::from_secs(1), f64::NAN)
            .build();
        assert!(matches!(
            err,
            Err(ConfigError::RateOutOfRange {
                field: "slow_call_rate",
                ..
            })
        ));
    }

    #[test]
    fn rejects_zero_window_and_zero_buckets() {
        assert_eq!(
            Config::builder().count_window(0).build(),
            Err(ConfigError::WindowSize(0))
        );
        let err = Config::builder()
            .time_window(Duration::from_secs(60), 0)
            .build();
        assert!(matches!(err, Err(ConfigError::WindowTime { .. })));
        let err = Config::builder().time_window(Duration::ZERO, 10).build();
        assert!(matches!(err, Err(ConfigError::WindowTime { .. })));
    }

    #[test]
    fn rejects_zero_half_open_calls() {
        assert_eq!(
            Config::builder().half_open_calls(0).build(),
            Err(ConfigError::ZeroHalfOpenCalls)
        );
    }

    #[test]
    fn rejects_no_trip_condition() {
        assert_eq!(
            Config::builder().no_failure_rate().build(),
            Err(ConfigError::NoTripCondition)
        );
    }

    #[test]
    fn rejects_shrinking_multiplier() {
        let err = Config::builder()
            .open_backoff(0.5, Duration::from_secs(600))
            .build();
        assert_eq!(err, Err(ConfigError::OpenMultiplier(0.5)));
    }

    #[test]
    fn long_open_for_lifts_the_default_cap() {
        let config = Config::builder()
            .open_for(Duration::from_secs(120))
            .build()
            .unwrap();
        assert_eq!(config.max_open_for, Duration::from_secs(120));
    }

    #[test]
    fn open_duration_grows_and_caps() {
        let config = Config::builder()
            .open_for(Duration::from_secs(10))
            .open_backoff(2.0, Duration::from_secs(35))
            .build()
            .unwrap();
        let secs: Vec<u64> = (1..=4).map(|n| config.open_duration(n).as_secs()).collect();
        assert_eq!(secs, [10, 20, 35, 35]);
    }
}
