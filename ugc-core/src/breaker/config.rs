//! The settings of one breaker, with resilience4j's names and defaults.

use std::time::Duration;

use crate::Error;

/// Which recent calls the failure and slow-call rates are computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlidingWindow {
    /// The last `N` calls, whenever they happened.
    Count(u32),
    /// The calls of the last `N` seconds, kept in one bucket per second.
    Time(u32),
}

impl Default for SlidingWindow {
    fn default() -> Self {
        SlidingWindow::Count(100)
    }
}

/// Settings of a [`CircuitBreaker`](super::CircuitBreaker); [`Default`] gives resilience4j's
/// defaults.
///
/// ```
/// use std::time::Duration;
/// use ugc_core::breaker::{BreakerConfig, SlidingWindow};
///
/// let config = BreakerConfig {
///     window: SlidingWindow::Time(30),
///     minimum_calls: 20,
///     wait_multiplier: 2.0,
///     ..BreakerConfig::default()
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// The calls the rates are computed over.
    pub window: SlidingWindow,
    /// Calls needed in the window before the rates can trip the breaker. A count window never
    /// waits for more calls than it holds: the effective minimum is `min(minimum_calls, N)`.
    pub minimum_calls: u32,
    /// Failure rate, in percent within (0, 100], at or above which the breaker trips.
    pub failure_rate_threshold: f32,
    /// A call that takes at least this long is slow, whether it succeeded or failed.
    pub slow_call_duration: Duration,
    /// Slow-call rate, in percent within (0, 100], at or above which the breaker trips.
    pub slow_call_rate_threshold: f32,
    /// Trial calls admitted in half-open; their outcomes decide the next state.
    pub half_open_permits: u32,
    /// Longest stay in half-open: past it, with outcomes still missing, the breaker opens again.
    pub max_wait_in_half_open: Duration,
    /// How long the breaker stays open after its first trip.
    pub wait_in_open: Duration,
    /// Growth of the open wait per consecutive trip: 1.0 keeps it constant, 2.0 doubles it.
    pub wait_multiplier: f64,
    /// Cap of the open wait however many consecutive trips there were.
    pub max_wait_in_open: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window: SlidingWindow::default(),
            minimum_calls: 100,
            failure_rate_threshold: 50.0,
            slow_call_duration: Duration::from_secs(60),
            slow_call_rate_threshold: 100.0,
            half_open_permits: 10,
            max_wait_in_half_open: Duration::from_secs(60),
            wait_in_open: Duration::from_secs(60),
            wait_multiplier: 1.0,
            max_wait_in_open: Duration::from_secs(600),
        }
    }
}

impl BreakerConfig {
    /// The largest count window: its ring takes one byte per call.
    pub const MAX_COUNT_WINDOW: u32 = 1_000_000;
    /// The largest time window, in seconds (one day): it takes 24 bytes per second.
    pub const MAX_TIME_WINDOW: u32 = 86_400;
    /// The most half-open permits: the half-open counters share one atomic word.
    pub const MAX_HALF_OPEN_PERMITS: u32 = 4_095;

    /// Checks every setting; the error names the first field that is wrong.
    ///
    /// ```
    /// use ugc_core::breaker::BreakerConfig;
    ///
    /// let config = BreakerConfig { failure_rate_threshold: 0.0, ..Default::default() };
    /// let err = config.validate().unwrap_err();
    /// assert!(err.message().contains("failure_rate_threshold"));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        match self.window {
            SlidingWindow::Count(n) if n == 0 || n > Self::MAX_COUNT_WINDOW => {
                return Err(invalid(
                    "window",
                    format_args!("Count must be within 1..={}", Self::MAX_COUNT_WINDOW),
                ));
            }
            SlidingWindow::Time(n) if n == 0 || n > Self::MAX_TIME_WINDOW => {
                return Err(invalid(
                    "window",
                    format_args!("Time must be within 1..={} seconds", Self::MAX_TIME_WINDOW),
                ));
            }
            _ => {}
        }
        if self.minimum_calls == 0 {
            return Err(invalid("minimum_calls", format_args!("must be at least 1")));
        }
        check_percent("failure_rate_threshold", self.failure_rate_threshold)?;
        check_positive("slow_call_duration", self.slow_call_duration)?;
        check_percent("slow_call_rate_threshold", self.slow_call_rate_threshold)?;
        if self.half_open_permits == 0 || self.half_open_permits > Self::MAX_HALF_OPEN_PERMITS {
            return Err(invalid(
                "half_open_permits",
                format_args!("must be within 1..={}", Self::MAX_HALF_OPEN_PERMITS),
            ));
        }
        check_positive("max_wait_in_half_open", self.max_wait_in_half_open)?;
        check_positive("wait_in_open", self.wait_in_open)?;
        if !self.wait_multiplier.is_finite() || self.wait_multiplier < 1.0 {
            return Err(invalid(
                "wait_multiplier",
                format_args!(
                    "must be a finite number >= 1.0, got {}",
                    self.wait_multiplier
                ),
            ));
        }
        if self.max_wait_in_open < self.wait_in_open {
            return Err(invalid(
                "max_wait_in_open",
                format_args!(
                    "must be >= wait_in_open ({:?}), got {:?}",
                    self.wait_in_open, self.max_wait_in_open
                ),
            ));
        }
        Ok(())
    }

    /// Calls needed before the rates count, as the window can hold them.
    pub(super) fn effective_minimum_calls(&self) -> u32 {
        match self.window {
            SlidingWindow::Count(n) => self.minimum_calls.min(n),
            SlidingWindow::Time(_) => self.minimum_calls,
        }
    }

    /// The open wait after `trips` consecutive trips (the first trip is 1).
    pub(super) fn open_wait(&self, trips: u32) -> Duration {
        let exponent = i32::try_from(trips.saturating_sub(1)).unwrap_or(i32::MAX);
        let factor = self.wait_multiplier.powi(exponent);
        if factor <= 1.0 {
            return self.wait_in_open.min(self.max_wait_in_open);
        }
        // An infinite or out-of-range product means the cap was passed long ago.
        Duration::try_from_secs_f64(self.wait_in_open.as_secs_f64() * factor)
            .map_or(self.max_wait_in_open, |wait| {
                wait.min(self.max_wait_in_open)
            })
    }
}

fn invalid(field: &str, why: std::fmt::Arguments<'_>) -> Error {
    Error::config(format!("breaker config: {field} {why}"))
}

fn check_percent(field: &str, value: f32) -> Result<(), Error> {
    // Written so that NaN fails too.
    if value > 0.0 && value <= 100.0 {
        Ok(())
    } else {
        Err(invalid(
            field,
            format_args!("must be a percentage within (0, 100], got {value}"),
        ))
    }
}

fn check_positive(field: &str, value: Duration) -> Result<(), Error> {
    if value.is_zero() {
        Err(invalid(field, format_args!("must be longer than zero")))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn field_named_by(config: BreakerConfig) -> String {
        match config.validate() {
            Ok(()) => String::from("<valid>"),
            Err(err) => {
                assert_eq!(err.kind(), ErrorKind::Config);
                err.message().to_owned()
            }
        }
    }

    #[test]
    fn defaults_are_resilience4j_defaults_and_valid() {
        let config = BreakerConfig::default();
        assert_eq!(config.window, SlidingWindow::Count(100));
        assert_eq!(config.minimum_calls, 100);
        assert_eq!(config.failure_rate_threshold, 50.0);
        assert_eq!(config.slow_call_rate_threshold, 100.0);
        assert_eq!(config.slow_call_duration, Duration::from_secs(60));
        assert_eq!(config.half_open_permits, 10);
        assert_eq!(config.wait_in_open, Duration::from_secs(60));
        assert_eq!(config.wait_multiplier, 1.0);
        assert_eq!(config.max_wait_in_open, Duration::from_secs(600));
        assert!(config.validate().is_ok());
    }

    #[test]
    fn validation_names_the_wrong_field() {
        let d = BreakerConfig::default;
        let cases: Vec<(&str, BreakerConfig)> = vec![
            (
                "window",
                BreakerConfig {
                    window: SlidingWindow::Count(0),
                    ..d()
                },
            ),
            (
                "window",
                BreakerConfig {
                    window: SlidingWindow::Time(0),
                    ..d()
                },
            ),
            (
                "window",
                BreakerConfig {
                    window: SlidingWindow::Count(u32::MAX),
                    ..d()
                },
            ),
            (
                "minimum_calls",
                BreakerConfig {
                    minimum_calls: 0,
                    ..d()
                },
            ),
            (
                "failure_rate_threshold",
                BreakerConfig {
                    failure_rate_threshold: 0.0,
                    ..d()
                },
            ),
            (
                "failure_rate_threshold",
                BreakerConfig {
                    failure_rate_threshold: 100.5,
                    ..d()
                },
            ),
            (
                "failure_rate_threshold",
                BreakerConfig {
                    failure_rate_threshold: f32::NAN,
                    ..d()
                },
            ),
            (
                "slow_call_duration",
                BreakerConfig {
                    slow_call_duration: Duration::ZERO,
                    ..d()
                },
            ),
            (
                "slow_call_rate_threshold",
                BreakerConfig {
                    slow_call_rate_threshold: -1.0,
                    ..d()
                },
            ),
            (
                "half_open_permits",
                BreakerConfig {
                    half_open_permits: 0,
                    ..d()
                },
            ),
            (
                "half_open_permits",
                BreakerConfig {
                    half_open_permits: 5_000,
                    ..d()
                },
            ),
            (
                "max_wait_in_half_open",
                BreakerConfig {
                    max_wait_in_half_open: Duration::ZERO,
                    ..d()
                },
            ),
            (
                "wait_in_open",
                BreakerConfig {
                    wait_in_open: Duration::ZERO,
                    ..d()
                },
            ),
            (
                "wait_multiplier",
                BreakerConfig {
                    wait_multiplier: 0.5,
                    ..d()
                },
            ),
            (
                "wait_multiplier",
                BreakerConfig {
                    wait_multiplier: f64::INFINITY,
                    ..d()
                },
            ),
            (
                "max_wait_in_open",
                BreakerConfig {
                    max_wait_in_open: Duration::from_secs(1),
                    ..d()
                },
            ),
        ];
        for (field, config) in cases {
            let message = field_named_by(config);
            assert!(message.contains(field), "{field}: {message}");
        }
    }

    #[test]
    fn count_window_never_waits_for_more_calls_than_it_holds() {
        let config = BreakerConfig {
            window: SlidingWindow::Count(10),
            ..Default::default()
        };
        assert_eq!(config.effective_minimum_calls(), 10);
        let config = BreakerConfig {
            window: SlidingWindow::Time(10),
            ..Default::default()
        };
        assert_eq!(config.effective_minimum_calls(), 100);
    }

    #[test]
    fn open_wait_grows_by_the_multiplier_up_to_the_cap() {
        let config = BreakerConfig {
            wait_in_open: Duration::from_secs(10),
            wait_multiplier: 2.0,
            max_wait_in_open: Duration::from_secs(60),
            ..Default::default()
        };
        let waits: Vec<u64> = (1..=5).map(|t| config.open_wait(t).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 60, 60]);
        assert_eq!(config.open_wait(u32::MAX), Duration::from_secs(60));
        let constant = BreakerConfig {
            wait_in_open: Duration::from_secs(10),
            ..Default::default()
        };
        assert_eq!(constant.open_wait(7), Duration::from_secs(10));
    }
}
