//! ElevenLabs' error bodies and their classification into the failover table.
//!
//! Three shapes are documented and all are accepted: the current
//! `{"detail": {"type", "code", "message", "status", "request_id"}}`, the older
//! `{"detail": {"status", "message"}}` (where `status` holds the code), and FastAPI's
//! validation answer `{"detail": [{"loc", "msg", "type"}]}`; a plain string detail too.

use std::time::Duration;

use serde_json::Value;

use crate::provider::ProviderError;
use crate::providers::http::classify_status;
use crate::secret::scrub;

/// The parts of an error body that decide its class.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// Machine codes found (`code`, a textual `status`, `type`), most specific first.
    pub(crate) codes: Vec<String>,
    /// Human text (`message`, or the validation messages joined).
    pub(crate) message: Option<String>,
}

/// Reads an error body; `None` if it is not JSON or holds no `detail`.
pub(crate) fn parse(body: &[u8]) -> Option<ApiError> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let detail = value.get("detail")?;
    let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    Some(match detail {
        Value::Object(_) => ApiError {
            codes: ["code", "status", "type"]
                .iter()
                .filter_map(|name| text(detail, name))
                .collect(),
            message: text(detail, "message"),
        },
        Value::Array(items) => {
            let messages: Vec<String> = items
                .iter()
                .map(|item| {
                    let at: Vec<String> = item
                        .get("loc")
                        .and_then(Value::as_array)
                        .map(|loc| {
                            loc.iter()
                                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    let msg = text(item, "msg").unwrap_or_else(|| "invalid".to_owned());
                    if at.is_empty() {
                        msg
                    } else {
                        format!("{}: {msg}", at.join("."))
                    }
                })
                .collect();
            ApiError {
                codes: Vec::new(),
                message: Some(messages.join("; ")),
            }
        }
        Value::String(message) => ApiError {
            codes: Vec::new(),
            message: Some(message.clone()),
        },
        _ => ApiError::default(),
    })
}

/// Classifies an answer of `status` whose body was `body`. `retry_after` is the
/// `Retry-After` wait, if any; `key` is scrubbed out of every message.
pub(crate) fn classify(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    key: &str,
) -> ProviderError {
    let parsed = parse(body).unwrap_or_default();
    let code = parsed.codes.first().map(String::as_str);
    let detail = match (code, &parsed.message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (None, Some(message)) => message.clone(),
        (Some(code), None) => code.to_owned(),
        (None, None) => "no error details".to_owned(),
    };
    let message = scrub(
        &format!("ElevenLabs answered HTTP {status}: {detail}"),
        &[key],
    );
    let has = |wanted: &[&str]| parsed.codes.iter().any(|c| wanted.contains(&c.as_str()));
    let waiting = |error: ProviderError| match retry_after {
        Some(wait) => error.with_retry_after(wait),
        None => error,
    };
    let error = if has(&["too_many_concurrent_requests", "concurrent_limit_exceeded"]) {
        // The plan's concurrency is used up: a slot frees as soon as a call ends.
        waiting(ProviderError::concurrency_limited(message))
    } else if has(&["system_busy", "rate_limit_exceeded"]) {
        waiting(ProviderError::rate_limited(message))
    } else if has(&["quota_exceeded", "insufficient_credits", "payment_required"]) {
        ProviderError::quota_exhausted(message)
    } else if has(&["invalid_api_key", "missing_api_key", "needs_authorization"]) {
        ProviderError::misconfigured(message)
    } else if has(&["model_not_found"]) {
        // The model comes from the endpoint's configuration (a pinned model must match it).
        ProviderError::misconfigured(message)
    } else if has(&[
        "voice_not_found",
        "max_character_limit_exceeded",
        "text_too_long",
    ]) {
        // A voice can come from the request itself (passed through where an endpoint maps
        // none): marking the endpoint misconfigured would let any user take it out for all.

        ProviderError::bad_request(message)
    } else if status == 200 {
        // An error inside a 200 with no recognised code: a server-side fault.
        ProviderError::transient(message)
    } else {
        return classify_status(
            status,
            if status == 429 { retry_after } else { None },
            message,
        );
    };
    error.with_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ErrorClass;

    fn current(code: &str) -> Vec<u8> {
        serde_json::json!({"detail": {"type": "t", "code": code, "message": "m", "status": code, "request_id": "r"}})
            .to_string()
            .into_bytes()
    }

    fn older(code: &str) -> Vec<u8> {
        serde_json::json!({"detail": {"status": code, "message": "m"}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn both_object_shapes_map_to_their_classes() {
        for shape in [current, older] {
            let class = |status, code| classify(status, &shape(code), None, "k").class();
            assert_eq!(
                class(429, "too_many_concurrent_requests"),
                ErrorClass::ConcurrencyLimited
            );
            assert_eq!(
                class(429, "concurrent_limit_exceeded"),
                ErrorClass::ConcurrencyLimited
            );
            assert_eq!(class(429, "system_busy"), ErrorClass::RateLimited);
            assert_eq!(class(429, "rate_limit_exceeded"), ErrorClass::RateLimited);
            assert_eq!(class(401, "invalid_api_key"), ErrorClass::Misconfigured);
            assert_eq!(class(401, "quota_exceeded"), ErrorClass::QuotaExhausted);
            assert_eq!(class(400, "voice_not_found"), ErrorClass::BadRequest);
            assert_eq!(
                class(400, "max_character_limit_exceeded"),
                ErrorClass::BadRequest
            );
            assert_eq!(class(400, "something_new"), ErrorClass::BadRequest);
            assert_eq!(class(503, "something_new"), ErrorClass::Transient);
        }
    }

    #[test]
    fn fastapi_validation_and_garbage_fall_back_to_the_status() {
        let body = br#"{"detail": [{"loc": ["body", "text"], "msg": "field required", "type": "value_error.missing"}]}"#;
        let e = classify(422, body, None, "k");
        assert_eq!(e.class(), ErrorClass::BadRequest);
        assert!(
            e.message().contains("body.text: field required"),
            "{}",
            e.message()
        );
        assert_eq!(
            classify(502, b"<html>", None, "k").class(),
            ErrorClass::Transient
        );
        assert_eq!(
            classify(429, b"", Some(Duration::from_secs(2)), "k").retry_after(),
            Some(Duration::from_secs(2))
        );
    }
}
