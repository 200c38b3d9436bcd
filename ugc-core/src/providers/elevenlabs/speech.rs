//! The request of `POST /v1/text-to-speech/{voice_id}`: the body, the `output_format` for
//! each [`AudioFormat`], and the WAV header put around raw PCM when WAV is asked for.

use serde::Serialize;

use crate::request::AudioFormat;

/// Sample rate asked for whenever the request wants PCM or WAV.
pub(crate) const PCM_RATE: u32 = 16_000;

/// Slowest and fastest `voice_settings.speed` the API accepts.
pub(crate) const SPEED_RANGE: (f32, f32) = (0.7, 1.2);

/// The JSON body. Borrowed fields: the text is serialized once, straight into the request.
#[derive(Serialize)]
pub(crate) struct SpeechBody<'a> {
    pub(crate) text: &'a str,
    pub(crate) model_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) language_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) voice_settings: Option<VoiceSettings>,
}

/// The voice settings the adapter sets; the voice's stored settings apply to the rest.
#[derive(Serialize)]
pub(crate) struct VoiceSettings {
    pub(crate) speed: f32,
}

/// How one request's audio is asked for and handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Output {
    /// The `output_format` query value.
    pub(crate) query: &'static str,
    /// Content types accepted in the answer, by prefix.
    pub(crate) accepted: &'static [&'static str],
    /// Whether the raw PCM answer gets a WAV header.
    pub(crate) wrap_wav: bool,
}

/// The output for `format`. Opus, AAC and FLAC are not among the documented formats: they
/// are served as MP3 (the media's MIME type says so), like the local engine serves WAV.
pub(crate) fn output_for(format: AudioFormat) -> Output {
    const MP3: Output = Output {
        query: "mp3_44100_128",
        accepted: &["audio/mpeg", "audio/mp3"],
        wrap_wav: false,
    };
    const PCM: Output = Output {
        query: "pcm_16000",
        accepted: &["audio/", "application/octet-stream"],
        wrap_wav: false,
    };
    match format {
        AudioFormat::Pcm => PCM,
        AudioFormat::Wav => Output {
            wrap_wav: true,
            ..PCM
        },
        AudioFormat::Mp3 | AudioFormat::Opus | AudioFormat::Aac | AudioFormat::Flac => MP3,
    }
}

/// Whether `voice` can go into the URL path as it is: ElevenLabs ids are short and
/// alphanumeric, and anything else (a slash, a dot, a query) must never reach the path.
pub(crate) fn is_voice_id(voice: &str) -> bool {
    (1..=64).contains(&voice.len())
        && voice
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The ISO 639-1 code of a BCP 47 tag (`en-US` → `en`), if it has one.
pub(crate) fn language_code(tag: Option<&str>) -> Option<String> {
    let primary = tag?.split(['-', '_']).next()?;
    (primary.len() == 2 && primary.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| primary.to_ascii_lowercase())
}

/// `speed` clamped into the accepted range; a non-finite speed is left out.
pub(crate) fn clamp_speed(speed: Option<f32>) -> Option<VoiceSettings> {
    let speed = speed.filter(|s| s.is_finite())?;
    Some(VoiceSettings {
        speed: speed.clamp(SPEED_RANGE.0, SPEED_RANGE.1),
    })
}

/// A RIFF/WAVE header for `data_len` bytes of mono 16-bit PCM at [`PCM_RATE`].
pub(crate) fn wav_header(data_len: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_len.saturating_add(36).to_le_bytes());
    h[8..16].copy_from_slice(b"WAVEfmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&1u16.to_le_bytes()); // mono
    h[24..28].copy_from_slice(&PCM_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(PCM_RATE * 2).to_le_bytes()); // byte rate
    h[32..34].copy_from_slice(&2u16.to_le_bytes()); // block align
    h[34..36].copy_from_slice(&16u16.to_le_bytes()); // bits per sample
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_ids_languages_and_speeds() {
        assert!(is_voice_id("21m00Tcm4TlvDq8ikWAM"));
        assert!(!is_voice_id("../v1/user"));
        assert!(!is_voice_id("a?b"));
        assert!(!is_voice_id(""));
        assert_eq!(language_code(Some("en-US")).as_deref(), Some("en"));
        assert_eq!(language_code(Some("DE")).as_deref(), Some("de"));
        assert_eq!(language_code(Some("yue-HK")), None);
        assert_eq!(clamp_speed(Some(3.0)).map(|s| s.speed), Some(1.2));
        assert_eq!(clamp_speed(Some(0.1)).map(|s| s.speed), Some(0.7));
        assert!(clamp_speed(Some(f32::NAN)).is_none());
    }

    #[test]
    fn wav_output_wraps_pcm() {
        assert!(output_for(AudioFormat::Wav).wrap_wav);
        assert_eq!(output_for(AudioFormat::Flac).query, "mp3_44100_128");
        let h = wav_header(32_000);
        assert_eq!(&h[..4], b"RIFF");
        assert_eq!(u32::from_le_bytes([h[40], h[41], h[42], h[43]]), 32_000);
    }
}
