//! Fetching a prediction's output file: downloaded promptly (Replicate deletes outputs after
//! about an hour), capped while streaming, and checked to be of the kind asked for.

use base64::Engine as _;

use crate::Media;
use crate::provider::ProviderError;
use crate::providers::http::download;
use crate::request::MediaKind;

/// The content types a result of `kind` may have; `None` (a job polled by an adapter that
/// did not submit it) accepts either.
pub(crate) fn accepted(kind: Option<MediaKind>) -> &'static [&'static str] {
    match kind {
        Some(MediaKind::Speech) => &["audio/"],
        Some(MediaKind::Video | MediaKind::Avatar) => &["video/"],
        None => &["video/", "audio/"],
    }
}

/// The output at `url`: an HTTP(S) file, or a `data:` URI (which sync-mode outputs may be;
/// unconfirmed), never larger than `cap`.
pub(crate) async fn fetch_output(
    client: &reqwest::Client,
    url: &str,
    cap: u64,
    accepted: &[&str],
) -> Result<Media, ProviderError> {
    if let Some(rest) = url.strip_prefix("data:") {
        return decode_data_uri(rest, cap, accepted);
    }
    download(client, url, cap, accepted).await
}

fn decode_data_uri(rest: &str, cap: u64, accepted: &[&str]) -> Result<Media, ProviderError> {
    let (meta, data) = rest
        .split_once(',')
        .ok_or_else(|| ProviderError::transient("Replicate sent a malformed data URI as output"))?;
    let mime = meta
        .split(';')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !accepted.iter().any(|a| mime.starts_with(a)) {
        return Err(ProviderError::transient(format!(
            "expected {} but the output is {}",
            accepted.join(" or "),
            crate::secret::scrub(&mime, &[])
        )));
    }
    if (data.len() as u64).saturating_mul(3) / 4 > cap {
        return Err(ProviderError::transient(format!(
            "output larger than the {cap}-byte cap; aborted"
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| {
            ProviderError::transient("Replicate sent an output data URI that is not base64")
        })?;
    Ok(Media::bytes(bytes, mime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uris_are_checked_and_capped() {
        let ok = decode_data_uri("video/mp4;base64,AAAA", 1024, &["video/"]).map(|m| m.mime);
        assert_eq!(ok.ok().as_deref(), Some("video/mp4"));
        assert!(decode_data_uri("text/html;base64,AAAA", 1024, &["video/"]).is_err());
        assert!(decode_data_uri("video/mp4;base64,AAAAAAAA", 3, &["video/"]).is_err());
    }
}
