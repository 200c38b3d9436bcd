//! Uploads of image and audio bytes (`POST /images`, `POST /audios`): talks take URLs only.

use bytes::Bytes;
use reqwest::multipart::{Form, Part};

use crate::provider::ProviderError;

use super::Did;
use super::config::MAX_IMAGE_BYTES;
use super::errors::{error_in_200, json_body};

/// The MIME type of a JPEG or PNG image of at most 10 MB; anything else is a bad request.
pub(super) fn check_image(data: &[u8]) -> Result<&'static str, ProviderError> {
    if data.len() > MAX_IMAGE_BYTES {
        return Err(ProviderError::bad_request(
            "d-id source images are at most 10 MB",
        ));
    }
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else {
        Err(ProviderError::bad_request(
            "d-id source images must be JPEG or PNG",
        ))
    }
}

impl Did {
    /// Uploads `data` as form field `field` to `path`; answers the URL D-ID gives it.
    pub(super) async fn upload(
        &self,
        path: &str,
        field: &'static str,
        data: Bytes,
        mime: &str,
        key: &str,
    ) -> Result<String, ProviderError> {
        let extension = mime.rsplit('/').next().unwrap_or("bin");
        let part = Part::stream_with_length(reqwest::Body::from(data.clone()), data.len() as u64)
            .file_name(format!("{field}.{extension}"))
            .mime_str(mime)
            .map_err(|_| ProviderError::bad_request("d-id upload: invalid media type"))?;
        let request = self
            .client
            .post(self.config.http.url(path))
            .multipart(Form::new().part(field, part));
        let response = self.send(request, key, false).await?;
        let body = json_body(response).await?;
        if let Some(error) = error_in_200(&body, &[key]) {
            return Err(error);
        }
        body.get("url")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| ProviderError::transient("d-id accepted the upload without a url"))
    }
}
