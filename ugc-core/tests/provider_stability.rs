//! Contract tests of the Stability AI adapter against its loopback emulator: every documented
//! failure classified, the router's reaction to a representative subset, and the key kept
//! out of every error, outcome and log line.
#![cfg(feature = "stability")]
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

use serde_json::json;
use ugc_core::provider::{
    CallContext, ErrorClass, JobHandle, JobStatus, Provider, ProviderError, Submission,
};
use ugc_core::providers::http::HttpSettings;
use ugc_core::providers::stability::{ImageOptions, Stability, StabilityConfig};
use ugc_core::request::{MediaInput, Request, VideoRequest};
use ugc_core::router::{AttemptResult, DispatchOptions, Endpoint, Outcome, Router, RouterConfig};
use ugc_core::testkit::emulator::stability::{EMULATOR_KEY, FILTER_MARKER, RUNNING_POLLS, start};
use ugc_core::testkit::emulator::{Emulator, Fault};
use ugc_core::testkit::{ScriptedProvider, png_1x1};
use ugc_core::{Credential, ErrorKind, MediaBody};

const MIB: u64 = 1024 * 1024;

fn key() -> Credential {
    Credential::new("operator", EMULATOR_KEY)
}

fn config(emulator: &Emulator) -> StabilityConfig {
    StabilityConfig::new(key()).http(
        HttpSettings::new(emulator.base_url())
            .timeout(Duration::from_millis(300))
            .max_download_bytes(MIB),
    )
}

fn adapter(emulator: &Emulator) -> Stability {
    Stability::new(config(emulator), ugc_core::clock::system()).unwrap()
}

fn ctx() -> CallContext {
    CallContext::new(Instant::now() + Duration::from_secs(60))
}

fn text_to_video() -> Request {
    VideoRequest::new("a lighthouse at dusk")
        .size(1024, 576)
        .into()
}

fn image_to_video() -> Request {
    VideoRequest::from_image(
        MediaInput::Bytes {
            data: png_1x1().into(),
            mime: "image/png".into(),
        },
        "animate it",
    )
    .into()
}

/// Checks an error for the key and returns it.
fn clean(error: ProviderError) -> ProviderError {
    support::assert_error_clean(&error, EMULATOR_KEY);
    error
}

fn logs_clean() {
    support::assert_no_secret("logs", &support::captured_logs(), EMULATOR_KEY);
}

async fn submit_err(stability: &Stability, request: &Request) -> ProviderError {
    clean(
        stability
            .submit(request, &ctx())
            .await
            .expect_err("the submit should fail"),
    )
}

async fn pending(stability: &Stability, request: &Request) -> JobHandle {
    match stability.submit(request, &ctx()).await {
        Ok(Submission::Pending(job)) => job,
        other => panic!("expected a job, got {other:?}"),
    }
}

fn paths(emulator: &Emulator) -> Vec<String> {
    emulator
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_to_video_generates_a_still_then_polls_the_job_to_an_mp4() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    let job = pending(&stability, &text_to_video()).await;
    assert_eq!(job.id.len(), 64);
    for _ in 0..RUNNING_POLLS {
        assert!(matches!(
            stability.poll(&job, &ctx()).await,
            Ok(JobStatus::Running { .. })
        ));
    }
    let Ok(JobStatus::Succeeded(media)) = stability.poll(&job, &ctx()).await else {
        panic!("expected the video")
    };
    support::assert_mp4(&media);
    let requests = emulator.requests();
    assert_eq!(
        paths(&emulator),
        [
            "POST /v2beta/stable-image/generate/core".to_owned(),
            "POST /v2beta/image-to-video".to_owned(),
            format!("GET /v2beta/image-to-video/result/{}", job.id),
            format!("GET /v2beta/image-to-video/result/{}", job.id),
        ]
    );
    let still = &requests[0];
    assert_eq!(
        still.header("authorization"),
        Some(format!("Bearer {EMULATOR_KEY}").as_str())
    );
    assert_eq!(still.header("accept"), Some("image/*"));
    let form = String::from_utf8_lossy(&still.body);
    assert!(form.contains("name=\"aspect_ratio\"\r\n\r\n16:9"), "{form}");
    assert!(form.contains("name=\"output_format\"\r\n\r\npng"));
    let video_form = String::from_utf8_lossy(&requests[1].body);
    assert!(video_form.contains("name=\"cfg_scale\"\r\n\r\n1.8"));
    assert!(video_form.contains("name=\"motion_bucket_id\"\r\n\r\n127"));
    assert!(video_form.contains("PNG"), "the still is uploaded");
    assert_eq!(requests[2].header("accept"), Some("video/*"));
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_to_video_uploads_the_callers_image_without_a_still() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    pending(&stability, &image_to_video()).await;
    assert_eq!(paths(&emulator), ["POST /v2beta/image-to-video"]);
    let not_an_image = VideoRequest::from_image(
        MediaInput::Bytes {
            data: b"GIF89a....".to_vec().into(),
            mime: "image/gif".into(),
        },
        "x",
    )
    .into();
    assert_eq!(
        submit_err(&stability, &not_an_image).await.class(),
        ErrorClass::BadRequest
    );
    let too_much_guidance = VideoRequest::from_image(
        MediaInput::Bytes {
            data: png_1x1().into(),
            mime: "image/png".into(),
        },
        "x",
    )
    .guidance(11.0)
    .into();
    assert_eq!(
        submit_err(&stability, &too_much_guidance).await.class(),
        ErrorClass::BadRequest
    );
    assert_eq!(
        emulator.requests().len(),
        1,
        "bad input is refused before sending"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_asks_to_be_polled_no_faster_than_every_ten_seconds() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    let job = pending(&stability, &image_to_video()).await;
    assert_eq!(job.poll_after, Some(Duration::from_secs(10)));

    // The router honours the handle's interval: with 150 ms, two polls take at least 300 ms.
    let quick = Stability::new(
        config(&emulator).poll_interval(Duration::from_millis(150)),
        ugc_core::clock::system(),
    )
    .unwrap();
    let router = Router::builder(ugc_core::clock::system())
        .endpoint(Endpoint::new(Arc::new(quick)).credential(key()))
        .build()
        .unwrap();
    let started = Instant::now();
    let out = router
        .dispatch(&image_to_video(), DispatchOptions::default())
        .await;
    support::assert_no_secret("outcome", &format!("{out:?}"), EMULATOR_KEY);
    let Outcome::Done { media, .. } = out else {
        panic!("expected the video: {out:?}")
    };
    support::assert_mp4(&media);
    assert!(started.elapsed() >= Duration::from_millis(150 * u64::from(RUNNING_POLLS + 1)));
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_filtered_still_is_content_rejected_and_no_video_is_started() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    let request = VideoRequest::new(format!("a scene {FILTER_MARKER}")).into();
    let error = submit_err(&stability, &request).await;
    assert_eq!(error.class(), ErrorClass::ContentRejected);
    assert_eq!(
        paths(&emulator),
        ["POST /v2beta/stable-image/generate/core"]
    );
    let direct = stability
        .generate_image(&format!("x {FILTER_MARKER}"), &ImageOptions::default())
        .await
        .expect_err("filtered");
    assert_eq!(clean(direct).class(), ErrorClass::ContentRejected);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_image_returns_a_png_of_the_chosen_model() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    let options = ImageOptions::default()
        .model("ultra")
        .size(1080, 1920)
        .seed(7);
    let still = stability.generate_image("a fox", &options).await.unwrap();
    assert_eq!(still.mime, "image/png");
    let MediaBody::Bytes(bytes) = &still.body else {
        panic!()
    };
    assert_eq!(&bytes[1..4], b"PNG");
    let recorded = &emulator.requests()[0];
    assert_eq!(recorded.path, "/v2beta/stable-image/generate/ultra");
    assert!(String::from_utf8_lossy(&recorded.body).contains("9:16"));
    let empty = stability
        .generate_image("  ", &options)
        .await
        .expect_err("empty prompt");
    assert_eq!(clean(empty).class(), ErrorClass::BadRequest);
    let bad_model = stability
        .generate_image("a", &ImageOptions::default().model("sdxl"))
        .await;
    assert_eq!(
        clean(bad_model.unwrap_err()).class(),
        ErrorClass::BadRequest
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_honour_retry_after_in_seconds_and_as_a_date_and_default_to_ten_seconds() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    emulator.push_fault(Fault::RateLimited {
        retry_after: Some("7".into()),
    });
    let e = submit_err(&stability, &image_to_video()).await;
    assert_eq!(
        (e.class(), e.retry_after(), e.status()),
        (
            ErrorClass::RateLimited,
            Some(Duration::from_secs(7)),
            Some(429)
        )
    );

    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
    emulator.push_fault(Fault::RateLimited {
        retry_after: Some(date),
    });
    let e = submit_err(&stability, &image_to_video()).await;
    assert_eq!(e.class(), ErrorClass::RateLimited);
    let wait = e.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );

    emulator.push_fault(Fault::RateLimited { retry_after: None });
    let e = submit_err(&stability, &image_to_video()).await;
    assert_eq!(
        (e.class(), e.retry_after()),
        (ErrorClass::RateLimited, Some(Duration::from_secs(10)))
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_errors_map_to_their_classes() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    let cases = [
        (400, "bad_request", ErrorClass::BadRequest),
        (402, "payment_required", ErrorClass::QuotaExhausted),
        (403, "content_moderation", ErrorClass::ContentRejected),
        (401, "unauthorized", ErrorClass::Misconfigured),
        (413, "request_too_large", ErrorClass::BadRequest),
        (500, "internal_error", ErrorClass::Transient),
    ];
    for (status, name, class) in cases {
        emulator.push_fault(Fault::Status {
            status,
            body: json!({"id": "e1", "name": name, "errors": ["something about the request"]}),
        });
        let e = submit_err(&stability, &image_to_video()).await;
        assert_eq!(
            (e.class(), e.status()),
            (class, Some(status)),
            "{status} {name}"
        );
        assert_eq!(e.retry_after(), None);
        assert!(e.message().contains(name));
    }
    // Unknown shapes fall back to the status.
    emulator.push_fault(Fault::Status {
        status: 403,
        body: json!({"detail": "nope"}),
    });
    assert_eq!(
        submit_err(&stability, &image_to_video()).await.class(),
        ErrorClass::Misconfigured
    );
    emulator.push_fault(Fault::ServerError(503));
    assert_eq!(
        submit_err(&stability, &image_to_video()).await.class(),
        ErrorClass::Transient
    );
    emulator.push_fault(Fault::Loading {
        estimated_time: 3.0,
    });
    assert_eq!(
        submit_err(&stability, &image_to_video()).await.class(),
        ErrorClass::Transient
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_misconfigured_and_never_shown() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let wrong = "sk-wrong-stability-key-123";
    let stability = Stability::new(
        StabilityConfig::new(Credential::new("user:9", wrong))
            .http(HttpSettings::new(emulator.base_url())),
        ugc_core::clock::system(),
    )
    .unwrap();
    let e = stability
        .submit(&image_to_video(), &ctx())
        .await
        .unwrap_err();
    support::assert_error_clean(&e, wrong);
    assert_eq!(
        (e.class(), e.status()),
        (ErrorClass::Misconfigured, Some(401))
    );
    let v = stability
        .validate_credentials(&Credential::new("u", wrong))
        .await
        .unwrap_err();
    support::assert_error_clean(&v, wrong);
    assert_eq!(v.class(), ErrorClass::Misconfigured);
    stability.validate_credentials(&key()).await.unwrap();
    assert_eq!(emulator.requests().last().unwrap().path, "/v1/user/account");
    support::assert_no_secret("logs", &support::captured_logs(), wrong);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_is_transient_except_on_the_job_submit_where_acceptance_is_unknown() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    emulator.push_fault(Fault::Hang);
    let e = clean(
        stability
            .generate_image("a fox", &ImageOptions::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(e.class(), ErrorClass::Transient);
    emulator.push_fault(Fault::Hang);
    let e = submit_err(&stability, &image_to_video()).await;
    assert_eq!(
        e.class(),
        ErrorClass::AcceptanceUnknown,
        "a paid job may have started"
    );
    let job = pending(&stability, &image_to_video()).await;
    emulator.push_fault(Fault::Hang);
    let e = clean(stability.poll(&job, &ctx()).await.unwrap_err());
    assert_eq!(e.class(), ErrorClass::Transient);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_within_the_timeout_succeeds() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    emulator.push_fault(Fault::SlowBody {
        delay: Duration::from_millis(40),
        chunks: 4,
    });
    let still = stability
        .generate_image("a fox", &ImageOptions::default())
        .await
        .unwrap();
    assert_eq!(still.len(), Some(png_1x1().len()));
    let job = pending(&stability, &image_to_video()).await;
    for _ in 0..RUNNING_POLLS {
        stability.poll(&job, &ctx()).await.unwrap();
    }
    emulator.push_fault(Fault::SlowBody {
        delay: Duration::from_millis(40),
        chunks: 4,
    });
    let Ok(JobStatus::Succeeded(media)) = stability.poll(&job, &ctx()).await else {
        panic!()
    };
    support::assert_mp4(&media);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_aborted_while_streaming() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    let started = Instant::now();
    for declared in [true, false] {
        emulator.push_fault(Fault::Oversized {
            bytes: 64 * MIB as usize,
            declared,
        });
        let e = clean(
            stability
                .generate_image("a fox", &ImageOptions::default())
                .await
                .unwrap_err(),
        );
        assert_eq!(e.class(), ErrorClass::Transient, "declared {declared}");
        let job = pending(&stability, &image_to_video()).await;
        emulator.push_fault(Fault::Oversized {
            bytes: 64 * MIB as usize,
            declared,
        });
        let e = clean(stability.poll(&job, &ctx()).await.unwrap_err());
        assert_eq!(e.class(), ErrorClass::Transient, "declared {declared}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the bodies were not read to the end"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_errors_in_200_and_wrong_content_types_are_handled() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    emulator.push_fault(Fault::MalformedJson);
    assert_eq!(
        submit_err(&stability, &image_to_video()).await.class(),
        ErrorClass::Transient
    );
    emulator.push_fault(Fault::ErrorIn200);
    let e = submit_err(&stability, &image_to_video()).await;
    assert_eq!(
        e.class(),
        ErrorClass::QuotaExhausted,
        "payment_required inside a 200"
    );
    emulator.push_fault(Fault::WrongContentType);
    let e = clean(
        stability
            .generate_image("a fox", &ImageOptions::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(e.class(), ErrorClass::Transient);
    emulator.push_fault(Fault::ErrorIn200);
    let e = clean(
        stability
            .generate_image("a fox", &ImageOptions::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(e.class(), ErrorClass::QuotaExhausted);

    let job = pending(&stability, &image_to_video()).await;
    emulator.push_fault(Fault::WrongContentType);
    assert_eq!(
        clean(stability.poll(&job, &ctx()).await.unwrap_err()).class(),
        ErrorClass::Transient
    );
    emulator.push_fault(Fault::MalformedJson);
    assert_eq!(
        clean(stability.poll(&job, &ctx()).await.unwrap_err()).class(),
        ErrorClass::Transient
    );
    emulator.push_fault(Fault::ErrorIn200);
    let Ok(JobStatus::Failed(e)) = stability.poll(&job, &ctx()).await else {
        panic!()
    };
    assert_eq!(clean(e).class(), ErrorClass::QuotaExhausted);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_job_that_fails_reports_the_failure() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    let job = pending(&stability, &image_to_video()).await;
    assert!(matches!(
        stability.poll(&job, &ctx()).await,
        Ok(JobStatus::Running { .. })
    ));
    emulator.push_fault(Fault::Status {
        status: 403,
        body: json!({"id": "e", "name": "content_moderation", "errors": ["output flagged"]}),
    });
    let Ok(JobStatus::Failed(e)) = stability.poll(&job, &ctx()).await else {
        panic!()
    };
    assert_eq!(clean(e).class(), ErrorClass::ContentRejected);
    // An unknown or expired result (or one made with another key) is a 404.
    let Ok(JobStatus::Failed(e)) = stability
        .poll(&JobHandle::new("0".repeat(64)), &ctx())
        .await
    else {
        panic!()
    };
    assert_eq!(
        (e.class(), e.status()),
        (ErrorClass::Misconfigured, Some(404))
    );
    // Rate limits and 5xx while polling leave the job running: errors to retry.
    emulator.push_fault(Fault::RateLimited { retry_after: None });
    assert_eq!(
        clean(stability.poll(&job, &ctx()).await.unwrap_err()).class(),
        ErrorClass::RateLimited
    );
    emulator.push_fault(Fault::ServerError(502));
    assert_eq!(
        clean(stability.poll(&job, &ctx()).await.unwrap_err()).class(),
        ErrorClass::Transient
    );
    assert_eq!(
        clean(
            stability
                .poll(&JobHandle::new("../v1/user/account"), &ctx())
                .await
                .unwrap_err()
        )
        .class(),
        ErrorClass::BadRequest
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_never_finishes_stays_running_until_the_router_gives_up() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    emulator.push_fault(Fault::NeverFinish);
    let job = pending(&stability, &image_to_video()).await;
    for _ in 0..5 {
        assert!(matches!(
            stability.poll(&job, &ctx()).await,
            Ok(JobStatus::Running { .. })
        ));
    }
    let quick = Stability::new(
        config(&emulator).poll_interval(Duration::from_millis(50)),
        ugc_core::clock::system(),
    )
    .unwrap();
    let fallback = Arc::new(ScriptedProvider::video(
        "fallback",
        ugc_core::clock::system(),
    ));
    let router = Router::builder(ugc_core::clock::system())
        .endpoint(Endpoint::new(Arc::new(quick)).credential(key()))
        .endpoint(Endpoint::new(fallback.clone()).priority(1))
        .build()
        .unwrap();
    emulator.push_fault(Fault::NeverFinish);
    let out = router
        .dispatch(
            &image_to_video(),
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
        "a running job is never duplicated elsewhere"
    );
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimates_price_text_to_video_as_a_still_plus_a_video() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    let t2v = stability.estimate(&text_to_video(), None);
    assert_eq!(
        (t2v.cost_micros, t2v.characters, t2v.video_millis),
        (230_000, 20, 4_000)
    );
    assert_eq!(
        stability
            .estimate(&text_to_video(), Some("ultra"))
            .cost_micros,
        280_000
    );
    assert_eq!(
        stability.estimate(&image_to_video(), None).cost_micros,
        200_000
    );
    let priced = Stability::new(
        config(&emulator).price(
            "image-to-video",
            ugc_core::router::Price {
                per_request: 1,
                ..Default::default()
            },
        ),
        ugc_core::clock::system(),
    )
    .unwrap();
    assert_eq!(priced.estimate(&image_to_video(), None).cost_micros, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_name_the_field() {
    support::capture_logs();
    let clock = ugc_core::clock::system;
    let bad_url = StabilityConfig::new(key()).base_url("ftp://x");
    assert!(
        Stability::new(bad_url, clock())
            .unwrap_err()
            .to_string()
            .contains("stability.base_url")
    );
    let bad_model = StabilityConfig::new(key()).image_model("sdxl");
    assert!(
        Stability::new(bad_model, clock())
            .unwrap_err()
            .to_string()
            .contains("stability.image_model")
    );
    let no_motion = StabilityConfig::new(key()).motion_bucket_id(0);
    assert!(
        Stability::new(no_motion, clock())
            .unwrap_err()
            .to_string()
            .contains("stability.motion_bucket_id")
    );
    let ok = Stability::new(StabilityConfig::new(key()), clock()).unwrap();
    assert!(!format!("{ok:?}").contains(EMULATOR_KEY));
    assert!(!format!("{:?}", StabilityConfig::new(key())).contains(EMULATOR_KEY));
}

// --- through the router: the adapter first, a scripted fallback second ---

fn fleet(
    emulator: &Emulator,
    credential: Credential,
    config: RouterConfig,
) -> (Router, Arc<ScriptedProvider>) {
    let quick = Stability::new(
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
        .endpoint(Endpoint::new(Arc::new(quick)).credential(credential))
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
    let out = router
        .dispatch(&image_to_video(), DispatchOptions::default())
        .await;
    support::assert_no_secret("outcome", &format!("{out:?}"), EMULATOR_KEY);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_serves_from_stability_when_it_works() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let (router, fallback) = fleet(&emulator, key(), RouterConfig::default());
    let out = route(&router).await;
    assert_eq!(support::served_by(&out), Some("stability"));
    assert_eq!(fallback.submits(), 0);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_fails_over_on_a_rate_limit_and_cools_stability_down() {
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
    let cooldown = router.health()[0].cooldown.expect("stability cools down");
    assert!(cooldown > Duration::from_secs(25), "{cooldown:?}");
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_does_not_fail_over_a_bad_request() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let (router, fallback) = fleet(&emulator, key(), RouterConfig::default());
    emulator.push_fault(Fault::Status {
        status: 400,
        body: json!({"id": "e", "name": "bad_request", "errors": ["image: invalid dimensions"]}),
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
async fn router_fails_over_a_transient_failure() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let (router, fallback) = fleet(&emulator, key(), no_retries());
    emulator.push_fault(Fault::ServerError(503));
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
async fn router_fails_over_a_wrong_key_and_marks_stability_misconfigured() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let (router, _) = fleet(
        &emulator,
        Credential::new("user:1", "sk-not-the-key-0000"),
        RouterConfig::default(),
    );
    let out = route(&router).await;
    support::assert_no_secret("outcome", &format!("{out:?}"), "sk-not-the-key-0000");
    assert_eq!(support::served_by(&out), Some("fallback"));
    assert_eq!(
        out.attempts()[0].result,
        AttemptResult::Failed(ErrorClass::Misconfigured)
    );
    assert!(router.health()[0].misconfigured.is_some());
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_does_not_fail_over_moderated_content_by_default() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let (router, fallback) = fleet(&emulator, key(), RouterConfig::default());
    emulator.push_fault(Fault::Status {
        status: 403,
        body: json!({"id": "e", "name": "content_moderation", "errors": ["flagged"]}),
    });
    let out = route(&router).await;
    let Outcome::Failed { error, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(error.kind(), ErrorKind::ContentRejected);
    assert_eq!(fallback.submits(), 0);
    logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_never_appears_in_any_log_line() {
    support::capture_logs();
    let emulator = start().await.unwrap();
    let stability = adapter(&emulator);
    emulator.push_fault(Fault::Status {
        status: 401,
        body: json!({"name": "unauthorized", "errors": [format!("bad key {EMULATOR_KEY}")]}),
    });
    let e = submit_err(&stability, &image_to_video()).await;
    assert!(e.message().contains("[redacted]"), "{e}");
    tracing::info!(target: "ugc::test", error = %e, "seen");
    logs_clean();
}
