use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use super::{Clock, Sleep};

/// The deadline of a [`Timeout`] passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline elapsed")]
pub struct Elapsed;

/// Runs `future` until `deadline` on `clock`.
///
/// The inner future is polled first, and the timer is only created when it is pending, so a
/// call that completes at once pays nothing for its timeout.
pub fn timeout<F: Future>(clock: &dyn Clock, deadline: Instant, future: F) -> Timeout<'_, F> {
    Timeout {
        clock,
        deadline,
        future,
        sleep: None,
    }
}

pin_project_lite::pin_project! {
    /// Future returned by [`timeout`].
    pub struct Timeout<'c, F> {
        clock: &'c dyn Clock,
        deadline: Instant,
        #[pin]
        future: F,
        sleep: Option<Sleep>,
    }
}

impl<F: Future> Future for Timeout<'_, F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        let (clock, deadline) = (*this.clock, *this.deadline);
        let sleep = this
            .sleep
            .get_or_insert_with(|| clock.sleep_until(deadline));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn a_hanging_future_times_out_exactly_at_the_deadline() {
        let clock = ManualClock::new();
        let deadline = clock.now() + Duration::from_secs(3);
        let out = clock.block_on(timeout(&clock, deadline, std::future::pending::<()>()));
        assert_eq!(out, Ok(Err(Elapsed)));
        assert_eq!(clock.now(), deadline);
    }

    #[test]
    fn a_future_finishing_before_the_deadline_wins() {
        let clock = ManualClock::new();
        let deadline = clock.now() + Duration::from_secs(3);
        let work = clock.sleep(Duration::from_secs(2));
        let out = clock.block_on(timeout(&clock, deadline, work));
        assert_eq!(out, Ok(Ok(())));
        assert_eq!(clock.now() + Duration::from_secs(1), deadline);
    }
}
