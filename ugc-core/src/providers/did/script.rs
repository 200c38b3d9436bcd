//! The `script` of a talk, and the length check made before sending.

use std::time::Duration;

use serde_json::{Value, json};

use crate::provider::ProviderError;

use super::config::MAX_VIDEO;

/// Nominal length assumed for recorded audio given by URL, whose length is unknown here.
pub(super) const AUDIO_URL_ESTIMATE: Duration = Duration::from_secs(60);

/// Bytes per second of typical compressed speech (128 kbit/s), to estimate uploaded audio.
const AUDIO_BYTES_PER_SECOND: u64 = 16_000;

/// Expected video length of a text script read at `chars_per_second`.
pub(super) fn text_length(text: &str, chars_per_second: u32) -> Duration {
    let chars = text.chars().count() as u64;
    Duration::from_millis(chars.saturating_mul(1000) / u64::from(chars_per_second.max(1)))
}

/// Expected video length of uploaded audio of `bytes` bytes.
pub(super) fn audio_length(bytes: usize) -> Duration {
    Duration::from_millis(bytes as u64 * 1000 / AUDIO_BYTES_PER_SECOND)
}

/// The script of a text talk; empty text and scripts estimated over five minutes are bad
/// requests, refused before anything is sent.
pub(super) fn text(text: &str, voice: &str, chars_per_second: u32) -> Result<Value, ProviderError> {
    if text.trim().is_empty() {
        return Err(ProviderError::bad_request("d-id needs a non-empty script"));
    }
    if text_length(text, chars_per_second) > MAX_VIDEO {
        return Err(ProviderError::bad_request(format!(
            "d-id videos are at most {} s; this script would run longer",
            MAX_VIDEO.as_secs()
        )));
    }
    Ok(json!({
        "type": "text",
        "input": text,
        "ssml": false,
        "provider": {"type": "microsoft", "voice_id": voice},
    }))
}

/// The script of an audio talk.
pub(super) fn audio(audio_url: &str) -> Value {
    json!({"type": "audio", "audio_url": audio_url})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_scripts_are_refused_before_sending() {
        assert!(text(&"a".repeat(4_500), "v", 15).is_ok());
        assert!(text(&"a".repeat(4_501), "v", 15).is_err());
        assert!(text(" ", "v", 15).is_err());
        assert_eq!(text_length(&"a".repeat(30), 15), Duration::from_secs(2));
    }
}
