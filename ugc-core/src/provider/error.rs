use std::fmt;
use std::time::Duration;

use crate::ErrorKind;

/// How a provider failure is treated: the rows of the failover table (DESIGN section 4).
///
/// | class | retry same | fail over | counts against breaker |
/// |---|---|---|---|
/// | `RateLimited` | after Retry-After, within the deadline | yes, and the endpoint cools down | no |
/// | `ConcurrencyLimited` | when a slot frees | yes | no |
/// | `Transient` | yes, with backoff | yes | yes |
/// | `QuotaExhausted` | no | yes; long cooldown | no |
/// | `Misconfigured` | no | yes; endpoint marked misconfigured | no |
/// | `BadRequest` | no | no: the input is bad everywhere | no |
/// | `ContentRejected` | no | configurable | no |
/// | `AcceptanceUnknown` | no | only once polling proves failure | no |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// 429, ElevenLabs `system_busy`.
    RateLimited,
    /// ElevenLabs `too_many_concurrent_requests`.
    ConcurrencyLimited,
    /// 5xx, timeout, connection reset, Hugging Face 503 loading.
    Transient,
    /// OpenAI `insufficient_quota`, 402: the account's credit is spent.
    QuotaExhausted,
    /// 401, 403, 404 model, 410 host: the endpoint is set up wrong.
    Misconfigured,
    /// 400 or 422 caused by the input.
    BadRequest,
    /// The provider's content filter refused the input.
    ContentRejected,
    /// A submit of an async job may or may not have been accepted.
    AcceptanceUnknown,
}

impl ErrorClass {
    /// Every class.
    pub const ALL: [ErrorClass; 8] = [
        ErrorClass::RateLimited,
        ErrorClass::ConcurrencyLimited,
        ErrorClass::Transient,
        ErrorClass::QuotaExhausted,
        ErrorClass::Misconfigured,
        ErrorClass::BadRequest,
        ErrorClass::ContentRejected,
        ErrorClass::AcceptanceUnknown,
    ];

    /// Stable snake_case name, as trails and events show it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::ConcurrencyLimited => "concurrency_limited",
            ErrorClass::Transient => "transient",
            ErrorClass::QuotaExhausted => "quota_exhausted",
            ErrorClass::Misconfigured => "misconfigured",
            ErrorClass::BadRequest => "bad_request",
            ErrorClass::ContentRejected => "content_rejected",
            ErrorClass::AcceptanceUnknown => "acceptance_unknown",
        }
    }

    /// Whether the same endpoint may be tried again for the same request.
    pub const fn retries_same_endpoint(self) -> bool {
        matches!(
            self,
            ErrorClass::RateLimited | ErrorClass::ConcurrencyLimited | ErrorClass::Transient
        )
    }

    /// Whether another endpoint may be tried; content rejections follow the router setting.
    pub const fn fails_over(self, content_rejected_fails_over: bool) -> bool {
        match self {
            ErrorClass::RateLimited
            | ErrorClass::ConcurrencyLimited
            | ErrorClass::Transient
            | ErrorClass::QuotaExhausted
            | ErrorClass::Misconfigured => true,
            ErrorClass::ContentRejected => content_rejected_fails_over,
            ErrorClass::BadRequest | ErrorClass::AcceptanceUnknown => false,
        }
    }

    /// Whether the failure is recorded as a failed call by the endpoint's circuit breaker.
    pub const fn counts_against_breaker(self) -> bool {
        matches!(self, ErrorClass::Transient)
    }

    /// The error kind a caller sees when this class ends a dispatch.
    pub const fn error_kind(self) -> ErrorKind {
        match self {
            ErrorClass::RateLimited | ErrorClass::ConcurrencyLimited => ErrorKind::RateLimited,
            ErrorClass::Transient | ErrorClass::QuotaExhausted => ErrorKind::ProviderUnavailable,
            ErrorClass::Misconfigured => ErrorKind::Config,
            ErrorClass::BadRequest => ErrorKind::UpstreamRejected,
            ErrorClass::ContentRejected => ErrorKind::ContentRejected,
            ErrorClass::AcceptanceUnknown => ErrorKind::Timeout,
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classified provider failure.
///
/// The message is written by the adapter from the provider's answer, scrubbed of secrets.
///
/// ```
/// use std::time::Duration;
/// use ugc_core::provider::{ErrorClass, ProviderError};
/// let e = ProviderError::rate_limited("429 from upstream").with_retry_after(Duration::from_secs(2));
/// assert_eq!(e.class(), ErrorClass::RateLimited);
/// assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {message}")]
pub struct ProviderError {
    class: ErrorClass,
    message: String,
    retry_after: Option<Duration>,
    status: Option<u16>,
}

impl ProviderError {
    /// A failure of `class`.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            retry_after: None,
            status: None,
        }
    }

    /// [`ErrorClass::RateLimited`].
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::RateLimited, message)
    }

    /// [`ErrorClass::ConcurrencyLimited`].
    pub fn concurrency_limited(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::ConcurrencyLimited, message)
    }

    /// [`ErrorClass::Transient`].
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Transient, message)
    }

    /// [`ErrorClass::QuotaExhausted`].
    pub fn quota_exhausted(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::QuotaExhausted, message)
    }

    /// [`ErrorClass::Misconfigured`].
    pub fn misconfigured(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Misconfigured, message)
    }

    /// [`ErrorClass::BadRequest`].
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::BadRequest, message)
    }

    /// [`ErrorClass::ContentRejected`].
    pub fn content_rejected(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::ContentRejected, message)
    }

    /// [`ErrorClass::AcceptanceUnknown`].
    pub fn acceptance_unknown(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::AcceptanceUnknown, message)
    }

    /// Sets how long the provider asked to wait.
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// Sets the HTTP status the provider answered with.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The class, which decides what the router does.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// The scrubbed message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How long the provider asked to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The HTTP status, if there was one.
    pub fn status(&self) -> Option<u16> {
        self.status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failover_table_is_encoded_row_by_row() {
        use ErrorClass::*;
        // (class, retry same, fail over, fail over when content failover is on, breaker)
        let table = [
            (RateLimited, true, true, true, false),
            (ConcurrencyLimited, true, true, true, false),
            (Transient, true, true, true, true),
            (QuotaExhausted, false, true, true, false),
            (Misconfigured, false, true, true, false),
            (BadRequest, false, false, false, false),
            (ContentRejected, false, false, true, false),
            (AcceptanceUnknown, false, false, false, false),
        ];
        assert_eq!(table.len(), ErrorClass::ALL.len());
        for (class, retry, over, over_content, breaker) in table {
            assert_eq!(class.retries_same_endpoint(), retry, "{class}");
            assert_eq!(class.fails_over(false), over, "{class}");
            assert_eq!(class.fails_over(true), over_content, "{class}");
            assert_eq!(class.counts_against_breaker(), breaker, "{class}");
        }
    }
}
