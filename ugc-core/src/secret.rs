//! Provider credentials: held in `secrecy` types so that no `Debug`, `Display`, log or error
//! can show them.

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

/// A provider credential: a public label (`id`) and a secret key.
///
/// The id names the credential in routing state, health tables and logs (`operator`,
/// `user:42`); the key is only readable through [`Credential::expose`].
///
/// ```
/// use ugc_core::Credential;
/// let c = Credential::new("operator", "sk-live-123");
/// assert_eq!(format!("{c:?}"), "Credential { id: \"operator\", key: [redacted] }");
/// assert_eq!(c.expose(), "sk-live-123");
/// ```
#[derive(Clone)]
pub struct Credential {
    id: Arc<str>,
    key: Arc<SecretString>,
}

impl Credential {
    /// A credential with a public `id` and a secret `key`.
    pub fn new(id: impl Into<Arc<str>>, key: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            key: Arc::new(SecretString::from(key.into())),
        }
    }

    /// The public label.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret, for the one place that sends it (an HTTP header).
    pub fn expose(&self) -> &str {
        self.key.expose_secret()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("id", &self.id)
            .field("key", &format_args!("[redacted]"))
            .finish()
    }
}

/// Longest provider message kept, in characters: enough to diagnose, too short to carry a
/// request body back out.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// Cleans provider text before it leaves an adapter: removes every occurrence of each secret
/// (and of its base64 form, as Basic auth sends it), drops control characters and truncates
/// to [`MAX_MESSAGE_CHARS`].
///
/// ```
/// use ugc_core::secret::scrub;
/// let text = "invalid key sk-live-123 for org";
/// assert_eq!(scrub(text, &["sk-live-123"]), "invalid key [redacted] for org");
/// ```
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_MESSAGE_CHARS * 2)
        .collect();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "[redacted]");
        let encoded = base64_encode(secret.as_bytes());
        if encoded.len() >= 4 {
            out = out.replace(&encoded, "[redacted]");
        }
    }
    match out.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => {
            out.truncate(cut);
            out.push('…');
            out
        }
        None => out,
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_plain_and_base64_secrets_and_truncates() {
        let key = "user:pass-1234";
        let b64 = base64_encode(key.as_bytes());
        assert_eq!(b64, "dXNlcjpwYXNzLTEyMzQ=");
        let text = format!("Basic {b64} rejected; key {key}\n");
        let clean = scrub(&text, &[key]);
        assert!(!clean.contains(key) && !clean.contains(&b64), "{clean}");
        let long = "x".repeat(1000);
        assert_eq!(scrub(&long, &[]).chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
