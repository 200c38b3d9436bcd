//! Contract tests of the OpenAI adapter against its loopback emulator: the fault matrix, the
//! proactive cooldown from `x-ratelimit-*`, the router's reaction, and secret hygiene.

#![cfg(feature = "openai")]
// Test helpers outside #[test] functions state expectations the same way the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ugc_core::provider::{CallContext, ErrorClass, Provider, ProviderError, Submission};
use ugc_core::providers::openai::{OpenAi, OpenAiConfig};
use ugc_core::request::{AudioFormat, Request, SpeechRequest};
use ugc_core::router::{AttemptResult, DispatchOptions, Endpoint, Outcome, Router, RouterConfig};
use ugc_core::testkit::ScriptedProvider;
use ugc_core::testkit::emulator::openai::{self as emu, EMULATOR_KEY};
use ugc_core::testkit::emulator::{Emulator, Fault};
use ugc_core::{Credential, Media};

const TEXT: &str = "Hello from the contract tests";

fn config(emulator: &Emulator) -> OpenAiConfig {
    let mut config =
        OpenAiConfig::new(Credential::new("operator", EMULATOR_KEY)).base_url(emulator.base_url());
    config.http = config
        .http
        .timeout(Duration::from_secs(2))
        .max_download_bytes(1 << 20);
    config
}

fn adapter(emulator: &Emulator) -> OpenAi {
    OpenAi::new(config(emulator), ugc_core::clock::system()).unwrap()
}

fn ctx() -> CallContext {
    CallContext::new(Instant::now() + Duration::from_secs(10))
}

fn speech() -> Request {
    SpeechRequest::new(TEXT).into()
}

async fn submit(openai: &OpenAi, request: &Request) -> Result<Media, ProviderError> {
    match openai.submit(request, &ctx()).await {
        Ok(Submission::Ready(media)) => Ok(media),
        Ok(Submission::Pending(job)) => panic!("openai answered with a job: {job:?}"),
        Err(e) => {
            support::assert_error_clean(&e, EMULATOR_KEY);
            Err(e)
        }
    }
}

async fn fail_with(fault: Fault) -> ProviderError {
    let emulator = emu::start().await.unwrap();
    emulator.push_fault(fault);
    let error = submit(&adapter(&emulator), &speech()).await.unwrap_err();
    logs_clean();
    error
}

fn logs_clean() {
    support::assert_no_secret("logs", &support::captured_logs(), EMULATOR_KEY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_returns_mp3_and_sends_the_key_only_in_the_header() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    let media = submit(&adapter(&emulator), &speech()).await.unwrap();
    assert_eq!(media.mime, "audio/mpeg");
    assert_eq!(
        (
            support::media_bytes(&media)[0],
            support::media_bytes(&media)[1] & 0xE0
        ),
        (0xFF, 0xE0)
    );

    let requests = emulator.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/audio/speech")
    );
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {EMULATOR_KEY}").as_str())
    );
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
        if name != "authorization" {
            assert!(
                !value.contains(EMULATOR_KEY),
                "header {name} carries the key"
            );
            assert!(!value.contains("Hello"), "header {name} carries the text");
        }
    }
    let sent: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(sent["model"], "tts-1");
    assert_eq!(sent["voice"], "alloy");
    assert_eq!(sent["response_format"], "mp3");
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_format_comes_back_with_its_content_type() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    let openai = adapter(&emulator);
    let cases: [(AudioFormat, &str, &[u8]); 6] = [
        (AudioFormat::Mp3, "audio/mpeg", &[0xFF]),
        (AudioFormat::Wav, "audio/wav", b"RIFF"),
        (AudioFormat::Opus, "audio/opus", b"OggS"),
        (AudioFormat::Aac, "audio/aac", &[0xFF, 0xF1]),
        (AudioFormat::Flac, "audio/flac", b"fLaC"),
        (AudioFormat::Pcm, "audio/pcm", &[0, 0]),
    ];
    for (format, mime, magic) in cases {
        let request = SpeechRequest::new(TEXT).format(format).into();
        let media = submit(&openai, &request).await.unwrap();
        assert_eq!(media.mime, mime, "{format:?}");
        assert!(
            support::media_bytes(&media).starts_with(magic),
            "{format:?}"
        );
        let last = emulator.requests().pop().unwrap();
        let sent: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
        assert_eq!(sent["response_format"], format.as_str());
    }
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speed_is_clamped_and_instructions_skip_the_tts_1_family() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    let mut config = config(&emulator);
    config.instructions = Some("Speak calmly.".to_owned());
    let openai = OpenAi::new(config, ugc_core::clock::system()).unwrap();
    let request = SpeechRequest::new(TEXT).speed(9.0).into();
    submit(&openai, &request).await.unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&emulator.requests()[0].body).unwrap();
    assert_eq!(sent["speed"], 4.0);
    assert!(sent.get("instructions").is_none(), "{sent}");

    let ctx = ctx().with_model("gpt-4o-mini-tts").with_voice("coral");
    let request = SpeechRequest::new(TEXT).speed(0.01).into();
    openai.submit(&request, &ctx).await.unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&emulator.requests()[1].body).unwrap();
    assert_eq!(sent["speed"], 0.25);
    assert_eq!(sent["instructions"], "Speak calmly.");
    assert_eq!(
        (sent["model"].as_str(), sent["voice"].as_str()),
        (Some("gpt-4o-mini-tts"), Some("coral"))
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_over_4096_characters_is_refused_before_sending() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    let request = SpeechRequest::new("é".repeat(4097)).into();
    let error = submit(&adapter(&emulator), &request).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::BadRequest);
    assert!(emulator.requests().is_empty());
    // Exactly 4096 characters (8192 bytes) is fine.
    let request = SpeechRequest::new("é".repeat(4096)).into();
    submit(&adapter(&emulator), &request).await.unwrap();
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
async fn rate_limit_without_retry_after_waits_for_the_window_reset() {
    support::capture_logs();
    // The emulator's 429 says `x-ratelimit-reset-requests: 1s`.
    let e = fail_with(Fault::RateLimited { retry_after: None }).await;
    assert_eq!(
        (e.class(), e.retry_after()),
        (ErrorClass::RateLimited, Some(Duration::from_secs(1)))
    );
    // A bare 429 with no header at all leaves the wait to the router's default.
    let body = serde_json::json!({"error": {"message": "slow down", "type": "requests", "param": null, "code": "rate_limit_exceeded"}});
    let e = fail_with(Fault::Status { status: 429, body }).await;
    assert_eq!(
        (e.class(), e.retry_after()),
        (ErrorClass::RateLimited, None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_request_window_fails_the_next_submit_without_sending() {
    support::capture_logs();
    let emulator = emu::start_with_limit(1, Duration::from_secs(60))
        .await
        .unwrap();
    let openai = adapter(&emulator);
    submit(&openai, &speech()).await.unwrap();
    let e = submit(&openai, &speech()).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::RateLimited);
    let wait = e.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    assert_eq!(
        emulator.requests().len(),
        1,
        "the second submit must not be sent"
    );
    // The cooldown belongs to that key only: a user's own key still goes out.
    let byok = ctx().with_credential(Credential::new("user:42", EMULATOR_KEY));
    let e = openai.submit(&speech(), &byok).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::RateLimited, "the emulator's own 429");
    assert_eq!(emulator.requests().len(), 2);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_cools_the_endpoint_down_before_a_429_comes() {
    support::capture_logs();
    let emulator = emu::start_with_limit(1, Duration::from_secs(60))
        .await
        .unwrap();
    let clock = ugc_core::clock::system();
    let router = build_router(&emulator, clock.clone(), RouterConfig::default());
    let first = router.dispatch(&speech(), DispatchOptions::default()).await;
    assert!(
        matches!(&first, Outcome::Done { endpoint, .. } if endpoint.provider() == "openai"),
        "{first:?}"
    );
    let second = router.dispatch(&speech(), DispatchOptions::default()).await;
    support::assert_outcome_clean(&second, EMULATOR_KEY);
    let Outcome::Done {
        endpoint, attempts, ..
    } = &second
    else {
        panic!("{second:?}")
    };
    assert_eq!(endpoint.provider(), "fallback");
    assert_eq!(
        attempts[0].result,
        AttemptResult::Failed(ErrorClass::RateLimited)
    );
    assert_eq!(emulator.requests().len(), 1);
    let health = support::health_of(&router, "openai");
    assert!(
        health.cooldown.is_some_and(|c| c > Duration::from_secs(50)),
        "{health:?}"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_credit_is_quota_exhausted_whatever_its_spelling() {
    support::capture_logs();
    let cases = [
        (429, "insufficient_quota"),
        (429, "credit_balance_exhausted"),
        (429, "organization_spend_limit_exceeded"),
        (400, "billing_hard_limit_reached"),
        (200, "insufficient_quota"),
    ];
    for (status, code) in cases {
        let body = serde_json::json!({"error": {"message": "You exceeded your current quota.", "type": "insufficient_quota", "param": null, "code": code}});
        let e = fail_with(Fault::Status { status, body }).await;
        assert_eq!(
            (e.class(), e.retry_after()),
            (ErrorClass::QuotaExhausted, None),
            "{status} {code}"
        );
        assert!(!e.class().retries_same_endpoint());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_misconfigured_and_never_echoed() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    let openai = adapter(&emulator);
    let wrong = "sk-wrong-key-0123456789";
    let ctx = ctx().with_credential(Credential::new("user:7", wrong));
    let e = openai.submit(&speech(), &ctx).await.unwrap_err();
    support::assert_error_clean(&e, wrong);
    assert_eq!(
        (e.class(), e.status()),
        (ErrorClass::Misconfigured, Some(401))
    );
    assert!(e.message().contains("[redacted]"), "{}", e.message());
    let e = openai
        .validate_credentials(&Credential::new("user:7", wrong))
        .await
        .unwrap_err();
    support::assert_error_clean(&e, wrong);
    assert_eq!(e.class(), ErrorClass::Misconfigured);
    openai
        .validate_credentials(&Credential::new("op", EMULATOR_KEY))
        .await
        .unwrap();
    assert_eq!(emulator.requests().last().unwrap().path, "/v1/models");
    support::assert_no_secret("logs", &support::captured_logs(), wrong);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_input_is_a_bad_request_and_an_unknown_model_misconfigured() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    let openai = adapter(&emulator);
    let e = openai
        .submit(&speech(), &ctx().with_voice("robot"))
        .await
        .unwrap_err();
    support::assert_error_clean(&e, EMULATOR_KEY);
    assert_eq!((e.class(), e.status()), (ErrorClass::BadRequest, Some(400)));
    let e = openai
        .submit(&speech(), &ctx().with_model("tts-9"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.class(), e.status()),
        (ErrorClass::Misconfigured, Some(404))
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_transient() {
    support::capture_logs();
    for status in [500, 502, 503] {
        let e = fail_with(Fault::ServerError(status)).await;
        assert_eq!(
            (e.class(), e.status()),
            (ErrorClass::Transient, Some(status))
        );
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
    let openai = OpenAi::new(config, ugc_core::clock::system()).unwrap();
    let e = submit(&openai, &speech()).await.unwrap_err();
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
    // The emulator's byte count is exact: a full answer counts its whole body.
    let emulator = emu::start().await.unwrap();
    let media = submit(&adapter(&emulator), &speech()).await.unwrap();
    assert_eq!(emulator.bytes_sent(), [media.len().unwrap() as u64]);
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
async fn malformed_json_errors_in_200_and_wrong_types_are_transient() {
    support::capture_logs();
    for fault in [
        Fault::MalformedJson,
        Fault::ErrorIn200,
        Fault::WrongContentType,
    ] {
        let e = fail_with(fault.clone()).await;
        assert_eq!(e.class(), ErrorClass::Transient, "{fault:?}");
    }
    let body = serde_json::json!({"error": {"message": "Rate limit", "type": "requests", "param": null, "code": "rate_limit_exceeded"}});
    let e = fail_with(Fault::Status { status: 200, body }).await;
    assert_eq!(e.class(), ErrorClass::RateLimited);
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
    let health = support::health_of(&router, "openai");
    assert!(
        health.cooldown.is_some_and(|c| c > Duration::from_secs(25)),
        "{health:?}"
    );

    // Transient: fails over.
    let emulator = emu::start().await.unwrap();
    emulator.push_fault(Fault::ServerError(502));
    let router = build_router(&emulator, clock.clone(), no_retry.clone());
    let outcome = router.dispatch(&speech(), DispatchOptions::default()).await;
    support::assert_served_by_fallback(&outcome, ErrorClass::Transient, EMULATOR_KEY);

    // Misconfigured: fails over, and the endpoint is marked.
    let emulator = emu::start().await.unwrap();
    let router = Router::builder(clock.clone())
        .config(no_retry.clone())
        .endpoint(
            Endpoint::new(Arc::new(adapter(&emulator)))
                .credential(Credential::new("operator", "sk-revoked-key-999"))
                .priority(0),
        )
        .endpoint(
            Endpoint::new(Arc::new(ScriptedProvider::speech(
                "fallback",
                clock.clone(),
            )))
            .priority(1),
        )
        .build()
        .unwrap();
    let outcome = router.dispatch(&speech(), DispatchOptions::default()).await;
    support::assert_outcome_clean(&outcome, "sk-revoked-key-999");
    support::assert_served_by_fallback(&outcome, ErrorClass::Misconfigured, EMULATOR_KEY);
    assert!(
        support::health_of(&router, "openai")
            .misconfigured
            .is_some()
    );

    // Bad request: no failover, the input is bad everywhere.
    let emulator = emu::start().await.unwrap();
    let router = build_router(&emulator, clock.clone(), no_retry);
    let request = SpeechRequest::new("x".repeat(5000)).into();
    let outcome = router.dispatch(&request, DispatchOptions::default()).await;
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
    let openai = adapter(&emulator);
    let request: Request = SpeechRequest::new("a".repeat(1000)).into();
    let tts1 = openai.estimate(&request, Some("tts-1"));
    assert_eq!((tts1.characters, tts1.cost_micros), (1000, 15_000));
    assert!(tts1.audio_millis > 0);
    assert_eq!(
        openai.estimate(&request, Some("tts-1-hd")).cost_micros,
        30_000
    );
    assert_eq!(
        openai
            .estimate(&request, Some("gpt-4o-mini-tts"))
            .cost_micros,
        12_000
    );
    assert_eq!(
        openai.estimate(&request, Some("unknown")).cost_micros,
        15_000
    );
    assert_eq!(openai.estimate(&request, None).cost_micros, 15_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_name_the_field() {
    support::capture_logs();
    let mut config = OpenAiConfig::new(Credential::new("op", EMULATOR_KEY)).base_url("ftp://x");
    let e = OpenAi::new(config.clone(), ugc_core::clock::system()).unwrap_err();
    assert!(e.to_string().contains("openai.base_url"), "{e}");
    config = config.base_url("http://127.0.0.1:9");
    config.default_voice = String::new();
    let e = OpenAi::new(config, ugc_core::clock::system()).unwrap_err();
    assert!(e.to_string().contains("openai.default_voice"), "{e}");
    support::assert_error_clean(&e, EMULATOR_KEY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_ever_shows_the_key() {
    support::capture_logs();
    let emulator = emu::start().await.unwrap();
    emulator.push_fault(Fault::ServerError(500));
    let openai = adapter(&emulator);
    let _ = submit(&openai, &speech()).await;
    let _ = submit(&openai, &speech()).await;
    assert!(!format!("{openai:?}").contains(EMULATOR_KEY));
    logs_clean();
}

fn build_router(
    emulator: &Emulator,
    clock: ugc_core::clock::SharedClock,
    config: RouterConfig,
) -> Router {
    support::speech_router(Arc::new(adapter(emulator)), EMULATOR_KEY, clock, config)
}
