//! The local engine against the real espeak-ng (a required test dependency: a missing
//! espeak-ng fails these tests, with or without `CI`), plus small shell scripts standing in
//! for engines that hang, fail or misbehave. festival is tested only where it is installed.
//!
//! Subprocesses run in real time, so the timeout tests use real (short, bounded) time; no test
//! sleeps to wait for anything.
#![cfg(feature = "local")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ugc_core::provider::{CallContext, ErrorClass, Provider, ProviderError, Submission};
use ugc_core::providers::local::{LocalConfig, LocalEngine};
use ugc_core::request::{AudioFormat, SpeechRequest, VideoRequest};
use ugc_core::{ErrorKind, Media, MediaBody, Request};

const SENTENCE: &str = "The quick brown fox jumps over the lazy dog.";

/// The espeak-ng binary, or a failed test saying how to install it.
fn espeak_binary() -> PathBuf {
    match LocalEngine::discover(ugc_core::clock::system()) {
        Ok(engine) => engine.binary().to_path_buf(),
        Err(e) => panic!(
            "espeak-ng is a required test dependency (apt-get install espeak-ng): {e}; CI={:?}",
            std::env::var_os("CI")
        ),
    }
}

fn espeak() -> LocalEngine {
    engine(LocalConfig::espeak_ng(espeak_binary()))
}

fn engine(config: LocalConfig) -> LocalEngine {
    LocalEngine::new(config, ugc_core::clock::system()).expect("valid config")
}

fn ctx(within: Duration) -> CallContext {
    CallContext::new(Instant::now() + within)
}

async fn speak(engine: &LocalEngine, request: impl Into<Request>) -> Result<Media, ProviderError> {
    match engine
        .submit(&request.into(), &ctx(Duration::from_secs(30)))
        .await?
    {
        Submission::Ready(media) => Ok(media),
        Submission::Pending(job) => panic!("the local engine never runs jobs: {job:?}"),
    }
}

fn bytes(media: &Media) -> &[u8] {
    match &media.body {
        MediaBody::Bytes(b) => b,
        MediaBody::Url(_) => panic!("the local engine returns bytes"),
    }
}

/// Checks the RIFF header against the length and returns the declared data size.
fn assert_valid_wav(media: &Media) -> u32 {
    let wav = bytes(media);
    assert_eq!(media.mime, "audio/wav");
    assert!(wav.len() > 44, "only {} bytes", wav.len());
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    let u32_at = |at: usize| u32::from_le_bytes(wav[at..at + 4].try_into().unwrap());
    assert_eq!(
        u32_at(4) as usize,
        wav.len() - 8,
        "RIFF size matches the file"
    );
    let data = wav
        .windows(4)
        .position(|w| w == b"data")
        .expect("a data chunk");
    assert_eq!(
        u32_at(data + 4) as usize,
        wav.len() - data - 8,
        "data size matches"
    );
    u32_at(data + 4)
}

/// A private directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ugc-local-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// An executable `/bin/sh` script named `name` with `body`.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.0.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Submits, retrying while exec reports "text file busy": another test thread may be forking
/// while this one has just written its script, and the fork briefly holds the file open.
async fn submit_script(
    engine: &LocalEngine,
    request: &Request,
    ctx: &CallContext,
) -> Result<Submission, ProviderError> {
    for _ in 0..5 {
        match engine.submit(request, ctx).await {
            Err(e) if e.message().contains("busy") => continue,
            other => return other,
        }
    }
    engine.submit(request, ctx).await
}

/// Whether process `pid` still exists (a reaped process has no `/proc` entry).
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn read_pid(file: &Path) -> u32 {
    let text = std::fs::read_to_string(file).expect("the script recorded its pid");
    text.trim().parse().unwrap()
}

#[tokio::test]
async fn speaks_text_into_a_valid_wav_with_a_plausible_duration() {
    let engine = espeak();
    let media = speak(&engine, SpeechRequest::new(SENTENCE)).await.unwrap();
    let data = assert_valid_wav(&media);
    let duration = media.duration.expect("duration from the header");
    assert!(duration > Duration::from_millis(300), "{duration:?}");
    assert!(duration < Duration::from_secs(10), "{duration:?}");
    // espeak-ng writes 16-bit mono at 22050 Hz.
    let expected = Duration::from_nanos(u64::from(data) * 1_000_000_000 / 44_100);
    assert_eq!(duration, expected);
    let billed = media.billed.expect("actual usage");
    assert_eq!(billed.characters, SENTENCE.chars().count() as u64);
    assert_eq!(billed.cost_micros, 0);
    assert_eq!(engine.id(), "espeak");
}

#[tokio::test]
async fn always_answers_wav_whatever_format_is_asked() {
    let media = speak(
        &espeak(),
        SpeechRequest::new("Hello.").format(AudioFormat::Mp3),
    )
    .await
    .unwrap();
    assert_valid_wav(&media);
}

#[tokio::test]
async fn a_faster_speed_gives_shorter_audio() {
    let engine = espeak();
    let normal = speak(&engine, SpeechRequest::new(SENTENCE)).await.unwrap();
    let fast = speak(&engine, SpeechRequest::new(SENTENCE).speed(2.0))
        .await
        .unwrap();
    assert!(fast.duration.unwrap() < normal.duration.unwrap());
}

#[tokio::test]
async fn shell_syntax_in_the_text_is_spoken_never_executed() {
    let engine = espeak();
    let marker = |tag: &str| PathBuf::from(format!("/tmp/ugc-pwned-{}-{tag}", std::process::id()));
    let texts = [
        "\"; rm -rf / #".to_owned(),
        format!("$(touch {})", marker("dollar").display()),
        format!("`touch {}`", marker("backtick").display()),
        format!("'; touch {} ; echo '", marker("quote").display()),
        format!("-w {} --help", marker("option").display()),
    ];
    for text in &texts {
        let media = speak(&engine, SpeechRequest::new(text.as_str()))
            .await
            .unwrap();
        assert_valid_wav(&media);
    }
    for tag in ["dollar", "backtick", "quote", "option"] {
        assert!(!marker(tag).exists(), "{tag} was executed");
    }
}

#[tokio::test]
async fn the_text_goes_on_stdin_never_in_argv() {
    let scratch = Scratch::new("argv");
    let wav = scratch.path("out.wav");
    std::fs::write(&wav, ugc_core::testkit::silent_wav(100)).unwrap();
    let script = scratch.script(
        "fake-espeak",
        &format!(
            "printf '%s\\n' \"$@\" > \"$0.args\"\ncat > \"$0.stdin\"\ncat {}",
            wav.display()
        ),
    );
    let engine = engine(LocalConfig::espeak_ng(&script));
    let text = "secret words -v de $(id)";
    let request = SpeechRequest::new(text).voice("en-gb").speed(0.5).into();
    let out = submit_script(&engine, &request, &ctx(Duration::from_secs(10)))
        .await
        .unwrap();
    let Submission::Ready(media) = out else {
        panic!("ready")
    };
    assert_eq!(media.duration, Some(Duration::from_millis(100)));
    let args = std::fs::read_to_string(scratch.path("fake-espeak.args")).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        ["--stdin", "--stdout", "-b", "1", "-v", "en-gb", "-s", "88"]
    );
    assert_eq!(
        std::fs::read_to_string(scratch.path("fake-espeak.stdin")).unwrap(),
        text
    );
}

#[tokio::test]
async fn the_engine_runs_with_an_empty_environment() {
    let scratch = Scratch::new("env");
    let wav = scratch.path("out.wav");
    std::fs::write(&wav, ugc_core::testkit::silent_wav(50)).unwrap();
    let script = scratch.script(
        "env-espeak",
        &format!("env > \"$0.env\"\npwd >> \"$0.env\"\ncat {}", wav.display()),
    );
    let engine = engine(LocalConfig::espeak_ng(&script));
    let request = SpeechRequest::new("hi").into();
    submit_script(&engine, &request, &ctx(Duration::from_secs(10)))
        .await
        .unwrap();
    let env = std::fs::read_to_string(scratch.path("env-espeak.env")).unwrap();
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    // sh itself adds PWD (and may add SHLVL); nothing of the caller's environment arrives.
    for name in &names {
        assert!(
            ["PATH", "LANG", "PWD", "SHLVL", "_", "OLDPWD"].contains(name),
            "unexpected variable {name}"
        );
    }
    assert!(env.contains("PATH=/usr/bin:/bin"));
    assert!(env.contains("LANG=C.UTF-8"));
    assert_eq!(env.lines().last(), Some("/"));
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_engine_runs_under_cpu_memory_and_core_limits() {
    let scratch = Scratch::new("limits");
    let wav = scratch.path("out.wav");
    std::fs::write(&wav, ugc_core::testkit::silent_wav(50)).unwrap();
    let script = scratch.script(
        "limits-espeak",
        &format!(
            "{{ ulimit -t; ulimit -v; ulimit -c; }} > \"$0.limits\"\ncat {}",
            wav.display()
        ),
    );
    let mut config = LocalConfig::espeak_ng(&script);
    config.cpu_seconds = 7;
    config.memory_bytes = 300 << 20;
    let engine = engine(config);
    let request = SpeechRequest::new("hi").into();
    submit_script(&engine, &request, &ctx(Duration::from_secs(10)))
        .await
        .unwrap();
    let limits = std::fs::read_to_string(scratch.path("limits-espeak.limits")).unwrap();
    // ulimit -v reports KiB.
    assert_eq!(
        limits.lines().collect::<Vec<_>>(),
        ["7", &(300 * 1024).to_string(), "0"]
    );
}

#[tokio::test]
async fn a_voice_outside_the_allowlist_is_a_bad_request() {
    let engine = espeak();
    for voice in [
        "zh",
        "en-US",
        "../../etc/passwd",
        "en;ls",
        "en us",
        "-w/tmp/x",
        "",
    ] {
        let err = speak(&engine, SpeechRequest::new("Hello.").voice(voice))
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::BadRequest, "{voice}: {err}");
        if !voice.is_empty() && voice != "zh" {
            assert!(!err.message().contains(voice), "echoed {voice}: {err}");
        }
    }
}

#[tokio::test]
async fn an_allowed_voice_and_a_listed_language_are_used() {
    let engine = espeak();
    for request in [
        SpeechRequest::new("Bonjour.").voice("fr"),
        SpeechRequest::new("Guten Tag.").language("de"),
        SpeechRequest::new("Hello.").language("tlh"),
    ] {
        assert_valid_wav(&speak(&engine, request).await.unwrap());
    }
}

#[tokio::test]
async fn voices_in_the_config_must_match_the_strict_pattern() {
    for voice in ["../../etc/passwd", "en;ls", "EN", "-v"] {
        let mut config = LocalConfig::espeak_ng(espeak_binary());
        config.voices.push(voice.to_owned());
        let err = LocalEngine::new(config, ugc_core::clock::system()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("local.voices"), "{err}");
    }
}

#[tokio::test]
async fn bad_binaries_are_configuration_errors_naming_local_binary() {
    let scratch = Scratch::new("binaries");
    let not_executable = scratch.path("plain");
    std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    for binary in [
        PathBuf::from("espeak-ng"),
        PathBuf::from("bin/espeak-ng"),
        scratch.path("missing"),
        scratch.0.clone(),
        PathBuf::from("/"),
        not_executable,
    ] {
        let err = LocalEngine::new(LocalConfig::espeak_ng(&binary), ugc_core::clock::system())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{}", binary.display());
        assert!(err.message().contains("local.binary"), "{err}");
    }
}

#[tokio::test]
async fn a_symlink_to_the_binary_is_resolved() {
    let scratch = Scratch::new("symlink");
    let link = scratch.path("espeak-link");
    std::os::unix::fs::symlink(espeak_binary(), &link).unwrap();
    let engine = engine(LocalConfig::espeak_ng(&link));
    assert_eq!(engine.binary(), espeak_binary());
}

#[tokio::test]
async fn a_hanging_engine_is_killed_at_the_timeout() {
    let scratch = Scratch::new("hang");
    let script = scratch.script("hang", "echo $$ > \"$0.pid\"\nexec sleep 30");
    let mut config = LocalConfig::espeak_ng(&script);
    config.timeout = Duration::from_millis(300);
    let engine = engine(config);
    let started = Instant::now();
    let request = SpeechRequest::new("Hello.").into();
    let err = submit_script(&engine, &request, &ctx(Duration::from_secs(30)))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.class(), ErrorClass::Transient, "{err}");
    assert!(err.message().contains("timed out after 300 ms"), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let pid = read_pid(&scratch.path("hang.pid"));
    assert!(!alive(pid), "engine {pid} survived its timeout");
}

#[tokio::test]
async fn the_call_deadline_bounds_the_run() {
    let scratch = Scratch::new("deadline");
    let script = scratch.script("hang", "echo $$ > \"$0.pid\"\nexec sleep 30");
    let engine = engine(LocalConfig::espeak_ng(&script)); // own timeout: 20 s
    let started = Instant::now();
    let request = SpeechRequest::new("Hello.").into();
    let err = submit_script(&engine, &request, &ctx(Duration::from_millis(400)))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.class(), ErrorClass::Transient, "{err}");
    assert!(err.message().contains("timed out"), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let pid = read_pid(&scratch.path("hang.pid"));
    assert!(!alive(pid), "engine {pid} survived the deadline");
}

#[tokio::test]
async fn a_deadline_already_passed_starts_nothing() {
    let engine = espeak();
    let past = CallContext::new(Instant::now());
    let err = engine
        .submit(&SpeechRequest::new("Hello.").into(), &past)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient, "{err}");
}

#[tokio::test]
async fn output_over_the_cap_is_aborted() {
    let mut config = LocalConfig::espeak_ng(espeak_binary());
    config.max_output_bytes = 1000;
    let engine = engine(config);
    let err = speak(&engine, SpeechRequest::new(SENTENCE.repeat(20)))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient, "{err}");
    assert!(err.message().contains("larger than the cap"), "{err}");
}

#[tokio::test]
async fn a_failing_engine_is_transient_and_its_stderr_never_echoes_the_text() {
    let scratch = Scratch::new("fail");
    let script = scratch.script("fail", "echo 'cannot speak:' >&2\ncat >&2\nexit 3");
    let engine = engine(LocalConfig::espeak_ng(&script));
    let text = "my private sentence ".repeat(30);
    let request = SpeechRequest::new(text.as_str()).into();
    let err = submit_script(&engine, &request, &ctx(Duration::from_secs(10)))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient, "{err}");
    assert!(err.message().contains("exit status: 3"), "{err}");
    assert!(err.message().contains("cannot speak:"), "{err}");
    assert!(!err.message().contains("private"), "{err}");
}

#[tokio::test]
async fn output_that_is_not_wav_is_refused() {
    let scratch = Scratch::new("notwav");
    let script = scratch.script("notwav", "cat > /dev/null\necho 'hello, not audio'");
    let engine = engine(LocalConfig::espeak_ng(&script));
    let request = SpeechRequest::new("Hello.").into();
    let err = submit_script(&engine, &request, &ctx(Duration::from_secs(10)))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Misconfigured, "{err}");
    assert!(err.message().contains("RIFF/WAVE"), "{err}");
}

#[tokio::test]
async fn text_longer_than_max_chars_is_a_bad_request() {
    let mut config = LocalConfig::espeak_ng(espeak_binary());
    config.max_chars = 10;
    let engine = engine(config);
    // Ten characters of four bytes each: the limit counts characters, not bytes.
    assert_valid_wav(
        &speak(&engine, SpeechRequest::new("ééééé ééé."))
            .await
            .unwrap(),
    );
    let err = speak(&engine, SpeechRequest::new("eleven chars"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::BadRequest, "{err}");
    assert!(!err.message().contains("eleven"), "{err}");
}

#[tokio::test]
async fn empty_text_and_a_bad_speed_are_bad_requests() {
    let engine = espeak();
    for request in [
        SpeechRequest::new("  \n"),
        SpeechRequest::new("Hello.").speed(f32::NAN),
        SpeechRequest::new("Hello.").speed(-1.0),
    ] {
        let err = speak(&engine, request).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::BadRequest, "{err}");
    }
}

#[tokio::test]
async fn a_video_request_is_a_bad_request() {
    let engine = espeak();
    let err = speak(&engine, VideoRequest::new("a cat"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::BadRequest, "{err}");
    assert!(
        !engine
            .capabilities()
            .supports(ugc_core::request::MediaKind::Video)
    );
}

#[tokio::test]
async fn the_estimate_counts_characters_and_about_sixty_ms_each_at_no_cost() {
    let engine = espeak();
    let usage = engine.estimate(&SpeechRequest::new("x".repeat(100)).into(), None);
    assert_eq!(
        (
            usage.requests,
            usage.characters,
            usage.audio_millis,
            usage.cost_micros
        ),
        (1, 100, 6000, 0)
    );
    let fast = engine.estimate(&SpeechRequest::new("x".repeat(100)).speed(2.0).into(), None);
    assert_eq!(fast.audio_millis, 3000);
}

#[tokio::test]
async fn it_is_keyless() {
    let engine = espeak();
    let any = ugc_core::Credential::new("user", "anything");
    assert!(engine.validate_credentials(&any).await.is_ok());
}

#[tokio::test]
async fn discover_finds_espeak_ng() {
    let engine = LocalEngine::discover(ugc_core::clock::system()).expect("espeak-ng in PATH");
    assert!(engine.binary().is_absolute());
    assert_eq!(engine.id(), "espeak");
    assert_valid_wav(&speak(&engine, SpeechRequest::new("Found.")).await.unwrap());
}

/// festival's text2wave: a required test dependency, like espeak-ng (scripts/test-all
/// installs both), so the festival engine is always tested.
fn text2wave() -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("text2wave"))
        .find(|p| p.is_absolute() && p.is_file())
        .expect("festival's text2wave is not installed: apt-get install festival festvox-kallpc16k")
}

#[tokio::test]
async fn festival_speaks_through_text2wave() {
    let binary = text2wave();
    let engine = engine(LocalConfig::festival(binary));
    assert_eq!(engine.id(), "festival");
    let media = speak(&engine, SpeechRequest::new(SENTENCE)).await.unwrap();
    assert_valid_wav(&media);
    let normal = media.duration.unwrap();
    assert!(normal > Duration::from_millis(300), "{normal:?}");
    let fast = speak(&engine, SpeechRequest::new(SENTENCE).speed(2.0))
        .await
        .unwrap();
    assert!(fast.duration.unwrap() < normal);
    let marker = PathBuf::from(format!("/tmp/ugc-pwned-{}-festival", std::process::id()));
    let text = format!(
        "(system \"touch {}\") $(touch {})",
        marker.display(),
        marker.display()
    );
    assert_valid_wav(&speak(&engine, SpeechRequest::new(text)).await.unwrap());
    assert!(!marker.exists(), "festival evaluated the text");
    let err = speak(&engine, SpeechRequest::new("Hi.").voice("en-us"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::BadRequest, "{err}");
}
