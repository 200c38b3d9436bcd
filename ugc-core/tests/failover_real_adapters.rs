//! Failover across real adapters: OpenAI's emulator rate-limits, ElevenLabs' emulator is
//! busy, and the local espeak-ng engine serves. The trail says so, step by step.

mod support;

use std::sync::Arc;
use std::time::Duration;

use ugc_core::provider::ErrorClass;
use ugc_core::providers::elevenlabs::{ElevenLabs, ElevenLabsConfig};
use ugc_core::providers::local::LocalEngine;
use ugc_core::providers::openai::{OpenAi, OpenAiConfig};
use ugc_core::request::SpeechRequest;
use ugc_core::router::{AttemptResult, DispatchOptions, Endpoint, Outcome, Router};
use ugc_core::testkit::emulator::{Fault, elevenlabs, openai};
use ugc_core::{Credential, MediaBody};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_rate_limited_then_elevenlabs_busy_then_local_espeak_serves() {
    support::capture_logs();
    let clock = ugc_core::clock::system();
    let openai_emu = openai::start().await.unwrap();
    let eleven_emu = elevenlabs::start().await.unwrap();
    openai_emu.push_fault(Fault::RateLimited {
        retry_after: Some("30".into()),
    });
    eleven_emu.push_fault(Fault::Status {
        status: 429,
        body: serde_json::json!({"detail": {"type": "rate_limit_error", "code": "system_busy",
            "message": "The system is busy, try again later", "status": "system_busy"}}),
    });

    let openai_key = Credential::new("operator", openai::EMULATOR_KEY);
    let eleven_key = Credential::new("operator", elevenlabs::EMULATOR_KEY);
    let openai = OpenAi::new(
        OpenAiConfig::new(openai_key).base_url(openai_emu.base_url()),
        clock.clone(),
    )
    .unwrap();
    let eleven = ElevenLabs::new(
        ElevenLabsConfig::new(eleven_key).base_url(eleven_emu.base_url()),
        clock.clone(),
    )
    .unwrap();
    let local = LocalEngine::discover(clock.clone())
        .expect("espeak-ng is installed (scripts/test-all installs it)");

    let router = Router::builder(clock)
        .endpoint(
            Endpoint::new(Arc::new(openai))
                .model("tts-1")
                .priority(0)
                .voice("narrator", "nova"),
        )
        .endpoint(
            Endpoint::new(Arc::new(eleven))
                .priority(1)
                .voice("narrator", "21m00Tcm4TlvDq8ikWAM"),
        )
        .endpoint(
            Endpoint::new(Arc::new(local))
                .priority(2)
                .voice("narrator", "en-us"),
        )
        .build()
        .unwrap();

    let request = SpeechRequest::new("The local engine ends every route.")
        .voice("narrator")
        .into();
    let outcome = router
        .dispatch(
            &request,
            DispatchOptions::default().deadline(Duration::from_secs(20)),
        )
        .await;

    let trail: Vec<(String, AttemptResult)> = outcome
        .attempts()
        .iter()
        .map(|a| (a.endpoint.provider().to_owned(), a.result.clone()))
        .collect();
    assert_eq!(
        trail,
        [
            (
                "openai".to_owned(),
                AttemptResult::Failed(ErrorClass::RateLimited)
            ),
            (
                "elevenlabs".to_owned(),
                AttemptResult::Failed(ErrorClass::RateLimited)
            ),
            ("espeak".to_owned(), AttemptResult::Succeeded),
        ],
        "{outcome:#?}"
    );
    let openai_wait = outcome.attempts()[0].retry_after.unwrap();
    assert!(
        openai_wait > Duration::from_secs(29) && openai_wait <= Duration::from_secs(30),
        "{openai_wait:?}"
    );
    let Outcome::Done {
        media, endpoint, ..
    } = &outcome
    else {
        unreachable!()
    };
    assert_eq!(endpoint.name(), "espeak@none");
    assert_eq!(media.mime, "audio/wav");
    let MediaBody::Bytes(wav) = &media.body else {
        panic!("local audio is in memory")
    };
    assert_eq!((&wav[..4], &wav[8..12]), (&b"RIFF"[..], &b"WAVE"[..]));
    assert!(
        media
            .duration
            .is_some_and(|d| d > Duration::from_millis(500))
    );

    // Both hosted endpoints cool down; the next request goes straight to the local engine.
    let health = router.health();
    assert!(
        health[0].cooldown.is_some() && health[1].cooldown.is_some(),
        "{health:#?}"
    );
    let next = router.dispatch(&request, DispatchOptions::default()).await;
    assert_eq!(
        next.attempts().last().map(|a| a.endpoint.provider()),
        Some("espeak")
    );
    assert_eq!(
        openai_emu.requests().len() + eleven_emu.requests().len(),
        2,
        "cooled-down endpoints were not called"
    );

    let shown = format!("{outcome:?} {outcome:#?} {next:?} {health:?} {router:?}");
    let logs = support::captured_logs();
    for key in [openai::EMULATOR_KEY, elevenlabs::EMULATOR_KEY] {
        support::assert_no_secret("outcome and health", &shown, key);
        support::assert_no_secret("logs", &logs, key);
    }
    assert!(!logs.contains("ends every route"), "user text was logged");
}
