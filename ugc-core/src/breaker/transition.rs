//! State changes as events: a `tracing` record and an optional listener, in order.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering::AcqRel, Ordering::Release};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::State;

/// One state change of a breaker, as its listener sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The name of the breaker.
    pub breaker: Arc<str>,
    /// The state it left.
    pub from: State,
    /// The state it entered.
    pub to: State,
    /// When it changed, on the breaker's clock.
    pub at: Instant,
}

/// Called with every [`Transition`] of a breaker, in the order they happened.
pub type Listener = Arc<dyn Fn(&Transition) + Send + Sync>;

/// Delivers transitions in order without holding a lock while the listener runs.
///
/// Transitions are queued; whichever thread finds nobody delivering becomes the deliverer and
/// drains the queue, calling the listener with the queue unlocked. The listener is so never
/// called twice at once, sees transitions in the order they were made, and may call back into
/// the breaker (its own transitions are queued behind the current one).
pub(super) struct Notifier {
    listener: Option<Listener>,
    queue: Mutex<VecDeque<Transition>>,
    delivering: AtomicBool,
}

impl Notifier {
    pub(super) fn new() -> Self {
        Self {
            listener: None,
            queue: Mutex::new(VecDeque::new()),
            delivering: AtomicBool::new(false),
        }
    }

    pub(super) fn set_listener(&mut self, listener: Listener) {
        self.listener = Some(listener);
    }

    /// Queues `transition`. Must be called in the order transitions were made, which holds
    /// because callers queue it under the transition lock.
    pub(super) fn push(&self, transition: Transition) {
        self.lock().push_back(transition);
    }

    /// Delivers queued transitions unless another thread already is. Call without any lock.
    pub(super) fn deliver(&self) {
        loop {
            if self.delivering.swap(true, AcqRel) {
                return;
            }
            let done = Delivering(&self.delivering);
            while let Some(transition) = self.pop() {
                tracing::info!(
                    target: "ugc::breaker",
                    breaker = %transition.breaker,
                    from = transition.from.as_str(),
                    to = transition.to.as_str(),
                    "breaker state changed"
                );
                if let Some(listener) = &self.listener {
                    listener(&transition);
                }
            }
            drop(done);
            // A transition queued after the last pop but before the flag was cleared saw the
            // flag set and left it to us.
            if self.lock().is_empty() {
                return;
            }
        }
    }

    fn pop(&self) -> Option<Transition> {
        self.lock().pop_front()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Transition>> {
        // The queue holds plain values; a panic elsewhere cannot leave it half-changed.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("listener", &self.listener.is_some())
            .finish_non_exhaustive()
    }
}

/// Clears the delivering flag even if the listener panics, so later transitions still flow.
struct Delivering<'a>(&'a AtomicBool);

impl Drop for Delivering<'_> {
    fn drop(&mut self) {
        self.0.store(false, Release);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn transition(from: State, to: State) -> Transition {
        Transition {
            breaker: Arc::from("b"),
            from,
            to,
            at: Instant::now(),
        }
    }

    #[test]
    fn delivers_queued_transitions_in_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut notifier = Notifier::new();
        let sink = seen.clone();
        notifier.set_listener(Arc::new(move |t: &Transition| {
            sink.lock().unwrap().push(t.to)
        }));
        notifier.push(transition(State::Closed, State::Open));
        notifier.push(transition(State::Open, State::HalfOpen));
        notifier.deliver();
        assert_eq!(*seen.lock().unwrap(), [State::Open, State::HalfOpen]);
        assert!(notifier.lock().is_empty());
    }

    #[test]
    fn a_panicking_listener_does_not_block_later_deliveries() {
        let calls = Arc::new(Mutex::new(0));
        let mut notifier = Notifier::new();
        let sink = calls.clone();
        notifier.set_listener(Arc::new(move |_: &Transition| {
            let n = {
                let mut count = sink.lock().unwrap();
                *count += 1;
                *count
            };
            assert!(n > 1, "the first delivery panics");
        }));
        notifier.push(transition(State::Closed, State::Open));
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| notifier.deliver()));
        assert!(first.is_err());
        notifier.push(transition(State::Open, State::HalfOpen));
        notifier.deliver();
        assert_eq!(*calls.lock().unwrap(), 2);
    }
}
