//! Four OS processes against one Redis (127.0.0.1:6379, required): together they are admitted
//! exactly the limit. The workers are this test binary run again with `QUOTA_REDIS_WORKER`
//! set; each prints how many reservations it was granted.
// Helpers outside #[test] functions set up fixtures; a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::Duration;

use ugc_core::Usage;
use ugc_core::clock::ManualClock;
use ugc_core::quota::{
    Limit, LimitSet, Quota, QuotaPolicy, RedisConfig, RedisStore, Resource, Subject, Tier,
};

const WORKER_ENV: &str = "QUOTA_REDIS_WORKER";
const PROCESSES: usize = 4;
const LIMIT: u64 = 50;
const ATTEMPTS_PER_PROCESS: usize = 40;

#[test]
fn quota_redis_worker() {
    let Ok(prefix) = std::env::var(WORKER_ENV) else {
        return; // Not asked to act as a worker.
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let admitted = runtime.block_on(async {
        let config = RedisConfig {
            prefix,
            timeout: Duration::from_secs(2),
            ..RedisConfig::default()
        };
        let store = RedisStore::connect(config, ManualClock::new().shared())
            .await
            .expect("Redis must be running at 127.0.0.1:6379");
        let quota = Quota::with_redis(QuotaPolicy::default(), store);
        let subject = Subject::key("shared");
        quota.set_limits(
            subject.clone(),
            LimitSet::new([Limit::per(
                Resource::Requests,
                LIMIT,
                Duration::from_secs(3600),
            )]),
        );
        let tasks: Vec<_> = (0..ATTEMPTS_PER_PROCESS)
            .map(|_| {
                let (quota, subject) = (quota.clone(), subject.clone());
                tokio::spawn(async move {
                    match quota
                        .reserve(&[subject], Tier::Basic, Usage::request())
                        .await
                    {
                        Ok(r) => {
                            r.commit(Usage::request()).await;
                            1
                        }
                        Err(_) => 0,
                    }
                })
            })
            .collect();
        let mut admitted = 0;
        for task in tasks {
            admitted += task.await.unwrap();
        }
        admitted
    });
    println!("admitted={admitted}");
}

#[test]
fn four_processes_against_one_redis_are_admitted_exactly_the_limit() {
    if std::env::var(WORKER_ENV).is_ok() {
        return; // A worker runs only its own test.
    }
    let prefix = format!(
        "ugctest:processes:{}:{:016x}",
        std::process::id(),
        fastrand::u64(..)
    );
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "quota_redis_worker", "--nocapture"])
                .env(WORKER_ENV, &prefix)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "a worker failed");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let admitted: u64 = stdout
            .lines()
            .find_map(|l| l.strip_prefix("admitted="))
            .unwrap_or_else(|| panic!("no count in the worker's output: {stdout}"))
            .trim()
            .parse()
            .unwrap();
        total += admitted;
    }
    assert!(PROCESSES * ATTEMPTS_PER_PROCESS > LIMIT as usize);
    assert_eq!(total, LIMIT);
}
