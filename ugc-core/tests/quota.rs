//! Quota accounting, specified: invariants by property tests, concurrency, tiers, budgets.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use ugc_core::Usage;
use ugc_core::clock::ManualClock;
use ugc_core::quota::{
    CostAlert, DenialReason, Limit, LimitSet, MemoryStore, Quota, QuotaPolicy, Resource, Subject,
    Tier,
};

/// The memory store's futures complete on their first poll.
trait Now: std::future::Future + Sized {
    #[allow(clippy::expect_used)]
    fn now(self) -> Self::Output {
        futures::FutureExt::now_or_never(self).expect("a memory quota future completes at once")
    }
}
impl<F: std::future::Future> Now for F {}

fn quota_with(clock: &ManualClock, set: LimitSet) -> Quota {
    let quota = Quota::new(
        QuotaPolicy::default(),
        Arc::new(MemoryStore::new(clock.shared())),
    );
    quota.set_limits(Subject::key("k"), set);
    quota
}

fn chars(n: u64) -> Usage {
    Usage {
        characters: n,
        ..Usage::request()
    }
}

const KEY: fn() -> Subject = || Subject::key("k");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Sliding window: in no window of its length does it grant more than its amount.
    #[test]
    fn a_sliding_window_never_grants_more_than_its_amount_in_any_window(
        steps in prop::collection::vec((0u64..400, 1u64..6), 1..150),
        amount in 1u64..20,
        window_ms in 100u64..2_000,
    ) {
        let clock = ManualClock::new();
        let window = Duration::from_millis(window_ms);
        let quota = quota_with(&clock, LimitSet::new([Limit::per(Resource::Characters, amount, window)]));
        let mut granted: Vec<(Duration, u64)> = Vec::new();
        for (advance, n) in steps {
            clock.advance(Duration::from_millis(advance));
            if let Ok(r) = quota.reserve(&[KEY()], Tier::Basic, chars(n)).now() {
                r.commit(chars(n)).now();
                granted.push((clock.elapsed(), n));
            }
        }
        for (i, (end, _)) in granted.iter().enumerate() {
            let in_window: u64 = granted[..=i].iter().filter(|(t, _)| *end - *t < window).map(|(_, n)| n).sum();
            prop_assert!(in_window <= amount, "{in_window} > {amount} in the window ending at {end:?}");
        }
    }

    /// GCRA: over any interval it grants at most `burst + interval × rate`.
    #[test]
    fn gcra_never_grants_more_than_the_burst_plus_the_rate(
        steps in prop::collection::vec((0u64..300, 1u64..4), 1..150),
        per_second in 1u64..20,
        burst in 1u64..10,
    ) {
        let clock = ManualClock::new();
        let limit = Limit::rate(Resource::Characters, per_second, Duration::from_secs(1), burst);
        let quota = quota_with(&clock, LimitSet::new([limit]));
        let mut granted: Vec<(Duration, u64)> = Vec::new();
        for (advance, n) in steps {
            clock.advance(Duration::from_millis(advance));
            if let Ok(r) = quota.reserve(&[KEY()], Tier::Basic, chars(n)).now() {
                r.commit(chars(n)).now();
                granted.push((clock.elapsed(), n));
            }
        }
        for i in 0..granted.len() {
            for j in i..granted.len() {
                let total: u64 = granted[i..=j].iter().map(|(_, n)| n).sum();
                let span = (granted[j].0 - granted[i].0).as_secs_f64();
                let bound = burst as f64 + span * per_second as f64;
                prop_assert!(total as f64 <= bound + 1e-9, "{total} > {bound} over {span}s");
            }
        }
    }

    /// A refund gives back exactly what was taken.
    #[test]
    fn a_refund_restores_exactly(before in 0u64..50, taken in 1u64..50, gcra in any::<bool>()) {
        let clock = ManualClock::new();
        let limit = if gcra {
            Limit::rate(Resource::Characters, 100, Duration::from_secs(60), 100)
        } else {
            Limit::per(Resource::Characters, 100, Duration::from_secs(60))
        };
        let quota = quota_with(&clock, LimitSet::new([limit]));
        if before > 0 {
            quota.reserve(&[KEY()], Tier::Basic, chars(before)).now().unwrap().commit(chars(before)).now();
        }
        let used = quota.usage(&KEY(), Tier::Basic).now().unwrap();
        quota.reserve(&[KEY()], Tier::Basic, chars(taken)).now().unwrap().refund().now();
        prop_assert_eq!(quota.usage(&KEY(), Tier::Basic).now().unwrap(), used);
    }

    /// A commit accounts the real usage, larger or smaller than the estimate, even past the limit.
    #[test]
    fn a_commit_accounts_the_real_usage(estimate in 1u64..50, actual in 0u64..200, gcra in any::<bool>()) {
        let clock = ManualClock::new();
        let limit = if gcra {
            Limit::rate(Resource::Characters, 100, Duration::from_secs(60), 100)
        } else {
            Limit::per(Resource::Characters, 100, Duration::from_secs(60))
        };
        let quota = quota_with(&clock, LimitSet::new([limit]));
        quota.reserve(&[KEY()], Tier::Basic, chars(estimate)).now().unwrap().commit(chars(actual)).now();
        prop_assert_eq!(quota.usage(&KEY(), Tier::Basic).now().unwrap(), vec![(limit, actual)]);
    }
}

#[test]
fn sixty_four_threads_on_one_subject_admit_exactly_the_limit() {
    let clock = ManualClock::new();
    let quota = quota_with(
        &clock,
        LimitSet::new([
            Limit::per(Resource::Requests, 1_000, Duration::from_secs(3600)),
            Limit::rate(Resource::Requests, 100_000, Duration::from_secs(1), 5_000),
            Limit::per(Resource::Characters, 1_000_000, Duration::from_secs(86_400)),
        ]),
    );
    let admitted = AtomicU32::new(0);
    let start = Barrier::new(64);
    std::thread::scope(|s| {
        for _ in 0..64 {
            s.spawn(|| {
                start.wait();
                for _ in 0..100 {
                    if let Ok(r) = quota.reserve(&[KEY()], Tier::Basic, chars(10)).now() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                        r.commit(chars(10)).now();
                    }
                }
            });
        }
    });
    assert_eq!(admitted.into_inner(), 1_000);
}

#[test]
fn a_denial_names_the_limit_and_when_it_fits_again() {
    let clock = ManualClock::new();
    let per_minute = Limit::rate(Resource::Requests, 60, Duration::from_secs(60), 2);
    let quota = quota_with(&clock, LimitSet::new([per_minute]));
    for _ in 0..2 {
        quota
            .reserve(&[KEY()], Tier::Basic, Usage::request())
            .now()
            .unwrap()
            .commit(Usage::request())
            .now();
    }
    let denial = quota
        .reserve(&[KEY()], Tier::Basic, Usage::request())
        .now()
        .unwrap_err();
    assert_eq!(denial.reason, DenialReason::Limit(per_minute));
    assert_eq!(denial.retry_after, Some(Duration::from_secs(1)));
    let error = ugc_core::Error::from(denial);
    assert_eq!(
        (error.code(), error.retry_after()),
        ("quota_exceeded", Some(Duration::from_secs(1)))
    );
    assert!(error.to_string().contains("key:k"), "{error}");
    clock.advance(Duration::from_secs(1));
    assert!(
        quota
            .reserve(&[KEY()], Tier::Basic, Usage::request())
            .now()
            .is_ok()
    );
}

#[test]
fn reservations_are_all_or_nothing_across_subjects() {
    let clock = ManualClock::new();
    let policy = QuotaPolicy::from_toml(
        r#"
        [tiers.basic]
        limits = [{ resource = "requests", amount = 10, per = "1h" }]
        [ip]
        limits = [{ resource = "requests", amount = 1, per = "1m" }]
        "#,
    )
    .unwrap();
    let quota = Quota::new(policy, Arc::new(MemoryStore::new(clock.shared())));
    let ip = Subject::ip("203.0.113.9".parse().unwrap());
    let who = [Subject::key("a"), ip.clone()];
    quota
        .reserve(&who, Tier::Basic, Usage::request())
        .now()
        .unwrap()
        .commit(Usage::request())
        .now();
    let denial = quota
        .reserve(&who, Tier::Basic, Usage::request())
        .now()
        .unwrap_err();
    assert_eq!(denial.subject, ip);
    // The key's share of the denied request was given back.
    assert_eq!(
        quota.usage(&Subject::key("a"), Tier::Basic).now().unwrap()[0].1,
        1
    );
    // An IPv4-mapped IPv6 address is the same client.
    let mapped = Subject::ip("::ffff:203.0.113.9".parse().unwrap());
    assert_eq!(mapped, ip);
}

#[test]
fn the_seeds_defaults_load_from_toml_and_apply_per_tier() {
    let clock = ManualClock::new();
    let policy = QuotaPolicy::from_toml(include_str!("../../examples/quota.toml")).unwrap();
    let quota = Quota::new(policy, Arc::new(MemoryStore::new(clock.shared())));
    let guest = [Subject::key("g")];
    let long = chars(501);
    let denial = quota.reserve(&guest, Tier::Guest, long).now().unwrap_err();
    assert_eq!(
        denial.reason,
        DenialReason::Limit(Limit::per_request(Resource::Characters, 500))
    );
    assert_eq!(
        denial.retry_after, None,
        "a request over a per-request limit never fits"
    );
    for _ in 0..10 {
        quota
            .reserve(&guest, Tier::Guest, chars(20))
            .now()
            .unwrap()
            .commit(chars(20))
            .now();
    }
    assert!(
        quota.reserve(&guest, Tier::Guest, chars(20)).now().is_err(),
        "10 tags per hour"
    );
    assert!(
        quota
            .reserve(&[Subject::key("p")], Tier::Premium, chars(20))
            .now()
            .is_ok()
    );
}

#[test]
fn limits_changed_at_runtime_apply_to_the_next_reservation() {
    let clock = ManualClock::new();
    let quota = quota_with(
        &clock,
        LimitSet::new([Limit::per(Resource::Requests, 1, Duration::from_secs(60))]),
    );
    quota
        .reserve(&[KEY()], Tier::Basic, Usage::request())
        .now()
        .unwrap()
        .commit(Usage::request())
        .now();
    assert!(
        quota
            .reserve(&[KEY()], Tier::Basic, Usage::request())
            .now()
            .is_err()
    );
    quota.set_limits(
        KEY(),
        LimitSet::new([Limit::per(Resource::Requests, 5, Duration::from_secs(60))]),
    );
    assert!(
        quota
            .reserve(&[KEY()], Tier::Basic, Usage::request())
            .now()
            .is_ok()
    );
    quota.clear_limits(&KEY());
    assert!(quota.limits(&KEY(), Tier::Basic).is_empty());
}

#[test]
fn concurrency_and_queue_caps_hold_and_free() {
    let clock = ManualClock::new();
    let quota = quota_with(&clock, LimitSet::default().max_concurrent(2).max_queued(1));
    let a = quota
        .reserve(&[KEY()], Tier::Basic, Usage::request())
        .now()
        .unwrap();
    let _b = quota
        .reserve(&[KEY()], Tier::Basic, Usage::request())
        .now()
        .unwrap();
    let denial = quota
        .reserve(&[KEY()], Tier::Basic, Usage::request())
        .now()
        .unwrap_err();
    assert_eq!(denial.reason, DenialReason::Concurrency(2));
    a.commit(Usage::request()).now();
    assert!(
        quota
            .reserve(&[KEY()], Tier::Basic, Usage::request())
            .now()
            .is_ok()
    );
    quota.enqueue(&KEY(), Tier::Basic).now().unwrap();
    assert_eq!(
        quota.enqueue(&KEY(), Tier::Basic).now().unwrap_err().reason,
        DenialReason::QueueDepth(1)
    );
    quota.dequeue(&KEY()).now();
    assert!(quota.enqueue(&KEY(), Tier::Basic).now().is_ok());
}

#[test]
fn cost_alerts_fire_once_at_each_threshold() {
    let clock = ManualClock::new();
    let policy = QuotaPolicy::from_toml(
        r#"
        alerts = [50, 80, 100]
        [tiers.basic]
        limits = [{ resource = "cost_micros", amount = 1000000, per = "1d" }]
        "#,
    )
    .unwrap();
    let seen: Arc<Mutex<Vec<u8>>> = Arc::default();
    let sink = seen.clone();
    let quota = Quota::new(policy, Arc::new(MemoryStore::new(clock.shared()))).with_alert_listener(
        Arc::new(move |a: &CostAlert| sink.lock().unwrap().push(a.percent)),
    );
    let spend = |micros| Usage {
        cost_micros: micros,
        ..Usage::request()
    };
    for micros in [400_000, 200_000, 100_000, 250_000] {
        quota
            .reserve(&[Subject::key("b")], Tier::Basic, spend(micros))
            .now()
            .unwrap()
            .commit(spend(micros))
            .now();
    }
    assert_eq!(*seen.lock().unwrap(), [50, 80]);
    let over = quota
        .reserve(&[Subject::key("b")], Tier::Basic, spend(60_000))
        .now()
        .unwrap_err();
    assert!(matches!(over.reason, DenialReason::Limit(l) if l.resource == Resource::CostMicros));
    // A provider that bills more than estimated still counts, and crosses 100%.
    quota
        .reserve(&[Subject::key("b")], Tier::Basic, spend(10_000))
        .now()
        .unwrap()
        .commit(spend(60_000))
        .now();
    assert_eq!(*seen.lock().unwrap(), [50, 80, 100]);
}

#[test]
fn idle_subjects_are_evicted_and_busy_ones_kept() {
    let clock = ManualClock::new();
    let quota = quota_with(
        &clock,
        LimitSet::new([Limit::per(Resource::Requests, 5, Duration::from_secs(60))]),
    );
    let store = quota.memory_store().unwrap().clone();
    quota
        .reserve(&[KEY()], Tier::Basic, Usage::request())
        .now()
        .unwrap()
        .commit(Usage::request())
        .now();
    let _in_flight = {
        quota.set_limits(Subject::key("busy"), LimitSet::default().max_concurrent(1));
        quota
            .reserve(&[Subject::key("busy")], Tier::Basic, Usage::request())
            .now()
            .unwrap()
    };
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        store.evict_idle(),
        0,
        "usage still counted in the window's last bucket"
    );
    clock.advance(Duration::from_secs(30));
    assert_eq!(store.evict_idle(), 1);
    assert_eq!(store.len(), 1, "a subject with a call in flight stays");
}
