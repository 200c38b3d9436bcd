//! Contract of the Hugging Face adapter against its loopback emulator: every documented
//! answer and fault, classified, and what the router makes of a representative few.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ugc_core::clock;
use ugc_core::provider::{CallContext, ErrorClass, Provider, ProviderError, Submission};
use ugc_core::providers::huggingface::{DEFAULT_MODEL, HuggingFace, HuggingFaceConfig};
use ugc_core::request::{Request, SpeechRequest, VideoRequest};
use ugc_core::router::{
    AttemptResult, DispatchOptions, Endpoint, Outcome, Price, Router, RouterConfig,
};
use ugc_core::testkit::ScriptedProvider;
use ugc_core::testkit::emulator::huggingface::{self as emulator, EMULATOR_KEY};
use ugc_core::testkit::emulator::{Emulator, Fault};
use ugc_core::{Credential, Media, MediaBody};

const CAP: u64 = 1024 * 1024;

fn config(emu: &Emulator) -> HuggingFaceConfig {
    HuggingFaceConfig::new(Credential::new("operator", EMULATOR_KEY))
        .base_url(emu.base_url())
        .hub_base_url(emu.base_url())
        .timeout(Duration::from_millis(300))
        .max_download_bytes(CAP)
}

fn adapter(emu: &Emulator) -> HuggingFace {
    HuggingFace::new(config(emu), clock::system()).unwrap()
}

fn ctx() -> CallContext {
    CallContext::new(Instant::now() + Duration::from_secs(10))
}

fn speech() -> Request {
    SpeechRequest::new("Hello from the emulator").into()
}

async fn speak_with(
    hf: &HuggingFace,
    request: &Request,
    ctx: &CallContext,
) -> Result<Media, ProviderError> {
    match hf.submit(request, ctx).await {
        Ok(Submission::Ready(media)) => Ok(media),
        Ok(Submission::Pending(job)) => panic!("a synchronous provider returned job {job:?}"),
        Err(error) => {
            support::assert_error_clean(&error, EMULATOR_KEY);
            Err(error)
        }
    }
}

async fn speak(hf: &HuggingFace) -> Result<Media, ProviderError> {
    speak_with(hf, &speech(), &ctx()).await
}

/// Queues `fault`, makes one call and returns its error.
async fn failure(fault: Fault) -> ProviderError {
    failure_and_bytes_sent(fault).await.0
}

/// The failure, and the body bytes the emulator actually sent per request.
async fn failure_and_bytes_sent(fault: Fault) -> (ProviderError, Vec<u64>) {
    let emu = emulator::start().await.unwrap();
    emu.push_fault(fault);
    let error = speak(&adapter(&emu))
        .await
        .expect_err("the fault must fail the call");
    (error, emu.bytes_sent())
}

fn assert_wav(media: &Media) {
    assert_eq!(media.mime, "audio/wav");
    let MediaBody::Bytes(bytes) = &media.body else {
        panic!("expected bytes, got {media:?}")
    };
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
}

fn logs_clean() {
    support::assert_no_secret("logs", &support::captured_logs(), EMULATOR_KEY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_returns_the_audio_with_the_content_type_the_model_sent() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let media = speak(&adapter(&emu)).await.unwrap();
    assert_wav(&media);
    let requests = emu.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/hf-inference/models/facebook/mms-tts-eng")
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {EMULATOR_KEY}").as_str())
    );
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["inputs"], "Hello from the emulator");
    assert!(body["parameters"].is_object());
    assert_eq!(sent.header("x-wait-for-model"), None);
    assert_eq!(sent.header("x-use-cache"), None);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_headers_and_the_endpoint_model_are_sent() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let mut config = config(&emu);
    config.wait_for_model = true;
    config.use_cache = Some(false);
    config.bill_to = Some("my-org".into());
    let hf = HuggingFace::new(config, clock::system()).unwrap();
    let media = speak_with(
        &hf,
        &speech(),
        &ctx().with_model("espnet/kan-bayashi_ljspeech_vits"),
    )
    .await
    .unwrap();
    assert_wav(&media);
    let sent = &emu.requests()[0];
    assert_eq!(
        sent.path,
        "/hf-inference/models/espnet/kan-bayashi_ljspeech_vits"
    );
    assert_eq!(sent.header("x-wait-for-model"), Some("true"));
    assert_eq!(sent.header("x-use-cache"), Some("false"));
    assert_eq!(sent.header("x-hf-bill-to"), Some("my-org"));
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_with_an_audio_url_is_downloaded() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let media = speak_with(
        &adapter(&emu),
        &speech(),
        &ctx().with_model("fal-ai/kokoro"),
    )
    .await
    .unwrap();
    assert_wav(&media);
    let paths: Vec<String> = emu.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/hf-inference/models/fal-ai/kokoro", "/files/1"]);
    // The token goes to the API only, never to the file host.
    assert_eq!(emu.requests()[1].header("authorization"), None);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_with_base64_audio_is_decoded() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let media = speak_with(&adapter(&emu), &speech(), &ctx().with_model("base64/tts"))
        .await
        .unwrap();
    assert_wav(&media);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_with_retry_after_in_seconds() {
    support::capture_logs();
    let e = failure(Fault::RateLimited {
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
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_with_retry_after_as_an_http_date() {
    support::capture_logs();
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
    let e = failure(Fault::RateLimited {
        retry_after: Some(at),
    })
    .await;
    assert_eq!(e.class(), ErrorClass::RateLimited);
    let wait = e.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(27) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_without_retry_after_leaves_the_cooldown_to_the_router() {
    support::capture_logs();
    let e = failure(Fault::RateLimited { retry_after: None }).await;
    assert_eq!(
        (e.class(), e.retry_after()),
        (ErrorClass::RateLimited, None)
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loading_model_is_transient_for_its_estimated_time() {
    support::capture_logs();
    let e = failure(Fault::Loading {
        estimated_time: 20.0,
    })
    .await;
    assert_eq!(
        (e.class(), e.retry_after(), e.status()),
        (
            ErrorClass::Transient,
            Some(Duration::from_secs(20)),
            Some(503)
        )
    );
    assert!(e.message().contains("currently loading"), "{e}");
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_model_holds_the_call_instead_of_a_503() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    emu.push_fault(Fault::Loading {
        estimated_time: 5.0,
    });
    let mut config = config(&emu);
    config.wait_for_model = true;
    let hf = HuggingFace::new(config.timeout(Duration::from_secs(2)), clock::system()).unwrap();
    assert_wav(&speak(&hf).await.unwrap());
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_error_statuses_are_classified() {
    support::capture_logs();
    let cases = [
        (
            402,
            serde_json::json!({"error": "You have exceeded your monthly included credits"}),
            ErrorClass::QuotaExhausted,
        ),
        (
            404,
            serde_json::json!({"error": "Model facebook/mms-tts-eng does not exist"}),
            ErrorClass::Misconfigured,
        ),
        (
            410,
            serde_json::json!({"error": "https://api-inference.huggingface.co is no longer supported"}),
            ErrorClass::Misconfigured,
        ),
        (
            400,
            serde_json::json!({"error": ["Input validation error: inputs too long", "max 500"]}),
            ErrorClass::BadRequest,
        ),
        (
            422,
            serde_json::json!({"error": "Input validation error"}),
            ErrorClass::BadRequest,
        ),
        (
            403,
            serde_json::json!({"error": "This token does not have inference permissions"}),
            ErrorClass::Misconfigured,
        ),
        (
            418,
            serde_json::json!({"unknown": "shape"}),
            ErrorClass::BadRequest,
        ),
    ];
    for (status, body, class) in cases {
        let e = failure(Fault::Status { status, body }).await;
        assert_eq!(
            (e.class(), e.status()),
            (class, Some(status)),
            "{status}: {e}"
        );
        if status == 410 {
            assert!(e.message().contains("router.huggingface.co"), "{e}");
        }
        if status == 400 {
            assert!(e.message().contains("inputs too long; max 500"), "{e}");
        }
    }
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_a_misconfiguration_and_never_shown() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let hf = adapter(&emu);
    let wrong = "hf_wrong_key_123456";
    let ctx = ctx().with_credential(Credential::new("user:1", wrong));
    let e = speak_with(&hf, &speech(), &ctx).await.unwrap_err();
    support::assert_error_clean(&e, wrong);
    assert_eq!(
        (e.class(), e.status()),
        (ErrorClass::Misconfigured, Some(401))
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_transient() {
    support::capture_logs();
    for status in [500, 502, 504] {
        let e = failure(Fault::ServerError(status)).await;
        assert_eq!(
            (e.class(), e.status(), e.retry_after()),
            (ErrorClass::Transient, Some(status), None)
        );
    }
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_call_times_out_as_transient() {
    support::capture_logs();
    let e = failure(Fault::Hang).await;
    assert_eq!(e.class(), ErrorClass::Transient);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_that_ends_within_the_timeout_succeeds() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    emu.push_fault(Fault::SlowBody {
        delay: Duration::from_millis(40),
        chunks: 4,
    });
    assert_wav(&speak(&adapter(&emu)).await.unwrap());
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_audio_is_aborted_while_streaming() {
    support::capture_logs();
    for declared in [true, false] {
        let (e, sent) = failure_and_bytes_sent(Fault::Oversized {
            bytes: 64 * 1024 * 1024,
            declared,
        })
        .await;
        assert_eq!(e.class(), ErrorClass::Transient, "declared {declared}");
        assert!(e.message().contains("cap"), "{e}");
        assert!(
            sent.iter().all(|n| *n < support::ABORTED_BELOW),
            "declared {declared}: sent {sent:?}"
        );
    }
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_audio_behind_a_url_is_aborted_too() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    emu.push_fault(Fault::Oversized {
        bytes: 64 * 1024 * 1024,
        declared: false,
    });
    let e = speak_with(
        &adapter(&emu),
        &speech(),
        &ctx().with_model("fal-ai/kokoro"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Transient);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_in_a_200_is_transient() {
    support::capture_logs();
    let e = failure(Fault::MalformedJson).await;
    assert_eq!(e.class(), ErrorClass::Transient);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_inside_a_200_is_classified_like_its_status() {
    support::capture_logs();
    let e = failure(Fault::ErrorIn200).await;
    assert_eq!(e.class(), ErrorClass::Transient);
    let loading = failure(Fault::Status {
        status: 200,
        body: serde_json::json!({"error": "Model x is currently loading", "estimated_time": 3.0}),
    })
    .await;
    assert_eq!(
        (loading.class(), loading.retry_after()),
        (ErrorClass::Transient, Some(Duration::from_secs(3)))
    );
    let credit = failure(Fault::Status {
        status: 200,
        body: serde_json::json!({"error": "You have exceeded your monthly included credits"}),
    })
    .await;
    assert_eq!(credit.class(), ErrorClass::QuotaExhausted);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_content_type_is_transient() {
    support::capture_logs();
    let e = failure(Fault::WrongContentType).await;
    assert_eq!(e.class(), ErrorClass::Transient);
    assert!(e.message().contains("text/html"), "{e}");
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_kinds_and_bad_model_ids_are_refused_before_any_call() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let hf = adapter(&emu);
    let video: Request = VideoRequest::new("a lighthouse").into();
    assert_eq!(
        speak_with(&hf, &video, &ctx()).await.unwrap_err().class(),
        ErrorClass::BadRequest
    );
    let e = speak_with(&hf, &speech(), &ctx().with_model("../../admin"))
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Misconfigured);
    assert!(emu.requests().is_empty());
    assert!(
        HuggingFace::new(config(&emu).base_url("ftp://x"), clock::system())
            .unwrap_err()
            .to_string()
            .contains("huggingface.base_url")
    );
    assert!(
        HuggingFace::new(config(&emu).default_model("a/b/c"), clock::system())
            .unwrap_err()
            .to_string()
            .contains("huggingface.default_model")
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_validated_with_whoami() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let hf = adapter(&emu);
    hf.validate_credentials(&Credential::new("user:1", EMULATOR_KEY))
        .await
        .unwrap();
    let wrong = "hf_not_a_real_token";
    let e = hf
        .validate_credentials(&Credential::new("user:2", wrong))
        .await
        .unwrap_err();
    support::assert_error_clean(&e, wrong);
    support::assert_error_clean(&e, EMULATOR_KEY);
    assert_eq!(e.class(), ErrorClass::Misconfigured);
    let paths: Vec<String> = emu.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/api/whoami-v2", "/api/whoami-v2"]);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimates_count_characters_and_use_the_price_table() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let request: Request = SpeechRequest::new("twenty characters!!!").into();
    let free = adapter(&emu).estimate(&request, None);
    assert_eq!(
        (free.requests, free.characters, free.cost_micros),
        (1, 20, 0)
    );
    assert!(free.audio_millis > 0);
    let paid = Price {
        per_request: 1_000,
        per_million_characters: 2_000_000,
        ..Price::default()
    };
    let hf = HuggingFace::new(config(&emu).price("org/paid", paid), clock::system()).unwrap();
    assert_eq!(hf.estimate(&request, Some("org/paid")).cost_micros, 1_040);
    // Unknown models cost what the default model costs.
    assert_eq!(hf.estimate(&request, Some("org/other")).cost_micros, 0);
    assert_eq!(hf.estimate(&request, Some(DEFAULT_MODEL)).cost_micros, 0);
    logs_clean();
}

// ---- through the router: the adapter first, a scripted fallback second ----

fn router_with(
    emu: &Emulator,
    credential: &str,
    max_retries: u32,
) -> (Router, Arc<ScriptedProvider>) {
    let clock = clock::system();
    let hf = Arc::new(HuggingFace::new(config(emu), clock.clone()).unwrap());
    let fallback = Arc::new(ScriptedProvider::speech("fallback", clock.clone()));
    let mut router_config = RouterConfig::default();
    router_config.max_retries = max_retries;
    let router = Router::builder(clock)
        .config(router_config)
        .endpoint(
            Endpoint::new(hf)
                .credential(Credential::new("operator", credential))
                .priority(0),
        )
        .endpoint(Endpoint::new(fallback.clone()).priority(1))
        .build()
        .unwrap();
    (router, fallback)
}

async fn route(router: &Router) -> Outcome {
    let outcome = router
        .dispatch(
            &speech(),
            DispatchOptions::default().deadline(Duration::from_secs(5)),
        )
        .await;
    support::assert_no_secret("outcome", &format!("{outcome:?}"), EMULATOR_KEY);
    outcome
}

fn first_failure(outcome: &Outcome) -> AttemptResult {
    outcome.attempts()[0].result.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_serves_from_the_fallback_and_cools_down_after_a_429() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    emu.push_fault(Fault::RateLimited {
        retry_after: Some("30".into()),
    });
    let (router, fallback) = router_with(&emu, EMULATOR_KEY, 1);
    let outcome = route(&router).await;
    assert_eq!(
        support::served_by(&outcome),
        Some("fallback"),
        "{outcome:?}"
    );
    assert_eq!(
        first_failure(&outcome),
        AttemptResult::Failed(ErrorClass::RateLimited)
    );
    assert_eq!(fallback.submits(), 1);
    let health = router.health();
    let hf = health
        .iter()
        .find(|h| h.endpoint.provider() == "huggingface")
        .unwrap();
    let cooldown = hf.cooldown.expect("the endpoint cools down");
    assert!(
        cooldown > Duration::from_secs(25) && cooldown <= Duration::from_secs(30),
        "{cooldown:?}"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_does_not_fail_over_a_bad_request() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    emu.push_fault(Fault::Status {
        status: 400,
        body: serde_json::json!({"error": "Input validation error"}),
    });
    let (router, fallback) = router_with(&emu, EMULATOR_KEY, 1);
    let outcome = route(&router).await;
    let Outcome::Failed { error, .. } = &outcome else {
        panic!("expected a failure, got {outcome:?}")
    };
    support::assert_error_clean(error, EMULATOR_KEY);
    assert_eq!(
        first_failure(&outcome),
        AttemptResult::Failed(ErrorClass::BadRequest)
    );
    assert_eq!(fallback.submits(), 0);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_fails_over_a_loading_model() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    emu.push_fault(Fault::Loading {
        estimated_time: 20.0,
    });
    let (router, fallback) = router_with(&emu, EMULATOR_KEY, 0);
    let outcome = route(&router).await;
    assert_eq!(
        support::served_by(&outcome),
        Some("fallback"),
        "{outcome:?}"
    );
    assert_eq!(
        first_failure(&outcome),
        AttemptResult::Failed(ErrorClass::Transient)
    );
    assert_eq!(fallback.submits(), 1);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_fails_over_and_marks_a_refused_key_misconfigured() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let wrong = "hf_revoked_token_42";
    let (router, fallback) = router_with(&emu, wrong, 1);
    let outcome = route(&router).await;
    support::assert_no_secret("outcome", &format!("{outcome:?}"), wrong);
    assert_eq!(
        support::served_by(&outcome),
        Some("fallback"),
        "{outcome:?}"
    );
    assert_eq!(
        first_failure(&outcome),
        AttemptResult::Failed(ErrorClass::Misconfigured)
    );
    assert_eq!(fallback.submits(), 1);
    let health = router.health();
    let hf = health
        .iter()
        .find(|h| h.endpoint.provider() == "huggingface")
        .unwrap();
    assert!(hf.misconfigured.is_some(), "{hf:?}");
    support::assert_no_secret("logs", &support::captured_logs(), wrong);
    logs_clean();
}
