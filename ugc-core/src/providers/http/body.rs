use bytes::{Bytes, BytesMut};

use crate::Media;
use crate::provider::ProviderError;
use crate::secret::scrub;

use super::classify::{classify_transport, media_type};

/// Reads a response body, aborting as soon as it exceeds `cap` bytes: a declared
/// `Content-Length` over the cap is refused before reading, and a body that grows past it is
/// dropped mid-stream. Never buffers more than `cap` bytes.
pub async fn read_capped(
    mut response: reqwest::Response,
    cap: u64,
) -> Result<Bytes, ProviderError> {
    if response.content_length().is_some_and(|len| len > cap) {
        return Err(too_large(cap));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| classify_transport(&e, &[]))?
    {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(too_large(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn too_large(cap: u64) -> ProviderError {
    // A provider answering more than asked for is a provider fault, not the caller's.
    ProviderError::transient(format!("response larger than the {cap}-byte cap; aborted"))
}

/// Fetches media the provider left at `url` (Replicate outputs, D-ID results), capped while
/// streaming and checked to be of a type starting with one of `accepted` (`"video/"`).
pub async fn download(
    client: &reqwest::Client,
    url: &str,
    cap: u64,
    accepted: &[&str],
) -> Result<Media, ProviderError> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| classify_transport(&e, &[]))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        let text = format!("download of the result failed with HTTP {status}");
        // An expired pre-signed URL (403/404) will not come back: the job must be redone.
        return Err(ProviderError::transient(scrub(&text, &[])).with_status(status));
    }
    let mime = media_type(response.headers(), accepted)?;
    let bytes = read_capped(response, cap).await?;
    Ok(Media::bytes(bytes, mime))
}
