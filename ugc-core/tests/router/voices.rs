//! Logical voices map to each provider's own voice, so a failover keeps the voice's character.

use std::sync::Arc;

use ugc_core::provider::ErrorClass;
use ugc_core::request::SpeechRequest;
use ugc_core::router::{AttemptResult, DispatchOptions, Endpoint, Router, SkipReason};
use ugc_core::testkit::{ScriptedProvider, Step};

use super::*;

fn voices_called(p: &ScriptedProvider) -> Vec<Option<String>> {
    p.calls().into_iter().map(|c| c.voice).collect()
}

#[test]
fn a_failover_keeps_the_logical_voice_in_each_providers_terms() {
    let clock = ManualClock::new();
    let openai = Arc::new(
        ScriptedProvider::speech("openai", clock.shared()).then(Step::fail(ErrorClass::Transient)),
    );
    let eleven = Arc::new(ScriptedProvider::speech("elevenlabs", clock.shared()));
    let r = Router::builder(clock.shared())
        .config(no_retries())
        .endpoint(Endpoint::new(openai.clone()).voice("narrator-female", "nova"))
        .endpoint(
            Endpoint::new(eleven.clone())
                .priority(1)
                .voice("narrator-female", "21m00Tcm4TlvDq8ikWAM"),
        )
        .build()
        .unwrap();
    let req = SpeechRequest::new("hello").voice("narrator-female").into();
    let out = dispatch(&clock, &r, &req, DispatchOptions::default());
    assert_eq!(served_by(&out), Some("elevenlabs"));
    assert_eq!(voices_called(&openai), [Some("nova".to_owned())]);
    assert_eq!(
        voices_called(&eleven),
        [Some("21m00Tcm4TlvDq8ikWAM".to_owned())]
    );
}

#[test]
fn an_endpoint_without_a_mapping_for_the_voice_is_skipped_with_the_reason() {
    let clock = ManualClock::new();
    let openai = Arc::new(ScriptedProvider::speech("openai", clock.shared()));
    let local = Arc::new(ScriptedProvider::speech("espeak", clock.shared()));
    let r = Router::builder(clock.shared())
        .endpoint(Endpoint::new(openai.clone()).voice("narrator-female", "nova"))
        .endpoint(
            Endpoint::new(local)
                .priority(1)
                .voice("narrator-male", "en-us"),
        )
        .build()
        .unwrap();
    let req = SpeechRequest::new("hello").voice("narrator-male").into();
    let out = dispatch(&clock, &r, &req, DispatchOptions::default());
    assert_eq!(served_by(&out), Some("espeak"));
    assert_eq!(
        trail(&out)[0],
        (
            "openai".into(),
            AttemptResult::Skipped(SkipReason::NoVoiceMapping)
        )
    );
    assert_eq!(openai.submits(), 0);
}

#[test]
fn unmapped_endpoints_pass_the_voice_through_and_defaults_apply_when_none_is_asked() {
    let clock = ManualClock::new();
    let p = Arc::new(ScriptedProvider::speech("openai", clock.shared()));
    let r = Router::builder(clock.shared())
        .endpoint(Endpoint::new(p.clone()).default_voice("alloy"))
        .build()
        .unwrap();
    dispatch(
        &clock,
        &r,
        &SpeechRequest::new("hi").voice("shimmer").into(),
        DispatchOptions::default(),
    );
    dispatch(
        &clock,
        &r,
        &SpeechRequest::new("hi").into(),
        DispatchOptions::default(),
    );
    assert_eq!(
        voices_called(&p),
        [Some("shimmer".to_owned()), Some("alloy".to_owned())]
    );
}
