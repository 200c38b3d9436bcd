//! Settings of the ElevenLabs adapter, its default price table and per-model text limits.

use std::collections::HashMap;

use crate::Credential;
use crate::providers::http::HttpSettings;
use crate::router::Price;

/// Where the real service lives; point [`HttpSettings::base_url`] at an emulator in tests.
pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";

/// The model used when neither the endpoint nor the request names one.
pub const DEFAULT_MODEL: &str = "eleven_multilingual_v2";

/// The voice used when the router passes none: the premade voice "Rachel".
pub const DEFAULT_VOICE: &str = "21m00Tcm4TlvDq8ikWAM";

/// Configuration of an [`ElevenLabs`](super::ElevenLabs) adapter.
///
/// `Debug` is safe to print: the credential shows only its id.
///
/// ```
/// use ugc_core::Credential;
/// use ugc_core::providers::elevenlabs::ElevenLabsConfig;
///
/// let config = ElevenLabsConfig::new(Credential::new("operator", "xi-live-123"));
/// assert_eq!(config.default_model, "eleven_multilingual_v2");
/// // $0.10 per 1,000 characters.
/// assert_eq!(config.prices["eleven_multilingual_v2"].per_million_characters, 100_000_000);
/// assert!(!format!("{config:?}").contains("xi-live-123"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ElevenLabsConfig {
    /// Base URL ([`DEFAULT_BASE_URL`]), timeouts and download cap.
    pub http: HttpSettings,
    /// The operator's key; an endpoint's own credential (a user's key) takes precedence.
    pub credential: Option<Credential>,
    /// Model used when the endpoint and the request name none (`eleven_multilingual_v2`).
    pub default_model: String,
    /// Voice id used when the router passes none ([`DEFAULT_VOICE`]).
    pub default_voice: String,
    /// Price per model; unknown models are estimated at the default model's price.
    pub prices: HashMap<String, Price>,
}

impl ElevenLabsConfig {
    /// The defaults with `credential` as the operator's key.
    pub fn new(credential: Credential) -> Self {
        Self {
            http: HttpSettings::new(DEFAULT_BASE_URL),
            credential: Some(credential),
            default_model: DEFAULT_MODEL.to_owned(),
            default_voice: DEFAULT_VOICE.to_owned(),
            prices: default_prices(),
        }
    }

    /// The same configuration talking to `base_url` (an emulator, a proxy).
    #[must_use]
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.http.base_url = HttpSettings::new(base_url).base_url;
        self
    }
}

/// Default prices per model, from PROVIDERS.md ("about $0.05-0.10 per 1K characters"):
/// multilingual v2 and v3 $0.10, flash and turbo $0.05 per 1,000 characters. Plans differ;
/// set your own.
pub fn default_prices() -> HashMap<String, Price> {
    // Dollars per 1,000 characters in cents, as micro-dollars per million characters.
    let per_thousand_cents = |cents: u64| Price {
        per_million_characters: cents * 10_000 * 1_000,
        ..Price::default()
    };
    HashMap::from([
        ("eleven_multilingual_v2".to_owned(), per_thousand_cents(10)),
        ("eleven_v3".to_owned(), per_thousand_cents(10)),
        ("eleven_flash_v2_5".to_owned(), per_thousand_cents(5)),
        ("eleven_turbo_v2_5".to_owned(), per_thousand_cents(5)),
        ("eleven_flash_v2".to_owned(), per_thousand_cents(5)),
        ("eleven_turbo_v2".to_owned(), per_thousand_cents(5)),
    ])
}

/// The longest text `model` accepts in one request, in characters, where documented:
/// eleven_v3 5,000; multilingual v2 10,000; flash and turbo v2.5 40,000; flash and turbo
/// v2 30,000 (unconfirmed). Other models are left to the provider to refuse.
pub fn max_characters(model: &str) -> Option<usize> {
    match model {
        "eleven_v3" => Some(5_000),
        "eleven_multilingual_v2" => Some(10_000),
        "eleven_flash_v2_5" | "eleven_turbo_v2_5" => Some(40_000),
        "eleven_flash_v2" | "eleven_turbo_v2" => Some(30_000),
        _ => None,
    }
}
