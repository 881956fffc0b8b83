//! The reconcile of `berth watch` and what it remembers between runs, shaped like a
//! controller's reconciler: each run reads the repository, observes the engine, plans,
//! and applies what the drift mode allows (the decisions in `Memory`), then answers with
//! `Next`. It never learns why it ran. Engine calls go through the process's one
//! runtime and one connection (`Connect`); the time comes from the `Clock` it is given,
//! so that it runs the same on the fake engine in tests.
//!
//! Beside it: the failure policy (what waits for a change, what is retried), crash-loop
//! detection, drift de-duplication in the log, and each service's state for /status.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, UNIX_EPOCH};

use tokio::runtime::Handle;
use tracing::{debug, error, info, warn};

use super::status::{LastError, Outcome, Reconcile, ScheduledPull, ServiceState, Shared, WatchedService};
use super::{Backoff, Failure, Memory, Next, retry_backoff};
use crate::apply::{Event, StepError};
use crate::config::Drift;
use crate::engine::docker::Address;
use crate::engine::{Engine, EngineError, Identity, ImageSource, Observe, Swarm};
use crate::live::RunState;
use crate::notify::{self, Endpoint, PATIENT};
use crate::ops::apply::{Observer, Run, Settings as ApplySettings, carry_out, record, source};
use crate::ops::load::Inputs;
use crate::ops::notify::{self as events, About};
use crate::ops::plan::{PinRule, Planned, Request, Unplanned, make};
use crate::ops::status::{PinStatus, services};
use crate::ops::{Connect, Environment};
use crate::plan::{Action, Step};
use crate::repo::dir::Disk;
use crate::schedule::{Found, Pulls};
use crate::secret::Secret;
use crate::store::journal;

/// How the watcher reconciles: what to read and how to apply it.
#[derive(Debug, Clone)]
pub struct Settings {
    pub inputs: Inputs,
    pub env: Environment,
    /// Remove managed containers that left the configuration.
    pub prune: bool,
    /// How long to wait for another apply of the project.
    pub lock_timeout: Duration,
    /// How many services change at once.
    pub parallelism: usize,
    /// How long a container without probes must stay up to be ready.
    pub stable_for: Duration,
    /// The drift mode over berth.yaml's.
    pub drift: Option<Drift>,
}

/// The watcher's clock, passed in: the loop hands the system's, tests their own.
pub trait Clock: Send + Sync {
    fn instant(&self) -> Instant;
    /// Seconds since the Unix epoch.
    fn unix(&self) -> f64;
}

/// A time as the journal and /status write it.
fn stamp(unix: f64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs_f64(unix.max(0.0))).to_string()
}

/// The reconcile and what it remembers between runs. Runs on a blocking thread: it
/// reads git and files and waits for the lock; engine calls run on `runtime`.
pub struct Reconciler<C: Connect> {
    settings: Settings,
    connect: C,
    runtime: Handle,
    clock: Box<dyn Clock>,
    memory: Memory,
    backoff: Backoff,
    /// The last failure logged, so that a failure repeated by every trigger is logged
    /// once.
    logged: Option<String>,
    /// Drift reported in warn mode, so that it is logged when it changes.
    reported: BTreeSet<String>,
    /// Service → why its last step failed.
    errors: BTreeMap<String, String>,
    /// Service → the spec hash its last failed step was to make: a Swarm update to it
    /// that Swarm rolled back is not rolled out again.
    failed_specs: BTreeMap<String, String>,
    /// Container ID → how many times the engine had restarted it at the last look.
    restarts: BTreeMap<String, u32>,
    /// Services the engine was restarting again and again at the last look.
    crashing: BTreeSet<String>,
    /// The project whose last convergence was read back from the state directory.
    resumed: Option<String>,
    /// Scheduled image pulls (`pull_image_cron_expression`), how to pull each service's
    /// image and on which engine, from the last plan.
    pulls: Pulls,
    pull_sources: BTreeMap<String, ScheduledImage>,
    pull_address: Option<Address>,
    /// Each scheduled service's last pull, for /status.
    last_pulls: BTreeMap<String, ScheduledPull>,
    /// Services whose scheduled pull found a new image, until an apply replaces them.
    pulled: BTreeSet<String>,
    /// The pin last logged, so that it is logged when it changes.
    pin_logged: Option<String>,
    /// berth.yaml's notify endpoints, as last read.
    endpoints: Vec<Endpoint>,
    /// Why endpoints were left out, as last logged.
    endpoints_left_out: Vec<String>,
    /// Services held, as last told.
    held_told: BTreeSet<String>,
    /// The events of this reconcile, sent when it ends.
    outbox: Vec<notify::Event>,
    /// Whether the engine answered at the last look (`None` before berth got as far as
    /// asking it).
    engine_up: Option<bool>,
}

/// What a scheduled service pulls, and the image its containers run now.
struct ScheduledImage {
    image: String,
    source: ImageSource,
    running: Option<String>,
}

/// What one reconcile came to.
struct Ending {
    outcome: Outcome,
    next: Next,
    failure: Option<Failure>,
    done: Option<String>,
    /// Why an apply ran besides a new commit (`image update by schedule: web`).
    reason: Option<String>,
}

impl<C> Reconciler<C>
where
    C: Connect,
    C::Engine: Swarm,
{
    pub fn new(settings: Settings, connect: C, runtime: Handle, clock: Box<dyn Clock>) -> Reconciler<C> {
        Reconciler {
            settings,
            connect,
            runtime,
            clock,
            memory: Memory::default(),
            backoff: retry_backoff(),
            logged: None,
            reported: BTreeSet::new(),
            errors: BTreeMap::new(),
            failed_specs: BTreeMap::new(),
            restarts: BTreeMap::new(),
            crashing: BTreeSet::new(),
            resumed: None,
            pulls: Pulls::default(),
            pull_sources: BTreeMap::new(),
            pull_address: None,
            last_pulls: BTreeMap::new(),
            pulled: BTreeSet::new(),
            pin_logged: None,
            endpoints: Vec::new(),
            endpoints_left_out: Vec::new(),
            held_told: BTreeSet::new(),
            outbox: Vec::new(),
            engine_up: None,
        }
    }

    /// How long until the next scheduled pull, if any is scheduled.
    pub fn until_next_pull(&self) -> Option<Duration> {
        let next = self.pulls.next_due()?;
        // Just past the second it is due, so that the reconcile it wakes finds it due.
        Some(Duration::from_secs_f64(
            (next as f64 - self.clock.unix()).max(0.0) + 0.05,
        ))
    }

    /// Pulls the images of the services due at `now` (Sesam's `pull_image_cron_expression`:
    /// the node pulls on the schedule and restarts the container when the pull brought a
    /// newer image). A new image behind the tag changes the service's spec hash, so the
    /// plan that follows replaces it, as any other change.
    fn pull_scheduled(&mut self, now: i64, shared: &Shared) {
        let due = self.pulls.due(now);
        let (Some(address), false) = (&self.pull_address, due.is_empty()) else {
            return;
        };
        let jobs: Vec<(String, &ScheduledImage)> = due
            .into_iter()
            .filter_map(|s| {
                let image = self.pull_sources.get(&s)?;
                Some((s, image))
            })
            .collect();
        // Each service's pull stands alone: one that fails leaves the others be.
        let pulled = self
            .runtime
            .block_on(async {
                let docker = self.connect.connect(address).await?;
                let mut out = Vec::new();
                for (service, job) in &jobs {
                    let pull = async {
                        let before = docker.image_id(&job.image).await?;
                        docker.provide_image(&job.source).await?;
                        let after = docker.image_id(&job.image).await?;
                        let found = Found::of(job.running.as_deref(), before.as_deref(), after.as_deref());
                        Ok::<_, EngineError>((found, after.unwrap_or_default()))
                    };
                    out.push((service.clone(), job.image.clone(), pull.await));
                }
                Ok(out)
            })
            .map_err(|e: EngineError| e.explained());
        let pulled = match pulled {
            Ok(pulled) => pulled,
            Err(e) => {
                warn!("scheduled pulls: {e}; trying again at the next due time");
                return;
            }
        };
        let time = stamp(self.clock.unix());
        for (service, image, result) in pulled {
            let (result, detail) = match result {
                Ok((found, after)) => {
                    if found == Found::NewImage {
                        info!(%service, %image, "scheduled pull: the tag names a new image ({after}); replacing the service");
                        self.pulled.insert(service.clone());
                    } else {
                        debug!(%service, %image, "scheduled pull: the same image");
                    }
                    (found.name(), after)
                }
                Err(e) => {
                    let e = e.explained();
                    warn!(%service, %image, "scheduled pull failed: {e}");
                    ("failed", e)
                }
            };
            shared.metrics.scheduled_pull(result);
            self.last_pulls.insert(
                service,
                ScheduledPull {
                    time: time.clone(),
                    image,
                    result,
                    detail,
                },
            );
        }
    }

    /// Schedules the pulls the plan's services ask for: those that pull from a
    /// registry (never with `skip_pull`, never an image berth builds or loads).
    fn schedule_pulls(&mut self, planned: &Planned, now: i64) {
        let mut schedules = BTreeMap::new();
        let mut sources = BTreeMap::new();
        for service in &planned.model.services {
            let (Some(expression), Some(image)) = (&service.pull.schedule, &service.image) else {
                continue;
            };
            if let Ok(Some(source @ ImageSource::Pull { .. })) = source(planned, image, service) {
                // The image the service's containers run now: what a pull is compared with.
                let running = planned
                    .live
                    .containers
                    .iter()
                    .filter_map(|c| c.owner.as_ref())
                    .find(|o| o.service == service.name)
                    .map(|o| o.image_id.clone());
                schedules.insert(service.name.clone(), expression.clone());
                sources.insert(
                    service.name.clone(),
                    ScheduledImage {
                        image: image.clone(),
                        source,
                        running,
                    },
                );
            }
        }
        self.pulls.set(&schedules, now);
        self.last_pulls.retain(|s, _| schedules.contains_key(s));
        self.pulled.retain(|s| schedules.contains_key(s));
        self.pull_sources = sources;
        self.pull_address = Some(planned.address.clone());
    }

    /// One reconcile; what the loop does next.
    pub fn reconcile(&mut self, shared: &Shared) -> Next {
        let started = self.clock.instant();
        let time = stamp(self.clock.unix());
        shared.status(|s| s.reconciling = true);
        self.pull_scheduled(self.clock.unix() as i64, shared);
        let settings = &self.settings;
        let request = Request {
            inputs: &settings.inputs,
            files: &Disk,
            targets: &[],
            prune: settings.prune,
            lock: Some(settings.lock_timeout),
            stopping: Some(&shared.stopping),
            destroy: false,
            pin: PinRule::Follow,
            inspect_all: true,
        };
        let warn = |line: &str| warn!("{line}");
        let made = self
            .runtime
            .block_on(make(&request, &settings.env, &self.connect, &warn));
        let was_up = self.engine_up;
        match &made {
            Ok(_) => self.engine_up = Some(true),
            Err(Unplanned::Engine(e)) => self.engine_up = Some(!e.unreachable),
            Err(_) => {}
        }
        let (ending, commit) = match made {
            Ok((planned, engine)) => {
                let commit = planned.identity.commit.clone();
                self.schedule_pulls(&planned, self.clock.unix() as i64);
                (self.converge(planned, &engine, shared), commit)
            }
            Err(unplanned) => {
                let commit = match &unplanned {
                    Unplanned::Invalid { commit, .. } => commit.clone(),
                    _ => None,
                };
                let invalid = match &unplanned {
                    Unplanned::Invalid {
                        problems,
                        commit,
                        project,
                        notify,
                    } => {
                        if !notify.is_empty() {
                            self.endpoints = notify.clone();
                        }
                        let project = project
                            .clone()
                            .or_else(|| self.resumed.clone())
                            .unwrap_or_default();
                        let engine = shared.status(|s| s.engine.clone()).unwrap_or_default();
                        let about = About {
                            project: &project,
                            engine: &engine,
                            commit: commit.as_deref(),
                            by: self.settings.env.who.as_deref(),
                            sender: "watch",
                            time: time.clone(),
                        };
                        Some(events::invalid(&about, problems))
                    }
                    _ => None,
                };
                let failure = failure(unplanned);
                // Told once per configuration, as it is logged.
                if self.logged.as_deref() != Some(failure.message()) {
                    self.outbox.extend(invalid);
                }
                let outcome = match failure {
                    Failure::Permanent(_) => Outcome::Invalid,
                    Failure::Transient(_) => Outcome::Failed,
                };
                (self.failed(failure, outcome), commit)
            }
        };
        let seconds = self.clock.instant().duration_since(started).as_secs_f64();
        shared.metrics.reconciled(ending.outcome.name(), seconds);
        // Only a reconcile that found nothing to do saw the engine match the repository
        // (after an apply, the next reconcile looks).
        let matched = ending.outcome == Outcome::InSync;
        if matched {
            shared.metrics.succeeded(self.clock.unix());
        }
        match &ending.failure {
            None => {
                self.logged = None;
                debug!(outcome = ending.outcome.name(), seconds, "reconciled");
            }
            Some(failure) if self.logged.as_deref() != Some(failure.message()) => {
                self.logged = Some(failure.message().to_string());
                match failure {
                    Failure::Permanent(m) => {
                        error!(
                            "{m}; nothing was changed, and berth waits for the next change to the repository"
                        )
                    }
                    Failure::Transient(m) => warn!("{m}; retrying in {}", retry_text(ending.next)),
                }
            }
            Some(_) => debug!(outcome = ending.outcome.name(), "the same failure again"),
        }
        if was_up == Some(false) && self.engine_up == Some(true) {
            info!("the engine answers again");
        }
        if let Some(up) = self.engine_up {
            shared.metrics.engine_up(up);
        }
        self.send(shared);
        shared.status(|s| {
            s.engine_reachable = self.engine_up;
            s.reconciling = false;
            s.reconciles += 1;
            s.last_reconcile = Some(Reconcile {
                started: time.clone(),
                seconds,
                outcome: ending.outcome,
                commit,
                done: ending.done.clone(),
                reason: ending.reason.clone(),
            });
            if matched {
                s.last_success = Some(time.clone());
            }
            match &ending.failure {
                None => s.last_error = None,
                Some(f) => {
                    s.last_error = Some(LastError {
                        time: time.clone(),
                        message: f.message().to_string(),
                        permanent: matches!(f, Failure::Permanent(_)),
                    })
                }
            }
        });
        ending.next
    }

    /// Sends this reconcile's events, on tasks of their own: a slow or absent receiver
    /// never holds up the loop.
    fn send(&mut self, shared: &Shared) {
        let events = std::mem::take(&mut self.outbox);
        let Some(notifier) = shared.notifier.get().filter(|_| !self.endpoints.is_empty()) else {
            return;
        };
        let _runtime = self.runtime.enter();
        for event in &events {
            notifier.send(&self.endpoints, event, PATIENT);
        }
    }

    /// berth.yaml's notify endpoints; those left out are logged when that changes.
    fn read_endpoints(&mut self, planned: &Planned) {
        let (endpoints, left_out) = events::endpoints(&planned.config, &planned.root);
        if left_out != self.endpoints_left_out {
            for line in &left_out {
                warn!("{line}");
            }
            self.endpoints_left_out = left_out;
        }
        self.endpoints = endpoints;
    }

    /// The services whose planned Swarm update is the one that failed last time, which
    /// Swarm has since rolled back.
    fn rolled_back(&self, planned: &Planned) -> BTreeSet<String> {
        planned
            .plan
            .steps
            .iter()
            .filter(|s| s.action() == Action::Update)
            .filter(|s| {
                let failed = (self.failed_specs.get(&s.service))
                    .is_some_and(|h| s.spec().is_some_and(|(_, hash)| hash == h));
                let live = s
                    .existing()
                    .and_then(|e| planned.live.containers.iter().find(|c| c.id == e.id));
                let rolled = live.and_then(|c| c.swarm.as_ref()).is_some_and(|s| s.rolled_back);
                failed && rolled
            })
            .map(|s| s.service.clone())
            .collect()
    }

    /// The parts of an event every event of this plan shares.
    fn about<'a>(&'a self, planned: &'a Planned) -> About<'a> {
        let time = stamp(self.clock.unix());
        let by = self.settings.env.who.as_deref();
        About::of(&planned.identity, &planned.address.host, by, "watch", time)
    }

    fn failed(&mut self, failure: Failure, outcome: Outcome) -> Ending {
        let next = match failure {
            // Retrying the same commit cannot help; the next trigger (or the interval)
            // looks again.
            Failure::Permanent(_) => Next::AwaitChange,
            Failure::Transient(_) => Next::Requeue(self.backoff.next().unwrap_or_default()),
        };
        Ending {
            outcome,
            next,
            failure: Some(failure),
            done: None,
            reason: None,
        }
    }

    /// Decides what to do with a plan and does it.
    fn converge(&mut self, mut planned: Planned, engine: &C::Engine, shared: &Shared) -> Ending {
        let mode = self.mode(&planned);
        self.share(&planned, mode, shared);
        self.read_endpoints(&planned);
        if !planned.plan.errors.is_empty() {
            return self.failed(
                Failure::Permanent(
                    planned
                        .plan
                        .errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                Outcome::Invalid,
            );
        }
        // Rolling out again what Swarm just rolled back would only roll it back again, at
        // every trigger: such a service waits for a configuration that changes it.
        let rolled_back = self.rolled_back(&planned);
        if !rolled_back.is_empty() {
            let said: Vec<String> = rolled_back
                .iter()
                .map(|s| match self.errors.get(s) {
                    Some(why) => format!("`{s}` ({why})"),
                    None => format!("`{s}`"),
                })
                .collect();
            let message = format!(
                "Swarm rolled back the update of {} to this configuration; berth does not roll it out again until the service's configuration changes",
                said.join(", ")
            );
            planned.plan.steps.retain(|s| !rolled_back.contains(&s.service));
            if planned.plan.steps.is_empty() {
                self.publish(&planned, &BTreeSet::new(), &BTreeSet::new(), shared);
                return self.failed(Failure::Permanent(message), Outcome::Failed);
            }
            warn!("{message}");
        }
        let project = &planned.identity.project;
        // A watcher started again remembers what the engine last matched, so that a
        // change made by hand meanwhile is still drift, not a reason to apply.
        if self.resumed.as_ref() != Some(project) {
            self.resumed = Some(project.clone());
            if let Some(digest) = journal::converged(&planned.state_dir, project) {
                self.memory.converged(&digest);
            }
        }
        let desired = planned.view.desired_digest.clone();
        if planned.plan.is_empty()
            && self.memory.converged(&desired)
            && let Err(e) = journal::set_converged(&planned.state_dir, project, &desired)
        {
            warn!("cannot record the converged state in the journal: {e}");
        }
        let decision = self
            .memory
            .decide(&planned.plan.steps, &desired, mode, self.clock.instant());
        let healing = !decision.drift.is_empty() && !decision.apply.is_empty();
        let reported: BTreeSet<String> = decision.drift.iter().map(Step::summary).collect();
        if reported != self.reported {
            for step in decision
                .drift
                .iter()
                .filter(|s| !self.reported.contains(&s.summary()))
            {
                let handling = if healing { "healed" } else { "reported" };
                shared.metrics.drift(step.action().name(), handling);
                if healing {
                    warn!(container = %step.name, "drift: {}; healing", step.summary());
                } else {
                    warn!(container = %step.name, "drift: {}; left as it is (drift mode warn)", step.summary());
                }
            }
            // A service held is told as held, below.
            let held = |service: &str| decision.held.iter().any(|h| h.service == service);
            let new: Vec<&Step> = decision
                .drift
                .iter()
                .filter(|s| !healing && !held(&s.service) && !self.reported.contains(&s.summary()))
                .collect();
            let mut found: Vec<String> = new.iter().map(|s| s.service.clone()).collect();
            found.dedup();
            if !found.is_empty() {
                let steps: Vec<String> = new.iter().map(|s| s.summary()).collect();
                let detail = format!(", left as it is: {}", steps.join("; "));
                let event = events::services(&self.about(&planned), "drift_found", found, &detail);
                self.outbox.push(event);
            }
            self.reported = if healing { BTreeSet::new() } else { reported };
        }
        for held in &decision.held {
            shared.metrics.drift("any", "held");
            warn!(
                service = %held.service,
                "drift again after {} heal(s) in a row: crash-looping or changed by someone else; next heal in {}",
                held.heals,
                humantime::format_duration(Duration::from_secs(held.wait.as_secs().max(1)))
            );
        }
        let held: BTreeSet<&str> = decision.held.iter().map(|h| h.service.as_str()).collect();
        let newly: Vec<String> = held
            .iter()
            .filter(|s| !self.held_told.contains(**s))
            .map(|s| s.to_string())
            .collect();
        if !newly.is_empty() {
            let detail = "; its next heal waits out a backoff";
            let event = events::services(&self.about(&planned), "service_held", newly, detail);
            self.outbox.push(event);
        }
        self.held_told = held.iter().map(|s| s.to_string()).collect();
        let drifted: BTreeSet<&str> = decision
            .drift
            .iter()
            .filter(|_| !healing)
            .map(|s| s.service.as_str())
            .collect();
        // The project network is removed only with every step: a container left (held,
        // or drift not healed) may still be attached.
        if decision.apply.len() < planned.plan.steps.len() {
            planned.plan.remove_network = None;
        }
        if decision.apply.is_empty() && planned.plan.remove_network.is_none() {
            let outcome = if planned.plan.is_empty() {
                Outcome::InSync
            } else if !drifted.is_empty() {
                Outcome::DriftReported
            } else if !held.is_empty() {
                Outcome::DriftHeld
            } else {
                Outcome::DriftIgnored
            };
            self.backoff.reset();
            self.errors
                .retain(|service, _| planned.plan.steps.iter().any(|s| &s.service == service));
            self.publish(&planned, &held, &drifted, shared);
            let next = decision.requeue().map_or(Next::AwaitChange, Next::Requeue);
            return Ending {
                outcome,
                next,
                failure: None,
                done: None,
                reason: None,
            };
        }

        let steps = decision.apply;
        let decision_drift = decision.drift;
        info!(
            commit = planned.identity.commit.as_deref().unwrap_or("-"),
            "applying {} step(s): {}",
            steps.len(),
            steps.iter().map(Step::summary).collect::<Vec<_>>().join(", ")
        );
        planned.plan.steps = steps;
        let settings = ApplySettings {
            parallelism: self.settings.parallelism,
            stable_for: self.settings.stable_for,
        };
        let log = Log { clock: &*self.clock };
        let outcomes = self
            .runtime
            .block_on(carry_out(engine, &planned, &settings, &shared.stopping, &log));
        let gone = match &outcomes {
            Ok(outcomes) => outcomes
                .iter()
                .any(|o| o.result.as_ref().is_err_and(StepError::engine_gone)),
            Err(e) => e.unreachable,
        };
        if gone {
            self.engine_up = Some(false);
        }
        let outcomes = outcomes.map_err(|e| e.explained());
        let outcomes = match outcomes {
            Ok(outcomes) => outcomes,
            Err(e) => {
                let event = events::failed(&self.about(&planned), "apply", &e);
                self.outbox.push(event);
                return self.failed(Failure::Transient(e), Outcome::Failed);
            }
        };
        // Steps of services a scheduled pull found a new image for: an image update by
        // schedule, whatever else changed.
        let by_schedule: BTreeSet<String> = planned
            .plan
            .steps
            .iter()
            .map(|s| s.service.clone())
            .filter(|s| self.pulled.contains(s))
            .collect();
        let reason = (!by_schedule.is_empty()).then(|| {
            format!(
                "image update by schedule: {}",
                by_schedule.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        });
        let run = Run {
            kind: "apply",
            by: self
                .settings
                .env
                .who
                .as_ref()
                .map(|who| format!("{who} (berth watch)")),
            reason: reason.clone(),
            time: stamp(self.clock.unix()),
        };
        let entry = record(&outcomes, &planned, run, &log);
        let event = events::finished(&self.about(&planned), "apply", &entry, None);
        self.outbox.push(event);
        if healing && entry.failed.is_empty() {
            // What was applied of the drift: a held service's steps were not.
            let applied: Vec<&Step> = decision_drift
                .iter()
                .filter(|d| planned.plan.steps.iter().any(|s| s.name == d.name))
                .collect();
            let mut healed: Vec<String> = applied.iter().map(|s| s.service.clone()).collect();
            healed.dedup();
            let steps: Vec<String> = applied.iter().map(|s| s.summary()).collect();
            let detail = format!(": {}", steps.join("; "));
            let event = events::services(&self.about(&planned), "drift_healed", healed, &detail);
            self.outbox.push(event);
        }
        let service_of = |name: &str| {
            planned
                .plan
                .steps
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.service.clone())
                .unwrap_or_default()
        };
        for outcome in &outcomes {
            let service = service_of(&outcome.name);
            match &outcome.result {
                Ok(()) => {
                    self.errors.remove(&service);
                    self.failed_specs.remove(&service);
                    self.pulled.remove(&service);
                }
                // Not a service's step (the project network's removal): the apply's
                // report says it.
                Err(_) if service.is_empty() => {}
                Err(StepError::Stopped) => {}
                Err(e) => {
                    let hash = planned.plan.steps.iter().find(|s| s.name == outcome.name);
                    if let Some((_, hash)) = hash.and_then(Step::spec) {
                        self.failed_specs.insert(service.clone(), hash.to_string());
                    }
                    self.errors.insert(
                        service,
                        format!("{} {}: {e}", outcome.action.name(), outcome.name),
                    );
                }
            }
        }
        self.publish(&planned, &held, &BTreeSet::new(), shared);
        if entry.failed.is_empty() {
            info!(
                commit = planned.identity.commit.as_deref().unwrap_or("-"),
                "applied: {}", entry.done
            );
            self.backoff.reset();
            // Look again at once: level-triggered, the next reconcile proves the engine
            // converged (and refreshes /status).
            Ending {
                outcome: Outcome::Applied,
                next: Next::Requeue(Duration::ZERO),
                failure: None,
                done: Some(entry.done),
                reason,
            }
        } else {
            let message = format!("apply incomplete ({}): {}", entry.done, entry.failed.join("; "));
            let mut ending = self.failed(Failure::Transient(message), Outcome::Incomplete);
            ending.done = Some(entry.done);
            ending.reason = reason;
            ending
        }
    }

    /// --drift, else berth.yaml's.
    fn mode(&self, planned: &Planned) -> Drift {
        self.settings.drift.unwrap_or(planned.config.drift)
    }

    /// Hands what the configuration says to the rest of the watcher: the webhook
    /// secrets, the drift mode, the project whose events to follow.
    fn share(&self, planned: &Planned, mode: Drift, shared: &Shared) {
        let config = &planned.config;
        let named = [
            ("github", &config.webhooks.github),
            ("gitea", &config.webhooks.gitea),
            ("gitlab", &config.webhooks.gitlab),
            ("generic", &config.webhooks.generic),
        ];
        let hooks = named
            .into_iter()
            .filter_map(|(endpoint, name)| {
                let name = name.as_ref()?;
                let value = crate::store::secrets::find(&config.secrets.providers, name, &planned.root).map(Secret::new).ok_or_else(|| {
                    format!("webhooks.{endpoint} names secret `{name}`, which has no value in any of berth.yaml's secrets.providers")
                });
                Some((endpoint, value))
            })
            .collect();
        *shared.hooks.lock().unwrap_or_else(|e| e.into_inner()) = Some(hooks);
        shared.drift_off.store(mode == Drift::Off, Ordering::SeqCst);
        let identity = Identity {
            commit: None,
            ..planned.identity.clone()
        };
        let target = (identity, planned.address.clone());
        shared.target.send_if_modified(|current| {
            let changed = current.as_ref() != Some(&target);
            if changed {
                *current = Some(target);
            }
            changed
        });
        shared.status(|s| {
            s.project = Some(planned.identity.project.clone());
            s.engine = Some(planned.address.host.clone());
            s.drift_mode = match mode {
                Drift::Off => "off",
                Drift::Warn => "warn",
                Drift::Heal => "heal",
            };
        });
    }

    /// Publishes every service's state, as of the plan (before any apply).
    fn publish(
        &mut self,
        planned: &Planned,
        held: &BTreeSet<&str>,
        drifted: &BTreeSet<&str>,
        shared: &Shared,
    ) {
        // Crash-looping: restarting now, or restarted by the engine since the last look.
        // The engine's restart policy (with its own backoff) restarts it; berth reports.
        let mut crashing = BTreeSet::new();
        for c in &planned.live.containers {
            let Some(owner) = &c.owner else { continue };
            let restarted = self
                .restarts
                .get(&c.id)
                .is_some_and(|before| c.restarts > *before);
            if c.state == RunState::Restarting || restarted {
                crashing.insert(owner.service.clone());
            }
        }
        for service in crashing.difference(&self.crashing) {
            warn!(%service, "crash-looping: the engine keeps restarting it (see `docker logs`); berth reports it and leaves the restarts to the engine");
        }
        let looping: Vec<String> = crashing.difference(&self.crashing).cloned().collect();
        if !looping.is_empty() {
            let detail = "; the engine keeps restarting it (`berth logs` shows why)";
            let event = events::services(&self.about(planned), "crash_loop", looping, detail);
            self.outbox.push(event);
        }
        self.restarts = planned
            .live
            .containers
            .iter()
            .map(|c| (c.id.clone(), c.restarts))
            .collect();
        self.crashing = crashing;
        let watched = services(planned)
            .into_iter()
            .map(|status| {
                let name = status.name.as_str();
                let restarting = self.crashing.contains(name);
                let error = self.errors.get(name).cloned();
                let state = if error.is_some() {
                    ServiceState::Failing
                } else if held.contains(name) {
                    ServiceState::Held
                } else if restarting {
                    ServiceState::CrashLooping
                } else if drifted.contains(name) {
                    ServiceState::Drifted
                } else if status.drift.is_empty() {
                    ServiceState::InSync
                } else {
                    ServiceState::OutOfSync
                };
                WatchedService {
                    last_scheduled_pull: self.last_pulls.get(name).cloned(),
                    status,
                    desired_commit: planned.identity.commit.clone(),
                    state,
                    last_error: error,
                }
            })
            .collect();
        let pinned = planned.pinned.as_ref().map(PinStatus::of);
        // Logged when what is pinned changes, not each time the branch moves on.
        let what = pinned
            .as_ref()
            .map(|p| format!("{} {:?}", p.pin.commit, p.pin.services));
        if what != self.pin_logged {
            match &pinned {
                Some(p) => warn!("{}: newer commits wait for `berth unpin`", p.summary),
                None if self.pin_logged.is_some() => info!("unpinned: following the branch again"),
                None => {}
            }
            self.pin_logged = what;
        }
        shared.metrics.pin(pinned.as_ref().map(|p| p.ahead.unwrap_or(0)));
        shared.status(|s| {
            s.desired_commit = planned.identity.commit.clone();
            s.services = watched;
            s.kept = planned.plan.kept.clone();
            s.nodes = planned.live.swarm_nodes.clone();
            s.pinned = pinned;
        });
    }
}

/// Sorts why nothing was planned by what makes it pass.
pub fn failure(unplanned: Unplanned) -> Failure {
    match unplanned {
        Unplanned::Invalid { problems, commit, .. } => Failure::Permanent(format!(
            "the configuration{} has {} error(s): {}",
            commit
                .map(|c| format!(" at commit {}", journal::short(&c)))
                .unwrap_or_default(),
            problems.len(),
            problems
                .iter()
                .map(|p| p.one_line().trim_end().to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )),
        Unplanned::Refused(report) => Failure::Permanent(format!("{report}")),
        Unplanned::Engine(e) => Failure::Transient(e.explained()),
        Unplanned::Failed(report) => Failure::Transient(format!("{report}")),
    }
}

fn retry_text(next: Next) -> String {
    match next {
        Next::Requeue(after) => humantime::format_duration(after).to_string(),
        Next::AwaitChange => "the next change".into(),
    }
}

/// An apply's progress, as log lines.
struct Log<'a> {
    clock: &'a dyn Clock,
}

impl Observer for Log<'_> {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Started(step) => debug!(container = %step.name, "{} started", step.action().name()),
            Event::Finished(step, Ok(())) => info!(container = %step.name, "{} done", step.action().name()),
            Event::Finished(step, Err(e)) => {
                warn!(container = %step.name, "{} failed: {e}", step.action().name())
            }
        }
    }

    fn now(&self) -> Instant {
        self.clock.instant()
    }

    fn unix(&self) -> Duration {
        Duration::from_secs_f64(self.clock.unix().max(0.0))
    }

    fn note(&self, warning: bool, line: &str) {
        if warning {
            warn!("{line}");
        } else {
            info!("{line}");
        }
    }
}
