use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// An exact rolling-window request limit (sliding log): at most `limit` requests in any
/// window of `period`. Free tiers count this way, so staying under it means the provider
/// never has to answer 429.
///
/// Memory is one `Instant` per allowed request, which is fine for per-endpoint limits
/// (hundreds to a few thousand a day); user quotas use the `quota` module instead.
#[derive(Debug)]
pub(crate) struct SelfLimit {
    limit: u32,
    period: Duration,
    log: Mutex<VecDeque<Instant>>,
}

impl SelfLimit {
    pub(crate) fn new(limit: u32, period: Duration) -> Self {
        Self {
            limit,
            period,
            log: Mutex::new(VecDeque::with_capacity(limit.min(4096) as usize)),
        }
    }

    fn evict(&self, log: &mut VecDeque<Instant>, now: Instant) {
        while log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.period)
        {
            log.pop_front();
        }
    }

    /// Counts one request at `now` if the limit allows; otherwise says when it will.
    pub(crate) fn try_take(&self, now: Instant) -> Result<(), Instant> {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        self.evict(&mut log, now);
        if log.len() < self.limit as usize {
            log.push_back(now);
            return Ok(());
        }
        Err(self.free_at(&log, now))
    }

    /// When the next request will be allowed (`now` if it is allowed now).
    pub(crate) fn available_at(&self, now: Instant) -> Instant {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        self.evict(&mut log, now);
        if log.len() < self.limit as usize {
            now
        } else {
            self.free_at(&log, now)
        }
    }

    /// Requests counted in the window ending at `now`.
    pub(crate) fn used(&self, now: Instant) -> u32 {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        self.evict(&mut log, now);
        log.len() as u32
    }

    pub(crate) fn limit(&self) -> u32 {
        self.limit
    }

    fn free_at(&self, log: &VecDeque<Instant>, now: Instant) -> Instant {
        // The (len - limit + 1)-th oldest entry must leave the window; with len == limit
        // that is the oldest. A limit of zero never frees.
        let over = log.len() + 1 - self.limit as usize;
        match log.get(over.saturating_sub(1)) {
            Some(t) if self.limit > 0 => *t + self.period,
            _ => now + Duration::from_secs(u64::from(u32::MAX)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_admits_more_than_the_limit_in_any_window() {
        let t0 = Instant::now();
        let limit = SelfLimit::new(3, Duration::from_secs(60));
        for s in [0, 10, 20] {
            assert!(limit.try_take(t0 + Duration::from_secs(s)).is_ok());
        }
        assert_eq!(
            limit.try_take(t0 + Duration::from_secs(30)),
            Err(t0 + Duration::from_secs(60))
        );
        assert_eq!(
            limit.available_at(t0 + Duration::from_secs(59)),
            t0 + Duration::from_secs(60)
        );
        assert!(limit.try_take(t0 + Duration::from_secs(60)).is_ok());
        assert_eq!(limit.used(t0 + Duration::from_secs(60)), 3);
        assert_eq!(limit.used(t0 + Duration::from_secs(200)), 0);
    }

    #[test]
    fn a_zero_limit_never_admits() {
        let t0 = Instant::now();
        let limit = SelfLimit::new(0, Duration::from_secs(1));
        assert!(limit.try_take(t0).is_err());
        assert!(limit.available_at(t0) > t0 + Duration::from_secs(3600));
    }
}
