//! What `try_acquire` hands out: a permit to report back, or a rejection as a value.

use std::fmt;
use std::mem::ManuallyDrop;
use std::time::Duration;

use super::state::Word;
use super::{CircuitBreaker, State};

/// Leave to make one call through a breaker; report how it went.
///
/// Report with [`on_success`](Permit::on_success) or [`on_failure`](Permit::on_failure), or
/// [`release`](Permit::release) it when the call must not count (an error class that does not
/// count against the breaker, or a call that never ran). Dropping it releases it. An outcome
/// reported after the breaker changed state since the permit was issued is ignored, so a slow
/// call that started before a trip cannot close or trip the new state.
#[must_use = "a dropped permit counts nothing; report the call with on_success or on_failure"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    word: Word,
}

impl<'a> Permit<'a> {
    #[inline]
    pub(super) fn new(breaker: &'a CircuitBreaker, word: Word) -> Self {
        Self { breaker, word }
    }

    /// The call succeeded after `elapsed`; at or past the slow-call duration it counts as slow.
    #[inline]
    pub fn on_success(self, elapsed: Duration) {
        let this = ManuallyDrop::new(self);
        this.breaker.complete(this.word, false, elapsed);
    }

    /// The call failed in a way that counts against the breaker, after `elapsed` (a failure
    /// can be slow too).
    #[inline]
    pub fn on_failure(self, elapsed: Duration) {
        let this = ManuallyDrop::new(self);
        this.breaker.complete(this.word, true, elapsed);
    }

    /// The call must not count; in half-open its trial slot goes back for another call.
    #[inline]
    pub fn release(self) {
        drop(self);
    }

    #[cfg(test)]
    pub(super) fn word(&self) -> Word {
        self.word
    }

    /// The state the permit was issued in: [`State::HalfOpen`] marks a trial call.
    pub fn state(&self) -> State {
        self.word.state()
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.breaker.release(self.word);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", &self.breaker.name())
            .field("state", &self.word.state())
            .field("generation", &self.word.generation())
            .finish()
    }
}

/// The breaker did not admit the call. A value, not an error path: routers skip to the next
/// endpoint and use `retry_after` as the endpoint's ETA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// The state that rejected the call: `Open`, `HalfOpen` (all trial permits taken) or
    /// `ForcedOpen`.
    pub state: State,
    /// How long until a call may be admitted; `None` when only an operator can open the way
    /// again (`ForcedOpen`).
    pub retry_after: Option<Duration>,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit breaker is {}", self.state)?;
        match self.retry_after {
            Some(after) => write!(f, "; retry after {after:?}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Rejected {}
