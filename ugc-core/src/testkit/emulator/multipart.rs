//! multipart/form-data bodies as the emulators receive them (Stability, D-ID uploads), parsed
//! by `multer`, the parser behind axum's own multipart support.

use axum::http::{HeaderMap, header};
use bytes::Bytes;

/// One part of a multipart/form-data body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) data: Bytes,
}

impl Field {
    /// The part as text (lossy).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// Every named part of `body`; `None` when the body is not multipart or is malformed.
pub(crate) async fn parse(headers: &HeaderMap, body: &Bytes) -> Option<Vec<Field>> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let boundary = multer::parse_boundary(content_type).ok()?;
    let body = body.clone();
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut fields = Vec::new();
    while let Some(part) = parts.next_field().await.ok()? {
        let name = part.name()?.to_owned();
        let data = part.bytes().await.ok()?;
        fields.push(Field { name, data });
    }
    Some(fields)
}

/// The first part called `name`.
pub(crate) fn field<'a>(fields: &'a [Field], name: &str) -> Option<&'a Field> {
    fields.iter().find(|f| f.name == name)
}
