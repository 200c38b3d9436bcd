use std::fmt;
use std::time::Duration;

use crate::provider::ErrorClass;
use crate::{Error, Media, Usage};

use super::EndpointRef;

/// The result of routing one request.
#[derive(Debug)]
pub enum Outcome {
    /// An endpoint produced the media.
    Done {
        /// The result.
        media: Media,
        /// Who served it.
        endpoint: EndpointRef,
        /// Every attempt and skip, in order, the last being the success.
        attempts: Vec<Attempt>,
        /// The serving endpoint's estimate (its cost settles the caller's reservation unless
        /// the media reports what was billed).
        estimate: Usage,
    },
    /// No endpoint can take the request before the deadline; one will be usable in `eta`.
    /// Queue the request and try again then.
    Deferred {
        /// Time from now until the earliest endpoint is usable.
        eta: Duration,
        /// What was tried and skipped.
        attempts: Vec<Attempt>,
    },
    /// The request failed and no endpoint is expected to take it.
    Failed {
        /// The deciding error (a bad request ends at once; otherwise `all_providers_unavailable`).
        error: Error,
        /// What was tried and skipped.
        attempts: Vec<Attempt>,
    },
}

impl Outcome {
    /// The trail of attempts, whatever the outcome.
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            Outcome::Done { attempts, .. }
            | Outcome::Deferred { attempts, .. }
            | Outcome::Failed { attempts, .. } => attempts,
        }
    }

    /// The media if it is done, or the error a caller would see (`Deferred` becomes
    /// `all_providers_unavailable` with the ETA as `retry_after`).
    pub fn into_result(self) -> Result<(Media, EndpointRef), Error> {
        match self {
            Outcome::Done {
                media, endpoint, ..
            } => Ok((media, endpoint)),
            Outcome::Deferred { eta, attempts } => Err(Error::new(
                crate::ErrorKind::AllProvidersUnavailable,
                "no provider can take the request before its deadline",
            )
            .with_retry_after(eta)
            .with_attempts(attempts)),
            Outcome::Failed { error, attempts } => Err(error.with_attempts(attempts)),
        }
    }
}

/// Why an endpoint was passed over without a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// Its breaker is open.
    BreakerOpen,
    /// Its breaker is half-open and every trial permit is taken.
    HalfOpenBusy,
    /// Its breaker was opened by hand.
    ForcedOpen,
    /// It cools down after a rate limit or spent upstream quota.
    CoolingDown,
    /// Its credentials or model were refused.
    Misconfigured,
    /// Its hourly self-limit is spent.
    HourlyLimit,
    /// Its daily self-limit is spent.
    DailyLimit,
    /// It has as many calls in flight as allowed.
    AtConcurrencyLimit,
    /// Its estimated cost exceeds the caller's remaining budget.
    OverBudget,
    /// It maps voices, but not the one the request asks for.
    NoVoiceMapping,
}

impl SkipReason {
    /// Stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            SkipReason::BreakerOpen => "breaker_open",
            SkipReason::HalfOpenBusy => "half_open_busy",
            SkipReason::ForcedOpen => "forced_open",
            SkipReason::CoolingDown => "cooling_down",
            SkipReason::Misconfigured => "misconfigured",
            SkipReason::HourlyLimit => "hourly_limit",
            SkipReason::DailyLimit => "daily_limit",
            SkipReason::AtConcurrencyLimit => "at_concurrency_limit",
            SkipReason::OverBudget => "over_budget",
            SkipReason::NoVoiceMapping => "no_voice_mapping",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened at one endpoint in one step of a dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// The call produced media.
    Succeeded,
    /// The call failed with this class.
    Failed(ErrorClass),
    /// No call was made.
    Skipped(SkipReason),
}

/// One entry of an attempt trail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// The endpoint.
    pub endpoint: EndpointRef,
    /// What happened.
    pub result: AttemptResult,
    /// When it started, from the start of the dispatch.
    pub at: Duration,
    /// How long the call took (zero for a skip).
    pub latency: Duration,
    /// When the endpoint may be tried again, if known.
    pub retry_after: Option<Duration>,
    /// The provider's scrubbed message for a failure.
    pub message: Option<String>,
}

/// Shows a duration the way a person reads it: `35ms`, `23.6s`.
struct Human(Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < Duration::from_secs(1) {
            write!(f, "{}ms", self.0.as_millis())
        } else {
            write!(f, "{:.1}s", self.0.as_secs_f64())
        }
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{} {}: ", Human(self.at), self.endpoint)?;
        match &self.result {
            AttemptResult::Succeeded => write!(f, "succeeded in {}", Human(self.latency))?,
            AttemptResult::Failed(class) => write!(f, "{class} after {}", Human(self.latency))?,
            AttemptResult::Skipped(reason) => write!(f, "skipped ({reason})")?,
        }
        if let Some(r) = self.retry_after {
            write!(f, ", usable again in {}", Human(r))?;
        }
        if let Some(m) = &self.message {
            write!(f, " — {m}")?;
        }
        Ok(())
    }
}
