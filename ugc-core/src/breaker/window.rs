//! What a sliding window records and reports, whichever kind it is.

use super::count_window::CountWindow;
use super::time_window::TimeWindow;

/// One call's outcome as the window stores it: bit flags, so a ring slot is one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Outcome(u8);

impl Outcome {
    /// Set in every recorded slot, so an empty slot (0) is told apart from a fast success.
    pub(super) const RECORDED: u8 = 1;
    pub(super) const FAILED: u8 = 2;
    pub(super) const SLOW: u8 = 4;

    pub(super) const fn new(failed: bool, slow: bool) -> Self {
        let mut bits = Self::RECORDED;
        if failed {
            bits |= Self::FAILED;
        }
        if slow {
            bits |= Self::SLOW;
        }
        Self(bits)
    }

    pub(super) const fn bits(self) -> u8 {
        self.0
    }

    pub(super) const fn failed(self) -> bool {
        self.0 & Self::FAILED != 0
    }

    pub(super) const fn slow(self) -> bool {
        self.0 & Self::SLOW != 0
    }
}

/// The counts of a window at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Snapshot {
    pub(super) calls: u32,
    pub(super) failed: u32,
    pub(super) slow: u32,
}

impl Snapshot {
    /// Builds a snapshot from counters that races may leave transiently negative or ahead of
    /// `calls`: they are clamped so a rate is always within 0..=100 %.
    pub(super) fn clamped(calls: i64, failed: i64, slow: i64) -> Self {
        let calls = u32::try_from(calls.max(0)).unwrap_or(u32::MAX);
        let clamp = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX).min(calls);
        Self {
            calls,
            failed: clamp(failed),
            slow: clamp(slow),
        }
    }

    pub(super) fn failure_rate(self) -> f32 {
        percent(self.failed, self.calls)
    }

    pub(super) fn slow_call_rate(self) -> f32 {
        percent(self.slow, self.calls)
    }
}

fn percent(part: u32, calls: u32) -> f32 {
    if calls == 0 {
        0.0
    } else {
        (f64::from(part) * 100.0 / f64::from(calls)) as f32
    }
}

/// When the rates of a snapshot open the breaker.
#[derive(Debug, Clone, Copy)]
pub(super) struct Thresholds {
    minimum_calls: u32,
    failure_rate: f64,
    slow_call_rate: f64,
}

impl Thresholds {
    pub(super) fn new(minimum_calls: u32, failure_rate: f32, slow_call_rate: f32) -> Self {
        Self {
            minimum_calls,
            failure_rate: f64::from(failure_rate),
            slow_call_rate: f64::from(slow_call_rate),
        }
    }

    /// Whether `snapshot` has enough calls and a rate at or above its threshold.
    ///
    /// Compares `part * 100 >= threshold * calls` rather than dividing: exact for u32 counts
    /// and cheaper on the closed path.
    #[inline]
    pub(super) fn exceeded(&self, snapshot: Snapshot) -> bool {
        if snapshot.calls < self.minimum_calls || snapshot.calls == 0 {
            return false;
        }
        let calls = f64::from(snapshot.calls);
        f64::from(snapshot.failed) * 100.0 >= self.failure_rate * calls
            || f64::from(snapshot.slow) * 100.0 >= self.slow_call_rate * calls
    }
}

/// The sliding window of the closed state.
#[derive(Debug)]
pub(super) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    /// Records `outcome` and returns the counts including it. `now_secs` is only read by a
    /// time window, so the count window never touches the clock.
    #[inline]
    pub(super) fn record(&self, outcome: Outcome, now_secs: impl FnOnce() -> u64) -> Snapshot {
        match self {
            Window::Count(window) => window.record(outcome),
            Window::Time(window) => window.record(now_secs(), outcome),
        }
    }

    pub(super) fn snapshot(&self, now_secs: impl FnOnce() -> u64) -> Snapshot {
        match self {
            Window::Count(window) => window.snapshot(),
            Window::Time(window) => window.snapshot(now_secs()),
        }
    }

    /// Forgets every outcome. Called under the transition lock before the new state is
    /// published, so no permit of the new state can write before it.
    pub(super) fn reset(&self) {
        match self {
            Window::Count(window) => window.reset(),
            Window::Time(window) => window.reset(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_flags_round_trip() {
        let o = Outcome::new(true, false);
        assert!(o.failed() && !o.slow());
        assert_eq!(o.bits() & Outcome::RECORDED, Outcome::RECORDED);
        assert!(Outcome::new(false, true).slow());
    }

    #[test]
    fn clamped_snapshot_never_underflows_nor_exceeds_calls() {
        let s = Snapshot::clamped(10, -1, 12);
        assert_eq!(
            s,
            Snapshot {
                calls: 10,
                failed: 0,
                slow: 10
            }
        );
        assert_eq!(Snapshot::clamped(-3, 1, 1), Snapshot::default());
    }

    #[test]
    fn rates_are_percent_and_zero_without_calls() {
        let s = Snapshot {
            calls: 8,
            failed: 2,
            slow: 8,
        };
        assert_eq!(s.failure_rate(), 25.0);
        assert_eq!(s.slow_call_rate(), 100.0);
        assert_eq!(Snapshot::default().failure_rate(), 0.0);
    }

    #[test]
    fn thresholds_need_minimum_calls_and_trip_at_equality() {
        let t = Thresholds::new(4, 50.0, 100.0);
        assert!(!t.exceeded(Snapshot {
            calls: 3,
            failed: 3,
            slow: 0
        }));
        assert!(t.exceeded(Snapshot {
            calls: 4,
            failed: 2,
            slow: 0
        }));
        assert!(!t.exceeded(Snapshot {
            calls: 4,
            failed: 1,
            slow: 3
        }));
        assert!(t.exceeded(Snapshot {
            calls: 4,
            failed: 0,
            slow: 4
        }));
    }
}
