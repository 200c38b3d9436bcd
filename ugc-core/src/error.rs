//! The one error type of ugc and its stable kinds.
//!
//! Every binding (Python, Node, C) exposes [`ErrorKind::code`] unchanged, so a code is a
//! public contract: codes are never renamed, only added.

use std::fmt;
use std::time::Duration;

use crate::router::Attempt;

/// What went wrong, in terms a caller can act on. Codes are stable across releases and bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is malformed or out of bounds; fix the input.
    InvalidInput,
    /// The content policy refused the text or media.
    ContentRejected,
    /// No valid credentials were presented.
    Unauthorized,
    /// The credentials are valid but lack the scope for this action.
    Forbidden,
    /// A quota or budget of the caller is spent; see `retry_after`.
    QuotaExceeded,
    /// The caller sends too fast; see `retry_after`.
    RateLimited,
    /// A body, upload or result is larger than allowed.
    PayloadTooLarge,
    /// One provider could not serve the request.
    ProviderUnavailable,
    /// No provider can serve the request now; see `eta`.
    AllProvidersUnavailable,
    /// The deadline passed before an outcome was known.
    Timeout,
    /// A provider refused the request as invalid.
    UpstreamRejected,
    /// The configuration is invalid or a provider is misconfigured.
    Config,
    /// A store (SQLite, Postgres, Redis, files) failed.
    Storage,
    /// A bug in ugc; please report it.
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order; bindings generate their error classes from this list.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::InvalidInput,
        ErrorKind::ContentRejected,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::QuotaExceeded,
        ErrorKind::RateLimited,
        ErrorKind::PayloadTooLarge,
        ErrorKind::ProviderUnavailable,
        ErrorKind::AllProvidersUnavailable,
        ErrorKind::Timeout,
        ErrorKind::UpstreamRejected,
        ErrorKind::Config,
        ErrorKind::Storage,
        ErrorKind::Internal,
    ];

    /// The stable snake_case code shared by every binding.
    ///
    /// ```
    /// use ugc_core::ErrorKind;
    /// assert_eq!(ErrorKind::QuotaExceeded.code(), "quota_exceeded");
    /// ```
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::ContentRejected => "content_rejected",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::ProviderUnavailable => "provider_unavailable",
            ErrorKind::AllProvidersUnavailable => "all_providers_unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::UpstreamRejected => "upstream_rejected",
            ErrorKind::Config => "config",
            ErrorKind::Storage => "storage",
            ErrorKind::Internal => "internal",
        }
    }

    /// Whether the same request may succeed later without being changed.
    pub const fn is_temporary(self) -> bool {
        matches!(
            self,
            ErrorKind::QuotaExceeded
                | ErrorKind::RateLimited
                | ErrorKind::ProviderUnavailable
                | ErrorKind::AllProvidersUnavailable
                | ErrorKind::Timeout
                | ErrorKind::Storage
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error of every fallible ugc operation.
///
/// The message never holds a secret or the user's text: it is written by ugc, and provider
/// text is scrubbed before it gets here.
#[derive(thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    retry_after: Option<Duration>,
    provider: Option<String>,
    attempts: Vec<Attempt>,
    #[source]
    source: Option<Source>,
}

impl Error {
    /// A new error of `kind` with a message that must hold neither secrets nor user text.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
            provider: None,
            attempts: Vec::new(),
            source: None,
        }
    }

    /// Shorthand for an [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for an [`ErrorKind::Config`] error.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// Sets when the same request may be tried again.
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// Names the provider the error came from.
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Attaches the router's attempt trail.
    #[must_use]
    pub fn with_attempts(mut self, attempts: Vec<Attempt>) -> Self {
        self.attempts = attempts;
        self
    }

    /// Chains the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The kind, for matching.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable code of the kind, as every binding shows it.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The message, without the code.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// When the same request may be tried again (quota, rate limit), or when a provider is
    /// expected back (`all_providers_unavailable`: the ETA).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The provider the error came from, if one did.
    pub fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    /// The attempts the router made before giving up (empty when it never routed).
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(r) = self.retry_after {
            d.field("retry_after", &r);
        }
        if let Some(p) = &self.provider {
            d.field("provider", p);
        }
        if !self.attempts.is_empty() {
            d.field("attempts", &self.attempts);
        }
        if let Some(s) = &self.source {
            d.field("source", s);
        }
        d.finish()
    }
}

/// The result type of ugc.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            let code = kind.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert_eq!(kind.to_string(), code);
        }
    }

    #[test]
    fn display_shows_code_and_message_and_source_is_chained() {
        let io = std::io::Error::other("disk full");
        let err = Error::new(ErrorKind::Storage, "cannot write job").with_source(io);
        assert_eq!(err.to_string(), "storage: cannot write job");
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk full"));
    }
}
