use std::time::{Duration, SystemTime};

use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};

use crate::provider::{ProviderError, parse_retry_after};
use crate::secret::scrub;

/// The generic class of an HTTP error status, before provider-specific refinement.
///
/// 429 rate limited; 402 quota exhausted upstream; 401, 403, 404 and 410 misconfigured
/// (bad key, unknown model, retired host); 408, 409 and 5xx transient; other 4xx bad request.
/// `message` must already be scrubbed.
pub fn classify_status(
    status: u16,
    retry_after: Option<Duration>,
    message: String,
) -> ProviderError {
    let error = match status {
        429 => ProviderError::rate_limited(message),
        402 => ProviderError::quota_exhausted(message),
        401 | 403 | 404 | 410 => ProviderError::misconfigured(message),
        408 | 409 | 500..=599 => ProviderError::transient(message),
        _ => ProviderError::bad_request(message),
    }
    .with_status(status);
    match retry_after {
        Some(wait) => error.with_retry_after(wait),
        None => error,
    }
}

/// Classifies a failure below HTTP: timeouts, refused or reset connections and broken
/// bodies are transient; a request that could not be built is a misconfiguration.
pub fn classify_transport(error: &reqwest::Error, secrets: &[&str]) -> ProviderError {
    // reqwest's Display includes the URL, which may carry a signed query: keep the kind only.
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the response body broke off"
    } else if error.is_builder() {
        return ProviderError::misconfigured(scrub("the request could not be built", secrets));
    } else {
        "the connection failed"
    };
    ProviderError::transient(what.to_owned())
}

/// The `Retry-After` header as a wait from `now` (seconds or HTTP date).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, now)
}

/// The response's media type if it starts with one of `accepted` (`"audio/"`), else a
/// transient failure: a 200 with an HTML or JSON body is an upstream fault, not media.
pub fn media_type(headers: &HeaderMap, accepted: &[&str]) -> Result<String, ProviderError> {
    let mime = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if accepted.iter().any(|a| mime.starts_with(a)) {
        Ok(mime)
    } else {
        let shown = if mime.is_empty() {
            "none"
        } else {
            mime.as_str()
        };
        Err(ProviderError::transient(format!(
            "expected {} but the provider sent content type {}",
            accepted.join(" or "),
            scrub(shown, &[])
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ErrorClass;

    #[test]
    fn statuses_map_to_the_generic_classes() {
        let class = |s| classify_status(s, None, String::new()).class();
        assert_eq!(class(429), ErrorClass::RateLimited);
        assert_eq!(class(402), ErrorClass::QuotaExhausted);
        assert_eq!(class(401), ErrorClass::Misconfigured);
        assert_eq!(class(410), ErrorClass::Misconfigured);
        assert_eq!(class(503), ErrorClass::Transient);
        assert_eq!(class(422), ErrorClass::BadRequest);
        let e = classify_status(429, Some(Duration::from_secs(3)), "slow down".into());
        assert_eq!(
            (e.status(), e.retry_after()),
            (Some(429), Some(Duration::from_secs(3)))
        );
    }

    #[test]
    fn content_types_are_checked_by_prefix() {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            "audio/mpeg; charset=binary"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(
            media_type(&h, &["audio/"]).ok().as_deref(),
            Some("audio/mpeg")
        );
        h.insert(
            CONTENT_TYPE,
            "text/html".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(
            media_type(&h, &["audio/"]).map_err(|e| e.class()),
            Err(ErrorClass::Transient)
        );
    }
}
