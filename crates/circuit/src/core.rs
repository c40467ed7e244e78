//! The state machine shared by a breaker's handles and permits.
//!
//! The closed state runs on atomics only: `state` (the [`StateWord`]), the
//! window, and the consecutive-failure counter. Everything else (open,
//! half-open, manual transitions) happens under `machine`, a mutex taken only
//! on transitions and while half-open, which are rare. Listeners are called
//! after the mutex is released.

use std::sync::atomic::{
    AtomicBool, AtomicU32, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{Config, SlidingWindow};
use crate::outcome::{Outcome, Rejected};
use crate::state::{State, StateChange, StateListener, StateWord};
use crate::window::{Counts, RateWindow};

/// A granted call: the state word it was granted in (closed, half-open or
/// disabled, with the generation) and, when slowness is judged, its start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grant {
    pub(crate) word: StateWord,
    pub(crate) start: Option<Instant>,
}

impl Grant {
    pub(crate) fn is_probe(&self) -> bool {
        self.word.state() == State::HalfOpen
    }
}

/// Half-open bookkeeping and the open-duration growth, under the mutex.
#[derive(Debug, Default)]
struct Machine {
    opens_in_a_row: u32,
    probes_taken: u32,
    probes_done: u32,
    probe_failures: u32,
    probe_slow: u32,
}

impl Machine {
    fn start_half_open(&mut self) {
        self.probes_taken = 0;
        self.probes_done = 0;
        self.probe_failures = 0;
        self.probe_slow = 0;
    }
}

/// Whether an idle breaker may be dropped from a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idleness {
    /// Nothing of interest: closed with a clean window.
    Clean,
    /// A history worth keeping unless room is needed: closed with failures or
    /// slow calls in its window, or not yet recovered (open with its period
    /// over, or half-open with no probe in flight), which remembers how long
    /// the next open period lasts and that the next calls are probes.
    HoldsHistory,
    /// Open and still running, probing, forced open or disabled.
    Keep,
}

pub(crate) struct Core {
    state: AtomicU64,
    touched: AtomicBool,
    consecutive: AtomicU32,
    /// Nanoseconds since `origin` when the open period ends.
    open_until: AtomicU64,
    window: Option<RateWindow>,
    minimum_calls: u64,
    consecutive_limit: u32,
    config: Config,
    origin: Instant,
    machine: Mutex<Machine>,
    key: Arc<str>,
    listener: Option<Arc<dyn StateListener>>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("key", &self.key)
            .field("state", &self.state())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// `config` must be valid (the callers validate it).
    pub(crate) fn new(
        key: Arc<str>,
        config: Config,
        listener: Option<Arc<dyn StateListener>>,
    ) -> Self {
        let minimum_calls = match config.window {
            SlidingWindow::Calls { size } => config.minimum_calls.min(size),
            SlidingWindow::Time { .. } => config.minimum_calls,
        };
        Self {
            state: AtomicU64::new(StateWord::INITIAL.0),
            touched: AtomicBool::new(false),
            consecutive: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            window: config
                .judges_rates()
                .then(|| RateWindow::new(config.window)),
            minimum_calls: u64::from(minimum_calls),
            consecutive_limit: config.consecutive_failures.unwrap_or(u32::MAX),
            config,
            origin: Instant::now(),
            machine: Mutex::new(Machine::default()),
            key,
            listener,
        }
    }

    pub(crate) fn key(&self) -> &Arc<str> {
        &self.key
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn state(&self) -> State {
        StateWord(self.state.load(Acquire)).state()
    }

    /// Nanoseconds since the breaker was built (u64 arithmetic: no u128).
    #[inline]
    fn nanos(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.origin);
        since
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(since.subsec_nanos()))
    }

    fn lock(&self) -> MutexGuard<'_, Machine> {
        // No code panics while holding it (listeners run after release); a
        // poisoned guard still holds consistent counters.
        self.machine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores the next word; returns the event to deliver once unlocked.
    fn set_state(&self, current: StateWord, to: State, at: Instant) -> Option<StateChange> {
        self.state.store(current.next(to).0, Release);
        let from = current.state();
        (from != to && self.listener.is_some()).then(|| StateChange {
            key: Arc::clone(&self.key),
            from,
            to,
            at,
        })
    }

    fn emit(&self, change: Option<StateChange>) {
        if let (Some(change), Some(listener)) = (change, &self.listener) {
            listener.on_state_change(&change);
        }
    }

    #[inline]
    pub(crate) fn acquire(&self) -> Result<Grant, Rejected> {
        if !self.touched.load(Relaxed) {
            self.touched.store(true, Relaxed);
        }
        let word = StateWord(self.state.load(Acquire));
        if word.is_closed() {
            let start = if self.config.slow_call_duration.is_some() {
                Some(Instant::now())
            } else {
                None
            };
            return Ok(Grant { word, start });
        }
        self.acquire_other(word)
    }

    #[cold]
    #[inline(never)]
    fn acquire_other(&self, word: StateWord) -> Result<Grant, Rejected> {
        match word.state() {
            State::Disabled => Ok(Grant { word, start: None }),
            State::ForcedOpen => Err(Rejected::ForcedOpen),
            State::Closed | State::Open | State::HalfOpen => self.acquire_probe(word),
        }
    }

    #[cold]
    fn acquire_probe(&self, seen: StateWord) -> Result<Grant, Rejected> {
        let now = Instant::now();
        let now_nanos = self.nanos(now);
        let still_open = |until: u64| {
            (now_nanos < until).then(|| Rejected::Open {
                retry_after: Duration::from_nanos(until - now_nanos),
            })
        };
        if seen.state() == State::Open
            && let Some(rejected) = still_open(self.open_until.load(Acquire))
        {
            return Err(rejected);
        }
        let start = self.config.slow_call_duration.map(|_| now);
        let mut change = None;
        let result = {
            let mut machine = self.lock();
            let current = StateWord(self.state.load(Acquire));
            match current.state() {
                State::Open => match still_open(self.open_until.load(Acquire)) {
                    Some(rejected) => Err(rejected),
                    None => {
                        change = self.set_state(current, State::HalfOpen, now);
                        machine.start_half_open();
                        machine.probes_taken = 1;
                        Ok(Grant {
                            word: current.next(State::HalfOpen),
                            start,
                        })
                    }
                },
                State::HalfOpen if machine.probes_taken < self.config.half_open_calls => {
                    machine.probes_taken += 1;
                    Ok(Grant {
                        word: current,
                        start,
                    })
                }
                State::HalfOpen => Err(Rejected::HalfOpenFull),
                State::Closed => Ok(Grant {
                    word: current,
                    start,
                }),
                State::Disabled => Ok(Grant {
                    word: current,
                    start: None,
                }),
                State::ForcedOpen => Err(Rejected::ForcedOpen),
            }
        };
        self.emit(change);
        result
    }

    /// Records a granted call. `given` is a duration measured by the caller.
    #[inline]
    pub(crate) fn finish(&self, grant: Grant, outcome: Outcome, given: Option<Duration>) {
        if grant.word.is_closed() {
            self.finish_closed(grant.word, grant.start, outcome, given);
        } else if grant.is_probe() {
            self.finish_probe(grant.word, grant.start, outcome, given);
        }
    }

    #[inline]
    fn is_slow(
        &self,
        start: Option<Instant>,
        now: Option<Instant>,
        given: Option<Duration>,
    ) -> bool {
        let Some(limit) = self.config.slow_call_duration else {
            return false;
        };
        let elapsed = match (given, start, now) {
            (Some(given), _, _) => given,
            (None, Some(start), Some(now)) => now.saturating_duration_since(start),
            _ => return false,
        };
        elapsed >= limit
    }

    #[inline]
    fn finish_closed(
        &self,
        word: StateWord,
        start: Option<Instant>,
        outcome: Outcome,
        given: Option<Duration>,
    ) {
        let failure = match outcome {
            Outcome::Success => false,
            Outcome::Failure => true,
            Outcome::Ignored => return,
        };
        // A call that outlived its generation (the breaker tripped, closed
        // again or was reset meanwhile) says nothing about the new one.
        if self.state.load(Relaxed) != word.0 {
            return;
        }
        let window_clock = self.window.as_ref().is_some_and(RateWindow::needs_clock);
        let now = (window_clock || (start.is_some() && given.is_none())).then(Instant::now);
        let slow = self.is_slow(start, now, given);

        let mut trip = false;
        if failure {
            let in_a_row = self.consecutive.fetch_add(1, Relaxed).saturating_add(1);
            trip = in_a_row >= self.consecutive_limit;
        } else if self.consecutive.load(Relaxed) != 0 {
            self.consecutive.store(0, Relaxed);
        }
        if let Some(window) = &self.window {
            let now_nanos = now.map_or(0, |at| self.nanos(at));
            // A success lowers both rates, so it can only trip the breaker by
            // bringing the window up to `minimum_calls`.
            if let Some(counts) = window.record(failure, slow, now_nanos)
                && (failure || slow || counts.calls == self.minimum_calls)
            {
                trip |= self.rates_exceeded(counts, window.capacity());
            }
        }
        if trip {
            self.trip(word, now);
        }
    }

    #[inline]
    fn rates_exceeded(&self, counts: Counts, capacity: u64) -> bool {
        if counts.calls < self.minimum_calls || counts.is_torn(capacity) {
            return false;
        }
        let calls = counts.calls as f64;
        // At least one failure (slow call), as for the probes: a rate of 0 means "any".
        let failing = self
            .config
            .failure_rate
            .is_some_and(|rate| counts.failures > 0 && counts.failures as f64 >= rate * calls);
        let slow = self.config.slow_call_duration.is_some()
            && counts.slow > 0
            && counts.slow as f64 >= self.config.slow_call_rate * calls;
        failing || slow
    }

    #[cold]
    #[inline(never)]
    fn trip(&self, word: StateWord, now: Option<Instant>) {
        let at = now.unwrap_or_else(Instant::now);
        let change = {
            let mut machine = self.lock();
            if self.state.load(Acquire) == word.0 {
                self.open(&mut machine, word, at)
            } else {
                None
            }
        };
        self.emit(change);
    }

    fn open(&self, machine: &mut Machine, current: StateWord, at: Instant) -> Option<StateChange> {
        machine.opens_in_a_row = machine.opens_in_a_row.saturating_add(1);
        let open_for = self.config.open_duration(machine.opens_in_a_row);
        let until = self
            .nanos(at)
            .saturating_add(u64::try_from(open_for.as_nanos()).unwrap_or(u64::MAX));
        self.open_until.store(until, Release);
        self.set_state(current, State::Open, at)
    }

    fn close(&self, machine: &mut Machine, current: StateWord, at: Instant) -> Option<StateChange> {
        if let Some(window) = &self.window {
            window.clear();
        }
        self.consecutive.store(0, Relaxed);
        machine.opens_in_a_row = 0;
        self.set_state(current, State::Closed, at)
    }

    #[cold]
    #[inline(never)]
    fn finish_probe(
        &self,
        word: StateWord,
        start: Option<Instant>,
        outcome: Outcome,
        given: Option<Duration>,
    ) {
        let now = Instant::now();
        let change = {
            let mut machine = self.lock();
            if self.state.load(Acquire) != word.0 {
                return;
            }
            match outcome {
                Outcome::Ignored => {
                    // Give the slot back, so half-open cannot wedge.
                    machine.probes_taken = machine.probes_taken.saturating_sub(1);
                    return;
                }
                Outcome::Failure => machine.probe_failures += 1,
                Outcome::Success => {}
            }
            machine.probe_slow += u32::from(self.is_slow(start, Some(now), given));
            machine.probes_done += 1;
            if machine.probes_done < self.config.half_open_calls {
                return;
            }
            if self.probes_failed(&machine) {
                self.open(&mut machine, word, now)
            } else {
                self.close(&mut machine, word, now)
            }
        };
        self.emit(change);
    }

    /// The probes' verdict; without a failure-rate threshold (a
    /// consecutive-failures breaker) any failed probe reopens.
    fn probes_failed(&self, machine: &Machine) -> bool {
        let done = f64::from(machine.probes_done);
        let failures = f64::from(machine.probe_failures);
        let failing = match self.config.failure_rate {
            Some(rate) => failures >= rate * done && machine.probe_failures > 0,
            None => machine.probe_failures > 0,
        };
        let slow = self.config.slow_call_duration.is_some()
            && machine.probe_slow > 0
            && f64::from(machine.probe_slow) >= self.config.slow_call_rate * done;
        failing || slow
    }

    /// Back to closed with an empty window, zero consecutive failures and the
    /// base open duration, from any state.
    pub(crate) fn reset(&self) {
        let now = Instant::now();
        let change = {
            let mut machine = self.lock();
            let current = StateWord(self.state.load(Acquire));
            self.open_until.store(0, Release);
            *machine = Machine::default();
            self.close(&mut machine, current, now)
        };
        self.emit(change);
    }

    /// Into a manual state ([`State::ForcedOpen`] or [`State::Disabled`]).
    pub(crate) fn hold(&self, manual: State) {
        let now = Instant::now();
        let change = {
            let _machine = self.lock();
            let current = StateWord(self.state.load(Acquire));
            self.set_state(current, manual, now)
        };
        self.emit(change);
    }

    /// The window's totals (expiring old buckets first) and the state.
    pub(crate) fn counts(&self) -> (State, Counts, u32) {
        let state = self.state();
        let counts = match &self.window {
            Some(window) => {
                let now = if window.needs_clock() {
                    self.nanos(Instant::now())
                } else {
                    0
                };
                let counts = window.counts(now);
                Counts {
                    failures: counts.failures.min(counts.calls),
                    slow: counts.slow.min(counts.calls),
                    ..counts
                }
            }
            None => Counts::default(),
        };
        (state, counts, self.consecutive.load(Relaxed))
    }

    /// Clears the activity flag, returning whether a call was made since the
    /// last time.
    pub(crate) fn take_touched(&self) -> bool {
        self.touched.swap(false, Relaxed)
    }

    pub(crate) fn idleness(&self, now: Instant) -> Idleness {
        match self.state() {
            State::Closed => {
                let (_, counts, consecutive) = self.counts();
                if counts.failures == 0 && counts.slow == 0 && consecutive == 0 {
                    Idleness::Clean
                } else {
                    Idleness::HoldsHistory
                }
            }
            State::Open if self.nanos(now) >= self.open_until.load(Acquire) => {
                Idleness::HoldsHistory
            }
            State::HalfOpen if self.lock().probes_taken == 0 => Idleness::HoldsHistory,
            State::Open | State::HalfOpen | State::ForcedOpen | State::Disabled => Idleness::Keep,
        }
    }
}
