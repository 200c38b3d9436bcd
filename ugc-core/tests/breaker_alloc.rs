//! The breaker's closed path allocates nothing: counted by a global allocator that tallies
//! the allocations of the current thread.
#![allow(unsafe_code, clippy::unwrap_used, missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use ugc_core::breaker::{BreakerConfig, CircuitBreaker, SlidingWindow};
use ugc_core::clock::ManualClock;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn closed_path_allocates_nothing() {
    // The counter sees allocations, so a zero below means something.
    assert_eq!(
        allocations_during(|| drop(std::hint::black_box(Box::new(7u64)))),
        1
    );
    for window in [SlidingWindow::Count(100), SlidingWindow::Time(60)] {
        let config = BreakerConfig {
            window,
            ..BreakerConfig::default()
        };
        let breaker = CircuitBreaker::new("alloc", config, ManualClock::new().shared()).unwrap();
        let n = allocations_during(|| {
            for i in 0..10_000u32 {
                let permit = breaker.try_acquire().unwrap();
                if i % 10 == 0 {
                    permit.on_failure(Duration::from_millis(5));
                } else {
                    permit.on_success(Duration::from_millis(5));
                }
            }
        });
        assert_eq!(n, 0, "{window:?}");
        assert_eq!(breaker.state(), ugc_core::breaker::State::Closed);
    }
}
