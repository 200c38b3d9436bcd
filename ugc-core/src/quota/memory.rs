//! The in-memory store (the embedded default): subjects sharded over mutex-guarded maps, so
//! reservations of different subjects rarely meet, and a subject's limits are checked and
//! taken under one short lock. Idle subjects are evicted, so memory stays bounded.

use std::collections::HashMap;
use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use smallvec::SmallVec;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::Usage;
use crate::clock::SharedClock;

use super::denial::{Denial, DenialReason};
use super::enforcement::Enforcement;
use super::gcra::{Gcra, unit_nanos};
use super::limit::{Algorithm, Limit, LimitSet};
use super::sliding::{SlidingCounter, bucket_nanos};
use super::subject::Subject;

const SHARDS: usize = 64;

/// What one subject's limits hold. Kept small: the limits themselves live once in the shared
/// `LimitSet`, and the states are aligned with its windowed limits.
#[derive(Debug)]
struct Entry {
    set: Arc<LimitSet>,
    states: Box<[State]>,
    in_flight: u32,
    queued: u32,
    /// Nanoseconds since the origin of the last use.
    touched: u64,
    /// The longest window among its limits plus a bucket: idle longer, it holds nothing.
    horizon: u64,
}

fn windowed(set: &LimitSet) -> impl Iterator<Item = &Limit> {
    set.limits
        .iter()
        .filter(|l| l.algorithm != Algorithm::PerRequest)
}

#[derive(Debug)]
enum State {
    Sliding(SlidingCounter),
    Gcra(Gcra),
}

/// What a reservation took from one subject, to settle it later.
#[derive(Debug, Clone)]
pub(crate) struct Hold {
    pub(crate) subject: Subject,
    // Inline: a subject rarely has more than three windowed limits, and a reservation then
    // allocates nothing.
    taken: SmallVec<[Taken; 3]>,
    concurrent: bool,
}

impl Hold {
    /// Whether it holds a concurrency slot to give back.
    pub(crate) fn concurrent(&self) -> bool {
        self.concurrent
    }
}

#[derive(Debug, Clone, Copy)]
struct Taken {
    limit: Limit,
    amount: u64,
    /// Sliding bucket index (unused by GCRA).
    bucket: u64,
}

/// The in-memory quota store.
pub struct MemoryStore {
    shards: Box<[Mutex<HashMap<Subject, Entry, RandomState>>]>,
    hasher: RandomState,
    clock: SharedClock,
    origin: Instant,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("subjects", &self.len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Entries are plain counters; a panic elsewhere leaves them usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryStore {
    /// An empty store reading time from `clock`.
    pub fn new(clock: SharedClock) -> Self {
        let origin = clock.now();
        // Randomly seeded per store, as hashbrown does: subject ids come from users.
        let hasher = RandomState::default();
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(hasher.clone())))
                .collect(),
            hasher,
            clock,
            origin,
        }
    }

    /// Nanoseconds since the store's origin (584 years fit).
    fn now(&self) -> u64 {
        u64::try_from(
            self.clock
                .now()
                .saturating_duration_since(self.origin)
                .as_nanos(),
        )
        .unwrap_or(u64::MAX)
    }

    fn shard(&self, subject: &Subject) -> &Mutex<HashMap<Subject, Entry, RandomState>> {
        // The top bits pick the shard, so shards and the maps' buckets stay independent.
        let hash = self.hasher.hash_one(subject);
        &self.shards[(hash >> 58) as usize % SHARDS]
    }

    /// Subjects tracked now (evicted ones excluded).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// True when no subject is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every subject idle for longer than its longest window, with nothing in flight or
    /// queued: it holds no usage any more. Returns how many were dropped.
    pub fn evict_idle(&self) -> usize {
        let now = self.now();
        self.shards
            .iter()
            .map(|shard| {
                let mut map = lock(shard);
                let before = map.len();
                map.retain(|_, e| !e.is_idle(now));
                // Tables never shrink by themselves: give the memory of a burst back.
                if map.len() < map.capacity() / 4 {
                    map.shrink_to_fit();
                }
                before - map.len()
            })
            .sum()
    }

    /// Takes `usage` from `subject` under `limits`, all limits or none.
    pub(crate) fn take(
        &self,
        subject: &Subject,
        limits: &Arc<LimitSet>,
        usage: &Usage,
    ) -> Result<Hold, Denial> {
        let now = self.now();
        let mut map = lock(self.shard(subject));
        // Look up first: cloning the subject for `entry` would cost an atomic on every hit.
        if let Some(entry) = map.get_mut(subject) {
            return entry.take(subject, limits, usage, now);
        }
        map.entry(subject.clone())
            .or_insert_with(|| Entry::new(limits))
            .take(subject, limits, usage, now)
    }

    /// Settles `hold`: with `actual`, the difference to what was taken is added or given back;
    /// without, everything is given back (refund). Frees the concurrency slot either way.
    pub(crate) fn settle(&self, hold: &Hold, actual: Option<&Usage>) {
        let now = self.now();
        let mut map = lock(self.shard(&hold.subject));
        let Some(entry) = map.get_mut(&hold.subject) else {
            return;
        };
        if hold.concurrent {
            entry.in_flight = entry.in_flight.saturating_sub(1);
        }
        entry.touched = now;
        for taken in &hold.taken {
            let Some(state) = entry.state_of(&taken.limit) else {
                continue; // The limit was removed since: nothing left to settle.
            };
            let real = actual.map_or(0, |u| taken.limit.resource.amount(u));
            let (more, less) = (
                real.saturating_sub(taken.amount),
                taken.amount.saturating_sub(real),
            );
            match state {
                State::Sliding(c) => {
                    let index = now / bucket_nanos(taken.limit.window);
                    c.remove(taken.bucket, less);
                    c.add(index, more);
                }
                State::Gcra(g) => {
                    let unit = unit_nanos(taken.limit.window, taken.limit.amount);
                    g.remove(now, less, unit);
                    if more > 0 {
                        g.add(now, more, unit);
                    }
                }
            }
        }
    }

    /// How much of `limit` `subject` uses now (0 when untracked).
    pub(crate) fn used(&self, subject: &Subject, limit: &Limit) -> u64 {
        let now = self.now();
        let mut map = lock(self.shard(subject));
        let Some(entry) = map.get_mut(subject) else {
            return 0;
        };
        let Some(state) = entry.state_of(limit) else {
            return 0;
        };
        match state {
            State::Sliding(c) => c.used(now / bucket_nanos(limit.window)),
            State::Gcra(g) => g.used(now, unit_nanos(limit.window, limit.amount)),
        }
    }

    /// Counts a queued job of `subject` against `max`; `false` when the queue is full.
    pub(crate) fn enqueue(&self, subject: &Subject, limits: &Arc<LimitSet>) -> Result<(), Denial> {
        let now = self.now();
        let mut map = lock(self.shard(subject));
        let entry = map
            .entry(subject.clone())
            .or_insert_with(|| Entry::new(limits));
        entry.touched = now;
        match limits.max_queued {
            Some(max) if entry.queued >= max => Err(Denial {
                subject: subject.clone(),
                reason: DenialReason::QueueDepth(max),
                retry_after: None,
                enforcement: Enforcement::Store,
            }),
            _ => {
                entry.queued += 1;
                Ok(())
            }
        }
    }

    /// A queued job of `subject` left the queue.
    pub(crate) fn dequeue(&self, subject: &Subject) {
        if let Some(entry) = lock(self.shard(subject)).get_mut(subject) {
            entry.queued = entry.queued.saturating_sub(1);
        }
    }
}

impl Entry {
    /// Checks every limit of the subject, then takes `usage` from all of them, or none.
    fn take(
        &mut self,
        subject: &Subject,
        limits: &Arc<LimitSet>,
        usage: &Usage,
        now: u64,
    ) -> Result<Hold, Denial> {
        self.sync(limits);
        self.touched = now;
        let deny = |reason, wait: Option<u64>| Denial {
            subject: subject.clone(),
            reason,
            retry_after: wait.map(Duration::from_nanos),
            enforcement: Enforcement::Store,
        };
        if let Some(max) = limits.max_concurrent {
            if self.in_flight >= max {
                return Err(deny(DenialReason::Concurrency(max), None));
            }
        }
        // Per-request limits hold no state: only this request's size counts.
        if let Some(limit) = limits
            .limits
            .iter()
            .find(|l| l.algorithm == Algorithm::PerRequest && l.resource.amount(usage) > l.amount)
        {
            return Err(deny(DenialReason::Limit(*limit), None));
        }
        // Check every limit before taking any: all or nothing.
        for (limit, state) in windowed(limits).zip(self.states.iter_mut()) {
            let amount = limit.resource.amount(usage);
            let verdict = match (limit.algorithm, state) {
                (Algorithm::SlidingWindow, State::Sliding(c)) => {
                    let bucket = bucket_nanos(limit.window);
                    let index = now / bucket;
                    c.check(index, amount, limit.amount).map_err(|buckets| {
                        buckets.map(|b| {
                            index
                                .saturating_add(b)
                                .saturating_mul(bucket)
                                .saturating_sub(now)
                        })
                    })
                }
                (Algorithm::Gcra { burst }, State::Gcra(g)) => {
                    g.check(now, amount, unit_nanos(limit.window, limit.amount), burst)
                }
                _ => Ok(()),
            };
            if let Err(wait) = verdict {
                return Err(deny(DenialReason::Limit(*limit), wait));
            }
        }
        let mut taken = SmallVec::new();
        for (limit, state) in windowed(limits).zip(self.states.iter_mut()) {
            let amount = limit.resource.amount(usage);
            let bucket = match (limit.algorithm, state) {
                (Algorithm::SlidingWindow, State::Sliding(c)) => {
                    let index = now / bucket_nanos(limit.window);
                    c.add(index, amount);
                    index
                }
                (Algorithm::Gcra { .. }, State::Gcra(g)) => {
                    g.add(now, amount, unit_nanos(limit.window, limit.amount));
                    0
                }
                _ => continue,
            };
            taken.push(Taken {
                limit: *limit,
                amount,
                bucket,
            });
        }
        let concurrent = limits.max_concurrent.is_some();
        if concurrent {
            self.in_flight += 1;
        }
        Ok(Hold {
            subject: subject.clone(),
            taken,
            concurrent,
        })
    }

    fn new(limits: &Arc<LimitSet>) -> Self {
        Self {
            set: limits.clone(),
            states: windowed(limits).map(State::for_limit).collect(),
            in_flight: 0,
            queued: 0,
            touched: 0,
            horizon: horizon(limits),
        }
    }

    /// Follows a change of the subject's limits: a limit kept keeps its state, new limits
    /// start empty, removed ones go. The common case is one pointer comparison.
    fn sync(&mut self, limits: &Arc<LimitSet>) {
        if Arc::ptr_eq(&self.set, limits) {
            return;
        }
        let mut old: Vec<(Limit, State)> = windowed(&self.set)
            .copied()
            .zip(std::mem::take(&mut self.states))
            .collect();
        self.states = windowed(limits)
            .map(|limit| match old.iter().position(|(l, _)| l == limit) {
                Some(i) => old.swap_remove(i).1,
                None => State::for_limit(limit),
            })
            .collect();
        self.set = limits.clone();
        self.horizon = horizon(limits);
    }

    fn state_of(&mut self, limit: &Limit) -> Option<&mut State> {
        let index = windowed(&self.set).position(|l| l == limit)?;
        self.states.get_mut(index)
    }

    fn is_idle(&self, now: u64) -> bool {
        self.in_flight == 0 && self.queued == 0 && now.saturating_sub(self.touched) > self.horizon
    }
}

impl State {
    fn for_limit(limit: &Limit) -> Self {
        match limit.algorithm {
            Algorithm::Gcra { .. } => State::Gcra(Gcra::new()),
            Algorithm::SlidingWindow | Algorithm::PerRequest => {
                State::Sliding(SlidingCounter::new())
            }
        }
    }
}

/// A sliding window keeps one extra bucket; GCRA drains within its window.
fn horizon(limits: &LimitSet) -> u64 {
    windowed(limits)
        .map(|l| {
            u64::try_from(l.window.as_nanos())
                .unwrap_or(u64::MAX)
                .saturating_add(bucket_nanos(l.window))
        })
        .max()
        .unwrap_or(0)
}
