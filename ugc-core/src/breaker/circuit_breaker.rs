//! The breaker: admission, recording, and the transitions between states.
//!
//! The closed path reads one atomic word in `try_acquire` and records into the sliding window
//! with two or three atomic operations in `on_success`/`on_failure`: no lock, no allocation,
//! and no clock read for a count window. Everything else (open, half-open, the transitions
//! themselves) is rare and may take the transition lock or read the clock.

use std::fmt;
use std::sync::atomic::{
    AtomicU32, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::config::{BreakerConfig, SlidingWindow};
use super::count_window::CountWindow;
use super::half_open::{HalfOpenCounter, Take, tag_of};
use super::metrics::Metrics;
use super::padded::CachePadded;
use super::permit::{Permit, Rejected};
use super::state::{State, Word};
use super::time_window::TimeWindow;
use super::transition::{Listener, Notifier, Transition};
use super::window::{Outcome, Thresholds, Window};
use crate::Error;
use crate::clock::SharedClock;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A circuit breaker with resilience4j's semantics, shared behind an `Arc` by every caller of
/// one endpoint.
///
/// ```
/// use std::time::Duration;
/// use ugc_core::breaker::{BreakerConfig, CircuitBreaker, SlidingWindow, State};
/// use ugc_core::clock::ManualClock;
///
/// let clock = ManualClock::new();
/// let config = BreakerConfig {
///     window: SlidingWindow::Count(4),
///     wait_in_open: Duration::from_secs(30),
///     ..BreakerConfig::default()
/// };
/// let breaker = CircuitBreaker::new("tts-primary", config, clock.shared())?;
/// for _ in 0..4 {
///     let permit = breaker.try_acquire().expect("closed admits");
///     permit.on_failure(Duration::from_millis(120));
/// }
/// let rejected = breaker.try_acquire().unwrap_err();
/// assert_eq!(rejected.state, State::Open);
/// assert_eq!(rejected.retry_after, Some(Duration::from_secs(30)));
///
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(breaker.state(), State::HalfOpen);
/// # Ok::<(), ugc_core::Error>(())
/// ```
pub struct CircuitBreaker {
    /// The published [`Word`]: read by every `try_acquire`, written only by transitions.
    state: CachePadded<AtomicU64>,
    window: Window,
    half_open: CachePadded<HalfOpenCounter>,
    /// Nanoseconds since `origin`; written before the state word that makes them current.
    open_until: AtomicU64,
    half_open_until: AtomicU64,
    consecutive_trips: AtomicU32,
    /// Serializes transitions; never taken on the closed path.
    transitions: Mutex<()>,
    notifier: Notifier,
    closed_thresholds: Thresholds,
    half_open_thresholds: Thresholds,
    name: Arc<str>,
    config: BreakerConfig,
    clock: SharedClock,
    origin: Instant,
}

impl CircuitBreaker {
    /// A closed breaker named `name` (logs, events and metrics use it), after validating
    /// `config`.
    pub fn new(
        name: impl Into<Arc<str>>,
        config: BreakerConfig,
        clock: SharedClock,
    ) -> Result<Self, Error> {
        config.validate()?;
        let window = match config.window {
            SlidingWindow::Count(calls) => Window::Count(CountWindow::new(calls)),
            SlidingWindow::Time(seconds) => Window::Time(TimeWindow::new(seconds)),
        };
        let closed_thresholds = Thresholds::new(
            config.effective_minimum_calls(),
            config.failure_rate_threshold,
            config.slow_call_rate_threshold,
        );
        let half_open_thresholds = Thresholds::new(
            config.half_open_permits,
            config.failure_rate_threshold,
            config.slow_call_rate_threshold,
        );
        Ok(Self {
            state: CachePadded(AtomicU64::new(Word::new(State::Closed, 0).bits())),
            window,
            half_open: CachePadded::default(),
            open_until: AtomicU64::new(0),
            half_open_until: AtomicU64::new(0),
            consecutive_trips: AtomicU32::new(0),
            transitions: Mutex::new(()),
            notifier: Notifier::new(),
            closed_thresholds,
            half_open_thresholds,
            name: name.into(),
            origin: clock.now(),
            config,
            clock,
        })
    }

    /// Calls `listener` with every transition, in order, outside any lock of the breaker.
    ///
    /// The listener runs on the thread of the call that caused the transition, or on a
    /// thread already delivering an earlier one; it may call back into the breaker.
    #[must_use]
    pub fn with_listener(mut self, listener: Listener) -> Self {
        self.notifier.set_listener(listener);
        self
    }

    /// The name given at construction.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The validated configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Asks to make one call. Closed and disabled always admit; open rejects until its wait
    /// has passed and then turns half-open; half-open admits at most `half_open_permits`
    /// trial calls; forced-open always rejects.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        let word = self.word();
        match word.state() {
            State::Closed | State::Disabled => Ok(Permit::new(self, word)),
            _ => self.acquire_slow(),
        }
    }

    /// The state now, after any time-based transition that is due: an open breaker whose
    /// wait has passed reads as half-open, a half-open one past its maximum wait as open.
    pub fn state(&self) -> State {
        self.refresh().0.state()
    }

    /// How long until a call would be admitted: `Some(Duration::ZERO)` if now, `None` when
    /// only an operator can readmit calls (forced open).
    pub fn retry_after(&self) -> Option<Duration> {
        let (word, now) = self.refresh();
        match word.state() {
            State::Closed | State::Disabled => Some(Duration::ZERO),
            State::ForcedOpen => None,
            State::Open => Some(remaining(&self.open_until, now)),
            State::HalfOpen => match self.half_open.tally(tag_of(word.generation())) {
                Some(tally) if tally.issued < self.config.half_open_permits => Some(Duration::ZERO),
                _ => Some(remaining(&self.half_open_until, now)),
            },
        }
    }

    /// Counts and rates of the current state (see [`Metrics`]).
    pub fn metrics(&self) -> Metrics {
        let (word, now) = self.refresh();
        let counts = match word.state() {
            State::HalfOpen => self
                .half_open
                .tally(tag_of(word.generation()))
                .map(|tally| tally.snapshot())
                .unwrap_or_default(),
            _ => self.window.snapshot(|| now / NANOS_PER_SEC),
        };
        Metrics::new(word.state(), counts, self.consecutive_trips.load(Relaxed))
    }

    /// Forces the breaker open: every call is rejected, with no `retry_after`, until
    /// [`reset`](Self::reset) or [`disable`](Self::disable).
    pub fn isolate(&self) {
        self.force(State::ForcedOpen);
    }

    /// Turns the breaker off: every call is admitted and nothing is recorded, until
    /// [`reset`](Self::reset) or [`isolate`](Self::isolate).
    pub fn disable(&self) {
        self.force(State::Disabled);
    }

    /// Closes the breaker with a fresh window and no consecutive trips, from any state.
    pub fn reset(&self) {
        self.force(State::Closed);
    }

    #[inline]
    pub(super) fn complete(&self, word: Word, failed: bool, elapsed: Duration) {
        let outcome = Outcome::new(failed, elapsed >= self.config.slow_call_duration);
        match word.state() {
            State::Closed => self.record_closed(word, outcome),
            State::HalfOpen => self.record_half_open(word, outcome),
            // Disabled records nothing; no other state issues permits.
            State::Open | State::ForcedOpen | State::Disabled => {}
        }
    }

    #[inline]
    pub(super) fn release(&self, word: Word) {
        if word.state() == State::HalfOpen {
            self.half_open.give_back(tag_of(word.generation()));
        }
    }

    #[inline]
    fn record_closed(&self, word: Word, outcome: Outcome) {
        // A permit of an earlier stay in closed (before a trip or a reset) must not count.
        if self.word() != word {
            return;
        }
        let counts = self
            .window
            .record(outcome, || self.now_ns() / NANOS_PER_SEC);
        if self.closed_thresholds.exceeded(counts) {
            self.trip(word);
        }
    }

    #[cold]
    #[inline(never)]
    fn trip(&self, closed: Word) {
        self.transition(closed, State::Open);
    }

    #[cold]
    #[inline(never)]
    fn record_half_open(&self, word: Word, outcome: Outcome) {
        // Past the maximum wait the stay is over even if nobody has looked yet: this outcome
        // came too late to close the breaker.
        if self.refresh().0 != word {
            return;
        }
        let Some(tally) = self.half_open.record(tag_of(word.generation()), outcome) else {
            return;
        };
        if tally.done < self.config.half_open_permits {
            return;
        }
        let to = if self.half_open_thresholds.exceeded(tally.snapshot()) {
            State::Open
        } else {
            State::Closed
        };
        self.transition(word, to);
    }

    #[cold]
    #[inline(never)]
    fn acquire_slow(&self) -> Result<Permit<'_>, Rejected> {
        // A retry only follows a transition made by another thread between two looks.
        for _ in 0..4 {
            let (word, now) = self.refresh();
            match word.state() {
                State::Closed | State::Disabled => return Ok(Permit::new(self, word)),
                State::ForcedOpen => return Err(rejected(State::ForcedOpen, None)),
                State::Open => {
                    let wait = remaining(&self.open_until, now);
                    return Err(rejected(State::Open, Some(wait)));
                }
                State::HalfOpen => {
                    let tag = tag_of(word.generation());
                    match self.half_open.try_take(tag, self.config.half_open_permits) {
                        Take::Granted => return Ok(Permit::new(self, word)),
                        Take::Full => {
                            let wait = remaining(&self.half_open_until, now);
                            return Err(rejected(State::HalfOpen, Some(wait)));
                        }
                        Take::Stale => {}
                    }
                }
            }
        }
        // The state kept changing under us; the caller may simply try again.
        Err(rejected(State::HalfOpen, Some(Duration::ZERO)))
    }

    /// Applies the time-based transitions that are due and returns the word in force with the
    /// time it was judged at (nanoseconds since `origin`).
    fn refresh(&self) -> (Word, u64) {
        let now = self.now_ns();
        let mut word = self.word();
        // Open -> half-open -> open at most; the new deadlines lie after `now`.
        for _ in 0..3 {
            let due = match word.state() {
                State::Open if now >= self.open_until.load(Relaxed) => State::HalfOpen,
                State::HalfOpen if now >= self.half_open_until.load(Relaxed) => State::Open,
                _ => break,
            };
            word = self.transition(word, due);
        }
        (word, now)
    }

    /// Moves from `from` to `to` unless another thread moved first; returns the word in force.
    fn transition(&self, from: Word, to: State) -> Word {
        // Many threads may see the same trip; only one needs the lock.
        let current = self.word();
        if current != from {
            return current;
        }
        let word = {
            let _serial = self
                .transitions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let current = self.word();
            if current != from {
                return current;
            }
            self.enter(current, to)
        };
        self.notifier.deliver();
        word
    }

    /// The manual transitions: from whatever state is in force.
    fn force(&self, to: State) {
        {
            let _serial = self
                .transitions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let current = self.word();
            // Closing again still resets; forcing into the same state changes nothing.
            if current.state() == to && to != State::Closed {
                return;
            }
            self.enter(current, to);
        }
        self.notifier.deliver();
    }

    /// Prepares state `to` and publishes it. Called under the transition lock.
    fn enter(&self, current: Word, to: State) -> Word {
        let at = self.clock.now();
        let now = self.ns_since_origin(at);
        let next = current.next(to);
        match to {
            State::Open => {
                let trips = self.consecutive_trips.load(Relaxed).saturating_add(1);
                self.consecutive_trips.store(trips, Relaxed);
                let wait = nanos(self.config.open_wait(trips));
                self.open_until.store(now.saturating_add(wait), Relaxed);
            }
            State::HalfOpen => {
                self.half_open.start(tag_of(next.generation()));
                let wait = nanos(self.config.max_wait_in_half_open);
                self.half_open_until
                    .store(now.saturating_add(wait), Relaxed);
            }
            State::Closed => {
                self.window.reset();
                self.consecutive_trips.store(0, Relaxed);
            }
            State::ForcedOpen | State::Disabled => {}
        }
        // Release: whoever sees `next` also sees the deadlines and counters set above.
        self.state.store(next.bits(), Release);
        let from = current.state();
        if from == to {
            tracing::info!(target: "ugc::breaker", breaker = %self.name, "breaker reset");
        } else {
            self.notifier.push(Transition {
                breaker: self.name.clone(),
                from,
                to,
                at,
            });
        }
        next
    }

    #[inline]
    fn word(&self) -> Word {
        Word::from_bits(self.state.load(Acquire))
    }

    fn now_ns(&self) -> u64 {
        self.ns_since_origin(self.clock.now())
    }

    fn ns_since_origin(&self, at: Instant) -> u64 {
        nanos(at.saturating_duration_since(self.origin))
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name)
            .field("state", &self.word().state())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn rejected(state: State, retry_after: Option<Duration>) -> Rejected {
    Rejected { state, retry_after }
}

/// Time left until `deadline` (nanoseconds since the origin) as seen at `now`.
fn remaining(deadline: &AtomicU64, now: u64) -> Duration {
    Duration::from_nanos(deadline.load(Relaxed).saturating_sub(now))
}

/// A duration in nanoseconds, saturating at 584 years.
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::SystemTime;

    use super::*;
    use crate::ErrorKind;
    use crate::clock::{Clock, ManualClock, Sleep};

    const FAST: Duration = Duration::from_millis(10);
    const SLOW: Duration = Duration::from_secs(5);
    const WAIT: Duration = Duration::from_secs(30);

    /// Four calls decide, 50 % trips, 1 s is slow, 2 trial calls, 30 s open.
    fn config() -> BreakerConfig {
        BreakerConfig {
            window: SlidingWindow::Count(10),
            minimum_calls: 4,
            failure_rate_threshold: 50.0,
            slow_call_duration: Duration::from_secs(1),
            slow_call_rate_threshold: 75.0,
            half_open_permits: 2,
            max_wait_in_half_open: Duration::from_secs(20),
            wait_in_open: WAIT,
            wait_multiplier: 1.0,
            max_wait_in_open: Duration::from_secs(300),
        }
    }

    fn breaker(config: BreakerConfig) -> (CircuitBreaker, ManualClock) {
        let clock = ManualClock::new();
        let breaker = CircuitBreaker::new("test", config, clock.shared()).unwrap();
        (breaker, clock)
    }

    fn succeed(b: &CircuitBreaker, elapsed: Duration) {
        b.try_acquire().expect("admitted").on_success(elapsed);
    }

    fn fail(b: &CircuitBreaker) {
        b.try_acquire().expect("admitted").on_failure(FAST);
    }

    fn trip(b: &CircuitBreaker) {
        while b.state() == State::Closed {
            fail(b);
        }
        assert_eq!(b.state(), State::Open);
    }

    /// Trips, then waits out the open wait: the breaker reads as half-open.
    fn half_open(b: &CircuitBreaker, clock: &ManualClock) {
        trip(b);
        clock.advance(b.retry_after().unwrap());
        assert_eq!(b.state(), State::HalfOpen);
    }

    type Seen = Arc<Mutex<Vec<(State, State)>>>;

    fn recording_listener(b: CircuitBreaker) -> (CircuitBreaker, Seen) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let b = b.with_listener(Arc::new(move |t: &Transition| {
            sink.lock().unwrap().push((t.from, t.to));
        }));
        (b, seen)
    }

    #[test]
    fn trips_when_the_failure_rate_reaches_the_threshold_after_minimum_calls_not_before() {
        let (b, _clock) = breaker(config());
        fail(&b);
        fail(&b);
        fail(&b);
        // 100 % failures, but only 3 of the 4 minimum calls.
        assert_eq!(b.state(), State::Closed);
        succeed(&b, FAST);
        // 4 calls, 75 % failed.
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.metrics().consecutive_trips, 1);
    }

    #[test]
    fn a_failure_rate_below_the_threshold_keeps_it_closed() {
        let (b, _clock) = breaker(config());
        for _ in 0..20 {
            succeed(&b, FAST);
            succeed(&b, FAST);
            fail(&b);
        }
        assert_eq!(b.state(), State::Closed);
        // The last 10 of the 60 calls: f s s f s s f s s f.
        let m = b.metrics();
        assert_eq!((m.calls, m.failed_calls), (10, 4));
    }

    #[test]
    fn the_failure_rate_trips_at_exactly_the_threshold() {
        let (b, _clock) = breaker(config());
        succeed(&b, FAST);
        succeed(&b, FAST);
        fail(&b);
        fail(&b);
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn the_slow_call_rate_trips() {
        let (b, _clock) = breaker(config());
        succeed(&b, SLOW);
        succeed(&b, SLOW);
        succeed(&b, FAST);
        assert_eq!(b.state(), State::Closed);
        succeed(&b, SLOW);
        // 4 calls, 3 slow: 75 %, although every call succeeded.
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn a_call_at_exactly_the_slow_duration_is_slow_and_a_failure_can_be_slow() {
        let (b, _clock) = breaker(BreakerConfig {
            minimum_calls: 100,
            ..config()
        });
        succeed(&b, Duration::from_secs(1));
        succeed(&b, Duration::from_millis(999));
        b.try_acquire().unwrap().on_failure(SLOW);
        let m = b.metrics();
        assert_eq!((m.calls, m.failed_calls, m.slow_calls), (3, 1, 2));
    }

    #[test]
    fn a_count_window_never_waits_for_more_calls_than_it_holds() {
        let config = BreakerConfig {
            window: SlidingWindow::Count(4),
            minimum_calls: 100,
            ..config()
        };
        let (b, _clock) = breaker(config);
        for _ in 0..4 {
            fail(&b);
        }
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn the_count_window_forgets_outcomes_older_than_n_calls() {
        let (b, _clock) = breaker(BreakerConfig {
            window: SlidingWindow::Count(4),
            ..config()
        });
        fail(&b);
        succeed(&b, FAST);
        succeed(&b, FAST);
        succeed(&b, FAST);
        fail(&b);
        // The first failure fell out: 1 of the last 4 failed.
        let m = b.metrics();
        assert_eq!((m.calls, m.failed_calls, m.failure_rate), (4, 1, 25.0));
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn the_time_window_forgets_buckets_older_than_n_seconds() {
        let config = BreakerConfig {
            window: SlidingWindow::Time(10),
            ..config()
        };
        let (b, clock) = breaker(config);
        fail(&b);
        fail(&b);
        clock.advance(Duration::from_secs(5));
        succeed(&b, FAST);
        assert_eq!(b.metrics().calls, 3);
        clock.advance(Duration::from_secs(5));
        // The failures of second 0 left the window when second 10 began.
        let m = b.metrics();
        assert_eq!((m.calls, m.failed_calls), (1, 0));
        fail(&b);
        succeed(&b, FAST);
        fail(&b);
        // 4 calls in the window, 2 failed: trips; the two old failures would have made it 6.
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.metrics().calls, 4);
    }

    #[test]
    fn a_time_window_trips_when_old_successes_age_out() {
        let config = BreakerConfig {
            window: SlidingWindow::Time(10),
            ..config()
        };
        let (b, clock) = breaker(config);
        for _ in 0..6 {
            succeed(&b, FAST);
        }
        clock.advance(Duration::from_secs(5));
        fail(&b);
        fail(&b);
        fail(&b);
        assert_eq!(b.state(), State::Closed);
        clock.advance(Duration::from_secs(5));
        // The successes aged out; a success now leaves 3 of 4 failed.
        succeed(&b, FAST);
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn open_rejects_with_retry_after_equal_to_the_remaining_wait() {
        let (b, clock) = breaker(config());
        trip(&b);
        let r = b.try_acquire().unwrap_err();
        assert_eq!(
            r,
            Rejected {
                state: State::Open,
                retry_after: Some(WAIT)
            }
        );
        clock.advance(Duration::from_millis(12_345));
        let r = b.try_acquire().unwrap_err();
        assert_eq!(r.retry_after, Some(WAIT - Duration::from_millis(12_345)));
        assert_eq!(b.retry_after(), Some(WAIT - Duration::from_millis(12_345)));
        clock.advance(WAIT - Duration::from_millis(12_345) - Duration::from_nanos(1));
        assert_eq!(
            b.try_acquire().unwrap_err().retry_after,
            Some(Duration::from_nanos(1))
        );
    }

    #[test]
    fn after_the_open_wait_it_is_half_open() {
        let (b, clock) = breaker(config());
        trip(&b);
        clock.advance(WAIT);
        assert_eq!(b.state(), State::HalfOpen);
        assert_eq!(b.retry_after(), Some(Duration::ZERO));
        assert_eq!(b.try_acquire().unwrap().state(), State::HalfOpen);
    }

    #[test]
    fn a_call_after_the_open_wait_is_a_half_open_trial() {
        let (b, clock) = breaker(config());
        trip(&b);
        clock.advance(WAIT);
        let permit = b.try_acquire().unwrap();
        assert_eq!(permit.state(), State::HalfOpen);
        permit.release();
    }

    #[test]
    fn half_open_admits_only_half_open_permits() {
        let (b, clock) = breaker(config());
        half_open(&b, &clock);
        let first = b.try_acquire().unwrap();
        let second = b.try_acquire().unwrap();
        let r = b.try_acquire().unwrap_err();
        assert_eq!(
            r,
            Rejected {
                state: State::HalfOpen,
                retry_after: Some(Duration::from_secs(20))
            }
        );
        clock.advance(Duration::from_secs(5));
        assert_eq!(b.retry_after(), Some(Duration::from_secs(15)));
        // Reported permits keep their slot: the trial is a fixed number of calls, not a rate.
        first.on_success(FAST);
        assert_eq!(b.try_acquire().unwrap_err().state, State::HalfOpen);
        drop(second);
    }

    #[test]
    fn half_open_success_closes_with_a_fresh_window_and_trips_reset() {
        let (b, clock) = breaker(config());
        half_open(&b, &clock);
        succeed(&b, FAST);
        assert_eq!(b.state(), State::HalfOpen);
        succeed(&b, FAST);
        assert_eq!(b.state(), State::Closed);
        let m = b.metrics();
        assert_eq!((m.calls, m.failed_calls, m.consecutive_trips), (0, 0, 0));
    }

    #[test]
    fn half_open_failure_reopens_with_a_longer_wait_when_the_multiplier_is_2_capped_at_max() {
        let config = BreakerConfig {
            wait_multiplier: 2.0,
            max_wait_in_open: Duration::from_secs(100),
            ..config()
        };
        let (b, clock) = breaker(config);
        trip(&b);
        let mut waits = vec![b.retry_after().unwrap()];
        for _ in 0..3 {
            clock.advance(b.retry_after().unwrap());
            fail(&b);
            succeed(&b, FAST);
            // 1 of 2 trial calls failed: 50 % reopens.
            assert_eq!(b.state(), State::Open);
            waits.push(b.try_acquire().unwrap_err().retry_after.unwrap());
        }
        let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [30, 60, 100, 100]);
        assert_eq!(b.metrics().consecutive_trips, 4);
        // Closing resets the growth.
        clock.advance(Duration::from_secs(100));
        succeed(&b, FAST);
        succeed(&b, FAST);
        trip(&b);
        assert_eq!(b.retry_after(), Some(WAIT));
    }

    #[test]
    fn slow_trial_calls_reopen() {
        let (b, clock) = breaker(config());
        half_open(&b, &clock);
        succeed(&b, SLOW);
        succeed(&b, SLOW);
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn half_open_past_max_wait_with_permits_outstanding_reopens() {
        let (b, clock) = breaker(config());
        half_open(&b, &clock);
        let first = b.try_acquire().unwrap();
        let second = b.try_acquire().unwrap();
        clock.advance(Duration::from_secs(20));
        // Never stuck: the missing outcomes count as a trip.
        let r = b.try_acquire().unwrap_err();
        assert_eq!(
            r,
            Rejected {
                state: State::Open,
                retry_after: Some(WAIT)
            }
        );
        assert_eq!(b.metrics().consecutive_trips, 2);
        // The late outcomes belong to the stay that ended: they change nothing.
        first.on_success(FAST);
        second.on_success(FAST);
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn half_open_past_max_wait_reads_as_open_without_a_call() {
        let (b, clock) = breaker(config());
        half_open(&b, &clock);
        let permit = b.try_acquire().unwrap();
        clock.advance(Duration::from_secs(20));
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.retry_after(), Some(WAIT));
        permit.on_success(FAST);
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn an_outcome_after_the_max_half_open_wait_cannot_close() {
        let (b, clock) = breaker(config());
        half_open(&b, &clock);
        succeed(&b, FAST);
        let late = b.try_acquire().unwrap();
        clock.advance(Duration::from_secs(21));
        late.on_success(FAST);
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn a_released_permit_gives_its_half_open_slot_back() {
        let (b, clock) = breaker(config());
        half_open(&b, &clock);
        let first = b.try_acquire().unwrap();
        let second = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_err());
        first.release();
        let third = b.try_acquire().unwrap();
        // Dropping is releasing.
        drop(second);
        let fourth = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_err());
        third.on_success(FAST);
        fourth.on_success(FAST);
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn outcomes_from_an_old_generation_are_ignored() {
        let (b, clock) = breaker(config());
        // A slow call starts while closed and finishes after the breaker tripped.
        let straggler = b.try_acquire().unwrap();
        trip(&b);
        straggler.on_failure(SLOW);
        assert_eq!(b.metrics().calls, 4);
        // A trial call of one half-open stay reports in the next one.
        clock.advance(WAIT);
        let old_trial = b.try_acquire().unwrap();
        clock.advance(Duration::from_secs(20));
        assert_eq!(b.state(), State::Open);
        clock.advance(WAIT);
        assert_eq!(b.state(), State::HalfOpen);
        old_trial.on_success(FAST);
        let m = b.metrics();
        assert_eq!((m.state, m.calls), (State::HalfOpen, 0));
        // And a closed permit issued before a reset does not count after it.
        b.reset();
        let before_reset = b.try_acquire().unwrap();
        b.reset();
        before_reset.on_failure(FAST);
        assert_eq!(b.metrics().calls, 0);
    }

    #[test]
    fn forced_open_rejects_with_no_retry_after() {
        let (b, clock) = breaker(config());
        b.isolate();
        let r = b.try_acquire().unwrap_err();
        assert_eq!(
            r,
            Rejected {
                state: State::ForcedOpen,
                retry_after: None
            }
        );
        assert_eq!(b.retry_after(), None);
        clock.advance(Duration::from_secs(86_400));
        assert_eq!(b.state(), State::ForcedOpen);
    }

    #[test]
    fn disabled_admits_everything_and_records_nothing() {
        let (b, _clock) = breaker(config());
        b.disable();
        for _ in 0..100 {
            fail(&b);
        }
        let m = b.metrics();
        assert_eq!((m.state, m.calls, m.failed_calls), (State::Disabled, 0, 0));
        assert_eq!(b.retry_after(), Some(Duration::ZERO));
    }

    #[test]
    fn reset_closes_and_clears() {
        let config = BreakerConfig {
            wait_multiplier: 2.0,
            ..config()
        };
        let (b, clock) = breaker(config);
        half_open(&b, &clock);
        fail(&b);
        fail(&b);
        assert_eq!(b.metrics().consecutive_trips, 2);
        b.reset();
        let m = b.metrics();
        assert_eq!(
            (m.state, m.calls, m.consecutive_trips),
            (State::Closed, 0, 0)
        );
        // Trips start again from the first wait.
        trip(&b);
        assert_eq!(b.retry_after(), Some(WAIT));
        // Resetting a closed breaker clears its window too.
        b.reset();
        fail(&b);
        b.reset();
        assert_eq!(b.metrics().calls, 0);
    }

    #[test]
    fn manual_states_leave_only_by_manual_calls() {
        let (b, _clock) = breaker(config());
        b.isolate();
        b.disable();
        assert_eq!(b.state(), State::Disabled);
        b.isolate();
        assert_eq!(b.state(), State::ForcedOpen);
        b.reset();
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn the_listener_sees_every_transition_in_order() {
        let (b, clock) = breaker(config());
        let (b, seen) = recording_listener(b);
        half_open(&b, &clock);
        fail(&b);
        fail(&b);
        clock.advance(WAIT);
        succeed(&b, FAST);
        succeed(&b, FAST);
        b.isolate();
        b.isolate();
        b.disable();
        b.reset();
        b.reset();
        use State::*;
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (Closed, Open),
                (Open, HalfOpen),
                (HalfOpen, Open),
                (Open, HalfOpen),
                (HalfOpen, Closed),
                (Closed, ForcedOpen),
                (ForcedOpen, Disabled),
                (Disabled, Closed),
            ]
        );
    }

    #[test]
    fn a_transition_carries_the_name_and_the_clock_time() {
        let at = Arc::new(Mutex::new(None));
        let sink = at.clone();
        let (b, clock) = breaker(config());
        let b = b.with_listener(Arc::new(move |t: &Transition| {
            *sink.lock().unwrap() = Some((t.breaker.clone(), t.at));
        }));
        clock.advance(Duration::from_secs(3));
        b.isolate();
        let (name, when) = at.lock().unwrap().clone().unwrap();
        assert_eq!(&*name, "test");
        assert_eq!(when, clock.now());
    }

    #[test]
    fn a_listener_may_call_back_into_the_breaker() {
        let clock = ManualClock::new();
        let b = Arc::new_cyclic(|weak: &std::sync::Weak<CircuitBreaker>| {
            let weak = weak.clone();
            CircuitBreaker::new("re-entrant", config(), clock.shared())
                .unwrap()
                .with_listener(Arc::new(move |t: &Transition| {
                    if t.to == State::Open {
                        if let Some(b) = weak.upgrade() {
                            b.isolate();
                            assert_eq!(b.metrics().state, State::ForcedOpen);
                        }
                    }
                }))
        });
        for _ in 0..4 {
            fail(&b);
        }
        assert_eq!(b.state(), State::ForcedOpen);
    }

    #[test]
    fn config_validation_names_the_field() {
        let clock = ManualClock::new();
        let bad = BreakerConfig {
            half_open_permits: 0,
            ..config()
        };
        let err = CircuitBreaker::new("b", bad, clock.shared()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("half_open_permits"), "{err}");
    }

    #[test]
    fn metrics_report_rates_in_percent() {
        let (b, _clock) = breaker(BreakerConfig {
            minimum_calls: 100,
            ..config()
        });
        assert_eq!(b.metrics().failure_rate, 0.0);
        fail(&b);
        succeed(&b, SLOW);
        succeed(&b, FAST);
        succeed(&b, FAST);
        let m = b.metrics();
        assert_eq!(
            m,
            Metrics {
                state: State::Closed,
                calls: 4,
                failed_calls: 1,
                slow_calls: 1,
                failure_rate: 25.0,
                slow_call_rate: 25.0,
                consecutive_trips: 0,
            }
        );
    }

    #[test]
    fn half_open_metrics_count_the_trial_calls() {
        let (b, clock) = breaker(BreakerConfig {
            half_open_permits: 4,
            ..config()
        });
        half_open(&b, &clock);
        fail(&b);
        succeed(&b, SLOW);
        let m = b.metrics();
        assert_eq!(
            (m.state, m.calls, m.failed_calls, m.slow_calls),
            (State::HalfOpen, 2, 1, 1)
        );
    }

    #[test]
    fn name_and_config_are_kept() {
        let (b, _clock) = breaker(config());
        assert_eq!(b.name(), "test");
        assert_eq!(b.config(), &config());
        assert!(format!("{b:?}").contains("closed") || format!("{b:?}").contains("Closed"));
        let r = Rejected {
            state: State::Open,
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(r.to_string(), "circuit breaker is open; retry after 2s");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Acquire,
        Succeed(usize, bool),
        Fail(usize, bool),
        Release(usize),
        Advance(u64),
        Isolate,
        Disable,
        Reset,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            6 => Just(Op::Acquire),
            4 => (any::<usize>(), any::<bool>()).prop_map(|(i, slow)| Op::Succeed(i, slow)),
            4 => (any::<usize>(), any::<bool>()).prop_map(|(i, slow)| Op::Fail(i, slow)),
            2 => any::<usize>().prop_map(Op::Release),
            2 => (0u64..40).prop_map(Op::Advance),
            1 => Just(Op::Isolate),
            1 => Just(Op::Disable),
            1 => Just(Op::Reset),
        ]
    }

    proptest::proptest! {
        #[test]
        fn invariants_hold_whatever_the_callers_do(
            time_window in proptest::bool::ANY,
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            let window = if time_window { SlidingWindow::Time(20) } else { SlidingWindow::Count(10) };
            let (b, clock) = breaker(BreakerConfig { window, ..config() });
            let mut held = Vec::new();
            for op in ops {
                match op {
                    Op::Acquire => match b.try_acquire() {
                        Ok(permit) => held.push(permit),
                        Err(r) => {
                            proptest::prop_assert!(r.state != State::Closed && r.state != State::Disabled);
                            proptest::prop_assert_eq!(r.retry_after.is_none(), r.state == State::ForcedOpen);
                        }
                    },
                    Op::Succeed(i, slow) if !held.is_empty() => {
                        let p = held.swap_remove(i % held.len());
                        p.on_success(if slow { SLOW } else { FAST });
                    }
                    Op::Fail(i, slow) if !held.is_empty() => {
                        let p = held.swap_remove(i % held.len());
                        p.on_failure(if slow { SLOW } else { FAST });
                    }
                    Op::Release(i) if !held.is_empty() => held.swap_remove(i % held.len()).release(),
                    Op::Advance(secs) => clock.advance(Duration::from_secs(secs)),
                    Op::Isolate => b.isolate(),
                    Op::Disable => b.disable(),
                    Op::Reset => b.reset(),
                    _ => {}
                }
                let m = b.metrics();
                proptest::prop_assert!(m.failed_calls <= m.calls && m.slow_calls <= m.calls);
                proptest::prop_assert!(m.failure_rate <= 100.0 && m.slow_call_rate <= 100.0);
                if !time_window {
                    proptest::prop_assert!(m.calls <= 10);
                }
                let word = b.word();
                if word.state() == State::HalfOpen {
                    let tally = b.half_open.tally(tag_of(word.generation())).unwrap();
                    // Never more trial calls than permits, however many were released.
                    proptest::prop_assert!(tally.issued <= b.config.half_open_permits);
                    let trials = held.iter().filter(|p| p.word() == word).count();
                    proptest::prop_assert!(trials as u32 <= tally.issued);
                }
                proptest::prop_assert_eq!(b.retry_after().is_none(), m.state == State::ForcedOpen);
            }
        }
    }

    #[test]
    fn breakers_are_shared_across_threads_and_permits_move_between_them() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<CircuitBreaker>();
        send::<Permit<'static>>();
        send_sync::<Rejected>();
    }

    /// A clock that counts how often it is read.
    #[derive(Debug)]
    struct CountingClock {
        inner: ManualClock,
        reads: AtomicUsize,
    }

    impl Clock for CountingClock {
        fn now(&self) -> Instant {
            self.reads.fetch_add(1, Relaxed);
            self.inner.now()
        }
        fn wall(&self) -> SystemTime {
            self.inner.wall()
        }
        fn sleep_until(&self, deadline: Instant) -> Sleep {
            self.inner.sleep_until(deadline)
        }
    }

    #[test]
    fn the_closed_path_of_a_count_window_never_reads_the_clock() {
        let clock = Arc::new(CountingClock {
            inner: ManualClock::new(),
            reads: AtomicUsize::new(0),
        });
        let b = CircuitBreaker::new("b", BreakerConfig::default(), clock.clone()).unwrap();
        let before = clock.reads.load(Relaxed);
        for i in 0..1_000 {
            let permit = b.try_acquire().unwrap();
            if i % 10 == 0 {
                permit.on_failure(FAST)
            } else {
                permit.on_success(FAST)
            }
        }
        assert_eq!(clock.reads.load(Relaxed), before);
    }
}
