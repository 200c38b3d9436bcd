use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::Usage;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// Generation requests.
    Requests,
    /// Characters of input text.
    Characters,
    /// Milliseconds of audio produced.
    AudioMillis,
    /// Milliseconds of video produced.
    VideoMillis,
    /// Cost in micro-dollars: budgets.
    CostMicros,
}

impl Resource {
    /// How much of this resource `usage` takes.
    pub const fn amount(self, usage: &Usage) -> u64 {
        match self {
            Resource::Requests => usage.requests,
            Resource::Characters => usage.characters,
            Resource::AudioMillis => usage.audio_millis,
            Resource::VideoMillis => usage.video_millis,
            Resource::CostMicros => usage.cost_micros,
        }
    }

    /// Stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Resource::Requests => "requests",
            Resource::Characters => "characters",
            Resource::AudioMillis => "audio_millis",
            Resource::VideoMillis => "video_millis",
            Resource::CostMicros => "cost_micros",
        }
    }
}

/// How a limit counts over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// At most `amount` in any window of `window` (periods: 50 a day). Counted in sub-buckets
    /// so memory stays fixed; the oldest partial bucket is counted whole, so the limit may
    /// deny up to one bucket early but never grants more than `amount` in any window.
    SlidingWindow,
    /// GCRA: a steady rate of `amount` per `window` with bursts of up to `burst` at once
    /// (per-second and per-minute smoothing). Never grants more than
    /// `burst + elapsed × rate` over any interval.
    Gcra {
        /// The largest amount granted at once after idling.
        burst: u64,
    },
    /// At most `amount` in one request, whatever came before (500 characters per request).
    PerRequest,
}

/// One limit: `amount` of `resource` per `window`, counted by `algorithm`.
///
/// ```
/// use std::time::Duration;
/// use ugc_core::quota::{Limit, Resource};
/// let tags = Limit::per(Resource::Requests, 10, Duration::from_secs(3600));
/// assert_eq!(tags.to_string(), "10 requests per 3600s");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// What it counts.
    pub resource: Resource,
    /// How much is allowed.
    pub amount: u64,
    /// Over which window (unused by `PerRequest`).
    pub window: Duration,
    /// How.
    pub algorithm: Algorithm,
}

impl Limit {
    /// At most `amount` of `resource` in any `window` (sliding window).
    pub const fn per(resource: Resource, amount: u64, window: Duration) -> Self {
        Self {
            resource,
            amount,
            window,
            algorithm: Algorithm::SlidingWindow,
        }
    }

    /// `amount` of `resource` per `window` as a steady rate, with bursts up to `burst` (GCRA).
    pub const fn rate(resource: Resource, amount: u64, window: Duration, burst: u64) -> Self {
        Self {
            resource,
            amount,
            window,
            algorithm: Algorithm::Gcra { burst },
        }
    }

    /// At most `amount` of `resource` in any one request.
    pub const fn per_request(resource: Resource, amount: u64) -> Self {
        Self {
            resource,
            amount,
            window: Duration::ZERO,
            algorithm: Algorithm::PerRequest,
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.algorithm {
            Algorithm::PerRequest => {
                write!(f, "{} {} per request", self.amount, self.resource.as_str())
            }
            _ => write!(
                f,
                "{} {} per {}s",
                self.amount,
                self.resource.as_str(),
                self.window.as_secs()
            ),
        }
    }
}

/// The limits that apply to one subject, plus its in-flight and queue caps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitSet {
    /// Every windowed and per-request limit.
    pub limits: Vec<Limit>,
    /// Calls in flight at once.
    pub max_concurrent: Option<u32>,
    /// Jobs waiting in the queue at once.
    pub max_queued: Option<u32>,
}

impl LimitSet {
    /// A set of `limits` with no concurrency or queue cap.
    pub fn new(limits: impl Into<Vec<Limit>>) -> Self {
        Self {
            limits: limits.into(),
            max_concurrent: None,
            max_queued: None,
        }
    }

    /// Caps calls in flight.
    #[must_use]
    pub fn max_concurrent(mut self, n: u32) -> Self {
        self.max_concurrent = Some(n);
        self
    }

    /// Caps queued jobs.
    #[must_use]
    pub fn max_queued(mut self, n: u32) -> Self {
        self.max_queued = Some(n);
        self
    }

    /// True when nothing is limited.
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.max_concurrent.is_none() && self.max_queued.is_none()
    }
}
