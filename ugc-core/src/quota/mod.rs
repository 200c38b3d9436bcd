//! Usage accounting against limits and budgets: step 3 of a request (DESIGN section 2).
//!
//! Before a request is routed, [`Quota::reserve`] checks every limit of every subject it
//! involves (the key or user by tier, the client IP, the provider, everything together) at
//! once, all or nothing, and takes the estimated usage. The [`Reservation`] is then committed
//! with the real usage (a provider may report another cost) or refunded when the call fails;
//! a dropped reservation refunds itself, so failed calls never eat budgets.
//!
//! ```
//! use std::sync::Arc;
//! use ugc_core::clock::ManualClock;
//! use ugc_core::quota::{MemoryStore, Quota, QuotaPolicy, Subject, Tier};
//! use ugc_core::Usage;
//!
//! let clock = ManualClock::new();
//! let policy = QuotaPolicy::from_toml(r#"
//!     [tiers.guest]
//!     limits = [{ resource = "requests", amount = 2, per = "1h" }]
//! "#)?;
//! let quota = Quota::new(policy, Arc::new(MemoryStore::new(clock.shared())));
//! let me = [Subject::key("k1")];
//! quota.reserve(&me, Tier::Guest, Usage::request())?.commit(Usage::request());
//! let failed_call = quota.reserve(&me, Tier::Guest, Usage::request())?;
//! drop(failed_call); // refunded
//! quota.reserve(&me, Tier::Guest, Usage::request())?.commit(Usage::request());
//! let denied = quota.reserve(&me, Tier::Guest, Usage::request()).unwrap_err();
//! assert_eq!(denied.retry_after, Some(std::time::Duration::from_secs(3600 + 450)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod denial;
mod gcra;
mod limit;
mod memory;
mod policy;
mod sliding;
mod subject;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

pub use denial::{Denial, DenialReason};
pub use limit::{Algorithm, Limit, LimitSet, Resource};
pub use memory::MemoryStore;
pub use policy::{QuotaPolicy, Tier};
pub use subject::{Subject, SubjectKind};

use smallvec::SmallVec;

use crate::Usage;
use memory::Hold;

/// A cost limit crossed one of the policy's alert percentages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostAlert {
    /// Whose budget.
    pub subject: Subject,
    /// The cost limit.
    pub limit: Limit,
    /// The threshold crossed, in percent.
    pub percent: u8,
    /// Micro-dollars used in the window now.
    pub used_micros: u64,
}

/// Called with every cost alert.
pub type AlertListener = Arc<dyn Fn(&CostAlert) + Send + Sync>;

/// The limits in force, resolved once per policy change so a reservation only clones `Arc`s.
#[derive(Default)]
struct Resolved {
    policy: QuotaPolicy,
    tiers: HashMap<Tier, Arc<LimitSet>>,
    ip: Arc<LimitSet>,
    global: Arc<LimitSet>,
    providers: HashMap<String, Arc<LimitSet>>,
    overrides: HashMap<Subject, Arc<LimitSet>>,
    empty: Arc<LimitSet>,
}

impl Resolved {
    fn new(policy: QuotaPolicy, overrides: HashMap<Subject, Arc<LimitSet>>) -> Self {
        let arc = |s: &LimitSet| Arc::new(s.clone());
        Self {
            tiers: policy.tiers.iter().map(|(t, s)| (*t, arc(s))).collect(),
            ip: arc(&policy.ip),
            global: arc(&policy.global),
            providers: policy
                .providers
                .iter()
                .map(|(p, s)| (p.clone(), arc(s)))
                .collect(),
            overrides,
            empty: Arc::default(),
            policy,
        }
    }

    fn limits(&self, subject: &Subject, tier: Tier) -> Arc<LimitSet> {
        if let Some(set) = self.overrides.get(subject) {
            return set.clone();
        }
        let set = match subject.kind() {
            SubjectKind::Key | SubjectKind::User => self.tiers.get(&tier),
            SubjectKind::Ip => Some(&self.ip),
            SubjectKind::Global => Some(&self.global),
            SubjectKind::Provider => self.providers.get(subject.id()),
        };
        set.unwrap_or(&self.empty).clone()
    }
}

struct Inner {
    store: Arc<MemoryStore>,
    resolved: RwLock<Arc<Resolved>>,
    listener: Option<AlertListener>,
}

/// Accounting of usage against the policy's limits. Cheap to clone; all clones share state.
#[derive(Clone)]
pub struct Quota {
    inner: Arc<Inner>,
}

impl fmt::Debug for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quota")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl Quota {
    /// Accounting under `policy` in `store`.
    pub fn new(policy: QuotaPolicy, store: Arc<MemoryStore>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                resolved: RwLock::new(Arc::new(Resolved::new(policy, HashMap::new()))),
                listener: None,
            }),
        }
    }

    /// Calls `listener` with every cost alert (they are also logged on `ugc::quota`).
    #[must_use]
    pub fn with_alert_listener(self, listener: AlertListener) -> Self {
        let inner = Inner {
            store: self.inner.store.clone(),
            resolved: RwLock::new(self.resolved()),
            listener: Some(listener),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    fn resolved(&self) -> Arc<Resolved> {
        self.inner
            .resolved
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, change: impl FnOnce(&Resolved) -> Resolved) {
        let mut slot = self
            .inner
            .resolved
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *slot = Arc::new(change(&slot));
    }

    /// Replaces the policy; takes effect for the next reservation, usage already counted stays.
    pub fn set_policy(&self, policy: QuotaPolicy) {
        self.update(|old| Resolved::new(policy, old.overrides.clone()));
    }

    /// Gives `subject` its own limits instead of its tier's (or kind's), at once.
    pub fn set_limits(&self, subject: Subject, limits: LimitSet) {
        self.update(|old| {
            let mut overrides = old.overrides.clone();
            overrides.insert(subject, Arc::new(limits));
            Resolved::new(old.policy.clone(), overrides)
        });
    }

    /// Returns `subject` to its tier's (or kind's) limits.
    pub fn clear_limits(&self, subject: &Subject) {
        self.update(|old| {
            let mut overrides = old.overrides.clone();
            overrides.remove(subject);
            Resolved::new(old.policy.clone(), overrides)
        });
    }

    /// The limits that apply to `subject` (keys and users at `tier`).
    pub fn limits(&self, subject: &Subject, tier: Tier) -> Arc<LimitSet> {
        self.resolved().limits(subject, tier)
    }

    /// Takes `estimate` from every subject, under each one's limits, all or nothing.
    pub fn reserve(
        &self,
        subjects: &[Subject],
        tier: Tier,
        estimate: Usage,
    ) -> Result<Reservation, Denial> {
        let resolved = self.resolved();
        let mut holds = SmallVec::new();
        for subject in subjects {
            let limits = resolved.limits(subject, tier);
            if limits.is_empty() {
                continue;
            }
            match self.inner.store.take(subject, &limits, &estimate) {
                Ok(hold) => holds.push(hold),
                Err(denial) => {
                    for hold in &holds {
                        self.inner.store.settle(hold, None);
                    }
                    tracing::info!(target: "ugc::quota", subject = %denial.subject, denial = %denial, "quota denied");
                    return Err(denial);
                }
            }
        }
        Ok(Reservation {
            quota: self.clone(),
            holds,
            tier,
            estimate,
            settled: false,
        })
    }

    /// What `subject` uses of each of its windowed limits now.
    pub fn usage(&self, subject: &Subject, tier: Tier) -> Vec<(Limit, u64)> {
        let limits = self.limits(subject, tier);
        limits
            .limits
            .iter()
            .filter(|l| l.algorithm != Algorithm::PerRequest)
            .map(|l| (*l, self.inner.store.used(subject, l)))
            .collect()
    }

    /// Counts a job of `subject` entering the queue, under its `max_queued`.
    pub fn enqueue(&self, subject: &Subject, tier: Tier) -> Result<(), Denial> {
        let limits = self.limits(subject, tier);
        self.inner.store.enqueue(subject, &limits)
    }

    /// A job of `subject` left the queue.
    pub fn dequeue(&self, subject: &Subject) {
        self.inner.store.dequeue(subject);
    }

    /// The store.
    pub fn store(&self) -> &Arc<MemoryStore> {
        &self.inner.store
    }

    fn alert_on_commit(&self, hold: &Hold, tier: Tier, actual: &Usage) {
        if actual.cost_micros == 0 {
            return;
        }
        let thresholds = &self.resolved().policy.alerts;
        if thresholds.is_empty() {
            return;
        }
        let limits = self.limits(&hold.subject, tier);
        for limit in limits
            .limits
            .iter()
            .filter(|l| l.resource == Resource::CostMicros && l.algorithm != Algorithm::PerRequest)
        {
            let after = self.inner.store.used(&hold.subject, limit);
            let before = after.saturating_sub(actual.cost_micros);
            let percent = |used: u64| u128::from(used) * 100 / u128::from(limit.amount.max(1));
            for &t in thresholds
                .iter()
                .filter(|t| percent(before) < u128::from(**t) && percent(after) >= u128::from(**t))
            {
                let alert = CostAlert {
                    subject: hold.subject.clone(),
                    limit: *limit,
                    percent: t,
                    used_micros: after,
                };
                tracing::warn!(target: "ugc::quota", subject = %alert.subject, percent = t, used_micros = after, limit = %limit, "cost alert");
                if let Some(listener) = &self.inner.listener {
                    listener(&alert);
                }
            }
        }
    }
}

/// Usage taken for one request; settle it with [`commit`](Reservation::commit) or
/// [`refund`](Reservation::refund). Dropped unsettled, it refunds.
#[must_use = "a reservation is refunded when dropped; commit it once the call succeeded"]
pub struct Reservation {
    quota: Quota,
    holds: SmallVec<[Hold; 2]>,
    tier: Tier,
    estimate: Usage,
    settled: bool,
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subjects: Vec<&Subject> = self.holds.iter().map(|h| &h.subject).collect();
        f.debug_struct("Reservation")
            .field("subjects", &subjects)
            .finish_non_exhaustive()
    }
}

impl Reservation {
    /// Settles with the real usage: more than estimated is added (even past a limit: it was
    /// spent), less is given back.
    pub fn commit(mut self, actual: Usage) {
        self.settled = true;
        for hold in &self.holds {
            // The estimate is already counted: only a difference or a concurrency slot needs
            // the store.
            if actual != self.estimate || hold.concurrent() {
                self.quota.inner.store.settle(hold, Some(&actual));
            }
            self.quota.alert_on_commit(hold, self.tier, &actual);
        }
    }

    /// Gives everything back (the call failed).
    pub fn refund(mut self) {
        self.settle_refund();
    }

    fn settle_refund(&mut self) {
        if !std::mem::replace(&mut self.settled, true) {
            for hold in &self.holds {
                self.quota.inner.store.settle(hold, None);
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.settle_refund();
    }
}
