//! Loopback emulator of Replicate's predictions API: create (by model or by version), get,
//! cancel, `GET /v1/account`, and the output files at `/files/<id>`.
//!
//! A prediction is `starting` when created and moves one step per poll: `processing`, then
//! `succeeded` (or `failed`). Models whose name ends in `-fast` finish within the
//! `Prefer: wait` window, so the create call answers `succeeded`. Inputs with `text` and no
//! `image` are speech (a WAV output, as a string); the rest is video (an MP4; an avatar's
//! output comes as a one-element array). Any input string containing `nsfw` fails the
//! prediction with Replicate's safety-checker wording.
//!
//! Faults apply to the next create (or account) call: errors in Replicate's RFC 7807 shape;
//! `ErrorIn200` makes the prediction fail ("CUDA out of memory") once polled; `NeverFinish`
//! keeps it processing until cancelled; media faults (slow, oversized, wrong type) apply to
//! the download of its output file.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, HOST};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json};

use super::{Control, Emulator, Fault, json, json_with_retry_after, media};
use crate::testkit::{mp4_boxes, silent_wav};

/// The only token the emulator accepts.
pub const EMULATOR_KEY: &str = "sk-emulator-replicate-key";

struct Job {
    model: String,
    version: Option<String>,
    input: Value,
    /// Polls answered so far.
    stage: u32,
    never_finish: bool,
    failure: Option<String>,
    canceled: bool,
    speech: bool,
    avatar: bool,
    download_fault: Option<Fault>,
}

/// An output file: bytes, content type, and the media fault its download answers with.
type File = (Vec<u8>, &'static str, Option<Fault>);

struct Shared {
    control: Arc<Control>,
    jobs: Mutex<HashMap<String, Job>>,
    files: Mutex<HashMap<String, File>>,
    next: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the emulator on 127.0.0.1.
pub async fn start() -> io::Result<Emulator> {
    let control = Arc::new(Control::default());
    let shared = Arc::new(Shared {
        control: control.clone(),
        jobs: Mutex::new(HashMap::new()),
        files: Mutex::new(HashMap::new()),
        next: AtomicU64::new(1),
    });
    let app = axum::Router::new()
        .route(
            "/v1/models/{owner}/{name}/predictions",
            post(create_for_model),
        )
        .route("/v1/predictions", post(create_for_version))
        .route("/v1/predictions/{id}", get(get_prediction))
        .route("/v1/predictions/{id}/cancel", post(cancel))
        .route("/v1/account", get(account))
        .route("/files/{id}", get(file))
        .with_state(shared);
    Emulator::serve(app, control).await
}

fn problem(status: u16, title: &str, detail: &str) -> Response {
    json(
        status,
        json!({ "type": "about:blank", "title": title, "status": status, "detail": detail, "instance": null }),
    )
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {EMULATOR_KEY}"))
}

fn unauthenticated() -> Response {
    problem(
        401,
        "Unauthenticated",
        "You did not pass a valid authentication token",
    )
}

fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// Replicate's shape of an error fault; `Err` gives back the faults that are not errors.
async fn error_fault(fault: Fault) -> Result<Response, Fault> {
    match fault {
        Fault::RateLimited { retry_after } => Ok(json_with_retry_after(
            429,
            json!({ "title": "Request was throttled.", "status": 429, "detail": "Request was throttled. Your rate limit resets in ~30s." }),
            retry_after.as_deref(),
        )),
        Fault::Loading { .. } => Ok(problem(
            503,
            "Service Unavailable",
            "The service is temporarily unavailable",
        )),
        Fault::ServerError(status) => Ok(problem(
            status,
            "Internal Server Error",
            "Something went wrong",
        )),
        Fault::Status { .. } | Fault::Hang | Fault::MalformedJson => {
            fault.respond_generic(Vec::new(), "application/json").await
        }
        other => Err(other),
    }
}

async fn create_for_model(
    State(shared): State<Arc<Shared>>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create(&shared, format!("{owner}/{name}"), false, &headers, &body).await
}

async fn create_for_version(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create(&shared, String::new(), true, &headers, &body).await
}

async fn create(
    shared: &Shared,
    model: String,
    by_version: bool,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if !authorized(headers) {
        return unauthenticated();
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return problem(400, "Invalid JSON", "The request body is not valid JSON");
    };
    let version = body
        .get("version")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if by_version && version.is_none() {
        return problem(
            422,
            "Input validation failed",
            "- version: version is required",
        );
    }
    let Some(input) = body.get("input").filter(|i| i.is_object()).cloned() else {
        return problem(422, "Input validation failed", "- input: input is required");
    };
    let mut job = Job {
        model: if model.is_empty() {
            "owner/versioned-model".to_owned()
        } else {
            model
        },
        version,
        speech: input.get("text").is_some() && input.get("image").is_none(),
        avatar: input.get("image").is_some()
            && (input.get("audio").is_some() || input.get("text").is_some()),
        failure: mentions_nsfw(&input).then(|| {
            "NSFW content detected. Try running it again, or try a different prompt.".to_owned()
        }),
        input,
        stage: 0,
        never_finish: false,
        canceled: false,
        download_fault: None,
    };
    if let Some(fault) = shared.control.next_fault() {
        match error_fault(fault).await {
            Ok(response) => return response,
            Err(Fault::ErrorIn200) => {
                job.failure = Some("CUDA out of memory. Tried to allocate 2.00 GiB".to_owned())
            }
            Err(Fault::NeverFinish) => job.never_finish = true,
            Err(media_fault) => job.download_fault = Some(media_fault),
        }
    }
    let waits = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("wait"));
    if waits && job.model.ends_with("-fast") && !job.never_finish {
        job.stage = 2;
    }
    let id = format!("emu{:024}", shared.next.fetch_add(1, Ordering::Relaxed));
    let base = base(headers);
    let response = render(shared, &id, &job, &base);
    lock(&shared.jobs).insert(id, job);
    json(201, response)
}

fn mentions_nsfw(input: &Value) -> bool {
    input.as_object().is_some_and(|fields| {
        fields.values().any(|v| {
            v.as_str()
                .is_some_and(|s| s.to_ascii_lowercase().contains("nsfw"))
        })
    })
}

/// The prediction as the API shows it now; creates its output file the first time it succeeds.
fn render(shared: &Shared, id: &str, job: &Job, base: &str) -> Value {
    let status = if job.canceled {
        "canceled"
    } else if job.stage == 0 {
        "starting"
    } else if job.stage == 1 || job.never_finish {
        "processing"
    } else if job.failure.is_some() {
        "failed"
    } else {
        "succeeded"
    };
    let output = (status == "succeeded").then(|| {
        let url = format!("{base}/files/{id}");
        let mut files = lock(&shared.files);
        files.entry(id.to_owned()).or_insert_with(|| {
            if job.speech {
                (silent_wav(250), "audio/wav", job.download_fault.clone())
            } else {
                (mp4_boxes(256), "video/mp4", job.download_fault.clone())
            }
        });
        if job.avatar { json!([url]) } else { json!(url) }
    });
    let done = matches!(status, "succeeded" | "failed" | "canceled");
    json!({
        "id": id,
        "model": job.model,
        "version": job.version.clone().unwrap_or_else(|| "hidden".to_owned()),
        "input": job.input,
        "output": output,
        "error": if status == "failed" { json!(job.failure) } else { Value::Null },
        "logs": "",
        "status": status,
        "data_removed": false,
        "created_at": "2025-01-01T00:00:00.000Z",
        "started_at": if job.stage > 0 { json!("2025-01-01T00:00:01.000Z") } else { Value::Null },
        "completed_at": if done { json!("2025-01-01T00:00:05.000Z") } else { Value::Null },
        "metrics": if done { json!({ "predict_time": 4.0, "total_time": 5.0 }) } else { json!({}) },
        "urls": {
            "get": format!("{base}/v1/predictions/{id}"),
            "cancel": format!("{base}/v1/predictions/{id}/cancel"),
            "web": format!("https://replicate.com/p/{id}"),
        },
    })
}

async fn get_prediction(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return unauthenticated();
    }
    let mut jobs = lock(&shared.jobs);
    let Some(job) = jobs.get_mut(&id) else {
        return problem(
            404,
            "Not found",
            "The requested resource could not be found.",
        );
    };
    job.stage = job.stage.saturating_add(1);
    json(200, render(&shared, &id, job, &base(&headers)))
}

async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return unauthenticated();
    }
    let mut jobs = lock(&shared.jobs);
    let Some(job) = jobs.get_mut(&id) else {
        return problem(
            404,
            "Not found",
            "The requested resource could not be found.",
        );
    };
    let finished = job.stage >= 2 && !job.never_finish;
    if !finished {
        job.canceled = true;
    }
    json(200, render(&shared, &id, job, &base(&headers)))
}

async fn account(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(fault) = shared.control.next_fault()
        && let Ok(response) = error_fault(fault).await
    {
        return response;
    }
    if !authorized(&headers) {
        return unauthenticated();
    }
    json(
        200,
        json!({ "type": "user", "username": "emulator", "name": "Emulator", "github_url": null }),
    )
}

async fn file(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let entry = lock(&shared.files).get(&id).cloned();
    let Some((bytes, mime, fault)) = entry else {
        return (axum::http::StatusCode::NOT_FOUND, "not found").into_response();
    };
    match fault {
        Some(fault) => match fault.respond_generic(bytes.clone(), mime).await {
            Ok(response) => response,
            Err(_) => media(bytes, mime),
        },
        None => media(bytes, mime),
    }
}
