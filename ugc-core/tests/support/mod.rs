//! Shared by the provider contract tests: capture of every log line, and the secret hygiene
//! check over logs, errors and trails. Include with `mod support;`.
#![allow(dead_code, unreachable_pub, clippy::panic, clippy::expect_used)]

use std::io::Write;
use std::sync::{Mutex, OnceLock};

/// Everything this test binary logs, at every level. A process-global subscriber, because
/// tracing caches per-callsite interest process-wide and a thread-local one can miss events.
pub fn captured_logs() -> String {
    let logs = sink();
    String::from_utf8_lossy(&logs.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// Installs the capture (idempotent); call before the code under test runs.
pub fn capture_logs() {
    let _ = sink();
}

fn sink() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    struct Sink(&'static Mutex<Vec<u8>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    LOGS.get_or_init(|| {
        let logs: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || Sink(logs))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        logs
    })
}

/// Panics if `secret` (or its base64 form) appears in `text`; `what` names the text.
pub fn assert_no_secret(what: &str, text: &str, secret: &str) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    assert!(!text.contains(secret), "{what} shows the secret: {text}");
    assert!(
        !text.contains(&b64),
        "{what} shows the base64 of the secret: {text}"
    );
}

/// Checks an error's Display, Debug and alternate Debug.
pub fn assert_error_clean<E: std::fmt::Display + std::fmt::Debug>(error: &E, secret: &str) {
    assert_no_secret("Display", &error.to_string(), secret);
    assert_no_secret("Debug", &format!("{error:?}"), secret);
    assert_no_secret("Debug {:#?}", &format!("{error:#?}"), secret);
}

/// A 64 MiB body aborted at a 1 MiB cap: what the emulator actually sent stays within the cap
/// plus the kernel's socket buffers, far below the body. Proves the abort without a clock.
pub const ABORTED_BELOW: u64 = 32 << 20;

/// The bytes of in-memory media (panics on a URL: the adapters download results).
pub fn media_bytes(media: &ugc_core::Media) -> &[u8] {
    match &media.body {
        ugc_core::MediaBody::Bytes(b) => b,
        ugc_core::MediaBody::Url(_) => panic!("expected bytes"),
    }
}

/// MP4 media: the type and the `ftyp` box.
pub fn assert_mp4(media: &ugc_core::Media) {
    assert_eq!(media.mime, "video/mp4");
    assert_eq!(&media_bytes(media)[4..8], b"ftyp", "MP4 magic");
}

/// The provider that served a `Done` outcome.
pub fn served_by(outcome: &ugc_core::router::Outcome) -> Option<&str> {
    match outcome {
        ugc_core::router::Outcome::Done { endpoint, .. } => Some(endpoint.provider()),
        _ => None,
    }
}

/// An outcome's Debug forms and every attempt's Display are free of `secret`.
pub fn assert_outcome_clean(outcome: &ugc_core::router::Outcome, secret: &str) {
    assert_no_secret("Outcome", &format!("{outcome:?}"), secret);
    assert_no_secret("Outcome {:#?}", &format!("{outcome:#?}"), secret);
    for attempt in outcome.attempts() {
        assert_no_secret("Attempt", &attempt.to_string(), secret);
    }
}

/// A router with `adapter` first (called with `key` as the `operator` credential) and a
/// scripted speech fallback second: what the contract tests route through.
pub fn speech_router(
    adapter: std::sync::Arc<dyn ugc_core::Provider>,
    key: &str,
    clock: ugc_core::clock::SharedClock,
    config: ugc_core::router::RouterConfig,
) -> ugc_core::router::Router {
    use ugc_core::router::{Endpoint, Router};
    let fallback = ugc_core::testkit::ScriptedProvider::speech("fallback", clock.clone());
    Router::builder(clock)
        .config(config)
        .endpoint(
            Endpoint::new(adapter)
                .credential(ugc_core::Credential::new("operator", key))
                .priority(0),
        )
        .endpoint(Endpoint::new(std::sync::Arc::new(fallback)).priority(1))
        .build()
        .expect("a valid router")
}

/// The health of `provider`'s endpoint.
pub fn health_of(
    router: &ugc_core::router::Router,
    provider: &str,
) -> ugc_core::router::EndpointHealth {
    router
        .health()
        .into_iter()
        .find(|h| h.endpoint.provider() == provider)
        .expect("the provider is routed")
}

/// The fallback served after the first attempt failed with `class`; nothing shows `secret`.
pub fn assert_served_by_fallback(
    outcome: &ugc_core::router::Outcome,
    class: ugc_core::provider::ErrorClass,
    secret: &str,
) {
    assert_outcome_clean(outcome, secret);
    let ugc_core::router::Outcome::Done {
        endpoint, attempts, ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(endpoint.provider(), "fallback", "{outcome:?}");
    assert_eq!(
        attempts[0].result,
        ugc_core::router::AttemptResult::Failed(class),
        "{outcome:?}"
    );
}
