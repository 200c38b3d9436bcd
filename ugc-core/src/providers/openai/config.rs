//! Settings of the OpenAI adapter and its default price table.

use std::collections::HashMap;

use crate::Credential;
use crate::providers::http::HttpSettings;
use crate::router::Price;

/// Where the real service lives; point [`HttpSettings::base_url`] at an emulator in tests.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com";

/// The model used when neither the endpoint nor the request names one.
pub const DEFAULT_MODEL: &str = "tts-1";

/// The voice used when the router passes none.
pub const DEFAULT_VOICE: &str = "alloy";

/// Longest `input` the speech endpoint accepts, in characters.
pub const MAX_INPUT_CHARS: usize = 4096;

/// Configuration of an [`OpenAi`](super::OpenAi) adapter.
///
/// `Debug` is safe to print: the credential shows only its id.
///
/// ```
/// use ugc_core::Credential;
/// use ugc_core::providers::openai::OpenAiConfig;
///
/// let config = OpenAiConfig::new(Credential::new("operator", "sk-live-123"));
/// assert_eq!(config.default_model, "tts-1");
/// assert_eq!(config.prices["tts-1-hd"].per_million_characters, 30_000_000);
/// assert!(!format!("{config:?}").contains("sk-live-123"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OpenAiConfig {
    /// Base URL ([`DEFAULT_BASE_URL`]), timeouts and download cap.
    pub http: HttpSettings,
    /// The operator's key; an endpoint's own credential (a user's key) takes precedence.
    pub credential: Option<Credential>,
    /// Model used when the endpoint and the request name none (`tts-1`).
    pub default_model: String,
    /// Voice used when the router passes none (`alloy`).
    pub default_voice: String,
    /// Speaking instructions (tone, accent) for models that take them; never sent to
    /// `tts-1` and `tts-1-hd`, which reject them.
    pub instructions: Option<String>,
    /// Price per model; unknown models are estimated at the default model's price.
    pub prices: HashMap<String, Price>,
}

impl OpenAiConfig {
    /// The defaults with `credential` as the operator's key.
    pub fn new(credential: Credential) -> Self {
        Self {
            http: HttpSettings::new(DEFAULT_BASE_URL),
            credential: Some(credential),
            default_model: DEFAULT_MODEL.to_owned(),
            default_voice: DEFAULT_VOICE.to_owned(),
            instructions: None,
            prices: default_prices(),
        }
    }

    /// The same configuration talking to `base_url` (an emulator, a proxy).
    #[must_use]
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        let settings = HttpSettings::new(base_url);
        self.http.base_url = settings.base_url;
        self
    }
}

/// OpenAI's published prices (PROVIDERS.md): tts-1 $15, tts-1-hd $30 per million characters;
/// gpt-4o-mini-tts $12 per million characters is an unconfirmed approximation (it is billed
/// by tokens).
pub fn default_prices() -> HashMap<String, Price> {
    let per_million = |dollars: u64| Price {
        per_million_characters: dollars * 1_000_000,
        ..Price::default()
    };
    HashMap::from([
        ("tts-1".to_owned(), per_million(15)),
        ("tts-1-hd".to_owned(), per_million(30)),
        ("gpt-4o-mini-tts".to_owned(), per_million(12)),
    ])
}
