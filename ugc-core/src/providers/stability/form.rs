//! Multipart pieces and input checks shared by still generation and image to video.

use bytes::Bytes;
use reqwest::multipart::Part;

use crate::provider::ProviderError;

/// Largest seed Stability accepts.
pub(super) const MAX_SEED: u64 = 4_294_967_294;

/// The MIME type of a JPEG or PNG image, from its magic bytes; anything else is a bad request
/// (image to video takes only those two).
pub(super) fn sniff_image(data: &[u8]) -> Result<&'static str, ProviderError> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else {
        Err(ProviderError::bad_request(
            "stability image to video takes a JPEG or PNG image",
        ))
    }
}

/// The `image` part of a form.
pub(super) fn image_part(data: Bytes, mime: &'static str) -> Result<Part, ProviderError> {
    let name = if mime == "image/png" {
        "image.png"
    } else {
        "image.jpg"
    };
    Part::stream_with_length(reqwest::Body::from(data.clone()), data.len() as u64)
        .file_name(name)
        .mime_str(mime)
        .map_err(|_| ProviderError::misconfigured("stability: invalid image part"))
}

/// Checks a seed against Stability's range.
pub(super) fn check_seed(seed: Option<u64>) -> Result<u64, ProviderError> {
    match seed {
        Some(s) if s > MAX_SEED => Err(ProviderError::bad_request(format!(
            "stability seeds are 0..={MAX_SEED}"
        ))),
        Some(s) => Ok(s),
        // 0 asks Stability for a random seed.
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_png_and_jpeg_pass() {
        assert_eq!(
            sniff_image(b"\x89PNG\r\n\x1a\n\0\0").ok(),
            Some("image/png")
        );
        assert_eq!(
            sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]).ok(),
            Some("image/jpeg")
        );
        assert!(sniff_image(b"GIF89a").is_err());
        assert!(check_seed(Some(MAX_SEED + 1)).is_err());
    }
}
