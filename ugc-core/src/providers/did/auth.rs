use base64::Engine as _;

/// The `Authorization` header value for `key`.
///
/// D-ID documents `Basic <key>` with the key "as issued", which is `user:password`-shaped;
/// whether the dashboard issues it already encoded is unconfirmed, so both are accepted: a
/// key containing `:` is base64-encoded (standard Basic auth), any other is sent as given.
///
/// ```
/// use ugc_core::providers::did::basic_auth;
/// assert_eq!(basic_auth("user:pass"), "Basic dXNlcjpwYXNz");
/// assert_eq!(basic_auth("dXNlcjpwYXNz"), "Basic dXNlcjpwYXNz");
/// ```
pub fn basic_auth(key: &str) -> String {
    if key.contains(':') {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
        )
    } else {
        format!("Basic {key}")
    }
}
