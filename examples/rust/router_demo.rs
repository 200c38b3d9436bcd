//! Router demo: three scripted speech providers — one rate-limited, one failing, one
//! healthy — and six requests routed over them in virtual time. Prints every request's
//! attempt trail and, at the end, the health table.
//!
//! Run: `cargo run -p ugc-examples --example router_demo`

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use ugc_core::breaker::{BreakerConfig, SlidingWindow};
use ugc_core::clock::{Clock, ManualClock};
use ugc_core::provider::ErrorClass;
use ugc_core::request::SpeechRequest;
use ugc_core::router::{DispatchOptions, Endpoint, EndpointHealth, Outcome, Price, Router};
use ugc_core::testkit::{ScriptedProvider, Step};

fn main() -> Result<(), Box<dyn Error>> {
    // Virtual time: cooldowns and breaker waits pass instantly but are reported exactly.
    let clock = ManualClock::new();

    // The cheapest first: a free tier that answers 429 with Retry-After 30 s once...
    let free = ScriptedProvider::speech("hf-free", clock.shared())
        .then(Step::rate_limited(Duration::from_secs(30)))
        .otherwise(Step::succeed_after(Duration::from_millis(420)));
    // ...a paid provider that is down (503s), whose breaker opens after two failures and
    // reopens when its single trial call fails...
    let down = ScriptedProvider::speech("elevenlabs", clock.shared()).otherwise(Step::fail_after(
        ErrorClass::Transient,
        Duration::from_millis(80),
    ));
    // ...and the local engine that ends every route.
    let local = ScriptedProvider::speech("espeak", clock.shared())
        .otherwise(Step::succeed_after(Duration::from_millis(35)));

    let breaker = BreakerConfig {
        window: SlidingWindow::Count(10),
        minimum_calls: 2,
        wait_in_open: Duration::from_secs(20),
        half_open_permits: 1,
        ..BreakerConfig::default()
    };

    let router = Router::builder(clock.shared())
        .endpoint(
            Endpoint::new(Arc::new(free))
                .priority(0)
                .requests_per_hour(10),
        )
        .endpoint(
            Endpoint::new(Arc::new(down))
                .model("eleven_multilingual_v2")
                .priority(1)
                .price(Price {
                    per_million_characters: 100_000_000,
                    ..Price::default()
                })
                .breaker(breaker),
        )
        .endpoint(Endpoint::new(Arc::new(local)).priority(2))
        .build()?;

    let start = clock.now();
    for n in 1..=6 {
        let request = SpeechRequest::new(format!("Now playing track number {n}")).into();
        let at = clock.now() - start;
        let outcome = clock.block_on(router.dispatch(
            &request,
            DispatchOptions::default().deadline(Duration::from_secs(5)),
        ))?;
        println!("request {n} at +{:.1}s", at.as_secs_f64());
        for attempt in outcome.attempts() {
            println!("    {attempt}");
        }
        match outcome {
            Outcome::Done {
                media, endpoint, ..
            } => {
                println!(
                    "  -> served by {endpoint}: {} bytes of {}",
                    media.len().unwrap_or(0),
                    media.mime
                );
            }
            Outcome::Deferred { eta, .. } => {
                println!("  -> deferred; a provider is back in {eta:?}")
            }
            Outcome::Failed { error, .. } => println!("  -> failed: {error}"),
        }
        clock.advance(Duration::from_secs(6));
    }

    println!("\nhealth at +{:.1}s", (clock.now() - start).as_secs_f64());
    println!(
        "{:<40} {:<10} {:>8} {:>10} {:>10} {:>9}",
        "endpoint", "breaker", "failures", "cooldown", "usable in", "latency"
    );
    for h in router.health() {
        print_health(&h);
    }
    if let Some(wait) = router.min_wait() {
        println!("earliest usable endpoint: in {:.1}s", wait.as_secs_f64());
    }
    Ok(())
}

fn print_health(h: &EndpointHealth) {
    let secs =
        |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.1}s", d.as_secs_f64()));
    let latency = h
        .latency
        .map_or("-".to_owned(), |d| format!("{}ms", d.as_millis()));
    println!(
        "{:<40} {:<10} {:>7.0}% {:>10} {:>10} {:>9}",
        h.endpoint.name(),
        h.breaker.state.as_str(),
        h.breaker.failure_rate,
        secs(h.cooldown),
        secs(h.usable_in),
        latency
    );
}
