//! Key names. Every key of one subject carries the subject in a hash tag (`{...}`), so a
//! subject's limits share one cluster slot and one script can touch them all.

use std::fmt::Write as _;

use crate::quota::limit::{Algorithm, Limit};
use crate::quota::subject::Subject;

/// `<prefix>:{<subject>}:<what>`.
fn key(prefix: &str, subject: &Subject, what: std::fmt::Arguments<'_>) -> String {
    let mut key = String::with_capacity(prefix.len() + 48);
    // Writing to a String cannot fail.
    let _ = write!(key, "{prefix}:{{{subject}}}:{what}");
    key
}

/// The key of one windowed limit. The fingerprint holds everything that defines the limit,
/// so a changed limit starts empty (as the memory store does) and two limits never collide.
pub(crate) fn limit_key(prefix: &str, subject: &Subject, limit: &Limit) -> String {
    let window = limit.window.as_millis();
    let resource = limit.resource.as_str();
    let amount = limit.amount;
    match limit.algorithm {
        Algorithm::Gcra { burst } => key(
            prefix,
            subject,
            format_args!("{resource}:{amount}:{window}ms:gcra{burst}"),
        ),
        Algorithm::SlidingWindow | Algorithm::PerRequest => key(
            prefix,
            subject,
            format_args!("{resource}:{amount}:{window}ms:sw"),
        ),
    }
}

/// The in-flight counter of a subject.
pub(crate) fn in_flight_key(prefix: &str, subject: &Subject) -> String {
    key(prefix, subject, format_args!("in_flight"))
}

/// The queued-jobs counter of a subject.
pub(crate) fn queued_key(prefix: &str, subject: &Subject) -> String {
    key(prefix, subject, format_args!("queued"))
}

/// A key that is never written: per-request limits hold no state, but every script entry
/// names a key of its subject (cluster mode routes by keys).
pub(crate) fn per_request_key(prefix: &str, subject: &Subject) -> String {
    key(prefix, subject, format_args!("per_request"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::quota::limit::Resource;

    #[test]
    fn keys_share_the_subjects_hash_tag() {
        let s = Subject::key("k1");
        let limit = Limit::per(Resource::Requests, 10, Duration::from_secs(3600));
        assert_eq!(
            limit_key("ugc", &s, &limit),
            "ugc:{key:k1}:requests:10:3600000ms:sw"
        );
        let rate = Limit::rate(Resource::Characters, 60, Duration::from_secs(60), 5);
        assert_eq!(
            limit_key("ugc", &s, &rate),
            "ugc:{key:k1}:characters:60:60000ms:gcra5"
        );
        assert_eq!(in_flight_key("ugc", &s), "ugc:{key:k1}:in_flight");
        assert_eq!(queued_key("ugc", &Subject::global()), "ugc:{global}:queued");
    }
}
