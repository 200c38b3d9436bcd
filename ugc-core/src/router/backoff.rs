use std::time::Duration;

/// Decorrelated jitter ("Exponential Backoff And Jitter", AWS architecture blog):
/// each delay is uniform in `[base, 3 × previous]`, capped. It spreads retries of many
/// callers better than full or equal jitter while still growing.
///
/// A [`backon::BackoffBuilder`]: the router draws one delay per retry of the same endpoint,
/// and stops after `max_retries`.
///
/// ```
/// use std::time::Duration;
/// use backon::BackoffBuilder;
/// use ugc_core::router::DecorrelatedJitter;
/// let delays: Vec<_> = DecorrelatedJitter::new(Duration::from_millis(100), Duration::from_secs(2), 3)
///     .build()
///     .collect();
/// assert_eq!(delays.len(), 3);
/// assert!(delays.iter().all(|d| *d >= Duration::from_millis(100) && *d <= Duration::from_secs(2)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecorrelatedJitter {
    base: Duration,
    cap: Duration,
    max_retries: u32,
}

impl DecorrelatedJitter {
    /// Delays from `base` growing up to `cap`, at most `max_retries` of them.
    pub const fn new(base: Duration, cap: Duration, max_retries: u32) -> Self {
        Self {
            base,
            cap,
            max_retries,
        }
    }
}

impl backon::BackoffBuilder for DecorrelatedJitter {
    type Backoff = DecorrelatedJitterBackoff;

    fn build(self) -> Self::Backoff {
        DecorrelatedJitterBackoff {
            spec: self,
            previous: self.base,
            left: self.max_retries,
        }
    }
}

/// The delays of one [`DecorrelatedJitter`] schedule.
#[derive(Debug, Clone)]
pub struct DecorrelatedJitterBackoff {
    spec: DecorrelatedJitter,
    previous: Duration,
    left: u32,
}

impl Iterator for DecorrelatedJitterBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.left = self.left.checked_sub(1)?;
        let low = self.spec.base.as_nanos() as u64;
        let high = (self.previous.as_nanos() as u64).saturating_mul(3).max(low);
        let delay = Duration::from_nanos(fastrand::u64(low..=high)).min(self.spec.cap);
        self.previous = delay;
        Some(delay)
    }
}
