//! Image to video: the job submit (`POST /v2beta/image-to-video`) and its result poll
//! (`GET /v2beta/image-to-video/result/{id}`: 202 while running, the MP4 when done).

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::multipart::Form;

use crate::Media;
use crate::provider::{JobHandle, JobStatus, ProviderError};
use crate::providers::http::{media_type, read_capped};
use crate::request::VideoRequest;

use super::Stability;
use super::config::VIDEO_MODEL;
use super::errors::{self, classify, json_body, parse_value};
use super::form::{check_seed, image_part};

/// Whether `id` can go into a URL path as is (Stability's ids are 64 hex digits).
pub(super) fn valid_job_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A job's end or state, from a class: failures the router may retry stay errors (the next
/// poll may succeed), the others are the job's confirmed end.
fn job_failure(error: ProviderError) -> Result<JobStatus, ProviderError> {
    if error.class().retries_same_endpoint() {
        Err(error)
    } else {
        Ok(JobStatus::Failed(error))
    }
}

impl Stability {
    /// Submits `image` (checked JPEG or PNG) for animation; the handle asks for polls no
    /// more often than the configured interval.
    pub(super) async fn submit_video(
        &self,
        image: Bytes,
        mime: &'static str,
        request: &VideoRequest,
        key: &str,
    ) -> Result<JobHandle, ProviderError> {
        let cfg_scale = request.guidance.unwrap_or(self.config.cfg_scale);
        if !(0.0..=10.0).contains(&cfg_scale) {
            return Err(ProviderError::bad_request(
                "stability cfg_scale (guidance) must be in 0..=10",
            ));
        }
        let seed = check_seed(request.seed)?;
        let form = Form::new()
            .part("image", image_part(image, mime)?)
            .text("seed", seed.to_string())
            .text("cfg_scale", cfg_scale.to_string())
            .text("motion_bucket_id", self.config.motion_bucket_id.to_string());
        let request = self
            .client
            .post(self.config.http.url("/v2beta/image-to-video"))
            .header(ACCEPT, "application/json")
            .multipart(form);
        // A submit that times out may have started a paid job: acceptance unknown.
        let response = self.send(request, key, VIDEO_MODEL, true).await?;
        let body = json_body(response).await?;
        // Error bodies carry an `id` too (of the error): the error shape is checked first.
        if parse_value(&body).is_some() {
            return Err(classify(200, None, body.to_string().as_bytes(), key));
        }
        match body.get("id").and_then(|v| v.as_str()) {
            Some(id) if valid_job_id(id) => {
                Ok(JobHandle::new(id).with_poll_after(self.config.poll_interval))
            }
            _ => Err(ProviderError::transient(
                "stability accepted the video without a usable job id",
            )),
        }
    }

    /// Polls job `id` once.
    pub(super) async fn poll_video(
        &self,
        job: &JobHandle,
        key: &str,
    ) -> Result<JobStatus, ProviderError> {
        if !valid_job_id(&job.id) {
            return Err(ProviderError::bad_request("not a stability job id"));
        }
        let url = self
            .config
            .http
            .url(&format!("/v2beta/image-to-video/result/{}", job.id));
        let request = self.client.get(url).header(ACCEPT, "video/*");
        let response = self.send_raw(request, key, false).await?;
        let status = response.status().as_u16();
        match status {
            202 => Ok(JobStatus::Running { progress: None }),
            200..=299 => self.finished(response, key).await,
            404 => Ok(JobStatus::Failed(
                ProviderError::misconfigured(
                    "stability has no such result: expired (kept 24 h) or made with another key",
                )
                .with_status(404),
            )),
            _ => {
                let error = errors::from_response(response, self.clock.wall(), key).await;
                self.trace_failure(VIDEO_MODEL, &error);
                job_failure(error)
            }
        }
    }

    /// A 200 to a poll: the video, or a JSON report (an error, a filter, still running).
    async fn finished(
        &self,
        response: reqwest::Response,
        key: &str,
    ) -> Result<JobStatus, ProviderError> {
        if super::adapter::content_filtered(response.headers()) {
            return Ok(JobStatus::Failed(
                ProviderError::content_rejected(
                    "stability filtered the video (finish-reason CONTENT_FILTERED)",
                )
                .with_status(200),
            ));
        }
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            let body = json_body(response).await?;
            if body.get("status").and_then(|v| v.as_str()) == Some("in-progress") {
                return Ok(JobStatus::Running { progress: None });
            }
            let reason = body.get("finish_reason").and_then(|v| v.as_str());
            if reason == Some("CONTENT_FILTERED") {
                return Ok(JobStatus::Failed(
                    ProviderError::content_rejected("stability filtered the video")
                        .with_status(200),
                ));
            }
            if parse_value(&body).is_some() {
                return job_failure(classify(200, None, body.to_string().as_bytes(), key));
            }
            return Err(ProviderError::transient(
                "stability answered JSON where the video was expected",
            ));
        }
        let mime = media_type(response.headers(), &["video/"])?;
        let bytes = read_capped(response, self.config.http.max_download_bytes).await?;
        Ok(JobStatus::Succeeded(Media::bytes(bytes, mime)))
    }
}
