//! Concurrency tests of the circuit breaker: many threads racing on one breaker, with a
//! manual clock so no test sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Named so that `cargo test breaker` selects these tests too.
mod breaker_concurrency {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier, Mutex};
    use std::thread;
    use std::time::Duration;

    use ugc_core::breaker::{
        BreakerConfig, CircuitBreaker, Rejected, SlidingWindow, State, Transition,
    };
    use ugc_core::clock::ManualClock;

    const FAST: Duration = Duration::from_millis(5);
    const WAIT: Duration = Duration::from_secs(10);

    /// One failure trips; three trial calls.
    fn twitchy(permits: u32) -> BreakerConfig {
        BreakerConfig {
            window: SlidingWindow::Count(1),
            minimum_calls: 1,
            half_open_permits: permits,
            wait_in_open: WAIT,
            ..BreakerConfig::default()
        }
    }

    /// Races `threads` threads on `try_acquire` and returns how many got a permit. Every permit
    /// is held until all threads have tried, so a released slot cannot be taken twice.
    fn race(breaker: &CircuitBreaker, threads: usize) -> (usize, Vec<Rejected>) {
        let start = Barrier::new(threads);
        let tried = Barrier::new(threads);
        let granted = AtomicUsize::new(0);
        let rejections = Mutex::new(Vec::new());
        thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    start.wait();
                    let result = breaker.try_acquire();
                    tried.wait();
                    match result {
                        Ok(permit) => {
                            assert_eq!(permit.state(), State::HalfOpen);
                            granted.fetch_add(1, Ordering::Relaxed);
                            permit.release();
                        }
                        Err(rejected) => rejections.lock().unwrap().push(rejected),
                    }
                });
            }
        });
        (granted.into_inner(), rejections.into_inner().unwrap())
    }

    #[test]
    fn half_open_grants_exactly_the_permits_to_64_racing_threads() {
        for round in 0..200 {
            let clock = ManualClock::new();
            let breaker = CircuitBreaker::new("race", twitchy(3), clock.shared()).unwrap();
            breaker.try_acquire().unwrap().on_failure(FAST);
            assert_eq!(breaker.state(), State::Open);
            clock.advance(WAIT);
            // Half the rounds also race the lazy open -> half-open transition itself.
            if round % 2 == 0 {
                assert_eq!(breaker.state(), State::HalfOpen);
            }
            let (granted, rejections) = race(&breaker, 64);
            assert_eq!(granted, 3, "round {round}");
            assert_eq!(rejections.len(), 61);
            for r in rejections {
                assert_eq!(r.state, State::HalfOpen);
                assert_eq!(
                    r.retry_after,
                    Some(BreakerConfig::default().max_wait_in_half_open)
                );
            }
        }
    }

    #[test]
    fn eight_threads_recording_keep_calls_within_the_window_and_failed_within_calls() {
        const SIZE: u32 = 100;
        let clock = ManualClock::new();
        let config = BreakerConfig {
            window: SlidingWindow::Count(SIZE),
            // Never trips, so every outcome is recorded.
            failure_rate_threshold: 100.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: Duration::from_secs(1),
            ..BreakerConfig::default()
        };
        let breaker = CircuitBreaker::new("counts", config, clock.shared()).unwrap();
        let done = AtomicBool::new(false);
        thread::scope(|s| {
            let writers: Vec<_> = (0..8)
                .map(|t| {
                    let breaker = &breaker;
                    s.spawn(move || {
                        for i in 0..10_000 {
                            let permit = breaker.try_acquire().unwrap();
                            match (i + t) % 4 {
                                0 => permit.on_failure(FAST),
                                1 => permit.on_success(Duration::from_secs(2)),
                                _ => permit.on_success(FAST),
                            }
                        }
                    })
                })
                .collect();
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    let m = breaker.metrics();
                    assert!(m.calls <= SIZE, "{m:?}");
                    assert!(
                        m.failed_calls <= m.calls && m.slow_calls <= m.calls,
                        "{m:?}"
                    );
                    assert!(
                        m.failure_rate <= 100.0 && m.slow_call_rate <= 100.0,
                        "{m:?}"
                    );
                }
            });
            for writer in writers {
                writer.join().unwrap();
            }
            done.store(true, Ordering::Relaxed);
        });
        let m = breaker.metrics();
        assert_eq!(m.state, State::Closed);
        assert_eq!(m.calls, SIZE);
        // The counters did not drift: a full window of successes brings them to exactly zero.
        for _ in 0..SIZE {
            breaker.try_acquire().unwrap().on_success(FAST);
        }
        let m = breaker.metrics();
        assert_eq!((m.calls, m.failed_calls, m.slow_calls), (SIZE, 0, 0));
    }

    #[test]
    fn eight_threads_recording_into_a_time_window_while_the_clock_moves_do_not_drift() {
        let clock = ManualClock::new();
        let config = BreakerConfig {
            window: SlidingWindow::Time(5),
            failure_rate_threshold: 100.0,
            ..BreakerConfig::default()
        };
        let breaker = CircuitBreaker::new("time", config, clock.shared()).unwrap();
        let done = AtomicBool::new(false);
        thread::scope(|s| {
            let writers: Vec<_> = (0..8)
                .map(|t| {
                    let breaker = &breaker;
                    s.spawn(move || {
                        for i in 0..10_000 {
                            let permit = breaker.try_acquire().unwrap();
                            if (i + t) % 3 == 0 {
                                permit.on_failure(FAST);
                            } else {
                                permit.on_success(FAST);
                            }
                        }
                    })
                })
                .collect();
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    clock.advance(Duration::from_millis(700));
                    let m = breaker.metrics();
                    assert!(m.failed_calls <= m.calls, "{m:?}");
                }
            });
            for writer in writers {
                writer.join().unwrap();
            }
            done.store(true, Ordering::Relaxed);
        });
        // Once every bucket has aged out the totals are exactly zero, and count exactly again.
        clock.advance(Duration::from_secs(5));
        let m = breaker.metrics();
        assert_eq!((m.calls, m.failed_calls, m.slow_calls), (0, 0, 0));
        breaker.try_acquire().unwrap().on_failure(FAST);
        breaker.try_acquire().unwrap().on_success(FAST);
        let m = breaker.metrics();
        assert_eq!((m.calls, m.failed_calls), (2, 1));
    }

    #[test]
    fn many_threads_seeing_the_same_trip_make_one_transition() {
        for _ in 0..50 {
            let clock = ManualClock::new();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let sink = seen.clone();
            let config = BreakerConfig {
                window: SlidingWindow::Count(10),
                minimum_calls: 1,
                ..BreakerConfig::default()
            };
            let breaker = CircuitBreaker::new("trip", config, clock.shared())
                .unwrap()
                .with_listener(Arc::new(move |t: &Transition| {
                    sink.lock().unwrap().push((t.from, t.to))
                }));
            let start = Barrier::new(16);
            thread::scope(|s| {
                for _ in 0..16 {
                    s.spawn(|| {
                        let permit = breaker.try_acquire().unwrap();
                        start.wait();
                        permit.on_failure(FAST);
                    });
                }
            });
            assert_eq!(*seen.lock().unwrap(), [(State::Closed, State::Open)]);
            assert_eq!(breaker.metrics().consecutive_trips, 1);
        }
    }

    #[test]
    fn racing_trial_outcomes_decide_once() {
        for round in 0..100 {
            let clock = ManualClock::new();
            let transitions = Arc::new(Mutex::new(Vec::new()));
            let sink = transitions.clone();
            let breaker = CircuitBreaker::new("trials", twitchy(8), clock.shared())
                .unwrap()
                .with_listener(Arc::new(move |t: &Transition| {
                    sink.lock().unwrap().push(t.to)
                }));
            breaker.try_acquire().unwrap().on_failure(FAST);
            clock.advance(WAIT);
            let permits: Vec<_> = (0..8).map(|_| breaker.try_acquire().unwrap()).collect();
            let start = Barrier::new(8);
            thread::scope(|s| {
                for permit in permits {
                    let start = &start;
                    s.spawn(move || {
                        start.wait();
                        permit.on_success(FAST);
                    });
                }
            });
            assert_eq!(breaker.state(), State::Closed, "round {round}");
            assert_eq!(
                *transitions.lock().unwrap(),
                [State::Open, State::HalfOpen, State::Closed]
            );
        }
    }
}
