//! Hugging Face error bodies (`{"error": "..."}`, `{"error": ["...", ...]}`, with
//! `estimated_time` while a model loads) and their classes.

use std::time::Duration;

use crate::provider::ProviderError;
use crate::providers::http::classify_status;
use crate::secret::scrub;

/// What an error body says, when it says anything.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ErrorBody {
    /// The error text, joined when the provider sends a list.
    pub(crate) message: Option<String>,
    /// Seconds until a loading model is ready.
    pub(crate) estimated_time: Option<f64>,
}

impl ErrorBody {
    /// Parses any documented shape; anything else (HTML, empty) gives an empty body, and the
    /// status alone then decides.
    pub(crate) fn parse(bytes: &[u8]) -> Self {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            return Self::default();
        };
        Self::from_json(&value)
    }

    /// Reads the error fields of a parsed body.
    pub(crate) fn from_json(value: &serde_json::Value) -> Self {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(items) => {
                let parts: Vec<&str> = items.iter().filter_map(|i| i.as_str()).collect();
                (!parts.is_empty()).then(|| parts.join("; "))
            }
            _ => None,
        };
        let message = ["error", "message", "detail"]
            .iter()
            .find_map(|k| value.get(k).and_then(text));
        let estimated_time = value
            .get("estimated_time")
            .and_then(serde_json::Value::as_f64)
            .filter(|t| t.is_finite() && *t >= 0.0);
        Self {
            message,
            estimated_time,
        }
    }

    fn wait(&self) -> Option<Duration> {
        self.estimated_time
            .and_then(|t| Duration::try_from_secs_f64(t).ok())
    }
}

/// The class of an HTTP error answer. `retry_after` is the `Retry-After` header, if any;
/// `key` is scrubbed from every message.
pub(crate) fn classify_http(
    status: u16,
    retry_after: Option<Duration>,
    body: &ErrorBody,
    key: &str,
) -> ProviderError {
    let said = body.message.as_deref().unwrap_or("no error text");
    let message = scrub(
        &format!("Hugging Face answered HTTP {status}: {said}"),
        &[key],
    );
    let error = match status {
        // A cold model: it will be there in `estimated_time` seconds.
        503 => {
            let error = ProviderError::transient(message).with_status(status);
            match body.wait().or(retry_after) {
                Some(wait) => error.with_retry_after(wait),
                None => error,
            }
        }
        404 => ProviderError::misconfigured(scrub(
            &format!("the model is not deployed on hf-inference (HTTP 404): {said}"),
            &[key],
        ))
        .with_status(status),
        410 => ProviderError::misconfigured(
            "this Hugging Face host is retired (HTTP 410): set huggingface.base_url to https://router.huggingface.co",
        )
        .with_status(status),
        401 | 403 => ProviderError::misconfigured(message).with_status(status),
        400 | 413 | 422 => ProviderError::bad_request(message).with_status(status),
        // 429 without Retry-After keeps none: the router's default cooldown applies.
        _ => classify_status(status, retry_after, message),
    };
    tracing::debug!(target: "ugc::provider", provider = "huggingface", status, class = error.class().as_str(), "error answer");
    error
}

/// The class of an error reported inside a 200 JSON body, by its wording, as the status
/// it stands for would be classified.
pub(crate) fn classify_in_200(body: &ErrorBody, key: &str) -> ProviderError {
    let said = body
        .message
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let status = if said.contains("loading") {
        503
    } else if said.contains("rate limit") || said.contains("too many requests") {
        429
    } else if said.contains("credit") || said.contains("quota") || said.contains("payment") {
        402
    } else if said.contains("does not exist") || said.contains("not found") {
        404
    } else if said.contains("unauthorized") || said.contains("invalid credentials") {
        401
    } else {
        500
    };
    classify_http(status, None, body, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ErrorClass;

    #[test]
    fn every_documented_body_shape_is_read() {
        let loading = ErrorBody::parse(
            br#"{"error": "Model x is currently loading", "estimated_time": 20.0}"#,
        );
        assert_eq!(loading.estimated_time, Some(20.0));
        let list = ErrorBody::parse(br#"{"error": ["bad input", "too long"]}"#);
        assert_eq!(list.message.as_deref(), Some("bad input; too long"));
        assert_eq!(ErrorBody::parse(b"<html>"), ErrorBody::default());
    }

    #[test]
    fn statuses_and_wordings_map_to_classes() {
        let body = ErrorBody::parse(
            br#"{"error": "Model x is currently loading", "estimated_time": 2.5}"#,
        );
        let e = classify_http(503, None, &body, "hf_secret");
        assert_eq!(
            (e.class(), e.retry_after()),
            (ErrorClass::Transient, Some(Duration::from_millis(2500)))
        );
        assert_eq!(classify_in_200(&body, "k").class(), ErrorClass::Transient);
        let empty = ErrorBody::default();
        assert_eq!(
            classify_http(410, None, &empty, "k").class(),
            ErrorClass::Misconfigured
        );
        assert_eq!(
            classify_http(402, None, &empty, "k").class(),
            ErrorClass::QuotaExhausted
        );
        assert_eq!(classify_http(429, None, &empty, "k").retry_after(), None);
    }
}
