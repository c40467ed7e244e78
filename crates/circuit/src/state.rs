//! The breaker's states, the packed state word, and state-change events.

use std::fmt;
use std::sync::Arc;

use tokio::time::Instant;

/// Where a breaker is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls pass and are recorded; the breaker trips when a threshold is met.
    Closed,
    /// Calls are rejected until the open duration has elapsed.
    Open,
    /// A fixed number of probe calls pass; their outcome closes or reopens.
    HalfOpen,
    /// Every call is rejected until [`reset`](crate::CircuitBreaker::reset).
    ForcedOpen,
    /// Every call passes and nothing is recorded.
    Disabled,
}

impl State {
    const ALL: [State; 5] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::Disabled,
    ];

    fn code(self) -> u64 {
        self as u64
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half-open",
            State::ForcedOpen => "forced-open",
            State::Disabled => "disabled",
        })
    }
}

/// The state and a generation counter in one `u64`, so a permit can tell
/// whether the breaker changed state since it was taken: every transition
/// bumps the generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StateWord(pub(crate) u64);

impl StateWord {
    const STATE_BITS: u32 = 3;
    const STATE_MASK: u64 = (1 << Self::STATE_BITS) - 1;

    pub(crate) const INITIAL: StateWord = StateWord(0);

    /// The hot path's test: no table lookup, no branch on the other states.
    #[inline]
    pub(crate) fn is_closed(self) -> bool {
        self.0 & Self::STATE_MASK == State::Closed as u64
    }

    pub(crate) fn state(self) -> State {
        // The low bits are only ever written by `next`, from a `State` code.
        State::ALL
            .get((self.0 & Self::STATE_MASK) as usize)
            .copied()
            .unwrap_or(State::Closed)
    }

    /// The word after a transition to `to`.
    pub(crate) fn next(self, to: State) -> StateWord {
        let generation = (self.0 >> Self::STATE_BITS).wrapping_add(1);
        StateWord((generation << Self::STATE_BITS) | to.code())
    }
}

/// One transition of one breaker, given to the [`StateListener`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// The breaker's key (its name, or the registry key).
    pub key: Arc<str>,
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// When it happened (tokio's clock, so paused time in tests).
    pub at: Instant,
}

/// Receives state changes. Set at build time; called after the breaker's
/// lock is released, on the thread that caused the transition.
///
/// Any `Fn(&StateChange) + Send + Sync + 'static` closure is a listener.
/// Keep it short: it runs inline in the call that caused the transition.
/// Under concurrent transitions two events may reach the listener out of
/// order; `at` tells their order.
pub trait StateListener: Send + Sync + 'static {
    /// Called once per transition.
    fn on_state_change(&self, change: &StateChange);
}

impl<F> StateListener for F
where
    F: Fn(&StateChange) + Send + Sync + 'static,
{
    fn on_state_change(&self, change: &StateChange) {
        self(change);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_keeps_state_and_bumps_generation() {
        let word = StateWord::INITIAL;
        assert_eq!(word.state(), State::Closed);
        let open = word.next(State::Open);
        assert_eq!(open.state(), State::Open);
        let closed = open.next(State::Open).next(State::Closed);
        assert_eq!(closed.state(), State::Closed);
        assert_ne!(closed, word);
    }
}
