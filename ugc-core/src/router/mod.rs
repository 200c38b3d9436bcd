//! Routes each request to the best available endpoint and fails over by the failover table.
//!
//! Step 5 of a request (DESIGN section 2): the gateway hands a validated request to
//! [`Router::dispatch`], which orders the endpoints that can serve it by [`Strategy`], skips
//! those whose breaker is open, that cool down after a 429, whose self-limits are spent or
//! whose price exceeds the caller's budget, calls the first usable one with a per-attempt
//! timeout, retries transient failures on the same endpoint with decorrelated jitter while
//! the deadline allows, follows async jobs by polling, and fails over as the
//! [`ErrorClass`](crate::provider::ErrorClass) of each failure says. The result is an
//! [`Outcome`]: `Done`, `Deferred { eta }` (queue it) or `Failed`, with the attempt trail.

mod backoff;
mod config;
mod dispatch;
mod endpoint;
mod health;
mod outcome;
mod self_limit;
mod state;
mod strategy;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use backoff::{DecorrelatedJitter, DecorrelatedJitterBackoff};
pub use config::RouterConfig;
pub use endpoint::{Endpoint, EndpointRef, NO_CREDENTIAL, Price};
pub use health::EndpointHealth;
pub use outcome::{Attempt, AttemptResult, Outcome, SkipReason};
pub use strategy::Strategy;

use crate::breaker::CircuitBreaker;
use crate::clock::SharedClock;
use crate::request::MediaKind;
use crate::{Credential, Error, Result};
use state::EndpointState;

/// Per-request routing options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DispatchOptions {
    /// Total time allowed; the router's default when `None`.
    pub deadline: Option<Duration>,
    /// The caller's remaining budget in micro-dollars: endpoints estimated to cost more are
    /// skipped.
    pub budget_micros: Option<u64>,
}

impl DispatchOptions {
    /// Sets the deadline.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the remaining budget.
    #[must_use]
    pub fn budget_micros(mut self, budget: u64) -> Self {
        self.budget_micros = Some(budget);
        self
    }
}

struct Route {
    endpoint: Endpoint,
    id: EndpointRef,
    state: Arc<EndpointState>,
}

/// Routes requests over a fleet of endpoints. Cheap to share (`Arc<Router>`); all methods
/// take `&self`.
pub struct Router {
    clock: SharedClock,
    config: RouterConfig,
    routes: Vec<Route>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.routes.iter().map(|r| r.id.name()).collect();
        f.debug_struct("Router")
            .field("strategy", &self.config.strategy)
            .field("endpoints", &names)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Router`].
#[derive(Debug)]
pub struct RouterBuilder {
    clock: SharedClock,
    config: RouterConfig,
    endpoints: Vec<Endpoint>,
}

impl RouterBuilder {
    /// Replaces the whole configuration.
    #[must_use]
    pub fn config(mut self, config: RouterConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the strategy.
    #[must_use]
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.config.strategy = strategy;
        self
    }

    /// Adds an endpoint.
    #[must_use]
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoints.push(endpoint);
        self
    }

    /// Validates the configuration and builds the router.
    ///
    /// Endpoints of the same provider and credential share one state (breaker, cooldown,
    /// self-limits); the first of them sets its breaker and limits.
    pub fn build(self) -> Result<Router> {
        self.config.validate()?;
        let origin = self.clock.now();
        let mut states: HashMap<(String, String), Arc<EndpointState>> = HashMap::new();
        let mut routes = Vec::with_capacity(self.endpoints.len());
        for endpoint in self.endpoints {
            let id = EndpointRef::of(&endpoint);
            if routes.iter().any(|r: &Route| r.id == id) {
                return Err(Error::config(format!("endpoint {id} is configured twice")));
            }
            let key = (id.provider().to_owned(), id.credential().to_owned());
            let state = match states.get(&key) {
                Some(state) => state.clone(),
                None => {
                    let breaker_config = endpoint
                        .breaker
                        .clone()
                        .unwrap_or_else(|| self.config.breaker.clone());
                    let name = format!("{}@{}", key.0, key.1);
                    let breaker = CircuitBreaker::new(name, breaker_config, self.clock.clone())?;
                    let state = Arc::new(EndpointState::new(
                        breaker,
                        origin,
                        endpoint.per_hour,
                        endpoint.per_day,
                        endpoint.max_in_flight,
                    ));
                    states.insert(key, state.clone());
                    state
                }
            };
            routes.push(Route {
                endpoint,
                id,
                state,
            });
        }
        Ok(Router {
            clock: self.clock,
            config: self.config,
            routes,
        })
    }
}

impl Router {
    /// Starts a router reading time from `clock`.
    pub fn builder(clock: SharedClock) -> RouterBuilder {
        RouterBuilder {
            clock,
            config: RouterConfig::default(),
            endpoints: Vec::new(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// The endpoints, in configuration order.
    pub fn endpoints(&self) -> impl Iterator<Item = &EndpointRef> {
        self.routes.iter().map(|r| &r.id)
    }

    /// Time until the earliest endpoint can take a call (zero if one can now), or `None` if
    /// none will without a manual action. The ETA of a deferred request.
    pub fn min_wait(&self) -> Option<Duration> {
        self.min_wait_where(|_| true)
    }

    /// [`min_wait`](Self::min_wait) over the endpoints that serve `kind`.
    pub fn min_wait_for(&self, kind: MediaKind) -> Option<Duration> {
        self.min_wait_where(|r| r.endpoint.provider.capabilities().supports(kind))
    }

    fn min_wait_where(&self, keep: impl Fn(&Route) -> bool) -> Option<Duration> {
        let now = self.clock.now();
        self.routes
            .iter()
            .filter(|r| keep(r))
            .filter_map(|r| r.state.usable_at(now))
            .min()
            .map(|at| at.saturating_duration_since(now))
    }

    /// A snapshot of every endpoint.
    pub fn health(&self) -> Vec<EndpointHealth> {
        let now = self.clock.now();
        let remaining = |until: Option<Instant>| until.map(|t| t.saturating_duration_since(now));
        self.routes
            .iter()
            .map(|r| {
                let [hourly, daily] = r.state.self_limit_usage(now);
                EndpointHealth {
                    endpoint: r.id.clone(),
                    breaker: r.state.breaker.metrics(),
                    cooldown: remaining(r.state.cooldown_until(now)),
                    misconfigured: remaining(r.state.misconfigured_until(now)),
                    hourly,
                    daily,
                    in_flight: r.state.in_flight(),
                    latency: r.state.latency(),
                    usable_in: remaining(r.state.usable_at(now)),
                }
            })
            .collect()
    }

    /// Opens the breaker of the endpoints of `provider` (and `credential`, if given) by hand.
    pub fn isolate(&self, provider: &str, credential: Option<&Credential>) {
        self.matching(provider, credential)
            .for_each(|s| s.breaker.isolate());
    }

    /// Closes the breaker of the endpoints of `provider` by hand, with a fresh window
    /// (cooldowns after a 429 still run out on their own).
    pub fn reset(&self, provider: &str, credential: Option<&Credential>) {
        self.matching(provider, credential)
            .for_each(|s| s.breaker.reset());
    }

    fn matching<'a>(
        &'a self,
        provider: &'a str,
        credential: Option<&'a Credential>,
    ) -> impl Iterator<Item = &'a EndpointState> {
        self.routes
            .iter()
            .filter(move |r| {
                r.id.provider() == provider
                    && credential.is_none_or(|c| r.id.credential() == c.id())
            })
            .map(|r| &*r.state)
    }
}
