//! Generated media as a provider returns it: bytes in memory or a URL to fetch.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use crate::Usage;

/// Where the content of a [`Media`] is.
#[derive(Clone, PartialEq, Eq)]
pub enum MediaBody {
    /// The content itself.
    Bytes(Bytes),
    /// A URL to download it from (often pre-signed and short-lived).
    Url(String),
}

impl fmt::Debug for MediaBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaBody::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            // Pre-signed URLs carry credentials in the query: show only the path.
            MediaBody::Url(u) => write!(f, "Url({}?…)", u.split('?').next().unwrap_or_default()),
        }
    }
}

/// One generated result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Media {
    /// The content or where to get it.
    pub body: MediaBody,
    /// MIME type as the provider declared it (for example `audio/mpeg`).
    pub mime: String,
    /// Play length, when known.
    pub duration: Option<Duration>,
    /// What the provider reported it actually charged, when it says (settles the estimate).
    pub billed: Option<Usage>,
}

impl Media {
    /// Media held in memory.
    ///
    /// ```
    /// use ugc_core::Media;
    /// let m = Media::bytes(vec![0u8; 4], "audio/wav");
    /// assert_eq!(m.len(), Some(4));
    /// ```
    pub fn bytes(data: impl Into<Bytes>, mime: impl Into<String>) -> Self {
        Self {
            body: MediaBody::Bytes(data.into()),
            mime: mime.into(),
            duration: None,
            billed: None,
        }
    }

    /// Media to be fetched from `url`.
    pub fn url(url: impl Into<String>, mime: impl Into<String>) -> Self {
        Self {
            body: MediaBody::Url(url.into()),
            mime: mime.into(),
            duration: None,
            billed: None,
        }
    }

    /// Sets the play length.
    #[must_use]
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// Sets the usage the provider reported.
    #[must_use]
    pub fn with_billed(mut self, usage: Usage) -> Self {
        self.billed = Some(usage);
        self
    }

    /// Size in bytes for in-memory media.
    pub fn len(&self) -> Option<usize> {
        match &self.body {
            MediaBody::Bytes(b) => Some(b.len()),
            MediaBody::Url(_) => None,
        }
    }

    /// True for in-memory media of zero bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}
