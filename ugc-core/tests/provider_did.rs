//! Contract tests of the D-ID adapter against its loopback emulator: talks as async jobs,
//! uploads, both Basic auth forms, every documented failure classified, the router's
//! reaction to a representative subset, and the key kept out of every error and log line.
#![cfg(feature = "d-id")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ugc_core::provider::{
    CallContext, ErrorClass, JobHandle, JobStatus, Provider, ProviderError, Submission,
};
use ugc_core::providers::did::{Did, DidConfig};
use ugc_core::providers::http::HttpSettings;
use ugc_core::request::{AvatarRequest, MediaInput, Request, Script};
use ugc_core::router::{AttemptResult, DispatchOptions, Endpoint, Outcome, Router, RouterConfig};
use ugc_core::testkit::emulator::did::{
    EMULATOR_KEY, ERROR_MARKER, REJECT_MARKER, RESULT_SECONDS, RUNNING_POLLS, encoded_key, start,
};
use ugc_core::testkit::emulator::{Emulator, Fault};
use ugc_core::testkit::{ScriptedProvider, mp3_frame, png_1x1};
use ugc_core::{Credential, ErrorKind};

const MIB: u64 = 1024 * 1024;

fn key() -> Credential {
    Credential::new("operator", EMULATOR_KEY)
}

fn config(emulator: &Emulator) -> DidConfig {
    DidConfig::new(key()).http(
        HttpSettings::new(emulator.base_url())
            .timeout(Duration::from_millis(300))
            .max_download_bytes(MIB),
    )
}

fn adapter(emulator: &Emulator) -> Did {
    Did::new(config(emulator), ugc_core::clock::system()).unwrap()
}

fn ctx() -> CallContext {
    CallContext::new(Instant::now() + Duration::from_secs(60))
}

fn talk(text: &str) -> Request {
    AvatarRequest::new(
        MediaInput::Url("https://example.com/face.jpg".into()),
        Script::Text(text.into()),
    )
    .into()
}

fn hello() -> Request {
    talk("Hello and welcome to the show.")
}

fn clean(error: ProviderError) -> ProviderError {
    support::assert_error_clean(&error, EMULATOR_KEY);
    error
}

fn logs_clean() {
    support::assert_no_secret("logs", &support::captured_logs(), EMULATOR_KEY);
}

async fn submit_err(did: &Did, request: &Request) -> ProviderError {
    clean(
        did.submit(request, &ctx())
            .await
            .expect_err("the submit should fail"),
    )
}

async fn pending(did: &Did, request: &Request) -> JobHandle {
    match did.submit(request, &ctx()).await {
        Ok(Submission::Pending(job)) => job,
        other => panic!("expected a talk, got {other:?}"),
    }
}

async fn poll(did: &Did, job: &JobHandle) -> Result<JobStatus, ProviderError> {
    did.poll(job, &ctx()).await.map_err(clean)
}

/// Polls through the `started` answers to the end.
async fn finish(did: &Did, job: &JobHandle) -> Result<JobStatus, ProviderError> {
    for _ in 0..RUNNING_POLLS {
        assert!(matches!(
            poll(did, job).await,
            Ok(JobStatus::Running { .. })
        ));
    }
    poll(did, job).await
}

/// A `done` answer to the next `GET /talks/{id}`, so that the fault queued after it hits
/// the result download.
fn done_answer(emulator: &Emulator, job: &JobHandle) -> Fault {
    Fault::Status {
        status: 200,
        body: json!({"id": job.id, "status": "done", "duration": 1.0,
                     "result_url": format!("{}/files/{}.mp4", emulator.base_url(), job.id)}),
    }
}

fn sent_json(emulator: &Emulator, path: &str) -> Value {
    let request = emulator
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == path)
        .unwrap();
    serde_json::from_slice(&request.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_avatar_job_goes_pending_then_done_with_the_mp4_downloaded() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    let job = pending(&did, &hello()).await;
    assert!(job.id.starts_with("tlk_"));
    assert_eq!(job.poll_after, Some(Duration::from_secs(2)));
    let Ok(JobStatus::Succeeded(media)) = finish(&did, &job).await else {
        panic!("expected the video")
    };
    support::assert_mp4(&media);
    assert_eq!(
        media.duration,
        Some(Duration::from_secs_f64(RESULT_SECONDS))
    );
    let body = sent_json(&emulator, "/talks");
    assert_eq!(
        body,
        json!({
            "source_url": "https://example.com/face.jpg",
            "script": {"type": "text", "input": "Hello and welcome to the show.", "ssml": false,
                       "provider": {"type": "microsoft", "voice_id": "en-US-JennyNeural"}},
            "config": {"result_format": "mp4"},
        })
    );
    let requests = emulator.requests();
    let download = requests
        .iter()
        .find(|r| r.path.starts_with("/files/"))
        .unwrap();
    assert_eq!(
        download.header("authorization"),
        None,
        "the key never goes to the result URL"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_voice_of_the_call_is_used_and_audio_scripts_are_sent_as_audio() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    did.submit(&hello(), &ctx().with_voice("en-GB-SoniaNeural"))
        .await
        .unwrap();
    assert_eq!(
        sent_json(&emulator, "/talks")["script"]["provider"]["voice_id"],
        "en-GB-SoniaNeural"
    );
    let audio = AvatarRequest::new(
        MediaInput::Url("https://example.com/face.png".into()),
        Script::Audio(MediaInput::Url("https://example.com/voice.mp3".into())),
    )
    .into();
    pending(&did, &audio).await;
    assert_eq!(
        sent_json(&emulator, "/talks")["script"],
        json!({"type": "audio", "audio_url": "https://example.com/voice.mp3"})
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_and_audio_bytes_are_uploaded_first() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    let request = AvatarRequest::new(
        MediaInput::Bytes {
            data: png_1x1().into(),
            mime: "image/png".into(),
        },
        Script::Audio(MediaInput::Bytes {
            data: mp3_frame().into(),
            mime: "audio/mpeg".into(),
        }),
    )
    .into();
    let job = pending(&did, &request).await;
    let paths: Vec<String> = emulator
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(paths, ["POST /audios", "POST /images", "POST /talks"]);
    let body = sent_json(&emulator, "/talks");
    assert!(body["source_url"].as_str().unwrap().contains("/files/img_"));
    assert!(
        body["script"]["audio_url"]
            .as_str()
            .unwrap()
            .contains("/files/aud_")
    );
    let Ok(JobStatus::Succeeded(media)) = finish(&did, &job).await else {
        panic!()
    };
    support::assert_mp4(&media);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_anything_is_sent() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    let with_image = |data: Vec<u8>| -> Request {
        AvatarRequest::new(
            MediaInput::Bytes {
                data: data.into(),
                mime: "image/png".into(),
            },
            Script::Text("hi".into()),
        )
        .into()
    };
    let mut big = png_1x1();
    big.resize(10 * 1024 * 1024 + 1, 0);
    let cases = [
        with_image(big),
        with_image(b"GIF89a......".to_vec()),
        talk(&"a".repeat(15 * 300 + 1)),
        talk("   "),
    ];
    for request in &cases {
        assert_eq!(
            submit_err(&did, request).await.class(),
            ErrorClass::BadRequest
        );
    }
    assert!(emulator.requests().is_empty());
    // Exactly five minutes at 15 characters a second is allowed.
    pending(&did, &talk(&"a".repeat(15 * 300))).await;
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_is_base64_of_a_user_password_key_and_a_pre_encoded_key_as_given() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let expected = format!("Basic {}", encoded_key());
    for credential in [key(), Credential::new("operator", encoded_key())] {
        let did = Did::new(
            DidConfig::new(credential).http(HttpSettings::new(emulator.base_url())),
            ugc_core::clock::system(),
        )
        .unwrap();
        pending(&did, &hello()).await;
        let sent = emulator
            .requests()
            .last()
            .unwrap()
            .header("authorization")
            .map(str::to_owned);
        assert_eq!(sent.as_deref(), Some(expected.as_str()));
    }
    let wrong = Did::new(
        DidConfig::new(Credential::new("u", "someone:else-entirely"))
            .http(HttpSettings::new(emulator.base_url())),
        ugc_core::clock::system(),
    )
    .unwrap();
    let e = wrong.submit(&hello(), &ctx()).await.unwrap_err();
    support::assert_error_clean(&e, "someone:else-entirely");
    assert_eq!(
        (e.class(), e.status()),
        (ErrorClass::Misconfigured, Some(401))
    );
    assert!(e.message().contains("AuthorizationError"), "{e}");
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_credentials_reads_the_credits() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    did.validate_credentials(&key()).await.unwrap();
    did.validate_credentials(&Credential::new("p", encoded_key()))
        .await
        .unwrap();
    assert_eq!(emulator.requests()[0].path, "/credits");
    let e = did
        .validate_credentials(&Credential::new("u", "nobody:nothing"))
        .await
        .unwrap_err();
    support::assert_error_clean(&e, "nobody:nothing");
    assert_eq!(e.class(), ErrorClass::Misconfigured);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_talk_is_content_rejected_and_not_failed_over_by_default() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    let rejected = talk(&format!("say this {REJECT_MARKER}"));
    let job = pending(&did, &rejected).await;
    let Ok(JobStatus::Failed(e)) = finish(&did, &job).await else {
        panic!()
    };
    assert_eq!(clean(e).class(), ErrorClass::ContentRejected);

    let (router, fallback) = fleet(&emulator, key(), RouterConfig::default());
    let out = router.dispatch(&rejected, DispatchOptions::default()).await;
    support::assert_no_secret("outcome", &format!("{out:?}"), EMULATOR_KEY);
    let Outcome::Failed { error, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(error.kind(), ErrorKind::ContentRejected);
    assert_eq!(fallback.submits(), 0);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_talk_that_ends_in_error_is_a_transient_failure_and_fails_over() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    let failing = talk(&format!("say this {ERROR_MARKER}"));
    let job = pending(&did, &failing).await;
    let Ok(JobStatus::Failed(e)) = finish(&did, &job).await else {
        panic!()
    };
    assert_eq!(clean(e).class(), ErrorClass::Transient);

    let (router, fallback) = fleet(&emulator, key(), no_retries());
    let out = router.dispatch(&failing, DispatchOptions::default()).await;
    assert_eq!(support::served_by(&out), Some("fallback"));
    assert_eq!(
        out.attempts()[0].result,
        AttemptResult::Failed(ErrorClass::Transient)
    );
    assert_eq!(fallback.submits(), 1);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_honour_retry_after_in_seconds_and_as_a_date_and_have_no_default() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    emulator.push_fault(Fault::RateLimited {
        retry_after: Some("5".into()),
    });
    let e = submit_err(&did, &hello()).await;
    assert_eq!(
        (e.class(), e.retry_after(), e.status()),
        (
            ErrorClass::RateLimited,
            Some(Duration::from_secs(5)),
            Some(429)
        )
    );
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(40));
    emulator.push_fault(Fault::RateLimited {
        retry_after: Some(date),
    });
    let wait = submit_err(&did, &hello()).await.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(35) && wait <= Duration::from_secs(40),
        "{wait:?}"
    );
    emulator.push_fault(Fault::RateLimited { retry_after: None });
    let e = submit_err(&did, &hello()).await;
    assert_eq!(
        (e.class(), e.retry_after()),
        (ErrorClass::RateLimited, None),
        "D-ID documents no limits: the router's default applies"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_errors_map_to_their_classes() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    let api =
        |kind: &str| json!({"kind": kind, "description": "described", "details": {"field": "why"}});
    let cases = [
        (400, api("ValidationError"), ErrorClass::BadRequest),
        (401, api("AuthorizationError"), ErrorClass::Misconfigured),
        (
            402,
            api("InsufficientCreditsError"),
            ErrorClass::QuotaExhausted,
        ),
        (
            403,
            json!({"message": "Forbidden"}),
            ErrorClass::Misconfigured,
        ),
        (
            401,
            json!({"message": "Unauthorized"}),
            ErrorClass::Misconfigured,
        ),
        (500, api("InternalServerError"), ErrorClass::Transient),
        (
            504,
            json!({"message": "Endpoint request timed out"}),
            ErrorClass::Transient,
        ),
    ];
    for (status, body, class) in cases {
        emulator.push_fault(Fault::Status {
            status,
            body: body.clone(),
        });
        let e = submit_err(&did, &hello()).await;
        assert_eq!((e.class(), e.status()), (class, Some(status)), "{body}");
        assert_eq!(e.retry_after(), None);
    }
    emulator.push_fault(Fault::ServerError(503));
    assert_eq!(
        submit_err(&did, &hello()).await.class(),
        ErrorClass::Transient
    );
    emulator.push_fault(Fault::Loading {
        estimated_time: 2.0,
    });
    assert_eq!(
        submit_err(&did, &hello()).await.class(),
        ErrorClass::Transient
    );
    // Without an Authorization header the gateway answers, in its own shape.
    let bare = reqwest::get(format!("{}/credits", emulator.base_url()))
        .await
        .unwrap();
    assert_eq!(bare.status().as_u16(), 401);
    assert_eq!(
        bare.json::<Value>().await.unwrap(),
        json!({"message": "Unauthorized"})
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_is_transient_except_on_the_talk_submit_where_acceptance_is_unknown() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    emulator.push_fault(Fault::Hang);
    assert_eq!(
        submit_err(&did, &hello()).await.class(),
        ErrorClass::AcceptanceUnknown
    );
    let upload = AvatarRequest::new(
        MediaInput::Bytes {
            data: png_1x1().into(),
            mime: "image/png".into(),
        },
        Script::Text("hi".into()),
    )
    .into();
    emulator.push_fault(Fault::Hang);
    assert_eq!(
        submit_err(&did, &upload).await.class(),
        ErrorClass::Transient,
        "nothing paid is started by an upload"
    );
    let job = pending(&did, &hello()).await;
    emulator.push_fault(Fault::Hang);
    assert_eq!(
        poll(&did, &job).await.unwrap_err().class(),
        ErrorClass::Transient
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_result_download_within_the_timeout_succeeds() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    let job = pending(&did, &hello()).await;
    emulator.push_fault(done_answer(&emulator, &job));
    emulator.push_fault(Fault::SlowBody {
        delay: Duration::from_millis(40),
        chunks: 4,
    });
    let Ok(JobStatus::Succeeded(media)) = poll(&did, &job).await else {
        panic!()
    };
    support::assert_mp4(&media);
    assert_eq!(media.duration, Some(Duration::from_secs(1)));
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_results_are_aborted_while_streaming() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    let job = pending(&did, &hello()).await;
    for declared in [true, false] {
        emulator.push_fault(done_answer(&emulator, &job));
        emulator.push_fault(Fault::Oversized {
            bytes: 64 * MIB as usize,
            declared,
        });
        let e = poll(&did, &job).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Transient, "declared {declared}");
    }
    let sent = emulator.bytes_sent();
    assert!(
        sent.iter().all(|n| *n < support::ABORTED_BELOW),
        "the bodies were read on: {sent:?}"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_errors_in_200_and_wrong_content_types_are_handled() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    emulator.push_fault(Fault::MalformedJson);
    assert_eq!(
        submit_err(&did, &hello()).await.class(),
        ErrorClass::Transient
    );
    emulator.push_fault(Fault::ErrorIn200);
    assert_eq!(
        submit_err(&did, &hello()).await.class(),
        ErrorClass::QuotaExhausted,
        "InsufficientCreditsError in a 200"
    );
    let job = pending(&did, &hello()).await;
    emulator.push_fault(Fault::MalformedJson);
    assert_eq!(
        poll(&did, &job).await.unwrap_err().class(),
        ErrorClass::Transient
    );
    emulator.push_fault(Fault::ErrorIn200);
    let Ok(JobStatus::Failed(e)) = poll(&did, &job).await else {
        panic!()
    };
    assert_eq!(clean(e).class(), ErrorClass::QuotaExhausted);
    emulator.push_fault(done_answer(&emulator, &job));
    emulator.push_fault(Fault::WrongContentType);
    assert_eq!(
        poll(&did, &job).await.unwrap_err().class(),
        ErrorClass::Transient
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_talk_that_never_finishes_is_cancelled_at_the_deadline() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    emulator.push_fault(Fault::NeverFinish);
    let job = pending(&did, &hello()).await;
    for _ in 0..5 {
        assert!(matches!(
            poll(&did, &job).await,
            Ok(JobStatus::Running { .. })
        ));
    }
    let (router, fallback) = fleet(&emulator, key(), RouterConfig::default());
    emulator.push_fault(Fault::NeverFinish);
    let out = router
        .dispatch(
            &hello(),
            DispatchOptions::default().deadline(Duration::from_millis(400)),
        )
        .await;
    support::assert_no_secret("outcome", &format!("{out:?}"), EMULATOR_KEY);
    assert_eq!(
        out.attempts()[0].result,
        AttemptResult::Failed(ErrorClass::AcceptanceUnknown)
    );
    assert_eq!(
        fallback.submits(),
        0,
        "a running talk is never duplicated elsewhere"
    );
    assert!(
        emulator
            .requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.path.starts_with("/talks/tlk_")),
        "cancelled"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_deletes_the_talk_and_an_unknown_talk_is_already_gone() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    let job = pending(&did, &hello()).await;
    did.cancel(&job, &ctx()).await.unwrap();
    let Ok(JobStatus::Failed(e)) = poll(&did, &job).await else {
        panic!()
    };
    assert_eq!(
        (e.class(), e.status()),
        (ErrorClass::Misconfigured, Some(404))
    );
    did.cancel(&job, &ctx()).await.unwrap();
    assert_eq!(
        clean(
            did.poll(&JobHandle::new("../credits"), &ctx())
                .await
                .unwrap_err()
        )
        .class(),
        ErrorClass::BadRequest
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimates_price_the_expected_video_seconds() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    let usage = did.estimate(&talk(&"a".repeat(150)), None);
    assert_eq!(
        (usage.characters, usage.video_millis, usage.cost_micros),
        (150, 10_000, 500_000)
    );
    let audio = AvatarRequest::new(
        MediaInput::Url("https://example.com/f.jpg".into()),
        Script::Audio(MediaInput::Url("https://example.com/a.mp3".into())),
    )
    .into();
    assert_eq!(did.estimate(&audio, None).video_millis, 60_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_name_the_field_and_debug_hides_the_key() {
    support::capture_logs();
    let clock = ugc_core::clock::system;
    let bad = DidConfig::new(key()).base_url("d-id.com");
    assert!(
        Did::new(bad, clock())
            .unwrap_err()
            .to_string()
            .contains("did.base_url")
    );
    let bad = DidConfig::new(key()).poll_interval(Duration::ZERO);
    assert!(
        Did::new(bad, clock())
            .unwrap_err()
            .to_string()
            .contains("did.poll_interval")
    );
    let bad = DidConfig::new(key()).voice("");
    assert!(
        Did::new(bad, clock())
            .unwrap_err()
            .to_string()
            .contains("did.default_voice")
    );
    let did = Did::new(DidConfig::new(key()), clock()).unwrap();
    support::assert_no_secret(
        "Debug",
        &format!("{did:?} {:?}", DidConfig::new(key())),
        EMULATOR_KEY,
    );
}

// --- through the router: the adapter first, a scripted fallback second ---

fn fleet(
    emulator: &Emulator,
    credential: Credential,
    config: RouterConfig,
) -> (Router, Arc<ScriptedProvider>) {
    let did = Did::new(
        self::config(emulator).poll_interval(Duration::from_millis(20)),
        ugc_core::clock::system(),
    )
    .unwrap();
    let fallback = Arc::new(ScriptedProvider::video(
        "fallback",
        ugc_core::clock::system(),
    ));
    let router = Router::builder(ugc_core::clock::system())
        .config(config)
        .endpoint(Endpoint::new(Arc::new(did)).credential(credential))
        .endpoint(Endpoint::new(fallback.clone()).priority(1))
        .build()
        .unwrap();
    (router, fallback)
}

fn no_retries() -> RouterConfig {
    let mut config = RouterConfig::default();
    config.max_retries = 0;
    config
}

async fn route(router: &Router) -> Outcome {
    let out = router.dispatch(&hello(), DispatchOptions::default()).await;
    support::assert_no_secret("outcome", &format!("{out:?}"), EMULATOR_KEY);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_serves_from_d_id_when_it_works() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let (router, fallback) = fleet(&emulator, key(), RouterConfig::default());
    let out = route(&router).await;
    assert_eq!(support::served_by(&out), Some("d-id"));
    let Outcome::Done { media, .. } = out else {
        unreachable!()
    };
    support::assert_mp4(&media);
    assert_eq!(fallback.submits(), 0);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_fails_over_on_a_rate_limit_and_cools_d_id_down() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let (router, _) = fleet(&emulator, key(), RouterConfig::default());
    emulator.push_fault(Fault::RateLimited {
        retry_after: Some("30".into()),
    });
    let out = route(&router).await;
    assert_eq!(support::served_by(&out), Some("fallback"));
    assert_eq!(
        out.attempts()[0].result,
        AttemptResult::Failed(ErrorClass::RateLimited)
    );
    assert!(router.health()[0].cooldown.unwrap() > Duration::from_secs(25));
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_does_not_fail_over_a_validation_error() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let (router, fallback) = fleet(&emulator, key(), RouterConfig::default());
    emulator.push_fault(Fault::Status {
        status: 400,
        body: json!({"kind": "ValidationError", "description": "source_url is not an image"}),
    });
    let out = route(&router).await;
    let Outcome::Failed { error, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(error.kind(), ErrorKind::UpstreamRejected);
    support::assert_error_clean(error, EMULATOR_KEY);
    assert_eq!(fallback.submits(), 0);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_fails_over_a_server_error() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let (router, fallback) = fleet(&emulator, key(), no_retries());
    emulator.push_fault(Fault::ServerError(500));
    let out = route(&router).await;
    assert_eq!(support::served_by(&out), Some("fallback"));
    assert_eq!(
        out.attempts()[0].result,
        AttemptResult::Failed(ErrorClass::Transient)
    );
    assert_eq!(fallback.submits(), 1);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_fails_over_a_wrong_key_and_marks_d_id_misconfigured() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let wrong = "intruder:not-the-password";
    let (router, _) = fleet(
        &emulator,
        Credential::new("user:2", wrong),
        RouterConfig::default(),
    );
    let out = route(&router).await;
    support::assert_no_secret("outcome", &format!("{out:?}"), wrong);
    assert_eq!(support::served_by(&out), Some("fallback"));
    assert_eq!(
        out.attempts()[0].result,
        AttemptResult::Failed(ErrorClass::Misconfigured)
    );
    assert!(router.health()[0].misconfigured.is_some());
    support::assert_no_secret("logs", &support::captured_logs(), wrong);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_never_appears_in_any_log_line_or_error() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let did = adapter(&emulator);
    emulator.push_fault(Fault::Status {
        status: 401,
        body: json!({"kind": "AuthorizationError", "description": format!("bad key {EMULATOR_KEY} / {}", encoded_key())}),
    });
    let e = submit_err(&did, &hello()).await;
    assert!(e.message().contains("[redacted]"), "{e}");
    tracing::info!(target: "ugc::test", error = %e, "seen");
    logs_clean();
}
