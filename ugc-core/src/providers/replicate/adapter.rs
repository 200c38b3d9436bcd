//! The [`Provider`] implementation: create a prediction (holding briefly with
//! `Prefer: wait`), poll it, download its output, cancel it at the deadline.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::clock::SharedClock;
use crate::provider::{
    CallContext, Capabilities, JobHandle, JobStatus, Provider, ProviderError, Submission,
};
use crate::providers::http::{classify_transport, read_capped, retry_after};
use crate::request::{MediaKind, Request, Script};
use crate::router::Price;
use crate::{Credential, Media, Result, Usage};

use super::config::{InputFields, ReplicateConfig};
use super::errors::{classify_failure, classify_http};
use super::input::build_input;
use super::model::{ModelRef, is_prediction_id};
use super::output::{accepted, fetch_output};
use super::prediction::{Prediction, State};

/// Largest error body read.
const ERROR_BODY_CAP: u64 = 64 * 1024;
/// Largest prediction body read (logs included).
const PREDICTION_CAP: u64 = 4 * 1024 * 1024;
/// Jobs whose kind is remembered for polling; beyond it, polls accept audio or video.
const MAX_TRACKED_JOBS: usize = 10_000;
/// Replicate refuses shorter `Cancel-After` values.
const MIN_CANCEL_AFTER_SECS: u64 = 5;
/// Speech takes about 65 ms per character.
const MILLIS_PER_CHARACTER: u64 = 65;
/// Video length assumed when the request gives none.
const DEFAULT_VIDEO_SECS: u64 = 5;
/// Avatar length assumed for a recorded-audio script, whose length is unknown here.
const DEFAULT_AVATAR_AUDIO_SECS: u64 = 10;

/// Video, avatar and speech models run as Replicate predictions (async jobs).
///
/// ```
/// use ugc_core::Credential;
/// use ugc_core::provider::Provider;
/// use ugc_core::providers::replicate::{Replicate, ReplicateConfig};
///
/// let replicate = Replicate::new(ReplicateConfig::new(Credential::new("operator", "r8_example")), ugc_core::clock::system())?;
/// assert_eq!(replicate.id(), "replicate");
/// assert!(replicate.capabilities().async_jobs);
/// # Ok::<(), ugc_core::Error>(())
/// ```
pub struct Replicate {
    config: ReplicateConfig,
    client: reqwest::Client,
    clock: SharedClock,
    capabilities: Capabilities,
    /// The kind of each job submitted here, so its output's content type can be checked.
    kinds: Mutex<HashMap<String, MediaKind>>,
}

impl fmt::Debug for Replicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replicate")
            .field("base_url", &self.config.http.base_url)
            .field("video_model", &self.config.video_model)
            .finish_non_exhaustive()
    }
}

impl Replicate {
    /// An adapter with `config`; errors name the wrong field (`replicate.prefer_wait`).
    pub fn new(config: ReplicateConfig, clock: SharedClock) -> Result<Self> {
        config.validate()?;
        let client = config.http.client("replicate")?;
        Ok(Self {
            config,
            client,
            clock,
            capabilities: Capabilities::jobs([
                MediaKind::Video,
                MediaKind::Avatar,
                MediaKind::Speech,
            ]),
            kinds: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ReplicateConfig {
        &self.config
    }

    fn credential<'a>(&'a self, ctx: &'a CallContext) -> Result<&'a Credential, ProviderError> {
        ctx.credential
            .as_ref()
            .or(self.config.credential.as_ref())
            .ok_or_else(|| ProviderError::misconfigured("no Replicate token configured"))
    }

    fn default_model(&self, kind: MediaKind) -> &str {
        match kind {
            MediaKind::Video => &self.config.video_model,
            MediaKind::Avatar => &self.config.avatar_model,
            MediaKind::Speech => &self.config.speech_model,
        }
    }

    fn fields(&self, model: &ModelRef<'_>) -> &InputFields {
        self.config
            .model_fields
            .get(model.name)
            .unwrap_or(&self.config.fields)
    }

    fn price(&self, model: &str, kind: MediaKind) -> Price {
        let name = model.split(':').next().unwrap_or(model);
        let default = self.default_model(kind);
        let default = default.split(':').next().unwrap_or(default);
        self.config
            .prices
            .get(name)
            .or_else(|| self.config.prices.get(default))
            .copied()
            .unwrap_or_default()
    }

    fn remember(&self, id: &str, kind: MediaKind) {
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        if kinds.len() < MAX_TRACKED_JOBS {
            kinds.insert(id.to_owned(), kind);
        }
    }

    fn kind_of(&self, id: &str, forget: bool) -> Option<MediaKind> {
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        if forget {
            kinds.remove(id)
        } else {
            kinds.get(id).copied()
        }
    }

    /// `urls.get` if it points at the configured API (the token is sent there), else the
    /// prediction's path on it.
    fn poll_url(&self, job: &JobHandle) -> Result<String, ProviderError> {
        let base = format!("{}/", self.config.http.base_url);
        match &job.locator {
            Some(url) if url.starts_with(&base) => Ok(url.clone()),
            _ if is_prediction_id(&job.id) => {
                Ok(self.config.http.url(&format!("/v1/predictions/{}", job.id)))
            }
            _ => Err(ProviderError::misconfigured(
                "the Replicate prediction id is malformed",
            )),
        }
    }

    /// Reads a 2xx prediction body. A body that cannot be read leaves the caller to decide
    /// what it means (after a create, acceptance is unknown).
    async fn read_prediction(response: reqwest::Response) -> Result<Prediction, &'static str> {
        let bytes = read_capped(response, PREDICTION_CAP)
            .await
            .map_err(|_| "the prediction body broke off")?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|_| "the prediction body is malformed JSON")?;
        Prediction::parse(&value).ok_or("the body is not a prediction")
    }

    async fn output(
        &self,
        url: Option<String>,
        kind: Option<MediaKind>,
    ) -> Result<Media, ProviderError> {
        let url = url.ok_or_else(|| {
            ProviderError::transient("the prediction succeeded without an output file")
        })?;
        fetch_output(
            &self.client,
            &url,
            self.config.http.max_download_bytes,
            accepted(kind),
        )
        .await
    }

    async fn error_from(&self, response: reqwest::Response, key: &str) -> ProviderError {
        let status = response.status().as_u16();
        let wait = retry_after(response.headers(), self.clock.wall());
        let body = read_capped(response, ERROR_BODY_CAP)
            .await
            .unwrap_or_default();
        classify_http(status, wait, &body, key)
    }
}

#[async_trait]
impl Provider for Replicate {
    fn id(&self) -> &str {
        "replicate"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn submit(
        &self,
        request: &Request,
        ctx: &CallContext,
    ) -> Result<Submission, ProviderError> {
        let kind = request.kind();
        let model_name = ctx
            .model
            .as_deref()
            .or(request.model())
            .unwrap_or_else(|| self.default_model(kind));
        let model = ModelRef::parse(model_name).ok_or_else(|| {
            ProviderError::misconfigured(
                "the Replicate model is not owner/name or owner/name:version",
            )
        })?;
        let credential = self.credential(ctx)?;
        let key = credential.expose();
        let input = build_input(request, self.fields(&model), ctx.voice.as_deref());
        let body = match model.version {
            Some(version) => json!({ "version": version, "input": input }),
            None => json!({ "input": input }),
        };
        // Replicate stops the prediction itself when the caller's deadline has passed.
        let remaining = ctx.deadline.saturating_duration_since(self.clock.now());
        let response = self
            .client
            .post(self.config.http.url(&model.create_path()))
            .bearer_auth(key)
            .header("Prefer", format!("wait={}", self.config.prefer_wait))
            .header("Cancel-After", cancel_after(remaining))
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                let error = classify_transport(&e, &[key]);
                if e.is_connect() || e.is_builder() {
                    error
                } else {
                    // The create may have reached Replicate: never send it elsewhere too.
                    ProviderError::acceptance_unknown(format!(
                        "the create call failed after sending: {}",
                        error.message()
                    ))
                }
            })?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(self.error_from(response, key).await);
        }
        let prediction = Self::read_prediction(response).await.map_err(|why| {
            ProviderError::acceptance_unknown(format!("Replicate answered HTTP {status} but {why}"))
        })?;
        tracing::debug!(target: "ugc::provider", provider = "replicate", model = model.name, status, kind = kind.as_str(), "prediction created");
        match prediction.state {
            State::Succeeded(url) => Ok(Submission::Ready(self.output(url, Some(kind)).await?)),
            State::Failed(text) => Err(classify_failure(&text, key)),
            State::Canceled(how) => Err(ProviderError::transient(format!(
                "the prediction was {how}"
            ))),
            State::Running => {
                if !is_prediction_id(&prediction.id) {
                    return Err(ProviderError::acceptance_unknown(
                        "Replicate returned a malformed prediction id",
                    ));
                }
                self.remember(&prediction.id, kind);
                let mut job =
                    JobHandle::new(prediction.id).with_poll_after(self.config.poll_interval);
                if let Some(url) = prediction.get_url {
                    job = job.with_locator(url);
                }
                Ok(Submission::Pending(job))
            }
        }
    }

    async fn poll(&self, job: &JobHandle, ctx: &CallContext) -> Result<JobStatus, ProviderError> {
        let url = self.poll_url(job)?;
        let credential = self.credential(ctx)?;
        let key = credential.expose();
        let response = self
            .client
            .get(url)
            .bearer_auth(key)
            .send()
            .await
            .map_err(|e| classify_transport(&e, &[key]))?;
        if !response.status().is_success() {
            return Err(self.error_from(response, key).await);
        }
        let prediction = Self::read_prediction(response)
            .await
            .map_err(|why| ProviderError::transient(format!("polling Replicate: {why}")))?;
        let status = match prediction.state {
            State::Running => return Ok(JobStatus::Running { progress: None }),
            State::Succeeded(url) => {
                let media = self.output(url, self.kind_of(&job.id, false)).await?;
                JobStatus::Succeeded(media)
            }
            State::Failed(text) => JobStatus::Failed(classify_failure(&text, key)),
            State::Canceled(how) => JobStatus::Failed(ProviderError::transient(format!(
                "the prediction was {how}"
            ))),
        };
        self.kind_of(&job.id, true);
        tracing::debug!(target: "ugc::provider", provider = "replicate", done = matches!(status, JobStatus::Succeeded(_)), "prediction finished");
        Ok(status)
    }

    async fn cancel(&self, job: &JobHandle, ctx: &CallContext) -> Result<(), ProviderError> {
        if !is_prediction_id(&job.id) {
            return Err(ProviderError::misconfigured(
                "the Replicate prediction id is malformed",
            ));
        }
        self.kind_of(&job.id, true);
        let credential = self.credential(ctx)?;
        let key = credential.expose();
        let url = self
            .config
            .http
            .url(&format!("/v1/predictions/{}/cancel", job.id));
        let response = self
            .client
            .post(url)
            .bearer_auth(key)
            .send()
            .await
            .map_err(|e| classify_transport(&e, &[key]))?;
        if response.status().is_success() {
            tracing::debug!(target: "ugc::provider", provider = "replicate", "prediction cancelled");
            Ok(())
        } else {
            Err(self.error_from(response, key).await)
        }
    }

    fn estimate(&self, request: &Request, model: Option<&str>) -> Usage {
        let kind = request.kind();
        let characters = request.characters() as u64;
        let mut usage = Usage {
            characters,
            ..Usage::request()
        };
        match request {
            Request::Video(video) => {
                let millis = video
                    .duration
                    .map_or(DEFAULT_VIDEO_SECS * 1000, |d| d.as_millis() as u64);
                usage.video_millis = millis;
            }
            Request::Avatar(avatar) => {
                usage.video_millis = match avatar.script {
                    Script::Text(_) => characters * MILLIS_PER_CHARACTER,
                    Script::Audio(_) => DEFAULT_AVATAR_AUDIO_SECS * 1000,
                };
            }
            Request::Speech(_) => usage.audio_millis = characters * MILLIS_PER_CHARACTER,
        }
        let model = model
            .or(request.model())
            .unwrap_or_else(|| self.default_model(kind));
        Usage {
            cost_micros: self.price(model, kind).cost_micros(&usage),
            ..usage
        }
    }

    /// `GET /v1/account`, Replicate's cheapest authenticated call: 401/403 mean the token is
    /// refused ([`ErrorClass::Misconfigured`](crate::provider::ErrorClass)).
    async fn validate_credentials(&self, credential: &Credential) -> Result<(), ProviderError> {
        let key = credential.expose();
        let response = self
            .client
            .get(self.config.http.url("/v1/account"))
            .bearer_auth(key)
            .send()
            .await
            .map_err(|e| classify_transport(&e, &[key]))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(self.error_from(response, key).await)
        }
    }
}

/// A `Cancel-After` value in Replicate's duration format (`"90s"`), never under 5 s.
fn cancel_after(remaining: Duration) -> String {
    format!("{}s", remaining.as_secs().max(MIN_CANCEL_AFTER_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_after_is_whole_seconds_and_at_least_five() {
        assert_eq!(cancel_after(Duration::from_millis(90_400)), "90s");
        assert_eq!(cancel_after(Duration::from_secs(1)), "5s");
    }
}
