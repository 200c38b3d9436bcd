//! The contract every provider adapter fulfils, native or written in Python, Node or C.
//!
//! A provider turns a [`Request`] into a [`Submission`]: media at once, or a job to poll.
//! It classifies every failure into an [`ErrorClass`]; the router alone decides what to do.

mod error;
mod retry_after;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

pub use error::{ErrorClass, ProviderError};
pub use retry_after::parse_retry_after;

use crate::request::{MediaKind, Request};
use crate::{Credential, Media, Usage};

/// What a provider can do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Kinds of media it generates.
    pub kinds: Vec<MediaKind>,
    /// Whether `submit` may return [`Submission::Pending`]. For such providers a submit that
    /// times out leaves its acceptance unknown, so it is never repeated elsewhere.
    pub async_jobs: bool,
}

impl Capabilities {
    /// A provider answering synchronously for `kinds`.
    pub fn sync(kinds: impl Into<Vec<MediaKind>>) -> Self {
        Self {
            kinds: kinds.into(),
            async_jobs: false,
        }
    }

    /// A provider running jobs to poll for `kinds`.
    pub fn jobs(kinds: impl Into<Vec<MediaKind>>) -> Self {
        Self {
            kinds: kinds.into(),
            async_jobs: true,
        }
    }

    /// Whether it serves `kind`.
    pub fn supports(&self, kind: MediaKind) -> bool {
        self.kinds.contains(&kind)
    }
}

/// A job accepted by a provider, to be polled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobHandle {
    /// The provider's job id.
    pub id: String,
    /// Provider-specific locator (for example Replicate's `urls.get`), if any.
    pub locator: Option<String>,
    /// How long to wait before polling, when the provider says (Stability asks for 10 s).
    pub poll_after: Option<Duration>,
}

impl JobHandle {
    /// A handle for job `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            locator: None,
            poll_after: None,
        }
    }

    /// Sets the provider-specific locator.
    #[must_use]
    pub fn with_locator(mut self, locator: impl Into<String>) -> Self {
        self.locator = Some(locator.into());
        self
    }

    /// Sets the polling interval the provider asks for.
    #[must_use]
    pub fn with_poll_after(mut self, after: Duration) -> Self {
        self.poll_after = Some(after);
        self
    }
}

/// The answer to a submit.
#[derive(Debug, Clone, PartialEq)]
pub enum Submission {
    /// The media is done.
    Ready(Media),
    /// The provider accepted a job; poll it.
    Pending(JobHandle),
}

/// The state of a job, as a poll reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum JobStatus {
    /// Still running; `progress` in 0.0..=1.0 when the provider says.
    Running {
        /// Fraction done, when known.
        progress: Option<f32>,
    },
    /// Done.
    Succeeded(Media),
    /// The provider confirms the job failed, for the reason given.
    Failed(ProviderError),
}

/// What an adapter gets with each call besides the request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CallContext {
    /// The model this endpoint serves, if it names one.
    pub model: Option<Arc<str>>,
    /// The credential to call with (the operator's or a user's own).
    pub credential: Option<Credential>,
    /// The provider's own voice id: the request's logical voice mapped by the endpoint's
    /// voice map, or the request's voice as given when the endpoint maps none. `None`: use
    /// the provider's default voice.
    pub voice: Option<Arc<str>>,
    /// When the whole dispatch must be over; adapters may pass it on (`Cancel-After`).
    pub deadline: Instant,
    /// 1 for the first attempt of this dispatch on this endpoint, 2 for a retry, ...
    pub attempt: u32,
}

impl CallContext {
    /// A context with no model and no credential.
    pub fn new(deadline: Instant) -> Self {
        Self {
            model: None,
            credential: None,
            voice: None,
            deadline,
            attempt: 1,
        }
    }

    /// Sets the model.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<Arc<str>>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Sets the credential.
    #[must_use]
    pub fn with_credential(mut self, credential: Credential) -> Self {
        self.credential = Some(credential);
        self
    }

    /// Sets the provider's voice id.
    #[must_use]
    pub fn with_voice(mut self, voice: impl Into<Arc<str>>) -> Self {
        self.voice = Some(voice.into());
        self
    }
}

/// A generation provider. Object safe: the router holds `Arc<dyn Provider>`.
///
/// ```
/// use async_trait::async_trait;
/// use ugc_core::provider::{Capabilities, CallContext, Provider, ProviderError, Submission};
/// use ugc_core::request::{MediaKind, Request};
/// use ugc_core::{Media, Usage};
///
/// struct Beep(Capabilities);
///
/// #[async_trait]
/// impl Provider for Beep {
///     fn id(&self) -> &str { "beep" }
///     fn capabilities(&self) -> &Capabilities { &self.0 }
///     async fn submit(&self, _: &Request, _: &CallContext) -> Result<Submission, ProviderError> {
///         Ok(Submission::Ready(Media::bytes(vec![0u8; 8], "audio/wav")))
///     }
///     fn estimate(&self, request: &Request, _model: Option<&str>) -> Usage {
///         Usage { characters: request.characters() as u64, ..Usage::request() }
///     }
/// }
/// let beep: std::sync::Arc<dyn Provider> = std::sync::Arc::new(Beep(Capabilities::sync([MediaKind::Speech])));
/// assert!(beep.capabilities().supports(MediaKind::Speech));
/// ```
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Stable name (`openai`, `elevenlabs`, `espeak`): keys routing state and appears in trails.
    fn id(&self) -> &str;

    /// What it can do.
    fn capabilities(&self) -> &Capabilities;

    /// Starts a generation: media at once, or a job to poll.
    async fn submit(
        &self,
        request: &Request,
        ctx: &CallContext,
    ) -> Result<Submission, ProviderError>;

    /// Reports the state of a job from [`Submission::Pending`].
    ///
    /// Providers that never return `Pending` keep this default, which reports a
    /// misconfiguration (the router never calls it for them).
    async fn poll(&self, job: &JobHandle, ctx: &CallContext) -> Result<JobStatus, ProviderError> {
        let _ = (job, ctx);
        Err(ProviderError::misconfigured(format!(
            "provider {} does not run jobs",
            self.id()
        )))
    }

    /// Cancels a job (best effort). The default does nothing, for providers without jobs.
    async fn cancel(&self, job: &JobHandle, ctx: &CallContext) -> Result<(), ProviderError> {
        let _ = (job, ctx);
        Ok(())
    }

    /// Estimated usage and cost of `request` on `model`, before it is sent.
    fn estimate(&self, request: &Request, model: Option<&str>) -> Usage;

    /// Checks that `credential` is accepted, with the cheapest authenticated call the
    /// provider offers (or a documented format check where it offers none). Used before a
    /// user's own key is stored. The default accepts any credential: for keyless providers.
    async fn validate_credentials(&self, credential: &Credential) -> Result<(), ProviderError> {
        let _ = credential;
        Ok(())
    }
}
