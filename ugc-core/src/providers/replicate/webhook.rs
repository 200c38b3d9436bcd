//! Verification of Replicate webhooks (Standard Webhooks signing): the body is signed with
//! HMAC-SHA256 over `"{webhook-id}.{webhook-timestamp}.{body}"` with the key that follows
//! `whsec_` in the signing secret, base64-decoded.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a webhook's timestamp may be from now, either way: older deliveries are replays.
pub const WEBHOOK_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Why a webhook was refused. Never carries the secret or the signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header (`webhook-id`, `webhook-timestamp`, `webhook-signature`) is absent
    /// or not text.
    #[error("the webhook header {0} is missing")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not whole seconds since the epoch.
    #[error("the webhook-timestamp header is not a number of seconds")]
    MalformedTimestamp,
    /// The timestamp is more than [`WEBHOOK_TOLERANCE`] in the past or the future.
    #[error("the webhook timestamp is more than 5 minutes from now")]
    TimestampOutOfRange,
    /// `webhook-signature` lists no `v1,<base64>` signature.
    #[error("the webhook-signature header lists no v1 signature")]
    MalformedSignature,
    /// The configured secret is not `whsec_<base64>`.
    #[error("the webhook signing secret is not of the form whsec_<base64>")]
    MalformedSecret,
    /// No listed signature matches the body: tampered, or signed with another secret.
    #[error("no webhook signature matches the body")]
    SignatureMismatch,
}

/// Checks that a webhook delivery was signed by Replicate with `secret` (`whsec_...`, from
/// `GET /v1/webhooks/default/secret`) and is fresh at `now`.
///
/// `headers` is the request's `http::HeaderMap` (what axum, hyper and reqwest use); `body`
/// is the raw body, before any JSON parsing. Every listed `v1` signature is compared in
/// constant time; one match suffices (several are listed while a secret is rotated).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use ugc_core::providers::replicate::{verify_webhook, WebhookError};
///
/// let mut headers = reqwest::header::HeaderMap::new();
/// headers.insert("webhook-id", "msg_1".parse()?);
/// headers.insert("webhook-timestamp", "1700000000".parse()?);
/// headers.insert("webhook-signature", "v1,bm90IHRoZSBzaWduYXR1cmU=".parse()?);
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_010);
/// let result = verify_webhook(&headers, b"{}", "whsec_c2VjcmV0", now);
/// assert_eq!(result, Err(WebhookError::SignatureMismatch));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_webhook(
    headers: &HeaderMap,
    body: &[u8],
    secret: &str,
    now: SystemTime,
) -> Result<(), WebhookError> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(WebhookError::MissingHeader(name))
    };
    let id = header("webhook-id")?;
    let timestamp = header("webhook-timestamp")?;
    let signatures = header("webhook-signature")?;

    let sent: u64 = timestamp
        .parse()
        .map_err(|_| WebhookError::MalformedTimestamp)?;
    let now_secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if now_secs.abs_diff(sent) > WEBHOOK_TOLERANCE.as_secs() {
        return Err(WebhookError::TimestampOutOfRange);
    }

    let engine = base64::engine::general_purpose::STANDARD;
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|k| engine.decode(k).ok())
        .filter(|k| !k.is_empty())
        .ok_or(WebhookError::MalformedSecret)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&key).map_err(|_| WebhookError::MalformedSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();

    let listed: Vec<Vec<u8>> = signatures
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|sig| engine.decode(sig).ok())
        .collect();
    if listed.is_empty() {
        return Err(WebhookError::MalformedSignature);
    }
    // Check every signature, so the time taken does not tell which one matched.
    let matched = listed.iter().fold(subtle::Choice::from(0), |any, sig| {
        any | sig.as_slice().ct_eq(expected.as_slice())
    });
    if bool::from(matched) {
        Ok(())
    } else {
        Err(WebhookError::SignatureMismatch)
    }
}
