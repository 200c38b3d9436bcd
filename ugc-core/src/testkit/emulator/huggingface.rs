//! Loopback emulator of Hugging Face Inference Providers (`POST /hf-inference/models/{model}`)
//! and of the Hub's `GET /api/whoami-v2`.
//!
//! Models answer like `hf-inference` (raw `audio/wav`), except two namespaces that stand for
//! the JSON answers of other inference providers: `fal-ai/*` answers
//! `{"audio": {"url": ...}}` with the file served by the emulator itself at `/files/<id>`, and
//! `base64/*` answers `{"audio": "<base64>", "sampling_rate": 8000}`. A media fault (slow,
//! oversized, wrong type) queued for a `fal-ai/*` call applies to the download of its file.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, HOST};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::json;

use super::{Control, Emulator, Fault, json, json_with_retry_after, media};
use crate::testkit::silent_wav;

/// The only token the emulator accepts.
pub const EMULATOR_KEY: &str = "sk-emulator-huggingface-key";

/// Length of the speech the emulator returns.
const SPEECH_MILLIS: u32 = 250;

/// A stored output file and the media fault its download answers with, if any.
type File = (Vec<u8>, Option<Fault>);

struct Shared {
    control: Arc<Control>,
    files: Mutex<HashMap<String, File>>,
    next_file: AtomicU64,
}

/// Starts the emulator on 127.0.0.1.
pub async fn start() -> io::Result<Emulator> {
    let control = Arc::new(Control::default());
    let shared = Arc::new(Shared {
        control: control.clone(),
        files: Mutex::new(HashMap::new()),
        next_file: AtomicU64::new(1),
    });
    let app = axum::Router::new()
        .route("/hf-inference/models/{*model}", post(generate))
        .route("/api/whoami-v2", get(whoami))
        .route("/files/{id}", get(file))
        .with_state(shared);
    Emulator::serve(app, control).await
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {EMULATOR_KEY}"))
}

fn unauthorized() -> Response {
    json(
        401,
        json!({ "error": "Invalid credentials in Authorization header" }),
    )
}

/// The Hugging Face shape of an error fault, or the fault back if it is not one.
async fn error_fault(
    fault: Fault,
    model: &str,
    wait_for_model: bool,
) -> Result<Option<Response>, Fault> {
    Ok(Some(match fault {
        Fault::RateLimited { retry_after } => json_with_retry_after(
            429,
            json!({ "error": "Rate limit reached. You reached free usage limit (reset hourly). Please subscribe to a plan." }),
            retry_after.as_deref(),
        ),
        Fault::Loading { estimated_time } if wait_for_model => {
            // `x-wait-for-model: true` holds the call while the model loads (kept short here).
            tokio::time::sleep(Duration::from_secs_f64(estimated_time.clamp(0.0, 0.2))).await;
            return Ok(None);
        }
        Fault::Loading { estimated_time } => json(
            503,
            json!({ "error": format!("Model {model} is currently loading"), "estimated_time": estimated_time }),
        ),
        Fault::ServerError(status) => json(status, json!({ "error": "Internal Server Error" })),
        Fault::ErrorIn200 => json(
            200,
            json!({ "error": "Internal error while running the model" }),
        ),
        // A synchronous API has no job: a job that never finishes is a call that never answers.
        Fault::NeverFinish => std::future::pending().await,
        other => return Err(other),
    }))
}

async fn generate(
    State(shared): State<Arc<Shared>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let inputs = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("inputs").and_then(|i| i.as_str()).map(str::to_owned));
    if inputs.as_deref().is_none_or(str::is_empty) {
        return json(
            400,
            json!({ "error": ["Error in `inputs`: field required"] }),
        );
    }
    let wav = silent_wav(SPEECH_MILLIS);
    let fal = model.starts_with("fal-ai/");
    let mut download_fault = None;
    if let Some(fault) = shared.control.next_fault() {
        let wait = headers.get("x-wait-for-model").is_some_and(|v| v == "true");
        match error_fault(fault, &model, wait).await {
            Ok(Some(response)) => return response,
            Ok(None) => {}
            Err(
                media_fault @ (Fault::SlowBody { .. }
                | Fault::Oversized { .. }
                | Fault::WrongContentType),
            ) if fal => {
                download_fault = Some(media_fault);
            }
            Err(other) => match other.respond_generic(wav.clone(), "audio/wav").await {
                Ok(response) => return response,
                Err(_) => return json(500, json!({ "error": "unsupported fault" })),
            },
        }
    }
    if fal {
        let id = shared.next_file.fetch_add(1, Ordering::Relaxed).to_string();
        let host = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let url = format!("http://{host}/files/{id}");
        let size = wav.len();
        shared
            .files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, (wav, download_fault));
        return json(
            200,
            json!({ "audio": { "url": url, "content_type": "audio/wav", "file_name": "speech.wav", "file_size": size } }),
        );
    }
    if model.starts_with("base64/") {
        let audio = base64::engine::general_purpose::STANDARD.encode(&wav);
        return json(200, json!({ "audio": audio, "sampling_rate": 8000 }));
    }
    media(wav, "audio/wav")
}

async fn whoami(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(fault) = shared.control.next_fault() {
        match error_fault(fault, "", false).await {
            Ok(Some(response)) => return response,
            Ok(None) => {}
            Err(other) => {
                if let Ok(response) = other.respond_generic(Vec::new(), "application/json").await {
                    return response;
                }
            }
        }
    }
    if !authorized(&headers) {
        return unauthorized();
    }
    json(
        200,
        json!({
            "type": "user",
            "name": "emulator",
            "fullname": "Emulator",
            "auth": { "type": "access_token", "accessToken": { "displayName": "emulator", "role": "read" } }
        }),
    )
}

async fn file(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let entry = shared
        .files
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&id)
        .cloned();
    let Some((bytes, fault)) = entry else {
        return (axum::http::StatusCode::NOT_FOUND, "not found").into_response();
    };
    match fault {
        Some(fault) => match fault.respond_generic(bytes.clone(), "audio/wav").await {
            Ok(response) => response,
            Err(_) => media(bytes, "audio/wav"),
        },
        None => media(bytes, "audio/wav"),
    }
}
