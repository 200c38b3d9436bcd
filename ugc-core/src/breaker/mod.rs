//! Circuit breakers, one per endpoint: the router asks [`CircuitBreaker::try_acquire`] before
//! each attempt, skips the endpoint on a [`Rejected`] (whose `retry_after` becomes its ETA),
//! and reports how the call went on the [`Permit`].
//!
//! The semantics are resilience4j's: [`State::Closed`], [`State::Open`], [`State::HalfOpen`],
//! [`State::ForcedOpen`] and [`State::Disabled`]; a count- or time-based [`SlidingWindow`];
//! minimum calls; failure-rate and slow-call-rate thresholds; a fixed number of half-open
//! permits and a maximum wait in half-open; an open wait that can grow on consecutive trips.
//! Time-based transitions are lazy: they happen when a call, [`CircuitBreaker::state`] or
//! [`CircuitBreaker::metrics`] next reads the clock, so the breaker needs no timer task.
//!
//! The closed path (`try_acquire` then `on_success`) is a handful of atomic operations: no
//! lock, no allocation, and no clock read with a count window.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use ugc_core::breaker::{BreakerConfig, CircuitBreaker, State};
//! use ugc_core::clock::ManualClock;
//!
//! let clock = ManualClock::new();
//! let breaker = Arc::new(CircuitBreaker::new("replicate", BreakerConfig::default(), clock.shared())?);
//! match breaker.try_acquire() {
//!     Ok(permit) => permit.on_success(Duration::from_millis(850)),
//!     Err(rejected) => println!("skip this endpoint for {:?}", rejected.retry_after),
//! }
//! assert_eq!(breaker.metrics().calls, 1);
//! assert_eq!(breaker.state(), State::Closed);
//! # Ok::<(), ugc_core::Error>(())
//! ```

mod circuit_breaker;
mod config;
mod count_window;
mod half_open;
mod metrics;
mod padded;
mod permit;
mod state;
mod time_window;
mod transition;
mod window;

pub use circuit_breaker::CircuitBreaker;
pub use config::{BreakerConfig, SlidingWindow};
pub use metrics::Metrics;
pub use permit::{Permit, Rejected};
pub use state::State;
pub use transition::{Listener, Transition};
