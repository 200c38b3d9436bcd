//! A prediction as Replicate returns it from create, get and cancel, reduced to what the
//! router needs: running, succeeded with an output file, failed with a reason, or canceled.

use serde_json::Value;

/// The state of a prediction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// `starting` or `processing` (and any status Replicate may add later).
    Running,
    /// `succeeded`, with the output file's URL if one was found.
    Succeeded(Option<String>),
    /// `failed`, with the `error` text.
    Failed(String),
    /// `canceled` or `aborted` (stopped by `Cancel-After` or a cancel call).
    Canceled(String),
}

/// The fields of a prediction the adapter reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prediction {
    /// Its id.
    pub(crate) id: String,
    /// `urls.get`, where to poll it.
    pub(crate) get_url: Option<String>,
    /// What its status says.
    pub(crate) state: State,
}

impl Prediction {
    /// `None` when the body is not a prediction (no id or status).
    pub(crate) fn parse(value: &Value) -> Option<Self> {
        let id = value.get("id")?.as_str()?.to_owned();
        let status = value.get("status")?.as_str()?;
        let get_url = value
            .get("urls")
            .and_then(|u| u.get("get"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let error_text = || match value.get("error") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::from("no error text"),
            Some(other) => other.to_string(),
        };
        let state = match status {
            "succeeded" => State::Succeeded(value.get("output").and_then(output_url)),
            "failed" => State::Failed(error_text()),
            "canceled" | "aborted" => State::Canceled(status.to_owned()),
            _ => State::Running,
        };
        Some(Self { id, get_url, state })
    }
}

/// The output file's URL: a string, the last URL of an array (iterator outputs end with
/// the finished file), or a `url`/`video`/`audio`/`output` field of an object.
pub(crate) fn output_url(output: &Value) -> Option<String> {
    match output {
        Value::String(s) if is_file_url(s) => Some(s.clone()),
        Value::Array(items) => items.iter().rev().find_map(output_url),
        Value::Object(fields) => ["url", "video", "audio", "output"]
            .iter()
            .find_map(|k| fields.get(*k).and_then(output_url)),
        _ => None,
    }
}

fn is_file_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://") || s.starts_with("data:")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn outputs_of_every_shape_yield_a_url() {
        assert_eq!(
            output_url(&json!("https://r/a.mp4")).as_deref(),
            Some("https://r/a.mp4")
        );
        assert_eq!(
            output_url(&json!(["https://r/1.png", "https://r/2.mp4"])).as_deref(),
            Some("https://r/2.mp4")
        );
        assert_eq!(
            output_url(&json!({"video": "https://r/v.mp4"})).as_deref(),
            Some("https://r/v.mp4")
        );
        assert_eq!(output_url(&json!(["text", 3])), None);
    }

    #[test]
    fn statuses_map_to_states() {
        let p = |status: &str| {
            Prediction::parse(&json!({"id": "x", "status": status, "error": "boom"}))
                .map(|p| p.state)
        };
        assert_eq!(p("starting"), Some(State::Running));
        assert_eq!(p("processing"), Some(State::Running));
        assert_eq!(p("failed"), Some(State::Failed("boom".into())));
        assert_eq!(p("aborted"), Some(State::Canceled("aborted".into())));
        assert_eq!(Prediction::parse(&json!({"detail": "x"})), None);
    }
}
