use std::collections::HashMap;
use std::time::Duration;

use crate::Credential;
use crate::providers::http::HttpSettings;
use crate::router::Price;

/// D-ID's public API.
pub const DEFAULT_BASE_URL: &str = "https://api.d-id.com";

/// The price-table key of talks (D-ID has no models to choose from).
pub const DEFAULT_MODEL: &str = "talks";

/// The Microsoft voice used when the call names none.
pub const DEFAULT_VOICE: &str = "en-US-JennyNeural";

/// Largest source image D-ID accepts (10 MB, JPEG or PNG).
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

/// Longest video D-ID makes.
pub const MAX_VIDEO: Duration = Duration::from_secs(5 * 60);

/// An example price, not a quote: D-ID sells credits by plan, so set the effective price per
/// second of video of your plan. Default $0.05 per second.
pub fn default_prices() -> HashMap<String, Price> {
    HashMap::from([(
        DEFAULT_MODEL.to_owned(),
        Price {
            per_video_second: 50_000,
            ..Price::default()
        },
    )])
}

/// Settings of the D-ID adapter; checked by [`Did::new`](super::Did::new).
///
/// ```
/// use ugc_core::Credential;
/// use ugc_core::providers::did::DidConfig;
/// let config = DidConfig::new(Credential::new("operator", "user:secret")).voice("en-GB-SoniaNeural");
/// assert_eq!(config.chars_per_second, 15);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DidConfig {
    /// Base URL, timeouts and download cap (default base [`DEFAULT_BASE_URL`]).
    pub http: HttpSettings,
    /// The key used when a call brings none of its own (see [`basic_auth`](super::basic_auth)).
    pub credential: Credential,
    /// Microsoft voice id for text scripts when the call names none ([`DEFAULT_VOICE`]).
    pub default_voice: String,
    /// Interval between polls of a talk (default 2 s; D-ID documents none).
    pub poll_interval: Duration,
    /// Speaking rate used to estimate a text script's video length (default 15 characters
    /// per second): scripts estimated over [`MAX_VIDEO`] are refused before sending.
    pub chars_per_second: u32,
    /// Prices keyed by model ([`DEFAULT_MODEL`]); [`default_prices`].
    pub prices: HashMap<String, Price>,
}

impl DidConfig {
    /// The defaults, calling [`DEFAULT_BASE_URL`] with `credential`.
    pub fn new(credential: Credential) -> Self {
        Self {
            http: HttpSettings::new(DEFAULT_BASE_URL),
            credential,
            default_voice: DEFAULT_VOICE.to_owned(),
            poll_interval: Duration::from_secs(2),
            chars_per_second: 15,
            prices: default_prices(),
        }
    }

    /// Points the adapter at another base URL (an emulator, a proxy).
    #[must_use]
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        let base: String = base_url.into();
        self.http.base_url = base.trim_end_matches('/').to_owned();
        self
    }

    /// Replaces the connection settings.
    #[must_use]
    pub fn http(mut self, http: HttpSettings) -> Self {
        self.http = http;
        self
    }

    /// Sets the default voice.
    #[must_use]
    pub fn voice(mut self, voice: impl Into<String>) -> Self {
        self.default_voice = voice.into();
        self
    }

    /// Sets the poll interval.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets the price of `model`.
    #[must_use]
    pub fn price(mut self, model: impl Into<String>, price: Price) -> Self {
        self.prices.insert(model.into(), price);
        self
    }

    /// Checks the fields the client does not; errors name the field.
    pub(super) fn validate(&self) -> crate::Result<()> {
        if self.default_voice.trim().is_empty() {
            return Err(crate::Error::config("did.default_voice must not be empty"));
        }
        if self.poll_interval.is_zero() {
            return Err(crate::Error::config(
                "did.poll_interval must be greater than zero",
            ));
        }
        if self.chars_per_second == 0 {
            return Err(crate::Error::config(
                "did.chars_per_second must be greater than zero",
            ));
        }
        if self.credential.expose().trim().is_empty() {
            return Err(crate::Error::config("did.credential must not be empty"));
        }
        Ok(())
    }
}
