//! Jitter: spreading the retries of many clients so they do not arrive together.

use rand::{Rng, RngExt};

/// How each delay is randomised, with the meanings of Marc Brooker's "Exponential Backoff
/// and Jitter" (AWS Architecture Blog, 2015). `d` is the capped delay of the schedule.
///
/// A jittered delay never exceeds the policy's cap: full and equal jitter only shorten
/// `d`, and decorrelated jitter is capped explicitly. (backon's jitter *adds* up to `d`,
/// so its delays can reach twice its cap.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// Exactly `d`.
    #[default]
    None,
    /// Uniform in `[0, d]`: the least total work for contending clients.
    Full,
    /// `d/2` plus uniform in `[0, d/2]`: never shorter than half the delay.
    Equal,
    /// `min(cap, uniform in [base, previous * 3])`, starting from `previous = base`,
    /// where `base` is the schedule's first non-zero delay (leading zero delays are kept
    /// as they are: `custom([0 ms, 100 ms, 1 s])` retries once at once, then walks from
    /// 100 ms). From `base` on, the schedule's growth (multiplier, increment, later list
    /// entries) is replaced by this random walk; its end and the retry limits still apply.
    Decorrelated,
}

/// Per-loop state that decorrelated jitter needs, and the cap, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JitterState {
    /// The schedule's first non-zero delay; set on the first draw that sees one.
    base: Option<u64>,
    /// The previous decorrelated delay.
    previous: u64,
}

impl JitterState {
    pub(crate) const fn new() -> Self {
        Self {
            base: None,
            previous: 0,
        }
    }

    /// Jitters the capped schedule delay `delay` (nanoseconds), never returning more than `cap`.
    pub(crate) fn apply<R: Rng>(
        &mut self,
        jitter: Jitter,
        delay: u64,
        cap: u64,
        rng: &mut R,
    ) -> u64 {
        match jitter {
            Jitter::None => delay,
            Jitter::Full => rng.random_range(0..=delay),
            Jitter::Equal => {
                let half = delay / 2;
                half + rng.random_range(0..=delay - half)
            }
            Jitter::Decorrelated => {
                let base = match self.base {
                    Some(base) => base,
                    // A leading zero delay is no scale to walk from: keep it, and wait for
                    // the schedule's first real delay.
                    None if delay == 0 => return 0,
                    None => *self.base.insert(delay),
                };
                if self.previous == 0 {
                    self.previous = base;
                }
                let high = self.previous.saturating_mul(3).max(base);
                let next = rng.random_range(base..=high).min(cap);
                self.previous = next;
                next
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn equal_jitter_of_an_odd_delay_stays_within_it() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut state = JitterState::new();
        for _ in 0..1000 {
            let d = state.apply(Jitter::Equal, 3, 3, &mut rng);
            assert!((1..=3).contains(&d), "{d}");
        }
    }

    #[test]
    fn decorrelated_with_zero_base_stays_zero() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut state = JitterState::new();
        for _ in 0..10 {
            assert_eq!(state.apply(Jitter::Decorrelated, 0, 100, &mut rng), 0);
        }
    }
}
