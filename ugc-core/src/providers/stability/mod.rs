//! Stability AI: image to video (Stable Video Diffusion) as an async job, with text to video
//! made of a generated still (Stable Image core, ultra or sd3) animated by image to video.
//! The router submits a [`VideoRequest`](crate::request::VideoRequest), gets a job back and
//! polls it no faster than every 10 s, as Stability asks.
//!
//! The adapter is generic over Stability's async-result pattern (a submit answering
//! `{"id"}`, a result URL answering 202 while running and the media when done): hosted
//! image to video being still offered is unconfirmed (see `docs/providers/stability.md`).

mod adapter;
mod config;
mod errors;
mod form;
mod image;
mod video;

pub use adapter::Stability;
pub use config::{DEFAULT_BASE_URL, STILL_MODELS, StabilityConfig, VIDEO_MODEL, default_prices};
pub use image::{ASPECT_RATIOS, ImageOptions, nearest_aspect_ratio};
