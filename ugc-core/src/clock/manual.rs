use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant, SystemTime};

use super::{Clock, Sleep};

/// A clock that moves only when told to: for tests and simulations.
///
/// Sleeps on it complete when [`advance`](ManualClock::advance) passes their deadline.
/// [`block_on`](ManualClock::block_on) drives a future in virtual time: whenever the future
/// cannot make progress, the clock jumps to the earliest pending sleep, so a dispatch that
/// waits out a 30 s cooldown finishes at once with `now()` exactly 30 s later.
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<Inner>,
}

struct Inner {
    origin: Instant,
    wall_origin: SystemTime,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    offset: Duration,
    next_id: u64,
    timers: BTreeMap<(Instant, u64), Waker>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind; it is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`ManualClock::block_on`] found the future waiting with no timer to fire and no wake-up
/// within the real-time grace period: it would wait forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the future is stalled: it waits for nothing the manual clock can fire")]
pub struct Stalled;

impl ManualClock {
    /// A clock whose `now()` starts at the real current instant and stays there.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                origin: Instant::now(),
                wall_origin: SystemTime::now(),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The same clock as a shared trait object.
    pub fn shared(&self) -> super::SharedClock {
        Arc::new(self.clone())
    }

    /// Moves time forward by `by`, waking every sleep whose deadline has come.
    pub fn advance(&self, by: Duration) {
        let due = {
            let mut state = self.inner.lock();
            state.offset += by;
            let now = self.inner.origin + state.offset;
            let later = state.timers.split_off(&(now, u64::MAX));
            std::mem::replace(&mut state.timers, later)
        };
        due.into_values().for_each(Waker::wake);
    }

    /// Moves time forward to `instant` (no-op if it is in the past).
    pub fn advance_to(&self, instant: Instant) {
        let now = self.now();
        if instant > now {
            self.advance(instant - now);
        }
    }

    /// The earliest deadline among pending sleeps.
    pub fn next_timer(&self) -> Option<Instant> {
        self.inner.lock().timers.keys().next().map(|(t, _)| *t)
    }

    /// Time elapsed since the clock was made.
    pub fn elapsed(&self) -> Duration {
        self.inner.lock().offset
    }

    /// Runs `future` to completion on the current thread in virtual time.
    ///
    /// Whenever the future is pending and nothing woke it, the clock jumps to the earliest
    /// pending sleep. Wake-ups from other threads (real I/O, spawned work) are awaited for up
    /// to 10 s of real time before the run is declared [`Stalled`].
    pub fn block_on<F: Future>(&self, future: F) -> Result<F::Output, Stalled> {
        self.block_on_with_grace(future, Duration::from_secs(10))
    }

    /// [`block_on`](Self::block_on) with a chosen real-time grace for wake-ups from other
    /// threads when no timer is pending.
    pub fn block_on_with_grace<F: Future>(
        &self,
        future: F,
        grace: Duration,
    ) -> Result<F::Output, Stalled> {
        let signal = Arc::new(Signal::default());
        let waker = Waker::from(signal.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            signal.reset();
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return Ok(out);
            }
            if signal.is_set() {
                continue;
            }
            match self.next_timer() {
                Some(deadline) => self.advance_to(deadline),
                None if signal.wait(grace) => {}
                None => return Err(Stalled),
            }
        }
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.inner.origin + self.inner.lock().offset
    }

    fn wall(&self) -> SystemTime {
        self.inner.wall_origin + self.inner.lock().offset
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(ManualSleep {
            inner: self.inner.clone(),
            deadline,
            key: None,
        })
    }
}

struct ManualSleep {
    inner: Arc<Inner>,
    deadline: Instant,
    key: Option<(Instant, u64)>,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut state = this.inner.lock();
        if this.inner.origin + state.offset >= this.deadline {
            if let Some(key) = this.key.take() {
                state.timers.remove(&key);
            }
            return Poll::Ready(());
        }
        let key = *this.key.get_or_insert_with(|| {
            state.next_id += 1;
            (this.deadline, state.next_id)
        });
        state.timers.insert(key, cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.inner.lock().timers.remove(&key);
        }
    }
}

#[derive(Default)]
struct Signal {
    woken: Mutex<bool>,
    cond: Condvar,
}

impl Signal {
    fn reset(&self) {
        *self.woken.lock().unwrap_or_else(PoisonError::into_inner) = false;
    }

    fn is_set(&self) -> bool {
        *self.woken.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits up to `grace` for a wake-up; true if one came.
    fn wait(&self, grace: Duration) -> bool {
        let guard = self.woken.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = self
            .cond
            .wait_timeout_while(guard, grace, |woken| !*woken)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        *self.woken.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.cond.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_completes_exactly_at_its_deadline() {
        let clock = ManualClock::new();
        let start = clock.now();
        let out = clock.block_on(async {
            clock.sleep(Duration::from_millis(1234)).await;
            clock.now()
        });
        assert_eq!(out.map(|t| t - start), Ok(Duration::from_millis(1234)));
    }

    #[test]
    fn concurrent_sleeps_fire_in_deadline_order() {
        let clock = ManualClock::new();
        let start = clock.now();
        let order = Mutex::new(Vec::new());
        let run = |ms: u64| {
            let (clock, order) = (&clock, &order);
            async move {
                clock.sleep(Duration::from_millis(ms)).await;
                order
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(ms);
            }
        };
        let res = clock.block_on(futures::future::join3(run(30), run(10), run(20)));
        assert!(res.is_ok());
        assert_eq!(
            *order.lock().unwrap_or_else(PoisonError::into_inner),
            [10, 20, 30]
        );
        assert_eq!(clock.now() - start, Duration::from_millis(30));
    }

    #[test]
    fn dropped_sleep_leaves_no_timer() {
        let clock = ManualClock::new();
        let sleep = clock.sleep(Duration::from_secs(5));
        let mut sleep = Box::pin(sleep);
        let waker = Waker::noop();
        assert!(
            sleep
                .as_mut()
                .poll(&mut Context::from_waker(waker))
                .is_pending()
        );
        assert!(clock.next_timer().is_some());
        drop(sleep);
        assert_eq!(clock.next_timer(), None);
    }

    #[test]
    fn a_future_that_waits_for_nothing_is_reported_stalled() {
        let clock = ManualClock::new();
        let res = clock.block_on_with_grace(std::future::pending::<()>(), Duration::ZERO);
        assert_eq!(res, Err(Stalled));
    }

    #[test]
    fn wall_time_moves_with_the_monotonic_time() {
        let clock = ManualClock::new();
        let wall = clock.wall();
        clock.advance(Duration::from_secs(90));
        assert_eq!(
            clock.wall().duration_since(wall).ok(),
            Some(Duration::from_secs(90))
        );
    }
}
