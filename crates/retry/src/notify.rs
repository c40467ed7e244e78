//! A hook that sees each retry before its wait (for logs and metrics).

use std::time::Duration;

/// Called before each wait with the number of the attempt that just ended (1 for the first
/// attempt), its outcome, and the delay about to be slept.
///
/// Any `Fn(u32, &Result<T, E>, Duration)` is a hook.
pub trait Notify<T, E> {
    /// Attempt `attempt` ended with `outcome`; the loop now waits `delay`, then retries.
    fn notify(&self, attempt: u32, outcome: &Result<T, E>, delay: Duration);
}

impl<T, E, F> Notify<T, E> for F
where
    F: Fn(u32, &Result<T, E>, Duration),
{
    fn notify(&self, attempt: u32, outcome: &Result<T, E>, delay: Duration) {
        self(attempt, outcome, delay);
    }
}

/// The default hook: does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotify;

impl<T, E> Notify<T, E> for NoNotify {
    #[inline]
    fn notify(&self, _attempt: u32, _outcome: &Result<T, E>, _delay: Duration) {}
}
