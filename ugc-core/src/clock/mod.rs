//! Time as a dependency: every component that reads time or waits takes a [`Clock`].
//!
//! Production uses [`SystemClock`]; tests use [`ManualClock`], which only moves when told to
//! (or, inside [`ManualClock::block_on`], jumps to the next timer when nothing else can run),
//! so windows, cooldowns and timeouts are tested to the nanosecond without sleeping.

mod manual;
mod system;
mod timeout;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub use manual::{ManualClock, Stalled};
pub use system::SystemClock;
pub use timeout::{Elapsed, Timeout, timeout};

/// A future that completes at a deadline of its clock.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of time: monotonic instants, wall-clock time, and sleeping.
///
/// ```
/// use std::time::Duration;
/// use ugc_core::clock::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(clock.now() - start, Duration::from_millis(1500));
/// ```
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current monotonic instant.
    fn now(&self) -> Instant;

    /// The current wall-clock time (for HTTP dates and records).
    fn wall(&self) -> SystemTime;

    /// A future that completes once [`Clock::now`] has reached `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Sleep;

    /// A future that completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(self.now() + duration)
    }
}

/// A clock shared between components.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock as a [`SharedClock`].
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}
