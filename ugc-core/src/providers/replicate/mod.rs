//! Replicate: video, talking-head and speech models run as predictions (async jobs).
//!
//! The router submits a request here and gets media at once when the prediction finishes
//! within `Prefer: wait`, else a job it polls (`urls.get`) until the output file is ready,
//! which is then downloaded under the size cap. At the router's deadline the job is cancelled
//! (and `Cancel-After` makes Replicate stop it even if that call never arrives). Webhook
//! deliveries are checked with [`verify_webhook`].

mod adapter;
mod config;
mod errors;
mod input;
mod model;
mod output;
mod prediction;
mod webhook;

pub use adapter::Replicate;
pub use config::{
    DEFAULT_AVATAR_MODEL, DEFAULT_BASE_URL, DEFAULT_SPEECH_MODEL, DEFAULT_VIDEO_MODEL, InputFields,
    ReplicateConfig,
};
pub use webhook::{WEBHOOK_TOLERANCE, WebhookError, verify_webhook};
