//! The [`Provider`] implementation: one `POST /v1/audio/speech` per request.

use std::fmt;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderMap};

use crate::clock::SharedClock;
use crate::provider::{CallContext, Capabilities, Provider, ProviderError, Submission};
use crate::providers::http::{classify_transport, media_type, read_capped, retry_after};
use crate::request::{MediaKind, Request, SpeechRequest};
use crate::{Credential, Error, Media, Usage};

use super::config::{MAX_INPUT_CHARS, OpenAiConfig};
use super::errors;
use super::ratelimit::{Cooldowns, reset_after};
use super::speech::{SpeechBody, accepted_types, clamp_speed, takes_instructions};

/// Largest error body read: enough for any JSON error, too small to matter.
const ERROR_BODY_CAP: u64 = 64 * 1024;

/// Speaking rate used to estimate audio length: about 15 characters a second.
const CHARS_PER_SECOND: u64 = 15;

/// OpenAI text to speech (`tts-1`, `tts-1-hd`, `gpt-4o-mini-tts`).
///
/// ```
/// use ugc_core::Credential;
/// use ugc_core::providers::openai::{OpenAi, OpenAiConfig};
///
/// let config = OpenAiConfig::new(Credential::new("operator", "sk-live-123"));
/// let openai = OpenAi::new(config, ugc_core::clock::system())?;
/// assert!(!format!("{openai:?}").contains("sk-live-123"));
/// # Ok::<(), ugc_core::Error>(())
/// ```
pub struct OpenAi {
    config: OpenAiConfig,
    client: reqwest::Client,
    clock: SharedClock,
    capabilities: Capabilities,
    cooldowns: Cooldowns,
}

impl fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The config's Debug shows the credential's id only.
        f.debug_struct("OpenAi")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OpenAi {
    /// Checks `config` and builds the adapter; errors name the field (`openai.base_url`).
    pub fn new(config: OpenAiConfig, clock: SharedClock) -> Result<Self, Error> {
        let client = config.http.client("openai")?;
        if config.default_model.trim().is_empty() {
            return Err(Error::config("openai.default_model must not be empty"));
        }
        if config.default_voice.trim().is_empty() {
            return Err(Error::config("openai.default_voice must not be empty"));
        }
        if config
            .credential
            .as_ref()
            .is_some_and(|c| c.expose().trim().is_empty())
        {
            return Err(Error::config("openai.credential must not be empty"));
        }
        Ok(Self {
            config,
            client,
            clock,
            capabilities: Capabilities::sync([MediaKind::Speech]),
            cooldowns: Cooldowns::default(),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    fn credential<'a>(&'a self, ctx: &'a CallContext) -> Result<&'a Credential, ProviderError> {
        ctx.credential
            .as_ref()
            .or(self.config.credential.as_ref())
            .ok_or_else(|| ProviderError::misconfigured("openai: no credential configured"))
    }

    fn model<'a>(&'a self, ctx: &'a CallContext, request: &'a SpeechRequest) -> &'a str {
        ctx.model
            .as_deref()
            .or(request.model.as_deref())
            .unwrap_or(&self.config.default_model)
    }

    async fn speak(
        &self,
        speech: &SpeechRequest,
        ctx: &CallContext,
    ) -> Result<Submission, ProviderError> {
        let credential = self.credential(ctx)?;
        if let Some(wait) = self.cooldowns.remaining(credential.id(), self.clock.now()) {
            // The last answer said no request is left in this window: a call now would be a
            // certain 429, so the router cools the endpoint down without one.
            return Err(ProviderError::rate_limited(
                "openai: the key's request budget is spent until the window resets",
            )
            .with_retry_after(wait));
        }
        let characters = speech.text.chars().count();
        if characters == 0 {
            return Err(ProviderError::bad_request(
                "openai: the input text is empty",
            ));
        }
        if characters > MAX_INPUT_CHARS {
            return Err(ProviderError::bad_request(format!(
                "openai: the input has {characters} characters; at most {MAX_INPUT_CHARS} are accepted"
            )));
        }
        let model = self.model(ctx, speech);
        let body = SpeechBody {
            model,
            input: &speech.text,
            voice: ctx.voice.as_deref().unwrap_or(&self.config.default_voice),
            response_format: speech.format.as_str(),
            speed: clamp_speed(speech.speed),
            instructions: self
                .config
                .instructions
                .as_deref()
                .filter(|_| takes_instructions(model)),
        };
        let key = credential.expose();
        let response = self
            .client
            .post(self.config.http.url("/v1/audio/speech"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .map_err(|e| classify_transport(&e, &[key]))?;
        let status = response.status().as_u16();
        self.cooldowns
            .observe(credential.id(), response.headers(), self.clock.now());
        let result = if response.status().is_success() {
            self.audio(response, speech, key).await
        } else {
            Err(self.failure(response, key).await)
        };
        match &result {
            Ok(_) => {
                tracing::debug!(target: "ugc::provider", provider = "openai", model, status, "speech served")
            }
            Err(e) => {
                tracing::debug!(target: "ugc::provider", provider = "openai", model, status, class = e.class().as_str(), "speech failed")
            }
        }
        result.map(Submission::Ready)
    }

    /// A 200: audio of the asked format, or an error or garbage in JSON.
    async fn audio(
        &self,
        response: reqwest::Response,
        speech: &SpeechRequest,
        key: &str,
    ) -> Result<Media, ProviderError> {
        if is_json(response.headers()) {
            let status = response.status().as_u16();
            let body = read_capped(response, ERROR_BODY_CAP).await?;
            return Err(match serde_json::from_slice::<serde_json::Value>(&body) {
                Err(_) => ProviderError::transient("openai answered 200 with malformed JSON"),
                Ok(value) if value.get("error").is_some() => {
                    errors::classify(status, &body, None, key)
                }
                Ok(_) => ProviderError::transient("openai answered 200 with JSON, not audio"),
            }
            .with_status(status));
        }
        let mime = media_type(response.headers(), accepted_types(speech.format))?;
        let bytes = read_capped(response, self.config.http.max_download_bytes).await?;
        if bytes.is_empty() {
            return Err(ProviderError::transient(
                "openai answered 200 with no audio",
            ));
        }
        Ok(Media::bytes(bytes, mime))
    }

    /// A non-2xx answer, classified from its status, headers and body.
    async fn failure(&self, response: reqwest::Response, key: &str) -> ProviderError {
        let status = response.status().as_u16();
        let wait = retry_after(response.headers(), self.clock.wall())
            .or_else(|| reset_after(response.headers()));
        // An unreadable error body still has a status to classify by.
        let body = read_capped(response, ERROR_BODY_CAP)
            .await
            .unwrap_or_default();
        errors::classify(status, &body, wait, key)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
}

#[async_trait]
impl Provider for OpenAi {
    fn id(&self) -> &str {
        "openai"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn submit(
        &self,
        request: &Request,
        ctx: &CallContext,
    ) -> Result<Submission, ProviderError> {
        match request {
            Request::Speech(speech) => self.speak(speech, ctx).await,
            other => Err(ProviderError::bad_request(format!(
                "openai serves speech, not {}",
                other.kind()
            ))),
        }
    }

    fn estimate(&self, request: &Request, model: Option<&str>) -> Usage {
        let characters = request.characters() as u64;
        let prices = &self.config.prices;
        let price = model
            .or(request.model())
            .and_then(|m| prices.get(m))
            .or_else(|| prices.get(&self.config.default_model))
            .copied()
            .unwrap_or_default();
        let usage = Usage {
            characters,
            audio_millis: characters.saturating_mul(1000) / CHARS_PER_SECOND,
            ..Usage::request()
        };
        Usage {
            cost_micros: price.cost_micros(&usage),
            ..usage
        }
    }

    /// `GET /v1/models`: free, authenticated, and refused with 401 for a bad key.
    async fn validate_credentials(&self, credential: &Credential) -> Result<(), ProviderError> {
        let key = credential.expose();
        let response = self
            .client
            .get(self.config.http.url("/v1/models"))
            .bearer_auth(key)
            .send()
            .await
            .map_err(|e| classify_transport(&e, &[key]))?;
        if response.status().is_success() {
            return Ok(());
        }
        let error = self.failure(response, key).await;
        tracing::debug!(target: "ugc::provider", provider = "openai", status = error.status(), class = error.class().as_str(), "credential check failed");
        Err(error)
    }
}
