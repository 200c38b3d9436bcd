//! Contract tests of the ElevenLabs adapter against its loopback emulator: the fault matrix,
//! the three error shapes, billing from `character-cost`, the router's reaction, and secret
//! hygiene.

#![cfg(feature = "elevenlabs")]
// Test helpers outside #[test] functions state expectations the same way the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ugc_core::provider::{CallContext, ErrorClass, Provider, ProviderError, Submission};
use ugc_core::providers::elevenlabs::{ElevenLabs, ElevenLabsConfig};
use ugc_core::request::{AudioFormat, Request, SpeechRequest};
use ugc_core::router::{AttemptResult, DispatchOptions, Outcome, Router, RouterConfig};
use ugc_core::testkit::emulator::elevenlabs::{self as emu, EMULATOR_KEY};
use ugc_core::testkit::emulator::{Emulator, Fault};
use ugc_core::{Credential, Media};

const TEXT: &str = "Hello from the contract tests";

fn config(emulator: &Emulator) -> ElevenLabsConfig {
    let mut config = ElevenLabsConfig::new(Credential::new("operator", EMULATOR_KEY))
        .base_url(emulator.base_url());
    config.http = config
        .http
        .timeout(Duration::from_secs(2))
        .max_download_bytes(1 << 20);
    config
}

fn adapter(emulator: &Emulator) -> ElevenLabs {
    ElevenLabs::new(config(emulator), ugc_core::clock::system()).unwrap()
}

fn ctx() -> CallContext {
    CallContext::new(Instant::now() + Duration::from_secs(10))
}

fn speech() -> Request {
    SpeechRequest::new(TEXT).into()
}

async fn submit_with(
    eleven: &ElevenLabs,
    request: &Request,
    ctx: &CallContext,
) -> Result<Media, ProviderError> {
    match eleven.submit(request, ctx).await {
        Ok(Submission::Ready(media)) => Ok(media),
        Ok(Submission::Pending(job)) => panic!("elevenlabs answered with a job: {job:?}"),
        Err(e) => {
            support::assert_error_clean(&e, EMULATOR_KEY);
            Err(e)
        }
    }
}

async fn submit(eleven: &ElevenLabs, request: &Request) -> Result<Media, ProviderError> {
    submit_with(eleven, request, &ctx()).await
}

async fn fail_with(fault: Fault) -> ProviderError {
    let emulator = emu::start().await.unwrap();
    emulator.push_fault(fault);
    let error = submit(&adapter(&emulator), &speech()).await.unwrap_err();
    logs_clean();
    error
}

fn status(status: u16, body: serde_json::Value) -> Fault {
    Fault::Status { status, body }
}

/// The current error shape.
fn current(code: &str) -> serde_json::Value {
    serde_json::json!({"detail": {"type": "error", "code": code, "message": format!("{code} happened"), "status": code, "request_id": "req_1"}})
}

/// The older error shape.
fn older(code: &str) -> serde_json::Value {
    serde_json::json!({"detail": {"status": code, "message": format!("{code} happened")}})
}

fn logs_clean() {
    support::assert_no_secret("logs", &support::captured_logs(), EMULATOR_KEY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_returns_mp3_billed_by_character_cost_with_the_key_only_in_the_header() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    let eleven = adapter(&emulator);
    let media = submit(&eleven, &speech()).await.unwrap();
    assert_eq!(media.mime, "audio/mpeg");
    assert_eq!(
        (
            support::media_bytes(&media)[0],
            support::media_bytes(&media)[1] & 0xE0
        ),
        (0xFF, 0xE0)
    );
    let billed = media.billed.unwrap();
    let chars = TEXT.chars().count() as u64;
    assert_eq!((billed.requests, billed.characters), (1, chars));
    // $0.10 per 1,000 characters.
    assert_eq!(billed.cost_micros, chars * 100);

    let requests = emulator.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM")
    );
    assert_eq!(r.query.as_deref(), Some("output_format=mp3_44100_128"));
    assert_eq!(r.header("xi-api-key"), Some(EMULATOR_KEY));
    let url = format!("{}?{}", r.path, r.query.clone().unwrap_or_default());
    assert!(
        !url.contains(EMULATOR_KEY) && !url.contains("Hello"),
        "{url}"
    );
    let body = String::from_utf8_lossy(&r.body);
    assert!(
        body.contains(TEXT) && !body.contains(EMULATOR_KEY),
        "{body}"
    );
    for (name, value) in &r.headers {
        if name != "xi-api-key" {
            assert!(
                !value.contains(EMULATOR_KEY),
                "header {name} carries the key"
            );
            assert!(!value.contains("Hello"), "header {name} carries the text");
        }
    }
    let sent: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(sent["model_id"], "eleven_multilingual_v2");
    assert!(sent.get("voice_settings").is_none());
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_voice_language_speed_and_formats_are_sent_as_documented() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    let eleven = adapter(&emulator);
    let ctx = ctx()
        .with_model("eleven_flash_v2_5")
        .with_voice("EXAVITQu4vr4xnSDxMaL");
    let request = SpeechRequest::new(TEXT)
        .language("de-DE")
        .speed(3.0)
        .format(AudioFormat::Wav)
        .into();
    let media = submit_with(&eleven, &request, &ctx).await.unwrap();
    assert_eq!(media.mime, "audio/wav");
    assert!(
        support::media_bytes(&media).starts_with(b"RIFF")
            && &support::media_bytes(&media)[8..12] == b"WAVE"
    );
    assert_eq!(media.duration, Some(Duration::from_millis(250)));
    // Flash is billed at $0.05 per 1,000 characters.
    assert_eq!(
        media.billed.unwrap().cost_micros,
        TEXT.chars().count() as u64 * 50
    );
    let r = emulator.requests().pop().unwrap();
    assert_eq!(r.path, "/v1/text-to-speech/EXAVITQu4vr4xnSDxMaL");
    assert_eq!(r.query.as_deref(), Some("output_format=pcm_16000"));
    let sent: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(sent["model_id"], "eleven_flash_v2_5");
    assert_eq!(sent["language_code"], "de");
    assert_eq!(sent["voice_settings"]["speed"], 1.2);

    let request = SpeechRequest::new(TEXT).format(AudioFormat::Pcm).into();
    let media = submit(&eleven, &request).await.unwrap();
    assert_eq!(media.mime, "audio/L16");
    let request = SpeechRequest::new(TEXT).format(AudioFormat::Flac).into();
    let media = submit(&eleven, &request).await.unwrap();
    assert_eq!(media.mime, "audio/mpeg", "FLAC is served as MP3");
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_over_the_model_limit_is_refused_before_sending() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    let eleven = adapter(&emulator);
    for (model, max) in [
        ("eleven_v3", 5_000),
        ("eleven_multilingual_v2", 10_000),
        ("eleven_flash_v2_5", 40_000),
    ] {
        let request = SpeechRequest::new("é".repeat(max + 1)).into();
        let e = submit_with(&eleven, &request, &ctx().with_model(model))
            .await
            .unwrap_err();
        assert_eq!(e.class(), ErrorClass::BadRequest, "{model}");
    }
    assert!(emulator.requests().is_empty());
    let request = SpeechRequest::new("é".repeat(5_000)).into();
    submit_with(&eleven, &request, &ctx().with_model("eleven_v3"))
        .await
        .unwrap();
    // A voice that is no voice id never reaches the URL.
    let e = submit_with(&eleven, &speech(), &ctx().with_voice("../v1/user"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::BadRequest);
    assert_eq!(emulator.requests().len(), 1);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_with_retry_after_in_seconds() {
    support::capture_logs();
    let e = fail_with(Fault::RateLimited {
        retry_after: Some("7".into()),
    })
    .await;
    assert_eq!(
        (e.class(), e.retry_after(), e.status()),
        (
            ErrorClass::RateLimited,
            Some(Duration::from_secs(7)),
            Some(429)
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_with_retry_after_as_an_http_date() {
    support::capture_logs();
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
    let e = fail_with(Fault::RateLimited {
        retry_after: Some(at),
    })
    .await;
    assert_eq!(e.class(), ErrorClass::RateLimited);
    let wait = e.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(27) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_without_retry_after_leaves_the_wait_to_the_router() {
    support::capture_logs();
    let e = fail_with(Fault::RateLimited { retry_after: None }).await;
    assert_eq!(
        (e.class(), e.retry_after()),
        (ErrorClass::RateLimited, None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_two_kinds_of_429_are_told_apart_in_both_shapes() {
    support::capture_logs();
    for shape in [current, older] {
        for code in ["too_many_concurrent_requests", "concurrent_limit_exceeded"] {
            let e = fail_with(status(429, shape(code))).await;
            assert_eq!(
                (e.class(), e.status()),
                (ErrorClass::ConcurrencyLimited, Some(429)),
                "{code}"
            );
        }
        for code in ["system_busy", "rate_limit_exceeded"] {
            let e = fail_with(status(429, shape(code))).await;
            assert_eq!(e.class(), ErrorClass::RateLimited, "{code}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_401_and_400_codes_map_to_their_classes() {
    support::capture_logs();
    let cases = [
        (401, "invalid_api_key", ErrorClass::Misconfigured),
        (401, "quota_exceeded", ErrorClass::QuotaExhausted),
        (400, "voice_not_found", ErrorClass::BadRequest),
        (400, "max_character_limit_exceeded", ErrorClass::BadRequest),
        (402, "payment_required", ErrorClass::QuotaExhausted),
    ];
    for shape in [current, older] {
        for (code_status, code, class) in cases {
            let e = fail_with(status(code_status, shape(code))).await;
            assert_eq!(
                (e.class(), e.status(), e.retry_after()),
                (class, Some(code_status), None),
                "{code}"
            );
        }
    }
    let fastapi = serde_json::json!({"detail": [{"loc": ["body", "text"], "msg": "field required", "type": "value_error.missing"}]});
    let e = fail_with(status(422, fastapi)).await;
    assert_eq!(e.class(), ErrorClass::BadRequest);
    assert!(e.message().contains("body.text"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_validates_like_the_provider() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    let eleven = adapter(&emulator);
    let e = submit_with(&eleven, &speech(), &ctx().with_voice("NoSuchVoice123"))
        .await
        .unwrap_err();
    assert_eq!((e.class(), e.status()), (ErrorClass::BadRequest, Some(400)));
    assert!(e.message().contains("voice_not_found"), "{}", e.message());
    let e = submit_with(&eleven, &speech(), &ctx().with_model("eleven_v9"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Misconfigured);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_misconfigured_and_never_echoed() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    let eleven = adapter(&emulator);
    let wrong = "sk-wrong-key-0123456789";
    let ctx = ctx().with_credential(Credential::new("user:7", wrong));
    let e = eleven.submit(&speech(), &ctx).await.unwrap_err();
    support::assert_error_clean(&e, wrong);
    assert_eq!(
        (e.class(), e.status()),
        (ErrorClass::Misconfigured, Some(401))
    );
    assert!(e.message().contains("[redacted]"), "{}", e.message());
    let e = eleven
        .validate_credentials(&Credential::new("user:7", wrong))
        .await
        .unwrap_err();
    support::assert_error_clean(&e, wrong);
    assert_eq!(e.class(), ErrorClass::Misconfigured);
    eleven
        .validate_credentials(&Credential::new("op", EMULATOR_KEY))
        .await
        .unwrap();
    assert_eq!(emulator.requests().last().unwrap().path, "/v1/user");
    support::assert_no_secret("logs", &support::captured_logs(), wrong);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_transient() {
    support::capture_logs();
    for code in [500, 502, 503] {
        let e = fail_with(Fault::ServerError(code)).await;
        assert_eq!((e.class(), e.status()), (ErrorClass::Transient, Some(code)));
    }
    let e = fail_with(Fault::Loading {
        estimated_time: 3.0,
    })
    .await;
    assert_eq!(e.class(), ErrorClass::Transient);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_answer_times_out_as_transient() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    emulator.push_fault(Fault::Hang);
    let mut config = config(&emulator);
    config.http = config.http.timeout(Duration::from_millis(300));
    let eleven = ElevenLabs::new(config, ugc_core::clock::system()).unwrap();
    let e = submit(&eleven, &speech()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Transient);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_within_the_timeout_succeeds() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    emulator.push_fault(Fault::SlowBody {
        delay: Duration::from_millis(60),
        chunks: 4,
    });
    let media = submit(&adapter(&emulator), &speech()).await.unwrap();
    assert_eq!(media.mime, "audio/mpeg");
    assert_eq!(media.len(), Some(ugc_core::testkit::mp3_frame().len()));
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_aborted_while_streaming() {
    support::capture_logs();
    for declared in [true, false] {
        let emulator = emu::start().await.unwrap();
        emulator.push_fault(Fault::Oversized {
            bytes: 64 << 20,
            declared,
        });
        let e = submit(&adapter(&emulator), &speech()).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Transient, "declared: {declared}");
        assert!(e.message().contains("cap"), "{}", e.message());
        let sent = emulator.bytes_sent();
        assert!(
            sent.iter().all(|n| *n < support::ABORTED_BELOW),
            "declared {declared}: sent {sent:?}"
        );
    }
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_and_wrong_types_are_transient_and_errors_in_200_keep_their_class() {
    support::capture_logs();
    for fault in [Fault::MalformedJson, Fault::WrongContentType] {
        let e = fail_with(fault.clone()).await;
        assert_eq!(e.class(), ErrorClass::Transient, "{fault:?}");
    }
    // The emulator's error in a 200 is `system_busy`: a rate limit, whatever the status.
    let e = fail_with(Fault::ErrorIn200).await;
    assert_eq!(
        (e.class(), e.status()),
        (ErrorClass::RateLimited, Some(200))
    );
    let e = fail_with(status(200, older("quota_exceeded"))).await;
    assert_eq!(e.class(), ErrorClass::QuotaExhausted);
    let e = fail_with(status(200, serde_json::json!({"detail": "boom"}))).await;
    assert_eq!(e.class(), ErrorClass::Transient);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_fails_over_by_class() {
    support::capture_logs();
    let clock = ugc_core::clock::system();
    let mut no_retry = RouterConfig::default();
    no_retry.max_retries = 0;

    // Rate limited: the fallback serves, the endpoint cools down for the Retry-After.
    let emulator = emu::start().await.unwrap();
    emulator.push_fault(Fault::RateLimited {
        retry_after: Some("30".into()),
    });
    let router = build_router(&emulator, clock.clone(), no_retry.clone());
    let outcome = router.dispatch(&speech(), DispatchOptions::default()).await;
    support::assert_served_by_fallback(&outcome, ErrorClass::RateLimited, EMULATOR_KEY);
    let health = support::health_of(&router, "elevenlabs");
    assert!(
        health.cooldown.is_some_and(|c| c > Duration::from_secs(25)),
        "{health:?}"
    );

    // Concurrency limited: the fallback serves.
    let emulator = emu::start().await.unwrap();
    emulator.push_fault(status(429, current("too_many_concurrent_requests")));
    let router = build_router(&emulator, clock.clone(), no_retry.clone());
    let outcome = router.dispatch(&speech(), DispatchOptions::default()).await;
    support::assert_served_by_fallback(&outcome, ErrorClass::ConcurrencyLimited, EMULATOR_KEY);

    // Transient: fails over.
    let emulator = emu::start().await.unwrap();
    emulator.push_fault(Fault::ServerError(502));
    let router = build_router(&emulator, clock.clone(), no_retry.clone());
    let outcome = router.dispatch(&speech(), DispatchOptions::default()).await;
    support::assert_served_by_fallback(&outcome, ErrorClass::Transient, EMULATOR_KEY);

    // model_not_found: the endpoint's configured model is wrong; fail over and mark it.
    let emulator = emu::start().await.unwrap();
    emulator.push_fault(status(400, current("model_not_found")));
    let router = build_router(&emulator, clock.clone(), no_retry.clone());
    let outcome = router.dispatch(&speech(), DispatchOptions::default()).await;
    support::assert_served_by_fallback(&outcome, ErrorClass::Misconfigured, EMULATOR_KEY);
    assert!(
        support::health_of(&router, "elevenlabs")
            .misconfigured
            .is_some()
    );

    // Bad request: no failover, the input is bad everywhere.
    let emulator = emu::start().await.unwrap();
    emulator.push_fault(status(400, current("max_character_limit_exceeded")));
    let router = build_router(&emulator, clock.clone(), no_retry);
    let outcome = router.dispatch(&speech(), DispatchOptions::default()).await;
    support::assert_outcome_clean(&outcome, EMULATOR_KEY);
    let Outcome::Failed { attempts, .. } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        attempts[0].result,
        AttemptResult::Failed(ErrorClass::BadRequest)
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimates_use_the_model_price() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    let eleven = adapter(&emulator);
    let request: Request = SpeechRequest::new("a".repeat(1000)).into();
    let multi = eleven.estimate(&request, Some("eleven_multilingual_v2"));
    assert_eq!((multi.characters, multi.cost_micros), (1000, 100_000));
    assert!(multi.audio_millis > 0);
    assert_eq!(
        eleven
            .estimate(&request, Some("eleven_flash_v2_5"))
            .cost_micros,
        50_000
    );
    assert_eq!(
        eleven
            .estimate(&request, Some("eleven_turbo_v2_5"))
            .cost_micros,
        50_000
    );
    assert_eq!(
        eleven.estimate(&request, Some("unknown")).cost_micros,
        100_000
    );
    assert_eq!(eleven.estimate(&request, None).cost_micros, 100_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_name_the_field() {
    support::capture_logs();
    let mut config = ElevenLabsConfig::new(Credential::new("op", EMULATOR_KEY)).base_url("ftp://x");
    let e = ElevenLabs::new(config.clone(), ugc_core::clock::system()).unwrap_err();
    assert!(e.to_string().contains("elevenlabs.base_url"), "{e}");
    config = config.base_url("http://127.0.0.1:9");
    config.default_voice = "../x".to_owned();
    let e = ElevenLabs::new(config, ugc_core::clock::system()).unwrap_err();
    assert!(e.to_string().contains("elevenlabs.default_voice"), "{e}");
    let config =
        ElevenLabsConfig::new(Credential::new("op", "bad\nkey")).base_url("http://127.0.0.1:9");
    let e = ElevenLabs::new(config, ugc_core::clock::system()).unwrap_err();
    assert!(e.to_string().contains("elevenlabs.credential"), "{e}");
    support::assert_error_clean(&e, "bad\nkey");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_ever_shows_the_key() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    emulator.push_fault(Fault::ServerError(500));
    let eleven = adapter(&emulator);
    let _ = submit(&eleven, &speech()).await;
    let _ = submit(&eleven, &speech()).await;
    assert!(!format!("{eleven:?}").contains(EMULATOR_KEY));
    logs_clean();
}

fn build_router(
    emulator: &Emulator,
    clock: ugc_core::clock::SharedClock,
    config: RouterConfig,
) -> Router {
    support::speech_router(Arc::new(adapter(emulator)), EMULATOR_KEY, clock, config)
}
