//! OpenAI text to speech: `POST /v1/audio/speech` with a bearer key, audio bytes back at once.
//! The router calls [`OpenAi`] like any synchronous speech provider; the adapter classifies
//! every documented failure and, reading `x-ratelimit-*` on every answer, refuses a call it
//! knows would be a 429 so that the router cools the endpoint down before one comes.
//!
//! - Models `tts-1` (default), `tts-1-hd`, `gpt-4o-mini-tts`; voice from the router (the
//!   endpoint's voice map) or `alloy`; every [`AudioFormat`](crate::request::AudioFormat) as
//!   `response_format`, with the answer's content type checked against it.
//! - `speed` is clamped to 0.25..=4.0; `instructions` go only to models that take them;
//!   input over 4,096 characters is a bad request before anything is sent.
//! - When an answer says `x-ratelimit-remaining-requests: 0`, the next submit with the same
//!   credential fails at once as rate limited with `x-ratelimit-reset-requests` as its wait.
//!
//! See `docs/providers/openai.md` for the error mapping.

mod adapter;
mod config;
mod errors;
mod ratelimit;
mod speech;

pub use adapter::OpenAi;
pub use config::{
    DEFAULT_BASE_URL, DEFAULT_MODEL, DEFAULT_VOICE, MAX_INPUT_CHARS, OpenAiConfig, default_prices,
};
