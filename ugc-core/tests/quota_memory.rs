//! Memory of the in-memory quota store: bytes per tracked subject, and eviction of idle ones.
//! Heap bytes are counted by a global allocator (net of frees), so the figure is exact.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use ugc_core::Usage;
use ugc_core::clock::ManualClock;
use ugc_core::quota::{Limit, LimitSet, MemoryStore, Quota, QuotaPolicy, Resource, Subject, Tier};

/// The memory store's futures complete on their first poll.
trait Now: std::future::Future + Sized {
    #[allow(clippy::expect_used)]
    fn now(self) -> Self::Output {
        futures::FutureExt::now_or_never(self).expect("a memory quota future completes at once")
    }
}
impl<F: std::future::Future> Now for F {}

struct Counting;

static NET: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        NET.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NET.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_million_idle_subjects_are_evicted_and_each_costs_a_bounded_number_of_bytes() {
    const SUBJECTS: usize = 1_000_000;
    let clock = ManualClock::new();
    let policy = QuotaPolicy {
        tiers: [(
            Tier::Guest,
            LimitSet::new([
                Limit::per(Resource::Requests, 10, Duration::from_secs(3600)),
                Limit::per(Resource::Requests, 50, Duration::from_secs(86_400)),
                Limit::rate(Resource::Requests, 60, Duration::from_secs(60), 10),
            ]),
        )]
        .into(),
        ..QuotaPolicy::default()
    };
    let quota = Quota::new(policy, Arc::new(MemoryStore::new(clock.shared())));
    let store = quota.memory_store().unwrap().clone();
    let ids: Vec<Subject> = (0..SUBJECTS)
        .map(|i| Subject::key(format!("k{i:07}")))
        .collect();

    let before = NET.load(Ordering::Relaxed);
    for id in &ids {
        quota
            .reserve(std::slice::from_ref(id), Tier::Guest, Usage::request())
            .now()
            .unwrap()
            .commit(Usage::request())
            .now();
    }
    let tracked = NET.load(Ordering::Relaxed) - before;
    assert_eq!(store.len(), SUBJECTS);
    let per_subject = tracked as f64 / SUBJECTS as f64;
    // Printed for docs/benchmarks.md; the ids themselves are held by the test, not the store.
    println!("bytes per tracked subject (3 limits, map included): {per_subject:.0}");
    assert!(per_subject <= 512.0, "{per_subject} bytes per subject");

    clock.advance(Duration::from_secs(86_400 + 10_801));
    assert_eq!(store.evict_idle(), SUBJECTS);
    assert_eq!(store.len(), 0);
    let left = NET.load(Ordering::Relaxed) - before;
    // Emptied maps keep some capacity; far less than the entries did.
    assert!(left < tracked / 4, "{left} bytes left of {tracked}");
}
