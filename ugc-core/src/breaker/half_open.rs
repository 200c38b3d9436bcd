//! The trial calls of one half-open stay, counted in a single atomic word.
//!
//! Issued permits, outcomes in, failed and slow outcomes share one `AtomicU64` with a tag of
//! the stay's generation, so every change is one CAS that also proves the permit belongs to
//! this stay: a permit from an earlier stay fails the tag check and changes nothing, and no
//! 64 racing threads can take more than the permitted number.

use std::sync::atomic::{AtomicU64, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed};

use super::window::{Outcome, Snapshot};

const FIELD_BITS: u32 = 12;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;
const ISSUED: u32 = 36;
const DONE: u32 = 24;
const FAILED: u32 = 12;
const SLOW: u32 = 0;
const TAG: u32 = 48;

/// The counts of a stay, unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tally {
    tag: u16,
    pub(super) issued: u32,
    pub(super) done: u32,
    pub(super) failed: u32,
    pub(super) slow: u32,
}

impl Tally {
    fn unpack(word: u64) -> Self {
        let field = |shift: u32| ((word >> shift) & FIELD_MASK) as u32;
        Self {
            tag: (word >> TAG) as u16,
            issued: field(ISSUED),
            done: field(DONE),
            failed: field(FAILED),
            slow: field(SLOW),
        }
    }

    fn pack(self) -> u64 {
        let field = |value: u32, shift: u32| (u64::from(value) & FIELD_MASK) << shift;
        (u64::from(self.tag) << TAG)
            | field(self.issued, ISSUED)
            | field(self.done, DONE)
            | field(self.failed, FAILED)
            | field(self.slow, SLOW)
    }

    /// The outcomes in so far, as a window snapshot.
    pub(super) fn snapshot(self) -> Snapshot {
        Snapshot::clamped(
            i64::from(self.done),
            i64::from(self.failed),
            i64::from(self.slow),
        )
    }
}

/// What [`HalfOpenCounter::try_take`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Take {
    Granted,
    Full,
    /// The counter belongs to another stay: the state moved on since the caller looked.
    Stale,
}

#[derive(Debug, Default)]
pub(super) struct HalfOpenCounter {
    word: AtomicU64,
}

/// The tag of a generation: its low 16 bits. A permit would have to be held across 65 536
/// transitions to be mistaken for a current one.
pub(super) fn tag_of(generation: u64) -> u16 {
    generation as u16
}

impl HalfOpenCounter {
    /// Starts a stay. Called under the transition lock before the half-open state word is
    /// published (with Release), so a caller that sees the state sees these zeros.
    pub(super) fn start(&self, tag: u16) {
        let fresh = Tally {
            tag,
            issued: 0,
            done: 0,
            failed: 0,
            slow: 0,
        };
        self.word.store(fresh.pack(), Relaxed);
    }

    pub(super) fn try_take(&self, tag: u16, permits: u32) -> Take {
        let mut current = self.word.load(Acquire);
        loop {
            let mut tally = Tally::unpack(current);
            if tally.tag != tag {
                return Take::Stale;
            }
            if tally.issued >= permits {
                return Take::Full;
            }
            tally.issued += 1;
            match self
                .word
                .compare_exchange_weak(current, tally.pack(), AcqRel, Acquire)
            {
                Ok(_) => return Take::Granted,
                Err(actual) => current = actual,
            }
        }
    }

    /// Gives the slot of a permit that will not report back; false if the stay is over.
    pub(super) fn give_back(&self, tag: u16) -> bool {
        self.update(tag, |tally| {
            (tally.issued > tally.done).then(|| Tally {
                issued: tally.issued - 1,
                ..tally
            })
        })
        .is_some()
    }

    /// Counts the outcome of a permit of stay `tag`; the tally after it, or `None` if the stay
    /// is over.
    pub(super) fn record(&self, tag: u16, outcome: Outcome) -> Option<Tally> {
        self.update(tag, |tally| {
            (tally.issued > tally.done).then(|| Tally {
                done: tally.done + 1,
                failed: tally.failed + u32::from(outcome.failed()),
                slow: tally.slow + u32::from(outcome.slow()),
                ..tally
            })
        })
    }

    /// The current tally if it belongs to stay `tag`.
    pub(super) fn tally(&self, tag: u16) -> Option<Tally> {
        let tally = Tally::unpack(self.word.load(Acquire));
        (tally.tag == tag).then_some(tally)
    }

    fn update(&self, tag: u16, change: impl Fn(Tally) -> Option<Tally>) -> Option<Tally> {
        let mut current = self.word.load(Acquire);
        loop {
            let tally = Tally::unpack(current);
            if tally.tag != tag {
                return None;
            }
            let next = change(tally)?;
            match self
                .word
                .compare_exchange_weak(current, next.pack(), AcqRel, Acquire)
            {
                Ok(_) => return Some(next),
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Outcome = Outcome::new(false, false);
    const SLOW_FAIL: Outcome = Outcome::new(true, true);

    #[test]
    fn grants_only_the_permitted_number() {
        let c = HalfOpenCounter::default();
        c.start(7);
        assert_eq!(c.try_take(7, 2), Take::Granted);
        assert_eq!(c.try_take(7, 2), Take::Granted);
        assert_eq!(c.try_take(7, 2), Take::Full);
    }

    #[test]
    fn a_given_back_slot_can_be_taken_again() {
        let c = HalfOpenCounter::default();
        c.start(1);
        assert_eq!(c.try_take(1, 1), Take::Granted);
        assert!(c.give_back(1));
        assert_eq!(c.try_take(1, 1), Take::Granted);
    }

    #[test]
    fn outcomes_are_counted_once_per_issued_permit() {
        let c = HalfOpenCounter::default();
        c.start(3);
        assert_eq!(c.record(3, OK), None);
        assert_eq!(c.try_take(3, 4), Take::Granted);
        assert_eq!(c.try_take(3, 4), Take::Granted);
        let t = c.record(3, SLOW_FAIL);
        assert_eq!(
            t.map(|t| (t.issued, t.done, t.failed, t.slow)),
            Some((2, 1, 1, 1))
        );
        let t = c.record(3, OK);
        assert_eq!(t.map(|t| (t.done, t.failed)), Some((2, 1)));
        assert_eq!(c.record(3, OK), None);
        assert!(!c.give_back(3));
    }

    #[test]
    fn a_permit_of_another_stay_changes_nothing() {
        let c = HalfOpenCounter::default();
        c.start(1);
        assert_eq!(c.try_take(1, 4), Take::Granted);
        c.start(2);
        assert_eq!(c.try_take(1, 4), Take::Stale);
        assert_eq!(c.record(1, OK), None);
        assert!(!c.give_back(1));
        assert_eq!(c.tally(2).map(|t| t.issued), Some(0));
        assert_eq!(c.tally(1), None);
    }

    #[test]
    fn the_largest_permit_count_fits_the_fields() {
        let c = HalfOpenCounter::default();
        c.start(u16::MAX);
        let max = crate::breaker::BreakerConfig::MAX_HALF_OPEN_PERMITS;
        for _ in 0..max {
            assert_eq!(c.try_take(u16::MAX, max), Take::Granted);
        }
        assert_eq!(c.try_take(u16::MAX, max), Take::Full);
        for _ in 0..max {
            c.record(u16::MAX, SLOW_FAIL);
        }
        let t = c
            .tally(u16::MAX)
            .map(|t| (t.issued, t.done, t.failed, t.slow));
        assert_eq!(t, Some((max, max, max, max)));
    }
}
