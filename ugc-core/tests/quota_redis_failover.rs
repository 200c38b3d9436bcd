//! Redis killed mid-run: each fail mode does what it is configured to do and says so, the
//! breaker stops calling the dead server, and service resumes when it comes back. The test
//! runs its own `redis-server` on a free port and kills it with SIGKILL.
// Helpers outside #[test] functions set up fixtures; a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ugc_core::Usage;
use ugc_core::breaker::{BreakerConfig, SlidingWindow, State};
use ugc_core::clock::ManualClock;
use ugc_core::quota::{
    DenialReason, Enforcement, FailMode, Limit, LimitSet, Quota, QuotaPolicy, RedisConfig,
    RedisStore, Resource, Subject, Tier,
};

/// A redis-server of this test; killed when dropped, also on panic.
struct Server {
    port: u16,
    child: Option<Child>,
}

impl Server {
    fn start(port: u16) -> Self {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                "",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        // Redis says when it accepts connections: wait for that line, not for a while.
        let mut log = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = log
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains("Ready to accept connections"));
        assert!(
            ready,
            "redis-server on port {port} exited before it was ready"
        );
        // Keep draining its log so a full pipe never blocks the server.
        std::thread::spawn(move || log.for_each(drop));
        Self {
            port,
            child: Some(child),
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL: no shutdown, no goodbye to clients.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

const WAIT: Duration = Duration::from_secs(10);

async fn quota(port: u16, mode: FailMode, clock: &ManualClock) -> Quota {
    let config = RedisConfig {
        url: format!("redis://127.0.0.1:{port}"),
        prefix: "ugctest:failover".to_owned(),
        timeout: Duration::from_millis(50),
        fail_mode: mode,
        breaker: BreakerConfig {
            window: SlidingWindow::Count(4),
            minimum_calls: 2,
            half_open_permits: 1,
            wait_in_open: WAIT,
            ..RedisConfig::default().breaker
        },
        ..RedisConfig::default()
    };
    let store = RedisStore::connect(config, clock.shared()).await.unwrap();
    let quota = Quota::with_redis(QuotaPolicy::default(), store);
    quota.set_limits(
        key(),
        LimitSet::new([Limit::per(Resource::Requests, 8, Duration::from_secs(3600))]),
    );
    quota
}

fn key() -> Subject {
    Subject::key("k")
}

async fn reserve(quota: &Quota) -> Result<Enforcement, (DenialReason, Enforcement)> {
    match quota.reserve(&[key()], Tier::Basic, Usage::request()).await {
        Ok(r) => {
            let enforcement = r.enforcement();
            r.commit(Usage::request()).await;
            Ok(enforcement)
        }
        Err(d) => Err((d.reason, d.enforcement)),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_fail_mode_applies_while_redis_is_down_and_service_resumes_after() {
    let port = free_port();
    let mut server = Server::start(port);
    let clock = ManualClock::new();
    let closed = quota(port, FailMode::Closed, &clock).await;
    let open = quota(port, FailMode::Open, &clock).await;
    let local = quota(port, FailMode::LocalFallback { fraction: 0.25 }, &clock).await;
    for q in [&closed, &open, &local] {
        assert_eq!(reserve(q).await, Ok(Enforcement::Store));
    }

    server.kill();

    // Closed: denied, and the denial says the store is unavailable.
    let denial = closed
        .reserve(&[key()], Tier::Basic, Usage::request())
        .await
        .unwrap_err();
    assert_eq!(denial.reason, DenialReason::StoreUnavailable);
    assert_eq!(denial.enforcement, Enforcement::FailClosed);
    assert!(denial.to_string().contains("unavailable"), "{denial}");
    // Open: admitted uncounted.
    assert_eq!(reserve(&open).await, Ok(Enforcement::FailOpen));
    // Local fallback: a quarter of 8 requests, then denied by the local limiter.
    assert_eq!(reserve(&local).await, Ok(Enforcement::LocalFallback));
    assert_eq!(reserve(&local).await, Ok(Enforcement::LocalFallback));
    let scaled = Limit::per(Resource::Requests, 2, Duration::from_secs(3600));
    assert_eq!(
        reserve(&local).await,
        Err((DenialReason::Limit(scaled), Enforcement::LocalFallback))
    );

    // The breakers are open now: the fail mode applies at once, without a network call.
    for q in [&closed, &open, &local] {
        let store = q.redis_store().unwrap();
        assert_eq!(store.breaker().state(), State::Open);
    }
    for _ in 0..100 {
        assert_eq!(
            reserve(&closed).await,
            Err((DenialReason::StoreUnavailable, Enforcement::FailClosed))
        );
    }
    // Still open with the clock unmoved: none of the 100 calls was let through as a probe.
    assert_eq!(closed.redis_store().unwrap().breaker().state(), State::Open);

    // Redis comes back on the same port; past the breaker's wait, service resumes (the
    // connection manager reconnects on the first probe's failure; the next probe gets through).
    let _server = Server::start(server.port);
    let mut resumed = false;
    for _ in 0..50 {
        clock.advance(WAIT + Duration::from_secs(1));
        if reserve(&closed).await == Ok(Enforcement::Store) {
            resumed = true;
            break;
        }
    }
    assert!(resumed, "service did not resume after Redis restarted");
    assert_eq!(
        closed.redis_store().unwrap().breaker().state(),
        State::Closed
    );
    for q in [&open, &local] {
        let mut mode = Err((DenialReason::StoreUnavailable, Enforcement::FailClosed));
        for _ in 0..50 {
            clock.advance(WAIT + Duration::from_secs(1));
            mode = reserve(q).await;
            if mode == Ok(Enforcement::Store) {
                break;
            }
        }
        assert_eq!(mode, Ok(Enforcement::Store));
    }
}

/// A Redis that answers too slowly is treated like a dead one: the call is cut at the
/// store's timeout and the fail mode applies (here closed), instead of holding the request.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_redis_is_cut_at_the_timeout_and_the_fail_mode_applies() {
    let port = free_port();
    let _server = Server::start(port);
    let clock = ManualClock::new();
    let closed = quota(port, FailMode::Closed, &clock).await;
    assert_eq!(reserve(&closed).await, Ok(Enforcement::Store));

    // CLIENT PAUSE answers at once and then holds every client's commands for a second.
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1000)
        .arg("ALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    // Had the call waited for the pause to end, Redis would have answered: Store.
    assert_eq!(
        reserve(&closed).await,
        Err((DenialReason::StoreUnavailable, Enforcement::FailClosed))
    );
    // The pause ends by itself; the server is killed when `_server` drops.
}
