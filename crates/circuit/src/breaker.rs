//! The breaker handle: acquire, call, manual transitions, snapshot.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::config::{Config, ConfigError};
use crate::core::{Core, Idleness};
use crate::outcome::{CallError, Outcome, Rejected};
use crate::permit::{OwnedPermit, Permit};
use crate::state::{State, StateListener};

/// A circuit breaker. Cheap to clone: clones share one state.
#[derive(Clone)]
pub struct CircuitBreaker {
    core: Arc<Core>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.core, f)
    }
}

/// The window's figures at one moment, for metrics.
///
/// The window is the closed state's: it keeps the calls that tripped the
/// breaker while open and half-open, and is emptied on closing. Without a
/// rate threshold (a consecutive-failures breaker) there is no window and
/// its figures are zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// The state.
    pub state: State,
    /// Calls in the window (ignored calls are not counted).
    pub calls: u64,
    /// Failed calls in the window.
    pub failures: u64,
    /// Slow calls in the window (failed or not).
    pub slow_calls: u64,
    /// `failures / calls`, 0 when there are no calls.
    pub failure_rate: f64,
    /// `slow_calls / calls`, 0 when there are no calls.
    pub slow_call_rate: f64,
    /// Failures in a row, up to the last success.
    pub consecutive_failures: u32,
}

impl CircuitBreaker {
    /// A breaker named `key` with `config` and no listener.
    pub fn new(key: impl Into<Arc<str>>, config: Config) -> Result<Self, ConfigError> {
        Self::builder(key, config).build()
    }

    /// A builder, to add a state listener.
    pub fn builder(key: impl Into<Arc<str>>, config: Config) -> CircuitBreakerBuilder {
        CircuitBreakerBuilder {
            key: key.into(),
            config,
            listener: None,
        }
    }

    /// Asks leave for one call.
    ///
    /// Closed: always granted, with atomics only. Open: rejected with the time
    /// left, or, once the open duration has elapsed, the breaker turns
    /// half-open and this call is its first probe. Half-open: granted while
    /// probe slots are free.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        self.core
            .acquire()
            .map(|grant| Permit::new(&self.core, grant))
    }

    /// Like [`try_acquire`](Self::try_acquire), with a permit that owns a
    /// handle to the breaker (one reference-count increment more).
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, Rejected> {
        self.core
            .acquire()
            .map(|grant| OwnedPermit::new(Arc::clone(&self.core), grant))
    }

    /// Acquires, awaits `call`, classifies its result, records it, and
    /// returns it. If the returned future is dropped before `call` finishes,
    /// the call counts as ignored.
    ///
    /// `classify` sees the result before it is returned: use
    /// [`Outcome::of_result`] for "`Err` is a failure", or decide per error
    /// (a 404 is not the upstream's fault).
    pub async fn call<T, E, F, C>(&self, call: F, classify: C) -> Result<T, CallError<E>>
    where
        F: Future<Output = Result<T, E>>,
        C: FnOnce(&Result<T, E>) -> Outcome,
    {
        let permit = self.try_acquire()?;
        let result = call.await;
        permit.record(classify(&result));
        result.map_err(CallError::Inner)
    }

    /// Rejects every call until [`reset`](Self::reset).
    pub fn force_open(&self) {
        self.core.hold(State::ForcedOpen);
    }

    /// Lets every call through and records nothing until
    /// [`reset`](Self::reset).
    pub fn disable(&self) {
        self.core.hold(State::Disabled);
    }

    /// Back to closed with an empty window and the base open duration; calls
    /// granted before the reset are not recorded.
    pub fn reset(&self) {
        self.core.reset();
    }

    /// The current state. An open breaker whose duration has elapsed still
    /// reads open until the next acquire.
    pub fn state(&self) -> State {
        self.core.state()
    }

    /// The breaker's key.
    pub fn key(&self) -> &Arc<str> {
        self.core.key()
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &Config {
        self.core.config()
    }

    /// The window's figures now (a time window first drops expired buckets).
    pub fn snapshot(&self) -> Snapshot {
        let (state, counts, consecutive_failures) = self.core.counts();
        let rate = |part: u64| {
            if counts.calls == 0 {
                0.0
            } else {
                part as f64 / counts.calls as f64
            }
        };
        Snapshot {
            state,
            calls: counts.calls,
            failures: counts.failures,
            slow_calls: counts.slow,
            failure_rate: rate(counts.failures),
            slow_call_rate: rate(counts.slow),
            consecutive_failures,
        }
    }

    /// Builds from a configuration the caller has validated.
    pub(crate) fn from_valid(
        key: Arc<str>,
        config: Config,
        listener: Option<Arc<dyn StateListener>>,
    ) -> Self {
        CircuitBreaker {
            core: Arc::new(Core::new(key, config, listener)),
        }
    }

    pub(crate) fn take_touched(&self) -> bool {
        self.core.take_touched()
    }

    /// Whether anything besides this handle holds the breaker: another handle,
    /// an [`OwnedPermit`] of a call in flight, or a service.
    pub(crate) fn is_shared(&self) -> bool {
        Arc::strong_count(&self.core) > 1
    }

    pub(crate) fn idleness(&self, now: tokio::time::Instant) -> Idleness {
        self.core.idleness(now)
    }
}

/// Builds a [`CircuitBreaker`].
#[must_use]
pub struct CircuitBreakerBuilder {
    key: Arc<str>,
    config: Config,
    listener: Option<Arc<dyn StateListener>>,
}

impl fmt::Debug for CircuitBreakerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerBuilder")
            .field("key", &self.key)
            .field("config", &self.config)
            .field("listener", &self.listener.is_some())
            .finish()
    }
}

impl CircuitBreakerBuilder {
    /// Calls `listener` on every state change (after the breaker's lock is
    /// released).
    pub fn on_state_change(self, listener: impl StateListener) -> Self {
        Self {
            listener: Some(Arc::new(listener)),
            ..self
        }
    }

    /// Validates the configuration and builds the breaker.
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        self.config.validate()?;
        Ok(CircuitBreaker::from_valid(
            self.key,
            self.config,
            self.listener,
        ))
    }
}
