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
