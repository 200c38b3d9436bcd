//! Test doubles for users' own tests and ours (feature `testkit`).
//!
//! [`ScriptedProvider`] is a provider whose calls follow a script of [`Step`]s: succeed after a
//! latency, fail with a class, answer 429 with a Retry-After, hang, or accept a job that stays
//! pending for N polls and then succeeds or fails. With a
//! [`ManualClock`](crate::clock::ManualClock) its latencies pass in virtual time.

mod payload;
mod scripted;

pub use payload::{mp4_header, silent_wav};
pub use scripted::{Call, JobEnd, Op, ScriptedProvider, Step};
