use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::breaker::BreakerConfig;
use crate::provider::Provider;
use crate::{Credential, Usage};

/// The credential id of endpoints configured without a credential (keyless providers).
pub const NO_CREDENTIAL: &str = "none";

/// A price list for an endpoint, overriding the provider's own estimate of cost.
///
/// ```
/// use ugc_core::router::Price;
/// use ugc_core::Usage;
/// // OpenAI tts-1: $15 per million characters.
/// let tts1 = Price { per_million_characters: 15_000_000, ..Price::default() };
/// let usage = Usage { characters: 1_000, ..Usage::request() };
/// assert_eq!(tts1.cost_micros(&usage), 15_000);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Price {
    /// Micro-dollars per request.
    pub per_request: u64,
    /// Micro-dollars per million characters of input.
    pub per_million_characters: u64,
    /// Micro-dollars per second of audio produced.
    pub per_audio_second: u64,
    /// Micro-dollars per second of video produced.
    pub per_video_second: u64,
}

impl Price {
    /// The cost of `usage` at this price, rounded up to the micro-dollar.
    pub fn cost_micros(&self, usage: &Usage) -> u64 {
        let per_milli =
            |rate: u64, millis: u64| (u128::from(rate) * u128::from(millis)).div_ceil(1000);
        let total = u128::from(self.per_request) * u128::from(usage.requests.max(1))
            + (u128::from(self.per_million_characters) * u128::from(usage.characters))
                .div_ceil(1_000_000)
            + per_milli(self.per_audio_second, usage.audio_millis)
            + per_milli(self.per_video_second, usage.video_millis);
        u64::try_from(total).unwrap_or(u64::MAX)
    }
}

/// One way to serve requests: a provider with a credential and a model, and how the router
/// treats it (priority, weight, price, self-limits, timeouts, breaker settings).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use ugc_core::clock::ManualClock;
/// use ugc_core::router::Endpoint;
/// use ugc_core::testkit::ScriptedProvider;
///
/// let hf = Arc::new(ScriptedProvider::speech("huggingface", ManualClock::new().shared()));
/// let free_tier = Endpoint::new(hf)
///     .model("facebook/mms-tts-eng")
///     .priority(0)
///     .requests_per_hour(10)
///     .requests_per_day(50)
///     .attempt_timeout(Duration::from_secs(20));
/// assert_eq!(free_tier.name(), "huggingface/facebook/mms-tts-eng@none");
/// ```
#[derive(Clone)]
pub struct Endpoint {
    pub(crate) provider: Arc<dyn Provider>,
    pub(crate) credential: Option<Credential>,
    pub(crate) model: Option<Arc<str>>,
    pub(crate) priority: u32,
    pub(crate) weight: u32,
    pub(crate) price: Option<Price>,
    pub(crate) per_hour: Option<u32>,
    pub(crate) per_day: Option<u32>,
    pub(crate) max_in_flight: Option<u32>,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) breaker: Option<BreakerConfig>,
    pub(crate) voices: Option<HashMap<String, Arc<str>>>,
    pub(crate) default_voice: Option<Arc<str>>,
}

impl Endpoint {
    /// An endpoint of `provider` with priority 0, weight 1 and no limits.
    pub fn new(provider: Arc<dyn Provider>) -> Self {
        Self {
            provider,
            credential: None,
            model: None,
            priority: 0,
            weight: 1,
            price: None,
            per_hour: None,
            per_day: None,
            max_in_flight: None,
            attempt_timeout: None,
            breaker: None,
            voices: None,
            default_voice: None,
        }
    }

    /// The credential to call with. State (breaker, cooldown, self-limits) is kept per
    /// provider and credential.
    #[must_use]
    pub fn credential(mut self, credential: Credential) -> Self {
        self.credential = Some(credential);
        self
    }

    /// The model this endpoint serves.
    #[must_use]
    pub fn model(mut self, model: impl Into<Arc<str>>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Lower is tried first by the priority strategy (free before paid).
    #[must_use]
    pub fn priority(mut self, priority: u32) -> Self {
        self.priority = priority;
        self
    }

    /// Relative share for weighted choices (ties in priority, the weighted strategy); 0 is
    /// treated as 1.
    #[must_use]
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight.max(1);
        self
    }

    /// A price list overriding the provider's cost estimate.
    #[must_use]
    pub fn price(mut self, price: Price) -> Self {
        self.price = Some(price);
        self
    }

    /// At most `n` requests in any rolling hour (the provider's free-tier limit).
    #[must_use]
    pub fn requests_per_hour(mut self, n: u32) -> Self {
        self.per_hour = Some(n);
        self
    }

    /// At most `n` requests in any rolling day.
    #[must_use]
    pub fn requests_per_day(mut self, n: u32) -> Self {
        self.per_day = Some(n);
        self
    }

    /// At most `n` calls in flight at once (ElevenLabs plans allow 2 to 15).
    #[must_use]
    pub fn max_in_flight(mut self, n: u32) -> Self {
        self.max_in_flight = Some(n);
        self
    }

    /// Timeout of one call to this endpoint (overrides the router's).
    #[must_use]
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Circuit breaker settings (overrides the router's).
    #[must_use]
    pub fn breaker(mut self, config: BreakerConfig) -> Self {
        self.breaker = Some(config);
        self
    }

    /// Maps the logical voice `logical` (`narrator-female`) to this provider's own voice id
    /// (`nova`, `21m00Tcm4TlvDq8ikWAM`), so a failover keeps the voice's character. Once an
    /// endpoint maps any voice, requests for a voice it does not map skip it.
    #[must_use]
    pub fn voice(
        mut self,
        logical: impl Into<String>,
        provider_voice: impl Into<Arc<str>>,
    ) -> Self {
        self.voices
            .get_or_insert_with(HashMap::new)
            .insert(logical.into(), provider_voice.into());
        self
    }

    /// The provider voice used when a request names none.
    #[must_use]
    pub fn default_voice(mut self, provider_voice: impl Into<Arc<str>>) -> Self {
        self.default_voice = Some(provider_voice.into());
        self
    }

    /// The provider's voice id for a request asking for `logical`: mapped, passed through
    /// when the endpoint maps no voices, the default when none is asked for; `Err(())` when
    /// the endpoint maps voices but not this one.
    pub(crate) fn resolve_voice(&self, logical: Option<&str>) -> Result<Option<Arc<str>>, ()> {
        match (logical, &self.voices) {
            (None, _) => Ok(self.default_voice.clone()),
            (Some(v), None) => Ok(Some(v.into())),
            (Some(v), Some(map)) => map.get(v).cloned().map(Some).ok_or(()),
        }
    }

    /// `provider/model@credential`, as trails and health tables show it.
    pub fn name(&self) -> String {
        let credential = self
            .credential
            .as_ref()
            .map_or(NO_CREDENTIAL, Credential::id);
        match &self.model {
            Some(model) => format!("{}/{model}@{credential}", self.provider.id()),
            None => format!("{}@{credential}", self.provider.id()),
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name())
            .field("priority", &self.priority)
            .field("weight", &self.weight)
            .field("price", &self.price)
            .field("requests_per_hour", &self.per_hour)
            .field("requests_per_day", &self.per_day)
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

/// A cheap, shareable name of an endpoint, as it appears in outcomes, trails and health.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EndpointRef(Arc<EndpointInfo>);

#[derive(PartialEq, Eq, Hash)]
struct EndpointInfo {
    name: String,
    provider: Arc<str>,
    credential: Arc<str>,
    model: Option<Arc<str>>,
}

impl EndpointRef {
    pub(crate) fn of(endpoint: &Endpoint) -> Self {
        Self(Arc::new(EndpointInfo {
            name: endpoint.name(),
            provider: endpoint.provider.id().into(),
            credential: endpoint
                .credential
                .as_ref()
                .map_or(NO_CREDENTIAL, Credential::id)
                .into(),
            model: endpoint.model.clone(),
        }))
    }

    /// `provider/model@credential`.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The provider id.
    pub fn provider(&self) -> &str {
        &self.0.provider
    }

    /// The credential id (`none` for keyless endpoints).
    pub fn credential(&self) -> &str {
        &self.0.credential
    }

    /// The model, if the endpoint names one.
    pub fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
}

impl fmt::Display for EndpointRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name)
    }
}

impl fmt::Debug for EndpointRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EndpointRef({})", self.0.name)
    }
}
