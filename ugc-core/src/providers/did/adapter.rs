use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::json;

use crate::clock::SharedClock;
use crate::provider::{
    CallContext, Capabilities, JobHandle, JobStatus, Provider, ProviderError, Submission,
};
use crate::providers::http::{classify_transport, download};
use crate::request::{AvatarRequest, MediaInput, MediaKind, Request, Script};
use crate::router::Price;
use crate::secret::scrub;
use crate::{Credential, Usage};

use super::auth::basic_auth;
use super::config::{DEFAULT_MODEL, DidConfig};
use super::errors::{self, error_in_200, json_body};
use super::script;
use super::upload::check_image;

/// The D-ID adapter (talking heads through async jobs).
///
/// ```no_run
/// use ugc_core::Credential;
/// use ugc_core::providers::did::{Did, DidConfig};
/// let did = Did::new(DidConfig::new(Credential::new("operator", "user:secret")), ugc_core::clock::system())?;
/// # Ok::<(), ugc_core::Error>(())
/// ```
pub struct Did {
    pub(super) config: DidConfig,
    pub(super) client: reqwest::Client,
    clock: SharedClock,
    capabilities: Capabilities,
}

impl fmt::Debug for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Did")
            .field("base_url", &self.config.http.base_url)
            .field("default_voice", &self.config.default_voice)
            .finish_non_exhaustive()
    }
}

/// Whether `id` can go into a URL path as is (`tlk_...`).
fn valid_talk_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A poll's error: the router retries rate limits and transient failures (the talk may
/// still finish); any other class is the talk's confirmed end.
fn job_failure(error: ProviderError) -> Result<JobStatus, ProviderError> {
    if error.class().retries_same_endpoint() {
        Err(error)
    } else {
        Ok(JobStatus::Failed(error))
    }
}

impl Did {
    /// Checks `config` (errors name the field, `did.base_url`) and builds the client.
    pub fn new(config: DidConfig, clock: SharedClock) -> crate::Result<Self> {
        config.validate()?;
        let client = config.http.client("did")?;
        Ok(Self {
            config,
            client,
            clock,
            capabilities: Capabilities::jobs([MediaKind::Avatar]),
        })
    }

    fn credential<'a>(&'a self, ctx: &'a CallContext) -> &'a Credential {
        ctx.credential.as_ref().unwrap_or(&self.config.credential)
    }

    /// Sends with the key; a non-2xx answer becomes its classified error. `job_submit`
    /// marks `POST /talks`, whose timeout leaves the talk's acceptance unknown.
    pub(super) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        key: &str,
        job_submit: bool,
    ) -> Result<reqwest::Response, ProviderError> {
        let response = self.send_raw(request, key, job_submit).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let error = errors::from_response(response, self.clock.wall(), &[key]).await;
        trace_failure(&error);
        Err(error)
    }

    async fn send_raw(
        &self,
        request: reqwest::RequestBuilder,
        key: &str,
        job_submit: bool,
    ) -> Result<reqwest::Response, ProviderError> {
        let mut auth = HeaderValue::from_str(&basic_auth(key)).map_err(|_| {
            ProviderError::misconfigured("the d-id key is not a valid header value")
        })?;
        auth.set_sensitive(true);
        let sent = request.header(AUTHORIZATION, auth).send().await;
        sent.map_err(|e| {
            let error = if job_submit && e.is_timeout() && !e.is_connect() {
                ProviderError::acceptance_unknown(
                    "d-id did not answer the talk submit in time; the talk may exist",
                )
            } else {
                classify_transport(&e, &[key])
            };
            trace_failure(&error);
            error
        })
    }

    /// The source image as a URL, uploading bytes first.
    async fn source_url(&self, image: &MediaInput, key: &str) -> Result<String, ProviderError> {
        match image {
            MediaInput::Url(url) => Ok(url.clone()),
            MediaInput::Bytes { data, .. } => {
                let mime = check_image(data)?;
                self.upload("/images", "image", data.clone(), mime, key)
                    .await
            }
        }
    }

    /// The talk's script, uploading audio bytes first.
    async fn script(
        &self,
        avatar: &AvatarRequest,
        ctx: &CallContext,
        key: &str,
    ) -> Result<serde_json::Value, ProviderError> {
        match &avatar.script {
            Script::Text(text) => {
                let voice = ctx.voice.as_deref().unwrap_or(&self.config.default_voice);
                script::text(text, voice, self.config.chars_per_second)
            }
            Script::Audio(MediaInput::Url(url)) => Ok(script::audio(url)),
            Script::Audio(MediaInput::Bytes { data, mime }) => {
                if !mime.starts_with("audio/") {
                    return Err(ProviderError::bad_request(
                        "d-id audio scripts must be audio",
                    ));
                }
                if script::audio_length(data.len()) > super::config::MAX_VIDEO {
                    return Err(ProviderError::bad_request("d-id videos are at most 300 s"));
                }
                let url = self
                    .upload("/audios", "audio", data.clone(), mime, key)
                    .await?;
                Ok(script::audio(&url))
            }
        }
    }

    fn price(&self, model: Option<&str>) -> Price {
        model
            .and_then(|m| self.config.prices.get(m))
            .or_else(|| self.config.prices.get(DEFAULT_MODEL))
            .copied()
            .unwrap_or_default()
    }

    /// A talk that is done: its video, downloaded from the pre-signed `result_url` without
    /// the key, capped, and checked to be video.
    async fn result(&self, talk: &serde_json::Value) -> Result<JobStatus, ProviderError> {
        let Some(url) = talk.get("result_url").and_then(|v| v.as_str()) else {
            return Err(ProviderError::transient(
                "d-id reported a done talk without result_url",
            ));
        };
        let mut media = download(
            &self.client,
            url,
            self.config.http.max_download_bytes,
            &["video/"],
        )
        .await?;
        if let Some(seconds) = talk.get("duration").and_then(|v| v.as_f64()) {
            if seconds.is_finite() && seconds > 0.0 {
                media = media.with_duration(Duration::from_secs_f64(seconds));
            }
        }
        Ok(JobStatus::Succeeded(media))
    }
}

fn trace_failure(error: &ProviderError) {
    tracing::debug!(
        target: "ugc::provider",
        provider = "d-id",
        model = DEFAULT_MODEL,
        status = error.status(),
        class = error.class().as_str(),
        "d-id call failed"
    );
}

/// The text of a failed talk's `error` object, scrubbed.
fn talk_error(talk: &serde_json::Value, key: &str) -> String {
    let detail = talk
        .get("error")
        .and_then(errors::parse_value)
        .map(|e| format!("{}: {}", e.kind.unwrap_or_default(), e.text))
        .unwrap_or_default();
    scrub(&detail, &[key])
}

#[async_trait]
impl Provider for Did {
    fn id(&self) -> &str {
        "d-id"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn submit(
        &self,
        request: &Request,
        ctx: &CallContext,
    ) -> Result<Submission, ProviderError> {
        let Request::Avatar(avatar) = request else {
            return Err(ProviderError::bad_request(format!(
                "d-id serves talking heads, not {}",
                request.kind()
            )));
        };
        let key = self.credential(ctx).expose();
        // Every input check comes before the first upload: bad input costs no call.
        if let MediaInput::Bytes { data, .. } = &avatar.source_image {
            check_image(data)?;
        }
        let script = self.script(avatar, ctx, key).await?;
        let source_url = self.source_url(&avatar.source_image, key).await?;
        let body = json!({
            "source_url": source_url,
            "script": script,
            "config": {"result_format": "mp4"},
        });
        let request = self.client.post(self.config.http.url("/talks")).json(&body);
        let response = self.send(request, key, true).await?;
        let answer = json_body(response).await?;
        if let Some(error) = error_in_200(&answer, &[key]) {
            trace_failure(&error);
            return Err(error);
        }
        match answer.get("id").and_then(|v| v.as_str()) {
            Some(id) if valid_talk_id(id) => {
                tracing::debug!(target: "ugc::provider", provider = "d-id", "talk accepted");
                Ok(Submission::Pending(
                    JobHandle::new(id).with_poll_after(self.config.poll_interval),
                ))
            }
            _ => Err(ProviderError::transient(
                "d-id accepted the talk without a usable id",
            )),
        }
    }

    async fn poll(&self, job: &JobHandle, ctx: &CallContext) -> Result<JobStatus, ProviderError> {
        if !valid_talk_id(&job.id) {
            return Err(ProviderError::bad_request("not a d-id talk id"));
        }
        let key = self.credential(ctx).expose();
        let request = self
            .client
            .get(self.config.http.url(&format!("/talks/{}", job.id)));
        let response = self.send_raw(request, key, false).await?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let error = errors::from_response(response, self.clock.wall(), &[key]).await;
            trace_failure(&error);
            if status == 404 {
                return Ok(JobStatus::Failed(
                    ProviderError::misconfigured(
                        "d-id has no such talk: deleted or made with another key",
                    )
                    .with_status(404),
                ));
            }
            return job_failure(error);
        }
        let talk = json_body(response).await?;
        match talk.get("status").and_then(|v| v.as_str()) {
            Some("created" | "started") => Ok(JobStatus::Running { progress: None }),
            Some("done") => self.result(&talk).await,
            Some("rejected") => Ok(JobStatus::Failed(ProviderError::content_rejected(format!(
                "d-id rejected the talk {}",
                talk_error(&talk, key)
            )))),
            Some("error") => Ok(JobStatus::Failed(ProviderError::transient(format!(
                "d-id failed the talk {}",
                talk_error(&talk, key)
            )))),
            _ => match error_in_200(&talk, &[key]) {
                Some(error) => job_failure(error),
                None => Err(ProviderError::transient(
                    "d-id reported an unknown talk status",
                )),
            },
        }
    }

    /// `DELETE /talks/{id}`; a talk already gone counts as cancelled.
    async fn cancel(&self, job: &JobHandle, ctx: &CallContext) -> Result<(), ProviderError> {
        if !valid_talk_id(&job.id) {
            return Err(ProviderError::bad_request("not a d-id talk id"));
        }
        let key = self.credential(ctx).expose();
        let request = self
            .client
            .delete(self.config.http.url(&format!("/talks/{}", job.id)));
        match self.send(request, key, false).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn estimate(&self, request: &Request, model: Option<&str>) -> Usage {
        let Request::Avatar(avatar) = request else {
            return Usage::request();
        };
        let length = match &avatar.script {
            Script::Text(text) => script::text_length(text, self.config.chars_per_second),
            Script::Audio(MediaInput::Bytes { data, .. }) => script::audio_length(data.len()),
            Script::Audio(MediaInput::Url(_)) => script::AUDIO_URL_ESTIMATE,
        };
        let usage = Usage {
            characters: request.characters() as u64,
            video_millis: u64::try_from(length.as_millis()).unwrap_or(u64::MAX),
            ..Usage::request()
        };
        Usage {
            cost_micros: self
                .price(model.or(avatar.model.as_deref()))
                .cost_micros(&usage),
            ..usage
        }
    }

    /// `GET /credits`: free, and refused (401) for a bad key.
    async fn validate_credentials(&self, credential: &Credential) -> Result<(), ProviderError> {
        let request = self.client.get(self.config.http.url("/credits"));
        self.send(request, credential.expose(), false)
            .await
            .map(|_| ())
    }
}
