use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// What kind of party a quota is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubjectKind {
    /// An API key of the application's own users.
    Key,
    /// A user, across their keys.
    User,
    /// A client address.
    Ip,
    /// An upstream provider (spend across all users).
    Provider,
    /// Everything together.
    Global,
}

impl SubjectKind {
    /// Stable lower-case name, the prefix of [`Subject`]'s display form.
    pub const fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Key => "key",
            SubjectKind::User => "user",
            SubjectKind::Ip => "ip",
            SubjectKind::Provider => "provider",
            SubjectKind::Global => "global",
        }
    }
}

/// One party whose usage is accounted: `key:<id>`, `user:<id>`, `ip:<addr>`,
/// `provider:<id>` or `global`. Cheap to clone.
///
/// ```
/// use ugc_core::quota::Subject;
/// assert_eq!(Subject::ip("10.0.0.7".parse().unwrap()).to_string(), "ip:10.0.0.7");
/// assert_eq!(Subject::global().to_string(), "global");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject {
    kind: SubjectKind,
    id: Arc<str>,
}

impl Subject {
    /// An API key, by its public id (never the secret).
    pub fn key(id: impl Into<Arc<str>>) -> Self {
        Self {
            kind: SubjectKind::Key,
            id: id.into(),
        }
    }

    /// A user.
    pub fn user(id: impl Into<Arc<str>>) -> Self {
        Self {
            kind: SubjectKind::User,
            id: id.into(),
        }
    }

    /// A client address; IPv4-mapped IPv6 addresses count as their IPv4 address, so one
    /// client cannot hold two quotas.
    pub fn ip(addr: IpAddr) -> Self {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        Self {
            kind: SubjectKind::Ip,
            id: addr.to_string().into(),
        }
    }

    /// An upstream provider.
    pub fn provider(id: impl Into<Arc<str>>) -> Self {
        Self {
            kind: SubjectKind::Provider,
            id: id.into(),
        }
    }

    /// Everything together.
    pub fn global() -> Self {
        Self {
            kind: SubjectKind::Global,
            id: "".into(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> SubjectKind {
        self.kind
    }

    /// The id within the kind (empty for `global`).
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SubjectKind::Global => f.write_str("global"),
            kind => write!(f, "{}:{}", kind.as_str(), self.id),
        }
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Subject({self})")
    }
}
