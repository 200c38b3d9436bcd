//! A loopback emulator of ElevenLabs' text-to-speech API: `POST /v1/text-to-speech/{voice_id}`
//! (and `/stream`), `GET /v1/user` and `GET /v1/voices`, with the `xi-api-key` header,
//! ElevenLabs' three error shapes, request validation, MP3 or PCM audio and the
//! `character-cost` header.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json as j};

use super::{Control, Emulator, Fault, json, json_with_retry_after, media};
use crate::testkit::mp3_frame;

/// The only key the emulator accepts (`xi-api-key: sk-emulator-elevenlabs-key`).
pub const EMULATOR_KEY: &str = "sk-emulator-elevenlabs-key";

/// Premade voices the emulator knows (Rachel, Sarah, Adam); others are `voice_not_found`.
pub const VOICES: [&str; 3] = [
    "21m00Tcm4TlvDq8ikWAM",
    "EXAVITQu4vr4xnSDxMaL",
    "pNInz6obpgDQGcFmaJgB",
];

/// Models and their character limits.
pub const MODELS: [(&str, usize); 6] = [
    ("eleven_multilingual_v2", 10_000),
    ("eleven_v3", 5_000),
    ("eleven_flash_v2_5", 40_000),
    ("eleven_turbo_v2_5", 40_000),
    ("eleven_flash_v2", 30_000),
    ("eleven_turbo_v2", 30_000),
];

/// Output formats the emulator serves.
pub const OUTPUT_FORMATS: [&str; 6] = [
    "mp3_44100_128",
    "mp3_22050_32",
    "pcm_16000",
    "pcm_22050",
    "pcm_24000",
    "pcm_44100",
];

struct Emu {
    control: Arc<Control>,
    next_id: AtomicU64,
}

impl Emu {
    fn request_id(&self) -> String {
        format!(
            "req_emulator_{}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// The current error shape.
    fn error(&self, status: u16, kind: &str, code: &str, message: &str) -> Response {
        json(
            status,
            j!({"detail": {"type": kind, "code": code, "message": message, "status": code, "request_id": self.request_id()}}),
        )
    }
}

/// Starts the emulator.
pub async fn start() -> std::io::Result<Emulator> {
    let control = Arc::new(Control::default());
    let emu = Arc::new(Emu {
        control: control.clone(),
        next_id: AtomicU64::new(1),
    });
    let app = axum::Router::new()
        .route("/v1/text-to-speech/{voice_id}", post(speech))
        .route("/v1/text-to-speech/{voice_id}/stream", post(speech))
        .route("/v1/user", get(user))
        .route("/v1/voices", get(voices))
        .with_state(emu);
    Emulator::serve(app, control).await
}

/// The older error shape, kept by some endpoints.
fn older_error(status: u16, code: &str, message: &str) -> Response {
    json(status, j!({"detail": {"status": code, "message": message}}))
}

/// The 401 for a missing or wrong key, or `None` when the key is right.
fn denied(emu: &Emu, headers: &HeaderMap) -> Option<Response> {
    match headers.get("xi-api-key").and_then(|v| v.to_str().ok()) {
        Some(EMULATOR_KEY) => None,
        None => Some(older_error(
            401,
            "needs_authorization",
            "Neither authorization header nor xi-api-key received, please provide one.",
        )),
        // ElevenLabs does not echo keys; the emulator does, so that scrubbing is proven.
        Some(other) => Some(emu.error(
            401,
            "authentication_error",
            "invalid_api_key",
            &format!("Invalid API key: {other}"),
        )),
    }
}

fn audio_for(format: &str) -> (Vec<u8>, &'static str) {
    if let Some(rate) = format
        .strip_prefix("pcm_")
        .and_then(|r| r.parse::<usize>().ok())
    {
        // 250 ms of 16-bit mono silence at the asked rate.
        (vec![0u8; rate / 4 * 2], "audio/pcm")
    } else {
        (mp3_frame(), "audio/mpeg")
    }
}

async fn fault_response(emu: &Emu, fault: Fault, format: &str) -> Response {
    let (bytes, mime) = audio_for(format);
    match fault.respond_generic(bytes, mime).await {
        Ok(response) => response,
        Err(Fault::RateLimited { retry_after }) => json_with_retry_after(
            429,
            j!({"detail": {"type": "rate_limit_error", "code": "rate_limit_exceeded", "message": "You have exceeded the rate limit.", "status": "rate_limit_exceeded", "request_id": emu.request_id()}}),
            retry_after.as_deref(),
        ),
        Err(Fault::ServerError(status)) => older_error(
            status,
            "internal_server_error",
            "An internal server error occurred.",
        ),
        Err(Fault::Loading { .. }) => older_error(
            503,
            "service_unavailable",
            "The service is temporarily unavailable.",
        ),
        Err(Fault::ErrorIn200) => emu.error(
            200,
            "service_unavailable",
            "system_busy",
            "The system is experiencing heavy traffic, please try again.",
        ),
        // A speech call has no job to keep running: it hangs instead.
        Err(_) => std::future::pending().await,
    }
}

/// The error ElevenLabs would answer for this request, if any.
fn invalid(emu: &Emu, voice_id: &str, format: &str, body: &Value) -> Option<Response> {
    let Some(text) = body.get("text").and_then(Value::as_str) else {
        return Some(json(
            422,
            j!({"detail": [{"loc": ["body", "text"], "msg": "field required", "type": "value_error.missing"}]}),
        ));
    };
    if !OUTPUT_FORMATS.contains(&format) {
        return Some(json(
            422,
            j!({"detail": [{"loc": ["query", "output_format"], "msg": "value is not a valid enumeration member", "type": "type_error.enum"}]}),
        ));
    }
    let model = body
        .get("model_id")
        .and_then(Value::as_str)
        .unwrap_or("eleven_multilingual_v2");
    let Some((_, max)) = MODELS.iter().find(|(m, _)| *m == model) else {
        return Some(older_error(
            400,
            "model_not_found",
            "A model with this ID does not exist.",
        ));
    };
    if !VOICES.contains(&voice_id) {
        return Some(emu.error(
            400,
            "validation_error",
            "voice_not_found",
            &format!("A voice with the voice_id {voice_id} was not found."),
        ));
    }
    if text.chars().count() > *max {
        return Some(emu.error(
            400,
            "validation_error",
            "max_character_limit_exceeded",
            &format!("Text is too long: at most {max} characters for {model}."),
        ));
    }
    if let Some(speed) = body.pointer("/voice_settings/speed") {
        if !speed.as_f64().is_some_and(|s| (0.7..=1.2).contains(&s)) {
            return Some(json(
                422,
                j!({"detail": [{"loc": ["body", "voice_settings", "speed"], "msg": "ensure this value is between 0.7 and 1.2", "type": "value_error"}]}),
            ));
        }
    }
    None
}

async fn speech(
    State(emu): State<Arc<Emu>>,
    Path(voice_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let format = query
        .get("output_format")
        .map_or("mp3_44100_128", String::as_str);
    if let Some(fault) = emu.control.next_fault() {
        return fault_response(&emu, fault, format).await;
    }
    if let Some(denied) = denied(&emu, &headers) {
        return denied;
    }
    let Some(body) = serde_json::from_slice::<Value>(&body)
        .ok()
        .filter(Value::is_object)
    else {
        return json(
            422,
            j!({"detail": [{"loc": ["body"], "msg": "Expecting value", "type": "value_error.jsondecode"}]}),
        );
    };
    if let Some(response) = invalid(&emu, &voice_id, format, &body) {
        return response;
    }
    let characters = body
        .get("text")
        .and_then(Value::as_str)
        .map_or(0, |t| t.chars().count());
    let (bytes, mime) = audio_for(format);
    let mut response = media(bytes, mime);
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&emu.request_id()) {
        h.insert("request-id", v);
    }
    h.insert("character-cost", HeaderValue::from(characters));
    response
}

async fn user(State(emu): State<Arc<Emu>>, headers: HeaderMap) -> Response {
    if let Some(fault) = emu.control.next_fault() {
        return fault_response(&emu, fault, "mp3_44100_128").await;
    }
    if let Some(denied) = denied(&emu, &headers) {
        return denied;
    }
    json(
        200,
        j!({"subscription": {"tier": "free", "character_count": 0, "character_limit": 10_000, "status": "free"}, "is_new_user": false}),
    )
}

async fn voices(State(emu): State<Arc<Emu>>, headers: HeaderMap) -> Response {
    if let Some(fault) = emu.control.next_fault() {
        return fault_response(&emu, fault, "mp3_44100_128").await;
    }
    if let Some(denied) = denied(&emu, &headers) {
        return denied;
    }
    let list: Vec<Value> = VOICES
        .iter()
        .map(|id| j!({"voice_id": id, "category": "premade"}))
        .collect();
    json(200, j!({"voices": list}))
}
