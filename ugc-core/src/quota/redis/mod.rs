//! The Redis store: quota shared by every process of a deployment.
//!
//! Each reservation is one round trip: one Lua script (`script.lua`, sent by EVALSHA, loaded
//! again on NOSCRIPT) checks every limit of every subject of the request against Redis `TIME`
//! and takes the estimate from all of them, or from none. The semantics are the memory
//! store's: sliding windows in the same 8 + 1 buckets (one hash per limit, a field per bucket
//! index), GCRA with a stored theoretical arrival time, per-request limits without state,
//! in-flight and queue counters; every key has a TTL (window plus one bucket; the counters a
//! safety net), so a crashed process leaks nothing forever.
//!
//! When Redis does not answer within [`RedisConfig::timeout`], the [`FailMode`] decides, and
//! a [`CircuitBreaker`] stops paying that timeout on every call while Redis stays down.

mod fail_mode;
mod keys;

pub use fail_mode::FailMode;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, ScriptInvocation};
use smallvec::SmallVec;
use tokio_util::task::TaskTracker;

use crate::breaker::{BreakerConfig, CircuitBreaker, SlidingWindow};
use crate::clock::SharedClock;
use crate::{Error, ErrorKind, Usage};

use super::denial::{Denial, DenialReason};
use super::enforcement::Enforcement;
use super::gcra::unit_nanos;
use super::limit::{Algorithm, Limit, LimitSet};
use super::memory::{Hold, MemoryStore};
use super::sliding::bucket_nanos;
use super::subject::Subject;
use fail_mode::ScaledCache;

const SCRIPT: &str = include_str!("script.lua");

/// Settings of a [`RedisStore`].
#[derive(Debug, Clone, PartialEq)]
pub struct RedisConfig {
    /// Where Redis is (`redis://host:port/db`).
    pub url: String,
    /// First part of every key (`<prefix>:{<subject>}:<limit>`): several deployments, or test
    /// runs, can share one Redis.
    pub prefix: String,
    /// Longest wait for one script; past it the fail mode applies. Short: a quota check must
    /// not become the slow part of a request.
    pub timeout: Duration,
    /// What to do when Redis is unreachable or slow.
    pub fail_mode: FailMode,
    /// The breaker that stops calling a dead Redis; while it is open the fail mode applies
    /// at once.
    pub breaker: BreakerConfig,
    /// TTL of the in-flight and queued counters, refreshed on every increment: a safety net
    /// for slots a crashed process never gave back.
    pub counter_ttl: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".to_owned(),
            prefix: "ugc".to_owned(),
            timeout: Duration::from_millis(50),
            fail_mode: FailMode::Closed,
            breaker: BreakerConfig {
                // Trip after a few failures out of the last twenty calls, then probe once
                // every five seconds: a dead Redis costs one timeout per probe, not per call.
                window: SlidingWindow::Count(20),
                minimum_calls: 5,
                failure_rate_threshold: 50.0,
                half_open_permits: 1,
                wait_in_open: Duration::from_secs(5),
                max_wait_in_half_open: Duration::from_secs(5),
                ..BreakerConfig::default()
            },
            counter_ttl: Duration::from_secs(3600),
        }
    }
}

/// Why Redis did not decide.
#[derive(Debug)]
enum Unavailable {
    BreakerOpen,
    Timeout(Duration),
    Redis(redis::RedisError),
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::BreakerOpen => f.write_str("breaker open"),
            Unavailable::Timeout(t) => write!(f, "no answer within {t:?}"),
            Unavailable::Redis(e) => write!(f, "{e}"),
        }
    }
}

/// The quota store shared through Redis. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    script: Script,
    config: RedisConfig,
    breaker: CircuitBreaker,
    fallback: MemoryStore,
    scaled: ScaledCache,
    /// Refunds of reservations dropped unsettled, running in the background.
    refunds: TaskTracker,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.config.prefix)
            .field("fail_mode", &self.inner.config.fail_mode)
            .field("breaker", &self.inner.breaker.state())
            .finish_non_exhaustive()
    }
}

/// What one reservation took in Redis, to settle it later: the keys and bucket indexes, so a
/// refund gives back exactly what was taken.
#[derive(Debug, Clone, Default)]
pub(crate) struct RedisHold {
    entries: Vec<Held>,
}

impl RedisHold {
    /// The subjects held, in order, once each.
    pub(crate) fn subjects(&self) -> Vec<&Subject> {
        let mut subjects: Vec<&Subject> = Vec::new();
        for held in &self.entries {
            if !subjects.contains(&&held.subject) {
                subjects.push(&held.subject);
            }
        }
        subjects
    }
}

#[derive(Debug, Clone)]
struct Held {
    subject: Subject,
    key: String,
    kind: HeldKind,
}

#[derive(Debug, Clone, Copy)]
enum HeldKind {
    Sliding {
        limit: Limit,
        amount: u64,
        bucket: i64,
    },
    Gcra {
        limit: Limit,
        amount: u64,
    },
    InFlight,
}

/// How a reservation was decided, and what it holds.
// Moved once per reservation into the `Reservation`, which holds the holds inline anyway.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Taken {
    /// Counted in Redis.
    Store(RedisHold),
    /// Admitted uncounted (fail open).
    Open,
    /// Counted by the local fallback limiter.
    Local(SmallVec<[Hold; 2]>),
}

/// One script entry of a reservation, and what a denial by it means.
struct Planned {
    subject: Subject,
    key: String,
    reason: DenialReason,
    kind: Option<HeldKind>,
}

/// Microseconds per GCRA unit, written so Lua reads it exactly (no exponent).
fn unit_micros(limit: &Limit) -> f64 {
    unit_nanos(limit.window, limit.amount) as f64 / 1000.0
}

fn bucket_micros(limit: &Limit) -> u64 {
    bucket_nanos(limit.window).div_ceil(1000).max(1)
}

/// A windowed key lives for its window plus one bucket: by then nothing in it counts.
fn window_ttl_ms(limit: &Limit) -> u64 {
    let window = u64::try_from(limit.window.as_nanos()).unwrap_or(u64::MAX);
    window
        .saturating_add(bucket_nanos(limit.window))
        .div_ceil(1_000_000)
        .max(1)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    /// Connects to `config.url` (the connection is re-established by itself after Redis
    /// restarts); `clock` drives the breaker's waits.
    pub async fn connect(config: RedisConfig, clock: SharedClock) -> Result<Self, Error> {
        let storage = |what: &str, e: redis::RedisError| {
            Error::new(
                ErrorKind::Storage,
                format!("redis quota store: {what}: {e}"),
            )
        };
        let client = redis::Client::open(config.url.as_str()).map_err(|e| storage("url", e))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            // Reconnection is retried on the next call anyway: do not queue calls behind a
            // long backoff.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100));
        let conn = ConnectionManager::new_with_config(client, manager_config)
            .await
            .map_err(|e| storage("connect", e))?;
        let breaker = CircuitBreaker::new(
            format!("redis-quota:{}", config.prefix),
            config.breaker.clone(),
            clock.clone(),
        )?;
        if let FailMode::LocalFallback { fraction } = config.fail_mode {
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("quota fail_mode: fraction must be within (0, 1], got {fraction}"),
                ));
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                conn,
                script: Script::new(SCRIPT),
                breaker,
                fallback: MemoryStore::new(clock),
                scaled: ScaledCache::default(),
                refunds: TaskTracker::new(),
                config,
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    /// The breaker guarding Redis (its state tells whether the fail mode is in force).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.inner.breaker
    }

    /// Gives back `hold` in a task on `runtime` (a reservation dropped unsettled).
    pub(crate) fn refund_in_background(&self, hold: RedisHold, runtime: &tokio::runtime::Handle) {
        let store = self.clone();
        self.inner
            .refunds
            .spawn_on(async move { store.settle(&hold, None).await }, runtime);
    }

    /// Waits until every refund of a reservation dropped unsettled before this call has
    /// reached Redis: before shutting down, so no refund is lost with the process.
    pub async fn refunds_settled(&self) {
        let refunds = &self.inner.refunds;
        refunds.close();
        refunds.wait().await;
        refunds.reopen();
    }

    /// The in-process limiter of [`FailMode::LocalFallback`] (empty under other modes).
    pub fn fallback(&self) -> &MemoryStore {
        &self.inner.fallback
    }

    /// Runs one script, unless the breaker is open; the outcome feeds the breaker.
    async fn call<T: redis::FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, Unavailable> {
        let permit = self
            .inner
            .breaker
            .try_acquire()
            .map_err(|_| Unavailable::BreakerOpen)?;
        let started = Instant::now();
        let mut conn = self.inner.conn.clone();
        let timeout = self.inner.config.timeout;
        match tokio::time::timeout(timeout, invocation.invoke_async(&mut conn)).await {
            Ok(Ok(value)) => {
                permit.on_success(started.elapsed());
                Ok(value)
            }
            Ok(Err(e)) => {
                permit.on_failure(started.elapsed());
                Err(Unavailable::Redis(e))
            }
            Err(_) => {
                permit.on_failure(started.elapsed());
                Err(Unavailable::Timeout(timeout))
            }
        }
    }

    /// Takes `usage` from every subject of `plan` under its limits, all or nothing; when
    /// Redis is unavailable, the fail mode decides.
    pub(crate) async fn reserve(
        &self,
        plan: &[(Subject, Arc<LimitSet>)],
        usage: &Usage,
    ) -> Result<Taken, Denial> {
        let prefix = self.inner.config.prefix.as_str();
        let counter_ttl = millis(self.inner.config.counter_ttl);
        let mut planned: Vec<Planned> = Vec::new();
        let mut invocation = self.inner.script.prepare_invoke();
        invocation.arg("reserve");
        for (subject, limits) in plan {
            if let Some(max) = limits.max_concurrent {
                let key = keys::in_flight_key(prefix, subject);
                invocation
                    .key(&key)
                    .arg("c")
                    .arg(max)
                    .arg(counter_ttl)
                    .arg(0)
                    .arg(0)
                    .arg(0);
                planned.push(Planned {
                    subject: subject.clone(),
                    key,
                    reason: DenialReason::Concurrency(max),
                    kind: Some(HeldKind::InFlight),
                });
            }
            // Per-request limits hold no state: the size of this request decides, and the
            // script only has to deny in the right order.
            if let Some(limit) = limits.limits.iter().find(|l| {
                l.algorithm == Algorithm::PerRequest && l.resource.amount(usage) > l.amount
            }) {
                let key = keys::per_request_key(prefix, subject);
                invocation
                    .key(&key)
                    .arg("x")
                    .arg(0)
                    .arg(0)
                    .arg(0)
                    .arg(0)
                    .arg(0);
                planned.push(Planned {
                    subject: subject.clone(),
                    key,
                    reason: DenialReason::Limit(*limit),
                    kind: None,
                });
            }
            for limit in limits
                .limits
                .iter()
                .filter(|l| l.algorithm != Algorithm::PerRequest)
            {
                let key = keys::limit_key(prefix, subject, limit);
                let amount = limit.resource.amount(usage);
                let kind = match limit.algorithm {
                    Algorithm::Gcra { burst } => {
                        invocation
                            .key(&key)
                            .arg("g")
                            .arg(amount)
                            .arg(unit_micros(limit))
                            .arg(burst)
                            .arg(window_ttl_ms(limit))
                            .arg(0);
                        HeldKind::Gcra {
                            limit: *limit,
                            amount,
                        }
                    }
                    Algorithm::SlidingWindow | Algorithm::PerRequest => {
                        invocation
                            .key(&key)
                            .arg("s")
                            .arg(amount)
                            .arg(limit.amount)
                            .arg(bucket_micros(limit))
                            .arg(window_ttl_ms(limit))
                            .arg(0);
                        HeldKind::Sliding {
                            limit: *limit,
                            amount,
                            bucket: 0,
                        }
                    }
                };
                planned.push(Planned {
                    subject: subject.clone(),
                    key,
                    reason: DenialReason::Limit(*limit),
                    kind: Some(kind),
                });
            }
        }
        if planned.is_empty() {
            return Ok(Taken::Store(RedisHold::default()));
        }
        let reply: Vec<i64> = match self.call(&invocation).await {
            Ok(reply) => reply,
            Err(why) => return self.fail(plan, usage, &why),
        };
        match reply.as_slice() {
            [1, _now, indexes @ ..] => {
                let entries = planned
                    .into_iter()
                    .zip(indexes.iter().chain(std::iter::repeat(&0)))
                    .filter_map(|(p, index)| {
                        let kind = match p.kind? {
                            HeldKind::Sliding { limit, amount, .. } => HeldKind::Sliding {
                                limit,
                                amount,
                                bucket: *index,
                            },
                            other => other,
                        };
                        Some(Held {
                            subject: p.subject,
                            key: p.key,
                            kind,
                        })
                    })
                    .collect();
                Ok(Taken::Store(RedisHold { entries }))
            }
            [0, entry, retry, ..] => {
                let index = usize::try_from(*entry)
                    .unwrap_or(usize::MAX)
                    .wrapping_sub(1);
                let Some(denied) = planned.into_iter().nth(index) else {
                    return self.fail(plan, usage, &Unavailable::Redis(bad_reply()));
                };
                // Concurrency and per-request denials have no wait that time alone ends.
                let retry_after = match denied.reason {
                    DenialReason::Limit(l) if l.algorithm != Algorithm::PerRequest => {
                        u64::try_from(*retry).ok().map(Duration::from_micros)
                    }
                    _ => None,
                };
                Err(Denial {
                    subject: denied.subject,
                    reason: denied.reason,
                    retry_after,
                    enforcement: Enforcement::Store,
                })
            }
            _ => self.fail(plan, usage, &Unavailable::Redis(bad_reply())),
        }
    }

    /// The fail mode's decision for a reservation Redis could not make.
    fn fail(
        &self,
        plan: &[(Subject, Arc<LimitSet>)],
        usage: &Usage,
        why: &Unavailable,
    ) -> Result<Taken, Denial> {
        let mode = self.inner.config.fail_mode;
        tracing::warn!(target: "ugc::quota", reason = %why, fail_mode = ?mode, "redis quota store unavailable");
        match mode {
            FailMode::Closed => Err(self.unavailable(plan.first().map(|(s, _)| s))),
            FailMode::Open => Ok(Taken::Open),
            FailMode::LocalFallback { fraction } => {
                let mut holds = SmallVec::new();
                for (subject, limits) in plan {
                    let scaled = self.inner.scaled.get(limits, fraction);
                    match self.inner.fallback.take(subject, &scaled, usage) {
                        Ok(hold) => holds.push(hold),
                        Err(mut denial) => {
                            for hold in &holds {
                                self.inner.fallback.settle(hold, None);
                            }
                            denial.enforcement = Enforcement::LocalFallback;
                            return Err(denial);
                        }
                    }
                }
                Ok(Taken::Local(holds))
            }
        }
    }

    fn unavailable(&self, subject: Option<&Subject>) -> Denial {
        Denial {
            subject: subject.cloned().unwrap_or_else(Subject::global),
            reason: DenialReason::StoreUnavailable,
            retry_after: self.inner.breaker.retry_after(),
            enforcement: Enforcement::FailClosed,
        }
    }

    /// Settles `hold`: with `actual`, the difference to what was taken is added or given
    /// back; without, everything is given back. Frees in-flight slots either way. When Redis
    /// is unavailable the settlement is lost (logged): the usage then stays counted until
    /// its windows pass, and a slot until the counter's TTL.
    pub(crate) async fn settle(&self, hold: &RedisHold, actual: Option<&Usage>) {
        let mut invocation = self.inner.script.prepare_invoke();
        invocation.arg("settle");
        let mut entries = 0;
        for held in &hold.entries {
            let (limit, amount) = match held.kind {
                HeldKind::InFlight => {
                    invocation
                        .key(&held.key)
                        .arg("c")
                        .arg(0)
                        .arg(0)
                        .arg(0)
                        .arg(0)
                        .arg(0);
                    entries += 1;
                    continue;
                }
                HeldKind::Sliding { limit, amount, .. } | HeldKind::Gcra { limit, amount } => {
                    (limit, amount)
                }
            };
            let real = actual.map_or(0, |u| limit.resource.amount(u));
            let (more, less) = (real.saturating_sub(amount), amount.saturating_sub(real));
            if more == 0 && less == 0 {
                continue;
            }
            match held.kind {
                HeldKind::Sliding { bucket, .. } => invocation
                    .key(&held.key)
                    .arg("s")
                    .arg(bucket)
                    .arg(less)
                    .arg(more)
                    .arg(bucket_micros(&limit))
                    .arg(window_ttl_ms(&limit)),
                _ => invocation
                    .key(&held.key)
                    .arg("g")
                    .arg(less)
                    .arg(more)
                    .arg(unit_micros(&limit))
                    .arg(window_ttl_ms(&limit))
                    .arg(0),
            };
            entries += 1;
        }
        if entries == 0 {
            return;
        }
        if let Err(why) = self.call::<redis::Value>(&invocation).await {
            tracing::warn!(target: "ugc::quota", reason = %why, "redis quota settlement lost");
        }
    }

    /// Settles holds of the local fallback limiter.
    pub(crate) fn settle_local(&self, hold: &Hold, actual: Option<&Usage>) {
        self.inner.fallback.settle(hold, actual);
    }

    /// How much of each of `limits` (windowed ones) `subject` uses now.
    pub(crate) async fn used(
        &self,
        subject: &Subject,
        limits: &[Limit],
    ) -> Result<Vec<u64>, Error> {
        if limits.is_empty() {
            return Ok(Vec::new());
        }
        let prefix = self.inner.config.prefix.as_str();
        let mut invocation = self.inner.script.prepare_invoke();
        invocation.arg("used");
        for limit in limits {
            invocation.key(keys::limit_key(prefix, subject, limit));
            match limit.algorithm {
                Algorithm::Gcra { .. } => invocation.arg("g").arg(unit_micros(limit)),
                _ => invocation.arg("s").arg(bucket_micros(limit)),
            };
            invocation.arg(0).arg(0).arg(0).arg(0);
        }
        let used: Vec<i64> = self.call(&invocation).await.map_err(|why| {
            Error::new(
                ErrorKind::Storage,
                format!("redis quota store unavailable: {why}"),
            )
        })?;
        Ok(used
            .into_iter()
            .map(|n| u64::try_from(n).unwrap_or(0))
            .collect())
    }

    /// Counts a queued job of `subject` under its `max_queued`.
    pub(crate) async fn enqueue(
        &self,
        subject: &Subject,
        limits: &Arc<LimitSet>,
    ) -> Result<Taken, Denial> {
        let mut invocation = self.inner.script.prepare_invoke();
        invocation
            .arg("enqueue")
            .key(keys::queued_key(&self.inner.config.prefix, subject))
            .arg(limits.max_queued.map_or(-1, i64::from))
            .arg(millis(self.inner.config.counter_ttl));
        match self.call::<i64>(&invocation).await {
            Ok(1) => Ok(Taken::Store(RedisHold::default())),
            Ok(_) => Err(Denial {
                subject: subject.clone(),
                reason: DenialReason::QueueDepth(limits.max_queued.unwrap_or(0)),
                retry_after: None,
                enforcement: Enforcement::Store,
            }),
            Err(why) => {
                let mode = self.inner.config.fail_mode;
                tracing::warn!(target: "ugc::quota", reason = %why, fail_mode = ?mode, "redis quota store unavailable");
                match mode {
                    FailMode::Closed => Err(self.unavailable(Some(subject))),
                    FailMode::Open => Ok(Taken::Open),
                    FailMode::LocalFallback { fraction } => {
                        let scaled = self.inner.scaled.get(limits, fraction);
                        self.inner
                            .fallback
                            .enqueue(subject, &scaled)
                            .map(|()| Taken::Local(SmallVec::new()))
                            .map_err(|mut d| {
                                d.enforcement = Enforcement::LocalFallback;
                                d
                            })
                    }
                }
            }
        }
    }

    /// A queued job of `subject` left the queue (counted locally too when Redis is down, so
    /// the fallback's count follows).
    pub(crate) async fn dequeue(&self, subject: &Subject) {
        let mut invocation = self.inner.script.prepare_invoke();
        invocation
            .arg("dequeue")
            .key(keys::queued_key(&self.inner.config.prefix, subject));
        if let Err(why) = self.call::<i64>(&invocation).await {
            tracing::warn!(target: "ugc::quota", reason = %why, "redis quota dequeue lost");
            self.inner.fallback.dequeue(subject);
        }
    }
}

fn bad_reply() -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::Client,
        "unexpected reply of the quota script",
    ))
}
