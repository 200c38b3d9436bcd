//! OpenAI's `x-ratelimit-*` headers, read on every answer so that the adapter stops sending
//! when the request budget is spent, before a 429 comes.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

/// Remaining requests in the current window.
const REMAINING: &str = "x-ratelimit-remaining-requests";
/// Time until the request window resets, as a Go duration (`12ms`, `6m0s`).
const RESET: &str = "x-ratelimit-reset-requests";

/// Parses a Go-style duration as OpenAI sends it: `12ms`, `1s`, `6m0s`, `1h2m3.5s`
/// (units h, m, s, ms, us/µs, ns); a bare number counts as seconds.
pub(crate) fn parse_reset(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let mut total = 0f64;
    let mut rest = value;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" | "μs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// What the rate-limit headers of one answer say: `Some(reset)` when no request is left.
pub(crate) fn exhausted_for(headers: &HeaderMap) -> Option<Option<Duration>> {
    let remaining: u64 = headers.get(REMAINING)?.to_str().ok()?.trim().parse().ok()?;
    if remaining > 0 {
        return Some(None);
    }
    let reset = headers
        .get(RESET)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_reset);
    // Zero left with no reset given: wait a second rather than send into a certain 429.
    Some(Some(reset.unwrap_or(Duration::from_secs(1))))
}

/// The reset of the request window, if the answer names one (the wait of a 429 without
/// `Retry-After`).
pub(crate) fn reset_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RESET)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_reset)
}

/// Until when each credential's request budget is spent. Entries are removed as soon as a
/// window is over or an answer shows requests left, so the map holds only cooling keys.
#[derive(Debug, Default)]
pub(crate) struct Cooldowns {
    until: Mutex<HashMap<String, Instant>>,
}

impl Cooldowns {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        // Plain data: still consistent after a panic elsewhere.
        self.until.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The wait left for `credential` at `now`, if its budget is spent.
    pub(crate) fn remaining(&self, credential: &str, now: Instant) -> Option<Duration> {
        let mut map = self.lock();
        let until = *map.get(credential)?;
        if until > now {
            Some(until - now)
        } else {
            map.remove(credential);
            None
        }
    }

    /// Records what an answer's headers say for `credential`.
    pub(crate) fn observe(&self, credential: &str, headers: &HeaderMap, now: Instant) {
        match exhausted_for(headers) {
            Some(Some(reset)) => {
                self.lock().insert(credential.to_owned(), now + reset);
            }
            Some(None) => {
                self.lock().remove(credential);
            }
            // No rate-limit headers at all (a proxy, an error page): keep what we knew.
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_reset("12ms"), Some(Duration::from_millis(12)));
        assert_eq!(parse_reset("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_reset("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(
            parse_reset("1h2m3.5s"),
            Some(Duration::from_millis(3_723_500))
        );
        assert_eq!(parse_reset("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_reset("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_reset(""), None);
        assert_eq!(parse_reset("soon"), None);
        assert_eq!(parse_reset("3x"), None);
        assert_eq!(parse_reset("-1s"), None);
    }

    #[test]
    fn spent_budget_cools_until_reset_and_clears_on_requests_left() {
        let cooldowns = Cooldowns::default();
        let now = Instant::now();
        let mut headers = HeaderMap::new();
        headers.insert(REMAINING, "0".parse().unwrap_or_else(|_| unreachable!()));
        headers.insert(RESET, "2s".parse().unwrap_or_else(|_| unreachable!()));
        cooldowns.observe("op", &headers, now);
        assert_eq!(cooldowns.remaining("op", now), Some(Duration::from_secs(2)));
        assert_eq!(cooldowns.remaining("other", now), None);
        assert_eq!(
            cooldowns.remaining("op", now + Duration::from_secs(2)),
            None
        );
        cooldowns.observe("op", &headers, now);
        headers.insert(REMAINING, "5".parse().unwrap_or_else(|_| unreachable!()));
        cooldowns.observe("op", &headers, now);
        assert_eq!(cooldowns.remaining("op", now), None);
    }
}
