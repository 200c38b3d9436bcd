//! What a reservation does when Redis is unreachable or slow, and the scaled-down limits of
//! the local fallback.

use std::sync::{Arc, Mutex, PoisonError};

use crate::quota::limit::{Algorithm, LimitSet};

/// The policy applied when the Redis store cannot answer in time (or its breaker is open).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum FailMode {
    /// Deny: nothing is admitted that the shared store did not count (the safe default for
    /// budgets).
    #[default]
    Closed,
    /// Admit without counting: availability over accuracy.
    Open,
    /// Count in an in-process limiter whose limits are the configured ones times `fraction`
    /// (0.25: each process admits a quarter, as if four shared the load).
    LocalFallback {
        /// Share of every windowed amount, burst, and concurrency or queue cap, within (0, 1].
        fraction: f64,
    },
}

/// Scales a count by `fraction`, rounding down, never below one: a limit of zero would deny
/// everything, which is `Closed`'s job.
fn scale(n: u64, fraction: f64) -> u64 {
    // The product is finite and non-negative for a fraction within (0, 1]; `as` saturates.
    ((n as f64 * fraction).floor() as u64).max(1)
}

fn scale_cap(n: u32, fraction: f64) -> u32 {
    u32::try_from(scale(u64::from(n), fraction)).unwrap_or(u32::MAX)
}

/// `set` with every windowed amount, GCRA burst and cap scaled by `fraction`. Per-request
/// limits stay: they bound the size of one request, not throughput.
pub(crate) fn scaled(set: &LimitSet, fraction: f64) -> LimitSet {
    let limits = set
        .limits
        .iter()
        .map(|limit| {
            let mut limit = *limit;
            match limit.algorithm {
                Algorithm::PerRequest => {}
                Algorithm::SlidingWindow => limit.amount = scale(limit.amount, fraction),
                Algorithm::Gcra { burst } => {
                    limit.amount = scale(limit.amount, fraction);
                    limit.algorithm = Algorithm::Gcra {
                        burst: scale(burst, fraction),
                    };
                }
            }
            limit
        })
        .collect::<Vec<_>>();
    LimitSet {
        limits,
        max_concurrent: set.max_concurrent.map(|n| scale_cap(n, fraction)),
        max_queued: set.max_queued.map(|n| scale_cap(n, fraction)),
    }
}

/// Scaled sets by original set, so the fallback store sees the same `Arc` for the same limits
/// (its entries then keep their state without re-syncing).
#[derive(Debug, Default)]
pub(crate) struct ScaledCache {
    sets: Mutex<Vec<(Arc<LimitSet>, Arc<LimitSet>)>>,
}

/// Bounds the cache: policies rarely hold more distinct sets than this.
const CACHED_SETS: usize = 256;

impl ScaledCache {
    pub(crate) fn get(&self, set: &Arc<LimitSet>, fraction: f64) -> Arc<LimitSet> {
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, scaled)) = sets.iter().find(|(s, _)| Arc::ptr_eq(s, set)) {
            return scaled.clone();
        }
        if sets.len() >= CACHED_SETS {
            sets.clear();
        }
        let new = Arc::new(scaled(set, fraction));
        sets.push((set.clone(), new.clone()));
        new
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::quota::limit::{Limit, Resource};

    #[test]
    fn every_amount_is_scaled_down_but_never_to_zero() {
        let set = LimitSet::new([
            Limit::per(Resource::Requests, 40, Duration::from_secs(60)),
            Limit::rate(Resource::Requests, 60, Duration::from_secs(60), 8),
            Limit::per_request(Resource::Characters, 500),
            Limit::per(Resource::CostMicros, 2, Duration::from_secs(60)),
        ])
        .max_concurrent(2);
        let s = scaled(&set, 0.25);
        assert_eq!(s.limits[0].amount, 10);
        assert_eq!(s.limits[1].amount, 15);
        assert_eq!(s.limits[1].algorithm, Algorithm::Gcra { burst: 2 });
        assert_eq!(s.limits[2].amount, 500);
        assert_eq!(s.limits[3].amount, 1);
        assert_eq!(s.max_concurrent, Some(1));
    }
}
