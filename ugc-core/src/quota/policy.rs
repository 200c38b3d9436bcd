use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::{Error, Result};

use super::limit::{Limit, LimitSet, Resource};
use super::subject::{Subject, SubjectKind};

/// Service tiers of API keys and users; each maps to a [`LimitSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Anonymous or trial use.
    Guest,
    /// The default paid tier.
    Basic,
    /// Higher limits.
    Premium,
    /// Operators: unlimited unless configured.
    Admin,
}

impl Tier {
    /// Stable lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::Guest => "guest",
            Tier::Basic => "basic",
            Tier::Premium => "premium",
            Tier::Admin => "admin",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which limits apply to whom: tiers for keys and users, one set for every IP, one global,
/// one per provider, and the budget alert thresholds.
///
/// ```
/// use ugc_core::quota::{QuotaPolicy, Subject, Tier};
/// let policy = QuotaPolicy::from_toml(r#"
///     alerts = [50, 80, 100]
///     [tiers.guest]
///     max_concurrent = 1
///     limits = [
///       { resource = "requests", amount = 10, per = "1h" },
///       { resource = "requests", amount = 50, per = "1d" },
///       { resource = "characters", amount = 500, per = "request" },
///     ]
///     [ip]
///     limits = [{ resource = "requests", amount = 60, per = "1m", burst = 10 }]
/// "#)?;
/// assert_eq!(policy.limits_for(&Subject::key("k1"), Tier::Guest).limits.len(), 3);
/// # Ok::<(), ugc_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaPolicy {
    /// Limits of keys and users, by tier.
    pub tiers: HashMap<Tier, LimitSet>,
    /// Limits of every client address.
    pub ip: LimitSet,
    /// Limits of everything together.
    pub global: LimitSet,
    /// Limits (spend) per provider id.
    pub providers: HashMap<String, LimitSet>,
    /// Percentages of cost limits at which a cost alert is raised (50, 80, 100).
    pub alerts: Vec<u8>,
}

impl QuotaPolicy {
    /// The limits of `subject`; keys and users by `tier`.
    pub fn limits_for(&self, subject: &Subject, tier: Tier) -> LimitSet {
        match subject.kind() {
            SubjectKind::Key | SubjectKind::User => {
                self.tiers.get(&tier).cloned().unwrap_or_default()
            }
            SubjectKind::Ip => self.ip.clone(),
            SubjectKind::Global => self.global.clone(),
            SubjectKind::Provider => self
                .providers
                .get(subject.id())
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// Reads a policy from TOML (see the example above and `examples/ugc.toml`); errors name
    /// the field (`quota.tiers.guest.limits[1].per`).
    pub fn from_toml(text: &str) -> Result<Self> {
        let raw: RawPolicy = toml::from_str(text)
            .map_err(|e| Error::config(format!("quota: {}", e.message())).with_source(e))?;
        let mut tiers = HashMap::new();
        for (tier, set) in raw.tiers {
            tiers.insert(tier, set.build(&format!("quota.tiers.{tier}"))?);
        }
        let mut providers = HashMap::new();
        for (id, set) in raw.providers {
            let built = set.build(&format!("quota.providers.{id}"))?;
            providers.insert(id, built);
        }
        if let Some(bad) = raw.alerts.iter().find(|a| **a == 0 || **a > 100) {
            return Err(Error::config(format!(
                "quota.alerts: {bad} is not a percentage in 1..=100"
            )));
        }
        let mut alerts = raw.alerts;
        alerts.sort_unstable();
        alerts.dedup();
        Ok(Self {
            tiers,
            ip: raw.ip.build("quota.ip")?,
            global: raw.global.build("quota.global")?,
            providers,
            alerts,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    tiers: HashMap<Tier, RawSet>,
    #[serde(default)]
    ip: RawSet,
    #[serde(default)]
    global: RawSet,
    #[serde(default)]
    providers: HashMap<String, RawSet>,
    #[serde(default)]
    alerts: Vec<u8>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSet {
    #[serde(default)]
    limits: Vec<RawLimit>,
    max_concurrent: Option<u32>,
    max_queued: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimit {
    resource: Resource,
    amount: u64,
    per: String,
    burst: Option<u64>,
}

impl RawSet {
    fn build(self, field: &str) -> Result<LimitSet> {
        let mut limits = Vec::with_capacity(self.limits.len());
        for (i, raw) in self.limits.into_iter().enumerate() {
            let field = format!("{field}.limits[{i}]");
            if raw.amount == 0 {
                return Err(Error::config(format!(
                    "{field}.amount must be greater than zero"
                )));
            }
            let limit = if raw.per == "request" {
                if raw.burst.is_some() {
                    return Err(Error::config(format!(
                        "{field}.burst does not apply per request"
                    )));
                }
                Limit::per_request(raw.resource, raw.amount)
            } else {
                let window = parse_window(&raw.per).ok_or_else(|| {
                    Error::config(format!(
                        "{field}.per: {:?} is not a window (1s, 10m, 1h, 1d, 1mo, request)",
                        raw.per
                    ))
                })?;
                match raw.burst {
                    Some(0) => {
                        return Err(Error::config(format!(
                            "{field}.burst must be greater than zero"
                        )));
                    }
                    Some(burst) => Limit::rate(raw.resource, raw.amount, window, burst),
                    None => Limit::per(raw.resource, raw.amount, window),
                }
            };
            limits.push(limit);
        }
        Ok(LimitSet {
            limits,
            max_concurrent: self.max_concurrent,
            max_queued: self.max_queued,
        })
    }
}

/// `"30s"`, `"10m"`, `"1h"`, `"1d"`, `"1mo"` (30 days), also the bare unit names
/// `second`, `minute`, `hour`, `day`, `month`.
pub(crate) fn parse_window(text: &str) -> Option<Duration> {
    let text = text.trim();
    let named = match text {
        "second" => Some(1),
        "minute" => Some(60),
        "hour" => Some(3600),
        "day" => Some(86_400),
        "month" => Some(30 * 86_400),
        _ => None,
    };
    if let Some(secs) = named {
        return Some(Duration::from_secs(secs));
    }
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "mo" => 30 * 86_400,
        _ => return None,
    };
    n.checked_mul(unit_secs).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_in_every_spelling() {
        assert_eq!(parse_window("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_window("1mo"), Some(Duration::from_secs(2_592_000)));
        assert_eq!(parse_window("hour"), Some(Duration::from_secs(3600)));
        for bad in ["", "0h", "1y", "h", "-1h", "99999999999999999999d"] {
            assert_eq!(parse_window(bad), None, "{bad}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let err = QuotaPolicy::from_toml(
            "[tiers.basic]\nlimits = [{ resource = \"requests\", amount = 5, per = \"1y\" }]",
        )
        .unwrap_err();
        assert!(
            err.message().contains("quota.tiers.basic.limits[0].per"),
            "{err}"
        );
        let err = QuotaPolicy::from_toml("alerts = [120]").unwrap_err();
        assert!(err.message().contains("quota.alerts"), "{err}");
        let err = QuotaPolicy::from_toml(
            "[ip]\nlimits = [{ resource = \"requests\", amount = 0, per = \"1m\" }]",
        )
        .unwrap_err();
        assert!(err.message().contains("quota.ip.limits[0].amount"), "{err}");
        assert!(
            QuotaPolicy::from_toml("[tiers.gold]").is_err(),
            "unknown tier"
        );
    }
}
