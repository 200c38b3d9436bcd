//! Hugging Face Inference Providers: text to speech on the `hf-inference` router.
//!
//! The router sends a speech request here like to any synchronous provider: one
//! `POST {base}/hf-inference/models/{model}` that answers with audio (raw bytes, or JSON with a
//! URL or base64 audio). Every failure is classified for the router's failover table: a
//! loading model (503 with `estimated_time`) is transient with that wait, a 429 is a rate
//! limit, 402 spent credit, 404/410/401/403 a misconfigured endpoint.

mod adapter;
mod config;
mod errors;
mod response;

pub use adapter::HuggingFace;
pub use config::{
    DEFAULT_BASE_URL, DEFAULT_HUB_URL, DEFAULT_MODEL, HuggingFaceConfig, PAID_ESTIMATE,
};
