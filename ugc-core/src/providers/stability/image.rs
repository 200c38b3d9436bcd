//! Still generation (`/v2beta/stable-image/generate/{model}`): the first half of text to
//! video, and [`Stability::generate_image`] for callers that want the still itself.

use std::fmt;

use reqwest::header::ACCEPT;
use reqwest::multipart::Form;

use crate::provider::ProviderError;
use crate::{Credential, Media};

use super::Stability;
use super::config::STILL_MODELS;
use super::form::check_seed;

/// The aspect ratios Stable Image accepts, as `(name, width, height)`.
pub const ASPECT_RATIOS: [(&str, u32, u32); 9] = [
    ("16:9", 16, 9),
    ("1:1", 1, 1),
    ("21:9", 21, 9),
    ("2:3", 2, 3),
    ("3:2", 3, 2),
    ("4:5", 4, 5),
    ("5:4", 5, 4),
    ("9:16", 9, 16),
    ("9:21", 9, 21),
];

/// Longest prompt Stable Image accepts, in characters.
const MAX_PROMPT_CHARS: usize = 10_000;

/// The accepted aspect ratio nearest to `width:height` (compared on a log scale, so 2:1 and
/// 1:2 are equally far from 1:1); `16:9` when a side is zero.
///
/// ```
/// use ugc_core::providers::stability::nearest_aspect_ratio;
/// assert_eq!(nearest_aspect_ratio(1024, 576), "16:9");
/// assert_eq!(nearest_aspect_ratio(768, 768), "1:1");
/// assert_eq!(nearest_aspect_ratio(576, 1024), "9:16");
/// assert_eq!(nearest_aspect_ratio(0, 10), "16:9");
/// ```
pub fn nearest_aspect_ratio(width: u32, height: u32) -> &'static str {
    if width == 0 || height == 0 {
        return "16:9";
    }
    let wanted = (f64::from(width) / f64::from(height)).ln();
    let distance = |w: u32, h: u32| ((f64::from(w) / f64::from(h)).ln() - wanted).abs();
    ASPECT_RATIOS
        .iter()
        .min_by(|a, b| distance(a.1, a.2).total_cmp(&distance(b.1, b.2)))
        .map_or("16:9", |r| r.0)
}

/// Options of a still; every field is optional.
///
/// ```
/// use ugc_core::providers::stability::ImageOptions;
/// let options = ImageOptions::default().size(1080, 1920).seed(7).model("ultra");
/// assert_eq!(options.aspect_ratio.as_deref(), Some("9:16"));
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ImageOptions {
    /// `core`, `ultra` or `sd3`; the configured still model when `None`.
    pub model: Option<String>,
    /// What not to show.
    pub negative_prompt: Option<String>,
    /// One of [`ASPECT_RATIOS`] (default `16:9`).
    pub aspect_ratio: Option<String>,
    /// Seed, 0-4294967294 (0 or `None`: random).
    pub seed: Option<u64>,
    /// A key to call with instead of the configured one.
    pub credential: Option<Credential>,
}

impl ImageOptions {
    /// Sets the model.
    #[must_use]
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Sets the negative prompt.
    #[must_use]
    pub fn negative_prompt(mut self, text: impl Into<String>) -> Self {
        self.negative_prompt = Some(text.into());
        self
    }

    /// Sets the aspect ratio by name (`"16:9"`).
    #[must_use]
    pub fn aspect_ratio(mut self, ratio: impl Into<String>) -> Self {
        self.aspect_ratio = Some(ratio.into());
        self
    }

    /// Sets the aspect ratio nearest to `width` × `height`.
    #[must_use]
    pub fn size(self, width: u32, height: u32) -> Self {
        self.aspect_ratio(nearest_aspect_ratio(width, height))
    }

    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Calls with `credential` instead of the configured key.
    #[must_use]
    pub fn credential(mut self, credential: Credential) -> Self {
        self.credential = Some(credential);
        self
    }
}

impl fmt::Debug for ImageOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // User text is shown by length only, like requests.
        f.debug_struct("ImageOptions")
            .field("model", &self.model)
            .field(
                "negative_prompt",
                &self.negative_prompt.as_ref().map(|t| t.chars().count()),
            )
            .field("aspect_ratio", &self.aspect_ratio)
            .field("seed", &self.seed)
            .field("credential", &self.credential)
            .finish()
    }
}

impl Stability {
    /// Generates a still PNG from `prompt`. Content filtered by Stability (header
    /// `finish-reason: CONTENT_FILTERED`) is [`ErrorClass::ContentRejected`]; the other
    /// failures are classified as for video.
    ///
    /// [`ErrorClass::ContentRejected`]: crate::provider::ErrorClass::ContentRejected
    pub async fn generate_image(
        &self,
        prompt: &str,
        options: &ImageOptions,
    ) -> Result<Media, ProviderError> {
        let credential = options
            .credential
            .as_ref()
            .unwrap_or(&self.config.credential);
        self.still(prompt, options, credential.expose()).await
    }

    /// The still, with `key` (checked input, then the call).
    pub(super) async fn still(
        &self,
        prompt: &str,
        options: &ImageOptions,
        key: &str,
    ) -> Result<Media, ProviderError> {
        let model = options.model.as_deref().unwrap_or(&self.config.image_model);
        if !STILL_MODELS.contains(&model) {
            return Err(ProviderError::bad_request(
                "stability still models are core, ultra and sd3",
            ));
        }
        let chars = prompt.chars().count();
        if prompt.trim().is_empty() || chars > MAX_PROMPT_CHARS {
            return Err(ProviderError::bad_request(format!(
                "stability prompts are 1-{MAX_PROMPT_CHARS} characters"
            )));
        }
        let ratio = options.aspect_ratio.as_deref().unwrap_or("16:9");
        if !ASPECT_RATIOS.iter().any(|r| r.0 == ratio) {
            return Err(ProviderError::bad_request(
                "stability aspect_ratio must be one of 16:9, 1:1, 21:9, 2:3, 3:2, 4:5, 5:4, 9:16, 9:21",
            ));
        }
        let seed = check_seed(options.seed)?;
        let mut form = Form::new()
            .text("prompt", prompt.to_owned())
            .text("aspect_ratio", ratio.to_owned())
            .text("seed", seed.to_string())
            .text("output_format", "png");
        if let Some(negative) = options.negative_prompt.as_deref() {
            if negative.chars().count() > MAX_PROMPT_CHARS {
                return Err(ProviderError::bad_request(format!(
                    "stability negative prompts are at most {MAX_PROMPT_CHARS} characters"
                )));
            }
            form = form.text("negative_prompt", negative.to_owned());
        }
        let url = self
            .config
            .http
            .url(&format!("/v2beta/stable-image/generate/{model}"));
        let request = self
            .client
            .post(url)
            .header(ACCEPT, "image/*")
            .multipart(form);
        let response = self.send(request, key, model, false).await?;
        if super::adapter::content_filtered(response.headers()) {
            return Err(ProviderError::content_rejected(
                "stability filtered the generated still (finish-reason CONTENT_FILTERED)",
            )
            .with_status(200));
        }
        self.read_media(response, &["image/"], key).await
    }
}
