//! Loopback emulators of the providers' HTTP APIs, for contract tests and demos.
//!
//! Each enabled provider has a module here whose `start()` serves that provider's documented
//! requests and answers on 127.0.0.1 with real media. Faults are queued with
//! [`Emulator::push_fault`] and apply to the next requests, one each, so a test scripts
//! "429, then 503, then success" and asserts what the adapter and the router made of it.
//! Every request is recorded ([`Emulator::requests`]).

#[cfg(feature = "d-id")]
pub mod did;
#[cfg(feature = "elevenlabs")]
pub mod elevenlabs;
mod fault;
#[cfg(feature = "huggingface")]
pub mod huggingface;
#[cfg(any(feature = "stability", feature = "d-id"))]
mod multipart;
#[cfg(feature = "openai")]
pub mod openai;
#[cfg(feature = "replicate")]
pub mod replicate;
mod server;
#[cfg(feature = "stability")]
pub mod stability;

pub use fault::{
    Fault, json, json_with_retry_after, malformed_json, media, oversized, slow_body,
    wrong_content_type,
};
pub use server::{Control, Emulator, Recorded};
