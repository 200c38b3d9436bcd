//! The local engine: espeak-ng or festival run as a subprocess, the free, offline provider
//! that ends every default speech route. The router sends it a speech request like any other
//! provider; it answers at once with a WAV, and needs no key.
//!
//! How a call runs, and why:
//!
//! - The engine binary is run directly, never through a shell, from an absolute path checked
//!   when the engine is built (it must exist, be a regular file after resolving symlinks, and
//!   be executable). The arguments are fixed; the **text goes on stdin, never in argv**, so no
//!   text can become an option or a command.
//! - The voice comes from an allowlist of names matching `^[a-z0-9][a-z0-9_+-]{0,31}$`; any
//!   other voice is a bad request. When the request names no voice, its language picks one
//!   from the allowlist if it is listed there, else the configured default voice is used.
//! - The child gets an empty environment (only `PATH=/usr/bin:/bin` and `LANG=C.UTF-8`),
//!   runs in `/`, and on Linux has `RLIMIT_CPU`, `RLIMIT_AS` set and core dumps off before it
//!   starts. It is killed at the earlier of its own timeout and the call's deadline, as soon as
//!   its output passes the size cap, and when the call is dropped.
//! - The output is checked to be a RIFF/WAVE file; its duration comes from the header. Sizes
//!   left unknown by an engine streaming to a pipe are fixed from the bytes received, so the
//!   result is a well-formed file.
//! - The local engine always produces WAV (`audio/wav`), whatever [`AudioFormat`] the request
//!   asks for: format conversion is not its job, and the request is still served.
//! - Failures: wrong kind, unknown voice, text over the limit → bad request; timeout, output
//!   over the cap, non-zero exit → transient (the message has the exit status and at most 200
//!   characters of the engine's stderr, with the input text cut out); a binary that cannot be
//!   started or writes no WAV → misconfigured.
//! - Keyless: [`Provider::validate_credentials`] keeps its default, which accepts any
//!   credential, and cost is always zero.
//!
//! espeak-ng is run as `espeak-ng --stdin --stdout -b 1 -v <voice> -s <wpm>` (175 words per
//! minute at speed 1.0; speed is clamped to 0.25..=4.0 and the rate to 80..=450).
//!
//! festival is run through its `text2wave` script, configured as the binary:
//! `text2wave -otype riff -eval (voice_<voice>) -eval <duration stretch>`, which reads the
//! text from stdin and writes RIFF to stdout (its documented defaults). Because text2wave
//! rewrites the header at the end of its output and a pipe cannot seek, it appends a second
//! header to a piped WAV; the engine strips it. This was checked against festival 2.5 with
//! the `kal_diphone` voice (Debian's `festival` and `festvox-kallpc16k` packages), which the
//! test command installs beside espeak-ng, so both engines are always tested.
//!
//! ```no_run
//! use ugc_core::providers::local::{LocalConfig, LocalEngine};
//!
//! let engine = LocalEngine::new(LocalConfig::espeak_ng("/usr/bin/espeak-ng"), ugc_core::clock::system())?;
//! # Ok::<(), ugc_core::Error>(())
//! ```
//!
//! [`AudioFormat`]: crate::request::AudioFormat
//! [`Provider::validate_credentials`]: crate::Provider::validate_credentials

mod config;
mod engine;
mod process;
mod wav;

pub use config::{Engine, LocalConfig};
pub use engine::LocalEngine;
