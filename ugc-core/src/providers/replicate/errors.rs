//! Replicate's error answers (RFC 7807 `{type, title, status, detail, instance}`, and the
//! throttling text "Your rate limit resets in ~30s.") and failed predictions, classified.

use std::time::Duration;

use crate::provider::ProviderError;
use crate::providers::http::classify_status;
use crate::secret::scrub;

/// The human text of an error body: `detail`, else `title`, else nothing.
pub(crate) fn problem_text(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["detail", "title", "error"]
        .iter()
        .find_map(|k| value.get(*k).and_then(|v| v.as_str()).map(str::to_owned))
}

/// The class of an HTTP error answer; `retry_after` is the `Retry-After` header, which wins
/// over the wait written in the text.
pub(crate) fn classify_http(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    key: &str,
) -> ProviderError {
    let text = problem_text(body);
    let said = text.as_deref().unwrap_or("no error text");
    let message = scrub(&format!("Replicate answered HTTP {status}: {said}"), &[key]);
    let error = match status {
        429 => {
            let wait = retry_after.or_else(|| text.as_deref().and_then(throttle_wait));
            let error = ProviderError::rate_limited(message).with_status(status);
            match wait {
                Some(wait) => error.with_retry_after(wait),
                None => error,
            }
        }
        401 | 403 | 404 => ProviderError::misconfigured(message).with_status(status),
        402 => ProviderError::quota_exhausted(message).with_status(status),
        400 | 413 | 422 => ProviderError::bad_request(message).with_status(status),
        _ => classify_status(status, retry_after, message),
    };
    tracing::debug!(target: "ugc::provider", provider = "replicate", status, class = error.class().as_str(), "error answer");
    error
}

/// The wait in a throttling message: "resets in ~30s", "in 1m", "in 1m30s", "in 2 minutes".
pub(crate) fn throttle_wait(text: &str) -> Option<Duration> {
    let lower = text.to_ascii_lowercase();
    let at = lower.rfind(" in ")? + 4;
    let mut rest = lower[at..]
        .trim_start()
        .trim_start_matches('~')
        .trim_start();
    let mut total = 0u64;
    let mut found = false;
    loop {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            break;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let factor = match &rest[..unit_len] {
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hr" | "hour" | "hours" => 3600,
            _ => break,
        };
        total = total.saturating_add(number.saturating_mul(factor));
        found = true;
        rest = rest[unit_len..].trim_start();
    }
    found.then(|| Duration::from_secs(total))
}

/// The class of a prediction that failed: a safety filter's refusal is a content
/// rejection; anything else (out of memory, a crashed worker) is transient.
pub(crate) fn classify_failure(error_text: &str, key: &str) -> ProviderError {
    let lower = error_text.to_ascii_lowercase();
    let refused = [
        "nsfw",
        "content moderation",
        "moderation",
        "flagged",
        "safety",
        "sensitive",
        "inappropriate",
        "not allowed content",
    ]
    .iter()
    .any(|w| lower.contains(w));
    let message = scrub(&format!("the prediction failed: {error_text}"), &[key]);
    if refused {
        ProviderError::content_rejected(message)
    } else {
        ProviderError::transient(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ErrorClass;

    #[test]
    fn throttle_waits_are_read_from_the_text() {
        let secs = |t: &str| throttle_wait(t).map(|d| d.as_secs());
        assert_eq!(
            secs("Request was throttled. Your rate limit resets in ~30s."),
            Some(30)
        );
        assert_eq!(secs("Your rate limit resets in 1m."), Some(60));
        assert_eq!(secs("resets in 1m30s"), Some(90));
        assert_eq!(secs("resets in 2 minutes"), Some(120));
        assert_eq!(secs("Request was throttled."), None);
        assert_eq!(secs("resets in soon"), None);
    }

    #[test]
    fn problems_and_failures_are_classified() {
        let body = br#"{"type": "about:blank", "title": "Too Many Requests", "status": 429, "detail": "Request was throttled. Your rate limit resets in ~30s."}"#;
        let e = classify_http(429, None, body, "r8_key");
        assert_eq!(
            (e.class(), e.retry_after()),
            (ErrorClass::RateLimited, Some(Duration::from_secs(30)))
        );
        let header_wins = classify_http(429, Some(Duration::from_secs(3)), body, "r8_key");
        assert_eq!(header_wins.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(
            classify_http(402, None, b"{}", "k").class(),
            ErrorClass::QuotaExhausted
        );
        assert_eq!(
            classify_failure("NSFW content detected", "k").class(),
            ErrorClass::ContentRejected
        );
        assert_eq!(
            classify_failure("CUDA out of memory", "k").class(),
            ErrorClass::Transient
        );
    }
}
