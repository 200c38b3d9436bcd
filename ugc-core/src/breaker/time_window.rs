//! The outcomes of the last N seconds, in one lock-free bucket per second.
//!
//! Each counted quantity (calls, failed, slow) has N buckets and a running total. A bucket is
//! one `AtomicU64` holding `second << 32 | count`; a writer CAS-adds to the bucket of its
//! second, or replaces a bucket still holding an older second and subtracts that count from
//! the total. Seconds that nobody writes to are evicted by a sweep: the first writer or reader
//! to see a new second moves the head forward and empties the buckets that fell out of the
//! window. So recording and reading totals cost O(1), and the sweep O(N) at most once per
//! second. The clock is read for this window only, once per recorded call.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::padded::CachePadded;
use super::window::{Outcome, Snapshot};

#[derive(Debug)]
pub(super) struct TimeWindow {
    seconds: u64,
    /// The latest second the window has been swept to; written once per second.
    head: AtomicU64,
    calls: Buckets,
    failed: Buckets,
    slow: Buckets,
    /// Running totals of calls, failed and slow, in that order; every call writes here.
    totals: CachePadded<[AtomicU64; 3]>,
}

const CALLS: usize = 0;
const FAILED: usize = 1;
const SLOW: usize = 2;

impl TimeWindow {
    /// A window of the last `seconds` seconds; at least 1 (validated by the config).
    pub(super) fn new(seconds: u32) -> Self {
        let seconds = seconds.max(1);
        Self {
            seconds: u64::from(seconds),
            head: AtomicU64::new(0),
            calls: Buckets::new(seconds),
            failed: Buckets::new(seconds),
            slow: Buckets::new(seconds),
            totals: CachePadded::default(),
        }
    }

    /// Records `outcome` at `now`, in whole seconds since the breaker was made.
    #[inline]
    pub(super) fn record(&self, now: u64, outcome: Outcome) -> Snapshot {
        let head = self.advance(now);
        // A caller that read the clock long before it got here has nothing left to add to.
        if now + self.seconds > head {
            let (second, index) = self.bucket_of(now);
            self.calls.add(second, index, self.total(CALLS));
            if outcome.failed() {
                self.failed.add(second, index, self.total(FAILED));
            }
            if outcome.slow() {
                self.slow.add(second, index, self.total(SLOW));
            }
        }
        self.totals()
    }

    pub(super) fn snapshot(&self, now: u64) -> Snapshot {
        self.advance(now);
        self.totals()
    }

    pub(super) fn reset(&self) {
        for buckets in [&self.calls, &self.failed, &self.slow] {
            buckets.0.iter().for_each(|b| b.store(0, Relaxed));
        }
        self.totals.iter().for_each(|t| t.store(0, Relaxed));
    }

    fn total(&self, which: usize) -> &AtomicU64 {
        &self.totals.0[which]
    }

    /// The totals, read as signed (they wrap): a replacement may subtract a count before the
    /// concurrent add it replaced has landed.
    fn totals(&self) -> Snapshot {
        let read = |which: usize| self.total(which).load(Relaxed) as i64;
        Snapshot::clamped(read(CALLS), read(FAILED), read(SLOW))
    }

    fn bucket_of(&self, second: u64) -> (u32, usize) {
        // Seconds since the breaker was made fit 32 bits for 136 years.
        let second = u32::try_from(second).unwrap_or(u32::MAX);
        (second, (u64::from(second) % self.seconds) as usize)
    }

    /// Moves the head to `now` and evicts the seconds that left the window; returns the head.
    fn advance(&self, now: u64) -> u64 {
        let mut head = self.head.load(Relaxed);
        while now > head {
            match self.head.compare_exchange_weak(head, now, Relaxed, Relaxed) {
                Ok(_) => {
                    self.evict(head, now);
                    return now;
                }
                Err(current) => head = current,
            }
        }
        head
    }

    /// Empties the buckets of seconds `<= to - N`. Only buckets the seconds `(from, to]` map
    /// to can hold them: every earlier second was evicted by an earlier advance.
    fn evict(&self, from: u64, to: u64) {
        let Some(last_stale) = to.checked_sub(self.seconds) else {
            return;
        };
        let last_stale = u32::try_from(last_stale).unwrap_or(u32::MAX);
        let first = from.max(to.saturating_sub(self.seconds)) + 1;
        for second in first..=to {
            let index = (second % self.seconds) as usize;
            self.calls.evict(index, last_stale, self.total(CALLS));
            self.failed.evict(index, last_stale, self.total(FAILED));
            self.slow.evict(index, last_stale, self.total(SLOW));
        }
    }
}

/// One counted quantity: a bucket per second of the window, `second << 32 | count`.
#[derive(Debug)]
struct Buckets(Box<[AtomicU64]>);

impl Buckets {
    fn new(seconds: u32) -> Self {
        Self((0..seconds).map(|_| AtomicU64::new(0)).collect())
    }

    fn add(&self, second: u32, index: usize, total: &AtomicU64) {
        let Some(bucket) = self.0.get(index) else {
            return;
        };
        let mut current = bucket.load(Relaxed);
        loop {
            let (held, count) = unpack(current);
            let (next, evicted) = match held.cmp(&second) {
                std::cmp::Ordering::Equal if count == u32::MAX => return,
                std::cmp::Ordering::Equal => (pack(second, count + 1), 0),
                std::cmp::Ordering::Less => (pack(second, 1), count),
                // A newer second owns the bucket: this outcome is already out of the window.
                std::cmp::Ordering::Greater => return,
            };
            match bucket.compare_exchange_weak(current, next, Relaxed, Relaxed) {
                Ok(_) => {
                    total.fetch_add(1u64.wrapping_sub(u64::from(evicted)), Relaxed);
                    return;
                }
                Err(actual) => current = actual,
            }
        }
    }

    fn evict(&self, index: usize, last_stale: u32, total: &AtomicU64) {
        let Some(bucket) = self.0.get(index) else {
            return;
        };
        let mut current = bucket.load(Relaxed);
        loop {
            let (held, count) = unpack(current);
            if count == 0 || held > last_stale {
                return;
            }
            match bucket.compare_exchange_weak(current, pack(held, 0), Relaxed, Relaxed) {
                Ok(_) => {
                    total.fetch_sub(u64::from(count), Relaxed);
                    return;
                }
                Err(actual) => current = actual,
            }
        }
    }
}

fn pack(second: u32, count: u32) -> u64 {
    (u64::from(second) << 32) | u64::from(count)
}

fn unpack(bucket: u64) -> (u32, u32) {
    ((bucket >> 32) as u32, bucket as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Outcome = Outcome::new(false, false);
    const FAIL: Outcome = Outcome::new(true, false);
    const SLOW_FAIL: Outcome = Outcome::new(true, true);

    fn counts(s: Snapshot) -> (u32, u32, u32) {
        (s.calls, s.failed, s.slow)
    }

    #[test]
    fn sums_the_seconds_within_the_window() {
        let w = TimeWindow::new(3);
        w.record(0, FAIL);
        w.record(1, OK);
        assert_eq!(counts(w.record(2, SLOW_FAIL)), (3, 2, 1));
    }

    #[test]
    fn forgets_buckets_older_than_n_seconds() {
        let w = TimeWindow::new(3);
        w.record(0, FAIL);
        w.record(0, FAIL);
        w.record(1, OK);
        assert_eq!(counts(w.snapshot(2)), (3, 2, 0));
        // Second 0 leaves the window when second 3 begins, although nothing was written to it.
        assert_eq!(counts(w.snapshot(3)), (1, 0, 0));
        assert_eq!(counts(w.snapshot(4)), (0, 0, 0));
    }

    #[test]
    fn a_reused_bucket_replaces_the_old_second() {
        let w = TimeWindow::new(2);
        w.record(0, FAIL);
        // Second 2 maps to the bucket of second 0.
        assert_eq!(counts(w.record(2, OK)), (1, 0, 0));
    }

    #[test]
    fn a_jump_longer_than_the_window_empties_it() {
        let w = TimeWindow::new(5);
        for s in 0..5 {
            w.record(s, SLOW_FAIL);
        }
        assert_eq!(counts(w.snapshot(4)), (5, 5, 5));
        assert_eq!(counts(w.snapshot(1_000)), (0, 0, 0));
        assert_eq!(counts(w.record(1_000, OK)), (1, 0, 0));
    }

    #[test]
    fn an_outcome_read_before_the_window_moved_on_is_dropped() {
        let w = TimeWindow::new(2);
        w.snapshot(10);
        assert_eq!(counts(w.record(3, FAIL)), (0, 0, 0));
    }

    #[test]
    fn reset_forgets_everything() {
        let w = TimeWindow::new(4);
        w.record(1, FAIL);
        w.reset();
        assert_eq!(counts(w.snapshot(1)), (0, 0, 0));
        assert_eq!(counts(w.record(1, OK)), (1, 0, 0));
    }

    proptest::proptest! {
        #[test]
        fn totals_equal_the_outcomes_of_the_last_n_seconds(
            size in 1u32..6,
            steps in proptest::collection::vec((0u64..3, proptest::bool::ANY, proptest::bool::ANY), 0..60),
        ) {
            let w = TimeWindow::new(size);
            let mut now = 0u64;
            let mut log = Vec::new();
            for &(gap, failed, slow) in &steps {
                now += gap;
                let s = w.record(now, Outcome::new(failed, slow));
                log.push((now, failed, slow));
                let live: Vec<_> = log.iter().filter(|e| e.0 + u64::from(size) > now).collect();
                let f = live.iter().filter(|e| e.1).count() as u32;
                let sl = live.iter().filter(|e| e.2).count() as u32;
                proptest::prop_assert_eq!(counts(s), (live.len() as u32, f, sl));
            }
        }
    }
}
