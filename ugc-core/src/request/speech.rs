use std::fmt;

use super::Redacted;

/// Audio container or encoding of a speech result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AudioFormat {
    /// MPEG layer III.
    #[default]
    Mp3,
    /// RIFF WAVE, PCM.
    Wav,
    /// Opus in Ogg.
    Opus,
    /// AAC in ADTS or MP4.
    Aac,
    /// FLAC.
    Flac,
    /// Raw 16-bit little-endian PCM.
    Pcm,
}

impl AudioFormat {
    /// Stable lower-case name, as OpenAI's `response_format` spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "mp3",
            AudioFormat::Wav => "wav",
            AudioFormat::Opus => "opus",
            AudioFormat::Aac => "aac",
            AudioFormat::Flac => "flac",
            AudioFormat::Pcm => "pcm",
        }
    }

    /// The MIME type of the format.
    pub const fn mime(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "audio/mpeg",
            AudioFormat::Wav => "audio/wav",
            AudioFormat::Opus => "audio/ogg",
            AudioFormat::Aac => "audio/aac",
            AudioFormat::Flac => "audio/flac",
            AudioFormat::Pcm => "audio/L16",
        }
    }
}

/// Text to speech.
///
/// ```
/// use ugc_core::request::{AudioFormat, SpeechRequest};
/// let r = SpeechRequest::new("Hello there").voice("narrator-female").format(AudioFormat::Wav);
/// assert_eq!(r.voice.as_deref(), Some("narrator-female"));
/// // Debug never shows the user's text.
/// assert!(!format!("{r:?}").contains("Hello"));
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct SpeechRequest {
    /// The text to speak.
    pub text: String,
    /// Logical voice name (mapped to each provider's own voice id).
    pub voice: Option<String>,
    /// Pinned model, if the caller wants one.
    pub model: Option<String>,
    /// Output format.
    pub format: AudioFormat,
    /// Speaking rate, 1.0 is normal.
    pub speed: Option<f32>,
    /// BCP 47 language tag.
    pub language: Option<String>,
}

impl SpeechRequest {
    /// A request to speak `text` with default voice, model and format.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            voice: None,
            model: None,
            format: AudioFormat::default(),
            speed: None,
            language: None,
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

    /// Sets the output format.
    #[must_use]
    pub fn format(mut self, format: AudioFormat) -> Self {
        self.format = format;
        self
    }

    /// Sets the speaking rate.
    #[must_use]
    pub fn speed(mut self, speed: f32) -> Self {
        self.speed = Some(speed);
        self
    }

    /// Sets the language.
    #[must_use]
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }
}

impl fmt::Debug for SpeechRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpeechRequest")
            .field("text", &Redacted(&self.text))
            .field("voice", &self.voice)
            .field("model", &self.model)
            .field("format", &self.format)
            .field("speed", &self.speed)
            .field("language", &self.language)
            .finish()
    }
}
