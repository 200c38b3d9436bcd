//! The [`Provider`] face of a local engine: checks the speech request, picks the voice and the
//! fixed arguments, runs the engine once, and turns its WAV into [`Media`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::provider::{CallContext, Capabilities, Provider, ProviderError, Submission};
use crate::request::{MediaKind, Request, SpeechRequest};
use crate::{Error, Media, Usage};

use super::config::{Engine, LocalConfig, is_valid_name};
use super::process::{self, Limits, RunError};
use super::wav;

/// Speaking rate of espeak-ng at speed 1.0, in words per minute (its own default).
const BASE_WPM: f32 = 175.0;
/// Speeds outside this range are clamped: the engines turn unintelligible beyond it.
const SPEED_RANGE: (f32, f32) = (0.25, 4.0);
/// The rates espeak-ng accepts, in words per minute.
const WPM_RANGE: (u32, u32) = (80, 450);
/// Estimated audio per character at speed 1.0: about 15 characters a second.
const MILLIS_PER_CHAR: u64 = 60;
/// Longest engine diagnostic put in an error message.
const DIAGNOSTIC_CHARS: usize = 200;

/// espeak-ng or festival, run as a subprocess per request: a keyless, free, offline
/// speech provider that always answers with a WAV (`audio/wav`).
///
/// ```no_run
/// use std::time::{Duration, Instant};
/// use ugc_core::provider::{CallContext, Provider, Submission};
/// use ugc_core::providers::local::LocalEngine;
/// use ugc_core::request::SpeechRequest;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let engine = LocalEngine::discover(ugc_core::clock::system())?;
/// let ctx = CallContext::new(Instant::now() + Duration::from_secs(30));
/// let Submission::Ready(media) = engine.submit(&SpeechRequest::new("Hello").into(), &ctx).await? else {
///     unreachable!("the local engine answers at once");
/// };
/// assert_eq!(media.mime, "audio/wav");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct LocalEngine {
    config: LocalConfig,
    /// `config.binary` with symlinks resolved, as checked at construction.
    binary: PathBuf,
    capabilities: Capabilities,
    clock: SharedClock,
}

impl LocalEngine {
    /// An engine from `config`, checked now: the binary must be an absolute path to an
    /// existing, regular, executable file (config error naming `local.binary`), the voices
    /// must match `^[a-z0-9][a-z0-9_+-]{0,31}$` and the limits be positive.
    pub fn new(config: LocalConfig, clock: SharedClock) -> Result<Self, Error> {
        let binary = config.check()?;
        Ok(Self {
            config,
            binary,
            capabilities: Capabilities::sync([MediaKind::Speech]),
            clock,
        })
    }

    /// espeak-ng found in a directory of `PATH` (absolute directories only, in order), with
    /// the defaults of [`LocalConfig::espeak_ng`]. A config error naming `local.binary` when
    /// there is none.
    pub fn discover(clock: SharedClock) -> Result<Self, Error> {
        let found = std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .filter(|dir| dir.is_absolute())
                .map(|dir| dir.join("espeak-ng"))
                .find(|candidate| LocalConfig::espeak_ng(candidate).check().is_ok())
        });
        match found {
            Some(binary) => Self::new(LocalConfig::espeak_ng(binary), clock),
            None => Err(Error::config(
                "local.binary: no executable espeak-ng in the absolute directories of PATH",
            )),
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &LocalConfig {
        &self.config
    }

    /// The binary that runs: the configured path with symlinks resolved.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The voice for `speech`: the router's mapped voice (`ctx_voice`), else the one the
    /// request names (a direct call), which must be allowed; else its language when that is
    /// an allowed voice; else the default voice.
    fn voice<'a>(
        &'a self,
        speech: &'a SpeechRequest,
        ctx_voice: Option<&'a str>,
    ) -> Result<&'a str, ProviderError> {
        let allowed = |v: &str| self.config.voices.iter().any(|a| a == v);
        if let Some(voice) = ctx_voice.or(speech.voice.as_deref()) {
            if allowed(voice) {
                return Ok(voice);
            }
            // Echo the name only when it is a plain identifier, never arbitrary input.
            let shown = if is_valid_name(voice) {
                format!("voice {voice:?}")
            } else {
                "the voice name".to_owned()
            };
            return Err(ProviderError::bad_request(format!(
                "{shown} is not offered by {}; allowed: {}",
                self.config.id,
                self.config.voices.join(", ")
            )));
        }
        let language = speech.language.as_deref().map(str::to_ascii_lowercase);
        Ok(match language {
            Some(lang) => self
                .config
                .voices
                .iter()
                .find(|v| **v == lang)
                .map_or(self.config.default_voice.as_str(), String::as_str),
            None => self.config.default_voice.as_str(),
        })
    }

    /// The fixed arguments of one run. The text is never among them: it goes on stdin.
    fn arguments(&self, voice: &str, speed: f32) -> Vec<String> {
        match self.config.engine {
            Engine::EspeakNg => {
                let wpm = ((BASE_WPM * speed).round() as u32).clamp(WPM_RANGE.0, WPM_RANGE.1);
                [
                    "--stdin",
                    "--stdout",
                    "-b",
                    "1",
                    "-v",
                    voice,
                    "-s",
                    &wpm.to_string(),
                ]
                .map(str::to_owned)
                .to_vec()
            }
            Engine::Festival => vec![
                "-otype".to_owned(),
                "riff".to_owned(),
                // The voice matched the strict name pattern: it cannot leave the symbol.
                "-eval".to_owned(),
                format!("(voice_{voice})"),
                // Relative to the voice's own stretch (kal_diphone sets 1.1).
                "-eval".to_owned(),
                format!(
                    "(Parameter.set 'Duration_Stretch (* (or (Parameter.get 'Duration_Stretch) 1.0) {:.3}))",
                    1.0 / speed
                ),
            ],
        }
    }

    /// Classifies a run that did not finish: a binary that cannot start is the operator's to
    /// fix (misconfigured); a timeout, a cap or an i/o error may pass on a retry (transient).
    fn failure(&self, error: RunError, budget: Duration) -> ProviderError {
        let name = self.config.engine.name();
        match error {
            RunError::Spawn(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                ) =>
            {
                ProviderError::misconfigured(format!(
                    "local engine ({name}) cannot be started: {e}"
                ))
            }
            RunError::Spawn(e) => {
                ProviderError::transient(format!("local engine ({name}) cannot be started: {e}"))
            }
            RunError::TimedOut => ProviderError::transient(format!(
                "local engine ({name}) timed out after {} ms and was killed",
                budget.as_millis()
            )),
            RunError::OutputTooLarge { cap } => ProviderError::transient(format!(
                "local engine ({name}) output larger than the cap of {cap} bytes; killed"
            )),
            RunError::Io(e) => {
                ProviderError::transient(format!("local engine ({name}) i/o failed: {e}"))
            }
        }
    }
}

/// The requested speed, clamped; a speed that is not a positive number is a bad request.
fn speed(speech: &SpeechRequest) -> Result<f32, ProviderError> {
    match speech.speed {
        None => Ok(1.0),
        Some(s) if s.is_finite() && s > 0.0 => Ok(s.clamp(SPEED_RANGE.0, SPEED_RANGE.1)),
        Some(_) => Err(ProviderError::bad_request(
            "speed must be a positive number",
        )),
    }
}

/// At most [`DIAGNOSTIC_CHARS`] of the engine's stderr on one line, with the input text (and
/// each of its lines) replaced by `[text]`: errors never carry user text.
fn diagnostic(stderr: &[u8], text: &str) -> String {
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut message = squash(&String::from_utf8_lossy(stderr));
    let whole = squash(text);
    let mut echoes: Vec<String> = text
        .lines()
        .map(squash)
        .filter(|l| l.chars().count() >= 4)
        .collect();
    echoes.push(whole.clone());
    // Longest first, so a line inside the whole text does not break its replacement.
    echoes.sort_by_key(|e| std::cmp::Reverse(e.len()));
    for echo in echoes.iter().filter(|e| !e.is_empty()) {
        message = message.replace(echo.as_str(), "[text]");
    }
    let mut shown: String = message.chars().take(DIAGNOSTIC_CHARS).collect();
    // A cut that ends inside an echo of the text leaves the text's beginning: drop it.
    if shown.len() < message.len() {
        if let Some(cut) = (1..=shown.len())
            .rev()
            .filter(|n| shown.is_char_boundary(shown.len() - n))
            .find(|n| *n >= 4 && whole.starts_with(&shown[shown.len() - n..]))
        {
            shown.truncate(shown.len() - cut);
        }
        shown.push('…');
    }
    if shown.is_empty() {
        "no diagnostics".to_owned()
    } else {
        shown
    }
}

#[async_trait]
impl Provider for LocalEngine {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn submit(
        &self,
        request: &Request,
        ctx: &CallContext,
    ) -> Result<Submission, ProviderError> {
        let Request::Speech(speech) = request else {
            return Err(ProviderError::bad_request(format!(
                "{} serves speech only, not {}",
                self.config.id,
                request.kind()
            )));
        };
        let chars = speech.text.chars().count();
        if chars > self.config.max_chars {
            return Err(ProviderError::bad_request(format!(
                "text has {chars} characters; {} takes at most {}",
                self.config.id, self.config.max_chars
            )));
        }
        if speech.text.trim().is_empty() {
            return Err(ProviderError::bad_request("text is empty"));
        }
        let voice = self.voice(speech, ctx.voice.as_deref())?;
        let speed = speed(speech)?;
        let args = self.arguments(voice, speed);

        let now = self.clock.now();
        let deadline = now
            .checked_add(self.config.timeout)
            .map_or(ctx.deadline, |own| own.min(ctx.deadline));
        let limits = Limits {
            cpu_seconds: self.config.cpu_seconds,
            memory_bytes: self.config.memory_bytes,
            max_output_bytes: self.config.max_output_bytes,
        };
        let finished = process::run(
            &self.binary,
            &args,
            speech.text.as_bytes(),
            limits,
            &*self.clock,
            deadline,
        )
        .await
        .map_err(|e| self.failure(e, deadline.saturating_duration_since(now)))?;

        let name = self.config.engine.name();
        if !finished.status.success() {
            return Err(ProviderError::transient(format!(
                "local engine ({name}) failed with {}: {}",
                finished.status,
                diagnostic(&finished.stderr, &speech.text)
            )));
        }
        let mut audio = finished.stdout;
        if self.config.engine == Engine::Festival {
            wav::strip_trailing_header(&mut audio);
        }
        let duration = wav::finalize(&mut audio).map_err(|e| {
            ProviderError::misconfigured(format!("local engine ({name}) wrote no usable WAV: {e}"))
        })?;
        // Always WAV, whatever format was asked for: conversion is not this provider's job.
        let billed = Usage {
            characters: chars as u64,
            audio_millis: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            cost_micros: 0,
            ..Usage::request()
        };
        Ok(Submission::Ready(
            Media::bytes(audio, "audio/wav")
                .with_duration(duration)
                .with_billed(billed),
        ))
    }

    fn estimate(&self, request: &Request, _model: Option<&str>) -> Usage {
        let chars = request.characters() as u64;
        let audio_millis = match request {
            Request::Speech(speech) => {
                let speed = speed(speech).unwrap_or(1.0);
                let millis = (chars * MILLIS_PER_CHAR) as f64 / f64::from(speed);
                millis.round() as u64
            }
            _ => 0,
        };
        Usage {
            characters: chars,
            audio_millis,
            cost_micros: 0,
            ..Usage::request()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_never_carry_the_input_text_and_stay_short() {
        let text = "my secret sentence\nsecond line here";
        let stderr = b"error near 'my secret sentence' and second line here\n".to_vec();
        let shown = diagnostic(&stderr, text);
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!shown.contains("second line"), "{shown}");
        assert!(shown.starts_with("error near"), "{shown}");

        // The capture ended inside an echo, so the whole text is not there to replace; the
        // 200-character cut leaves the text's beginning at the end, which is dropped.
        let long_text = "x".repeat(50) + " tail of the text";
        let stderr = format!("{} {}", "e".repeat(190), "x".repeat(30));
        let shown = diagnostic(stderr.as_bytes(), &long_text);
        assert_eq!(shown, format!("{} …", "e".repeat(190)));
    }

    #[test]
    fn empty_stderr_says_so() {
        assert_eq!(diagnostic(b"  \n", "hi"), "no diagnostics");
    }

    #[test]
    fn speed_maps_to_clamped_words_per_minute() {
        let Ok(engine) =
            LocalEngine::new(LocalConfig::espeak_ng("/bin/sh"), crate::clock::system())
        else {
            return;
        };
        let wpm = |speed: f32| {
            engine
                .arguments("en", speed)
                .last()
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(wpm(1.0), "175");
        assert_eq!(wpm(0.25), "80");
        assert_eq!(wpm(4.0), "450");
        assert_eq!(wpm(2.0), "350");
    }
}
