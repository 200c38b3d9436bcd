//! D-ID talks: a talking head made from a face image and a text or audio script, as an
//! async job. The router submits an [`AvatarRequest`](crate::request::AvatarRequest), gets
//! the talk id back, polls `GET /talks/{id}` until it is done, and the adapter downloads the
//! MP4 from the pre-signed `result_url` under the download cap.
//!
//! Image and audio bytes are uploaded first (`POST /images`, `POST /audios`) because talks
//! take URLs only. How the key goes into `Authorization: Basic` is unconfirmed: a key of the
//! `user:password` form is base64-encoded, any other is sent as given (see [`basic_auth`]).

mod adapter;
mod auth;
mod config;
mod errors;
mod script;
mod upload;

pub use adapter::Did;
pub use auth::basic_auth;
pub use config::{
    DEFAULT_BASE_URL, DEFAULT_MODEL, DEFAULT_VOICE, DidConfig, MAX_IMAGE_BYTES, MAX_VIDEO,
    default_prices,
};
