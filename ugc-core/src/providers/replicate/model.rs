//! Model references: `owner/name` (official models, latest version) or
//! `owner/name:version` (a pinned version, created through `POST /v1/predictions`).

/// A parsed model reference; every part is checked, because owner and name go into the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ModelRef<'a> {
    /// `owner/name`.
    pub(crate) name: &'a str,
    /// The version id, when pinned.
    pub(crate) version: Option<&'a str>,
}

impl<'a> ModelRef<'a> {
    /// `None` unless `model` is `owner/name` or `owner/name:version` of safe characters.
    pub(crate) fn parse(model: &'a str) -> Option<Self> {
        let (name, version) = match model.split_once(':') {
            Some((name, version)) => (name, Some(version)),
            None => (model, None),
        };
        let (owner, short) = name.split_once('/')?;
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 100
                && !s.starts_with('.')
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        let version_ok = version.is_none_or(|v| {
            !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        (segment_ok(owner) && segment_ok(short) && version_ok).then_some(Self { name, version })
    }

    /// The create path: the model's own endpoint, or the versioned one.
    pub(crate) fn create_path(&self) -> String {
        match self.version {
            Some(_) => "/v1/predictions".to_owned(),
            None => format!("/v1/models/{}/predictions", self.name),
        }
    }
}

/// Prediction ids go into paths: letters and digits only.
pub(crate) fn is_prediction_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_references_are_parsed_strictly() {
        let m = ModelRef::parse("minimax/video-01").map(|m| m.create_path());
        assert_eq!(
            m.as_deref(),
            Some("/v1/models/minimax/video-01/predictions")
        );
        let v = ModelRef::parse("cjwbw/sadtalker:a519cc0c")
            .map(|m| (m.name, m.version, m.create_path()));
        assert_eq!(
            v,
            Some((
                "cjwbw/sadtalker",
                Some("a519cc0c"),
                "/v1/predictions".to_owned()
            ))
        );
        for bad in [
            "", "name", "a/b/c", "../x/y", "a/b:", "a/b:v/1", "a/b?x", "a/..",
        ] {
            assert_eq!(ModelRef::parse(bad), None, "{bad}");
        }
        assert!(is_prediction_id("ufawqhfynnddngldkgtslldrkq"));
        assert!(!is_prediction_id("../account"));
    }
}
