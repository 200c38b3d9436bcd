use std::collections::HashMap;
use std::time::Duration;

use crate::Credential;
use crate::providers::http::HttpSettings;
use crate::router::Price;

/// Stability's public API.
pub const DEFAULT_BASE_URL: &str = "https://api.stability.ai";

/// The price-table key of image to video (one successful video).
pub const VIDEO_MODEL: &str = "image-to-video";

/// The still-image models text to video may start from (`/v2beta/stable-image/generate/{model}`).
pub const STILL_MODELS: [&str; 3] = ["core", "ultra", "sd3"];

/// One Stability credit, in micro-dollars ($0.01).
const CREDIT: u64 = 10_000;

/// List prices at the time of writing, keyed by model: 20 credits per successful video, 3 per
/// core still, 8 per ultra still, 6.5 per sd3 (large) still. Failures are not charged.
pub fn default_prices() -> HashMap<String, Price> {
    let per_request = |micros: u64| Price {
        per_request: micros,
        ..Price::default()
    };
    HashMap::from([
        (VIDEO_MODEL.to_owned(), per_request(20 * CREDIT)),
        ("core".to_owned(), per_request(3 * CREDIT)),
        ("ultra".to_owned(), per_request(8 * CREDIT)),
        ("sd3".to_owned(), per_request(65 * CREDIT / 10)),
    ])
}

/// Settings of the Stability adapter; checked by [`Stability::new`](super::Stability::new).
///
/// ```
/// use ugc_core::Credential;
/// use ugc_core::providers::stability::StabilityConfig;
/// let config = StabilityConfig::new(Credential::new("operator", "sk-example"))
///     .base_url("http://127.0.0.1:9")
///     .image_model("ultra");
/// assert_eq!(config.motion_bucket_id, 127);
/// assert_eq!(config.poll_interval.as_secs(), 10);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StabilityConfig {
    /// Base URL, timeouts and download cap (default base [`DEFAULT_BASE_URL`]).
    pub http: HttpSettings,
    /// The key used when a call brings none of its own (`Authorization: Bearer`).
    pub credential: Credential,
    /// Still model for text to video: `core` (default), `ultra` or `sd3`.
    pub image_model: String,
    /// How much motion image to video adds, 1-255 (default 127).
    pub motion_bucket_id: u8,
    /// Guidance (`cfg_scale`, 0-10) when the request gives none (default 1.8).
    pub cfg_scale: f32,
    /// Interval between polls of a job (default 10 s: Stability asks for no more than one
    /// poll per 10 s; shorter values risk 429s and exist for tests against the emulator).
    pub poll_interval: Duration,
    /// Prices keyed by model ([`VIDEO_MODEL`] and the still models); [`default_prices`].
    pub prices: HashMap<String, Price>,
}

impl StabilityConfig {
    /// The defaults, calling [`DEFAULT_BASE_URL`] with `credential`.
    pub fn new(credential: Credential) -> Self {
        Self {
            http: HttpSettings::new(DEFAULT_BASE_URL),
            credential,
            image_model: "core".to_owned(),
            motion_bucket_id: 127,
            cfg_scale: 1.8,
            poll_interval: Duration::from_secs(10),
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

    /// Sets the still model of text to video.
    #[must_use]
    pub fn image_model(mut self, model: impl Into<String>) -> Self {
        self.image_model = model.into();
        self
    }

    /// Sets the motion amount (1-255).
    #[must_use]
    pub fn motion_bucket_id(mut self, motion: u8) -> Self {
        self.motion_bucket_id = motion;
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
        if !STILL_MODELS.contains(&self.image_model.as_str()) {
            return Err(crate::Error::config(
                "stability.image_model must be core, ultra or sd3",
            ));
        }
        if self.motion_bucket_id == 0 {
            return Err(crate::Error::config(
                "stability.motion_bucket_id must be in 1..=255",
            ));
        }
        if !(0.0..=10.0).contains(&self.cfg_scale) {
            return Err(crate::Error::config(
                "stability.cfg_scale must be in 0..=10",
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(crate::Error::config(
                "stability.poll_interval must be greater than zero",
            ));
        }
        if self.credential.expose().trim().is_empty() {
            return Err(crate::Error::config(
                "stability.credential must not be empty",
            ));
        }
        Ok(())
    }
}
