use std::time::Duration;

use crate::breaker::Metrics;

use super::EndpointRef;

/// A snapshot of one endpoint, as [`Router::health`](super::Router::health) reports it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EndpointHealth {
    /// The endpoint.
    pub endpoint: EndpointRef,
    /// Its breaker's state and window.
    pub breaker: Metrics,
    /// Remaining cooldown after a rate limit or spent upstream quota.
    pub cooldown: Option<Duration>,
    /// Remaining time it is left out as misconfigured.
    pub misconfigured: Option<Duration>,
    /// Requests used and allowed in the rolling hour, if limited.
    pub hourly: Option<(u32, u32)>,
    /// Requests used and allowed in the rolling day, if limited.
    pub daily: Option<(u32, u32)>,
    /// Calls in flight now.
    pub in_flight: u32,
    /// Moving average of successful call latency.
    pub latency: Option<Duration>,
    /// Time until it can take a call: zero if now, `None` if only a manual reset will do.
    pub usable_in: Option<Duration>,
}
