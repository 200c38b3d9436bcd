//! Loopback emulator of D-ID's talks API: uploads (`/images`, `/audios`), talks as async
//! jobs (created → started → done, one step per poll), results served from
//! `{base}/files/<id>.mp4` like D-ID's pre-signed URLs, credits, and D-ID's error shapes
//! (`{"kind", "description", "details"}`, gateway `{"message"}`).
//!
//! A text script containing [`REJECT_MARKER`] ends its talk `rejected`; one containing
//! [`ERROR_MARKER`] ends it in `error`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Value, json as j};

use super::multipart;
use super::{Control, Emulator, Fault, json, json_with_retry_after, media};
use crate::testkit::{mp3_frame, mp4_boxes, png_1x1};

/// The key the emulator accepts, in D-ID's `user:password` form; the header it expects is
/// `Basic ` + base64 of it ([`encoded_key`]).
pub const EMULATOR_KEY: &str = "emulator-user:sk-emulator-did-key";

/// A text script containing this ends its talk `rejected` (content moderation).
pub const REJECT_MARKER: &str = "[emulator:reject]";

/// A text script containing this ends its talk in `error`.
pub const ERROR_MARKER: &str = "[emulator:error]";

/// Polls answered `started` before a talk is `done`.
pub const RUNNING_POLLS: u32 = 1;

/// Duration the emulator reports for every finished talk, in seconds.
pub const RESULT_SECONDS: f64 = 2.5;

/// Size of the `mdat` payload of the emulator's videos.
const VIDEO_PAYLOAD: usize = 4096;

/// [`EMULATOR_KEY`] base64-encoded: the form a key may be issued in already.
pub fn encoded_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(EMULATOR_KEY)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Done,
    Rejected,
    Error,
}

struct Talk {
    polls_left: u32,
    end: End,
    never: bool,
}

struct Shared {
    control: Arc<Control>,
    talks: Mutex<HashMap<String, Talk>>,
    counter: AtomicU64,
}

impl Shared {
    fn next_id(&self, prefix: &str) -> String {
        format!(
            "{prefix}_{:06}{:08x}",
            self.counter.fetch_add(1, Ordering::Relaxed),
            fastrand::u32(..)
        )
    }
}

/// Starts the emulator on 127.0.0.1.
pub async fn start() -> std::io::Result<Emulator> {
    let control = Arc::new(Control::default());
    let shared = Arc::new(Shared {
        control: control.clone(),
        talks: Mutex::new(HashMap::new()),
        counter: AtomicU64::new(1),
    });
    let app = axum::Router::new()
        .route("/talks", post(create_talk))
        .route("/talks/{id}", get(get_talk).delete(delete_talk))
        .route("/images", post(upload_image))
        .route("/audios", post(upload_audio))
        .route("/credits", get(credits))
        .route("/files/{name}", get(file))
        // Uploads up to D-ID's 10 MB limit and a little over, so the limit itself is tested.
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(shared);
    Emulator::serve(app, control).await
}

/// D-ID's API error shape.
fn error(status: u16, kind: &str, description: &str) -> Response {
    json(
        status,
        j!({"kind": kind, "description": description, "details": {}}),
    )
}

/// Base URL as the client reached us, for the URLs we hand out.
fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

enum Next {
    Respond(Response),
    Proceed { never_finish: bool },
}

/// Checks the key (gateway `{"message"}` without one, `AuthorizationError` for a wrong
/// one), then applies the next fault in D-ID's shapes.
async fn gate(shared: &Shared, headers: &HeaderMap, bytes: Vec<u8>, mime: &str) -> Next {
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Next::Respond(json(401, j!({"message": "Unauthorized"})));
    };
    if auth != format!("Basic {}", encoded_key()) {
        return Next::Respond(error(401, "AuthorizationError", "user unauthorized"));
    }
    faults(shared, bytes, mime).await
}

async fn faults(shared: &Shared, bytes: Vec<u8>, mime: &str) -> Next {
    let Some(fault) = shared.control.next_fault() else {
        return Next::Proceed {
            never_finish: false,
        };
    };
    let response = match fault {
        Fault::RateLimited { retry_after } => json_with_retry_after(
            429,
            j!({"message": "Too Many Requests"}),
            retry_after.as_deref(),
        ),
        Fault::Loading { .. } => json(503, j!({"message": "Service Unavailable"})),
        Fault::ServerError(status) => error(status, "InternalServerError", "internal server error"),
        Fault::ErrorIn200 => error(200, "InsufficientCreditsError", "not enough credits"),
        Fault::NeverFinish => return Next::Proceed { never_finish: true },
        other => match other.respond_generic(bytes, mime).await {
            Ok(response) => response,
            Err(_) => error(500, "InternalServerError", "unhandled fault"),
        },
    };
    Next::Respond(response)
}

fn str_field<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Validates a talk body like D-ID does; `Err` is the description of the 400.
fn check_talk(body: &Value) -> Result<End, String> {
    str_field(body, "source_url").ok_or("source_url is required")?;
    let script = body.get("script").ok_or("script is required")?;
    let end = match str_field(script, "type") {
        Some("text") => {
            let input = str_field(script, "input").ok_or("script.input is required")?;
            let provider = script
                .get("provider")
                .ok_or("script.provider is required")?;
            if str_field(provider, "type") != Some("microsoft") {
                return Err("script.provider.type must be microsoft".into());
            }
            str_field(provider, "voice_id").ok_or("script.provider.voice_id is required")?;
            if input.contains(REJECT_MARKER) {
                End::Rejected
            } else if input.contains(ERROR_MARKER) {
                End::Error
            } else {
                End::Done
            }
        }
        Some("audio") => {
            str_field(script, "audio_url").ok_or("script.audio_url is required")?;
            End::Done
        }
        _ => return Err("script.type must be text or audio".into()),
    };
    if let Some(format) = body.get("config").and_then(|c| c.get("result_format")) {
        if !matches!(format.as_str(), Some("mp4" | "gif" | "mov")) {
            return Err("config.result_format must be mp4, gif or mov".into());
        }
    }
    Ok(end)
}

async fn create_talk(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = shared.next_id("tlk");
    let created = j!({"id": id, "object": "talk", "created_at": "2025-01-01T00:00:00.000Z", "status": "created"});
    let never = match gate(
        &shared,
        &headers,
        created.to_string().into_bytes(),
        "application/json",
    )
    .await
    {
        Next::Respond(response) => return response,
        Next::Proceed { never_finish } => never_finish,
    };
    let Ok(talk) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "ValidationError", "the body must be JSON");
    };
    let end = match check_talk(&talk) {
        Ok(end) => end,
        Err(description) => return error(400, "ValidationError", &description),
    };
    shared
        .talks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            id,
            Talk {
                polls_left: RUNNING_POLLS,
                end,
                never,
            },
        );
    json(201, created)
}

async fn get_talk(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let never_now = match gate(&shared, &headers, b"{}".to_vec(), "application/json").await {
        Next::Respond(response) => return response,
        Next::Proceed { never_finish } => never_finish,
    };
    let status = {
        let mut talks = shared.talks.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(talk) = talks.get_mut(&id) else {
            drop(talks);
            return error(404, "NotFoundError", "talk not found");
        };
        talk.never |= never_now;
        // One step per poll: started while polls are left (forever if never-finishing).
        if talk.never {
            "started"
        } else if talk.polls_left > 0 {
            talk.polls_left -= 1;
            "started"
        } else {
            match talk.end {
                End::Done => "done",
                End::Rejected => "rejected",
                End::Error => "error",
            }
        }
    };
    let mut answer = j!({"id": id, "object": "talk", "status": status, "created_at": "2025-01-01T00:00:00.000Z"});
    match status {
        "done" => {
            answer["result_url"] = j!(format!(
                "{}/files/{id}.mp4?signature=emulated",
                base(&headers)
            ));
            answer["duration"] = j!(RESULT_SECONDS);
        }
        "rejected" => {
            answer["error"] = j!({"kind": "ContentModerationError", "description": "the image or text was rejected"})
        }
        "error" => {
            answer["error"] = j!({"kind": "InternalServerError", "description": "rendering failed"})
        }
        _ => {}
    }
    json(200, answer)
}

async fn delete_talk(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Next::Respond(response) =
        gate(&shared, &headers, b"{}".to_vec(), "application/json").await
    {
        return response;
    }
    let removed = shared
        .talks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id);
    match removed {
        Some(_) => json(200, j!({"deleted": 1})),
        None => error(404, "NotFoundError", "talk not found"),
    }
}

async fn upload(
    shared: &Shared,
    headers: &HeaderMap,
    body: &Bytes,
    field: &str,
    prefix: &str,
) -> Response {
    let id = shared.next_id(prefix);
    let extension = if prefix == "img" { "png" } else { "mp3" };
    let url = format!("{}/files/{id}.{extension}", base(headers));
    let answer = j!({"id": id, "url": url});
    if let Next::Respond(response) = gate(
        shared,
        headers,
        answer.to_string().into_bytes(),
        "application/json",
    )
    .await
    {
        return response;
    }
    let Some(fields) = multipart::parse(headers, body).await else {
        return error(
            400,
            "ValidationError",
            "the body must be multipart/form-data",
        );
    };
    let Some(part) = fields.iter().find(|f| f.name == field) else {
        return error(400, "ValidationError", &format!("{field} is required"));
    };
    if prefix == "img" {
        if part.data.len() > 10 * 1024 * 1024 {
            return error(400, "ValidationError", "image is larger than 10 MB");
        }
        let png = part.data.starts_with(b"\x89PNG");
        let jpeg = part.data.starts_with(&[0xFF, 0xD8, 0xFF]);
        if !png && !jpeg {
            return error(400, "ValidationError", "image must be jpeg or png");
        }
    }
    json(201, answer)
}

async fn upload_image(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    upload(&shared, &headers, &body, "image", "img").await
}

async fn upload_audio(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    upload(&shared, &headers, &body, "audio", "aud").await
}

async fn credits(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let body = j!({
        "credits": [{"owner_id": "emulator-user", "remaining": 100, "total": 100, "expire_at": "2099-01-01T00:00:00.000Z"}],
        "remaining": 100,
        "total": 100,
    });
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

/// Pre-signed result and upload URLs: no key is needed (and none must be sent).
async fn file(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let (bytes, mime) = if name.ends_with(".png") {
        (png_1x1(), "image/png")
    } else if name.ends_with(".mp3") {
        (mp3_frame(), "audio/mpeg")
    } else {
        (mp4_boxes(VIDEO_PAYLOAD), "video/mp4")
    };
    match faults(&shared, bytes.clone(), mime).await {
        Next::Respond(response) => response,
        Next::Proceed { .. } => media(bytes, mime),
    }
}
