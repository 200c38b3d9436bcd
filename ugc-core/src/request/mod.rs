//! What a caller asks for: speech, video or a talking head.
//!
//! `Debug` of every request shows the length of user text, never the text: requests are
//! logged by shape, not content.

mod avatar;
mod speech;
mod video;

use std::fmt;

use bytes::Bytes;

pub use avatar::{AvatarRequest, Script};
pub use speech::{AudioFormat, SpeechRequest};
pub use video::VideoRequest;

/// The kind of media a request asks for; providers declare which kinds they serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MediaKind {
    /// Text to speech.
    Speech,
    /// Text or image to video.
    Video,
    /// A talking head: an image speaking a script.
    Avatar,
}

impl MediaKind {
    /// Stable lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            MediaKind::Speech => "speech",
            MediaKind::Video => "video",
            MediaKind::Avatar => "avatar",
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One generation request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Text to speech.
    Speech(SpeechRequest),
    /// Text or image to video.
    Video(VideoRequest),
    /// Talking head.
    Avatar(AvatarRequest),
}

impl Request {
    /// The kind of media asked for.
    pub fn kind(&self) -> MediaKind {
        match self {
            Request::Speech(_) => MediaKind::Speech,
            Request::Video(_) => MediaKind::Video,
            Request::Avatar(_) => MediaKind::Avatar,
        }
    }

    /// The model the caller pinned, if any.
    pub fn model(&self) -> Option<&str> {
        match self {
            Request::Speech(r) => r.model.as_deref(),
            Request::Video(r) => r.model.as_deref(),
            Request::Avatar(r) => r.model.as_deref(),
        }
    }

    /// The logical voice asked for (speech and avatar requests).
    pub fn voice(&self) -> Option<&str> {
        match self {
            Request::Speech(r) => r.voice.as_deref(),
            Request::Avatar(r) => r.voice.as_deref(),
            Request::Video(_) => None,
        }
    }

    /// Characters of user text the request carries (what character quotas count).
    pub fn characters(&self) -> usize {
        match self {
            Request::Speech(r) => r.text.chars().count(),
            Request::Video(r) => r.prompt.chars().count(),
            Request::Avatar(r) => match &r.script {
                Script::Text(t) => t.chars().count(),
                Script::Audio(_) => 0,
            },
        }
    }
}

impl From<SpeechRequest> for Request {
    fn from(r: SpeechRequest) -> Self {
        Request::Speech(r)
    }
}

impl From<VideoRequest> for Request {
    fn from(r: VideoRequest) -> Self {
        Request::Video(r)
    }
}

impl From<AvatarRequest> for Request {
    fn from(r: AvatarRequest) -> Self {
        Request::Avatar(r)
    }
}

/// An input file: by URL, or uploaded bytes with their declared MIME type.
#[derive(Clone, PartialEq, Eq)]
pub enum MediaInput {
    /// Fetched by the provider from this URL.
    Url(String),
    /// Sent with the request.
    Bytes {
        /// The content.
        data: Bytes,
        /// Declared MIME type (checked against the magic bytes by the validator).
        mime: String,
    },
}

impl fmt::Debug for MediaInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaInput::Url(u) => write!(f, "Url({}?…)", u.split('?').next().unwrap_or_default()),
            MediaInput::Bytes { data, mime } => write!(f, "Bytes({} bytes, {mime})", data.len()),
        }
    }
}

/// Shows user text by length only.
pub(crate) struct Redacted<'a>(pub(crate) &'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} chars>", self.0.chars().count())
    }
}
