//! A loopback emulator of OpenAI's text-to-speech API: `POST /v1/audio/speech` and
//! `GET /v1/models`, with bearer auth, OpenAI's error shapes, request validation, audio of
//! every `response_format`, and the `x-ratelimit-*` headers counted over a request window.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json as j};

use super::{Control, Emulator, Fault, json, json_with_retry_after, media};
use crate::testkit::{mp3_frame, silent_wav};

/// The only key the emulator accepts (`Authorization: Bearer sk-emulator-openai-key`).
pub const EMULATOR_KEY: &str = "sk-emulator-openai-key";

/// Voices the emulator knows; others are a 400 like OpenAI's.
pub const VOICES: [&str; 11] = [
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse",
];

/// Models the emulator serves; others are a 404 `model_not_found`.
pub const MODELS: [&str; 3] = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"];

/// Requests allowed per window by [`start`].
pub const DEFAULT_REQUEST_LIMIT: u32 = 10_000;

struct Emu {
    control: Arc<Control>,
    limit: u32,
    reset: Duration,
    /// Start of the current request window and requests counted in it.
    window: Mutex<(Instant, u32)>,
}

impl Emu {
    /// Counts a request; the headers to send and whether the window was already spent.
    fn count(&self) -> (u32, Duration, bool) {
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if now.duration_since(window.0) >= self.reset {
            *window = (now, 0);
        }
        let spent = window.1 >= self.limit;
        if !spent {
            window.1 += 1;
        }
        let left = self.reset.saturating_sub(now.duration_since(window.0));
        (self.limit - window.1, left, spent)
    }
}

/// Starts the emulator with a generous request window ([`DEFAULT_REQUEST_LIMIT`] per 6 min).
pub async fn start() -> std::io::Result<Emulator> {
    start_with_limit(DEFAULT_REQUEST_LIMIT, Duration::from_secs(360)).await
}

/// Starts the emulator allowing `limit` speech requests per `reset` window (real time):
/// the last allowed answer says `x-ratelimit-remaining-requests: 0`, and further requests in
/// the window get a 429 `rate_limit_exceeded`.
pub async fn start_with_limit(limit: u32, reset: Duration) -> std::io::Result<Emulator> {
    let control = Arc::new(Control::default());
    let emu = Arc::new(Emu {
        control: control.clone(),
        limit,
        reset,
        window: Mutex::new((Instant::now(), 0)),
    });
    let app = axum::Router::new()
        .route("/v1/audio/speech", post(speech))
        .route("/v1/models", get(models))
        .with_state(emu);
    Emulator::serve(app, control).await
}

/// OpenAI's error body.
fn error(
    status: u16,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    json(
        status,
        j!({"error": {"message": message, "type": kind, "param": param, "code": code}}),
    )
}

/// Formats a duration the way OpenAI's reset headers do (`1s`, `6m0s`, `250ms`).
fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs_f64();
    let minutes = (secs / 60.0).floor();
    let rest = secs - minutes * 60.0;
    if minutes >= 1.0 {
        format!("{minutes}m{}s", (rest * 1000.0).round() / 1000.0)
    } else {
        format!("{}s", (rest * 1000.0).round() / 1000.0)
    }
}

fn with_headers(mut response: Response, limit: u32, remaining: u32, reset: Duration) -> Response {
    let h = response.headers_mut();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    put("x-request-id", format!("req_emulator_{remaining}"));
    put("openai-processing-ms", "3".to_owned());
    put("x-ratelimit-limit-requests", limit.to_string());
    put("x-ratelimit-remaining-requests", remaining.to_string());
    put("x-ratelimit-reset-requests", go_duration(reset));
    response
}

/// The 401 for a missing or wrong key, or `None` when the key is right.
fn denied(headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if given == format!("Bearer {EMULATOR_KEY}") {
        return None;
    }
    if given.is_empty() {
        return Some(error(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_request_error",
            None,
            None,
        ));
    }
    // OpenAI quotes (part of) the key it refused: harsher here, the whole key, so that the
    // adapter's scrubbing is proven.
    let shown = given.trim_start_matches("Bearer ").to_owned();
    Some(error(
        401,
        &format!(
            "Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com/account/api-keys."
        ),
        "invalid_request_error",
        None,
        Some("invalid_api_key"),
    ))
}

/// The media and content type of a `response_format`.
pub fn audio_for(format: &str) -> Option<(Vec<u8>, &'static str)> {
    Some(match format {
        "mp3" => (mp3_frame(), "audio/mpeg"),
        "wav" => (silent_wav(250), "audio/wav"),
        "pcm" => (silent_wav(250).split_off(44), "audio/pcm"),
        "opus" => (ogg_opus_head(), "audio/opus"),
        "aac" => (adts_frame(), "audio/aac"),
        "flac" => (flac_header(), "audio/flac"),
        _ => return None,
    })
}

async fn fault_response(fault: Fault, format: &str) -> Response {
    let (bytes, mime) = audio_for(format).unwrap_or_else(|| (mp3_frame(), "audio/mpeg"));
    match fault.respond_generic(bytes, mime).await {
        Ok(response) => response,
        Err(Fault::RateLimited { retry_after }) => {
            let response = json_with_retry_after(
                429,
                j!({"error": {"message": "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1.", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}),
                retry_after.as_deref(),
            );
            with_headers(response, 3, 0, Duration::from_secs(1))
        }
        Err(Fault::ServerError(status)) => error(
            status,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
            None,
        ),
        Err(Fault::Loading { .. }) => error(
            503,
            "The engine is currently overloaded, please try again later.",
            "server_error",
            None,
            None,
        ),
        Err(Fault::ErrorIn200) => error(
            200,
            "The server had an error while processing your request.",
            "server_error",
            None,
            None,
        ),
        // A speech call has no job to keep running: it hangs instead.
        Err(_) => std::future::pending().await,
    }
}

/// The body's model and format, or the error OpenAI would answer (boxed: it is large).
fn validate(body: &Value) -> Result<(String, String), Box<Response>> {
    let bad = |message: &str, param: &str, code: Option<&str>| {
        Box::new(error(
            400,
            message,
            "invalid_request_error",
            Some(param),
            code,
        ))
    };
    let text = |name: &str| body.get(name).and_then(Value::as_str);
    let model =
        text("model").ok_or_else(|| bad("you must provide a model parameter", "model", None))?;
    let input = text("input").ok_or_else(|| {
        bad(
            "Missing required parameter: 'input'.",
            "input",
            Some("missing_required_parameter"),
        )
    })?;
    let voice = text("voice").ok_or_else(|| {
        bad(
            "Missing required parameter: 'voice'.",
            "voice",
            Some("missing_required_parameter"),
        )
    })?;
    if !MODELS.contains(&model) {
        return Err(Box::new(error(
            404,
            &format!("The model `{model}` does not exist or you do not have access to it."),
            "invalid_request_error",
            None,
            Some("model_not_found"),
        )));
    }
    if input.chars().count() > 4096 {
        return Err(bad(
            "Invalid 'input': string too long. Expected a string with maximum length 4096.",
            "input",
            Some("string_above_max_length"),
        ));
    }
    if !VOICES.contains(&voice) {
        return Err(bad(
            "Invalid value for 'voice'.",
            "voice",
            Some("invalid_value"),
        ));
    }
    let format = match body.get("response_format") {
        None => "mp3".to_owned(),
        Some(v) => match v.as_str().filter(|f| audio_for(f).is_some()) {
            Some(f) => f.to_owned(),
            None => {
                return Err(bad(
                    "Invalid value for 'response_format'.",
                    "response_format",
                    Some("invalid_value"),
                ));
            }
        },
    };
    if let Some(speed) = body.get("speed") {
        if !speed.as_f64().is_some_and(|s| (0.25..=4.0).contains(&s)) {
            return Err(bad(
                "Invalid 'speed': must be between 0.25 and 4.0.",
                "speed",
                Some("invalid_value"),
            ));
        }
    }
    if body.get("instructions").is_some() && model.starts_with("tts-1") {
        return Err(bad(
            "Instructions are not supported for this model.",
            "instructions",
            Some("invalid_value"),
        ));
    }
    Ok((model.to_owned(), format))
}

async fn speech(State(emu): State<Arc<Emu>>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let asked_format = parsed
        .as_ref()
        .and_then(|b| b.get("response_format"))
        .and_then(Value::as_str)
        .unwrap_or("mp3")
        .to_owned();
    if let Some(fault) = emu.control.next_fault() {
        return fault_response(fault, &asked_format).await;
    }
    if let Some(denied) = denied(&headers) {
        return denied;
    }
    let Some(body) = parsed.filter(Value::is_object) else {
        return error(
            400,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
            None,
            None,
        );
    };
    let format = match validate(&body) {
        Ok((_, format)) => format,
        Err(response) => return *response,
    };
    let (remaining, reset, spent) = emu.count();
    if spent {
        let response = error(
            429,
            "Rate limit reached for requests per min (RPM).",
            "requests",
            None,
            Some("rate_limit_exceeded"),
        );
        return with_headers(response, emu.limit, 0, reset);
    }
    let (bytes, mime) = audio_for(&format).unwrap_or_else(|| (mp3_frame(), "audio/mpeg"));
    with_headers(media(bytes, mime), emu.limit, remaining, reset)
}

async fn models(State(emu): State<Arc<Emu>>, headers: HeaderMap) -> Response {
    if let Some(fault) = emu.control.next_fault() {
        return fault_response(fault, "mp3").await;
    }
    if let Some(denied) = denied(&headers) {
        return denied;
    }
    let data: Vec<Value> = MODELS
        .iter()
        .map(|id| j!({"id": id, "object": "model", "created": 1_699_046_015, "owned_by": "system"}))
        .collect();
    json(200, j!({"object": "list", "data": data}))
}

/// The first Ogg page of an Opus stream (an `OpusHead` packet, mono, 48 kHz) with a correct
/// page checksum.
fn ogg_opus_head() -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(1); // channels
    head.extend_from_slice(&312u16.to_le_bytes()); // pre-skip
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&0u16.to_le_bytes()); // output gain
    head.push(0); // channel mapping family
    let mut page = b"OggS".to_vec();
    page.push(0); // version
    page.push(0x02); // beginning of stream
    page.extend_from_slice(&0u64.to_le_bytes()); // granule position
    page.extend_from_slice(&0x5567_4345u32.to_le_bytes()); // serial
    page.extend_from_slice(&0u32.to_le_bytes()); // page sequence
    page.extend_from_slice(&0u32.to_le_bytes()); // checksum, filled below
    page.push(1); // one segment
    page.push(u8::try_from(head.len()).unwrap_or(u8::MAX));
    page.extend_from_slice(&head);
    let crc = ogg_crc(&page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

/// Ogg's CRC-32 (polynomial 0x04c11db7, not reflected, zero start).
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// One ADTS frame header (AAC-LC, 44.1 kHz, mono) around a zeroed raw block.
fn adts_frame() -> Vec<u8> {
    const PAYLOAD: usize = 6;
    let len = 7 + PAYLOAD;
    let mut frame = vec![
        0xFF,
        0xF1,                                  // sync, MPEG-4, layer 0, no CRC
        (1 << 6) | (4 << 2),                   // AAC-LC, 44.1 kHz, channel config high bit 0
        (1 << 6) | ((len >> 11) as u8 & 0x03), // mono, frame length high bits
        ((len >> 3) & 0xFF) as u8,
        (((len & 0x07) as u8) << 5) | 0x1F, // buffer fullness 0x7FF (VBR)
        0xFC,
    ];
    frame.resize(len, 0);
    frame
}

/// A FLAC stream header: `fLaC` and a STREAMINFO block (8 kHz, mono, 16-bit, no frames).
fn flac_header() -> Vec<u8> {
    let mut flac = b"fLaC".to_vec();
    flac.extend_from_slice(&[0x80, 0x00, 0x00, 34]); // last block, STREAMINFO, 34 bytes
    flac.extend_from_slice(&4096u16.to_be_bytes()); // min block size
    flac.extend_from_slice(&4096u16.to_be_bytes()); // max block size
    flac.extend_from_slice(&[0; 6]); // min and max frame size unknown
    let packed: u64 = (8_000u64 << 44) | (15u64 << 36); // rate, mono, 16 bits, 0 samples
    flac.extend_from_slice(&packed.to_be_bytes());
    flac.extend_from_slice(&[0; 16]); // MD5 of nothing known
    flac
}
