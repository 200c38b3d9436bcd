//! Loopback emulator of Stability AI's v2beta API: still generation, image to video as an
//! async job (202 while running, the MP4 when done) and the account route, with Stability's
//! error shape `{"id", "name", "errors": [...]}` and Bearer authentication.
//!
//! Jobs answer 202 for [`RUNNING_POLLS`] polls, then the video. A prompt containing
//! [`FILTER_MARKER`] makes a still come back with `finish-reason: CONTENT_FILTERED`.
//! Image sizes are not checked (the real API takes 1024x576, 576x1024 and 768x768 only).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Value, json as j};

use super::multipart::{self, Field, field};
use super::{Control, Emulator, Fault, json, json_with_retry_after, media};
use crate::testkit::{mp4_boxes, png_1x1};

/// The only key the emulator accepts (`Authorization: Bearer <key>`).
pub const EMULATOR_KEY: &str = "sk-emulator-stability-key";

/// A prompt containing this is "filtered": the still comes back with
/// `finish-reason: CONTENT_FILTERED`.
pub const FILTER_MARKER: &str = "[emulator:filter]";

/// Polls answered 202 before a job's video is ready.
pub const RUNNING_POLLS: u32 = 1;

/// Size of the `mdat` payload of the emulator's videos.
const VIDEO_PAYLOAD: usize = 4096;

struct Job {
    polls_left: u32,
    never: bool,
}

struct Shared {
    control: Arc<Control>,
    jobs: Mutex<HashMap<String, Job>>,
    counter: AtomicU64,
}

impl Shared {
    fn request_id(&self) -> String {
        format!("req-{:08x}", self.counter.fetch_add(1, Ordering::Relaxed))
    }
}

/// Starts the emulator on 127.0.0.1.
pub async fn start() -> std::io::Result<Emulator> {
    let control = Arc::new(Control::default());
    let shared = Arc::new(Shared {
        control: control.clone(),
        jobs: Mutex::new(HashMap::new()),
        counter: AtomicU64::new(1),
    });
    let app = axum::Router::new()
        .route("/v2beta/stable-image/generate/{model}", post(generate))
        .route("/v2beta/image-to-video", post(image_to_video))
        .route("/v2beta/image-to-video/result/{id}", get(result))
        .route("/v1/user/account", get(account))
        .route("/v1/user/balance", get(balance))
        // Start frames of a few MB, as the real API takes.
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(shared);
    Emulator::serve(app, control).await
}

/// Stability's error shape.
fn error(shared: &Shared, status: u16, name: &str, message: &str) -> Response {
    json(
        status,
        j!({"id": shared.request_id(), "name": name, "errors": [message]}),
    )
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {EMULATOR_KEY}"))
}

/// What to do after the fault queue: answer now, or go on (marking a job never-finishing).
enum Next {
    Respond(Response),
    Proceed { never_finish: bool },
}

/// Checks the key, then applies the next fault in Stability's shapes; `bytes`/`mime` are
/// what a success would send.
async fn gate(shared: &Shared, headers: &HeaderMap, bytes: Vec<u8>, mime: &str) -> Next {
    if !authorized(headers) {
        return Next::Respond(error(
            shared,
            401,
            "unauthorized",
            "authorization: missing or invalid API key",
        ));
    }
    let Some(fault) = shared.control.next_fault() else {
        return Next::Proceed {
            never_finish: false,
        };
    };
    let response = match fault {
        Fault::RateLimited { retry_after } => json_with_retry_after(
            429,
            j!({"id": shared.request_id(), "name": "rate_limit_exceeded",
                "errors": ["You have exceeded the rate limit of 150 requests within a 10 second period"]}),
            retry_after.as_deref(),
        ),
        Fault::Loading { .. } => error(shared, 503, "service_unavailable", "try again later"),
        Fault::ServerError(status) => error(
            shared,
            status,
            "internal_error",
            "An unexpected server error occurred",
        ),
        Fault::ErrorIn200 => error(
            shared,
            200,
            "payment_required",
            "lacking sufficient balance",
        ),
        Fault::NeverFinish => return Next::Proceed { never_finish: true },
        other => match other.respond_generic(bytes, mime).await {
            Ok(response) => response,
            Err(_) => error(shared, 500, "internal_error", "unhandled fault"),
        },
    };
    Next::Respond(response)
}

/// Checks an optional numeric field against `range`; `Err` names the field.
fn check_number(fields: &[Field], name: &str, low: f64, high: f64) -> Result<(), String> {
    match field(fields, name) {
        None => Ok(()),
        Some(f) => match f.text().trim().parse::<f64>() {
            Ok(v) if (low..=high).contains(&v) => Ok(()),
            _ => Err(format!("{name}: must be a number in [{low}, {high}]")),
        },
    }
}

fn accepts(headers: &HeaderMap, wanted: &str) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(wanted))
}

async fn generate(
    State(shared): State<Arc<Shared>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let png = png_1x1();
    if let Next::Respond(response) = gate(&shared, &headers, png.clone(), "image/png").await {
        return response;
    }
    if !["core", "ultra", "sd3"].contains(&model.as_str()) {
        return error(&shared, 404, "not_found", "unknown model");
    }
    let json_wanted = accepts(&headers, "application/json");
    if !json_wanted && !accepts(&headers, "image/") {
        return error(
            &shared,
            400,
            "bad_request",
            "accept: must be image/* or application/json",
        );
    }
    let Some(fields) = multipart::parse(&headers, &body).await else {
        return error(
            &shared,
            400,
            "bad_request",
            "content-type: must be multipart/form-data",
        );
    };
    let prompt = field(&fields, "prompt")
        .map(Field::text)
        .unwrap_or_default();
    let chars = prompt.chars().count();
    if chars == 0 || chars > 10_000 {
        return error(
            &shared,
            400,
            "bad_request",
            "prompt: must be 1-10000 characters",
        );
    }
    let ratio = field(&fields, "aspect_ratio").map_or_else(|| "1:1".to_owned(), Field::text);
    let ratios = [
        "16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21",
    ];
    if !ratios.contains(&ratio.as_str()) {
        return error(
            &shared,
            400,
            "bad_request",
            "aspect_ratio: must be one of the listed ratios",
        );
    }
    let format = field(&fields, "output_format").map_or_else(|| "png".to_owned(), Field::text);
    if !["png", "jpeg", "webp"].contains(&format.as_str()) {
        return error(
            &shared,
            400,
            "bad_request",
            "output_format: must be png, jpeg or webp",
        );
    }
    if let Err(message) = check_number(&fields, "seed", 0.0, 4_294_967_294.0) {
        return error(&shared, 400, "bad_request", &message);
    }
    let reason = if prompt.contains(FILTER_MARKER) {
        "CONTENT_FILTERED"
    } else {
        "SUCCESS"
    };
    if json_wanted {
        let image = base64::engine::general_purpose::STANDARD.encode(&png);
        return json(
            200,
            j!({"image": image, "finish_reason": reason, "seed": 42}),
        );
    }
    let mut response = media(png, "image/png");
    let h = response.headers_mut();
    h.insert("finish-reason", HeaderValue::from_static(reason));
    h.insert("seed", HeaderValue::from_static("42"));
    response
}

async fn image_to_video(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    let id = format!(
        "{:016x}{:016x}{:016x}{:016x}",
        n,
        fastrand::u64(..),
        fastrand::u64(..),
        fastrand::u64(..)
    );
    let accepted = j!({"id": id}).to_string().into_bytes();
    let never = match gate(&shared, &headers, accepted, "application/json").await {
        Next::Respond(response) => return response,
        Next::Proceed { never_finish } => never_finish,
    };
    let Some(fields) = multipart::parse(&headers, &body).await else {
        return error(
            &shared,
            400,
            "bad_request",
            "content-type: must be multipart/form-data",
        );
    };
    let Some(image) = field(&fields, "image") else {
        return error(&shared, 400, "bad_request", "image: is required");
    };
    let is_png = image.data.starts_with(b"\x89PNG");
    let is_jpeg = image.data.starts_with(&[0xFF, 0xD8, 0xFF]);
    if !is_png && !is_jpeg {
        return error(&shared, 400, "bad_request", "image: must be a jpeg or png");
    }
    for (name, low, high) in [
        ("cfg_scale", 0.0, 10.0),
        ("motion_bucket_id", 1.0, 255.0),
        ("seed", 0.0, 4_294_967_294.0),
    ] {
        if let Err(message) = check_number(&fields, name, low, high) {
            return error(&shared, 400, "bad_request", &message);
        }
    }
    shared
        .jobs
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            id.clone(),
            Job {
                polls_left: RUNNING_POLLS,
                never,
            },
        );
    json(200, j!({"id": id}))
}

async fn result(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let video = mp4_boxes(VIDEO_PAYLOAD);
    let never_now = match gate(&shared, &headers, video.clone(), "video/mp4").await {
        Next::Respond(response) => return response,
        Next::Proceed { never_finish } => never_finish,
    };
    let json_wanted = accepts(&headers, "application/json");
    if !json_wanted && !accepts(&headers, "video/") {
        return error(
            &shared,
            400,
            "bad_request",
            "accept: must be video/* or application/json",
        );
    }
    let running = {
        let mut jobs = shared.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(job) = jobs.get_mut(&id) else {
            drop(jobs);
            return error(
                &shared,
                404,
                "not_found",
                "generation not found: expired or made with another key",
            );
        };
        job.never |= never_now;
        if job.never {
            true
        } else if job.polls_left > 0 {
            job.polls_left -= 1;
            true
        } else {
            false
        }
    };
    if running {
        return json(202, j!({"id": id, "status": "in-progress"}));
    }
    if json_wanted {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&video);
        return json(
            200,
            j!({"video": encoded, "finish_reason": "SUCCESS", "seed": 42}),
        );
    }
    let mut response = media(video, "video/mp4");
    let h = response.headers_mut();
    h.insert("finish-reason", HeaderValue::from_static("SUCCESS"));
    h.insert("seed", HeaderValue::from_static("42"));
    response
}

async fn account(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let body: Value =
        j!({"id": "user-emulator", "email": "emulator@example.com", "organizations": []});
    match gate(
        &shared,
        &headers,
        body.to_string().into_bytes(),
        "application/json",
    )
    .await
    {
        Next::Respond(response) => response,
        Next::Proceed { .. } => json(200, body),
    }
}

async fn balance(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let body: Value = j!({"credits": 100.0});
    match gate(
        &shared,
        &headers,
        body.to_string().into_bytes(),
        "application/json",
    )
    .await
    {
        Next::Respond(response) => response,
        Next::Proceed { .. } => json(200, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_bodies_are_split_into_fields() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=XyZ"),
        );
        let body = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na cat\r\n--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"i.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ--\r\n",
        );
        let fields =
            futures::executor::block_on(multipart::parse(&headers, &body)).unwrap_or_default();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].text(), "a cat");
        assert_eq!(&fields[1].data[..], b"\x89PNG");
    }
}
