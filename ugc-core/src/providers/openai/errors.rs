//! OpenAI's error bodies (`{"error": {"message", "type", "param", "code"}}`) and their
//! classification into the failover table.

use std::time::Duration;

use serde::Deserialize;

use crate::provider::ProviderError;
use crate::providers::http::classify_status;
use crate::secret::scrub;

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    error: Option<Body>,
}

#[derive(Debug, Default, Deserialize)]
struct Body {
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default, rename = "type")]
    kind: Option<serde_json::Value>,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

/// The parts of an error body that decide its class.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// `error.code`, or `error.type` when the code is null.
    pub(crate) code: Option<String>,
    /// `error.type`.
    pub(crate) kind: Option<String>,
    /// `error.message`.
    pub(crate) message: Option<String>,
}

fn text(value: Option<serde_json::Value>) -> Option<String> {
    match value? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Null => None,
        // Codes have been numbers in some answers; keep them as text.
        other => Some(other.to_string()),
    }
}

/// Reads an error body; `None` if it is not JSON or holds no `error` object.
pub(crate) fn parse(body: &[u8]) -> Option<ApiError> {
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    let error = envelope.error?;
    Some(ApiError {
        code: text(error.code),
        kind: text(error.kind),
        message: text(error.message),
    })
}

/// Codes meaning the account's credit or spend limit is used up: never retried.
fn is_quota(code: &str) -> bool {
    matches!(
        code,
        "insufficient_quota" | "credit_balance_exhausted" | "billing_hard_limit_reached"
    ) || code.ends_with("_spend_limit_exceeded")
}

/// Classifies an answer of `status` whose body was `body`. `retry_after` is the wait the
/// headers give (`Retry-After`, else the request window's reset); `key` is scrubbed out of
/// every message.
pub(crate) fn classify(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    key: &str,
) -> ProviderError {
    let parsed = parse(body).unwrap_or_default();
    let codes: Vec<&str> = [parsed.code.as_deref(), parsed.kind.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let detail = match (&parsed.code, &parsed.message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (None, Some(message)) => message.clone(),
        (Some(code), None) => code.clone(),
        (None, None) => "no error details".to_owned(),
    };
    let message = scrub(&format!("OpenAI answered HTTP {status}: {detail}"), &[key]);
    if codes.iter().any(|c| is_quota(c)) {
        // Retrying a spent account only burns attempts; the router cools it down long.
        return ProviderError::quota_exhausted(message).with_status(status);
    }
    if codes.contains(&"content_policy_violation") {
        return ProviderError::content_rejected(message).with_status(status);
    }
    if codes.contains(&"rate_limit_exceeded") && status != 429 {
        // Reported inside another status (an error in a 200): still a rate limit.
        let error = ProviderError::rate_limited(message).with_status(status);
        return match retry_after {
            Some(wait) => error.with_retry_after(wait),
            None => error,
        };
    }
    if status == 200 {
        // An error inside a 200 with no recognised code: a server-side fault.
        return ProviderError::transient(message).with_status(status);
    }
    // Only rate limits carry a wait; a 401 with a reset header must not cool anything down.
    let wait = if status == 429 { retry_after } else { None };
    classify_status(status, wait, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ErrorClass;

    fn body(code: &str, kind: &str) -> Vec<u8> {
        serde_json::json!({"error": {"message": "m", "type": kind, "param": null, "code": code}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn documented_codes_map_to_their_classes() {
        let class = |status, b: &[u8]| classify(status, b, None, "k").class();
        assert_eq!(
            class(429, &body("rate_limit_exceeded", "requests")),
            ErrorClass::RateLimited
        );
        assert_eq!(
            class(429, &body("insufficient_quota", "insufficient_quota")),
            ErrorClass::QuotaExhausted
        );
        assert_eq!(
            class(429, &body("credit_balance_exhausted", "x")),
            ErrorClass::QuotaExhausted
        );
        assert_eq!(
            class(429, &body("organization_spend_limit_exceeded", "x")),
            ErrorClass::QuotaExhausted
        );
        assert_eq!(
            class(400, &body("billing_hard_limit_reached", "x")),
            ErrorClass::QuotaExhausted
        );
        assert_eq!(
            class(401, &body("invalid_api_key", "invalid_request_error")),
            ErrorClass::Misconfigured
        );
        assert_eq!(
            class(400, &body("invalid_value", "invalid_request_error")),
            ErrorClass::BadRequest
        );
        assert_eq!(class(503, b"<html>"), ErrorClass::Transient);
        assert_eq!(
            class(200, &body("rate_limit_exceeded", "requests")),
            ErrorClass::RateLimited
        );
    }

    #[test]
    fn null_codes_and_numbers_are_tolerated() {
        let b = br#"{"error": {"message": "x", "type": "insufficient_quota", "code": null}}"#;
        assert_eq!(
            classify(429, b, None, "k").class(),
            ErrorClass::QuotaExhausted
        );
        let b = br#"{"error": {"message": "x", "type": "server_error", "code": 500}}"#;
        assert_eq!(parse(b).and_then(|e| e.code).as_deref(), Some("500"));
    }
}
