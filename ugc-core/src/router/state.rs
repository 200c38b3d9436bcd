use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::breaker::{CircuitBreaker, Permit, Rejected, State};

use super::outcome::SkipReason;
use super::self_limit::SelfLimit;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// What the router knows of one provider and credential: breaker, cooldowns, self-limits,
/// calls in flight and latency. Endpoints of the same provider and credential share it, so a
/// 429 cools down every model on that key, and a user's own key has state of its own.
pub(crate) struct EndpointState {
    pub(crate) breaker: CircuitBreaker,
    origin: Instant,
    /// Nanoseconds since `origin` until which the endpoint cools down (0: none).
    cooldown_until: AtomicU64,
    /// Nanoseconds since `origin` until which the endpoint is left out as misconfigured.
    misconfigured_until: AtomicU64,
    per_hour: Option<SelfLimit>,
    per_day: Option<SelfLimit>,
    max_in_flight: Option<u32>,
    in_flight: AtomicU32,
    /// f64 bits of the latency moving average in seconds; 0 until the first sample.
    ewma_secs: AtomicU64,
}

/// Why an endpoint cannot be used now, and from when it may be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unusable {
    pub(crate) reason: SkipReason,
    pub(crate) until: Option<Instant>,
}

/// A call slot: counts the call in flight until dropped.
pub(crate) struct InFlight<'a>(&'a AtomicU32);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl EndpointState {
    pub(crate) fn new(
        breaker: CircuitBreaker,
        origin: Instant,
        per_hour: Option<u32>,
        per_day: Option<u32>,
        max_in_flight: Option<u32>,
    ) -> Self {
        Self {
            breaker,
            origin,
            cooldown_until: AtomicU64::new(0),
            misconfigured_until: AtomicU64::new(0),
            per_hour: per_hour.map(|n| SelfLimit::new(n, HOUR)),
            per_day: per_day.map(|n| SelfLimit::new(n, DAY)),
            max_in_flight,
            in_flight: AtomicU32::new(0),
            ewma_secs: AtomicU64::new(0),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    fn instant(&self, nanos: u64) -> Instant {
        self.origin + Duration::from_nanos(nanos)
    }

    fn until(&self, word: &AtomicU64, now: Instant) -> Option<Instant> {
        let until = word.load(Ordering::Acquire);
        (until > self.nanos(now)).then(|| self.instant(until))
    }

    /// Cools the endpoint down until `until`; a longer cooldown already set is kept.
    pub(crate) fn cool_down(&self, until: Instant) {
        self.cooldown_until
            .fetch_max(self.nanos(until), Ordering::AcqRel);
    }

    /// Leaves the endpoint out until `until` (bad credentials, unknown model).
    pub(crate) fn mark_misconfigured(&self, until: Instant) {
        self.misconfigured_until
            .fetch_max(self.nanos(until), Ordering::AcqRel);
    }

    pub(crate) fn cooldown_until(&self, now: Instant) -> Option<Instant> {
        self.until(&self.cooldown_until, now)
    }

    pub(crate) fn misconfigured_until(&self, now: Instant) -> Option<Instant> {
        self.until(&self.misconfigured_until, now)
    }

    /// Checks everything but the breaker, without consuming anything.
    pub(crate) fn check(&self, now: Instant, concurrency_wait: Duration) -> Result<(), Unusable> {
        if let Some(until) = self.misconfigured_until(now) {
            return Err(Unusable {
                reason: SkipReason::Misconfigured,
                until: Some(until),
            });
        }
        if let Some(until) = self.cooldown_until(now) {
            return Err(Unusable {
                reason: SkipReason::CoolingDown,
                until: Some(until),
            });
        }
        if self
            .max_in_flight
            .is_some_and(|max| self.in_flight.load(Ordering::Acquire) >= max)
        {
            let until = Some(now + concurrency_wait);
            return Err(Unusable {
                reason: SkipReason::AtConcurrencyLimit,
                until,
            });
        }
        for (limit, reason) in self.self_limits() {
            let at = limit.available_at(now);
            if at > now {
                return Err(Unusable {
                    reason,
                    until: Some(at),
                });
            }
        }
        Ok(())
    }

    /// Takes a breaker permit, a self-limit slot and an in-flight slot, or none of them.
    pub(crate) fn admit(&self, now: Instant) -> Result<(Permit<'_>, InFlight<'_>), Unusable> {
        let permit = self.breaker.try_acquire().map_err(|r| rejected(r, now))?;
        for (limit, reason) in self.self_limits() {
            // Checked just before; a concurrent dispatch may have taken the last slot.
            limit.try_take(now).map_err(|at| Unusable {
                reason,
                until: Some(at),
            })?;
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Ok((permit, InFlight(&self.in_flight)))
    }

    fn self_limits(&self) -> impl Iterator<Item = (&SelfLimit, SkipReason)> {
        let hour = self.per_hour.as_ref().map(|l| (l, SkipReason::HourlyLimit));
        let day = self.per_day.as_ref().map(|l| (l, SkipReason::DailyLimit));
        hour.into_iter().chain(day)
    }

    /// Why the endpoint cannot take a call now, if it cannot (breaker included).
    pub(crate) fn unusable(&self, now: Instant, concurrency_wait: Duration) -> Option<SkipReason> {
        if let Err(u) = self.check(now, concurrency_wait) {
            return Some(u.reason);
        }
        match self.breaker.state() {
            State::Open => Some(SkipReason::BreakerOpen),
            State::ForcedOpen => Some(SkipReason::ForcedOpen),
            State::HalfOpen if self.breaker.retry_after() != Some(Duration::ZERO) => {
                Some(SkipReason::HalfOpenBusy)
            }
            _ => None,
        }
    }

    /// When the endpoint can next take a call: `Some(now)` if now, `None` if not without a
    /// manual action (forced open).
    pub(crate) fn usable_at(&self, now: Instant) -> Option<Instant> {
        let breaker = self.breaker.retry_after()?;
        let mut at = now + breaker;
        for until in [self.misconfigured_until(now), self.cooldown_until(now)]
            .into_iter()
            .flatten()
        {
            at = at.max(until);
        }
        for (limit, _) in self.self_limits() {
            at = at.max(limit.available_at(now));
        }
        Some(at)
    }

    pub(crate) fn record_latency(&self, latency: Duration, alpha: f64) {
        let sample = latency.as_secs_f64();
        let old = f64::from_bits(self.ewma_secs.load(Ordering::Relaxed));
        let new = if old == 0.0 {
            sample
        } else {
            alpha * sample + (1.0 - alpha) * old
        };
        // A lost update under a race only drops one sample from an average.
        self.ewma_secs.store(new.to_bits(), Ordering::Relaxed);
    }

    /// The latency moving average, `None` before the first success.
    pub(crate) fn latency(&self) -> Option<Duration> {
        let secs = f64::from_bits(self.ewma_secs.load(Ordering::Relaxed));
        (secs > 0.0).then(|| Duration::from_secs_f64(secs))
    }

    pub(crate) fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Acquire)
    }

    pub(crate) fn self_limit_usage(&self, now: Instant) -> [Option<(u32, u32)>; 2] {
        let usage = |l: &Option<SelfLimit>| l.as_ref().map(|l| (l.used(now), l.limit()));
        [usage(&self.per_hour), usage(&self.per_day)]
    }
}

fn rejected(r: Rejected, now: Instant) -> Unusable {
    let reason = match r.state {
        State::ForcedOpen => SkipReason::ForcedOpen,
        State::HalfOpen => SkipReason::HalfOpenBusy,
        _ => SkipReason::BreakerOpen,
    };
    Unusable {
        reason,
        until: r.retry_after.map(|d| now + d),
    }
}
