//! The last N outcomes, in a lock-free ring of one byte per call.
//!
//! A call takes the next position with one `fetch_add` and swaps its outcome into the slot,
//! getting back the outcome N calls older that it replaces. The failed and slow counters move
//! by the difference between the two, so they always equal the sum of the ring, and are only
//! written when they change: a success replacing a success writes nothing shared but the
//! position and the slot.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering::Relaxed};

use super::padded::CachePadded;
use super::window::{Outcome, Snapshot};

#[derive(Debug)]
pub(super) struct CountWindow {
    position: CachePadded<AtomicU64>,
    /// Written only when they change; apart from `position`, which every call writes.
    counters: CachePadded<Counters>,
    slots: Box<[AtomicU8]>,
    size: u64,
}

#[derive(Debug, Default)]
struct Counters {
    failed: AtomicU32,
    slow: AtomicU32,
}

impl CountWindow {
    /// A window of the last `size` calls; `size` is at least 1 (validated by the config).
    pub(super) fn new(size: u32) -> Self {
        let size = size.max(1);
        Self {
            position: CachePadded::default(),
            counters: CachePadded::default(),
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
            size: u64::from(size),
        }
    }

    #[inline]
    pub(super) fn record(&self, outcome: Outcome) -> Snapshot {
        let position = self.position.fetch_add(1, Relaxed);
        // The index is always in range; `get` keeps a panic path out of the closed path.
        let old = match self.slots.get((position % self.size) as usize) {
            Some(slot) => slot.swap(outcome.bits(), Relaxed),
            None => return self.snapshot(),
        };
        let new = outcome.bits();
        let failed = adjust(
            &self.counters.failed,
            old & Outcome::FAILED != 0,
            new & Outcome::FAILED != 0,
        );
        let slow = adjust(
            &self.counters.slow,
            old & Outcome::SLOW != 0,
            new & Outcome::SLOW != 0,
        );
        let calls = position.saturating_add(1).min(self.size);
        Snapshot::clamped(calls as i64, failed, slow)
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        let calls = self.position.load(Relaxed).min(self.size);
        Snapshot::clamped(
            calls as i64,
            signed(self.counters.failed.load(Relaxed)),
            signed(self.counters.slow.load(Relaxed)),
        )
    }

    pub(super) fn reset(&self) {
        self.slots.iter().for_each(|slot| slot.store(0, Relaxed));
        self.counters.failed.store(0, Relaxed);
        self.counters.slow.store(0, Relaxed);
        self.position.store(0, Relaxed);
    }
}

/// Moves `counter` from the replaced outcome to the new one and returns its value after.
///
/// A thread may subtract a failure whose adding thread has swapped but not yet counted it, so
/// the counter can dip below zero for a moment; it wraps, and is read back as signed.
#[inline]
fn adjust(counter: &AtomicU32, was: bool, is: bool) -> i64 {
    match (was, is) {
        (false, true) => signed(counter.fetch_add(1, Relaxed).wrapping_add(1)),
        (true, false) => signed(counter.fetch_sub(1, Relaxed).wrapping_sub(1)),
        _ => signed(counter.load(Relaxed)),
    }
}

fn signed(counter: u32) -> i64 {
    i64::from(counter as i32)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const OK: Outcome = Outcome::new(false, false);
    const FAIL: Outcome = Outcome::new(true, false);
    const SLOW: Outcome = Outcome::new(false, true);
    const SLOW_FAIL: Outcome = Outcome::new(true, true);

    fn counts(s: Snapshot) -> (u32, u32, u32) {
        (s.calls, s.failed, s.slow)
    }

    #[test]
    fn counts_calls_until_the_window_is_full() {
        let w = CountWindow::new(3);
        assert_eq!(counts(w.record(FAIL)), (1, 1, 0));
        assert_eq!(counts(w.record(SLOW)), (2, 1, 1));
        assert_eq!(counts(w.record(OK)), (3, 1, 1));
        assert_eq!(counts(w.record(OK)), (3, 0, 1));
        assert_eq!(counts(w.snapshot()), (3, 0, 1));
    }

    #[test]
    fn forgets_outcomes_older_than_n_calls() {
        let w = CountWindow::new(4);
        for _ in 0..4 {
            w.record(SLOW_FAIL);
        }
        assert_eq!(counts(w.snapshot()), (4, 4, 4));
        for expected_bad in (0..4).rev() {
            let s = w.record(OK);
            assert_eq!(counts(s), (4, expected_bad, expected_bad));
        }
    }

    #[test]
    fn reset_forgets_everything() {
        let w = CountWindow::new(2);
        w.record(FAIL);
        w.record(SLOW);
        w.reset();
        assert_eq!(counts(w.snapshot()), (0, 0, 0));
        assert_eq!(counts(w.record(OK)), (1, 0, 0));
    }

    #[test]
    fn counter_dip_below_zero_reads_as_zero() {
        let w = CountWindow::new(2);
        w.counters.failed.store(u32::MAX, Relaxed);
        w.position.store(2, Relaxed);
        assert_eq!(counts(w.snapshot()), (2, 0, 0));
    }

    #[test]
    fn racing_writers_leave_the_counters_equal_to_the_ring() {
        let w = CountWindow::new(7);
        std::thread::scope(|s| {
            for t in 0..4u32 {
                let w = &w;
                s.spawn(move || {
                    for i in 0..20_000u32 {
                        w.record(Outcome::new((i + t) % 3 == 0, (i + t) % 5 == 0));
                    }
                });
            }
        });
        let in_ring = |flag: u8| {
            w.slots
                .iter()
                .filter(|s| s.load(Relaxed) & flag != 0)
                .count() as u32
        };
        let s = w.snapshot();
        assert_eq!(
            counts(s),
            (7, in_ring(Outcome::FAILED), in_ring(Outcome::SLOW))
        );
    }

    proptest::proptest! {
        #[test]
        fn counters_equal_the_last_n_outcomes(
            size in 1u32..20,
            outcomes in proptest::collection::vec((proptest::bool::ANY, proptest::bool::ANY), 0..100),
        ) {
            let w = CountWindow::new(size);
            for (i, &(failed, slow)) in outcomes.iter().enumerate() {
                let s = w.record(Outcome::new(failed, slow));
                let last = &outcomes[(i + 1).saturating_sub(size as usize)..=i];
                let f = last.iter().filter(|o| o.0).count() as u32;
                let sl = last.iter().filter(|o| o.1).count() as u32;
                proptest::prop_assert_eq!(counts(s), (last.len() as u32, f, sl));
            }
        }
    }
}
