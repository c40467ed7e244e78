//! What a retry policy is made of: the schedule of delays, the cap, the jitter
//! and the limits, validated once when the policy is built.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::delays::{Cursor, Delays};
use crate::jitter::Jitter;
use crate::seed;

/// How many retries a policy allows when the builder is not told otherwise.
pub const DEFAULT_MAX_RETRIES: u32 = 3;

/// A delay function: retry `n` (counting from 0) waits `f(n)`; `None` ends the schedule.
type DelayFn = dyn Fn(u32) -> Option<Duration> + Send + Sync;
/// A factory of fresh delay iterators, one per retry loop.
type DelayIterFactory = dyn Fn() -> Box<dyn Iterator<Item = Duration> + Send> + Send + Sync;

/// The un-jittered, un-capped delays of a policy.
#[derive(Clone)]
pub(crate) enum Schedule {
    /// Every retry waits `delay`.
    Fixed { delay: Duration },
    /// Retry `n` waits `base * multiplier^n`.
    Exponential { base: Duration, multiplier: f64 },
    /// Retry `n` waits `base + increment * n`.
    Linear { base: Duration, increment: Duration },
    /// Retry `n` waits `delays[n]`; the last delay repeats.
    Custom(Arc<[Duration]>),
    /// Retry `n` waits `f(n)`; `None` ends the retries.
    Function(Arc<DelayFn>),
    /// Each retry loop draws from a fresh iterator; its end ends the retries.
    Iterator(Arc<DelayIterFactory>),
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed { delay } => f.debug_struct("Fixed").field("delay", delay).finish(),
            Self::Exponential { base, multiplier } => f
                .debug_struct("Exponential")
                .field("base", base)
                .field("multiplier", multiplier)
                .finish(),
            Self::Linear { base, increment } => f
                .debug_struct("Linear")
                .field("base", base)
                .field("increment", increment)
                .finish(),
            Self::Custom(delays) => f.debug_tuple("Custom").field(delays).finish(),
            Self::Function(_) => f.write_str("Function(..)"),
            Self::Iterator(_) => f.write_str("Iterator(..)"),
        }
    }
}

/// A policy built from numbers that make no sense.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The exponential multiplier is NaN, infinite or below 1 (delays would shrink).
    #[error("invalid backoff multiplier {multiplier}: it must be finite and at least 1")]
    InvalidMultiplier {
        /// The multiplier that was given.
        multiplier: f64,
    },
    /// A multiplier was set on a policy that is not exponential.
    #[error("a multiplier only applies to an exponential policy, not to a {kind} one")]
    MultiplierNotExponential {
        /// The kind of policy the multiplier was set on.
        kind: &'static str,
    },
    /// A custom policy was given an empty list of delays.
    #[error("a custom policy needs at least one delay")]
    NoDelays,
}

/// A retry policy: which delay precedes each retry, and when to give up.
///
/// Built with [`RetryPolicy::fixed`], [`exponential`](RetryPolicy::exponential),
/// [`linear`](RetryPolicy::linear), [`custom`](RetryPolicy::custom),
/// [`from_fn`](RetryPolicy::from_fn) or [`from_iterator`](RetryPolicy::from_iterator), then
/// [`RetryPolicyBuilder::build`]. A policy is plain, cheap-to-clone data; every retry loop
/// asks it for a fresh [`Delays`] iterator.
///
/// The delay before retry `n` (counting from 0) is, before jitter:
///
/// | policy | delay |
/// | --- | --- |
/// | fixed | `base` |
/// | exponential | `base * multiplier^n` |
/// | linear | `base + increment * n` |
/// | custom | `delays[n]`, the last one repeating |
///
/// capped at [`max_delay`](RetryPolicyBuilder::max_delay). Arithmetic saturates at the cap
/// (without a cap, at `Duration::MAX`; exponential and jittered delays at `u64::MAX`
/// nanoseconds, about 584 years): it never overflows or panics.
///
/// ```
/// use std::time::Duration;
/// use flunq_retry::{Jitter, RetryPolicy};
///
/// let policy = RetryPolicy::exponential(Duration::from_millis(100))
///     .multiplier(2.0)
///     .max_delay(Duration::from_millis(300))
///     .jitter(Jitter::None)
///     .max_retries(4)
///     .build()
///     .unwrap();
/// let delays: Vec<_> = policy.delays().map(|d| d.as_millis()).collect();
/// assert_eq!(delays, [100, 200, 300, 300]);
/// ```
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub(crate) schedule: Schedule,
    pub(crate) max_delay: Option<Duration>,
    pub(crate) jitter: Jitter,
    pub(crate) max_retries: Option<u32>,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) seed: Option<u64>,
}

impl RetryPolicy {
    /// Every retry waits `delay`.
    pub fn fixed(delay: Duration) -> RetryPolicyBuilder {
        RetryPolicyBuilder::new(Schedule::Fixed { delay })
    }

    /// Retry `n` waits `base * multiplier^n`; the multiplier is 2 unless
    /// [`multiplier`](RetryPolicyBuilder::multiplier) says otherwise.
    pub fn exponential(base: Duration) -> RetryPolicyBuilder {
        RetryPolicyBuilder::new(Schedule::Exponential {
            base,
            multiplier: 2.0,
        })
    }

    /// Retry `n` waits `base + increment * n`.
    pub fn linear(base: Duration, increment: Duration) -> RetryPolicyBuilder {
        RetryPolicyBuilder::new(Schedule::Linear { base, increment })
    }

    /// Retry `n` waits `delays[n]`; once the list is used up its last delay repeats
    /// (until [`max_retries`](RetryPolicyBuilder::max_retries) or the elapsed limit stops it).
    pub fn custom(delays: impl Into<Vec<Duration>>) -> RetryPolicyBuilder {
        let delays: Vec<Duration> = delays.into();
        RetryPolicyBuilder::new(Schedule::Custom(delays.into()))
    }

    /// Retry `n` (counting from 0) waits `delay(n)`; `None` means "no more retries".
    pub fn from_fn<F>(delay: F) -> RetryPolicyBuilder
    where
        F: Fn(u32) -> Option<Duration> + Send + Sync + 'static,
    {
        RetryPolicyBuilder::new(Schedule::Function(Arc::new(delay)))
    }

    /// Each retry loop walks a fresh copy of `delays`; its end means "no more retries".
    ///
    /// The iterator is cloned once per retry loop that needs a delay and boxed (one
    /// allocation on the first retry, none when the first attempt succeeds).
    pub fn from_iterator<I>(delays: I) -> RetryPolicyBuilder
    where
        I: IntoIterator<Item = Duration> + Clone + Send + Sync + 'static,
        I::IntoIter: Send + 'static,
    {
        let factory = move || -> Box<dyn Iterator<Item = Duration> + Send> {
            Box::new(delays.clone().into_iter())
        };
        RetryPolicyBuilder::new(Schedule::Iterator(Arc::new(factory)))
    }

    /// The successive delays of one retry loop, jittered with a fast, non-cryptographic
    /// generator (seeded per loop, or from [`jitter_seed`](RetryPolicyBuilder::jitter_seed)).
    ///
    /// The iterator stops after `max_retries` delays, when the schedule ends, or when the
    /// next wait would take the sum of the waits past `max_elapsed` (it cannot see the time
    /// the attempts themselves take: a loop with a clock calls [`Delays::next_delay`]).
    pub fn delays(&self) -> Delays<SmallRng> {
        Delays::new(self, self.default_rng())
    }

    /// A cursor over this policy for one retry loop, with the default generator.
    pub(crate) fn cursor(&self) -> Cursor<SmallRng> {
        Cursor::new(self, self.default_rng())
    }

    /// The generator jitter draws from: none without jitter, else seeded by the policy's
    /// seed or a fresh per-loop seed.
    fn default_rng(&self) -> Option<SmallRng> {
        match (self.jitter, self.seed) {
            (Jitter::None, _) => None,
            (_, Some(seed)) => Some(SmallRng::seed_from_u64(seed)),
            (_, None) => Some(seed::small_rng()),
        }
    }

    /// Like [`delays`](Self::delays), with the random generator of your choice (a fixed
    /// seed in tests, for instance). A seed set on the policy is ignored.
    pub fn delays_with_rng<R: Rng>(&self, rng: R) -> Delays<R> {
        Delays::new(self, Some(rng))
    }

    /// The most retries one loop makes (`None`: no limit but the schedule and the elapsed time).
    pub fn max_retries(&self) -> Option<u32> {
        self.max_retries
    }

    /// The longest a loop may run, waits included (`None`: no limit).
    pub fn max_elapsed(&self) -> Option<Duration> {
        self.max_elapsed
    }

    /// The cap on every delay, jittered or hinted (`None`: no cap).
    pub fn max_delay(&self) -> Option<Duration> {
        self.max_delay
    }

    /// The jitter applied to each delay.
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }
}

impl Default for RetryPolicy {
    /// Exponential from 100 ms, doubling, capped at 10 s, full jitter, 3 retries.
    fn default() -> Self {
        Self {
            schedule: Schedule::Exponential {
                base: Duration::from_millis(100),
                multiplier: 2.0,
            },
            max_delay: Some(Duration::from_secs(10)),
            jitter: Jitter::Full,
            max_retries: Some(DEFAULT_MAX_RETRIES),
            max_elapsed: None,
            seed: None,
        }
    }
}

/// Builds a [`RetryPolicy`]; [`build`](Self::build) validates the numbers.
///
/// Defaults: no cap, no jitter, [`DEFAULT_MAX_RETRIES`] retries, no elapsed limit.
#[derive(Debug, Clone)]
#[must_use = "call `.build()` to get a policy"]
pub struct RetryPolicyBuilder {
    schedule: Schedule,
    multiplier: Option<f64>,
    max_delay: Option<Duration>,
    jitter: Jitter,
    max_retries: Option<u32>,
    max_elapsed: Option<Duration>,
    seed: Option<u64>,
}

impl RetryPolicyBuilder {
    fn new(schedule: Schedule) -> Self {
        Self {
            schedule,
            multiplier: None,
            max_delay: None,
            jitter: Jitter::None,
            max_retries: Some(DEFAULT_MAX_RETRIES),
            max_elapsed: None,
            seed: None,
        }
    }

    /// The growth factor of an exponential policy: finite and at least 1.
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = Some(multiplier);
        self
    }

    /// The cap on every delay, after jitter and on `RetryAfter` hints too.
    /// A zero cap is allowed and makes every delay zero.
    pub fn max_delay(mut self, cap: Duration) -> Self {
        self.max_delay = Some(cap);
        self
    }

    /// The jitter applied to each delay (none by default).
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Seeds the jitter generator so every loop draws the same sequence (for tests and
    /// simulations; in production it would make all clients jitter alike).
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The most retries one loop makes (attempts = retries + 1). `0` disables retrying.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// Removes the retry count limit: only the schedule's end, the elapsed limit,
    /// the budget or the classifier stop the loop.
    pub fn unlimited_retries(mut self) -> Self {
        self.max_retries = None;
        self
    }

    /// The longest a loop may run, counting the attempts and the waits: a retry whose
    /// wait would end past this limit does not happen.
    pub fn max_elapsed(mut self, limit: Duration) -> Self {
        self.max_elapsed = Some(limit);
        self
    }

    /// Checks the numbers and returns the policy.
    pub fn build(self) -> Result<RetryPolicy, PolicyError> {
        let schedule = match (self.schedule, self.multiplier) {
            (Schedule::Exponential { base, multiplier }, given) => {
                let multiplier = given.unwrap_or(multiplier);
                if !multiplier.is_finite() || multiplier < 1.0 {
                    return Err(PolicyError::InvalidMultiplier { multiplier });
                }
                Schedule::Exponential { base, multiplier }
            }
            (schedule, Some(_)) => {
                return Err(PolicyError::MultiplierNotExponential {
                    kind: kind_name(&schedule),
                });
            }
            (Schedule::Custom(delays), None) if delays.is_empty() => {
                return Err(PolicyError::NoDelays);
            }
            (schedule, None) => schedule,
        };
        Ok(RetryPolicy {
            schedule,
            max_delay: self.max_delay,
            jitter: self.jitter,
            max_retries: self.max_retries,
            max_elapsed: self.max_elapsed,
            seed: self.seed,
        })
    }
}

fn kind_name(schedule: &Schedule) -> &'static str {
    match schedule {
        Schedule::Fixed { .. } => "fixed",
        Schedule::Exponential { .. } => "exponential",
        Schedule::Linear { .. } => "linear",
        Schedule::Custom(_) => "custom",
        Schedule::Function(_) => "function",
        Schedule::Iterator(_) => "iterator",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_multiplier_below_one_nan_and_infinite() {
        for bad in [0.5, -2.0, f64::NAN, f64::INFINITY] {
            let err = RetryPolicy::exponential(Duration::from_millis(1))
                .multiplier(bad)
                .build()
                .unwrap_err();
            assert!(
                matches!(err, PolicyError::InvalidMultiplier { .. }),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_multiplier_on_fixed_policy() {
        let err = RetryPolicy::fixed(Duration::from_millis(1))
            .multiplier(2.0)
            .build()
            .unwrap_err();
        assert_eq!(err, PolicyError::MultiplierNotExponential { kind: "fixed" });
        assert!(err.to_string().contains("fixed"));
    }

    #[test]
    fn rejects_empty_custom_list() {
        let err = RetryPolicy::custom(Vec::new()).build().unwrap_err();
        assert_eq!(err, PolicyError::NoDelays);
    }
}
