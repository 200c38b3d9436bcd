//! Quota accounting in memory: one reservation and its commit on one subject with three
//! limits (two sliding windows and a GCRA rate), on the system clock; beside it, the keyed
//! check of the `governor` crate, the usual in-process limiter, in the same group.
#![allow(missing_docs)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ugc_core::Usage;
use ugc_core::quota::{Limit, LimitSet, MemoryStore, Quota, QuotaPolicy, Resource, Subject, Tier};

fn quota_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("quota");

    let quota = Quota::new(
        QuotaPolicy::default(),
        Arc::new(MemoryStore::new(ugc_core::clock::system())),
    );
    let subject = Subject::key("bench");
    // Limits far above what the bench reaches, so every reservation is granted.
    quota.set_limits(
        subject.clone(),
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
        ]),
    );
    let who = [subject];
    let usage = Usage {
        characters: 120,
        ..Usage::request()
    };
    group.bench_function("memory_reserve_commit_3_limits", |b| {
        b.iter(|| {
            let reservation = quota.reserve(black_box(&who), Tier::Basic, usage);
            if let Ok(r) = reservation {
                r.commit(usage);
            }
        })
    });

    let per_second = NonZeroU32::new(u32::MAX).unwrap_or(NonZeroU32::MIN);
    let limiter = governor::RateLimiter::keyed(governor::Quota::per_second(per_second));
    let key = "bench".to_owned();
    group.bench_function("governor_check", |b| {
        b.iter(|| black_box(limiter.check_key(black_box(&key)).is_ok()))
    });
    group.finish();
}

criterion_group!(benches, quota_benches);
criterion_main!(benches);
