//! Test doubles for users' own tests and ours (feature `testkit`).
//!
//! [`ScriptedProvider`] is a provider whose calls follow a script of [`Step`]s: succeed after a
//! latency, fail with a class, answer 429 with a Retry-After, hang, or accept a job that stays
//! pending for N polls and then succeeds or fails. With a
//! [`ManualClock`](crate::clock::ManualClock) its latencies pass in virtual time.

#[cfg(feature = "http")]
pub mod emulator;
mod payload;
mod scripted;

pub use payload::{mp3_frame, mp4_boxes, png_1x1, silent_wav};
pub use scripted::{Call, JobEnd, Op, ScriptedProvider, Step};
