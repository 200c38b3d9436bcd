//! What every hosted provider's adapter shares: a reqwest client with rustls and timeouts,
//! bodies read under a size cap while streaming, and the generic classification of HTTP
//! statuses and transport failures into [`ErrorClass`](crate::provider::ErrorClass)es.
//!
//! Adapters start from [`classify_status`] and refine it with what their provider documents
//! (a 429 that means spent credit, a 503 that means a model is loading).

mod body;
mod classify;

use std::time::Duration;

pub use body::{download, read_capped};
pub use classify::{classify_status, classify_transport, media_type, retry_after};

use crate::{Error, Result};

/// Connection settings of one adapter; the base URL points at the real service or at its
/// emulator on 127.0.0.1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpSettings {
    /// Scheme, host and optional path prefix, without a trailing slash.
    pub base_url: String,
    /// Whole-request timeout, body included (default 60 s).
    pub timeout: Duration,
    /// TCP and TLS connect timeout (default 10 s).
    pub connect_timeout: Duration,
    /// Largest media accepted from the provider (default 50 MiB); larger bodies are aborted
    /// while streaming.
    pub max_download_bytes: u64,
}

impl HttpSettings {
    /// Settings for `base_url` with the defaults.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_download_bytes: 50 * 1024 * 1024,
        }
    }

    /// Sets the whole-request timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the download cap.
    #[must_use]
    pub fn max_download_bytes(mut self, bytes: u64) -> Self {
        self.max_download_bytes = bytes;
        self
    }

    /// Builds the client, checking the settings; errors name the field under `field`.
    pub fn client(&self, field: &str) -> Result<reqwest::Client> {
        let scheme_ok =
            self.base_url.starts_with("https://") || self.base_url.starts_with("http://");
        if !scheme_ok {
            return Err(Error::config(format!(
                "{field}.base_url must start with https:// or http://"
            )));
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::config(format!(
                "{field}.timeout must be greater than zero"
            )));
        }
        if self.max_download_bytes == 0 {
            return Err(Error::config(format!(
                "{field}.max_download_bytes must be greater than zero"
            )));
        }
        reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("ugc/", env!("CARGO_PKG_VERSION")))
            // Provider answers never need more than a hop or two; an open redirect could
            // otherwise walk a download anywhere.
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| {
                Error::config(format!("{field}: cannot build the HTTP client")).with_source(e)
            })
    }

    /// `base_url` joined with `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}
