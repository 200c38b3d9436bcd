//! Async jobs (video, avatar): submit, poll, fail over only on a confirmed failure.

use std::sync::Arc;

use ugc_core::ErrorKind;
use ugc_core::clock::Clock;
use ugc_core::provider::ErrorClass;
use ugc_core::router::{DispatchOptions, Endpoint, Router};
use ugc_core::testkit::{Op, ScriptedProvider, Step};

use super::*;

#[test]
fn a_job_is_polled_at_the_interval_until_it_succeeds() {
    let clock = ManualClock::new();
    let a = Arc::new(ScriptedProvider::video("replicate", clock.shared()).then(Step::job(3)));
    let r = router(&clock, RouterConfig::default(), vec![a.clone()]);
    let start = clock.now();
    let out = dispatch(&clock, &r, &video(), DispatchOptions::default());
    assert_eq!(served_by(&out), Some("replicate"));
    assert_eq!(a.count(Op::Poll), 4);
    assert_eq!(clock.now() - start, secs(8), "four polls two seconds apart");
    let Outcome::Done { media, .. } = out else {
        unreachable!()
    };
    assert_eq!(media.mime, "video/mp4");
}

#[test]
fn a_pending_job_that_then_fails_fails_over() {
    let clock = ManualClock::new();
    let a = Arc::new(
        ScriptedProvider::video("a", clock.shared())
            .then(Step::job_failing(2, ErrorClass::Transient)),
    );
    let b = Arc::new(ScriptedProvider::video("b", clock.shared()));
    let r = router(&clock, no_retries(), vec![a.clone(), b.clone()]);
    let out = dispatch(
        &clock,
        &r,
        &video(),
        DispatchOptions::default().deadline(secs(600)),
    );
    assert_eq!(served_by(&out), Some("b"));
    assert_eq!(a.count(Op::Poll), 3);
    assert_eq!(
        trail(&out)[0],
        (
            "a".into(),
            ugc_core::router::AttemptResult::Failed(ErrorClass::Transient)
        )
    );
}

#[test]
fn a_job_the_provider_rejects_as_bad_does_not_fail_over() {
    let clock = ManualClock::new();
    let a = Arc::new(
        ScriptedProvider::video("a", clock.shared())
            .then(Step::job_failing(1, ErrorClass::BadRequest)),
    );
    let b = Arc::new(ScriptedProvider::video("b", clock.shared()));
    let r = router(&clock, no_retries(), vec![a, b.clone()]);
    let out = dispatch(&clock, &r, &video(), DispatchOptions::default());
    assert!(
        matches!(&out, Outcome::Failed { error, .. } if error.kind() == ErrorKind::UpstreamRejected)
    );
    assert_eq!(b.submits(), 0);
}

#[test]
fn a_submit_that_timed_out_is_not_sent_to_another_provider() {
    let clock = ManualClock::new();
    let a = Arc::new(ScriptedProvider::video("a", clock.shared()).then(Step::hang()));
    let b = Arc::new(ScriptedProvider::video("b", clock.shared()));
    let r = Router::builder(clock.shared())
        .endpoint(Endpoint::new(a.clone()).attempt_timeout(secs(5)))
        .endpoint(Endpoint::new(b.clone()).priority(1))
        .build()
        .unwrap();
    let out = dispatch(&clock, &r, &video(), DispatchOptions::default());
    let Outcome::Failed { error, attempts } = out else {
        panic!("expected failure")
    };
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert_eq!(
        attempts[0].result,
        ugc_core::router::AttemptResult::Failed(ErrorClass::AcceptanceUnknown)
    );
    assert_eq!((a.submits(), b.submits()), (1, 0));
}

#[test]
fn a_job_still_running_at_the_deadline_is_cancelled_within_it() {
    let clock = ManualClock::new();
    let a =
        Arc::new(ScriptedProvider::video("a", clock.shared()).then(Step::job_never_finishing()));
    let b = Arc::new(ScriptedProvider::video("b", clock.shared()));
    let r = router(&clock, RouterConfig::default(), vec![a.clone(), b.clone()]);
    let start = clock.now();
    let out = dispatch(
        &clock,
        &r,
        &video(),
        DispatchOptions::default().deadline(secs(21)),
    );
    assert!(
        matches!(&out, Outcome::Failed { error, .. } if error.kind() == ErrorKind::Timeout),
        "{out:?}"
    );
    assert_eq!(a.count(Op::Cancel), 1);
    assert_eq!(b.submits(), 0, "the job may still run: never paid twice");
    assert!(clock.now() - start <= secs(21));
}

#[test]
fn the_provider_poll_interval_hint_is_followed() {
    let clock = ManualClock::new();
    struct Hinted(ScriptedProvider);
    #[async_trait::async_trait]
    impl ugc_core::Provider for Hinted {
        fn id(&self) -> &str {
            self.0.id()
        }
        fn capabilities(&self) -> &ugc_core::provider::Capabilities {
            self.0.capabilities()
        }
        async fn submit(
            &self,
            request: &ugc_core::Request,
            ctx: &ugc_core::provider::CallContext,
        ) -> Result<ugc_core::provider::Submission, ugc_core::ProviderError> {
            match self.0.submit(request, ctx).await? {
                ugc_core::provider::Submission::Pending(job) => Ok(
                    ugc_core::provider::Submission::Pending(job.with_poll_after(secs(10))),
                ),
                ready => Ok(ready),
            }
        }
        async fn poll(
            &self,
            job: &ugc_core::provider::JobHandle,
            ctx: &ugc_core::provider::CallContext,
        ) -> Result<ugc_core::provider::JobStatus, ugc_core::ProviderError> {
            self.0.poll(job, ctx).await
        }
        fn estimate(&self, request: &ugc_core::Request, model: Option<&str>) -> ugc_core::Usage {
            self.0.estimate(request, model)
        }
    }
    let a = Arc::new(Hinted(
        ScriptedProvider::video("stability", clock.shared()).then(Step::job(1)),
    ));
    let r = Router::builder(clock.shared())
        .endpoint(Endpoint::new(a))
        .build()
        .unwrap();
    let start = clock.now();
    let out = dispatch(&clock, &r, &video(), DispatchOptions::default());
    assert_eq!(served_by(&out), Some("stability"));
    assert_eq!(clock.now() - start, secs(20));
}
