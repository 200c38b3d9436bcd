use std::fmt;

use super::{MediaInput, Redacted};

/// What the talking head says.
#[derive(Clone, PartialEq, Eq)]
pub enum Script {
    /// Text, spoken with the request's voice.
    Text(String),
    /// Recorded audio to lip-sync.
    Audio(MediaInput),
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Script::Text(t) => f.debug_tuple("Text").field(&Redacted(t)).finish(),
            Script::Audio(a) => f.debug_tuple("Audio").field(a).finish(),
        }
    }
}

/// A talking head: `source_image` speaking `script`.
///
/// ```
/// use ugc_core::request::{AvatarRequest, MediaInput, Script};
/// let r = AvatarRequest::new(
///     MediaInput::Url("https://example.com/face.jpg".into()),
///     Script::Text("Welcome!".into()),
/// )
/// .voice("narrator-female");
/// assert!(matches!(r.script, Script::Text(_)));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AvatarRequest {
    /// The face to animate.
    pub source_image: MediaInput,
    /// What it says.
    pub script: Script,
    /// Logical voice for a text script.
    pub voice: Option<String>,
    /// Pinned model, if the caller wants one.
    pub model: Option<String>,
}

impl AvatarRequest {
    /// A talking head of `source_image` saying `script`.
    pub fn new(source_image: MediaInput, script: Script) -> Self {
        Self {
            source_image,
            script,
            voice: None,
            model: None,
        }
    }

    /// Sets the logical voice.
    #[must_use]
    pub fn voice(mut self, voice: impl Into<String>) -> Self {
        self.voice = Some(voice.into());
        self
    }

    /// Pins a model.
    #[must_use]
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
}
