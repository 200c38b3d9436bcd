//! The Redis quota store against the real server at 127.0.0.1:6379 (it must run: these tests
//! fail, never skip, without it). Every test uses its own key prefix, so reruns and parallel
//! tests never share keys.
// Helpers outside #[test] functions set up fixtures; a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ugc_core::Usage;
use ugc_core::clock::ManualClock;
use ugc_core::quota::{
    DenialReason, Enforcement, Limit, LimitSet, MemoryStore, Quota, QuotaPolicy, RedisConfig,
    RedisStore, Resource, Subject, Tier,
};

const URL: &str = "redis://127.0.0.1:6379";

fn unique_prefix(test: &str) -> String {
    format!(
        "ugctest:{test}:{}:{:016x}",
        std::process::id(),
        fastrand::u64(..)
    )
}

async fn redis_quota(test: &str) -> Quota {
    let config = RedisConfig {
        url: URL.to_owned(),
        prefix: unique_prefix(test),
        // Generous: the tests run many tasks at once on a shared machine.
        timeout: Duration::from_secs(2),
        ..RedisConfig::default()
    };
    let store = RedisStore::connect(config, ManualClock::new().shared())
        .await
        .expect("Redis must be running at 127.0.0.1:6379");
    Quota::with_redis(QuotaPolicy::default(), store)
}

fn chars(n: u64) -> Usage {
    Usage {
        characters: n,
        ..Usage::request()
    }
}

fn key() -> Subject {
    Subject::key("k")
}

const HOUR: Duration = Duration::from_secs(3600);

async fn used(quota: &Quota, subject: &Subject) -> Vec<u64> {
    quota
        .usage(subject, Tier::Basic)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn sixty_four_tasks_on_one_subject_are_admitted_exactly_up_to_the_limit() {
    for (name, limit, expected) in [
        ("sliding", Limit::per(Resource::Requests, 25, HOUR), 25),
        ("gcra", Limit::rate(Resource::Requests, 100, HOUR, 10), 10),
    ] {
        let quota = redis_quota(name).await;
        quota.set_limits(key(), LimitSet::new([limit]));
        let admitted = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (quota, admitted) = (quota.clone(), admitted.clone());
                tokio::spawn(async move {
                    if let Ok(r) = quota.reserve(&[key()], Tier::Basic, Usage::request()).await {
                        assert_eq!(r.enforcement(), Enforcement::Store);
                        admitted.fetch_add(1, Ordering::Relaxed);
                        r.commit(Usage::request()).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(admitted.load(Ordering::Relaxed), expected, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_concurrency_cap_admits_exactly_its_slots_and_a_settled_call_frees_one() {
    let quota = redis_quota("concurrency").await;
    quota.set_limits(key(), LimitSet::new([]).max_concurrent(5));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let quota = quota.clone();
            tokio::spawn(
                async move { quota.reserve(&[key()], Tier::Basic, Usage::request()).await },
            )
        })
        .collect();
    let mut held = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(r) => held.push(r),
            Err(d) => assert_eq!(d.reason, DenialReason::Concurrency(5)),
        }
    }
    assert_eq!(held.len(), 5);
    held.pop().unwrap().commit(Usage::request()).await;
    let again = quota.reserve(&[key()], Tier::Basic, Usage::request()).await;
    assert!(again.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reservation_takes_from_every_subject_or_from_none() {
    let quota = redis_quota("all-or-nothing").await;
    let (a, b) = (Subject::key("a"), Subject::ip("10.0.0.1".parse().unwrap()));
    quota.set_limits(
        a.clone(),
        LimitSet::new([Limit::per(Resource::Requests, 1, HOUR)]),
    );
    quota.set_limits(
        b.clone(),
        LimitSet::new([Limit::per(Resource::Requests, 5, HOUR)]),
    );
    let who = [b.clone(), a.clone()];
    quota
        .reserve(&who, Tier::Basic, Usage::request())
        .await
        .unwrap()
        .commit(Usage::request())
        .await;
    let denial = quota
        .reserve(&who, Tier::Basic, Usage::request())
        .await
        .unwrap_err();
    assert_eq!(denial.subject, a);
    assert_eq!(denial.enforcement, Enforcement::Store);
    assert_eq!(used(&quota, &b).await, vec![1], "nothing taken from b");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denial_names_the_subject_the_limit_and_when_it_fits_again() {
    let quota = redis_quota("denial").await;
    let limit = Limit::per(Resource::Requests, 2, HOUR);
    let per_request = Limit::per_request(Resource::Characters, 100);
    let rate = Limit::rate(Resource::Characters, 3600, HOUR, 200);
    quota.set_limits(key(), LimitSet::new([limit, per_request, rate]));
    for _ in 0..2 {
        quota
            .reserve(&[key()], Tier::Basic, chars(10))
            .await
            .unwrap()
            .commit(chars(10))
            .await;
    }
    let denial = quota
        .reserve(&[key()], Tier::Basic, chars(10))
        .await
        .unwrap_err();
    assert_eq!(denial.subject, key());
    assert_eq!(denial.reason, DenialReason::Limit(limit));
    // The oldest bucket (450 s long) leaves the window between 3600 and 4050 s from now.
    let wait = denial.retry_after.unwrap();
    assert!(
        wait > HOUR && wait <= HOUR + Duration::from_secs(450),
        "{wait:?}"
    );

    let too_long = quota
        .reserve(&[key()], Tier::Basic, chars(101))
        .await
        .unwrap_err();
    assert_eq!(too_long.reason, DenialReason::Limit(per_request));
    assert_eq!(too_long.retry_after, None);

    // GCRA: one character a second, bursts of 200; 20 are used, 190 more wait 10 s.
    quota.clear_limits(&key());
    quota.set_limits(key(), LimitSet::new([rate]));
    let denial = quota
        .reserve(&[key()], Tier::Basic, chars(190))
        .await
        .unwrap_err();
    assert_eq!(denial.reason, DenialReason::Limit(rate));
    let wait = denial.retry_after.unwrap();
    assert!(
        wait > Duration::from_secs(9) && wait <= Duration::from_secs(10),
        "{wait:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refunds_are_exact_and_commits_account_the_real_usage() {
    let quota = redis_quota("settle").await;
    quota.set_limits(
        key(),
        LimitSet::new([
            Limit::per(Resource::Characters, 1000, HOUR),
            Limit::rate(Resource::Characters, 3600, HOUR, 1000),
        ]),
    );
    quota
        .reserve(&[key()], Tier::Basic, chars(10))
        .await
        .unwrap()
        .commit(chars(10))
        .await;
    assert_eq!(used(&quota, &key()).await, vec![10, 10]);

    quota
        .reserve(&[key()], Tier::Basic, chars(30))
        .await
        .unwrap()
        .refund()
        .await;
    assert_eq!(used(&quota, &key()).await, vec![10, 10], "refund restores");

    quota
        .reserve(&[key()], Tier::Basic, chars(10))
        .await
        .unwrap()
        .commit(chars(25))
        .await;
    assert_eq!(used(&quota, &key()).await, vec![35, 35], "more is added");

    quota
        .reserve(&[key()], Tier::Basic, chars(20))
        .await
        .unwrap()
        .commit(chars(5))
        .await;
    assert_eq!(
        used(&quota, &key()).await,
        vec![40, 40],
        "less is given back"
    );

    // Dropped unsettled: refunded by a task on this runtime.
    drop(
        quota
            .reserve(&[key()], Tier::Basic, chars(50))
            .await
            .unwrap(),
    );
    quota.redis_store().unwrap().refunds_settled().await;
    assert_eq!(
        used(&quota, &key()).await,
        vec![40, 40],
        "a dropped reservation was not refunded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_key_has_a_ttl_of_its_window_plus_one_bucket() {
    let prefix = unique_prefix("ttl");
    let config = RedisConfig {
        prefix: prefix.clone(),
        timeout: Duration::from_secs(2),
        ..RedisConfig::default()
    };
    let store = RedisStore::connect(config, ManualClock::new().shared())
        .await
        .unwrap();
    let quota = Quota::with_redis(QuotaPolicy::default(), store);
    quota.set_limits(
        key(),
        LimitSet::new([
            Limit::per(Resource::Requests, 10, HOUR),
            Limit::rate(Resource::Requests, 60, Duration::from_secs(60), 5),
        ])
        .max_concurrent(3)
        .max_queued(2),
    );
    let r = quota
        .reserve(&[key()], Tier::Basic, Usage::request())
        .await
        .unwrap();
    quota.enqueue(&key(), Tier::Basic).await.unwrap();
    let client = redis::Client::open(URL).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 4, "{keys:?}");
    for k in &keys {
        assert!(k.starts_with(&format!("{prefix}:{{key:k}}:")), "{k}");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(k)
            .query_async(&mut conn)
            .await
            .unwrap();
        let max = if k.ends_with("3600000ms:sw") {
            4050 * 1000
        } else if k.contains("gcra") {
            (60 + 8) * 1000
        } else {
            3600 * 1000
        };
        assert!(ttl > 0 && ttl <= max, "{k}: {ttl} ms");
    }
    r.commit(Usage::request()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_depth_cap_counts_jobs_in_and_out() {
    let quota = redis_quota("queue").await;
    quota.set_limits(key(), LimitSet::new([]).max_queued(2));
    assert_eq!(
        quota.enqueue(&key(), Tier::Basic).await,
        Ok(Enforcement::Store)
    );
    quota.enqueue(&key(), Tier::Basic).await.unwrap();
    let full = quota.enqueue(&key(), Tier::Basic).await.unwrap_err();
    assert_eq!(full.reason, DenialReason::QueueDepth(2));
    quota.dequeue(&key()).await;
    assert!(quota.enqueue(&key(), Tier::Basic).await.is_ok());
}

/// One step of a scripted workload.
#[derive(Debug, Clone, Copy)]
enum Step {
    Reserve { who: u8, chars: u64 },
    Commit { actual: u64 },
    Refund,
}

#[tokio::test(flavor = "multi_thread")]
async fn the_redis_store_agrees_with_the_memory_store_on_a_scripted_sequence() {
    let limits = LimitSet::new([
        Limit::per(Resource::Requests, 40, HOUR),
        Limit::per(Resource::Characters, 900, Duration::from_secs(86_400)),
        Limit::rate(Resource::Characters, 7200, HOUR, 300),
        Limit::per_request(Resource::Characters, 120),
    ])
    .max_concurrent(3);
    let subjects = [
        Subject::key("a"),
        Subject::user("u"),
        Subject::ip("10.1.2.3".parse().unwrap()),
    ];
    let redis = redis_quota("agree").await;
    let memory = Quota::new(
        QuotaPolicy::default(),
        Arc::new(MemoryStore::new(ManualClock::new().shared())),
    );
    for s in &subjects {
        redis.set_limits(s.clone(), limits.clone());
        memory.set_limits(s.clone(), limits.clone());
    }
    let mut rng = fastrand::Rng::with_seed(7);
    let steps: Vec<Step> = (0..400)
        .map(|_| match rng.u8(0..10) {
            0..=5 => Step::Reserve {
                who: rng.u8(1..8),
                chars: rng.u64(1..140),
            },
            6..=8 => Step::Commit {
                actual: rng.u64(0..80),
            },
            _ => Step::Refund,
        })
        .collect();
    let (mut held_redis, mut held_memory) = (Vec::new(), Vec::new());
    let (mut grants, mut denials) = (0, 0);
    for (i, step) in steps.iter().enumerate() {
        match *step {
            Step::Reserve { who, chars: n } => {
                let who: Vec<Subject> = subjects
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| who & (1 << j) != 0)
                    .map(|(_, s)| s.clone())
                    .collect();
                let r = redis.reserve(&who, Tier::Basic, chars(n)).await;
                let m = memory.reserve(&who, Tier::Basic, chars(n)).await;
                match (r, m) {
                    (Ok(r), Ok(m)) => {
                        grants += 1;
                        held_redis.push(r);
                        held_memory.push(m);
                    }
                    (Err(r), Err(m)) => {
                        denials += 1;
                        assert_eq!((&r.subject, r.reason), (&m.subject, m.reason), "step {i}");
                    }
                    (r, m) => panic!("step {i} {step:?}: redis {r:?}, memory {m:?}"),
                }
            }
            Step::Commit { actual } => {
                if let (Some(r), Some(m)) = (held_redis.pop(), held_memory.pop()) {
                    r.commit(chars(actual)).await;
                    m.commit(chars(actual)).await;
                }
            }
            Step::Refund => {
                if let (Some(r), Some(m)) = (held_redis.pop(), held_memory.pop()) {
                    r.refund().await;
                    m.refund().await;
                }
            }
        }
    }
    for s in &subjects {
        assert_eq!(
            redis.usage(s, Tier::Basic).await.unwrap(),
            memory.usage(s, Tier::Basic).await.unwrap(),
            "{s}"
        );
    }
    assert!(
        grants > 20 && denials > 20,
        "{grants} grants, {denials} denials"
    );
    for r in held_redis {
        r.refund().await;
    }
}
