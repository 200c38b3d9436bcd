//! The [`Provider`] implementation: one synchronous POST per speech request.

use std::fmt;

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::provider::{CallContext, Capabilities, Provider, ProviderError, Submission};
use crate::providers::http::{classify_transport, read_capped, retry_after};
use crate::request::{MediaKind, Request};
use crate::router::Price;
use crate::{Credential, Result, Usage};

use super::config::{HuggingFaceConfig, is_model_id};
use super::errors::{ErrorBody, classify_http};
use super::response::audio_from;

/// Largest error body read: enough for any message, too little to hurt.
const ERROR_BODY_CAP: u64 = 64 * 1024;

/// Speech takes about 65 ms per character (some 15 characters a second).
const MILLIS_PER_CHARACTER: u64 = 65;

/// Text to speech through Hugging Face Inference Providers (`hf-inference`).
///
/// ```
/// use ugc_core::Credential;
/// use ugc_core::provider::Provider;
/// use ugc_core::providers::huggingface::{HuggingFace, HuggingFaceConfig};
///
/// let hf = HuggingFace::new(HuggingFaceConfig::new(Credential::new("operator", "hf_example")), ugc_core::clock::system())?;
/// assert_eq!(hf.id(), "huggingface");
/// # Ok::<(), ugc_core::Error>(())
/// ```
pub struct HuggingFace {
    config: HuggingFaceConfig,
    client: reqwest::Client,
    clock: SharedClock,
    capabilities: Capabilities,
}

impl fmt::Debug for HuggingFace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HuggingFace")
            .field("base_url", &self.config.http.base_url)
            .field("default_model", &self.config.default_model)
            .finish_non_exhaustive()
    }
}

impl HuggingFace {
    /// An adapter with `config`; errors name the wrong field (`huggingface.base_url`).
    pub fn new(config: HuggingFaceConfig, clock: SharedClock) -> Result<Self> {
        config.validate()?;
        let client = config.http.client("huggingface")?;
        Ok(Self {
            config,
            client,
            clock,
            capabilities: Capabilities::sync([MediaKind::Speech]),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &HuggingFaceConfig {
        &self.config
    }

    fn credential<'a>(&'a self, ctx: &'a CallContext) -> Result<&'a Credential, ProviderError> {
        ctx.credential
            .as_ref()
            .or(self.config.credential.as_ref())
            .ok_or_else(|| ProviderError::misconfigured("no Hugging Face token configured"))
    }

    fn price(&self, model: &str) -> Price {
        self.config
            .prices
            .get(model)
            .or_else(|| self.config.prices.get(&self.config.default_model))
            .copied()
            .unwrap_or_default()
    }

    fn model<'a>(&'a self, ctx: &'a CallContext, request: &'a Request) -> &'a str {
        ctx.model
            .as_deref()
            .or(request.model())
            .unwrap_or(&self.config.default_model)
    }
}

#[async_trait]
impl Provider for HuggingFace {
    fn id(&self) -> &str {
        "huggingface"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn submit(
        &self,
        request: &Request,
        ctx: &CallContext,
    ) -> Result<Submission, ProviderError> {
        let Request::Speech(speech) = request else {
            return Err(ProviderError::bad_request(format!(
                "huggingface serves speech, not {}",
                request.kind()
            )));
        };
        let model = self.model(ctx, request);
        if !is_model_id(model) {
            return Err(ProviderError::misconfigured(
                "the Hugging Face model id is not owner/name",
            ));
        }
        let credential = self.credential(ctx)?;
        let key = credential.expose();
        let url = self
            .config
            .http
            .url(&format!("/hf-inference/models/{model}"));
        let body = serde_json::json!({ "inputs": speech.text, "parameters": {} });
        let mut call = self.client.post(url).bearer_auth(key).json(&body);
        if self.config.wait_for_model {
            call = call.header("x-wait-for-model", "true");
        }
        if let Some(use_cache) = self.config.use_cache {
            call = call.header("x-use-cache", if use_cache { "true" } else { "false" });
        }
        if let Some(org) = &self.config.bill_to {
            call = call.header("X-HF-Bill-To", org.as_str());
        }
        let response = call
            .send()
            .await
            .map_err(|e| classify_transport(&e, &[key]))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let wait = retry_after(response.headers(), self.clock.wall());
            let body = read_capped(response, ERROR_BODY_CAP)
                .await
                .unwrap_or_default();
            return Err(classify_http(status, wait, &ErrorBody::parse(&body), key));
        }
        let media = audio_from(
            &self.client,
            response,
            self.config.http.max_download_bytes,
            key,
        )
        .await?;
        tracing::debug!(target: "ugc::provider", provider = "huggingface", model, status, mime = %media.mime, "speech generated");
        Ok(Submission::Ready(media))
    }

    fn estimate(&self, request: &Request, model: Option<&str>) -> Usage {
        let characters = request.characters() as u64;
        let usage = Usage {
            characters,
            audio_millis: characters * MILLIS_PER_CHARACTER,
            ..Usage::request()
        };
        let price = self.price(
            model
                .or(request.model())
                .unwrap_or(&self.config.default_model),
        );
        Usage {
            cost_micros: price.cost_micros(&usage),
            ..usage
        }
    }

    /// `GET {hub}/api/whoami-v2`, the Hub's cheapest authenticated call: 401/403 mean the
    /// token is refused ([`ErrorClass::Misconfigured`](crate::provider::ErrorClass)).
    async fn validate_credentials(&self, credential: &Credential) -> Result<(), ProviderError> {
        let key = credential.expose();
        let url = format!("{}/api/whoami-v2", self.config.hub_base_url);
        let response = self
            .client
            .get(url)
            .bearer_auth(key)
            .send()
            .await
            .map_err(|e| classify_transport(&e, &[key]))?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(());
        }
        let wait = retry_after(response.headers(), self.clock.wall());
        let body = read_capped(response, ERROR_BODY_CAP)
            .await
            .unwrap_or_default();
        Err(classify_http(status, wait, &ErrorBody::parse(&body), key))
    }
}
