//! Permits: the right to make one call, and the duty to report how it went.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::core::{Core, Grant};
use crate::outcome::Outcome;

fn describe(grant: Option<&Grant>) -> &'static str {
    match grant {
        Some(grant) if grant.is_probe() => "half-open probe",
        Some(grant) if grant.word.is_closed() => "closed",
        Some(_) => "disabled",
        None => "recorded",
    }
}

/// Leave to make one call through a breaker, borrowed from it.
///
/// Report the outcome with [`Permit::record`] (which measures the call's
/// duration itself when slow calls are judged) or
/// [`Permit::record_with_duration`]. A permit dropped without a record counts
/// as [`Outcome::Ignored`]: nothing is counted and a half-open probe slot is
/// given back.
#[must_use = "record the call's outcome; a dropped permit counts as ignored"]
pub struct Permit<'a> {
    core: &'a Core,
    grant: Option<Grant>,
}

impl<'a> Permit<'a> {
    pub(crate) fn new(core: &'a Core, grant: Grant) -> Self {
        Self {
            core,
            grant: Some(grant),
        }
    }

    /// Records the outcome; the duration is measured from the acquire.
    #[inline]
    pub fn record(mut self, outcome: Outcome) {
        if let Some(grant) = self.grant.take() {
            self.core.finish(grant, outcome, None);
        }
    }

    /// Records the outcome with a duration measured by the caller.
    pub fn record_with_duration(mut self, outcome: Outcome, duration: Duration) {
        if let Some(grant) = self.grant.take() {
            self.core.finish(grant, outcome, Some(duration));
        }
    }

    /// Whether this permit is one of the half-open probes.
    pub fn is_probe(&self) -> bool {
        self.grant.as_ref().is_some_and(Grant::is_probe)
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(grant) = self.grant.take() {
            self.core.finish(grant, Outcome::Ignored, None);
        }
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", self.core.key())
            .field("kind", &describe(self.grant.as_ref()))
            .finish()
    }
}

/// A [`Permit`] that owns a handle to its breaker, for futures that must be
/// `'static` (the tower service). Same rules as [`Permit`].
#[must_use = "record the call's outcome; a dropped permit counts as ignored"]
pub struct OwnedPermit {
    core: Arc<Core>,
    grant: Option<Grant>,
}

impl OwnedPermit {
    pub(crate) fn new(core: Arc<Core>, grant: Grant) -> Self {
        Self {
            core,
            grant: Some(grant),
        }
    }

    /// Records the outcome; the duration is measured from the acquire.
    pub fn record(mut self, outcome: Outcome) {
        if let Some(grant) = self.grant.take() {
            self.core.finish(grant, outcome, None);
        }
    }

    /// Records the outcome with a duration measured by the caller.
    pub fn record_with_duration(mut self, outcome: Outcome, duration: Duration) {
        if let Some(grant) = self.grant.take() {
            self.core.finish(grant, outcome, Some(duration));
        }
    }

    /// Whether this permit is one of the half-open probes.
    pub fn is_probe(&self) -> bool {
        self.grant.as_ref().is_some_and(Grant::is_probe)
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        if let Some(grant) = self.grant.take() {
            self.core.finish(grant, Outcome::Ignored, None);
        }
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("breaker", self.core.key())
            .field("kind", &describe(self.grant.as_ref()))
            .finish()
    }
}
