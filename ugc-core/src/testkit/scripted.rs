use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::provider::{
    CallContext, Capabilities, ErrorClass, JobHandle, JobStatus, Provider, ProviderError,
    Submission, parse_retry_after,
};
use crate::request::{MediaKind, Request};
use crate::{Media, Usage};

use super::payload::{mp4_boxes, silent_wav};

/// How a scripted job ends after its pending polls.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEnd {
    /// The job succeeds.
    Succeed,
    /// The provider confirms the job failed.
    Fail(ProviderError),
    /// The job never finishes.
    Never,
}

/// What one submit of a [`ScriptedProvider`] does.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Answer with media after `latency`.
    Succeed {
        /// Time the call takes.
        latency: Duration,
    },
    /// Fail with `error` after `latency`.
    Fail {
        /// The failure.
        error: ProviderError,
        /// Time the call takes.
        latency: Duration,
    },
    /// Answer 429 with `Retry-After` as an HTTP date (parsed at call time, as an adapter does).
    RateLimitedUntil(SystemTime),
    /// Never answer.
    Hang,
    /// Accept a job after `latency`; it is running for `polls` polls, then ends as `end`.
    Job {
        /// Time the submit takes.
        latency: Duration,
        /// Polls that answer "running".
        polls: u32,
        /// What the next poll answers.
        end: JobEnd,
    },
}

impl Step {
    /// Succeed at once.
    pub fn succeed() -> Self {
        Step::Succeed {
            latency: Duration::ZERO,
        }
    }

    /// Succeed after `latency`.
    pub fn succeed_after(latency: Duration) -> Self {
        Step::Succeed { latency }
    }

    /// Fail at once with `class`.
    pub fn fail(class: ErrorClass) -> Self {
        Step::error(ProviderError::new(class, format!("scripted {class}")))
    }

    /// Fail after `latency` with `class`.
    pub fn fail_after(class: ErrorClass, latency: Duration) -> Self {
        Step::Fail {
            error: ProviderError::new(class, format!("scripted {class}")),
            latency,
        }
    }

    /// Fail at once with `error`.
    pub fn error(error: ProviderError) -> Self {
        Step::Fail {
            error,
            latency: Duration::ZERO,
        }
    }

    /// Answer 429 asking to retry after `retry_after`.
    pub fn rate_limited(retry_after: Duration) -> Self {
        Step::error(
            ProviderError::rate_limited("scripted 429")
                .with_status(429)
                .with_retry_after(retry_after),
        )
    }

    /// Answer 429 without a Retry-After.
    pub fn rate_limited_without_retry_after() -> Self {
        Step::error(ProviderError::rate_limited("scripted 429").with_status(429))
    }

    /// Answer 429 with an HTTP-date Retry-After of `at`.
    pub fn rate_limited_until(at: SystemTime) -> Self {
        Step::RateLimitedUntil(at)
    }

    /// Never answer.
    pub fn hang() -> Self {
        Step::Hang
    }

    /// Accept a job that runs for `polls` polls and then succeeds.
    pub fn job(polls: u32) -> Self {
        Step::Job {
            latency: Duration::ZERO,
            polls,
            end: JobEnd::Succeed,
        }
    }

    /// Accept a job that runs for `polls` polls and then fails with `class`.
    pub fn job_failing(polls: u32, class: ErrorClass) -> Self {
        let end = JobEnd::Fail(ProviderError::new(class, format!("scripted job {class}")));
        Step::Job {
            latency: Duration::ZERO,
            polls,
            end,
        }
    }

    /// Accept a job that never finishes.
    pub fn job_never_finishing() -> Self {
        Step::Job {
            latency: Duration::ZERO,
            polls: 0,
            end: JobEnd::Never,
        }
    }
}

/// Which operation a recorded call was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `submit`.
    Submit,
    /// `poll`.
    Poll,
    /// `cancel`.
    Cancel,
}

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The operation.
    pub op: Op,
    /// When it started, on the provider's clock.
    pub at: Instant,
    /// The credential id it was called with.
    pub credential: Option<String>,
    /// The provider voice id it was called with.
    pub voice: Option<String>,
}

struct Job {
    polls_left: u32,
    end: JobEnd,
}

#[derive(Default)]
struct Script {
    steps: VecDeque<Step>,
    calls: Vec<Call>,
    jobs: HashMap<String, Job>,
    next_job: u64,
}

/// A provider that follows a script: each submit takes the next [`Step`]; when the script
/// runs out it repeats its `otherwise` step (succeed at once unless set).
///
/// ```
/// use std::time::Duration;
/// use ugc_core::clock::{Clock, ManualClock};
/// use ugc_core::provider::{CallContext, ErrorClass, Provider};
/// use ugc_core::request::SpeechRequest;
/// use ugc_core::testkit::{ScriptedProvider, Step};
///
/// let clock = ManualClock::new();
/// let p = ScriptedProvider::speech("flaky", clock.shared()).then(Step::fail(ErrorClass::Transient));
/// let req = SpeechRequest::new("hi").into();
/// let ctx = CallContext::new(clock.now() + Duration::from_secs(5));
/// assert!(clock.block_on(p.submit(&req, &ctx))?.is_err());
/// assert!(clock.block_on(p.submit(&req, &ctx))?.is_ok());
/// assert_eq!(p.submits(), 2);
/// # Ok::<(), ugc_core::clock::Stalled>(())
/// ```
pub struct ScriptedProvider {
    id: String,
    capabilities: Capabilities,
    clock: SharedClock,
    otherwise: Step,
    cost_micros: u64,
    script: Mutex<Script>,
}

impl ScriptedProvider {
    /// A provider of `capabilities` named `id`.
    pub fn new(id: impl Into<String>, capabilities: Capabilities, clock: SharedClock) -> Self {
        Self {
            id: id.into(),
            capabilities,
            clock,
            otherwise: Step::succeed(),
            cost_micros: 0,
            script: Mutex::new(Script::default()),
        }
    }

    /// A synchronous speech provider.
    pub fn speech(id: impl Into<String>, clock: SharedClock) -> Self {
        Self::new(id, Capabilities::sync([MediaKind::Speech]), clock)
    }

    /// A job-running video and avatar provider.
    pub fn video(id: impl Into<String>, clock: SharedClock) -> Self {
        Self::new(
            id,
            Capabilities::jobs([MediaKind::Video, MediaKind::Avatar]),
            clock,
        )
    }

    /// Appends a step to the script.
    #[must_use]
    pub fn then(self, step: Step) -> Self {
        self.lock().steps.push_back(step);
        self
    }

    /// Appends `step` `times` times.
    #[must_use]
    pub fn then_times(self, times: usize, step: Step) -> Self {
        self.lock().steps.extend(std::iter::repeat_n(step, times));
        self
    }

    /// What every submit does once the script has run out.
    #[must_use]
    pub fn otherwise(mut self, step: Step) -> Self {
        self.otherwise = step;
        self
    }

    /// The cost the provider estimates for each request.
    #[must_use]
    pub fn cost_micros(mut self, cost: u64) -> Self {
        self.cost_micros = cost;
        self
    }

    /// Appends a step while the provider is in use.
    pub fn push(&self, step: Step) {
        self.lock().steps.push_back(step);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// How many submits were made.
    pub fn submits(&self) -> usize {
        self.count(Op::Submit)
    }

    /// How many calls of `op` were made.
    pub fn count(&self, op: Op) -> usize {
        self.lock().calls.iter().filter(|c| c.op == op).count()
    }

    /// When each submit started.
    pub fn submit_times(&self) -> Vec<Instant> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.op == Op::Submit)
            .map(|c| c.at)
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, op: Op, ctx: &CallContext) {
        let credential = ctx.credential.as_ref().map(|c| c.id().to_owned());
        let voice = ctx.voice.as_deref().map(str::to_owned);
        self.lock().calls.push(Call {
            op,
            at: self.clock.now(),
            credential,
            voice,
        });
    }

    fn media(&self, request: Option<&Request>) -> Media {
        match request.map(Request::kind) {
            Some(MediaKind::Speech) => {
                Media::bytes(silent_wav(250), "audio/wav").with_duration(Duration::from_millis(250))
            }
            _ => Media::bytes(mp4_boxes(64), "video/mp4"),
        }
    }
}

impl fmt::Debug for ScriptedProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedProvider")
            .field("id", &self.id)
            .field("steps_left", &self.lock().steps.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Provider for ScriptedProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn submit(
        &self,
        request: &Request,
        ctx: &CallContext,
    ) -> Result<Submission, ProviderError> {
        self.record(Op::Submit, ctx);
        let step = self
            .lock()
            .steps
            .pop_front()
            .unwrap_or_else(|| self.otherwise.clone());
        match step {
            Step::Succeed { latency } => {
                if !latency.is_zero() {
                    self.clock.sleep(latency).await;
                }
                Ok(Submission::Ready(self.media(Some(request))))
            }
            Step::Fail { error, latency } => {
                if !latency.is_zero() {
                    self.clock.sleep(latency).await;
                }
                Err(error)
            }
            Step::RateLimitedUntil(at) => {
                let header = httpdate::fmt_http_date(at);
                let mut error =
                    ProviderError::rate_limited("scripted 429 with an HTTP-date Retry-After")
                        .with_status(429);
                if let Some(wait) = parse_retry_after(&header, self.clock.wall()) {
                    error = error.with_retry_after(wait);
                }
                Err(error)
            }
            Step::Hang => std::future::pending().await,
            Step::Job {
                latency,
                polls,
                end,
            } => {
                if !latency.is_zero() {
                    self.clock.sleep(latency).await;
                }
                let mut script = self.lock();
                script.next_job += 1;
                let id = format!("job-{}", script.next_job);
                script.jobs.insert(
                    id.clone(),
                    Job {
                        polls_left: polls,
                        end,
                    },
                );
                Ok(Submission::Pending(JobHandle::new(id)))
            }
        }
    }

    async fn poll(&self, job: &JobHandle, ctx: &CallContext) -> Result<JobStatus, ProviderError> {
        self.record(Op::Poll, ctx);
        let mut script = self.lock();
        let Some(state) = script.jobs.get_mut(&job.id) else {
            return Err(
                ProviderError::bad_request(format!("unknown job {}", job.id)).with_status(404),
            );
        };
        if state.polls_left > 0 {
            state.polls_left -= 1;
            return Ok(JobStatus::Running { progress: None });
        }
        Ok(match state.end.clone() {
            JobEnd::Succeed => JobStatus::Succeeded(self.media(None)),
            JobEnd::Fail(error) => JobStatus::Failed(error),
            JobEnd::Never => JobStatus::Running { progress: None },
        })
    }

    async fn cancel(&self, job: &JobHandle, ctx: &CallContext) -> Result<(), ProviderError> {
        self.record(Op::Cancel, ctx);
        self.lock().jobs.remove(&job.id);
        Ok(())
    }

    fn estimate(&self, request: &Request, _model: Option<&str>) -> Usage {
        Usage {
            characters: request.characters() as u64,
            cost_micros: self.cost_micros,
            ..Usage::request()
        }
    }
}
