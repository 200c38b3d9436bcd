//! Quota accounting in memory: one reservation and its commit on one subject with three
//! limits (two sliding windows and a GCRA rate), on the system clock; beside it, the keyed
//! check of the `governor` crate, the usual in-process limiter, in the same group.
//!
//! Against the local Redis (127.0.0.1:6379, required): `redis_reserve` is one reservation and
//! its commit on the Redis store (one Lua script round trip; the commit of exactly the
//! estimate costs none), and `redis_evalsha_baseline` is EVALSHA of `return 1` on the same
//! kind of connection at the same concurrency (one call at a time), its throughput ceiling.
#![allow(missing_docs)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use futures::FutureExt;
use ugc_core::Usage;
use ugc_core::quota::{
    Limit, LimitSet, MemoryStore, Quota, QuotaPolicy, RedisConfig, RedisStore, Resource, Subject,
    Tier,
};

fn quota_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("quota");

    let quota = Quota::new(
        QuotaPolicy::default(),
        Arc::new(MemoryStore::new(ugc_core::clock::system())),
    );
    let subject = Subject::key("bench");
    quota.set_limits(subject.clone(), bench_limits());
    let who = [subject];
    let usage = Usage {
        characters: 120,
        ..Usage::request()
    };
    group.bench_function("memory_reserve_commit_3_limits", |b| {
        b.iter(|| {
            // The memory store's futures complete on their first poll.
            let reservation = quota
                .reserve(black_box(&who), Tier::Basic, usage)
                .now_or_never();
            if let Some(Ok(r)) = reservation {
                let _ = r.commit(usage).now_or_never();
            }
        })
    });

    let per_second = NonZeroU32::new(u32::MAX).unwrap_or(NonZeroU32::MIN);
    let limiter = governor::RateLimiter::keyed(governor::Quota::per_second(per_second));
    let key = "bench".to_owned();
    group.bench_function("governor_check", |b| {
        b.iter(|| black_box(limiter.check_key(black_box(&key)).is_ok()))
    });
    redis_benches(&mut group, &who, usage);
    group.finish();
}

fn redis_benches(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    who: &[Subject],
    usage: Usage,
) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let prefix = format!("ugcbench:{}", std::process::id());
    let config = RedisConfig {
        prefix,
        timeout: Duration::from_secs(1),
        ..RedisConfig::default()
    };
    let store = match runtime.block_on(RedisStore::connect(config, ugc_core::clock::system())) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("quota/redis_* skipped: the Redis benches need Redis at 127.0.0.1:6379: {e}");
            return;
        }
    };
    let quota = Quota::with_redis(QuotaPolicy::default(), store);
    quota.set_limits(who[0].clone(), bench_limits());
    group.bench_function("redis_reserve", |b| {
        b.iter(|| {
            runtime.block_on(async {
                if let Ok(r) = quota.reserve(black_box(who), Tier::Basic, usage).await {
                    r.commit(usage).await;
                }
            })
        })
    });

    let Ok(conn) = runtime.block_on(async {
        let client = redis::Client::open("redis://127.0.0.1:6379")?;
        redis::aio::ConnectionManager::new(client).await
    }) else {
        return;
    };
    let script = redis::Script::new("return 1");
    group.bench_function("redis_evalsha_baseline", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut conn = conn.clone();
                black_box(script.invoke_async::<_, i64>(&mut conn).await.ok())
            })
        })
    });
}

/// Limits far above what the benches reach, so every reservation is granted: two sliding
/// windows and a GCRA rate.
fn bench_limits() -> LimitSet {
    LimitSet::new([
        Limit::per(Resource::Requests, u64::MAX / 4, Duration::from_secs(3600)),
        Limit::per(
            Resource::Characters,
            u64::MAX / 4,
            Duration::from_secs(86_400),
        ),
        Limit::rate(
            Resource::Requests,
            1_000_000_000,
            Duration::from_secs(1),
            1_000_000_000,
        ),
    ])
}

criterion_group!(benches, quota_benches);
criterion_main!(benches);
