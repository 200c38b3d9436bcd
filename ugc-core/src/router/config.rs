use std::time::Duration;

use crate::breaker::BreakerConfig;
use crate::{Error, Result};

use super::Strategy;

/// How the router orders, retries, cools down and times out. Every field has a default
/// suited to speech; video and avatar routes want longer deadlines.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RouterConfig {
    /// How endpoints are ordered for each request.
    pub strategy: Strategy,
    /// Total time a dispatch may take unless the caller gives its own (default 60 s).
    pub deadline: Duration,
    /// Timeout of one call (default 30 s); an endpoint may override it.
    pub attempt_timeout: Duration,
    /// Retries of the same endpoint after a transient failure (default 1).
    pub max_retries: u32,
    /// First backoff delay before retrying the same endpoint (default 100 ms).
    pub backoff_base: Duration,
    /// Largest backoff delay (default 2 s).
    pub backoff_cap: Duration,
    /// Cooldown after a 429 that named no Retry-After (default 10 s).
    pub default_cooldown: Duration,
    /// Wait after a concurrency-limit answer before the endpoint is tried again (default 250 ms).
    pub concurrency_wait: Duration,
    /// Cooldown after the provider says the account's credit is spent (default 1 h).
    pub quota_cooldown: Duration,
    /// How long a misconfigured endpoint (401, 403, unknown model) is left out (default 1 h).
    pub misconfigured_cooldown: Duration,
    /// Interval between polls of a job when the provider does not say (default 2 s).
    pub poll_interval: Duration,
    /// Whether a content rejection tries another provider (default false: the same text is
    /// usually refused everywhere, and retrying elsewhere can look like filter evasion).
    pub content_rejected_fails_over: bool,
    /// Weight of the newest latency sample in the moving average (default 0.3).
    pub latency_ewma_alpha: f64,
    /// Breaker settings for endpoints that give none.
    pub breaker: BreakerConfig,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::Priority,
            deadline: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(30),
            max_retries: 1,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(2),
            default_cooldown: Duration::from_secs(10),
            concurrency_wait: Duration::from_millis(250),
            quota_cooldown: Duration::from_secs(3600),
            misconfigured_cooldown: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(2),
            content_rejected_fails_over: false,
            latency_ewma_alpha: 0.3,
            breaker: BreakerConfig::default(),
        }
    }
}

impl RouterConfig {
    /// Checks every field; the error names the first one that is wrong.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("router.deadline", self.deadline),
            ("router.attempt_timeout", self.attempt_timeout),
            ("router.backoff_base", self.backoff_base),
            ("router.poll_interval", self.poll_interval),
        ];
        for (field, value) in positive {
            if value.is_zero() {
                return Err(Error::config(format!("{field} must be greater than zero")));
            }
        }
        if self.backoff_cap < self.backoff_base {
            return Err(Error::config(
                "router.backoff_cap must be at least router.backoff_base",
            ));
        }
        if !(self.latency_ewma_alpha > 0.0 && self.latency_ewma_alpha <= 1.0) {
            return Err(Error::config("router.latency_ewma_alpha must be in (0, 1]"));
        }
        self.breaker.validate()
    }
}
