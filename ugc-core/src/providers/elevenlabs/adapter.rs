//! The [`Provider`] implementation: one `POST /v1/text-to-speech/{voice_id}` per request.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

use crate::clock::SharedClock;
use crate::provider::{CallContext, Capabilities, Provider, ProviderError, Submission};
use crate::providers::http::{classify_transport, media_type, read_capped, retry_after};
use crate::request::{MediaKind, Request, SpeechRequest};
use crate::router::Price;
use crate::{Credential, Error, Media, Usage};

use super::config::{ElevenLabsConfig, max_characters};
use super::errors;
use super::speech::{
    Output, PCM_RATE, SpeechBody, clamp_speed, is_voice_id, language_code, output_for, wav_header,
};

/// Largest error body read: enough for any JSON error, too small to matter.
const ERROR_BODY_CAP: u64 = 64 * 1024;

/// Speaking rate used to estimate audio length: about 15 characters a second.
const CHARS_PER_SECOND: u64 = 15;

/// The header that carries the key.
const KEY_HEADER: &str = "xi-api-key";

/// The header with the characters actually charged.
const COST_HEADER: &str = "character-cost";

/// ElevenLabs text to speech (`eleven_multilingual_v2`, `eleven_v3`, flash and turbo).
///
/// ```
/// use ugc_core::Credential;
/// use ugc_core::providers::elevenlabs::{ElevenLabs, ElevenLabsConfig};
///
/// let config = ElevenLabsConfig::new(Credential::new("operator", "xi-live-123"));
/// let eleven = ElevenLabs::new(config, ugc_core::clock::system())?;
/// assert!(!format!("{eleven:?}").contains("xi-live-123"));
/// # Ok::<(), ugc_core::Error>(())
/// ```
pub struct ElevenLabs {
    config: ElevenLabsConfig,
    client: reqwest::Client,
    clock: SharedClock,
    capabilities: Capabilities,
}

impl fmt::Debug for ElevenLabs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The config's Debug shows the credential's id only.
        f.debug_struct("ElevenLabs")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ElevenLabs {
    /// Checks `config` and builds the adapter; errors name the field (`elevenlabs.base_url`).
    pub fn new(config: ElevenLabsConfig, clock: SharedClock) -> Result<Self, Error> {
        let client = config.http.client("elevenlabs")?;
        if config.default_model.trim().is_empty() {
            return Err(Error::config("elevenlabs.default_model must not be empty"));
        }
        if !is_voice_id(&config.default_voice) {
            return Err(Error::config(
                "elevenlabs.default_voice must be a voice id (letters, digits, _ and -)",
            ));
        }
        if let Some(credential) = &config.credential {
            if key_header(credential).is_err() {
                return Err(Error::config(
                    "elevenlabs.credential must be a non-empty key of visible ASCII",
                ));
            }
        }
        Ok(Self {
            config,
            client,
            clock,
            capabilities: Capabilities::sync([MediaKind::Speech]),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ElevenLabsConfig {
        &self.config
    }

    fn credential<'a>(&'a self, ctx: &'a CallContext) -> Result<&'a Credential, ProviderError> {
        ctx.credential
            .as_ref()
            .or(self.config.credential.as_ref())
            .ok_or_else(|| ProviderError::misconfigured("elevenlabs: no credential configured"))
    }

    fn price(&self, model: Option<&str>) -> Price {
        let prices = &self.config.prices;
        model
            .and_then(|m| prices.get(m))
            .or_else(|| prices.get(&self.config.default_model))
            .copied()
            .unwrap_or_default()
    }

    async fn speak(
        &self,
        speech: &SpeechRequest,
        ctx: &CallContext,
    ) -> Result<Submission, ProviderError> {
        let credential = self.credential(ctx)?;
        let model = ctx
            .model
            .as_deref()
            .or(speech.model.as_deref())
            .unwrap_or(&self.config.default_model);
        let characters = speech.text.chars().count();
        if characters == 0 {
            return Err(ProviderError::bad_request("elevenlabs: the text is empty"));
        }
        if let Some(max) = max_characters(model).filter(|max| characters > *max) {
            return Err(ProviderError::bad_request(format!(
                "elevenlabs: the text has {characters} characters; {model} accepts at most {max}"
            )));
        }
        let voice = ctx.voice.as_deref().unwrap_or(&self.config.default_voice);
        if !is_voice_id(voice) {
            // Never put such a value in the URL path; it is not an ElevenLabs voice id.
            return Err(ProviderError::bad_request(
                "elevenlabs: the voice is not a valid voice id",
            ));
        }
        let output = output_for(speech.format);
        let body = SpeechBody {
            text: &speech.text,
            model_id: model,
            language_code: language_code(speech.language.as_deref()),
            voice_settings: clamp_speed(speech.speed),
        };
        let key = credential.expose();
        let path = format!("/v1/text-to-speech/{voice}?output_format={}", output.query);
        let response = self
            .client
            .post(self.config.http.url(&path))
            .header(KEY_HEADER, key_header(credential)?)
            .json(&body)
            .send()
            .await
            .map_err(|e| classify_transport(&e, &[key]))?;
        let status = response.status().as_u16();
        let result = if response.status().is_success() {
            self.audio(response, output, model, key).await
        } else {
            Err(self.failure(response, key).await)
        };
        match &result {
            Ok(_) => {
                tracing::debug!(target: "ugc::provider", provider = "elevenlabs", model, status, "speech served")
            }
            Err(e) => {
                tracing::debug!(target: "ugc::provider", provider = "elevenlabs", model, status, class = e.class().as_str(), "speech failed")
            }
        }
        result.map(Submission::Ready)
    }

    /// A 200: audio (settled with `character-cost`), or an error or garbage in JSON.
    async fn audio(
        &self,
        response: reqwest::Response,
        output: Output,
        model: &str,
        key: &str,
    ) -> Result<Media, ProviderError> {
        let status = response.status().as_u16();
        if is_json(response.headers()) {
            let body = read_capped(response, ERROR_BODY_CAP).await?;
            return Err(match serde_json::from_slice::<serde_json::Value>(&body) {
                Err(_) => ProviderError::transient("elevenlabs answered 200 with malformed JSON")
                    .with_status(status),
                Ok(value) if value.get("detail").is_some() => {
                    errors::classify(status, &body, None, key)
                }
                Ok(_) => ProviderError::transient("elevenlabs answered 200 with JSON, not audio")
                    .with_status(status),
            });
        }
        let mut mime = media_type(response.headers(), output.accepted)?;
        let cost = header_u64(response.headers(), COST_HEADER);
        let mut bytes = read_capped(response, self.config.http.max_download_bytes).await?;
        if bytes.is_empty() {
            return Err(ProviderError::transient(
                "elevenlabs answered 200 with no audio",
            ));
        }
        let mut duration = None;
        if output.query.starts_with("pcm_") {
            let samples = bytes.len() as u64 / 2;
            duration = Some(Duration::from_millis(samples * 1000 / u64::from(PCM_RATE)));
            if output.wrap_wav {
                bytes = wrap_wav(&bytes);
                mime = "audio/wav".to_owned();
            } else {
                mime = "audio/L16".to_owned();
            }
        }
        let mut media = Media::bytes(bytes, mime);
        if let Some(duration) = duration {
            media = media.with_duration(duration);
        }
        if let Some(characters) = cost {
            // What was actually charged settles the reservation made from the estimate.
            let billed = Usage {
                characters,
                ..Usage::request()
            };
            let cost_micros = self.price(Some(model)).cost_micros(&billed);
            media = media.with_billed(Usage {
                cost_micros,
                ..billed
            });
        }
        Ok(media)
    }

    /// A non-2xx answer, classified from its status, headers and body.
    async fn failure(&self, response: reqwest::Response, key: &str) -> ProviderError {
        let status = response.status().as_u16();
        let wait = retry_after(response.headers(), self.clock.wall());
        // An unreadable error body still has a status to classify by.
        let body = read_capped(response, ERROR_BODY_CAP)
            .await
            .unwrap_or_default();
        errors::classify(status, &body, wait, key)
    }
}

/// The key as a header value marked sensitive (kept out of HTTP/2 tables and debug output).
fn key_header(credential: &Credential) -> Result<HeaderValue, ProviderError> {
    let key = credential.expose();
    if key.trim().is_empty() {
        return Err(ProviderError::misconfigured("elevenlabs: the key is empty"));
    }
    let mut value = HeaderValue::from_str(key).map_err(|_| {
        ProviderError::misconfigured("elevenlabs: the key holds characters a header cannot carry")
    })?;
    value.set_sensitive(true);
    Ok(value)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
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

fn wrap_wav(pcm: &[u8]) -> Bytes {
    let len = u32::try_from(pcm.len()).unwrap_or(u32::MAX);
    let mut wav = BytesMut::with_capacity(44 + pcm.len());
    wav.extend_from_slice(&wav_header(len));
    wav.extend_from_slice(pcm);
    wav.freeze()
}

#[async_trait]
impl Provider for ElevenLabs {
    fn id(&self) -> &str {
        "elevenlabs"
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
                "elevenlabs serves speech, not {}",
                other.kind()
            ))),
        }
    }

    fn estimate(&self, request: &Request, model: Option<&str>) -> Usage {
        let characters = request.characters() as u64;
        let usage = Usage {
            characters,
            audio_millis: characters.saturating_mul(1000) / CHARS_PER_SECOND,
            ..Usage::request()
        };
        Usage {
            cost_micros: self.price(model.or(request.model())).cost_micros(&usage),
            ..usage
        }
    }

    /// `GET /v1/user`: free and authenticated. A key restricted so that it may not read the
    /// user (`missing_permissions`) was still recognised, so it is accepted.
    async fn validate_credentials(&self, credential: &Credential) -> Result<(), ProviderError> {
        let key = credential.expose();
        let response = self
            .client
            .get(self.config.http.url("/v1/user"))
            .header(KEY_HEADER, key_header(credential)?)
            .send()
            .await
            .map_err(|e| classify_transport(&e, &[key]))?;
        if response.status().is_success() {
            return Ok(());
        }
        let status = response.status().as_u16();
        let body = read_capped(response, ERROR_BODY_CAP)
            .await
            .unwrap_or_default();
        let restricted = errors::parse(&body)
            .is_some_and(|e| e.codes.iter().any(|c| c == "missing_permissions"));
        if restricted {
            return Ok(());
        }
        let error = errors::classify(status, &body, None, key);
        tracing::debug!(target: "ugc::provider", provider = "elevenlabs", status, class = error.class().as_str(), "credential check failed");
        Err(error)
    }
}
