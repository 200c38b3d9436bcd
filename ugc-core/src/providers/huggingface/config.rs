//! Configuration of the Hugging Face adapter: where to call, with which key and model, and
//! what a call is estimated to cost.

use std::collections::HashMap;
use std::time::Duration;

use crate::providers::http::HttpSettings;
use crate::router::Price;
use crate::{Credential, Error, Result};

/// The Inference Providers router (the old `api-inference.huggingface.co` answers 410).
pub const DEFAULT_BASE_URL: &str = "https://router.huggingface.co";

/// The Hub, which answers `GET /api/whoami-v2` for credential checks.
pub const DEFAULT_HUB_URL: &str = "https://huggingface.co";

/// A small English TTS model served by `hf-inference`.
pub const DEFAULT_MODEL: &str = "facebook/mms-tts-eng";

/// An example per-request estimate for paid usage beyond the free monthly credits
/// ($0.001 per request). Hugging Face bills compute time, not requests, so this is only a
/// planning figure: set the real one per model in [`HuggingFaceConfig::prices`].
pub const PAID_ESTIMATE: Price = Price {
    per_request: 1_000,
    per_million_characters: 0,
    per_audio_second: 0,
    per_video_second: 0,
};

/// Settings of [`HuggingFace`](super::HuggingFace).
///
/// ```
/// use ugc_core::Credential;
/// use ugc_core::providers::huggingface::{HuggingFaceConfig, DEFAULT_MODEL};
/// let config = HuggingFaceConfig::new(Credential::new("operator", "hf_example"));
/// assert_eq!(config.default_model, DEFAULT_MODEL);
/// assert!(!config.wait_for_model);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HuggingFaceConfig {
    /// The inference router ([`DEFAULT_BASE_URL`]), timeouts and download cap.
    pub http: HttpSettings,
    /// Base URL of the Hub for `validate_credentials` ([`DEFAULT_HUB_URL`]).
    pub hub_base_url: String,
    /// The operator's token (`hf_...`), used when the call brings none of its own.
    pub credential: Option<Credential>,
    /// The model used when neither the endpoint nor the request names one.
    pub default_model: String,
    /// Sends `x-wait-for-model: true`: the call holds while a cold model loads instead of
    /// answering 503 (default false: the router would rather fail over than wait).
    pub wait_for_model: bool,
    /// Sends `x-use-cache: <value>` when set (false forces a fresh generation).
    pub use_cache: Option<bool>,
    /// Sends `X-HF-Bill-To: <org>` to bill an organization instead of the token's owner.
    pub bill_to: Option<String>,
    /// Price per model; models not listed use the default model's price.
    pub prices: HashMap<String, Price>,
}

impl HuggingFaceConfig {
    /// The defaults with `credential`: the router, [`DEFAULT_MODEL`] at $0 (free tier).
    pub fn new(credential: Credential) -> Self {
        Self {
            credential: Some(credential),
            ..Self::default()
        }
    }

    /// Points the adapter at `base_url` (the router or its emulator).
    #[must_use]
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.http.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Points credential checks at `hub_base_url`.
    #[must_use]
    pub fn hub_base_url(mut self, hub_base_url: impl Into<String>) -> Self {
        self.hub_base_url = hub_base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Sets the whole-request timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http = self.http.timeout(timeout);
        self
    }

    /// Sets the largest audio accepted.
    #[must_use]
    pub fn max_download_bytes(mut self, bytes: u64) -> Self {
        self.http = self.http.max_download_bytes(bytes);
        self
    }

    /// Sets the default model.
    #[must_use]
    pub fn default_model(mut self, model: impl Into<String>) -> Self {
        self.default_model = model.into();
        self
    }

    /// Sets the price of `model`.
    #[must_use]
    pub fn price(mut self, model: impl Into<String>, price: Price) -> Self {
        self.prices.insert(model.into(), price);
        self
    }

    /// Checks every field; errors name it (`huggingface.default_model`).
    pub(crate) fn validate(&self) -> Result<()> {
        if !is_model_id(&self.default_model) {
            return Err(Error::config(
                "huggingface.default_model must look like owner/name (letters, digits, . _ -)",
            ));
        }
        let hub_ok =
            self.hub_base_url.starts_with("https://") || self.hub_base_url.starts_with("http://");
        if !hub_ok {
            return Err(Error::config(
                "huggingface.hub_base_url must start with https:// or http://",
            ));
        }
        if let Some(org) = &self.bill_to
            && !is_model_id(org)
        {
            return Err(Error::config(
                "huggingface.bill_to must be an organization name",
            ));
        }
        Ok(())
    }
}

impl Default for HuggingFaceConfig {
    fn default() -> Self {
        Self {
            http: HttpSettings::new(DEFAULT_BASE_URL),
            hub_base_url: DEFAULT_HUB_URL.to_owned(),
            credential: None,
            default_model: DEFAULT_MODEL.to_owned(),
            wait_for_model: false,
            use_cache: None,
            bill_to: None,
            prices: HashMap::from([(DEFAULT_MODEL.to_owned(), Price::default())]),
        }
    }
}

/// A Hub repository id (`name` or `owner/name`): it goes into the URL path, so nothing that
/// could walk the path or add a query is allowed.
pub(crate) fn is_model_id(id: &str) -> bool {
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 96
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    let mut parts = id.split('/');
    let first = parts.next().is_some_and(segment_ok);
    let second = parts.next().is_none_or(segment_ok);
    first && second && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_cannot_walk_the_path() {
        assert!(is_model_id("facebook/mms-tts-eng"));
        assert!(is_model_id("gpt2"));
        for bad in ["", "a/../b", "../x", "a/b/c", "a?x=1", "a/b#c", "a b"] {
            assert!(!is_model_id(bad), "{bad}");
        }
    }
}
