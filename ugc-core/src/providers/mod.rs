//! The real providers, one module each, each behind a cargo feature of its own name.
//!
//! Every adapter speaks its provider's documented HTTP API (../shared/PROVIDERS.md) at a
//! configurable base URL, holds its key as a secret, classifies every documented failure into
//! an [`ErrorClass`](crate::provider::ErrorClass), caps downloads while streaming, and
//! estimates cost from a price table. The local engine ends every default speech route.

#[cfg(feature = "d-id")]
pub mod did;
#[cfg(feature = "elevenlabs")]
pub mod elevenlabs;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "huggingface")]
pub mod huggingface;
#[cfg(feature = "local")]
pub mod local;
#[cfg(feature = "openai")]
pub mod openai;
#[cfg(feature = "replicate")]
pub mod replicate;
#[cfg(feature = "stability")]
pub mod stability;
