//! ugc-core: generate speech, video and talking-head media through many AI providers, safely.
//!
//! A request is routed to the best available [`provider`] by the [`router`], which skips
//! endpoints whose [`breaker`] is open, that cool down after a 429 or whose free-tier
//! self-limits are spent, retries transient failures within the deadline, and fails over by
//! the failover table of [`provider::ErrorClass`]. Time is always read from a [`clock::Clock`].
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use ugc_core::clock::ManualClock;
//! use ugc_core::request::SpeechRequest;
//! use ugc_core::router::{Endpoint, Outcome, Router};
//! use ugc_core::testkit::{ScriptedProvider, Step};
//!
//! let clock = ManualClock::new();
//! let busy = ScriptedProvider::speech("busy", clock.shared())
//!     .then(Step::rate_limited(Duration::from_secs(30)));
//! let local = ScriptedProvider::speech("local", clock.shared());
//! let router = Router::builder(clock.shared())
//!     .endpoint(Endpoint::new(Arc::new(busy)).priority(0))
//!     .endpoint(Endpoint::new(Arc::new(local)).priority(1))
//!     .build()?;
//! let outcome = clock.block_on(router.dispatch(&SpeechRequest::new("hi").into(), Default::default()))?;
//! let Outcome::Done { endpoint, attempts, .. } = outcome else { panic!("not served") };
//! assert_eq!(endpoint.provider(), "local");
//! assert_eq!(attempts.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod breaker;
pub mod clock;
mod error;
mod media;
pub mod provider;
pub mod providers;
pub mod quota;
pub mod request;
pub mod router;
pub mod secret;
#[cfg(feature = "testkit")]
pub mod testkit;
mod usage;

pub use error::{Error, ErrorKind, Result};
pub use media::{Media, MediaBody};
pub use provider::{Provider, ProviderError};
pub use request::Request;
pub use secret::Credential;
pub use usage::Usage;
