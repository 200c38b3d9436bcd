//! The failover table of DESIGN section 4, row by row.

use std::sync::Arc;

use ugc_core::provider::{ErrorClass, ProviderError};
use ugc_core::router::{AttemptResult, DispatchOptions, Endpoint, Router, SkipReason, Strategy};
use ugc_core::testkit::{ScriptedProvider, Step};
use ugc_core::{Credential, ErrorKind};

use super::*;

fn primary_fails_with(class: ErrorClass, content_failover: bool) -> (Outcome, usize, usize) {
    let clock = ManualClock::new();
    let a = Arc::new(ScriptedProvider::speech("a", clock.shared()).otherwise(Step::fail(class)));
    let b = Arc::new(ScriptedProvider::speech("b", clock.shared()));
    let mut config = no_retries();
    config.content_rejected_fails_over = content_failover;
    let r = router(&clock, config, vec![a.clone(), b.clone()]);
    let out = dispatch(
        &clock,
        &r,
        &speech(),
        DispatchOptions::default().deadline(secs(5)),
    );
    (out, a.submits(), b.submits())
}

#[test]
fn fails_over_for_every_class_the_table_allows() {
    for class in [
        ErrorClass::RateLimited,
        ErrorClass::ConcurrencyLimited,
        ErrorClass::Transient,
        ErrorClass::QuotaExhausted,
        ErrorClass::Misconfigured,
    ] {
        let (out, a, b) = primary_fails_with(class, false);
        assert_eq!(served_by(&out), Some("b"), "{class}: {out:?}");
        assert_eq!((a, b), (1, 1), "{class}");
        assert_eq!(
            trail(&out)[0],
            ("a".into(), AttemptResult::Failed(class)),
            "{class}"
        );
    }
}

#[test]
fn never_fails_over_on_a_bad_request() {
    let (out, a, b) = primary_fails_with(ErrorClass::BadRequest, true);
    let Outcome::Failed { error, attempts } = out else {
        panic!("expected failure, got {out:?}")
    };
    assert_eq!(error.kind(), ErrorKind::UpstreamRejected);
    assert_eq!(error.provider(), Some("a"));
    assert_eq!((a, b), (1, 0));
    assert_eq!(attempts.len(), 1);
}

#[test]
fn content_rejection_fails_over_only_when_configured() {
    let (out, _, b) = primary_fails_with(ErrorClass::ContentRejected, false);
    assert!(
        matches!(&out, Outcome::Failed { error, .. } if error.kind() == ErrorKind::ContentRejected)
    );
    assert_eq!(b, 0);
    let (out, _, b) = primary_fails_with(ErrorClass::ContentRejected, true);
    assert_eq!(served_by(&out), Some("b"));
    assert_eq!(b, 1);
}

#[test]
fn unknown_acceptance_is_never_sent_to_a_second_provider() {
    let (out, a, b) = primary_fails_with(ErrorClass::AcceptanceUnknown, true);
    assert!(matches!(&out, Outcome::Failed { error, .. } if error.kind() == ErrorKind::Timeout));
    assert_eq!((a, b), (1, 0));
}

#[test]
fn transient_failure_is_retried_on_the_same_endpoint_with_backoff_first() {
    let clock = ManualClock::new();
    let a = Arc::new(
        ScriptedProvider::speech("a", clock.shared()).then(Step::fail(ErrorClass::Transient)),
    );
    let b = Arc::new(ScriptedProvider::speech("b", clock.shared()));
    let r = router(&clock, RouterConfig::default(), vec![a.clone(), b.clone()]);
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    assert_eq!(served_by(&out), Some("a"));
    assert_eq!(b.submits(), 0);
    let t = a.submit_times();
    let backoff = t[1] - t[0];
    assert!(
        backoff >= ms(100) && backoff <= ms(300),
        "first decorrelated delay in [base, 3 base]: {backoff:?}"
    );
}

#[test]
fn transient_failures_beyond_the_retries_fail_over() {
    let clock = ManualClock::new();
    let a = Arc::new(
        ScriptedProvider::speech("a", clock.shared()).otherwise(Step::fail(ErrorClass::Transient)),
    );
    let b = Arc::new(ScriptedProvider::speech("b", clock.shared()));
    let mut config = RouterConfig::default();
    config.max_retries = 2;
    let r = router(&clock, config, vec![a.clone(), b.clone()]);
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    assert_eq!(served_by(&out), Some("b"));
    assert_eq!(a.submits(), 3);
}

#[test]
fn every_endpoint_failing_ends_with_all_providers_unavailable_and_the_cause() {
    let clock = ManualClock::new();
    let a = Arc::new(
        ScriptedProvider::speech("a", clock.shared()).otherwise(Step::fail(ErrorClass::Transient)),
    );
    let b = Arc::new(
        ScriptedProvider::speech("b", clock.shared())
            .otherwise(Step::fail(ErrorClass::Misconfigured)),
    );
    let r = router(&clock, no_retries(), vec![a, b]);
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    let Outcome::Failed { error, attempts } = out else {
        panic!("expected failure")
    };
    assert_eq!(error.kind(), ErrorKind::AllProvidersUnavailable);
    assert!(std::error::Error::source(&error).is_some());
    assert_eq!(attempts.len(), 2);
}

#[test]
fn a_misconfigured_endpoint_is_left_out_of_later_requests() {
    let clock = ManualClock::new();
    let a = Arc::new(
        ScriptedProvider::speech("a", clock.shared()).then(Step::fail(ErrorClass::Misconfigured)),
    );
    let b = Arc::new(ScriptedProvider::speech("b", clock.shared()));
    let r = router(&clock, no_retries(), vec![a.clone(), b.clone()]);
    dispatch(&clock, &r, &speech(), DispatchOptions::default());
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    assert_eq!(
        trail(&out)[0],
        (
            "a".into(),
            AttemptResult::Skipped(SkipReason::Misconfigured)
        )
    );
    assert_eq!(a.submits(), 1);
    let health = r.health();
    assert_eq!(health[0].misconfigured, Some(secs(3600)));
    assert_eq!(health[1].misconfigured, None);
}

#[test]
fn cooldown_is_kept_per_provider_and_credential() {
    let clock = ManualClock::new();
    let shared = Arc::new(
        ScriptedProvider::speech("openai", clock.shared()).then(Step::rate_limited(secs(20))),
    );
    let provider: Arc<dyn ugc_core::Provider> = shared.clone();
    let r = Router::builder(clock.shared())
        .endpoint(
            Endpoint::new(provider.clone())
                .credential(Credential::new("alice", "sk-alice"))
                .priority(0),
        )
        .endpoint(
            Endpoint::new(provider)
                .credential(Credential::new("bob", "sk-bob"))
                .priority(1),
        )
        .build()
        .unwrap();
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    assert_eq!(
        out.attempts().last().map(|a| a.endpoint.credential()),
        Some("bob")
    );
    let creds: Vec<_> = shared.calls().into_iter().map(|c| c.credential).collect();
    assert_eq!(creds, [Some("alice".to_owned()), Some("bob".to_owned())]);
    let health = r.health();
    assert_eq!(health[0].cooldown, Some(secs(20)), "alice's key cools down");
    assert_eq!(health[1].cooldown, None, "bob's key does not");
}

#[test]
fn endpoints_of_one_key_share_the_cooldown_across_models() {
    let clock = ManualClock::new();
    let p = Arc::new(
        ScriptedProvider::speech("openai", clock.shared()).then(Step::rate_limited(secs(9))),
    );
    let fallback = Arc::new(ScriptedProvider::speech("local", clock.shared()));
    let provider: Arc<dyn ugc_core::Provider> = p.clone();
    let r = Router::builder(clock.shared())
        .endpoint(Endpoint::new(provider.clone()).model("tts-1").priority(0))
        .endpoint(Endpoint::new(provider).model("tts-1-hd").priority(1))
        .endpoint(Endpoint::new(fallback).priority(2))
        .build()
        .unwrap();
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    assert_eq!(served_by(&out), Some("local"));
    assert_eq!(
        p.submits(),
        1,
        "the second model of the cooled-down key is skipped"
    );
    assert_eq!(
        trail(&out)[1].1,
        AttemptResult::Skipped(SkipReason::CoolingDown)
    );
}

#[test]
fn lowest_cost_prefers_the_cheaper_endpoint_whatever_its_priority() {
    let clock = ManualClock::new();
    let dear = Arc::new(ScriptedProvider::speech("dear", clock.shared()).cost_micros(5_000));
    let cheap = Arc::new(ScriptedProvider::speech("cheap", clock.shared()).cost_micros(100));
    let r = Router::builder(clock.shared())
        .strategy(Strategy::LowestCost)
        .endpoint(Endpoint::new(dear).priority(0))
        .endpoint(Endpoint::new(cheap).priority(9))
        .build()
        .unwrap();
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    assert_eq!(served_by(&out), Some("cheap"));
    let Outcome::Done { estimate, .. } = out else {
        unreachable!()
    };
    assert_eq!(estimate.cost_micros, 100);
}

#[test]
fn endpoints_over_the_budget_are_skipped_and_none_left_is_a_quota_error() {
    let clock = ManualClock::new();
    let dear = Arc::new(ScriptedProvider::speech("dear", clock.shared()).cost_micros(5_000));
    let cheap = Arc::new(ScriptedProvider::speech("cheap", clock.shared()).cost_micros(100));
    let r = router(&clock, RouterConfig::default(), vec![dear.clone(), cheap]);
    let out = dispatch(
        &clock,
        &r,
        &speech(),
        DispatchOptions::default().budget_micros(1_000),
    );
    assert_eq!(served_by(&out), Some("cheap"));
    assert_eq!(
        trail(&out)[0],
        (
            "dear".into(),
            AttemptResult::Skipped(SkipReason::OverBudget)
        )
    );
    let out = dispatch(
        &clock,
        &r,
        &speech(),
        DispatchOptions::default().budget_micros(50),
    );
    assert!(
        matches!(&out, Outcome::Failed { error, .. } if error.kind() == ErrorKind::QuotaExceeded)
    );
    assert_eq!(dear.submits(), 0);
}

#[test]
fn a_pinned_model_only_goes_to_endpoints_of_that_model() {
    let clock = ManualClock::new();
    let p: Arc<dyn ugc_core::Provider> =
        Arc::new(ScriptedProvider::speech("openai", clock.shared()));
    let r = Router::builder(clock.shared())
        .endpoint(Endpoint::new(p.clone()).model("tts-1"))
        .endpoint(Endpoint::new(p).model("tts-1-hd").priority(1))
        .build()
        .unwrap();
    let req = ugc_core::request::SpeechRequest::new("hi")
        .model("tts-1-hd")
        .into();
    let out = dispatch(&clock, &r, &req, DispatchOptions::default());
    let Outcome::Done { endpoint, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(endpoint.model(), Some("tts-1-hd"));
    let req = ugc_core::request::SpeechRequest::new("hi")
        .model("nope")
        .into();
    let out = dispatch(&clock, &r, &req, DispatchOptions::default());
    assert!(
        matches!(&out, Outcome::Failed { error, .. } if error.kind() == ErrorKind::InvalidInput)
    );
}

#[test]
fn a_request_no_endpoint_serves_is_a_configuration_error() {
    let clock = ManualClock::new();
    let a = Arc::new(ScriptedProvider::speech("a", clock.shared()));
    let r = router(&clock, RouterConfig::default(), vec![a]);
    let out = dispatch(&clock, &r, &video(), DispatchOptions::default());
    assert!(matches!(&out, Outcome::Failed { error, .. } if error.kind() == ErrorKind::Config));
}

#[test]
fn the_same_endpoint_twice_is_refused_at_build() {
    let clock = ManualClock::new();
    let p: Arc<dyn ugc_core::Provider> = Arc::new(ScriptedProvider::speech("a", clock.shared()));
    let err = Router::builder(clock.shared())
        .endpoint(Endpoint::new(p.clone()))
        .endpoint(Endpoint::new(p))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[test]
fn provider_messages_are_kept_in_the_trail_and_the_error() {
    let clock = ManualClock::new();
    let a = Arc::new(
        ScriptedProvider::speech("a", clock.shared())
            .then(Step::error(ProviderError::bad_request("voice_not_found"))),
    );
    let r = router(&clock, RouterConfig::default(), vec![a]);
    let out = dispatch(&clock, &r, &speech(), DispatchOptions::default());
    assert_eq!(
        out.attempts()[0].message.as_deref(),
        Some("voice_not_found")
    );
    let err = out.into_result().unwrap_err();
    assert!(err.to_string().contains("voice_not_found"), "{err}");
    assert_eq!(err.attempts().len(), 1);
}
