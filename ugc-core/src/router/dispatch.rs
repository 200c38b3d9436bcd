//! The dispatch loop: pick, call, classify, then retry, fail over, wait or give up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::BackoffBuilder;

use crate::breaker::Permit;
use crate::clock::{Clock, timeout};
use crate::provider::{CallContext, ErrorClass, JobHandle, JobStatus, ProviderError, Submission};
use crate::request::Request;
use crate::{Error, ErrorKind, Media, Usage};

use super::backoff::DecorrelatedJitterBackoff;
use super::outcome::{Attempt, AttemptResult, Outcome, SkipReason};
use super::state::{InFlight, Unusable};
use super::strategy::Candidate;
use super::{DecorrelatedJitter, DispatchOptions, Route, Router};

/// What one dispatch remembers of one candidate.
#[derive(Default)]
struct Local {
    /// Out of this dispatch (retries spent, misconfigured, over budget, ...).
    excluded: bool,
    /// Costs more than the caller's budget: never part of an ETA either.
    over_budget: bool,
    /// Retry delays left for transient failures.
    backoff: Option<DecorrelatedJitterBackoff>,
    /// Calls made so far in this dispatch.
    calls: u32,
    /// The last skip recorded, so that waiting does not repeat it in the trail.
    last_skip: Option<SkipReason>,
    /// The provider's own voice id for this request.
    voice: Option<Arc<str>>,
}

/// One dispatch in progress.
struct Run<'r> {
    router: &'r Router,
    request: &'r Request,
    start: Instant,
    deadline: Instant,
    candidates: Vec<Candidate>,
    locals: Vec<Local>,
    attempts: Vec<Attempt>,
    last_error: Option<(usize, ProviderError)>,
}

impl Router {
    /// Routes `request` until an endpoint produces the media, the deadline comes, or no
    /// endpoint can take it.
    ///
    /// The total time never exceeds the deadline: every call, poll and wait is bounded by it.
    pub async fn dispatch(&self, request: &Request, options: DispatchOptions) -> Outcome {
        let start = self.clock.now();
        let deadline = start + options.deadline.unwrap_or(self.config.deadline);
        let mut run = match Run::new(self, request, start, deadline, options.budget_micros) {
            Ok(run) => run,
            Err(error) => {
                return Outcome::Failed {
                    error,
                    attempts: Vec::new(),
                };
            }
        };
        run.drive().await
    }
}

impl<'r> Run<'r> {
    fn new(
        router: &'r Router,
        request: &'r Request,
        start: Instant,
        deadline: Instant,
        budget: Option<u64>,
    ) -> Result<Self, Error> {
        let kind = request.kind();
        let pinned = request.model();
        let mut candidates = Vec::with_capacity(router.routes.len());
        for (index, route) in router.routes.iter().enumerate() {
            let endpoint = &route.endpoint;
            if !endpoint.provider.capabilities().supports(kind) {
                continue;
            }
            if pinned.is_some() && pinned != endpoint.model.as_deref() {
                continue;
            }
            let estimate = endpoint
                .provider
                .estimate(request, endpoint.model.as_deref());
            let cost_micros = endpoint
                .price
                .map_or(estimate.cost_micros, |p| p.cost_micros(&estimate));
            candidates.push(Candidate {
                index,
                priority: endpoint.priority,
                weight: endpoint.weight,
                latency_secs: route.state.latency().map_or(0.0, |l| l.as_secs_f64()),
                estimate: Usage {
                    cost_micros,
                    ..estimate
                },
            });
        }
        if candidates.is_empty() {
            return Err(match pinned {
                Some(model) => {
                    Error::invalid_input(format!("no endpoint serves model {model} for {kind}"))
                }
                None => Error::config(format!("no endpoint serves {kind}")),
            });
        }
        router.config.strategy.order(&mut candidates);
        let mut run = Self {
            router,
            request,
            start,
            deadline,
            locals: candidates.iter().map(|_| Local::default()).collect(),
            candidates,
            attempts: Vec::new(),
            last_error: None,
        };
        for pos in 0..run.candidates.len() {
            if budget.is_some_and(|b| run.candidates[pos].estimate.cost_micros > b) {
                run.locals[pos].excluded = true;
                run.locals[pos].over_budget = true;
                run.skip(pos, SkipReason::OverBudget, None, start);
                continue;
            }
            match run.route(pos).endpoint.resolve_voice(request.voice()) {
                Ok(voice) => run.locals[pos].voice = voice,
                Err(()) => {
                    run.locals[pos].excluded = true;
                    run.skip(pos, SkipReason::NoVoiceMapping, None, start);
                }
            }
        }
        Ok(run)
    }

    fn clock(&self) -> &'r dyn Clock {
        &*self.router.clock
    }

    fn route(&self, pos: usize) -> &'r Route {
        &self.router.routes[self.candidates[pos].index]
    }

    fn skip(&mut self, pos: usize, reason: SkipReason, until: Option<Instant>, now: Instant) {
        self.attempts.push(Attempt {
            endpoint: self.route(pos).id.clone(),
            result: AttemptResult::Skipped(reason),
            at: now - self.start,
            latency: Duration::ZERO,
            retry_after: until.map(|t| t.saturating_duration_since(now)),
            message: None,
        });
    }

    async fn drive(&mut self) -> Outcome {
        let mut prefer: Option<usize> = None;
        loop {
            let now = self.clock().now();
            if now >= self.deadline {
                return self.timed_out();
            }
            let (chosen, earliest) = self.choose(prefer.take(), now);
            let Some((pos, permit, slot)) = chosen else {
                return match earliest {
                    Some(at) if at < self.deadline => {
                        self.clock().sleep_until(at).await;
                        continue;
                    }
                    Some(at) => self.deferred(at, now),
                    None => self.exhausted(),
                };
            };
            match self.call(pos, permit, slot, now).await {
                Ok(media) => return self.done(pos, media),
                Err(error) => {
                    if let Some(outcome) = self.after_failure(pos, error, &mut prefer).await {
                        return outcome;
                    }
                }
            }
        }
    }

    /// The first usable candidate (the preferred one first), admitted (breaker permit,
    /// self-limit and in-flight slots taken), or the earliest moment one becomes usable.
    fn choose(
        &mut self,
        prefer: Option<usize>,
        now: Instant,
    ) -> (Option<Admitted<'r>>, Option<Instant>) {
        let n = self.candidates.len();
        let order = prefer
            .into_iter()
            .chain((0..n).filter(|p| Some(*p) != prefer));
        let mut earliest: Option<Instant> = None;
        for pos in order {
            if self.locals[pos].excluded {
                continue;
            }
            let state = &self.route(pos).state;
            match state
                .check(now, self.router.config.concurrency_wait)
                .and_then(|()| state.admit(now))
            {
                Ok((permit, slot)) => return (Some((pos, permit, slot)), earliest),
                Err(Unusable { reason, until }) => {
                    if self.locals[pos].last_skip != Some(reason) {
                        self.locals[pos].last_skip = Some(reason);
                        self.skip(pos, reason, until, now);
                    }
                    if let Some(t) = until {
                        earliest = Some(earliest.map_or(t, |e| e.min(t)));
                    }
                }
            }
        }
        (None, earliest)
    }

    /// One call to the admitted endpoint at `pos`, including the polling of its job.
    async fn call(
        &mut self,
        pos: usize,
        permit: Permit<'r>,
        slot: InFlight<'r>,
        started: Instant,
    ) -> Result<Media, Failure> {
        let route = self.route(pos);
        let clock = self.clock();
        let local = &mut self.locals[pos];
        local.calls += 1;
        local.last_skip = None;
        let endpoint = &route.endpoint;
        let mut ctx = CallContext::new(self.deadline);
        ctx.model = endpoint.model.clone();
        ctx.credential = endpoint.credential.clone();
        ctx.voice = local.voice.clone();
        ctx.attempt = local.calls;
        let timeout_after = endpoint
            .attempt_timeout
            .unwrap_or(self.router.config.attempt_timeout);
        let call_deadline = self.deadline.min(started + timeout_after);
        let submitted = timeout(
            clock,
            call_deadline,
            endpoint.provider.submit(self.request, &ctx),
        )
        .await;
        let result = match submitted {
            Ok(Ok(Submission::Ready(media))) => Ok(media),
            Ok(Ok(Submission::Pending(job))) => self.follow(route, &job, &ctx, timeout_after).await,
            Ok(Err(error)) => Err(error),
            Err(_) if endpoint.provider.capabilities().async_jobs => {
                Err(ProviderError::acceptance_unknown(format!(
                    "submit timed out after {timeout_after:?}; the job may have been accepted"
                )))
            }
            Err(_) => Err(ProviderError::transient(format!(
                "timed out after {timeout_after:?}"
            ))),
        };
        let latency = clock.now() - started;
        drop(slot);
        match result {
            Ok(media) => {
                permit.on_success(latency);
                route
                    .state
                    .record_latency(latency, self.router.config.latency_ewma_alpha);
                self.push(pos, AttemptResult::Succeeded, started, latency, None, None);
                Ok(media)
            }
            Err(error) => {
                if error.class().counts_against_breaker() {
                    permit.on_failure(latency);
                } else {
                    permit.release();
                }
                Err(Failure {
                    error,
                    started,
                    latency,
                })
            }
        }
    }

    /// Polls an accepted job until it is done, fails, or the deadline comes (then cancels it).
    async fn follow(
        &self,
        route: &Route,
        job: &JobHandle,
        ctx: &CallContext,
        timeout_after: Duration,
    ) -> Result<Media, ProviderError> {
        let clock = self.clock();
        let provider = &route.endpoint.provider;
        let interval = job.poll_after.unwrap_or(self.router.config.poll_interval);
        loop {
            let wake = clock.now() + interval;
            if wake >= self.deadline {
                // The next poll could not happen in time: stop the job rather than pay for it.
                let cancelled = timeout(clock, self.deadline, provider.cancel(job, ctx)).await;
                let how = if matches!(cancelled, Ok(Ok(()))) {
                    "cancelled"
                } else {
                    "cancel not confirmed"
                };
                return Err(ProviderError::acceptance_unknown(format!(
                    "job {} still running at the deadline; {how}",
                    job.id
                )));
            }
            clock.sleep_until(wake).await;
            let poll_deadline = self.deadline.min(clock.now() + timeout_after);
            match timeout(clock, poll_deadline, provider.poll(job, ctx)).await {
                Ok(Ok(JobStatus::Succeeded(media))) => return Ok(media),
                Ok(Ok(JobStatus::Failed(error)))
                    if error.class() == ErrorClass::AcceptanceUnknown =>
                {
                    // The provider confirms the failure, so the job is known to be over.
                    return Err(ProviderError::transient(error.message().to_owned()));
                }
                Ok(Ok(JobStatus::Failed(error))) => return Err(error),
                Ok(Ok(JobStatus::Running { .. })) | Err(_) => {}
                Ok(Err(error)) if error.class().retries_same_endpoint() => {}
                Ok(Err(error)) => {
                    return Err(ProviderError::acceptance_unknown(format!(
                        "job {} status unreadable: {}",
                        job.id,
                        error.message()
                    )));
                }
            }
        }
    }

    /// Applies the failover table to a failed call; `Some` ends the dispatch.
    async fn after_failure(
        &mut self,
        pos: usize,
        failure: Failure,
        prefer: &mut Option<usize>,
    ) -> Option<Outcome> {
        let Failure {
            error,
            started,
            latency,
        } = failure;
        let config = &self.router.config;
        let route = self.route(pos);
        let state = &route.state;
        let class = error.class();
        let now = self.clock().now();
        match class {
            ErrorClass::RateLimited => {
                state.cool_down(now + error.retry_after().unwrap_or(config.default_cooldown))
            }
            ErrorClass::ConcurrencyLimited => {
                state.cool_down(now + error.retry_after().unwrap_or(config.concurrency_wait));
            }
            ErrorClass::QuotaExhausted => {
                state.cool_down(now + error.retry_after().unwrap_or(config.quota_cooldown))
            }
            ErrorClass::Misconfigured => {
                state.mark_misconfigured(now + config.misconfigured_cooldown)
            }
            _ => {}
        }
        let usable_in = state
            .usable_at(now)
            .map(|t| t.saturating_duration_since(now))
            .filter(|d| !d.is_zero());
        tracing::warn!(
            target: "ugc::router",
            endpoint = %route.id,
            class = class.as_str(),
            latency_ms = latency.as_millis() as u64,
            usable_in_ms = usable_in.map(|d| d.as_millis() as u64),
            "attempt failed"
        );
        let message = Some(error.message().to_owned());
        self.push(
            pos,
            AttemptResult::Failed(class),
            started,
            latency,
            usable_in,
            message,
        );
        // The failure already says when the endpoint is usable again: no skip entry for it.
        self.locals[pos].last_skip = state.unusable(now, config.concurrency_wait);
        let ends_here = !class.fails_over(config.content_rejected_fails_over);
        // Retry the same endpoint only if it can take the call now: its breaker may just have
        // opened, and then the breaker, not this dispatch, decides when it is back.
        let usable_now = state.usable_at(now) == Some(now);
        let retry_delay = if class == ErrorClass::Transient && usable_now {
            self.next_backoff(pos, &error, now)
        } else {
            None
        };
        self.last_error = Some((pos, error));
        if ends_here {
            return Some(self.failed_by_last());
        }
        match class {
            ErrorClass::Transient => match retry_delay {
                Some(delay) => {
                    self.clock().sleep(delay).await;
                    *prefer = Some(pos);
                }
                None if !usable_now => {}
                None => self.locals[pos].excluded = true,
            },
            // The cooldown keeps the endpoint out until it may be retried.
            ErrorClass::RateLimited | ErrorClass::ConcurrencyLimited => {}
            _ => self.locals[pos].excluded = true,
        }
        None
    }

    /// The delay before retrying the same endpoint after a transient failure, if a retry is
    /// left and it fits before the deadline. A provider's own hint (Hugging Face's
    /// `estimated_time`) lengthens it.
    fn next_backoff(
        &mut self,
        pos: usize,
        error: &ProviderError,
        now: Instant,
    ) -> Option<Duration> {
        let config = &self.router.config;
        let backoff = self.locals[pos].backoff.get_or_insert_with(|| {
            DecorrelatedJitter::new(config.backoff_base, config.backoff_cap, config.max_retries)
                .build()
        });
        let delay = backoff.next()?.max(error.retry_after().unwrap_or_default());
        (now + delay < self.deadline).then_some(delay)
    }

    fn push(
        &mut self,
        pos: usize,
        result: AttemptResult,
        started: Instant,
        latency: Duration,
        retry_after: Option<Duration>,
        message: Option<String>,
    ) {
        self.attempts.push(Attempt {
            endpoint: self.route(pos).id.clone(),
            result,
            at: started - self.start,
            latency,
            retry_after,
            message,
        });
    }

    fn done(&mut self, pos: usize, media: Media) -> Outcome {
        let route = self.route(pos);
        tracing::debug!(target: "ugc::router", endpoint = %route.id, attempts = self.attempts.len(), "served");
        Outcome::Done {
            media,
            endpoint: route.id.clone(),
            attempts: std::mem::take(&mut self.attempts),
            estimate: self.candidates[pos].estimate,
        }
    }

    /// Defers until the earliest moment any affordable candidate is usable: `earliest` of
    /// those still in this dispatch, or sooner one that failed here but comes back (a
    /// breaker that reopens for a trial call).
    fn deferred(&mut self, earliest: Instant, now: Instant) -> Outcome {
        let back = (0..self.candidates.len())
            .filter(|pos| self.locals[*pos].excluded && !self.locals[*pos].over_budget)
            .filter_map(|pos| self.route(pos).state.usable_at(now))
            .filter(|at| *at > now);
        let eta = back
            .fold(earliest, Instant::min)
            .saturating_duration_since(now);
        tracing::info!(target: "ugc::router", eta_ms = eta.as_millis() as u64, "deferred: no endpoint before the deadline");
        Outcome::Deferred {
            eta,
            attempts: std::mem::take(&mut self.attempts),
        }
    }

    fn timed_out(&mut self) -> Outcome {
        let error = Error::new(
            ErrorKind::Timeout,
            "the deadline passed before any endpoint succeeded",
        );
        Outcome::Failed {
            error,
            attempts: std::mem::take(&mut self.attempts),
        }
    }

    /// Every candidate is out of this dispatch and none will come back on its own in time.
    fn exhausted(&mut self) -> Outcome {
        if self.last_error.is_none()
            && self
                .attempts
                .iter()
                .all(|a| a.result == AttemptResult::Skipped(SkipReason::OverBudget))
        {
            let error = Error::new(
                ErrorKind::QuotaExceeded,
                "every endpoint costs more than the remaining budget",
            );
            return Outcome::Failed {
                error,
                attempts: std::mem::take(&mut self.attempts),
            };
        }
        let mut error = Error::new(
            ErrorKind::AllProvidersUnavailable,
            match &self.last_error {
                Some((pos, e)) => format!(
                    "no endpoint could serve the request; last: {} {}",
                    self.route(*pos).id,
                    e.class()
                ),
                None => "no endpoint can take the request".to_owned(),
            },
        );
        if let Some(wait) = self.router.min_wait_for(self.request.kind()) {
            error = error.with_retry_after(wait);
        }
        if let Some((_, source)) = self.last_error.take() {
            error = error.with_source(source);
        }
        Outcome::Failed {
            error,
            attempts: std::mem::take(&mut self.attempts),
        }
    }

    /// The last failure ends the dispatch (bad request, unknown acceptance, content).
    fn failed_by_last(&mut self) -> Outcome {
        let Some((pos, source)) = self.last_error.take() else {
            return self.exhausted();
        };
        let id = &self.route(pos).id;
        let mut error = Error::new(
            source.class().error_kind(),
            format!("{id}: {}", source.message()),
        )
        .with_provider(id.provider());
        if let Some(r) = source.retry_after() {
            error = error.with_retry_after(r);
        }
        Outcome::Failed {
            error: error.with_source(source),
            attempts: std::mem::take(&mut self.attempts),
        }
    }
}

/// A candidate position with its breaker permit and in-flight slot.
type Admitted<'r> = (usize, Permit<'r>, InFlight<'r>);

/// A failed call: the provider's error, when the call started and how long it took.
struct Failure {
    error: ProviderError,
    started: Instant,
    latency: Duration,
}
