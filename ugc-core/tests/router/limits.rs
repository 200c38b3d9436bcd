//! Self-limits (free tiers) and concurrency caps: stop before the provider says 429.

use std::sync::Arc;

use ugc_core::router::{AttemptResult, DispatchOptions, Endpoint, Router, SkipReason};
use ugc_core::testkit::{ScriptedProvider, Step};

use super::*;

#[test]
fn the_hourly_self_limit_moves_traffic_on_before_the_provider_refuses() {
    let clock = ManualClock::new();
    let free = Arc::new(ScriptedProvider::speech("free", clock.shared()));
    let paid = Arc::new(ScriptedProvider::speech("paid", clock.shared()));
    let r = Router::builder(clock.shared())
        .endpoint(
            Endpoint::new(free.clone())
                .requests_per_hour(2)
                .requests_per_day(3),
        )
        .endpoint(Endpoint::new(paid.clone()).priority(1))
        .build()
        .unwrap();
    for _ in 0..2 {
        assert_eq!(
            served_by(&dispatch(&clock, &r, &speech(), DispatchOptions::default())),
            Some("free")
        );
        clock.advance(secs(60));
    }
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    assert_eq!(served_by(&out), Some("paid"));
    assert_eq!(
        trail(&out)[0],
        (
            "free".into(),
            AttemptResult::Skipped(SkipReason::HourlyLimit)
        )
    );
    assert_eq!(out.attempts()[0].retry_after, Some(secs(3600 - 120)));
    assert_eq!(r.health()[0].hourly, Some((2, 2)));
    // An hour after the first call one more fits the hour, and then the day is spent.
    clock.advance(secs(3600));
    assert_eq!(
        served_by(&dispatch(&clock, &r, &speech(), DispatchOptions::default())),
        Some("free")
    );
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    assert_eq!(
        trail(&out)[0].1,
        AttemptResult::Skipped(SkipReason::DailyLimit)
    );
    assert_eq!(free.submits(), 3);
}

#[test]
fn calls_beyond_max_in_flight_go_elsewhere() {
    let clock = ManualClock::new();
    let narrow = Arc::new(
        ScriptedProvider::speech("narrow", clock.shared()).otherwise(Step::succeed_after(secs(1))),
    );
    let wide = Arc::new(ScriptedProvider::speech("wide", clock.shared()));
    let r = Router::builder(clock.shared())
        .endpoint(Endpoint::new(narrow).max_in_flight(1))
        .endpoint(Endpoint::new(wide).priority(1))
        .build()
        .unwrap();
    let req = speech();
    let (a, b) = clock
        .block_on(futures::future::join(
            r.dispatch(&req, DispatchOptions::default()),
            r.dispatch(&req, DispatchOptions::default()),
        ))
        .unwrap();
    assert_eq!(served_by(&a), Some("narrow"));
    assert_eq!(served_by(&b), Some("wide"));
    assert_eq!(
        trail(&b)[0].1,
        AttemptResult::Skipped(SkipReason::AtConcurrencyLimit)
    );
    assert_eq!(r.health()[0].in_flight, 0);
}

#[test]
fn health_reports_every_endpoint() {
    let clock = ManualClock::new();
    let a = Arc::new(
        ScriptedProvider::speech("a", clock.shared()).otherwise(Step::succeed_after(ms(300))),
    );
    let r = router(&clock, RouterConfig::default(), vec![a]);
    dispatch(&clock, &r, &speech(), DispatchOptions::default());
    let h = &r.health()[0];
    assert_eq!(h.endpoint.name(), "a@none");
    assert_eq!(h.breaker.calls, 1);
    assert_eq!(h.latency, Some(ms(300)));
    assert_eq!(h.usable_in, Some(std::time::Duration::ZERO));
    assert_eq!((h.cooldown, h.misconfigured, h.hourly), (None, None, None));
}
