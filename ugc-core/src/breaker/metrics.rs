//! A point-in-time view of a breaker, for health endpoints and dashboards.

use super::State;
use super::window::Snapshot;

/// What a breaker knows at one moment.
///
/// In half-open the counts are those of the trial calls reported so far; in every other state
/// they are those of the sliding window (which keeps the outcomes that tripped it while open).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// The state, after applying any time-based transition that is due.
    pub state: State,
    /// Calls counted.
    pub calls: u32,
    /// Counted calls that failed.
    pub failed_calls: u32,
    /// Counted calls that took at least the slow-call duration.
    pub slow_calls: u32,
    /// `failed_calls / calls` in percent; 0 without calls.
    pub failure_rate: f32,
    /// `slow_calls / calls` in percent; 0 without calls.
    pub slow_call_rate: f32,
    /// Trips since the breaker last closed; drives the growth of the open wait.
    pub consecutive_trips: u32,
}

impl Metrics {
    pub(super) fn new(state: State, counts: Snapshot, consecutive_trips: u32) -> Self {
        Self {
            state,
            calls: counts.calls,
            failed_calls: counts.failed,
            slow_calls: counts.slow,
            failure_rate: counts.failure_rate(),
            slow_call_rate: counts.slow_call_rate(),
            consecutive_trips,
        }
    }
}
