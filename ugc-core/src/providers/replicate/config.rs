//! Configuration of the Replicate adapter: where to call, which model per kind of request,
//! how each model names its inputs, and example prices.

use std::collections::HashMap;
use std::time::Duration;

use crate::providers::http::HttpSettings;
use crate::router::Price;
use crate::{Credential, Error, Result};

use super::model::ModelRef;

/// Replicate's API host; paths start with `/v1`.
pub const DEFAULT_BASE_URL: &str = "https://api.replicate.com";

/// Default text/image to video model (an official model: no version needed).
pub const DEFAULT_VIDEO_MODEL: &str = "minimax/video-01";

/// Default talking-head model.
pub const DEFAULT_AVATAR_MODEL: &str = "bytedance/omni-human";

/// Default text to speech model.
pub const DEFAULT_SPEECH_MODEL: &str = "minimax/speech-02-turbo";

/// How one model names its inputs: each field is the input key to send the request's value
/// under, or `None` to leave that value out (models reject inputs they do not know).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InputFields {
    /// Video: the prompt (`prompt`).
    pub prompt: Option<String>,
    /// Video: the negative prompt (`negative_prompt`).
    pub negative_prompt: Option<String>,
    /// Video: the start frame, a URL or a data URI (`image`; many models call it `first_frame_image`).
    pub image: Option<String>,
    /// Video: frame width (`width`).
    pub width: Option<String>,
    /// Video: frame height (`height`).
    pub height: Option<String>,
    /// Video: frame count, sent as duration × fps when both are known (unset by default).
    pub num_frames: Option<String>,
    /// Video: frames per second (`fps`).
    pub fps: Option<String>,
    /// Video: length in seconds (`duration`).
    pub duration: Option<String>,
    /// Video: seed (`seed`).
    pub seed: Option<String>,
    /// Video: guidance scale (`guidance_scale`).
    pub guidance_scale: Option<String>,
    /// Video: sampling steps (`num_inference_steps`).
    pub num_inference_steps: Option<String>,
    /// Avatar: the face (`image`).
    pub avatar_image: Option<String>,
    /// Avatar: recorded audio to lip-sync (`audio`).
    pub avatar_audio: Option<String>,
    /// Avatar: text to speak (`text`).
    pub avatar_text: Option<String>,
    /// Speech: the text (`text`).
    pub speech_text: Option<String>,
    /// Speech and avatar text: the provider's voice id (`voice`).
    pub voice: Option<String>,
}

impl Default for InputFields {
    fn default() -> Self {
        let name = |n: &str| Some(n.to_owned());
        Self {
            prompt: name("prompt"),
            negative_prompt: name("negative_prompt"),
            image: name("image"),
            width: name("width"),
            height: name("height"),
            num_frames: None,
            fps: name("fps"),
            duration: name("duration"),
            seed: name("seed"),
            guidance_scale: name("guidance_scale"),
            num_inference_steps: name("num_inference_steps"),
            avatar_image: name("image"),
            avatar_audio: name("audio"),
            avatar_text: name("text"),
            speech_text: name("text"),
            voice: name("voice"),
        }
    }
}

/// Settings of [`Replicate`](super::Replicate).
///
/// The default prices are **examples** of the order of magnitude ($0.05 per second of video,
/// $0.14 per second of avatar video, $60 per million characters of speech); Replicate
/// prices each model differently and changes them: set the real ones in `prices`.
///
/// ```
/// use ugc_core::Credential;
/// use ugc_core::providers::replicate::ReplicateConfig;
/// let config = ReplicateConfig::new(Credential::new("operator", "r8_example"));
/// assert_eq!(config.prefer_wait, 5);
/// assert_eq!(config.fields.prompt.as_deref(), Some("prompt"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReplicateConfig {
    /// The API ([`DEFAULT_BASE_URL`]), timeouts and download cap. The timeout must exceed
    /// `prefer_wait`, which holds the create call.
    pub http: HttpSettings,
    /// The operator's token (`r8_...`), used when the call brings none of its own.
    pub credential: Option<Credential>,
    /// Model for video requests: `owner/name` or `owner/name:version`.
    pub video_model: String,
    /// Model for avatar requests.
    pub avatar_model: String,
    /// Model for speech requests.
    pub speech_model: String,
    /// Seconds the create call waits for the result (`Prefer: wait=N`, 1 to 60; default 5).
    pub prefer_wait: u32,
    /// Interval between polls of a running prediction (default 2 s).
    pub poll_interval: Duration,
    /// Input names used by models without an entry in `model_fields`.
    pub fields: InputFields,
    /// Input names per model (`owner/name`, without version).
    pub model_fields: HashMap<String, InputFields>,
    /// Price per model (`owner/name`); models not listed use the default model of the
    /// request's kind.
    pub prices: HashMap<String, Price>,
}

impl ReplicateConfig {
    /// The defaults with `credential`.
    pub fn new(credential: Credential) -> Self {
        Self {
            credential: Some(credential),
            ..Self::default()
        }
    }

    /// Points the adapter at `base_url` (the API or its emulator).
    #[must_use]
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.http.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Sets the whole-request timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http = self.http.timeout(timeout);
        self
    }

    /// Sets the largest output accepted.
    #[must_use]
    pub fn max_download_bytes(mut self, bytes: u64) -> Self {
        self.http = self.http.max_download_bytes(bytes);
        self
    }

    /// Sets the polling interval.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets the input names of `model`.
    #[must_use]
    pub fn model_fields(mut self, model: impl Into<String>, fields: InputFields) -> Self {
        self.model_fields.insert(model.into(), fields);
        self
    }

    /// Sets the price of `model`.
    #[must_use]
    pub fn price(mut self, model: impl Into<String>, price: Price) -> Self {
        self.prices.insert(model.into(), price);
        self
    }

    /// Checks every field; errors name it (`replicate.prefer_wait`).
    pub(crate) fn validate(&self) -> Result<()> {
        if !(1..=60).contains(&self.prefer_wait) {
            return Err(Error::config(
                "replicate.prefer_wait must be between 1 and 60 seconds",
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(Error::config(
                "replicate.poll_interval must be greater than zero",
            ));
        }
        let models = [
            ("replicate.video_model", &self.video_model),
            ("replicate.avatar_model", &self.avatar_model),
            ("replicate.speech_model", &self.speech_model),
        ];
        for (field, model) in models {
            if ModelRef::parse(model).is_none() {
                return Err(Error::config(format!(
                    "{field} must be owner/name or owner/name:version"
                )));
            }
        }
        Ok(())
    }
}

impl Default for ReplicateConfig {
    fn default() -> Self {
        let per_video_second = |micros| Price {
            per_video_second: micros,
            ..Price::default()
        };
        Self {
            http: HttpSettings::new(DEFAULT_BASE_URL),
            credential: None,
            video_model: DEFAULT_VIDEO_MODEL.to_owned(),
            avatar_model: DEFAULT_AVATAR_MODEL.to_owned(),
            speech_model: DEFAULT_SPEECH_MODEL.to_owned(),
            prefer_wait: 5,
            poll_interval: Duration::from_secs(2),
            fields: InputFields::default(),
            model_fields: HashMap::new(),
            prices: HashMap::from([
                (DEFAULT_VIDEO_MODEL.to_owned(), per_video_second(50_000)),
                (DEFAULT_AVATAR_MODEL.to_owned(), per_video_second(140_000)),
                (
                    DEFAULT_SPEECH_MODEL.to_owned(),
                    Price {
                        per_million_characters: 60_000_000,
                        ..Price::default()
                    },
                ),
            ]),
        }
    }
}
