//! A reservation and its settlement: commit, refund, or refund on drop.

use std::fmt;
use std::future::{Future, ready};

use smallvec::SmallVec;

use crate::Usage;

use super::enforcement::Enforcement;
use super::memory::{Hold, MemoryStore};
#[cfg(feature = "redis")]
use super::redis::{RedisHold, RedisStore};
use super::subject::Subject;
use super::{Quota, QuotaStore, StoreFuture, Tier};

/// What a reservation holds, by who decided it.
#[derive(Debug)]
pub(crate) enum Held {
    /// Taken from the memory store.
    Memory(SmallVec<[Hold; 2]>),
    /// Taken in Redis.
    #[cfg(feature = "redis")]
    Redis(RedisHold),
    /// Admitted by fail-open: nothing to give back.
    #[cfg(feature = "redis")]
    Open,
    /// Taken from the Redis store's local fallback limiter.
    #[cfg(feature = "redis")]
    Local(SmallVec<[Hold; 2]>),
}

/// Usage taken for one request; settle it with [`commit`](Reservation::commit) or
/// [`refund`](Reservation::refund). Dropped unsettled, it refunds: at once for the memory
/// store; for Redis by a task spawned on the current Tokio runtime (without a runtime the
/// refund is logged and lost, and the usage stays counted until its windows pass). Await
/// [`RedisStore::refunds_settled`](super::RedisStore::refunds_settled) before shutting down.
#[must_use = "a reservation is refunded when dropped; commit it once the call succeeded"]
pub struct Reservation {
    quota: Quota,
    held: Held,
    tier: Tier,
    estimate: Usage,
    settled: bool,
    enforcement: Enforcement,
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subjects: Vec<&Subject> = match &self.held {
            Held::Memory(holds) => holds.iter().map(|h| &h.subject).collect(),
            #[cfg(feature = "redis")]
            Held::Local(holds) => holds.iter().map(|h| &h.subject).collect(),
            #[cfg(feature = "redis")]
            Held::Redis(hold) => hold.subjects(),
            #[cfg(feature = "redis")]
            Held::Open => Vec::new(),
        };
        f.debug_struct("Reservation")
            .field("subjects", &subjects)
            .field("enforcement", &self.enforcement)
            .finish_non_exhaustive()
    }
}

/// Settles holds of an in-memory limiter: the estimate is already counted, so only a
/// difference or a concurrency slot needs the store.
fn settle_memory(
    quota: &Quota,
    store: &MemoryStore,
    holds: &[Hold],
    tier: Tier,
    estimate: &Usage,
    actual: &Usage,
) {
    for hold in holds {
        if actual != estimate || hold.concurrent() {
            store.settle(hold, Some(actual));
        }
        let limits = quota.alert_limits(&hold.subject, tier, actual);
        quota.alert_on_commit(&hold.subject, actual, &limits, |_, limit| {
            store.used(&hold.subject, limit)
        });
    }
}

impl Reservation {
    pub(crate) fn new(
        quota: Quota,
        held: Held,
        tier: Tier,
        estimate: Usage,
        enforcement: Enforcement,
    ) -> Self {
        Self {
            quota,
            held,
            tier,
            estimate,
            settled: false,
            enforcement,
        }
    }

    /// Who decided this reservation: the store, or a fail mode while it was unavailable.
    pub fn enforcement(&self) -> Enforcement {
        self.enforcement
    }

    /// The estimate taken.
    pub fn estimate(&self) -> Usage {
        self.estimate
    }

    /// Settles with the real usage: more than estimated is added (even past a limit: it was
    /// spent), less is given back. Committing exactly the estimate changes nothing but a
    /// concurrency slot, and costs the Redis store no round trip unless it holds one.
    ///
    /// The memory store settles before this returns (the future is ready at once); the
    /// Redis store settles when the future is polled, and a commit future dropped unpolled
    /// refunds, as a dropped reservation does.
    pub fn commit(mut self, actual: Usage) -> impl Future<Output = ()> + Send {
        match (&self.held, &self.quota.inner.store) {
            (Held::Memory(holds), QuotaStore::Memory(store)) => {
                self.settled = true;
                settle_memory(
                    &self.quota,
                    store,
                    holds,
                    self.tier,
                    &self.estimate,
                    &actual,
                );
            }
            #[cfg(feature = "redis")]
            (Held::Redis(_), QuotaStore::Redis(_)) => {
                return StoreFuture::Right(Box::pin(async move {
                    self.settled = true;
                    if let (Held::Redis(hold), QuotaStore::Redis(store)) =
                        (&self.held, &self.quota.inner.store)
                    {
                        commit_redis(&self.quota, store, hold, self.tier, &actual).await;
                    }
                }));
            }
            #[cfg(feature = "redis")]
            (Held::Local(holds), QuotaStore::Redis(store)) => {
                self.settled = true;
                settle_memory(
                    &self.quota,
                    store.fallback(),
                    holds,
                    self.tier,
                    &self.estimate,
                    &actual,
                );
            }
            #[allow(unreachable_patterns)]
            _ => self.settled = true,
        }
        StoreFuture::Left(ready(()))
    }

    /// Gives everything back (the call failed).
    pub async fn refund(mut self) {
        self.settled = true;
        match (&self.held, &self.quota.inner.store) {
            (Held::Memory(holds), QuotaStore::Memory(store)) => {
                for hold in holds {
                    store.settle(hold, None);
                }
            }
            #[cfg(feature = "redis")]
            (Held::Redis(hold), QuotaStore::Redis(store)) => {
                Box::pin(store.settle(hold, None)).await;
            }
            #[cfg(feature = "redis")]
            (Held::Local(holds), QuotaStore::Redis(store)) => {
                for hold in holds {
                    store.settle_local(hold, None);
                }
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
}

#[cfg(feature = "redis")]
async fn commit_redis(
    quota: &Quota,
    store: &RedisStore,
    hold: &RedisHold,
    tier: Tier,
    actual: &Usage,
) {
    store.settle(hold, Some(actual)).await;
    for subject in hold.subjects() {
        let limits = quota.alert_limits(subject, tier, actual);
        if limits.is_empty() {
            continue;
        }
        match store.used(subject, &limits).await {
            Ok(used) => quota.alert_on_commit(subject, actual, &limits, |i, _| {
                used.get(i).copied().unwrap_or(0)
            }),
            Err(e) => {
                tracing::warn!(target: "ugc::quota", error = %e, "cost alerts skipped: usage unknown");
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        match (&mut self.held, &self.quota.inner.store) {
            (Held::Memory(holds), QuotaStore::Memory(store)) => {
                for hold in holds.iter() {
                    store.settle(hold, None);
                }
            }
            #[cfg(feature = "redis")]
            (Held::Redis(hold), QuotaStore::Redis(store)) => {
                let hold = std::mem::take(hold);
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => store.refund_in_background(hold, &runtime),
                    Err(_) => {
                        tracing::warn!(target: "ugc::quota", "redis reservation dropped outside a Tokio runtime: not refunded");
                    }
                }
            }
            #[cfg(feature = "redis")]
            (Held::Local(holds), QuotaStore::Redis(store)) => {
                for hold in holds.iter() {
                    store.settle_local(hold, None);
                }
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
}
