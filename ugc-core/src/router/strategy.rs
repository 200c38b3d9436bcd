use std::cmp::Ordering;

use crate::Usage;

/// How the router orders the endpoints that can serve a request. The first usable endpoint
/// in the order gets the request; the rest are its failover order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// Lowest priority number first (free before paid); equal priorities are shuffled by
    /// weight, so a priority group shares load.
    #[default]
    Priority,
    /// A weighted random order of all endpoints.
    WeightedRandom,
    /// Cheapest estimated cost first; ties by priority.
    LowestCost,
    /// Power of two choices over the latency moving average: of two random endpoints the
    /// faster goes first, the rest follow by latency. Endpoints without samples count as fast,
    /// so new ones get explored.
    LowestLatency,
}

/// What a strategy needs to know of one candidate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub(crate) index: usize,
    pub(crate) priority: u32,
    pub(crate) weight: u32,
    pub(crate) latency_secs: f64,
    /// The endpoint's estimate of the request, cost included.
    pub(crate) estimate: Usage,
}

impl Strategy {
    /// Orders `candidates` in place.
    pub(crate) fn order(self, candidates: &mut [Candidate]) {
        if candidates.len() < 2 {
            return;
        }
        match self {
            Strategy::Priority => {
                let keys = weighted_keys(candidates);
                sort_by_key(candidates, &keys, |c| (c.priority, 0));
            }
            Strategy::WeightedRandom => {
                let keys = weighted_keys(candidates);
                sort_by_key(candidates, &keys, |_| (0, 0));
            }
            Strategy::LowestCost => {
                candidates.sort_by_key(|c| (c.estimate.cost_micros, c.priority, c.index));
            }
            Strategy::LowestLatency => {
                candidates.sort_by(|a, b| {
                    a.latency_secs
                        .partial_cmp(&b.latency_secs)
                        .unwrap_or(Ordering::Equal)
                });
                let n = candidates.len();
                let a = fastrand::usize(..n);
                let b = (a + 1 + fastrand::usize(..n - 1)) % n;
                // Sorted ascending, so the smaller index of the two random picks is the faster.
                let first = a.min(b);
                candidates[..=first].rotate_right(1);
            }
        }
    }
}

/// Efraimidis–Spirakis keys: sorting by `u^(1/w)` descending is a weighted random order.
fn weighted_keys(candidates: &[Candidate]) -> Vec<f64> {
    candidates
        .iter()
        .map(|c| fastrand::f64().powf(1.0 / f64::from(c.weight.max(1))))
        .collect()
}

fn sort_by_key(
    candidates: &mut [Candidate],
    keys: &[f64],
    primary: impl Fn(&Candidate) -> (u32, u32),
) {
    let mut order: Vec<(usize, Candidate)> = candidates.iter().copied().enumerate().collect();
    order.sort_by(|(i, a), (j, b)| {
        primary(a)
            .cmp(&primary(b))
            .then_with(|| keys[*j].partial_cmp(&keys[*i]).unwrap_or(Ordering::Equal))
    });
    for (slot, (_, c)) in candidates.iter_mut().zip(order) {
        *slot = c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(index: usize, priority: u32, weight: u32, cost: u64, latency: f64) -> Candidate {
        Candidate {
            index,
            priority,
            weight,
            latency_secs: latency,
            estimate: Usage {
                cost_micros: cost,
                ..Usage::default()
            },
        }
    }

    fn indices(c: &[Candidate]) -> Vec<usize> {
        c.iter().map(|c| c.index).collect()
    }

    #[test]
    fn priority_orders_by_priority_number() {
        let mut c = [
            candidate(0, 2, 1, 0, 0.0),
            candidate(1, 0, 1, 0, 0.0),
            candidate(2, 1, 1, 0, 0.0),
        ];
        Strategy::Priority.order(&mut c);
        assert_eq!(indices(&c), [1, 2, 0]);
    }

    #[test]
    fn lowest_cost_orders_by_cost_then_priority() {
        let mut c = [
            candidate(0, 0, 1, 30, 0.0),
            candidate(1, 5, 1, 10, 0.0),
            candidate(2, 1, 1, 10, 0.0),
        ];
        Strategy::LowestCost.order(&mut c);
        assert_eq!(indices(&c), [2, 1, 0]);
    }

    #[test]
    fn weighted_random_follows_the_weights() {
        let mut first = [0u32; 2];
        for _ in 0..20_000 {
            let mut c = [candidate(0, 0, 1, 0, 0.0), candidate(1, 0, 3, 0, 0.0)];
            Strategy::WeightedRandom.order(&mut c);
            first[c[0].index] += 1;
        }
        let share = f64::from(first[1]) / 20_000.0;
        assert!((0.72..0.78).contains(&share), "weight 3 of 4 led {share}");
    }

    #[test]
    fn lowest_latency_never_leads_with_the_slowest_of_three() {
        for _ in 0..1_000 {
            let mut c = [
                candidate(0, 0, 1, 0, 0.9),
                candidate(1, 0, 1, 0, 0.1),
                candidate(2, 0, 1, 0, 0.5),
            ];
            Strategy::LowestLatency.order(&mut c);
            assert_ne!(c[0].index, 0);
            let mut rest = indices(&c);
            rest.sort_unstable();
            assert_eq!(rest, [0, 1, 2]);
        }
    }
}
