//! Contract of the Replicate adapter against its loopback emulator: predictions created,
//! polled, downloaded and cancelled; every documented failure classified; webhook
//! signatures; and what the router makes of failed and never-finishing jobs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;
use ugc_core::Credential;
use ugc_core::clock;
use ugc_core::provider::{
    CallContext, ErrorClass, JobHandle, JobStatus, Provider, ProviderError, Submission,
};
use ugc_core::providers::replicate::{
    InputFields, Replicate, ReplicateConfig, WebhookError, verify_webhook,
};
use ugc_core::request::{AvatarRequest, MediaInput, Request, Script, SpeechRequest, VideoRequest};
use ugc_core::router::{AttemptResult, DispatchOptions, Endpoint, Outcome, Router, RouterConfig};
use ugc_core::testkit::emulator::replicate::{self as emulator, EMULATOR_KEY};
use ugc_core::testkit::emulator::{Emulator, Fault};
use ugc_core::testkit::{Op, ScriptedProvider, png_1x1};

const CAP: u64 = 1024 * 1024;
const POLL: Duration = Duration::from_millis(20);

fn config(emu: &Emulator) -> ReplicateConfig {
    ReplicateConfig::new(Credential::new("operator", EMULATOR_KEY))
        .base_url(emu.base_url())
        .timeout(Duration::from_millis(300))
        .max_download_bytes(CAP)
        .poll_interval(POLL)
}

fn adapter(emu: &Emulator) -> Replicate {
    Replicate::new(config(emu), clock::system()).unwrap()
}

fn ctx() -> CallContext {
    CallContext::new(Instant::now() + Duration::from_secs(90))
}

fn video() -> Request {
    VideoRequest::new("a lighthouse at dusk")
        .size(1024, 576)
        .duration(Duration::from_secs(4))
        .seed(7)
        .into()
}

fn clean<T>(result: Result<T, ProviderError>) -> Result<T, ProviderError> {
    if let Err(e) = &result {
        support::assert_error_clean(e, EMULATOR_KEY);
    }
    result
}

async fn submit(
    r: &Replicate,
    request: &Request,
    ctx: &CallContext,
) -> Result<Submission, ProviderError> {
    clean(r.submit(request, ctx).await)
}

async fn pending(r: &Replicate, request: &Request) -> JobHandle {
    match submit(r, request, &ctx()).await.unwrap() {
        Submission::Pending(job) => job,
        Submission::Ready(media) => panic!("expected a job, got {media:?}"),
    }
}

/// Polls until the job leaves the running state, at most ten times.
async fn finish(r: &Replicate, job: &JobHandle) -> Result<JobStatus, ProviderError> {
    for _ in 0..10 {
        match clean(r.poll(job, &ctx()).await)? {
            JobStatus::Running { .. } => continue,
            done => return Ok(done),
        }
    }
    panic!("job {} still running after ten polls", job.id)
}

async fn create_failure(fault: Fault) -> ProviderError {
    let emu = emulator::start().await.unwrap();
    emu.push_fault(fault);
    submit(&adapter(&emu), &video(), &ctx())
        .await
        .expect_err("the fault must fail the create")
}

/// Runs a job with `fault` queued to its end and returns the poll's outcome.
async fn job_outcome(fault: Option<Fault>, request: &Request) -> Result<JobStatus, ProviderError> {
    job_outcome_and_bytes_sent(fault, request).await.0
}

/// The job's outcome, and the body bytes the emulator actually sent per request.
async fn job_outcome_and_bytes_sent(
    fault: Option<Fault>,
    request: &Request,
) -> (Result<JobStatus, ProviderError>, Vec<u64>) {
    let emu = emulator::start().await.unwrap();
    if let Some(fault) = fault {
        emu.push_fault(fault);
    }
    let r = adapter(&emu);
    let job = pending(&r, request).await;
    let outcome = finish(&r, &job).await;
    (outcome, emu.bytes_sent())
}

fn logs_clean() {
    support::assert_no_secret("logs", &support::captured_logs(), EMULATOR_KEY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_job_is_pending_then_done_and_its_output_downloaded() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let r = adapter(&emu);
    let job = pending(&r, &video()).await;
    assert_eq!(job.poll_after, Some(POLL));
    assert_eq!(
        job.locator.as_deref(),
        Some(format!("{}/v1/predictions/{}", emu.base_url(), job.id).as_str())
    );
    assert_eq!(
        r.poll(&job, &ctx()).await.unwrap(),
        JobStatus::Running { progress: None }
    );
    let JobStatus::Succeeded(media) = r.poll(&job, &ctx()).await.unwrap() else {
        panic!("not done")
    };
    support::assert_mp4(&media);

    let requests = emu.requests();
    let create = &requests[0];
    assert_eq!(
        (create.method.as_str(), create.path.as_str()),
        ("POST", "/v1/models/minimax/video-01/predictions")
    );
    assert_eq!(
        create.header("authorization"),
        Some(format!("Bearer {EMULATOR_KEY}").as_str())
    );
    assert_eq!(create.header("prefer"), Some("wait=5"));
    let cancel_after = create.header("cancel-after").unwrap();
    let secs: u64 = cancel_after.strip_suffix('s').unwrap().parse().unwrap();
    assert!((85..=90).contains(&secs), "{cancel_after}");
    let body: serde_json::Value = serde_json::from_slice(&create.body).unwrap();
    let input = &body["input"];
    assert_eq!(
        (
            input["prompt"].as_str(),
            input["width"].as_u64(),
            input["duration"].as_u64(),
            input["seed"].as_u64()
        ),
        (Some("a lighthouse at dusk"), Some(1024), Some(4), Some(7))
    );
    assert!(body.get("version").is_none());
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths[1..],
        [
            format!("/v1/predictions/{}", job.id),
            format!("/v1/predictions/{}", job.id),
            format!("/files/{}", job.id)
        ]
    );
    // The output host never gets the token.
    assert_eq!(requests[3].header("authorization"), None);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prediction_done_within_prefer_wait_is_ready_at_once() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let r = adapter(&emu);
    let Submission::Ready(media) = submit(&r, &video(), &ctx().with_model("emulator/video-fast"))
        .await
        .unwrap()
    else {
        panic!("expected the media at once")
    };
    support::assert_mp4(&media);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_version_is_created_through_the_predictions_endpoint() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let r = adapter(&emu);
    let model = "cjwbw/sadtalker:a519cc0cfebaaeade068b23899165a11ec76aaa1d2b313d40d214f204ec957a3";
    let Submission::Pending(_) = submit(&r, &video(), &ctx().with_model(model))
        .await
        .unwrap()
    else {
        panic!()
    };
    let create = &emu.requests()[0];
    assert_eq!(create.path, "/v1/predictions");
    let body: serde_json::Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(
        body["version"],
        "a519cc0cfebaaeade068b23899165a11ec76aaa1d2b313d40d214f204ec957a3"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_and_avatar_jobs_return_audio_and_video() {
    support::capture_logs();
    let speech: Request = SpeechRequest::new("Hello there").into();
    let JobStatus::Succeeded(audio) = job_outcome(None, &speech).await.unwrap() else {
        panic!()
    };
    assert_eq!(audio.mime, "audio/wav");
    assert_eq!(&support::media_bytes(&audio)[..4], b"RIFF");

    let emu = emulator::start().await.unwrap();
    let r = adapter(&emu);
    let face = MediaInput::Bytes {
        data: png_1x1().into(),
        mime: "image/png".into(),
    };
    let avatar: Request = AvatarRequest::new(face, Script::Text("Welcome!".into())).into();
    let job = match submit(&r, &avatar, &ctx().with_voice("Wise_Woman"))
        .await
        .unwrap()
    {
        Submission::Pending(job) => job,
        Submission::Ready(_) => panic!("expected a job"),
    };
    // The avatar's output comes as an array: its last URL is taken.
    let JobStatus::Succeeded(video) = finish(&r, &job).await.unwrap() else {
        panic!()
    };
    support::assert_mp4(&video);
    let body: serde_json::Value = serde_json::from_slice(&emu.requests()[0].body).unwrap();
    assert_eq!(
        emu.requests()[0].path,
        "/v1/models/bytedance/omni-human/predictions"
    );
    assert!(
        body["input"]["image"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,iVBOR")
    );
    assert_eq!(
        (
            body["input"]["text"].as_str(),
            body["input"]["voice"].as_str()
        ),
        (Some("Welcome!"), Some("Wise_Woman"))
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_names_follow_the_models_field_map() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let mut fields = InputFields::default();
    fields.image = Some("first_frame_image".into());
    fields.width = None;
    fields.height = None;
    fields.duration = None;
    fields.num_frames = Some("num_frames".into());
    let r = Replicate::new(
        config(&emu).model_fields("wan-video/wan-i2v", fields),
        clock::system(),
    )
    .unwrap();
    let request: Request =
        VideoRequest::from_image(MediaInput::Url("https://example.com/a.png".into()), "waves")
            .size(640, 480)
            .duration(Duration::from_secs(2))
            .fps(16)
            .into();
    submit(&r, &request, &ctx().with_model("wan-video/wan-i2v"))
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&emu.requests()[0].body).unwrap();
    let input = body["input"].as_object().unwrap();
    assert_eq!(input["first_frame_image"], "https://example.com/a.png");
    assert_eq!(
        (input["num_frames"].as_u64(), input["fps"].as_u64()),
        (Some(32), Some(16))
    );
    for absent in ["image", "width", "height", "duration"] {
        assert!(!input.contains_key(absent), "{absent}");
    }
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_with_retry_after_in_seconds_wins_over_the_text() {
    support::capture_logs();
    let e = create_failure(Fault::RateLimited {
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
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(45));
    let e = create_failure(Fault::RateLimited {
        retry_after: Some(at),
    })
    .await;
    let wait = e.retry_after().unwrap();
    assert_eq!(e.class(), ErrorClass::RateLimited);
    assert!(
        wait > Duration::from_secs(42) && wait <= Duration::from_secs(45),
        "{wait:?}"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_without_retry_after_reads_the_reset_from_the_detail() {
    support::capture_logs();
    let e = create_failure(Fault::RateLimited { retry_after: None }).await;
    assert_eq!(
        (e.class(), e.retry_after()),
        (ErrorClass::RateLimited, Some(Duration::from_secs(30)))
    );
    let minute = create_failure(Fault::Status {
        status: 429,
        body: serde_json::json!({"detail": "Request was throttled. Your rate limit resets in 1m."}),
    })
    .await;
    assert_eq!(minute.retry_after(), Some(Duration::from_secs(60)));
    let silent = create_failure(Fault::Status {
        status: 429,
        body: serde_json::json!({"title": "Too Many Requests"}),
    })
    .await;
    assert_eq!(
        (silent.class(), silent.retry_after()),
        (ErrorClass::RateLimited, None)
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_error_statuses_are_classified() {
    support::capture_logs();
    let problem = |status: u16, title: &str, detail: &str| serde_json::json!({"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": "/v1/predictions"});
    let cases = [
        (
            402,
            problem(402, "Payment required", "You have reached your spend limit"),
            ErrorClass::QuotaExhausted,
        ),
        (
            422,
            problem(
                422,
                "Input validation failed",
                "- input.prompt: Invalid type. Expected: string",
            ),
            ErrorClass::BadRequest,
        ),
        (
            400,
            problem(400, "Bad request", "The request body is invalid"),
            ErrorClass::BadRequest,
        ),
        (
            404,
            problem(
                404,
                "Not found",
                "The requested resource could not be found.",
            ),
            ErrorClass::Misconfigured,
        ),
        (
            403,
            problem(403, "Forbidden", "You do not have permission"),
            ErrorClass::Misconfigured,
        ),
        (
            418,
            serde_json::json!({"unexpected": true}),
            ErrorClass::BadRequest,
        ),
    ];
    for (status, body, class) in cases {
        let e = create_failure(Fault::Status { status, body }).await;
        assert_eq!(
            (e.class(), e.status()),
            (class, Some(status)),
            "{status}: {e}"
        );
    }
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_a_misconfiguration_and_never_shown() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let wrong = "r8_wrong_token_0123456789";
    let e = submit(
        &adapter(&emu),
        &video(),
        &ctx().with_credential(Credential::new("user:1", wrong)),
    )
    .await
    .unwrap_err();
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
    for status in [500, 502, 503] {
        let e = create_failure(Fault::ServerError(status)).await;
        assert_eq!(
            (e.class(), e.status()),
            (ErrorClass::Transient, Some(status))
        );
    }
    let loading = create_failure(Fault::Loading {
        estimated_time: 3.0,
    })
    .await;
    assert_eq!(loading.class(), ErrorClass::Transient);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_create_leaves_acceptance_unknown() {
    support::capture_logs();
    let e = create_failure(Fault::Hang).await;
    // The create may have been accepted: the router must not send it elsewhere too.
    assert_eq!(e.class(), ErrorClass::AcceptanceUnknown);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_call_that_creates_nothing_is_transient() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    emu.push_fault(Fault::Hang);
    let e = adapter(&emu)
        .validate_credentials(&Credential::new("user:1", EMULATOR_KEY))
        .await
        .unwrap_err();
    support::assert_error_clean(&e, EMULATOR_KEY);
    assert_eq!(e.class(), ErrorClass::Transient);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_after_a_create_leaves_acceptance_unknown() {
    support::capture_logs();
    let e = create_failure(Fault::MalformedJson).await;
    assert_eq!(e.class(), ErrorClass::AcceptanceUnknown);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_output_that_ends_within_the_timeout_is_downloaded() {
    support::capture_logs();
    let status = job_outcome(
        Some(Fault::SlowBody {
            delay: Duration::from_millis(40),
            chunks: 4,
        }),
        &video(),
    )
    .await;
    let JobStatus::Succeeded(media) = status.unwrap() else {
        panic!()
    };
    support::assert_mp4(&media);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_output_is_aborted_while_streaming() {
    support::capture_logs();
    for declared in [true, false] {
        let (outcome, sent) = job_outcome_and_bytes_sent(
            Some(Fault::Oversized {
                bytes: 64 * 1024 * 1024,
                declared,
            }),
            &video(),
        )
        .await;
        let e = outcome.unwrap_err();
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
async fn an_output_of_the_wrong_content_type_is_transient() {
    support::capture_logs();
    let e = job_outcome(Some(Fault::WrongContentType), &video())
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Transient);
    assert!(e.message().contains("text/html"), "{e}");
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_pending_then_failed_reports_a_transient_failure() {
    support::capture_logs();
    let JobStatus::Failed(e) = job_outcome(Some(Fault::ErrorIn200), &video())
        .await
        .unwrap()
    else {
        panic!()
    };
    support::assert_error_clean(&e, EMULATOR_KEY);
    assert_eq!(e.class(), ErrorClass::Transient);
    assert!(e.message().contains("CUDA out of memory"), "{e}");
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_refused_by_the_safety_checker_is_content_rejected() {
    support::capture_logs();
    let request: Request = VideoRequest::new("something nsfw").into();
    let JobStatus::Failed(e) = job_outcome(None, &request).await.unwrap() else {
        panic!()
    };
    assert_eq!(e.class(), ErrorClass::ContentRejected);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_never_finishing_job_runs_until_cancelled() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    emu.push_fault(Fault::NeverFinish);
    let r = adapter(&emu);
    let job = pending(&r, &video()).await;
    for _ in 0..5 {
        assert!(matches!(
            r.poll(&job, &ctx()).await.unwrap(),
            JobStatus::Running { .. }
        ));
    }
    r.cancel(&job, &ctx()).await.unwrap();
    assert!(
        emu.requests()
            .iter()
            .any(|q| q.method == "POST" && q.path == format!("/v1/predictions/{}/cancel", job.id))
    );
    let JobStatus::Failed(e) = r.poll(&job, &ctx()).await.unwrap() else {
        panic!("a cancelled job is over")
    };
    assert_eq!(e.class(), ErrorClass::Transient);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_of_unknown_or_foreign_jobs_are_safe() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let r = adapter(&emu);
    // A locator on another host is ignored: the token only goes to the configured API.
    let foreign = JobHandle::new("nosuchjob").with_locator("https://evil.example/v1/predictions/x");
    let e = clean(r.poll(&foreign, &ctx()).await).unwrap_err();
    assert_eq!(
        (e.class(), e.status()),
        (ErrorClass::Misconfigured, Some(404))
    );
    assert_eq!(emu.requests()[0].path, "/v1/predictions/nosuchjob");
    let e = clean(r.cancel(&JobHandle::new("../account"), &ctx()).await).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Misconfigured);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_validated_with_the_account() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let r = adapter(&emu);
    r.validate_credentials(&Credential::new("user:1", EMULATOR_KEY))
        .await
        .unwrap();
    let wrong = "r8_not_a_real_token";
    let e = r
        .validate_credentials(&Credential::new("user:2", wrong))
        .await
        .unwrap_err();
    support::assert_error_clean(&e, wrong);
    assert_eq!(e.class(), ErrorClass::Misconfigured);
    assert!(emu.requests().iter().all(|q| q.path == "/v1/account"));
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimates_use_seconds_of_video_and_the_price_table() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    let r = adapter(&emu);
    let four_seconds = r.estimate(&video(), None);
    assert_eq!(
        (four_seconds.video_millis, four_seconds.cost_micros),
        (4_000, 200_000)
    );
    // An unlisted model costs what the default model of its kind costs.
    assert_eq!(
        r.estimate(&video(), Some("someone/else:abc")).cost_micros,
        200_000
    );
    let speech = r.estimate(&SpeechRequest::new("1234567890").into(), None);
    assert_eq!((speech.characters, speech.cost_micros), (10, 600));
    let mut bad = config(&emu);
    bad.prefer_wait = 61;
    assert!(
        Replicate::new(bad, clock::system())
            .unwrap_err()
            .to_string()
            .contains("replicate.prefer_wait")
    );
    let mut bad_model = config(&emu);
    bad_model.video_model = "no-owner".into();
    assert!(
        Replicate::new(bad_model, clock::system())
            .unwrap_err()
            .to_string()
            .contains("replicate.video_model")
    );
    logs_clean();
}

// ---- webhooks ----

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn sign(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let key = engine
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    engine.encode(mac.finalize().into_bytes())
}

fn webhook_headers(id: &str, timestamp: u64, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", id.parse().unwrap());
    headers.insert("webhook-timestamp", timestamp.to_string().parse().unwrap());
    headers.insert("webhook-signature", signature.parse().unwrap());
    headers
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

const BODY: &[u8] = br#"{"id":"ufawqhfynnddngldkgtslldrkq","status":"succeeded"}"#;

#[test]
fn a_webhook_with_a_valid_signature_is_accepted() {
    let ts = now_secs();
    let headers = webhook_headers(
        "msg_1",
        ts,
        &format!("v1,{}", sign(SECRET, "msg_1", ts, BODY)),
    );
    assert_eq!(
        verify_webhook(&headers, BODY, SECRET, SystemTime::now()),
        Ok(())
    );
}

#[test]
fn a_tampered_body_or_a_wrong_secret_is_refused() {
    let ts = now_secs();
    let headers = webhook_headers(
        "msg_1",
        ts,
        &format!("v1,{}", sign(SECRET, "msg_1", ts, BODY)),
    );
    let tampered = br#"{"id":"ufawqhfynnddngldkgtslldrkq","status":"failed"}"#;
    assert_eq!(
        verify_webhook(&headers, tampered, SECRET, SystemTime::now()),
        Err(WebhookError::SignatureMismatch)
    );
    let other = "whsec_b3RoZXItc2VjcmV0LWtleS0xMjM0NQ==";
    let e = verify_webhook(&headers, BODY, other, SystemTime::now()).unwrap_err();
    assert_eq!(e, WebhookError::SignatureMismatch);
    support::assert_error_clean(&e, SECRET);
    support::assert_error_clean(&e, SECRET.trim_start_matches("whsec_"));
    // A replayed id under a new signature header of another id does not verify either.
    let moved = webhook_headers(
        "msg_2",
        ts,
        &format!("v1,{}", sign(SECRET, "msg_1", ts, BODY)),
    );
    assert_eq!(
        verify_webhook(&moved, BODY, SECRET, SystemTime::now()),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn an_old_or_future_timestamp_is_refused() {
    let now = SystemTime::now();
    for ts in [now_secs() - 301, now_secs() + 301] {
        let headers = webhook_headers(
            "msg_1",
            ts,
            &format!("v1,{}", sign(SECRET, "msg_1", ts, BODY)),
        );
        assert_eq!(
            verify_webhook(&headers, BODY, SECRET, now),
            Err(WebhookError::TimestampOutOfRange)
        );
    }
    let ts = now_secs() - 299;
    let headers = webhook_headers(
        "msg_1",
        ts,
        &format!("v1,{}", sign(SECRET, "msg_1", ts, BODY)),
    );
    assert_eq!(verify_webhook(&headers, BODY, SECRET, now), Ok(()));
}

#[test]
fn one_matching_signature_among_several_suffices() {
    let ts = now_secs();
    let good = sign(SECRET, "msg_1", ts, BODY);
    let old = sign("whsec_b2xkLXNlY3JldA==", "msg_1", ts, BODY);
    let header = format!("v1,{old} v1a,{good} v1,{good}");
    assert_eq!(
        verify_webhook(
            &webhook_headers("msg_1", ts, &header),
            BODY,
            SECRET,
            SystemTime::now()
        ),
        Ok(())
    );
    let only_wrong = format!("v1,{old} v1,bm9wZQ==");
    assert_eq!(
        verify_webhook(
            &webhook_headers("msg_1", ts, &only_wrong),
            BODY,
            SECRET,
            SystemTime::now()
        ),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn malformed_headers_and_secrets_say_which_check_failed() {
    let ts = now_secs();
    let sig = format!("v1,{}", sign(SECRET, "msg_1", ts, BODY));
    let now = SystemTime::now();
    let mut missing = webhook_headers("msg_1", ts, &sig);
    missing.remove("webhook-id");
    assert_eq!(
        verify_webhook(&missing, BODY, SECRET, now),
        Err(WebhookError::MissingHeader("webhook-id"))
    );
    let mut no_sig = webhook_headers("msg_1", ts, &sig);
    no_sig.remove("webhook-signature");
    assert_eq!(
        verify_webhook(&no_sig, BODY, SECRET, now),
        Err(WebhookError::MissingHeader("webhook-signature"))
    );
    let mut bad_ts = webhook_headers("msg_1", ts, &sig);
    bad_ts.insert("webhook-timestamp", "yesterday".parse().unwrap());
    assert_eq!(
        verify_webhook(&bad_ts, BODY, SECRET, now),
        Err(WebhookError::MalformedTimestamp)
    );
    let unversioned = webhook_headers("msg_1", ts, "v2,abc garbage");
    assert_eq!(
        verify_webhook(&unversioned, BODY, SECRET, now),
        Err(WebhookError::MalformedSignature)
    );
    let headers = webhook_headers("msg_1", ts, &sig);
    assert_eq!(
        verify_webhook(&headers, BODY, "not-a-secret", now),
        Err(WebhookError::MalformedSecret)
    );
    assert_eq!(
        verify_webhook(&headers, BODY, "whsec_%%%", now),
        Err(WebhookError::MalformedSecret)
    );
}

// ---- through the router ----

fn video_router(emu: &Emulator) -> (Router, Arc<ScriptedProvider>) {
    let clock = clock::system();
    let replicate = Arc::new(Replicate::new(config(emu), clock.clone()).unwrap());
    let fallback = Arc::new(ScriptedProvider::video("fallback", clock.clone()));
    let mut router_config = RouterConfig::default();
    // A failed job is not retried here, so that the failover is what the test sees.
    router_config.max_retries = 0;
    let router = Router::builder(clock)
        .config(router_config)
        .endpoint(
            Endpoint::new(replicate)
                .credential(Credential::new("operator", EMULATOR_KEY))
                .priority(0),
        )
        .endpoint(Endpoint::new(fallback.clone()).priority(1))
        .build()
        .unwrap();
    (router, fallback)
}

async fn route(router: &Router, deadline: Duration) -> Outcome {
    let outcome = router
        .dispatch(&video(), DispatchOptions::default().deadline(deadline))
        .await;
    support::assert_no_secret("outcome", &format!("{outcome:?}"), EMULATOR_KEY);
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_fails_over_a_job_that_failed() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    emu.push_fault(Fault::ErrorIn200);
    let (router, fallback) = video_router(&emu);
    let outcome = route(&router, Duration::from_secs(10)).await;
    let Outcome::Done {
        endpoint, attempts, ..
    } = &outcome
    else {
        panic!("expected the fallback, got {outcome:?}")
    };
    assert_eq!(endpoint.provider(), "fallback");
    assert_eq!(
        attempts[0].result,
        AttemptResult::Failed(ErrorClass::Transient)
    );
    assert_eq!(fallback.submits(), 1);
    assert!(
        emu.requests()
            .iter()
            .filter(|q| q.path.starts_with("/v1/predictions/"))
            .count()
            >= 2,
        "the job was polled"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_cancels_a_never_finishing_job_at_the_deadline_without_failing_over() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    emu.push_fault(Fault::NeverFinish);
    let (router, fallback) = video_router(&emu);
    let outcome = route(&router, Duration::from_millis(500)).await;
    let Outcome::Failed { error, attempts } = &outcome else {
        panic!("expected a failure, got {outcome:?}")
    };
    support::assert_error_clean(error, EMULATOR_KEY);
    assert_eq!(
        attempts.last().unwrap().result,
        AttemptResult::Failed(ErrorClass::AcceptanceUnknown)
    );
    assert_eq!((fallback.submits(), fallback.count(Op::Poll)), (0, 0));
    let requests = emu.requests();
    let cancels: Vec<_> = requests
        .iter()
        .filter(|q| q.method == "POST" && q.path.ends_with("/cancel"))
        .collect();
    assert_eq!(cancels.len(), 1, "{requests:?}");
    assert_eq!(
        cancels[0].header("authorization"),
        Some(format!("Bearer {EMULATOR_KEY}").as_str())
    );
    // Cancel-After tells Replicate the same deadline (5 s is its minimum).
    assert_eq!(requests[0].header("cancel-after"), Some("5s"));
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_serves_from_the_fallback_and_cools_down_after_a_throttle() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    emu.push_fault(Fault::RateLimited { retry_after: None });
    let (router, fallback) = video_router(&emu);
    let outcome = route(&router, Duration::from_secs(10)).await;
    let Outcome::Done {
        endpoint, attempts, ..
    } = &outcome
    else {
        panic!("expected the fallback, got {outcome:?}")
    };
    assert_eq!(endpoint.provider(), "fallback");
    assert_eq!(
        attempts[0].result,
        AttemptResult::Failed(ErrorClass::RateLimited)
    );
    assert_eq!(fallback.submits(), 1);
    let health = router.health();
    let replicate = health
        .iter()
        .find(|h| h.endpoint.provider() == "replicate")
        .unwrap();
    let cooldown = replicate.cooldown.expect("cooling down");
    assert!(
        cooldown > Duration::from_secs(25) && cooldown <= Duration::from_secs(30),
        "{cooldown:?}"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_does_not_fail_over_a_rejected_input() {
    support::capture_logs();
    let emu = emulator::start().await.unwrap();
    emu.push_fault(Fault::Status {
        status: 422,
        body: serde_json::json!({"title": "Input validation failed", "status": 422, "detail": "- input.duration: must be 6 or 10"}),
    });
    let (router, fallback) = video_router(&emu);
    let outcome = route(&router, Duration::from_secs(10)).await;
    let Outcome::Failed { error, attempts } = &outcome else {
        panic!("expected a failure, got {outcome:?}")
    };
    support::assert_error_clean(error, EMULATOR_KEY);
    assert_eq!(
        attempts[0].result,
        AttemptResult::Failed(ErrorClass::BadRequest)
    );
    assert_eq!(fallback.submits(), 0);
    logs_clean();
}
