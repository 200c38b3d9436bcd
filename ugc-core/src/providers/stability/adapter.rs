use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap};

use crate::clock::SharedClock;
use crate::provider::{
    CallContext, Capabilities, JobHandle, JobStatus, Provider, ProviderError, Submission,
};
use crate::providers::http::{classify_transport, download, media_type, read_capped};
use crate::request::{MediaInput, MediaKind, Request, VideoRequest};
use crate::router::Price;
use crate::{Credential, Media, Usage};

use super::config::{STILL_MODELS, StabilityConfig, VIDEO_MODEL};
use super::errors::{self, classify, parse};
use super::form::sniff_image;
use super::image::ImageOptions;

/// Expected length of one image-to-video result, for estimates (Stable Video Diffusion
/// makes a clip of a few seconds whatever the request asks).
const VIDEO_MILLIS_ESTIMATE: u64 = 4_000;

/// Largest JSON report read where media was expected.
const JSON_CAP: u64 = 64 * 1024;

/// Whether Stability's `finish-reason` header says the output was filtered.
pub(super) fn content_filtered(headers: &HeaderMap) -> bool {
    headers
        .get("finish-reason")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("CONTENT_FILTERED"))
}

/// The Stability AI adapter (video through async jobs; stills on demand).
///
/// ```no_run
/// use ugc_core::Credential;
/// use ugc_core::providers::stability::{Stability, StabilityConfig};
/// let stability = Stability::new(
///     StabilityConfig::new(Credential::new("operator", "sk-...")),
///     ugc_core::clock::system(),
/// )?;
/// # Ok::<(), ugc_core::Error>(())
/// ```
pub struct Stability {
    pub(super) config: StabilityConfig,
    pub(super) client: reqwest::Client,
    pub(super) clock: SharedClock,
    capabilities: Capabilities,
}

impl fmt::Debug for Stability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stability")
            .field("base_url", &self.config.http.base_url)
            .field("image_model", &self.config.image_model)
            .finish_non_exhaustive()
    }
}

impl Stability {
    /// Checks `config` (errors name the field, `stability.base_url`) and builds the client.
    pub fn new(config: StabilityConfig, clock: SharedClock) -> crate::Result<Self> {
        config.validate()?;
        let client = config.http.client("stability")?;
        Ok(Self {
            config,
            client,
            clock,
            capabilities: Capabilities::jobs([MediaKind::Video]),
        })
    }

    /// The key of a call: the context's own, else the configured one.
    fn credential<'a>(&'a self, ctx: &'a CallContext) -> &'a Credential {
        ctx.credential.as_ref().unwrap_or(&self.config.credential)
    }

    /// Sends with the key; only transport failures are errors. `job_submit` marks the call
    /// that creates a paid job, whose timeout leaves its acceptance unknown.
    pub(super) async fn send_raw(
        &self,
        request: reqwest::RequestBuilder,
        key: &str,
        job_submit: bool,
    ) -> Result<reqwest::Response, ProviderError> {
        request.bearer_auth(key).send().await.map_err(|e| {
            if job_submit && e.is_timeout() && !e.is_connect() {
                ProviderError::acceptance_unknown(
                    "stability did not answer the video submit in time; the job may exist",
                )
            } else {
                classify_transport(&e, &[key])
            }
        })
    }

    /// Sends with the key; a non-2xx answer becomes its classified error.
    pub(super) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        key: &str,
        model: &str,
        job_submit: bool,
    ) -> Result<reqwest::Response, ProviderError> {
        let result = match self.send_raw(request, key, job_submit).await {
            Ok(response) if response.status().is_success() => return Ok(response),
            Ok(response) => Err(errors::from_response(response, self.clock.wall(), key).await),
            Err(error) => Err(error),
        };
        if let Err(error) = &result {
            self.trace_failure(model, error);
        }
        result
    }

    pub(super) fn trace_failure(&self, model: &str, error: &ProviderError) {
        tracing::debug!(
            target: "ugc::provider",
            provider = "stability",
            model,
            status = error.status(),
            class = error.class().as_str(),
            "stability call failed"
        );
    }

    /// Media from a 2xx answer: a JSON body where media was expected is an error report
    /// (classified by its name) or a transient fault; a wrong type is transient.
    pub(super) async fn read_media(
        &self,
        response: reqwest::Response,
        accepted: &[&str],
        key: &str,
    ) -> Result<Media, ProviderError> {
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            let body = read_capped(response, JSON_CAP).await?;
            return Err(match parse(&body) {
                Some(_) => classify(200, None, &body, key),
                None => {
                    ProviderError::transient("stability answered JSON where media was expected")
                }
            });
        }
        let mime = media_type(response.headers(), accepted)?;
        let bytes = read_capped(response, self.config.http.max_download_bytes).await?;
        Ok(Media::bytes(bytes, mime))
    }

    /// The still model for a call: the endpoint's or request's model when it names one.
    fn still_model<'a>(&'a self, model: Option<&'a str>) -> &'a str {
        model
            .filter(|m| STILL_MODELS.contains(m))
            .unwrap_or(&self.config.image_model)
    }

    fn price(&self, model: &str) -> Price {
        self.config
            .prices
            .get(model)
            .or_else(|| self.config.prices.get(VIDEO_MODEL))
            .copied()
            .unwrap_or_default()
    }

    /// The start frame of `video`: the caller's (checked, downloaded when a URL) or a still
    /// generated from the prompt.
    async fn start_frame(
        &self,
        video: &VideoRequest,
        model: Option<&str>,
        key: &str,
    ) -> Result<(Bytes, &'static str), ProviderError> {
        let data = match &video.image {
            Some(MediaInput::Bytes { data, .. }) => data.clone(),
            Some(MediaInput::Url(url)) => {
                let media = download(
                    &self.client,
                    url,
                    self.config.http.max_download_bytes,
                    &["image/"],
                )
                .await?;
                match media.body {
                    crate::MediaBody::Bytes(b) => b,
                    crate::MediaBody::Url(_) => {
                        return Err(ProviderError::transient(
                            "the start frame was not downloaded",
                        ));
                    }
                }
            }
            None => {
                let mut options = ImageOptions::default().model(self.still_model(model));
                options.negative_prompt = video.negative_prompt.clone();
                options.seed = video.seed;
                if let (Some(w), Some(h)) = (video.width, video.height) {
                    options = options.size(w, h);
                }
                match self.still(&video.prompt, &options, key).await?.body {
                    crate::MediaBody::Bytes(b) => b,
                    crate::MediaBody::Url(_) => {
                        return Err(ProviderError::transient("the still was not downloaded"));
                    }
                }
            }
        };
        let mime = sniff_image(&data)?;
        Ok((data, mime))
    }
}

#[async_trait]
impl Provider for Stability {
    fn id(&self) -> &str {
        "stability"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn submit(
        &self,
        request: &Request,
        ctx: &CallContext,
    ) -> Result<Submission, ProviderError> {
        let Request::Video(video) = request else {
            return Err(ProviderError::bad_request(format!(
                "stability serves video, not {}",
                request.kind()
            )));
        };
        let key = self.credential(ctx).expose();
        let model = ctx.model.as_deref().or(video.model.as_deref());
        let (image, mime) = self.start_frame(video, model, key).await?;
        let job = self.submit_video(image, mime, video, key).await?;
        tracing::debug!(target: "ugc::provider", provider = "stability", model = VIDEO_MODEL, "video job accepted");
        Ok(Submission::Pending(job))
    }

    async fn poll(&self, job: &JobHandle, ctx: &CallContext) -> Result<JobStatus, ProviderError> {
        self.poll_video(job, self.credential(ctx).expose()).await
    }

    /// Stability offers no cancel: a job runs to its end and only a success is charged.
    async fn cancel(&self, job: &JobHandle, ctx: &CallContext) -> Result<(), ProviderError> {
        let _ = (job, ctx);
        Ok(())
    }

    fn estimate(&self, request: &Request, model: Option<&str>) -> Usage {
        let Request::Video(video) = request else {
            return Usage::request();
        };
        let video_usage = Usage {
            video_millis: VIDEO_MILLIS_ESTIMATE,
            ..Usage::request()
        };
        let mut cost = self.price(VIDEO_MODEL).cost_micros(&video_usage);
        let mut characters = 0;
        if video.image.is_none() {
            // Text to video pays for the still too.
            characters = video.prompt.chars().count() as u64;
            let still = self.still_model(model.or(video.model.as_deref()));
            cost = cost.saturating_add(self.price(still).cost_micros(&Usage::request()));
        }
        Usage {
            characters,
            cost_micros: cost,
            ..video_usage
        }
    }

    /// `GET /v1/user/account`: free, and refused (401) for a bad key.
    async fn validate_credentials(&self, credential: &Credential) -> Result<(), ProviderError> {
        let key = credential.expose();
        let request = self.client.get(self.config.http.url("/v1/user/account"));
        self.send(request, key, "account", false).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filtered_header_is_recognised() {
        let mut headers = HeaderMap::new();
        headers.insert("finish-reason", "CONTENT_FILTERED".parse().unwrap());
        assert!(content_filtered(&headers));
    }
}
