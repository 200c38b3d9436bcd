//! Cost of the circuit breaker on the request path.
//!
//! `closed_path` is what every routed call pays (target <= 50 ns, no allocation);
//! `open_rejection` is what a call pays to skip an open endpoint; `closed_path_time_window`
//! adds the clock read of a time window. The system clock is used, as in production: the
//! manual clock takes a mutex and would measure itself. `clock_read_baseline` is one read of
//! that clock, the floor of every bench here that reads it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ugc_core::breaker::{BreakerConfig, CircuitBreaker, SlidingWindow, State};
use ugc_core::clock;

const ELAPSED: Duration = Duration::from_millis(120);

fn closed(config: BreakerConfig) -> CircuitBreaker {
    CircuitBreaker::new("bench", config, clock::system()).expect("valid config")
}

fn bench_breaker(c: &mut Criterion) {
    let mut group = c.benchmark_group("breaker");

    let breaker = closed(BreakerConfig::default());
    group.bench_function("closed_path", |b| {
        b.iter(|| {
            if let Ok(permit) = black_box(&breaker).try_acquire() {
                permit.on_success(black_box(ELAPSED));
            }
        });
    });

    let breaker = closed(BreakerConfig {
        window: SlidingWindow::Time(60),
        ..BreakerConfig::default()
    });
    group.bench_function("closed_path_time_window", |b| {
        b.iter(|| {
            if let Ok(permit) = black_box(&breaker).try_acquire() {
                permit.on_success(black_box(ELAPSED));
            }
        });
    });

    // Default wait in open is 60 s: longer than the whole measurement.
    let breaker = closed(BreakerConfig::default());
    while breaker.state() == State::Closed {
        breaker.try_acquire().expect("closed").on_failure(ELAPSED);
    }
    group.bench_function("open_rejection", |b| {
        b.iter(|| black_box(black_box(&breaker).try_acquire().err()));
    });
    assert_eq!(breaker.state(), State::Open);

    // Not the breaker: the floor under the two benches above that read the clock.
    let system = clock::system();
    group.bench_function("clock_read_baseline", |b| {
        b.iter(|| black_box(system.now()));
    });

    group.finish();
}

criterion_group!(breaker, bench_breaker);
criterion_main!(breaker);
