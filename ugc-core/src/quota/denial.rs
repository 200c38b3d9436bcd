use std::fmt;
use std::time::Duration;

use crate::{Error, ErrorKind};

use super::enforcement::Enforcement;
use super::limit::Limit;
use super::subject::Subject;

/// Why a reservation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenialReason {
    /// A windowed or per-request limit is spent.
    Limit(Limit),
    /// As many calls are in flight as allowed.
    Concurrency(u32),
    /// As many jobs are queued as allowed.
    QueueDepth(u32),
    /// The shared store could not be reached and the fail mode is closed.
    StoreUnavailable,
}

/// A refused reservation: who, which limit, and when the same request may fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The subject whose limit refused.
    pub subject: Subject,
    /// The limit or cap that refused.
    pub reason: DenialReason,
    /// When the request fits again; `None` when it never will (larger than the limit) or
    /// when it depends on other calls finishing (concurrency, queue).
    pub retry_after: Option<Duration>,
    /// Who decided: the store, or the fail mode while the store was unavailable.
    pub enforcement: Enforcement,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            DenialReason::Limit(limit) => write!(f, "{}: limit of {limit} reached", self.subject)?,
            DenialReason::Concurrency(n) => {
                write!(f, "{}: {n} calls already in flight", self.subject)?
            }
            DenialReason::QueueDepth(n) => write!(f, "{}: {n} jobs already queued", self.subject)?,
            DenialReason::StoreUnavailable => {
                write!(f, "{}: quota store unavailable (fail closed)", self.subject)?
            }
        }
        if self.enforcement == Enforcement::LocalFallback {
            f.write_str(" (local fallback limiter)")?;
        }
        match self.retry_after {
            Some(wait) => write!(f, "; fits again in {:.1}s", wait.as_secs_f64()),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Denial {}

impl From<Denial> for Error {
    fn from(denial: Denial) -> Self {
        // A store outage is not the caller's excess: it is reported as a storage failure.
        let kind = match denial.reason {
            DenialReason::StoreUnavailable => ErrorKind::Storage,
            _ => ErrorKind::QuotaExceeded,
        };
        let error = Error::new(kind, denial.to_string());
        match denial.retry_after {
            Some(wait) => error.with_retry_after(wait),
            None => error,
        }
    }
}
