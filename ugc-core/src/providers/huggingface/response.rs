//! A 200 from Hugging Face: raw audio of whatever type the model sends, or JSON pointing at
//! the audio (`{"audio": {"url": ...}}` from providers such as fal-ai), or JSON carrying it
//! base64-encoded (`{"audio": "<base64>"}`, the task schema's shape; unconfirmed on the wire).

use base64::Engine as _;
use reqwest::header::CONTENT_TYPE;

use crate::Media;
use crate::provider::ProviderError;
use crate::providers::http::{download, media_type, read_capped};

use super::errors::{ErrorBody, classify_in_200};

/// Turns a 2xx answer into audio, downloading or decoding it when the body is JSON.
pub(crate) async fn audio_from(
    client: &reqwest::Client,
    response: reqwest::Response,
    cap: u64,
    key: &str,
) -> Result<Media, ProviderError> {
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.starts_with("application/json") || v.contains("+json")
        });
    if !is_json {
        // The content type depends on the model (often audio/flac): read it, never assume.
        let mime = media_type(response.headers(), &["audio/"])?;
        let bytes = read_capped(response, cap).await?;
        return Ok(Media::bytes(bytes, mime));
    }
    let bytes = read_capped(response, cap).await?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
        ProviderError::transient("Hugging Face sent a 200 whose JSON body is malformed")
    })?;
    if value.get("error").is_some() {
        return Err(classify_in_200(&ErrorBody::from_json(&value), key));
    }
    match value.get("audio") {
        Some(serde_json::Value::Object(audio)) => match audio.get("url").and_then(|u| u.as_str()) {
            Some(url) => fetch(client, url, cap).await,
            None => Err(unrecognised()),
        },
        Some(serde_json::Value::String(audio)) if is_http(audio) => fetch(client, audio, cap).await,
        Some(serde_json::Value::String(audio)) => {
            let declared = value.get("content_type").and_then(|c| c.as_str());
            decode_inline(audio, declared, cap)
        }
        _ => Err(unrecognised()),
    }
}

fn is_http(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

async fn fetch(client: &reqwest::Client, url: &str, cap: u64) -> Result<Media, ProviderError> {
    if !is_http(url) {
        return Err(unrecognised());
    }
    download(client, url, cap, &["audio/"]).await
}

fn unrecognised() -> ProviderError {
    ProviderError::transient("Hugging Face sent a 200 JSON body without audio")
}

/// Base64 audio, plain or as a `data:` URI; its type is the declared one if it is audio,
/// else sniffed from the magic bytes.
fn decode_inline(audio: &str, declared: Option<&str>, cap: u64) -> Result<Media, ProviderError> {
    let (uri_type, data) = match audio
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(','))
    {
        Some((meta, data)) => (meta.split(';').next(), data),
        None => (None, audio),
    };
    // Base64 is 4/3 the size of its content: refuse before decoding anything too large.
    if (data.len() as u64).saturating_mul(3) / 4 > cap {
        return Err(ProviderError::transient(format!(
            "inline audio larger than the {cap}-byte cap"
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| {
            ProviderError::transient("Hugging Face sent inline audio that is not base64")
        })?;
    let mime = uri_type
        .or(declared)
        .filter(|m| m.starts_with("audio/"))
        .map(str::to_owned)
        .or_else(|| sniff_audio(&bytes).map(str::to_owned))
        .ok_or_else(|| {
            ProviderError::transient("Hugging Face sent inline data that is not audio")
        })?;
    Ok(Media::bytes(bytes, mime))
}

/// The audio type of `bytes` from their magic numbers.
pub(crate) fn sniff_audio(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'A',
            b'V',
            b'E',
            ..,
        ] => Some("audio/wav"),
        [b'f', b'L', b'a', b'C', ..] => Some("audio/flac"),
        [b'O', b'g', b'g', b'S', ..] => Some("audio/ogg"),
        [b'I', b'D', b'3', ..] => Some("audio/mpeg"),
        [0xFF, second, ..] if second & 0xE0 == 0xE0 => Some("audio/mpeg"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_audio_is_decoded_and_sniffed() {
        let wav = b"RIFF\x24\0\0\0WAVEfmt ".to_vec();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&wav);
        let media = decode_inline(&b64, None, 1 << 20).map_err(|e| e.to_string());
        assert_eq!(media.map(|m| m.mime), Ok("audio/wav".to_owned()));
        let uri = format!("data:audio/flac;base64,{b64}");
        assert_eq!(
            decode_inline(&uri, None, 1 << 20)
                .map(|m| m.mime)
                .ok()
                .as_deref(),
            Some("audio/flac")
        );
        assert!(decode_inline(&b64, None, 8).is_err());
        assert!(decode_inline("%%%", None, 1 << 20).is_err());
    }
}
