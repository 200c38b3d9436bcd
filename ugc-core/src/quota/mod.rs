//! Usage accounting against limits and budgets: step 3 of a request (DESIGN section 2).
//!
//! Before a request is routed, [`Quota::reserve`] checks every limit of every subject it
//! involves (the key or user by tier, the client IP, the provider, everything together) at
//! once, all or nothing, and takes the estimated usage. The [`Reservation`] is then committed
//! with the real usage (a provider may report another cost) or refunded when the call fails;
//! a dropped reservation refunds itself, so failed calls never eat budgets.
//!
//! Two stores: [`MemoryStore`] (one process; reservations never wait, so the futures of this
//! module complete on their first poll) and, with the `redis` feature, [`RedisStore`] (shared
//! by every process; one Lua script per reservation, a [`FailMode`] for outages, and
//! [`Reservation::enforcement`] saying who decided).
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
//! # futures::executor::block_on(async {
//! quota.reserve(&me, Tier::Guest, Usage::request()).await?.commit(Usage::request()).await;
//! let failed_call = quota.reserve(&me, Tier::Guest, Usage::request()).await?;
//! drop(failed_call); // refunded
//! quota.reserve(&me, Tier::Guest, Usage::request()).await?.commit(Usage::request()).await;
//! let denied = quota.reserve(&me, Tier::Guest, Usage::request()).await.unwrap_err();
//! assert_eq!(denied.retry_after, Some(std::time::Duration::from_secs(3600 + 450)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod denial;
mod enforcement;
mod gcra;
mod limit;
mod memory;
mod policy;
#[cfg(feature = "redis")]
mod redis;
mod reservation;
mod sliding;
mod subject;

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, ready};
use std::sync::{Arc, PoisonError, RwLock};

pub use denial::{Denial, DenialReason};
pub use enforcement::Enforcement;
pub use limit::{Algorithm, Limit, LimitSet, Resource};
pub use memory::MemoryStore;
pub use policy::{QuotaPolicy, Tier};
#[cfg(feature = "redis")]
pub use redis::{FailMode, RedisConfig, RedisStore};
pub use reservation::Reservation;
pub use subject::{Subject, SubjectKind};

use futures::future::Either;
use smallvec::SmallVec;

use crate::{Error, Usage};
use reservation::Held;

/// The future of a store operation: ready at once for the memory store, boxed for Redis.
type StoreFuture<'a, T> = Either<std::future::Ready<T>, Boxed<'a, T>>;
#[cfg(feature = "redis")]
type Boxed<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;
#[cfg(not(feature = "redis"))]
type Boxed<'a, T> = std::future::Ready<T>;

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

/// Where a [`Quota`] counts usage.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum QuotaStore {
    /// In this process.
    Memory(Arc<MemoryStore>),
    /// In Redis, shared by every process.
    #[cfg(feature = "redis")]
    Redis(RedisStore),
}

struct Inner {
    store: QuotaStore,
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
    /// Accounting under `policy` in the in-memory `store`.
    pub fn new(policy: QuotaPolicy, store: Arc<MemoryStore>) -> Self {
        Self::with_store(policy, QuotaStore::Memory(store))
    }

    /// Accounting under `policy` in Redis, shared by every process using the same prefix.
    #[cfg(feature = "redis")]
    pub fn with_redis(policy: QuotaPolicy, store: RedisStore) -> Self {
        Self::with_store(policy, QuotaStore::Redis(store))
    }

    /// Accounting under `policy` in `store`.
    pub fn with_store(policy: QuotaPolicy, store: QuotaStore) -> Self {
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
    ///
    /// With the memory store the work is done before this returns and the future is ready
    /// at once (no I/O, no allocation, no state machine); with Redis the future is one
    /// script round trip, or the fail mode's decision, and does nothing until polled.
    pub fn reserve<'a>(
        &'a self,
        subjects: &'a [Subject],
        tier: Tier,
        estimate: Usage,
    ) -> impl Future<Output = Result<Reservation, Denial>> + Send + 'a {
        match &self.inner.store {
            QuotaStore::Memory(store) => {
                StoreFuture::Left(ready(self.reserve_memory(store, subjects, tier, estimate)))
            }
            // Boxed: the Redis future is large, and the memory path must not pay for moving it.
            #[cfg(feature = "redis")]
            QuotaStore::Redis(store) => StoreFuture::<'a, _>::Right(Box::pin(
                self.reserve_redis(store, subjects, tier, estimate),
            )),
        }
    }

    fn reserve_memory(
        &self,
        store: &MemoryStore,
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
            match store.take(subject, &limits, &estimate) {
                Ok(hold) => holds.push(hold),
                Err(denial) => {
                    for hold in &holds {
                        store.settle(hold, None);
                    }
                    log_denial(&denial);
                    return Err(denial);
                }
            }
        }
        Ok(Reservation::new(
            self.clone(),
            Held::Memory(holds),
            tier,
            estimate,
            Enforcement::Store,
        ))
    }

    #[cfg(feature = "redis")]
    async fn reserve_redis(
        &self,
        store: &RedisStore,
        subjects: &[Subject],
        tier: Tier,
        estimate: Usage,
    ) -> Result<Reservation, Denial> {
        let resolved = self.resolved();
        let plan: SmallVec<[(Subject, Arc<LimitSet>); 4]> = subjects
            .iter()
            .map(|s| (s.clone(), resolved.limits(s, tier)))
            .filter(|(_, limits)| !limits.is_empty())
            .collect();
        let (held, enforcement) = match store.reserve(&plan, &estimate).await {
            Ok(redis::Taken::Store(hold)) => (Held::Redis(hold), Enforcement::Store),
            Ok(redis::Taken::Open) => (Held::Open, Enforcement::FailOpen),
            Ok(redis::Taken::Local(holds)) => (Held::Local(holds), Enforcement::LocalFallback),
            Err(denial) => {
                log_denial(&denial);
                return Err(denial);
            }
        };
        if enforcement != Enforcement::Store {
            tracing::warn!(target: "ugc::quota", enforcement = enforcement.as_str(), "quota admitted by the fail mode");
        }
        Ok(Reservation::new(
            self.clone(),
            held,
            tier,
            estimate,
            enforcement,
        ))
    }

    /// What `subject` uses of each of its windowed limits now (an error when the shared
    /// store cannot be reached).
    pub async fn usage(&self, subject: &Subject, tier: Tier) -> Result<Vec<(Limit, u64)>, Error> {
        let limits = self.limits(subject, tier);
        let windowed = limits
            .limits
            .iter()
            .filter(|l| l.algorithm != Algorithm::PerRequest);
        match &self.inner.store {
            QuotaStore::Memory(store) => {
                Ok(windowed.map(|l| (*l, store.used(subject, l))).collect())
            }
            #[cfg(feature = "redis")]
            QuotaStore::Redis(store) => {
                let windowed: Vec<Limit> = windowed.copied().collect();
                let used = store.used(subject, &windowed).await?;
                Ok(windowed.into_iter().zip(used).collect())
            }
        }
    }

    /// Counts a job of `subject` entering the queue, under its `max_queued`; says who
    /// decided (a fail mode may admit while Redis is down).
    pub async fn enqueue(&self, subject: &Subject, tier: Tier) -> Result<Enforcement, Denial> {
        let limits = self.limits(subject, tier);
        match &self.inner.store {
            QuotaStore::Memory(store) => {
                store.enqueue(subject, &limits).map(|()| Enforcement::Store)
            }
            #[cfg(feature = "redis")]
            QuotaStore::Redis(store) => match store.enqueue(subject, &limits).await? {
                redis::Taken::Store(_) => Ok(Enforcement::Store),
                redis::Taken::Open => Ok(Enforcement::FailOpen),
                redis::Taken::Local(_) => Ok(Enforcement::LocalFallback),
            },
        }
    }

    /// A job of `subject` left the queue.
    pub async fn dequeue(&self, subject: &Subject) {
        match &self.inner.store {
            QuotaStore::Memory(store) => store.dequeue(subject),
            #[cfg(feature = "redis")]
            QuotaStore::Redis(store) => store.dequeue(subject).await,
        }
    }

    /// The store.
    pub fn store(&self) -> &QuotaStore {
        &self.inner.store
    }

    /// The in-memory store, when that is where usage is counted.
    pub fn memory_store(&self) -> Option<&Arc<MemoryStore>> {
        match &self.inner.store {
            QuotaStore::Memory(store) => Some(store),
            #[cfg(feature = "redis")]
            QuotaStore::Redis(_) => None,
        }
    }

    /// The Redis store, when that is where usage is counted.
    #[cfg(feature = "redis")]
    pub fn redis_store(&self) -> Option<&RedisStore> {
        match &self.inner.store {
            QuotaStore::Redis(store) => Some(store),
            QuotaStore::Memory(_) => None,
        }
    }

    /// The cost limits of `subject` an alert may concern, or none when no alert can fire.
    fn alert_limits(&self, subject: &Subject, tier: Tier, actual: &Usage) -> Vec<Limit> {
        if actual.cost_micros == 0 || self.resolved().policy.alerts.is_empty() {
            return Vec::new();
        }
        self.limits(subject, tier)
            .limits
            .iter()
            .filter(|l| l.resource == Resource::CostMicros && l.algorithm != Algorithm::PerRequest)
            .copied()
            .collect()
    }

    /// Raises the alerts whose threshold the commit of `actual` crossed; `used` is what each
    /// cost limit counts after it.
    fn alert_on_commit(
        &self,
        subject: &Subject,
        actual: &Usage,
        limits: &[Limit],
        mut used: impl FnMut(usize, &Limit) -> u64,
    ) {
        if limits.is_empty() {
            return;
        }
        let thresholds = &self.resolved().policy.alerts;
        for (i, limit) in limits.iter().enumerate() {
            let after = used(i, limit);
            let before = after.saturating_sub(actual.cost_micros);
            let percent = |used: u64| u128::from(used) * 100 / u128::from(limit.amount.max(1));
            for &t in thresholds
                .iter()
                .filter(|t| percent(before) < u128::from(**t) && percent(after) >= u128::from(**t))
            {
                let alert = CostAlert {
                    subject: subject.clone(),
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

fn log_denial(denial: &Denial) {
    tracing::info!(target: "ugc::quota", subject = %denial.subject, denial = %denial, enforcement = denial.enforcement.as_str(), "quota denied");
}
