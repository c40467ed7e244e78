//! Where the waits happen: tokio's timer by default, or a timer of your own.

use std::future::Future;
use std::time::Duration;

/// Sleeps between attempts. Never called with a zero delay: the loop skips the timer then.
///
/// Any `Fn(Duration) -> impl Future<Output = ()>` is a sleeper, so a runtime other than
/// tokio plugs in its own timer; the choice is a type parameter, free on the hot path.
pub trait Sleeper {
    /// The future that completes after the delay.
    type Sleep: Future<Output = ()>;

    /// A future that completes after `delay`.
    fn sleep(&self, delay: Duration) -> Self::Sleep;
}

impl<F, Fut> Sleeper for F
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = ()>,
{
    type Sleep = Fut;

    fn sleep(&self, delay: Duration) -> Fut {
        self(delay)
    }
}

/// The default sleeper: [`tokio::time::sleep`], so paused time in tests applies.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    type Sleep = tokio::time::Sleep;

    fn sleep(&self, delay: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(delay)
    }
}
