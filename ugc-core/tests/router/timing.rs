//! Time: Retry-After, cooldowns, deferral, min_wait and deadlines, all in virtual time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use ugc_core::ErrorKind;
use ugc_core::breaker::{BreakerConfig, SlidingWindow};
use ugc_core::clock::Clock;
use ugc_core::provider::ErrorClass;
use ugc_core::router::{DispatchOptions, Endpoint, Router};
use ugc_core::testkit::{ScriptedProvider, Step};

use super::*;

#[test]
fn retry_after_in_seconds_is_honoured_to_the_millisecond() {
    let clock = ManualClock::new();
    let a =
        Arc::new(ScriptedProvider::speech("a", clock.shared()).then(Step::rate_limited(ms(1234))));
    let r = router(&clock, RouterConfig::default(), vec![a.clone()]);
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    assert_eq!(served_by(&out), Some("a"));
    let t = a.submit_times();
    assert_eq!(t[1] - t[0], ms(1234));
    assert_eq!(out.attempts()[0].retry_after, Some(ms(1234)));
}

#[test]
fn retry_after_as_an_http_date_is_honoured() {
    let clock = ManualClock::new();
    // HTTP dates have whole seconds: start on a whole second so the wait is exact.
    let since_epoch = clock.wall().duration_since(SystemTime::UNIX_EPOCH).unwrap();
    clock.advance(
        Duration::from_secs(1) - Duration::from_nanos(u64::from(since_epoch.subsec_nanos())),
    );
    let at = clock.wall() + secs(3);
    let a =
        Arc::new(ScriptedProvider::speech("a", clock.shared()).then(Step::rate_limited_until(at)));
    let r = router(&clock, RouterConfig::default(), vec![a.clone()]);
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    assert_eq!(served_by(&out), Some("a"));
    let t = a.submit_times();
    assert_eq!(t[1] - t[0], secs(3));
}

#[test]
fn a_429_without_retry_after_cools_down_for_the_default() {
    let clock = ManualClock::new();
    let a = Arc::new(
        ScriptedProvider::speech("a", clock.shared())
            .then(Step::rate_limited_without_retry_after()),
    );
    let r = router(&clock, RouterConfig::default(), vec![a.clone()]);
    dispatch(&clock, &r, &speech(), DispatchOptions::default());
    let t = a.submit_times();
    assert_eq!(t[1] - t[0], RouterConfig::default().default_cooldown);
}

#[test]
fn a_concurrency_limit_waits_for_a_slot_then_retries() {
    let clock = ManualClock::new();
    let a = Arc::new(
        ScriptedProvider::speech("a", clock.shared())
            .then(Step::fail(ErrorClass::ConcurrencyLimited)),
    );
    let r = router(&clock, RouterConfig::default(), vec![a.clone()]);
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    assert_eq!(served_by(&out), Some("a"));
    let t = a.submit_times();
    assert_eq!(t[1] - t[0], ms(250));
}

#[test]
fn a_wait_past_the_deadline_defers_with_the_exact_eta() {
    let clock = ManualClock::new();
    let a =
        Arc::new(ScriptedProvider::speech("a", clock.shared()).then(Step::rate_limited(secs(30))));
    let b =
        Arc::new(ScriptedProvider::speech("b", clock.shared()).then(Step::rate_limited(secs(45))));
    let r = router(&clock, RouterConfig::default(), vec![a, b]);
    let out = dispatch(
        &clock,
        &r,
        &speech(),
        DispatchOptions::default().deadline(secs(10)),
    );
    let Outcome::Deferred { eta, attempts } = out else {
        panic!("expected deferral")
    };
    assert_eq!(eta, secs(30));
    assert_eq!(attempts.len(), 2);
    assert_eq!(r.min_wait(), Some(secs(30)));
    let err = Outcome::Deferred { eta, attempts }
        .into_result()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AllProvidersUnavailable);
    assert_eq!(err.retry_after(), Some(secs(30)));
}

/// A flaky endpoint whose breaker opens for `breaker_wait` on its first failure, then one
/// that answers 429 with Retry-After 7 s; a 1 s dispatch over them has been run.
fn flaky_then_busy(clock: &ManualClock, breaker_wait: Duration) -> (Router, Outcome) {
    let flaky = Arc::new(
        ScriptedProvider::speech("flaky", clock.shared())
            .otherwise(Step::fail(ErrorClass::Transient)),
    );
    let busy = Arc::new(
        ScriptedProvider::speech("busy", clock.shared()).then(Step::rate_limited(secs(7))),
    );
    let breaker = BreakerConfig {
        window: SlidingWindow::Count(1),
        minimum_calls: 1,
        wait_in_open: breaker_wait,
        ..BreakerConfig::default()
    };
    let r = Router::builder(clock.shared())
        .config(no_retries())
        .endpoint(Endpoint::new(flaky).breaker(breaker))
        .endpoint(Endpoint::new(busy).priority(1))
        .build()
        .unwrap();
    let out = dispatch(
        clock,
        &r,
        &speech(),
        DispatchOptions::default().deadline(secs(1)),
    );
    (r, out)
}

#[test]
fn min_wait_is_the_earliest_cooldown_or_breaker_reopening() {
    let clock = ManualClock::new();
    let (r, out) = flaky_then_busy(&clock, secs(5));
    assert!(
        matches!(out, Outcome::Deferred { eta, .. } if eta == secs(5)),
        "{out:?}"
    );
    assert_eq!(r.min_wait(), Some(secs(5)), "the breaker reopens first");
    clock.advance(secs(2));
    assert_eq!(r.min_wait(), Some(secs(3)));
    clock.advance(secs(3));
    assert_eq!(
        r.min_wait(),
        Some(Duration::ZERO),
        "half-open admits a trial call"
    );
    let health = r.health();
    assert_eq!(health[0].usable_in, Some(Duration::ZERO));
    assert_eq!(health[1].usable_in, Some(secs(2)));
}

#[test]
fn min_wait_is_the_cooldown_when_it_ends_before_the_breaker() {
    let clock = ManualClock::new();
    let (r, _) = flaky_then_busy(&clock, secs(60));
    assert_eq!(r.min_wait(), Some(secs(7)));
    assert_eq!(
        r.min_wait_for(ugc_core::request::MediaKind::Video),
        None,
        "nothing serves video"
    );
}

#[test]
fn a_deferred_request_is_served_once_the_clock_passes_its_eta() {
    let clock = ManualClock::new();
    let a =
        Arc::new(ScriptedProvider::speech("a", clock.shared()).then(Step::rate_limited(secs(30))));
    let r = router(&clock, RouterConfig::default(), vec![a]);
    let out = dispatch(
        &clock,
        &r,
        &speech(),
        DispatchOptions::default().deadline(secs(1)),
    );
    let Outcome::Deferred { eta, .. } = out else {
        panic!("expected deferral")
    };
    clock.advance(eta);
    let out = dispatch(
        &clock,
        &r,
        &speech(),
        DispatchOptions::default().deadline(secs(1)),
    );
    assert_eq!(served_by(&out), Some("a"));
}

#[test]
fn an_attempt_longer_than_its_timeout_is_cut_and_fails_over() {
    let clock = ManualClock::new();
    let slow = Arc::new(ScriptedProvider::speech("slow", clock.shared()).then(Step::hang()));
    let b = Arc::new(ScriptedProvider::speech("b", clock.shared()));
    let r = Router::builder(clock.shared())
        .config(no_retries())
        .endpoint(Endpoint::new(slow).attempt_timeout(secs(4)))
        .endpoint(Endpoint::new(b).priority(1))
        .build()
        .unwrap();
    let start = clock.now();
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    assert_eq!(served_by(&out), Some("b"));
    assert_eq!(out.attempts()[0].latency, secs(4));
    assert_eq!(clock.now() - start, secs(4));
}

/// Everything any test of this binary logs. A global subscriber, because tracing caches
/// per-callsite interest process-wide and a thread-local one can miss events.
fn captured_logs() -> &'static std::sync::Mutex<Vec<u8>> {
    use std::io::Write;
    use std::sync::{Mutex, OnceLock};

    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    struct Sink(&'static Mutex<Vec<u8>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    LOGS.get_or_init(|| {
        let logs: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || Sink(logs))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}

#[test]
fn events_name_the_endpoint_and_never_the_text_or_the_key() {
    let logs = captured_logs();
    let clock = ManualClock::new();
    let a = Arc::new(
        ScriptedProvider::speech("openai", clock.shared()).then(Step::rate_limited(secs(2))),
    );
    let provider: Arc<dyn ugc_core::Provider> = a;
    let r = Router::builder(clock.shared())
        .endpoint(
            Endpoint::new(provider)
                .credential(ugc_core::Credential::new("operator", "sk-SECRET-VALUE")),
        )
        .build()
        .unwrap();
    let req = ugc_core::request::SpeechRequest::new("my private words").into();
    let out = dispatch(&clock, &r, &req, DispatchOptions::default());
    let shown = format!("{out:?} {out:#?} {:?} {:?}", r.health(), r);
    assert!(
        !shown.contains("SECRET") && !shown.contains("private"),
        "{shown}"
    );
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("openai@operator"))
        .collect();
    assert!(ours.iter().any(|l| l.contains("rate_limited")), "{logs}");
    assert!(
        !logs.contains("SECRET") && !logs.contains("private"),
        "{logs}"
    );
}

fn step_strategy() -> impl Strategy<Value = Step> {
    let class = prop::sample::select(ErrorClass::ALL.to_vec());
    prop_oneof![
        (0u64..20_000).prop_map(|l| Step::succeed_after(ms(l))),
        (class, 0u64..20_000).prop_map(|(c, l)| Step::fail_after(c, ms(l))),
        (0u64..90_000).prop_map(|r| Step::rate_limited(ms(r))),
        Just(Step::rate_limited_without_retry_after()),
        Just(Step::hang()),
        (0u32..20).prop_map(Step::job),
        (0u32..20, prop::sample::select(ErrorClass::ALL.to_vec()))
            .prop_map(|(p, c)| Step::job_failing(p, c)),
        Just(Step::job_never_finishing()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_outcome_takes_longer_than_its_deadline(
        scripts in prop::collection::vec(prop::collection::vec(step_strategy(), 0..6), 1..4),
        deadline_ms in 1u64..120_000,
        timeout_ms in 1u64..40_000,
        async_jobs in any::<bool>(),
        retries in 0u32..3,
    ) {
        let clock = ManualClock::new();
        let mut config = RouterConfig::default();
        config.max_retries = retries;
        config.attempt_timeout = ms(timeout_ms);
        let mut builder = Router::builder(clock.shared()).config(config);
        for (i, script) in scripts.into_iter().enumerate() {
            let id = format!("p{i}");
            let mut p = if async_jobs {
                ScriptedProvider::new(id, ugc_core::provider::Capabilities::jobs([ugc_core::request::MediaKind::Speech]), clock.shared())
            } else {
                ScriptedProvider::speech(id, clock.shared())
            };
            for step in script {
                p = p.then(step);
            }
            builder = builder.endpoint(Endpoint::new(Arc::new(p)).priority(i as u32));
        }
        let r = builder.build().unwrap();
        let start = clock.now();
        let out = clock.block_on(r.dispatch(&speech(), DispatchOptions::default().deadline(ms(deadline_ms)))).unwrap();
        let took = clock.now() - start;
        prop_assert!(took <= ms(deadline_ms), "took {took:?} > {deadline_ms} ms: {out:?}");
        for a in out.attempts() {
            prop_assert!(a.at + a.latency <= ms(deadline_ms));
        }
    }
}
