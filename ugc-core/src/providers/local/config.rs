//! Settings of a local engine and their checks, made once when the engine is built.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Error;

/// Which speech engine the binary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Engine {
    /// eSpeak NG (`espeak-ng`), formant synthesis in many languages.
    EspeakNg,
    /// The Festival Speech Synthesis System, through its `text2wave` script.
    Festival,
}

impl Engine {
    /// The provider id an engine has unless configured otherwise.
    pub const fn default_id(self) -> &'static str {
        match self {
            Engine::EspeakNg => "espeak",
            Engine::Festival => "festival",
        }
    }

    /// The engine's own name, as error messages show it.
    pub const fn name(self) -> &'static str {
        match self {
            Engine::EspeakNg => "espeak-ng",
            Engine::Festival => "festival",
        }
    }
}

/// Configuration of a [`LocalEngine`](super::LocalEngine).
///
/// Start from [`LocalConfig::espeak_ng`] or [`LocalConfig::festival`] and change fields;
/// everything is checked by [`LocalEngine::new`](super::LocalEngine::new).
///
/// ```
/// use std::time::Duration;
/// use ugc_core::providers::local::LocalConfig;
///
/// let mut config = LocalConfig::espeak_ng("/usr/bin/espeak-ng");
/// config.timeout = Duration::from_secs(5);
/// assert_eq!(config.id, "espeak");
/// assert_eq!(config.default_voice, "en-us");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LocalConfig {
    /// Which engine `binary` is.
    pub engine: Engine,
    /// Provider id (`espeak`, `festival` by default): keys routing state and appears in trails.
    pub id: String,
    /// Absolute path of the engine binary (`espeak-ng`, or festival's `text2wave`).
    pub binary: PathBuf,
    /// The voices a request may ask for; anything else is a bad request.
    pub voices: Vec<String>,
    /// The voice used when a request names none; must be in `voices`.
    pub default_voice: String,
    /// Wall-clock limit of one run (the call's deadline may cut it shorter). Default 20 s.
    pub timeout: Duration,
    /// Largest output accepted; the engine is killed as soon as it writes more. Default 16 MiB.
    pub max_output_bytes: u64,
    /// CPU time limit of one run (`RLIMIT_CPU`, Linux only). Default 20 s.
    pub cpu_seconds: u64,
    /// Address-space limit of one run (`RLIMIT_AS`, Linux only). Default 512 MiB.
    pub memory_bytes: u64,
    /// Longest text accepted, in characters. Default 5000.
    pub max_chars: usize,
}

/// The voices of espeak-ng offered by default: common languages, all shipped with espeak-ng.
const ESPEAK_VOICES: [&str; 8] = ["en", "en-us", "en-gb", "de", "fr", "es", "it", "pt"];

/// Smallest address-space limit accepted: below it no engine even loads its libraries.
const MIN_MEMORY_BYTES: u64 = 16 << 20;

/// A WAV header is 44 bytes; a cap below it could never pass.
const MIN_OUTPUT_BYTES: u64 = 44;

impl LocalConfig {
    fn with_defaults(engine: Engine, binary: PathBuf, voices: Vec<String>, default: &str) -> Self {
        Self {
            engine,
            id: engine.default_id().to_owned(),
            binary,
            voices,
            default_voice: default.to_owned(),
            timeout: Duration::from_secs(20),
            max_output_bytes: 16 << 20,
            cpu_seconds: 20,
            memory_bytes: 512 << 20,
            max_chars: 5000,
        }
    }

    /// espeak-ng at `binary`, with voices `en en-us en-gb de fr es it pt` (default `en-us`).
    pub fn espeak_ng(binary: impl Into<PathBuf>) -> Self {
        let voices = ESPEAK_VOICES.iter().map(|v| (*v).to_owned()).collect();
        Self::with_defaults(Engine::EspeakNg, binary.into(), voices, "en-us")
    }

    /// festival's `text2wave` at `binary`, with its default voice `kal_diphone` only.
    pub fn festival(binary: impl Into<PathBuf>) -> Self {
        let voices = vec!["kal_diphone".to_owned()];
        Self::with_defaults(Engine::Festival, binary.into(), voices, "kal_diphone")
    }

    /// Checks every field and returns the binary with symlinks resolved: the file that was
    /// checked is the one that runs.
    pub(super) fn check(&self) -> Result<PathBuf, Error> {
        if !is_valid_name(&self.id) {
            return Err(Error::config(
                "local.id must match ^[a-z0-9][a-z0-9_+-]{0,31}$",
            ));
        }
        if self.voices.is_empty() {
            return Err(Error::config("local.voices must list at least one voice"));
        }
        if let Some(bad) = self.voices.iter().find(|v| !is_valid_name(v)) {
            // The name is operator configuration, but it failed the pattern: show it escaped.
            return Err(Error::config(format!(
                "local.voices: {bad:?} does not match ^[a-z0-9][a-z0-9_+-]{{0,31}}$"
            )));
        }
        if !self.voices.contains(&self.default_voice) {
            return Err(Error::config(
                "local.default_voice must be one of local.voices",
            ));
        }
        let positive = [
            ("local.timeout", !self.timeout.is_zero()),
            ("local.cpu_seconds", self.cpu_seconds > 0),
            ("local.max_chars", self.max_chars > 0),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, ok)| !ok) {
            return Err(Error::config(format!("{field} must be greater than zero")));
        }
        if self.max_output_bytes < MIN_OUTPUT_BYTES {
            return Err(Error::config(format!(
                "local.max_output_bytes must be at least {MIN_OUTPUT_BYTES} (a WAV header)"
            )));
        }
        if self.memory_bytes < MIN_MEMORY_BYTES {
            return Err(Error::config(format!(
                "local.memory_bytes must be at least {MIN_MEMORY_BYTES}"
            )));
        }
        check_binary(&self.binary)
    }
}

/// The binary must be absolute (no lookup in a `PATH` an attacker may control), and resolve
/// to an existing, regular, executable file.
fn check_binary(binary: &Path) -> Result<PathBuf, Error> {
    let shown = binary.display();
    if !binary.is_absolute() {
        return Err(Error::config(format!(
            "local.binary must be an absolute path, not {shown}"
        )));
    }
    let resolved = std::fs::canonicalize(binary).map_err(|e| {
        Error::config(format!("local.binary {shown} cannot be resolved")).with_source(e)
    })?;
    let meta = std::fs::metadata(&resolved).map_err(|e| {
        Error::config(format!("local.binary {shown} cannot be read")).with_source(e)
    })?;
    if !meta.is_file() {
        return Err(Error::config(format!(
            "local.binary {shown} is not a regular file"
        )));
    }
    if !is_executable(&meta) {
        return Err(Error::config(format!(
            "local.binary {shown} is not executable"
        )));
    }
    Ok(resolved)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    // Elsewhere there is no execute bit; spawning reports what the file system refuses.
    true
}

/// Whether `name` matches `^[a-z0-9][a-z0-9_+-]{0,31}$`: voice names and ids become
/// arguments (and, for festival, part of a Scheme expression), so nothing else gets through.
pub(super) fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let inner = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_+-".contains(b);
    match bytes.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_lowercase() || first.is_ascii_digit())
                && rest.len() <= 31
                && rest.iter().all(inner)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_strict_pattern() {
        for good in [
            "en",
            "en-us",
            "kal_diphone",
            "a",
            "mb-en1",
            "en+f3",
            &"a".repeat(32),
        ] {
            assert!(is_valid_name(good), "{good}");
        }
        let long = "a".repeat(33);
        for bad in [
            "",
            "-en",
            "_en",
            "En",
            "en us",
            "en;ls",
            "../../etc/passwd",
            "en/us",
            "é",
            long.as_str(),
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_default_voice_outside_the_allowlist_is_a_config_error() {
        let mut config = LocalConfig::espeak_ng("/bin/sh");
        config.default_voice = "xx".into();
        let err = config
            .check()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("local.default_voice"), "{err}");
    }

    #[test]
    fn zero_limits_are_config_errors_naming_the_field() {
        let mut config = LocalConfig::espeak_ng("/bin/sh");
        config.timeout = Duration::ZERO;
        let err = config
            .check()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("local.timeout"), "{err}");
    }
}
