//! Sliding-window counting in fixed memory: the window is split into `SUB_BUCKETS` buckets of
//! `ceil(window / SUB_BUCKETS)` and one more is kept, so the buckets counted always cover the
//! whole window. The oldest partial bucket counts whole: a limit may deny up to one bucket
//! early, and never grants more than its amount in any window.

use std::time::Duration;

/// Buckets a window is split into; one more is kept to cover the partial oldest one.
pub(crate) const SUB_BUCKETS: u64 = 8;
const SLOTS: usize = SUB_BUCKETS as usize + 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlidingCounter {
    /// Index of the newest bucket (time / bucket length).
    newest: u64,
    counts: [u64; SLOTS],
}

pub(crate) fn bucket_nanos(window: Duration) -> u64 {
    let window = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
    window.div_ceil(SUB_BUCKETS).max(1)
}

impl SlidingCounter {
    pub(crate) fn new() -> Self {
        Self {
            newest: 0,
            counts: [0; SLOTS],
        }
    }

    /// Forgets buckets that left the window by `index`.
    fn roll(&mut self, index: u64) {
        if index <= self.newest {
            return;
        }
        let gap = index - self.newest;
        if gap >= SLOTS as u64 {
            self.counts = [0; SLOTS];
        } else {
            for step in 1..=gap {
                self.counts[((self.newest + step) % SLOTS as u64) as usize] = 0;
            }
        }
        self.newest = index;
    }

    /// What is counted at bucket `index`.
    pub(crate) fn used(&mut self, index: u64) -> u64 {
        self.roll(index);
        self.counts.iter().fold(0u64, |a, c| a.saturating_add(*c))
    }

    /// Whether `amount` fits under `limit` at bucket `index`; if not, how many buckets until
    /// enough has left the window (`None`: it never fits).
    pub(crate) fn check(&mut self, index: u64, amount: u64, limit: u64) -> Result<(), Option<u64>> {
        if amount > limit {
            return Err(None);
        }
        let used = self.used(index);
        if used.saturating_add(amount) <= limit {
            return Ok(());
        }
        // Walk from the oldest bucket: bucket `b` leaves the window when the newest index
        // reaches `b + SLOTS`.
        let mut left = used;
        for age in 0..SLOTS as u64 {
            let bucket = index.saturating_sub(SUB_BUCKETS) + age;
            left = left.saturating_sub(self.counts[(bucket % SLOTS as u64) as usize]);
            if left.saturating_add(amount) <= limit {
                return Err(Some(bucket + SLOTS as u64 - index));
            }
        }
        Err(None)
    }

    /// Adds `amount` to bucket `index` (after a successful check, or a commit over the estimate).
    pub(crate) fn add(&mut self, index: u64, amount: u64) {
        self.roll(index);
        let slot = &mut self.counts[(index % SLOTS as u64) as usize];
        *slot = slot.saturating_add(amount);
    }

    /// Takes `amount` back from bucket `index`, if that bucket is still counted.
    pub(crate) fn remove(&mut self, index: u64, amount: u64) {
        if index > self.newest || self.newest - index >= SLOTS as u64 {
            return;
        }
        let slot = &mut self.counts[(index % SLOTS as u64) as usize];
        *slot = slot.saturating_sub(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_the_window() {
        for secs in [1, 7, 60, 3600, 86_400] {
            let window = Duration::from_secs(secs);
            assert!(bucket_nanos(window) * SUB_BUCKETS >= window.as_nanos() as u64);
        }
    }

    #[test]
    fn a_full_window_denies_until_the_oldest_bucket_leaves() {
        let mut c = SlidingCounter::new();
        c.add(10, 3);
        c.add(12, 2);
        assert_eq!(c.check(12, 1, 5), Err(Some(10 + 9 - 12)));
        assert_eq!(c.check(18, 1, 5), Err(Some(1)));
        assert_eq!(c.check(19, 1, 5), Ok(()));
        assert_eq!(c.check(12, 6, 5), Err(None));
    }

    #[test]
    fn removal_only_touches_buckets_still_counted() {
        let mut c = SlidingCounter::new();
        c.add(3, 4);
        c.remove(3, 1);
        assert_eq!(c.used(3), 3);
        c.add(20, 1);
        c.remove(3, 3);
        assert_eq!(c.used(20), 1);
    }
}
