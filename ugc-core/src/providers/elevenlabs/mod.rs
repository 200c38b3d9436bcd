//! ElevenLabs text to speech: `POST /v1/text-to-speech/{voice_id}` with the `xi-api-key`
//! header, audio bytes back at once. The router calls [`ElevenLabs`] like any synchronous
//! speech provider; the adapter settles the real cost from the `character-cost` header and
//! classifies every documented failure, telling concurrency limits apart from rate limits.
//!
//! - Models `eleven_multilingual_v2` (default), `eleven_v3`, flash and turbo; the voice id
//!   from the router (the endpoint's voice map) or the premade "Rachel" voice.
//! - Text over the model's documented limit (v3 5,000; multilingual v2 10,000; flash and
//!   turbo v2.5 40,000 characters) is a bad request before anything is sent.
//! - MP3 is asked as `mp3_44100_128`; PCM as `pcm_16000`, and WAV as the same PCM with a
//!   WAV header added; Opus, AAC and FLAC are served as MP3.
//!
//! See `docs/providers/elevenlabs.md` for the error mapping.

mod adapter;
mod config;
mod errors;
mod speech;

pub use adapter::ElevenLabs;
pub use config::{
    DEFAULT_BASE_URL, DEFAULT_MODEL, DEFAULT_VOICE, ElevenLabsConfig, default_prices,
    max_characters,
};
