//! D-ID's error bodies (`{"kind", "description", "details"}`, gateway `{"message"}`) and
//! their classes.

use std::time::{Duration, SystemTime};

use crate::provider::{ErrorClass, ProviderError};
use crate::providers::http::{classify_status, read_capped, retry_after};
use crate::secret::scrub;

/// Largest error or JSON body read.
pub(super) const JSON_CAP: u64 = 64 * 1024;

/// What an error body says.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ErrorBody {
    /// `kind` (`ValidationError`, ...), when the API (not the gateway) answered.
    pub(super) kind: Option<String>,
    /// `description`, `details` and `message`, unscrubbed.
    pub(super) text: String,
}

/// Parses an error object; `None` when it has neither `kind`, `description` nor `message`.
pub(super) fn parse_value(value: &serde_json::Value) -> Option<ErrorBody> {
    let object = value.as_object()?;
    let kind = object
        .get("kind")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let mut parts = Vec::new();
    for field in ["description", "message"] {
        if let Some(text) = object.get(field).and_then(|v| v.as_str()) {
            parts.push(text.to_owned());
        }
    }
    if kind.is_none() && parts.is_empty() {
        return None;
    }
    // `details` is free-form (an object of field errors, or a string).
    match object.get("details") {
        Some(serde_json::Value::String(s)) => parts.push(s.clone()),
        Some(serde_json::Value::Null) | None => {}
        Some(other) => parts.push(other.to_string()),
    }
    Some(ErrorBody {
        kind,
        text: parts.join("; "),
    })
}

/// The class a documented (or commonly seen) `kind` implies.
fn class_of_kind(kind: &str) -> Option<ErrorClass> {
    Some(match kind {
        "ValidationError"
        | "BadRequestError"
        | "FaceError"
        | "InvalidFileError"
        | "InvalidImageError"
        | "UnsupportedMediaTypeError" => ErrorClass::BadRequest,
        "AuthorizationError" | "UnauthorizedError" | "PermissionError" | "ForbiddenError"
        | "NotFoundError" => ErrorClass::Misconfigured,
        "InsufficientCreditsError" => ErrorClass::QuotaExhausted,
        "TooManyRequestsError" | "RateLimitError" => ErrorClass::RateLimited,
        "CelebrityRecognizedError" | "ContentModerationError" => ErrorClass::ContentRejected,
        "InternalServerError" | "ServiceUnavailableError" => ErrorClass::Transient,
        _ => return None,
    })
}

/// Classifies an answer with `status` and `body`; `secrets` are scrubbed from the message.
///
/// 429 is rate limited (with Retry-After when sent: D-ID documents no limits); 5xx
/// transient; otherwise a known `kind` decides, else the status (400 bad request,
/// 401/403 misconfigured, 402 quota exhausted). An error inside a 200 is classified by its
/// kind, and is transient when the kind is unknown.
pub(super) fn classify(
    status: u16,
    wait: Option<Duration>,
    body: &[u8],
    secrets: &[&str],
) -> ProviderError {
    let parsed = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .as_ref()
        .and_then(parse_value)
        .unwrap_or_default();
    let kind = parsed.kind.as_deref().unwrap_or("error");
    let text = if parsed.text.is_empty() {
        String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
    } else {
        parsed.text.clone()
    };
    let message = scrub(&format!("d-id HTTP {status} {kind}: {text}"), secrets);
    let by_kind = parsed.kind.as_deref().and_then(class_of_kind);
    let error = match (status, by_kind) {
        (429, _) | (_, Some(ErrorClass::RateLimited)) => {
            let error = ProviderError::rate_limited(message);
            match wait {
                Some(wait) => error.with_retry_after(wait),
                None => error,
            }
        }
        (500..=599, _) => ProviderError::transient(message),
        (_, Some(class)) => ProviderError::new(class, message),
        (200..=299, None) => ProviderError::transient(message),
        (_, None) => return classify_status(status, wait, message),
    };
    error.with_status(status)
}

/// Classifies a non-success response, reading its body under the cap.
pub(super) async fn from_response(
    response: reqwest::Response,
    now: SystemTime,
    secrets: &[&str],
) -> ProviderError {
    let status = response.status().as_u16();
    let wait = retry_after(response.headers(), now);
    let body = read_capped(response, JSON_CAP).await.unwrap_or_default();
    classify(status, wait, &body, secrets)
}

/// Reads the JSON body of a 2xx answer, capped; malformed JSON is a transient fault.
pub(super) async fn json_body(
    response: reqwest::Response,
) -> Result<serde_json::Value, ProviderError> {
    let body = read_capped(response, JSON_CAP).await?;
    serde_json::from_slice(&body)
        .map_err(|_| ProviderError::transient("d-id answered malformed JSON"))
}

/// The error a 2xx JSON body reports instead of its answer (an object with a `kind`, or a
/// gateway `message` and nothing else), if any.
pub(super) fn error_in_200(body: &serde_json::Value, secrets: &[&str]) -> Option<ProviderError> {
    let is_error =
        body.get("kind").is_some() || (body.get("message").is_some() && body.get("id").is_none());
    is_error.then(|| classify(200, None, body.to_string().as_bytes(), secrets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(status: u16, body: &str) -> ErrorClass {
        classify(status, None, body.as_bytes(), &["user:pw"]).class()
    }

    #[test]
    fn documented_kinds_and_statuses_map_to_classes() {
        let body =
            |kind: &str| format!(r#"{{"kind":"{kind}","description":"d","details":{{"f":"x"}}}}"#);
        assert_eq!(class(400, &body("ValidationError")), ErrorClass::BadRequest);
        assert_eq!(
            class(401, &body("AuthorizationError")),
            ErrorClass::Misconfigured
        );
        assert_eq!(
            class(402, &body("InsufficientCreditsError")),
            ErrorClass::QuotaExhausted
        );
        assert_eq!(
            class(400, &body("InsufficientCreditsError")),
            ErrorClass::QuotaExhausted
        );
        assert_eq!(
            class(403, r#"{"message":"Forbidden"}"#),
            ErrorClass::Misconfigured
        );
        assert_eq!(
            class(502, r#"{"message":"Bad Gateway"}"#),
            ErrorClass::Transient
        );
        assert_eq!(class(200, &body("Whatever")), ErrorClass::Transient);
        let limited = classify(429, None, br#"{"message":"Too Many Requests"}"#, &[]);
        assert_eq!(
            (limited.class(), limited.retry_after()),
            (ErrorClass::RateLimited, None)
        );
    }
}
