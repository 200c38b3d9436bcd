//! The router's behaviour, specified against scripted providers in virtual time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod failover;
mod jobs;
mod limits;
mod timing;
mod voices;

use std::sync::Arc;
use std::time::Duration;

use ugc_core::clock::ManualClock;
use ugc_core::provider::Provider;
use ugc_core::request::{Request, SpeechRequest, VideoRequest};
use ugc_core::router::{
    AttemptResult, DispatchOptions, Endpoint, Outcome, Router, RouterBuilder, RouterConfig,
};
use ugc_core::testkit::ScriptedProvider;

pub fn speech() -> Request {
    SpeechRequest::new("the quick brown fox").into()
}

pub fn video() -> Request {
    VideoRequest::new("a lighthouse at dusk").into()
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A router config without retries of the same endpoint, so failover is immediate.
pub fn no_retries() -> RouterConfig {
    let mut config = RouterConfig::default();
    config.max_retries = 0;
    config
}

/// Builds a priority router over `providers`, first one first.
pub fn router(
    clock: &ManualClock,
    config: RouterConfig,
    providers: Vec<Arc<ScriptedProvider>>,
) -> Router {
    let mut builder: RouterBuilder = Router::builder(clock.shared()).config(config);
    for (i, p) in providers.iter().enumerate() {
        let provider: Arc<dyn Provider> = p.clone();
        builder = builder.endpoint(Endpoint::new(provider).priority(i as u32));
    }
    builder.build().unwrap()
}

pub fn dispatch(
    clock: &ManualClock,
    router: &Router,
    request: &Request,
    options: DispatchOptions,
) -> Outcome {
    clock.block_on(router.dispatch(request, options)).unwrap()
}

/// `(provider, result)` of each trail entry.
pub fn trail(outcome: &Outcome) -> Vec<(String, AttemptResult)> {
    outcome
        .attempts()
        .iter()
        .map(|a| (a.endpoint.provider().to_owned(), a.result.clone()))
        .collect()
}

pub fn served_by(outcome: &Outcome) -> Option<&str> {
    match outcome {
        Outcome::Done { endpoint, .. } => Some(endpoint.provider()),
        _ => None,
    }
}
