use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// A misbehaviour to inject into the next request an emulator answers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// 429 in the provider's own error shape, with this `Retry-After` header value if any
    /// (`"3"` or an HTTP date).
    RateLimited {
        /// The `Retry-After` header, or none.
        retry_after: Option<String>,
    },
    /// 503 "model is loading" with `estimated_time` seconds (Hugging Face's shape; other
    /// emulators answer a plain 503).
    Loading {
        /// Seconds until the model is loaded.
        estimated_time: f64,
    },
    /// A 5xx in the provider's own error shape.
    ServerError(u16),
    /// An exact status and JSON body (any documented error: 402, `insufficient_quota`, ...).
    Status {
        /// HTTP status.
        status: u16,
        /// The body, as the provider documents it.
        body: serde_json::Value,
    },
    /// Accepts the request and never answers.
    Hang,
    /// Sends the media in `chunks` pieces, `delay` apart.
    SlowBody {
        /// Pause between chunks.
        delay: Duration,
        /// How many pieces.
        chunks: usize,
    },
    /// Streams `bytes` bytes of media; `declared` says whether a Content-Length is sent.
    Oversized {
        /// Body size.
        bytes: usize,
        /// Whether Content-Length announces it.
        declared: bool,
    },
    /// 200 with a JSON content type and a body that is not JSON.
    MalformedJson,
    /// 200 whose JSON body reports an error (the provider's shape).
    ErrorIn200,
    /// An async job that stays running forever.
    NeverFinish,
    /// 200 with `text/html` where media was expected.
    WrongContentType,
}

/// A JSON response with `status`.
pub fn json(status: u16, body: serde_json::Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

/// A JSON response with `status` and, if given, a `Retry-After` header.
pub fn json_with_retry_after(
    status: u16,
    body: serde_json::Value,
    retry_after: Option<&str>,
) -> Response {
    let mut response = json(status, body);
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// A 200 with `bytes` as `mime`.
pub fn media(bytes: impl Into<Bytes>, mime: &str) -> Response {
    ([(header::CONTENT_TYPE, mime.to_owned())], bytes.into()).into_response()
}

/// A 200 that trickles `bytes` in `chunks` pieces, `delay` apart (real time: it is a server).
pub fn slow_body(bytes: Vec<u8>, mime: &str, delay: Duration, chunks: usize) -> Response {
    let size = bytes.len().div_ceil(chunks.max(1)).max(1);
    let pieces: Vec<Bytes> = bytes.chunks(size).map(Bytes::copy_from_slice).collect();
    let stream = futures::stream::unfold(
        (pieces.into_iter(), true),
        move |(mut rest, first)| async move {
            let piece = rest.next()?;
            if !first {
                tokio::time::sleep(delay).await;
            }
            Some((Ok::<_, std::io::Error>(piece), (rest, false)))
        },
    );
    (
        [(header::CONTENT_TYPE, mime.to_owned())],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A 200 streaming `bytes` zero bytes as `mime`, announced by Content-Length only if
/// `declared`: the client must abort it while streaming either way.
pub fn oversized(bytes: usize, mime: &str, declared: bool) -> Response {
    const CHUNK: usize = 64 * 1024;
    let stream = futures::stream::unfold(bytes, |left| async move {
        (left > 0).then(|| {
            let n = left.min(CHUNK);
            (Ok::<_, std::io::Error>(Bytes::from(vec![0u8; n])), left - n)
        })
    });
    let mut response = (
        [(header::CONTENT_TYPE, mime.to_owned())],
        Body::from_stream(stream),
    )
        .into_response();
    if declared {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes));
    }
    response
}

/// A 200 claiming JSON with a body cut off mid-object.
pub fn malformed_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"id": "x", "status": "#,
    )
        .into_response()
}

/// A 200 with an HTML page where media was expected (a captive portal, a CDN error page).
pub fn wrong_content_type() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html")],
        "<html><body>Service Unavailable</body></html>",
    )
        .into_response()
}

impl Fault {
    /// The response for faults that look the same at every provider; `Err(self)` for those
    /// the provider's emulator must shape itself (errors, loading, never-finishing jobs).
    /// `media_bytes` and `mime` are what a success would have sent.
    pub async fn respond_generic(
        self,
        media_bytes: Vec<u8>,
        mime: &str,
    ) -> Result<Response, Fault> {
        match self {
            Fault::Hang => std::future::pending().await,
            Fault::SlowBody { delay, chunks } => Ok(slow_body(media_bytes, mime, delay, chunks)),
            Fault::Oversized { bytes, declared } => Ok(oversized(bytes, mime, declared)),
            Fault::MalformedJson => Ok(malformed_json()),
            Fault::WrongContentType => Ok(wrong_content_type()),
            Fault::Status { status, body } => Ok(json(status, body)),
            other => Err(other),
        }
    }
}
