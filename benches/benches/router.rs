//! Router overhead: one dispatch to an in-process provider that answers at once, on the
//! system clock, as production runs it. `provider_direct` is the same provider called without
//! the router, so the difference is the router's own cost.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use ugc_core::breaker::{BreakerConfig, SlidingWindow};
use ugc_core::clock;
use ugc_core::provider::{
    CallContext, Capabilities, ErrorClass, Provider, ProviderError, Submission,
};
use ugc_core::request::{MediaKind, Request, SpeechRequest};
use ugc_core::router::{DispatchOptions, Endpoint, Outcome, Router, RouterConfig};
use ugc_core::testkit::{ScriptedProvider, Step};
use ugc_core::{Media, Usage};

/// Answers every submit at once with a static payload: the cheapest provider possible.
struct Instant(Capabilities);

#[async_trait]
impl Provider for Instant {
    fn id(&self) -> &str {
        "instant"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.0
    }

    async fn submit(&self, _: &Request, _: &CallContext) -> Result<Submission, ProviderError> {
        Ok(Submission::Ready(Media::bytes(
            Bytes::from_static(b"RIFF"),
            "audio/wav",
        )))
    }

    fn estimate(&self, request: &Request, _: Option<&str>) -> Usage {
        Usage {
            characters: request.characters() as u64,
            ..Usage::request()
        }
    }
}

fn instant() -> Arc<Instant> {
    Arc::new(Instant(Capabilities::sync([MediaKind::Speech])))
}

fn request() -> Request {
    SpeechRequest::new("Now playing: track number seven").into()
}

fn served(outcome: Outcome) {
    assert!(matches!(outcome, Outcome::Done { .. }));
}

fn router_benches(c: &mut Criterion) {
    let clock = clock::system();
    let req = request();
    let mut group = c.benchmark_group("router");

    let provider = instant();
    let ctx = CallContext::new(clock.now() + Duration::from_secs(3600));
    group.bench_function("provider_direct", |b| {
        b.iter(|| black_box(block_on(provider.submit(black_box(&req), &ctx))).unwrap())
    });

    let one = Router::builder(clock.clone())
        .endpoint(Endpoint::new(instant()))
        .build()
        .unwrap();
    group.bench_function("success_1_endpoint", |b| {
        b.iter(|| {
            served(block_on(
                one.dispatch(black_box(&req), DispatchOptions::default()),
            ))
        })
    });

    // Seven endpoints ahead of the healthy one, each with its breaker open for an hour.
    let breaker = BreakerConfig {
        window: SlidingWindow::Count(1),
        minimum_calls: 1,
        wait_in_open: Duration::from_secs(3600),
        max_wait_in_open: Duration::from_secs(3600),
        ..BreakerConfig::default()
    };
    let mut config = RouterConfig::default();
    config.max_retries = 0;
    let mut builder = Router::builder(clock.clone()).config(config);
    for i in 0..7u32 {
        let failing = ScriptedProvider::speech(format!("down{i}"), clock.clone())
            .then(Step::fail(ErrorClass::Transient));
        builder = builder.endpoint(
            Endpoint::new(Arc::new(failing))
                .priority(i)
                .breaker(breaker.clone()),
        );
    }
    let eight = builder
        .endpoint(Endpoint::new(instant()).priority(7))
        .build()
        .unwrap();
    served(block_on(eight.dispatch(&req, DispatchOptions::default())));
    assert_eq!(
        eight
            .health()
            .iter()
            .filter(|h| h.breaker.state.as_str() == "open")
            .count(),
        7
    );
    group.bench_function("success_8_endpoints_7_open", |b| {
        b.iter(|| {
            served(block_on(
                eight.dispatch(black_box(&req), DispatchOptions::default()),
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, router_benches);
criterion_main!(benches);
