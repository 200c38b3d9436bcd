//! Stability's error bodies (`{"id", "name", "errors": [...]}`) and their classes.

use std::time::Duration;

use crate::provider::{ErrorClass, ProviderError};
use crate::providers::http::{classify_status, read_capped, retry_after};
use crate::secret::scrub;

/// Largest error body read.
const ERROR_BODY_CAP: u64 = 64 * 1024;

/// Cooldown after a 429 without Retry-After: the limit is 150 requests per 10 s window.
pub(super) const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(10);

/// What an error body says, when it has Stability's shape.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ErrorBody {
    /// `name` (`bad_request`, `payment_required`, `content_moderation`, ...), lower case.
    pub(super) name: Option<String>,
    /// `errors` joined (or `message`), unscrubbed.
    pub(super) text: String,
}

/// Parses an error body; `None` when it is not JSON or carries neither `name` nor `errors`.
pub(super) fn parse(body: &[u8]) -> Option<ErrorBody> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    parse_value(&value)
}

/// [`parse`] of a body already read as JSON.
pub(super) fn parse_value(value: &serde_json::Value) -> Option<ErrorBody> {
    let object = value.as_object()?;
    let name = object
        .get("name")
        .and_then(|v| v.as_str())
        .map(str::to_ascii_lowercase);
    // `errors` is documented as strings; objects and a lone `message` are accepted too.
    let mut parts: Vec<String> = match object.get("errors") {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    if let Some(message) = object.get("message").and_then(|v| v.as_str()) {
        parts.push(message.to_owned());
    }
    if name.is_none() && parts.is_empty() {
        return None;
    }
    Some(ErrorBody {
        name,
        text: parts.join("; "),
    })
}

/// The class Stability's `name` implies, for the names it documents.
fn class_of_name(name: &str) -> Option<ErrorClass> {
    Some(match name {
        "bad_request" | "invalid_parameters" | "invalid_prompts" | "request_too_large"
        | "payload_too_large" | "invalid_file_size" | "invalid_image" => ErrorClass::BadRequest,
        "payment_required" | "insufficient_balance" | "insufficient_credits" => {
            ErrorClass::QuotaExhausted
        }
        "content_moderation" | "content_filtered" => ErrorClass::ContentRejected,
        "unauthorized" | "forbidden" | "permission_denied" | "not_found" => {
            ErrorClass::Misconfigured
        }
        "rate_limit_exceeded" | "too_many_requests" => ErrorClass::RateLimited,
        "internal_error" | "server_error" | "service_unavailable" => ErrorClass::Transient,
        _ => return None,
    })
}

/// Classifies an answer with `status` and `body`; `key` is scrubbed from the message.
///
/// 429 is always rate limited (Retry-After, else 10 s); 5xx always transient; otherwise a
/// documented `name` decides (`payment_required` → quota, `content_moderation` → content
/// rejected), else the status (400 bad request, 401/403 misconfigured, 402 quota). An error
/// inside a 200 is classified by its name, and is transient when the name is unknown.
pub(super) fn classify(
    status: u16,
    wait: Option<Duration>,
    body: &[u8],
    key: &str,
) -> ProviderError {
    let parsed = parse(body).unwrap_or_default();
    let name = parsed.name.as_deref().unwrap_or("unknown");
    let text = if parsed.text.is_empty() {
        String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
    } else {
        parsed.text.clone()
    };
    let message = scrub(&format!("stability HTTP {status} {name}: {text}"), &[key]);
    let by_name = parsed.name.as_deref().and_then(class_of_name);
    let error = match (status, by_name) {
        (429, _) | (_, Some(ErrorClass::RateLimited)) => ProviderError::rate_limited(message)
            .with_retry_after(wait.unwrap_or(DEFAULT_RATE_LIMIT_WAIT)),
        (500..=599, _) => ProviderError::transient(message),
        (_, Some(class)) => ProviderError::new(class, message),
        (200..=299, None) => ProviderError::transient(message),
        (_, None) => return classify_status(status, wait, message),
    };
    error.with_status(status)
}

/// Classifies a non-success response, reading its body under the error cap.
pub(super) async fn from_response(
    response: reqwest::Response,
    now: std::time::SystemTime,
    key: &str,
) -> ProviderError {
    let status = response.status().as_u16();
    let wait = retry_after(response.headers(), now);
    let body = read_capped(response, ERROR_BODY_CAP)
        .await
        .unwrap_or_default();
    classify(status, wait, &body, key)
}

/// Reads a JSON body of a 2xx answer, capped; malformed JSON is a transient fault.
pub(super) async fn json_body(
    response: reqwest::Response,
) -> Result<serde_json::Value, ProviderError> {
    let body = read_capped(response, ERROR_BODY_CAP).await?;
    serde_json::from_slice(&body)
        .map_err(|_| ProviderError::transient("stability answered malformed JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(status: u16, body: &str) -> ErrorClass {
        classify(status, None, body.as_bytes(), "sk-x").class()
    }

    #[test]
    fn documented_names_and_statuses_map_to_classes() {
        let body = |name: &str| format!(r#"{{"id":"a","name":"{name}","errors":["e"]}}"#);
        assert_eq!(class(400, &body("bad_request")), ErrorClass::BadRequest);
        assert_eq!(
            class(402, &body("payment_required")),
            ErrorClass::QuotaExhausted
        );
        assert_eq!(
            class(400, &body("payment_required")),
            ErrorClass::QuotaExhausted
        );
        assert_eq!(
            class(403, &body("content_moderation")),
            ErrorClass::ContentRejected
        );
        assert_eq!(class(403, "{}"), ErrorClass::Misconfigured);
        assert_eq!(class(401, "not json"), ErrorClass::Misconfigured);
        assert_eq!(
            class(503, &body("content_moderation")),
            ErrorClass::Transient
        );
        assert_eq!(
            class(200, &body("payment_required")),
            ErrorClass::QuotaExhausted
        );
        assert_eq!(class(200, &body("something_new")), ErrorClass::Transient);
        let limited = classify(429, None, b"{}", "k");
        assert_eq!(limited.retry_after(), Some(DEFAULT_RATE_LIMIT_WAIT));
    }

    #[test]
    fn the_key_never_reaches_the_message() {
        let e = classify(
            401,
            None,
            br#"{"name":"unauthorized","errors":["bad key sk-secret-1"]}"#,
            "sk-secret-1",
        );
        assert!(!e.message().contains("sk-secret-1"), "{e}");
    }
}
