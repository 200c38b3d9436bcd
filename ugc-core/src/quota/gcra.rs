//! GCRA (the generic cell rate algorithm), weighted: one theoretical arrival time per limit.
//! A grant of `n` units moves it `n × interval` later; a request is allowed while it stays
//! within `burst × interval` of now. Over any interval of length `d` it never grants more
//! than `burst + d / interval` units.

use std::time::Duration;

/// Nanoseconds per unit (`window / amount`), at least 1.
pub(crate) fn unit_nanos(window: Duration, amount: u64) -> u64 {
    let window = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
    (window / amount.max(1)).max(1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// Theoretical arrival time, nanoseconds since the store's origin.
    tat: u64,
}

impl Gcra {
    pub(crate) fn new() -> Self {
        Self { tat: 0 }
    }

    /// Whether `amount` units fit at `now`; if not, nanoseconds until they do (`None`: never,
    /// the amount exceeds the burst).
    pub(crate) fn check(
        &self,
        now: u64,
        amount: u64,
        unit: u64,
        burst: u64,
    ) -> Result<(), Option<u64>> {
        if amount > burst {
            return Err(None);
        }
        let start = self.tat.max(now);
        let after = start.saturating_add(amount.saturating_mul(unit));
        let allowed_until = now.saturating_add(burst.saturating_mul(unit));
        if after <= allowed_until {
            Ok(())
        } else {
            Err(Some(after - allowed_until))
        }
    }

    /// Grants `amount` units at `now` (after a check, or a commit over the estimate).
    pub(crate) fn add(&mut self, now: u64, amount: u64, unit: u64) {
        self.tat = self
            .tat
            .max(now)
            .saturating_add(amount.saturating_mul(unit));
    }

    /// Gives `amount` units back, never moving the arrival time before `now`.
    pub(crate) fn remove(&mut self, now: u64, amount: u64, unit: u64) {
        self.tat = self
            .tat
            .saturating_sub(amount.saturating_mul(unit))
            .max(now);
    }

    /// Units in use at `now` (rounded up), for reporting.
    pub(crate) fn used(&self, now: u64, unit: u64) -> u64 {
        self.tat.saturating_sub(now).div_ceil(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let unit = unit_nanos(Duration::from_secs(60), 60); // one a second
        let mut g = Gcra::new();
        for _ in 0..5 {
            assert_eq!(g.check(0, 1, unit, 5), Ok(()));
            g.add(0, 1, unit);
        }
        assert_eq!(g.check(0, 1, unit, 5), Err(Some(1_000_000_000)));
        assert_eq!(g.check(1_000_000_000, 1, unit, 5), Ok(()));
        assert_eq!(g.check(0, 6, unit, 5), Err(None));
        g.remove(0, 2, unit);
        assert_eq!(g.used(0, unit), 3);
    }
}
