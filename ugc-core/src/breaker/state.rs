//! The five states and the packed state word that publishes them.

use std::fmt;

/// Where a breaker is in its life cycle, as resilience4j names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls flow; outcomes are recorded in the sliding window.
    Closed,
    /// Calls are rejected until the open wait has passed.
    Open,
    /// A fixed number of trial calls decide between closing and opening again.
    HalfOpen,
    /// Rejects every call until an operator resets it; time never moves it.
    ForcedOpen,
    /// Admits every call and records nothing; time never moves it.
    Disabled,
}

impl State {
    /// The stable snake_case name used in logs, metrics and the bindings.
    ///
    /// ```
    /// use ugc_core::breaker::State;
    /// assert_eq!(State::HalfOpen.as_str(), "half_open");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::Disabled => "disabled",
        }
    }

    const fn code(self) -> u64 {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
            State::ForcedOpen => 3,
            State::Disabled => 4,
        }
    }

    const fn from_code(code: u64) -> State {
        match code {
            0 => State::Closed,
            1 => State::Open,
            2 => State::HalfOpen,
            3 => State::ForcedOpen,
            // Only `Word::new` writes codes, so 4 is the only value left.
            _ => State::Disabled,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const STATE_BITS: u32 = 3;
const STATE_MASK: u64 = (1 << STATE_BITS) - 1;

/// The state and its generation in one `u64`, so one atomic load tells a caller both and a
/// permit can prove it still belongs to the state that issued it.
///
/// Every transition bumps the generation (61 bits: it never wraps in practice), so two words
/// are equal only within one stay in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Word(u64);

impl Word {
    pub(super) const fn new(state: State, generation: u64) -> Self {
        Self((generation << STATE_BITS) | state.code())
    }

    pub(super) const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    pub(super) const fn bits(self) -> u64 {
        self.0
    }

    pub(super) const fn state(self) -> State {
        State::from_code(self.0 & STATE_MASK)
    }

    pub(super) const fn generation(self) -> u64 {
        self.0 >> STATE_BITS
    }

    /// The word of the next stay, in state `to`.
    pub(super) const fn next(self, to: State) -> Self {
        Self::new(to, self.generation().wrapping_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [State; 5] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::Disabled,
    ];

    #[test]
    fn names_are_stable_snake_case() {
        let names: Vec<_> = ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            ["closed", "open", "half_open", "forced_open", "disabled"]
        );
        assert_eq!(State::ForcedOpen.to_string(), "forced_open");
    }

    #[test]
    fn word_round_trips_state_and_generation() {
        for state in ALL {
            let word = Word::new(state, 12_345);
            assert_eq!(word.state(), state);
            assert_eq!(word.generation(), 12_345);
            assert_eq!(Word::from_bits(word.bits()), word);
        }
    }

    #[test]
    fn next_word_differs_even_when_the_state_stays() {
        let closed = Word::new(State::Closed, 7);
        let again = closed.next(State::Closed);
        assert_ne!(again, closed);
        assert_eq!(again.generation(), 8);
        assert_eq!(closed.next(State::Open).state(), State::Open);
    }
}
