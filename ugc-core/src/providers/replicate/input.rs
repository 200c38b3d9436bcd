//! The `input` object of a prediction, from a request and the model's field names.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::request::{MediaInput, Request, Script};

use super::config::InputFields;

/// The prediction input for `request`; values whose field the model does not name are left out.
pub(crate) fn build_input(
    request: &Request,
    fields: &InputFields,
    voice: Option<&str>,
) -> Map<String, Value> {
    let mut input = Map::new();
    let mut put = |field: &Option<String>, value: Value| {
        if let Some(name) = field {
            input.insert(name.clone(), value);
        }
    };
    match request {
        Request::Video(video) => {
            put(&fields.prompt, json!(video.prompt));
            if let Some(negative) = &video.negative_prompt {
                put(&fields.negative_prompt, json!(negative));
            }
            if let Some(image) = &video.image {
                put(&fields.image, media_value(image));
            }
            if let Some(width) = video.width {
                put(&fields.width, json!(width));
            }
            if let Some(height) = video.height {
                put(&fields.height, json!(height));
            }
            if let Some(duration) = video.duration {
                put(&fields.duration, seconds(duration.as_secs_f64()));
                if let Some(fps) = video.fps {
                    let frames = (duration.as_secs_f64() * f64::from(fps)).round() as u64;
                    put(&fields.num_frames, json!(frames));
                }
            }
            if let Some(fps) = video.fps {
                put(&fields.fps, json!(fps));
            }
            if let Some(seed) = video.seed {
                put(&fields.seed, json!(seed));
            }
            if let Some(guidance) = video.guidance {
                put(&fields.guidance_scale, json!(guidance));
            }
            if let Some(steps) = video.steps {
                put(&fields.num_inference_steps, json!(steps));
            }
        }
        Request::Avatar(avatar) => {
            put(&fields.avatar_image, media_value(&avatar.source_image));
            match &avatar.script {
                Script::Text(text) => {
                    put(&fields.avatar_text, json!(text));
                    if let Some(voice) = voice {
                        put(&fields.voice, json!(voice));
                    }
                }
                Script::Audio(audio) => put(&fields.avatar_audio, media_value(audio)),
            }
        }
        Request::Speech(speech) => {
            put(&fields.speech_text, json!(speech.text));
            if let Some(voice) = voice {
                put(&fields.voice, json!(voice));
            }
        }
    }
    input
}

/// A file input: its URL, or the bytes as a data URI (Replicate accepts both).
fn media_value(media: &MediaInput) -> Value {
    match media {
        MediaInput::Url(url) => json!(url),
        MediaInput::Bytes { data, mime } => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(data);
            json!(format!("data:{mime};base64,{encoded}"))
        }
    }
}

/// Whole seconds as an integer (what most models' schemas ask for), else a float.
fn seconds(secs: f64) -> Value {
    if secs.fract() == 0.0 && secs <= u32::MAX as f64 {
        json!(secs as u64)
    } else {
        json!(secs)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::request::{AvatarRequest, SpeechRequest, VideoRequest};

    #[test]
    fn video_inputs_follow_the_field_names() {
        let request: Request = VideoRequest::from_image(
            MediaInput::Bytes {
                data: vec![1, 2, 3].into(),
                mime: "image/png".into(),
            },
            "a boat",
        )
        .duration(Duration::from_secs(4))
        .fps(8)
        .seed(7)
        .into();
        let fields = InputFields {
            num_frames: Some("num_frames".into()),
            fps: None,
            ..InputFields::default()
        };
        let input = build_input(&request, &fields, None);
        assert_eq!(input["prompt"], "a boat");
        assert_eq!(input["image"], "data:image/png;base64,AQID");
        assert_eq!(
            (input["duration"].as_u64(), input["num_frames"].as_u64()),
            (Some(4), Some(32))
        );
        assert!(!input.contains_key("fps"));
        assert_eq!(input["seed"], 7);
    }

    #[test]
    fn avatar_and_speech_inputs() {
        let avatar: Request = AvatarRequest::new(
            MediaInput::Url("https://x/face.png".into()),
            Script::Text("hi".into()),
        )
        .into();
        let input = build_input(&avatar, &InputFields::default(), Some("Wise_Woman"));
        assert_eq!(
            (
                input["image"].as_str(),
                input["text"].as_str(),
                input["voice"].as_str()
            ),
            (Some("https://x/face.png"), Some("hi"), Some("Wise_Woman"))
        );
        let speech: Request = SpeechRequest::new("hello").into();
        assert_eq!(
            build_input(&speech, &InputFields::default(), None)["text"],
            "hello"
        );
    }
}
