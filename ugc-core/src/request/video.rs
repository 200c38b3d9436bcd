use std::fmt;
use std::time::Duration;

use super::{MediaInput, Redacted};

/// Text to video (no `image`) or image to video (`image` set).
///
/// ```
/// use std::time::Duration;
/// use ugc_core::request::VideoRequest;
/// let r = VideoRequest::new("a lighthouse at dusk").size(1024, 576).duration(Duration::from_secs(4));
/// assert_eq!((r.width, r.height), (Some(1024), Some(576)));
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct VideoRequest {
    /// What to show.
    pub prompt: String,
    /// What not to show.
    pub negative_prompt: Option<String>,
    /// Start frame for image to video.
    pub image: Option<MediaInput>,
    /// Frame width in pixels.
    pub width: Option<u32>,
    /// Frame height in pixels.
    pub height: Option<u32>,
    /// Play length.
    pub duration: Option<Duration>,
    /// Frames per second.
    pub fps: Option<u32>,
    /// Random seed for reproducible output.
    pub seed: Option<u64>,
    /// Guidance (CFG) scale.
    pub guidance: Option<f32>,
    /// Sampling steps.
    pub steps: Option<u32>,
    /// Pinned model, if the caller wants one.
    pub model: Option<String>,
}

impl VideoRequest {
    /// Text to video from `prompt`.
    pub fn new(prompt: impl Into<String>) -> Self {
        Self {
            prompt: prompt.into(),
            negative_prompt: None,
            image: None,
            width: None,
            height: None,
            duration: None,
            fps: None,
            seed: None,
            guidance: None,
            steps: None,
            model: None,
        }
    }

    /// Image to video: animate `image`, guided by `prompt`.
    pub fn from_image(image: MediaInput, prompt: impl Into<String>) -> Self {
        Self {
            image: Some(image),
            ..Self::new(prompt)
        }
    }

    /// Sets the frame size.
    #[must_use]
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = Some(width);
        self.height = Some(height);
        self
    }

    /// Sets the play length.
    #[must_use]
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// Sets the frame rate.
    #[must_use]
    pub fn fps(mut self, fps: u32) -> Self {
        self.fps = Some(fps);
        self
    }

    /// Sets the negative prompt.
    #[must_use]
    pub fn negative_prompt(mut self, text: impl Into<String>) -> Self {
        self.negative_prompt = Some(text.into());
        self
    }

    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets the guidance scale.
    #[must_use]
    pub fn guidance(mut self, guidance: f32) -> Self {
        self.guidance = Some(guidance);
        self
    }

    /// Sets the sampling steps.
    #[must_use]
    pub fn steps(mut self, steps: u32) -> Self {
        self.steps = Some(steps);
        self
    }

    /// Pins a model.
    #[must_use]
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
}

impl fmt::Debug for VideoRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VideoRequest")
            .field("prompt", &Redacted(&self.prompt))
            .field(
                "negative_prompt",
                &self.negative_prompt.as_deref().map(Redacted),
            )
            .field("image", &self.image)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("duration", &self.duration)
            .field("fps", &self.fps)
            .field("seed", &self.seed)
            .field("guidance", &self.guidance)
            .field("steps", &self.steps)
            .field("model", &self.model)
            .finish()
    }
}
