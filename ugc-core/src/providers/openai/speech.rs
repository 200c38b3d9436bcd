//! The body of `POST /v1/audio/speech` and the content types each `response_format` answers.

use serde::Serialize;

use crate::request::AudioFormat;

/// Slowest and fastest `speed` the endpoint accepts.
pub(crate) const SPEED_RANGE: (f32, f32) = (0.25, 4.0);

/// The JSON body. Borrowed fields: the text is serialized once, straight into the request.
#[derive(Serialize)]
pub(crate) struct SpeechBody<'a> {
    pub(crate) model: &'a str,
    pub(crate) input: &'a str,
    pub(crate) voice: &'a str,
    pub(crate) response_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) speed: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) instructions: Option<&'a str>,
}

/// Whether `model` takes `instructions`: the tts-1 family rejects them.
pub(crate) fn takes_instructions(model: &str) -> bool {
    !model.starts_with("tts-1")
}

/// `speed` clamped into the accepted range; a non-finite speed is left out (normal rate).
pub(crate) fn clamp_speed(speed: Option<f32>) -> Option<f32> {
    speed
        .filter(|s| s.is_finite())
        .map(|s| s.clamp(SPEED_RANGE.0, SPEED_RANGE.1))
}

/// Content types accepted for `format`, by prefix. OpenAI documents only that the type
/// follows the format; the aliases seen in the wild are accepted too.
pub(crate) fn accepted_types(format: AudioFormat) -> &'static [&'static str] {
    match format {
        AudioFormat::Mp3 => &["audio/mpeg", "audio/mp3"],
        AudioFormat::Opus => &["audio/ogg", "audio/opus"],
        AudioFormat::Aac => &["audio/aac", "audio/x-aac", "audio/mp4"],
        AudioFormat::Flac => &["audio/flac", "audio/x-flac"],
        AudioFormat::Wav => &["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"],
        AudioFormat::Pcm => &["audio/pcm", "audio/l16", "application/octet-stream"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_is_clamped_and_instructions_skip_tts_1() {
        assert_eq!(clamp_speed(Some(9.0)), Some(4.0));
        assert_eq!(clamp_speed(Some(0.1)), Some(0.25));
        assert_eq!(clamp_speed(Some(f32::NAN)), None);
        assert!(!takes_instructions("tts-1-hd"));
        assert!(takes_instructions("gpt-4o-mini-tts"));
    }
}
