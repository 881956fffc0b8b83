//! Carrying out a plan on an engine: the project network first, then the steps, one
//! after another within a service and services side by side, their engine operations
//! bounded by `--parallelism` slots and their readiness waits not (`slots`). A
//! replace is create-before-destroy: the new container starts under a temporary name and
//! must pass its readiness check before the old one goes; if it fails, it is removed and
//! the old one keeps running. A failed step never stops another service's steps.
//!
//! Generic over `Engine`: the Docker engine in production, any engine in tests. Nothing
//! here reads a clock or the environment; waiting is the engine's (`wait_ready`).

pub mod slots;
pub mod swarm;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::{StreamExt, stream};

use crate::engine::{Create, Engine, EngineError, Readiness};
use crate::plan::{Action, Step, Work};
use crate::secret::Secret;
use slots::{Slots, WAITING};

/// A file placed in a container before it starts (a `SECRET FILE`); its content is a
/// secret.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub path: String,
    pub content: Secret<Vec<u8>>,
}

/// One step with everything needed to carry it out.
#[derive(Debug, Clone)]
pub struct Job {
    pub step: Step,
    /// For `Create` and `Replace`: the container to create, under the step's name.
    pub create: Option<Create>,
    pub files: Vec<File>,
    /// The service's own files (a COSMOS microservice's folder), placed before `files`.
    pub folder: Vec<crate::model::File>,
    pub readiness: Readiness,
    /// For `Replace`: the new container publishes host ports, which the old one may
    /// hold, so the old one is stopped first (and started again if the new one fails).
    pub stop_first: bool,
}

/// What happened to one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub name: String,
    pub action: Action,
    pub result: Result<(), StepError>,
}

/// Why a step did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// It never started: berth was asked to stop.
    #[error("not started: berth is stopping")]
    Stopped,
    /// It never started: an earlier step found that the engine stopped answering.
    #[error("not started: the engine stopped answering")]
    EngineGone,
    /// It ran and failed, saying why (the engine's answer, a readiness check).
    #[error("{0}")]
    Failed(String),
    /// It ran, or waited for its turn, and the engine stopped answering.
    #[error("{0}")]
    Lost(String),
}

impl StepError {
    /// The engine stopped answering: once it answers again, a new plan goes on.
    pub fn engine_gone(&self) -> bool {
        matches!(self, StepError::EngineGone | StepError::Lost(_))
    }
}

/// Why a step's work failed: what to say, and whether the engine itself stopped
/// answering, after which no further step starts (each would only fail the same way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub message: String,
    pub engine_gone: bool,
}

impl From<String> for Failed {
    fn from(message: String) -> Failed {
        Failed {
            message,
            engine_gone: false,
        }
    }
}

impl From<&str> for Failed {
    fn from(message: &str) -> Failed {
        Failed::from(message.to_string())
    }
}

impl From<EngineError> for Failed {
    fn from(e: EngineError) -> Failed {
        Failed {
            message: format!("{}: {}", e.what, e.cause),
            engine_gone: e.unreachable,
        }
    }
}

/// Progress, as it happens.
pub enum Event<'a> {
    Started(&'a Step),
    Finished(&'a Step, &'a Result<(), StepError>),
}

/// The suffix of a replacement container's name until it takes over.
pub const NEXT: &str = "-next";

/// The suffix of a replaced container's name from the moment its replacement takes over
/// until it is removed.
pub const OLD: &str = "-old";

/// Runs `jobs`, at most `parallelism` engine operations at once; `network` (name,
/// labels) is created first when given. Returns one outcome per job; if the network
/// cannot be created nothing else is tried. Once `stopping` is set, steps in flight
/// finish and no new one starts.
pub async fn execute<E: Engine>(
    engine: &E,
    network: &Network<'_>,
    jobs: &[Job],
    parallelism: usize,
    stopping: &AtomicBool,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Vec<Outcome>, EngineError> {
    if let Some(name) = network.create {
        engine.create_network(name, network.labels).await?;
    }
    let slots = &Slots::new(parallelism);
    let mut outcomes = schedule(
        jobs,
        |job| &job.step,
        parallelism.max(WAITING),
        || slots.turn(),
        stopping,
        progress,
        |job, turn| async move { run(&slots.bound(engine, turn), job).await },
    )
    .await;
    outcomes.extend(remove_network(engine, network, &outcomes).await);
    Ok(outcomes)
}

/// The project network's part in an apply: made before any container, removed after
/// every container when the project was pruned to nothing.
pub struct Network<'a> {
    pub create: Option<&'a str>,
    pub remove: Option<&'a str>,
    /// berth's labels for the project: set on a network it makes, and required of one
    /// it removes.
    pub labels: &'a BTreeMap<String, String>,
}

/// Removes the network `network` asks to, once every step went well: a container that
/// failed to go may still be attached.
pub async fn remove_network<E: Engine>(
    engine: &E,
    network: &Network<'_>,
    outcomes: &[Outcome],
) -> Option<Outcome> {
    let name = network.remove?;
    if outcomes.iter().any(|o| o.result.is_err()) {
        return None;
    }
    Some(Outcome {
        name: format!("network {name}"),
        action: Action::Remove,
        result: engine
            .remove_network(name, network.labels)
            .await
            .map_err(|e| StepError::Failed(e.to_string())),
    })
}

/// Runs `jobs` with `run`: the steps of one service in order (a leftover goes before
/// its replacement comes, replicas are replaced one at a time), services side by side,
/// at most `services` at once, each step starting on its `turn` (a free engine slot). Once `stopping` is set, or a step found the engine
/// gone, no new step starts. One outcome per job, sorted by name. Shared by containers
/// and Swarm services.
pub async fn schedule<'a, J, F, R, T, G>(
    jobs: &'a [J],
    step_of: impl Fn(&'a J) -> &'a Step,
    services: usize,
    turn: impl Fn() -> T,
    stopping: &AtomicBool,
    progress: &(dyn Fn(Event<'_>) + Sync),
    run: R,
) -> Vec<Outcome>
where
    R: Fn(&'a J, G) -> F,
    F: Future<Output = Result<(), Failed>>,
    T: Future<Output = G>,
{
    let gone = AtomicBool::new(false);
    let mut groups: BTreeMap<&str, Vec<&J>> = BTreeMap::new();
    for job in jobs {
        groups.entry(step_of(job).service.as_str()).or_default().push(job);
    }
    let (step_of, run, gone, turn) = (&step_of, &run, &gone, &turn);
    let outcomes: Vec<Vec<Outcome>> = stream::iter(groups.into_values())
        .map(|group| async move {
            let mut outcomes = Vec::new();
            for job in group {
                let step = step_of(job);
                // Stopping, or the engine gone, is known by then.
                let turn = turn().await;
                let result = if stopping.load(Ordering::SeqCst) {
                    Err(StepError::Stopped)
                } else if gone.load(Ordering::SeqCst) {
                    Err(StepError::EngineGone)
                } else {
                    progress(Event::Started(step));
                    let result = run(job, turn).await.map_err(|failed| {
                        if failed.engine_gone {
                            gone.store(true, Ordering::SeqCst);
                            StepError::Lost(failed.message)
                        } else {
                            StepError::Failed(failed.message)
                        }
                    });
                    progress(Event::Finished(step, &result));
                    result
                };
                outcomes.push(Outcome {
                    name: step.name.clone(),
                    action: step.action(),
                    result,
                });
            }
            outcomes
        })
        .buffer_unordered(services.max(1))
        .collect()
        .await;
    let mut outcomes: Vec<Outcome> = outcomes.into_iter().flatten().collect();
    outcomes.sort_by(|a, b| (&a.name, a.action).cmp(&(&b.name, b.action)));
    outcomes
}

async fn run<E: Engine>(engine: &E, job: &Job) -> Result<(), Failed> {
    let step = &job.step;
    match &step.work {
        Work::Create { start, .. } => {
            let new = create(engine, job, &step.name).await?;
            if *start {
                start_ready(engine, &new, &job.readiness).await?;
            }
            Ok(())
        }
        Work::Replace { on, .. } => replace(engine, job, &on.id).await,
        Work::Update { on, spec, .. } => Ok(engine.update(&on.id, &spec.resources).await?),
        Work::Start { on } => start_ready(engine, &on.id, &job.readiness).await,
        Work::Stop { on } => Ok(engine.stop(&on.id).await?),
        Work::Remove { on, .. } => Ok(engine.remove(&on.id).await?),
    }
}

/// Creates the job's container under `name` and places its files; returns its ID.
async fn create<E: Engine>(engine: &E, job: &Job, name: &str) -> Result<String, Failed> {
    let mut create = job.create.clone().ok_or("nothing to create")?;
    create.name = name.to_string();
    let id = engine.create_container(&create).await?;
    if !job.folder.is_empty()
        && let Err(e) = engine.put_files(&id, &job.folder).await
    {
        let _ = engine.remove(&id).await;
        return Err(e.into());
    }
    for file in &job.files {
        if let Err(e) = engine.put_file(&id, &file.path, file.content.expose()).await {
            let _ = engine.remove(&id).await;
            return Err(e.into());
        }
    }
    Ok(id)
}

async fn start_ready<E: Engine>(engine: &E, id: &str, readiness: &Readiness) -> Result<(), Failed> {
    engine.start(id).await?;
    Ok(engine.wait_ready(id, readiness).await?)
}

/// Create-before-destroy: the new container proves itself under a temporary name, then
/// takes the old one's name, and the old one goes. Stop-first when ports clash.
async fn replace<E: Engine>(engine: &E, job: &Job, old: &str) -> Result<(), Failed> {
    let step = &job.step;
    let temporary = format!("{}{NEXT}", step.name);
    if job.stop_first {
        engine.stop(old).await?;
    }
    let new = match create(engine, job, &temporary).await {
        Ok(new) => new,
        Err(e) => return Err(restore(engine, job, old, e).await),
    };
    if step.starts()
        && let Err(e) = start_ready(engine, &new, &job.readiness).await
    {
        let _ = engine.remove(&new).await;
        let e = Failed {
            message: format!("the new container failed: {}", e.message),
            ..e
        };
        return Err(restore(engine, job, old, e).await);
    }
    if job.stop_first {
        engine.remove(old).await?;
        return Ok(engine.rename(&new, &step.name).await?);
    }
    // The new container takes the name while the old one still runs under another, and
    // only then does the old one stop: the name is never without a running container,
    // and the handover waits for no stop (a stop is most of a replace's time on the
    // engine). An apply cut short in between leaves both under their other names, which
    // the next plan removes as leftovers and replaces.
    engine.rename(old, &format!("{}{OLD}", step.name)).await?;
    if let Err(e) = engine.rename(&new, &step.name).await {
        let _ = engine.remove(&new).await;
        let _ = engine.rename(old, &step.name).await;
        return Err(e.into());
    }
    engine.stop(old).await?;
    Ok(engine.remove(old).await?)
}

/// After a failed replace: the old container runs again if it was stopped for the new
/// one; the error says whether it does.
async fn restore<E: Engine>(engine: &E, job: &Job, old: &str, error: Failed) -> Failed {
    let (message, engine_gone) = if !job.stop_first {
        (
            format!("{}; the old container was left running", error.message),
            error.engine_gone,
        )
    } else {
        match engine.start(old).await {
            Ok(()) => (
                format!("{}; the old container was started again", error.message),
                error.engine_gone,
            ),
            Err(e) => {
                let again = Failed::from(e);
                (
                    format!(
                        "{}; and the old container could not be started again: {}",
                        error.message, again.message
                    ),
                    error.engine_gone || again.engine_gone,
                )
            }
        }
    };
    Failed { message, engine_gone }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::config::Mode;
    use crate::diff::{DiffOptions, diff};
    use crate::engine::fake::FakeDocker;
    use crate::engine::naming::network_name;
    use crate::engine::{Identity, Observe, Query};
    use crate::model::fixtures::{self, FakeDigests};
    use crate::model::{Model, Text};
    use crate::plan::{Plan, PlanOptions, plan};

    fn identity() -> Identity {
        Identity {
            installation: "inst".into(),
            project: "p".into(),
            commit: None,
        }
    }

    fn model(services: &[(&str, &str, &str)]) -> Model {
        Model {
            services: services
                .iter()
                .map(|(name, log, ready)| {
                    let mut s = fixtures::service(name);
                    s.env.insert("LOG".into(), Text::literal(*log));
                    s.env.insert("READY".into(), Text::literal(*ready));
                    s.ports.clear();
                    s
                })
                .collect(),
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn plan_for(engine: &FakeDocker, model: &Model) -> Plan {
        let id = identity();
        let live = block_on(engine.observe(&Query {
            identity: &id,
            mode: Mode::Docker,
            host_ports: Vec::new(),
            network: "p-net".into(),
            inspect_all: true,
        }))
        .unwrap();
        let options = DiffOptions {
            project: "p",
            installation: "i",
            default_image: "none",
            digests: &FakeDigests,
            mode: Mode::Docker,
            external_network: None,
        };
        let plan_options = PlanOptions {
            prune: true,
            mode: Mode::Docker,
        };
        plan(&diff(model, &live, &options), &plan_options)
    }

    /// Plans and executes `model`, with jobs as the CLI makes them (secrets aside).
    fn apply(engine: &FakeDocker, model: &Model, stop_first: bool) -> Vec<Outcome> {
        run_jobs(engine, model, stop_first, &AtomicBool::new(false), &|_| {})
    }

    fn run_jobs(
        engine: &FakeDocker,
        model: &Model,
        stop_first: bool,
        stopping: &AtomicBool,
        progress: &(dyn Fn(Event<'_>) + Sync),
    ) -> Vec<Outcome> {
        let plan = plan_for(engine, model);
        let id = identity();
        let jobs: Vec<Job> = plan
            .steps
            .iter()
            .map(|step| Job {
                step: step.clone(),
                create: step.spec().map(|(spec, hash)| {
                    let labels = id.container(&step.service, step.instance, spec, hash, None);
                    Create::new(
                        &step.name,
                        spec,
                        Secret::new(spec.env.clone()),
                        labels,
                        &network_name("p", Mode::Docker),
                        &step.service,
                    )
                }),
                files: Vec::new(),
                folder: Vec::new(),
                readiness: Readiness::StaysUp(Duration::ZERO),
                stop_first,
            })
            .collect();
        let labels = id.base();
        let network = Network {
            create: plan.network.as_deref(),
            remove: plan.remove_network.as_deref(),
            labels: &labels,
        };
        block_on(execute(engine, &network, &jobs, 1, stopping, progress)).unwrap()
    }

    fn running(engine: &FakeDocker) -> Vec<(String, String, RunState)> {
        let state = engine.state.lock().unwrap();
        let mut out: Vec<_> = state
            .containers
            .iter()
            .map(|c| (c.name.clone(), c.id.clone(), c.state))
            .collect();
        out.sort();
        out
    }

    use crate::live::RunState;

    #[test]
    fn readiness_waits_take_no_engine_slot_and_operations_stay_within_them() {
        let engine = FakeDocker::default();
        let names = ["a", "b", "c", "d", "e", "f"];
        let services: Vec<_> = names.iter().map(|n| (*n, "info", "yes")).collect();
        // One slot: every create and start one after another, while the six services
        // wait for readiness side by side.
        let outcomes = apply(&engine, &model(&services), false);
        assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
        assert_eq!(engine.operations.most(), 1);
        assert!(
            engine.waits.most() > 1,
            "waits held the one slot: {}",
            engine.waits.most()
        );
        // And a replace still removes the old container only once the new one is
        // ready, service by service.
        let before = running(&engine);
        let services: Vec<_> = names.iter().map(|n| (*n, "debug", "yes")).collect();
        let outcomes = apply(&engine, &model(&services), false);
        assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
        let writes = engine.writes.lock().unwrap().clone();
        let at = |write: &str| writes.iter().position(|w| w == write).unwrap();
        for (name, old, _) in before {
            let new = writes
                .iter()
                .find_map(|w| w.strip_prefix("rename ")?.strip_suffix(&format!(" {name}")))
                .unwrap();
            // The new one was ready before the old one gave up its name, and had taken it
            // before the old one stopped.
            assert!(
                at(&format!("start {new}")) < at(&format!("rename {old} {name}-old")),
                "{writes:?}"
            );
            assert!(at(&format!("rename {new} {name}")) < at(&format!("stop {old}")));
            assert!(at(&format!("stop {old}")) < at(&format!("remove {old}")));
        }
        assert_eq!(engine.operations.most(), 1);
    }

    #[test]
    fn a_replacement_takes_over_the_name_and_the_plan_is_done() {
        let engine = FakeDocker::default();
        assert!(
            apply(&engine, &model(&[("a", "info", "yes")]), false)
                .iter()
                .all(|o| o.result.is_ok())
        );
        let before = running(&engine);
        let outcomes = apply(&engine, &model(&[("a", "debug", "yes")]), false);
        assert_eq!(outcomes.len(), 1);
        assert!(outcomes[0].result.is_ok(), "{outcomes:?}");
        let after = running(&engine);
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].0, "p-a-0");
        assert_ne!(after[0].1, before[0].1, "a new container");
        assert!(plan_for(&engine, &model(&[("a", "debug", "yes")])).is_empty());
        // The old one went only after the new one was ready, and under no other name.
        let writes = engine.writes.lock().unwrap().clone();
        let position = |w: &str| writes.iter().position(|x| x == w).unwrap();
        assert!(position("create p-a-0-next") < position(&format!("remove {}", before[0].1)));
    }

    #[test]
    fn a_replacement_that_is_not_ready_leaves_the_old_container_running() {
        let engine = FakeDocker::default();
        apply(&engine, &model(&[("a", "info", "yes")]), false);
        let before = running(&engine);
        let outcomes = apply(&engine, &model(&[("a", "debug", "no")]), false);
        let error = outcomes[0].result.clone().unwrap_err().to_string();
        assert!(error.contains("left running"), "{error}");
        assert_eq!(running(&engine), before, "untouched, and no -next left");
    }

    #[test]
    fn stop_first_starts_the_old_container_again_when_the_new_one_fails() {
        let engine = FakeDocker::default();
        apply(&engine, &model(&[("a", "info", "yes")]), true);
        let before = running(&engine);
        let outcomes = apply(&engine, &model(&[("a", "debug", "no")]), true);
        let error = outcomes[0].result.clone().unwrap_err().to_string();
        assert!(error.contains("started again"), "{error}");
        assert_eq!(running(&engine), before, "running again");
    }

    #[test]
    fn a_failing_service_does_not_stop_the_others() {
        let engine = FakeDocker::default();
        let mut m = model(&[("a", "info", "yes"), ("b", "info", "yes"), ("c", "info", "yes")]);
        m.services[1].image = Some("missing".into());
        let outcomes = apply(&engine, &m, false);
        let failed: Vec<&str> = outcomes
            .iter()
            .filter(|o| o.result.is_err())
            .map(|o| o.name.as_str())
            .collect();
        assert_eq!(failed, ["p-b-0"]);
        let names: Vec<String> = running(&engine).into_iter().map(|(n, _, _)| n).collect();
        assert_eq!(names, ["p-a-0", "p-c-0"]);
    }

    #[test]
    fn once_a_step_finds_the_engine_gone_no_other_starts() {
        let engine = FakeDocker::default();
        let mut m = model(&[("a", "info", "yes"), ("b", "info", "yes"), ("c", "info", "yes")]);
        m.services[1].image = Some("gone".into());
        let outcomes = run_jobs(&engine, &m, false, &AtomicBool::new(false), &|_| {});
        let results: Vec<_> = outcomes.iter().map(|o| o.result.clone()).collect();
        // `a` was created when `b` found the engine gone; its start is not sent.
        assert_eq!(
            results[0],
            Err(StepError::Lost(
                "not started: the engine stopped answering".into()
            ))
        );
        assert!(
            matches!(&results[1], Err(StepError::Lost(e)) if e.contains("stopped answering")),
            "{results:?}"
        );
        assert_eq!(results[2], Err(StepError::EngineGone));
        // Nothing went to the engine after the operation that found it gone.
        let writes = engine.writes.lock().unwrap().clone();
        assert_eq!(
            writes.last().map(String::as_str),
            Some("create p-b-0"),
            "{writes:?}"
        );
    }

    #[test]
    fn once_stopping_the_step_in_flight_finishes_and_no_other_starts() {
        let engine = FakeDocker::default();
        let m = model(&[("a", "info", "yes"), ("b", "info", "yes"), ("c", "info", "yes")]);
        let stopping = AtomicBool::new(false);
        let outcomes = run_jobs(&engine, &m, false, &stopping, &|event| {
            if let Event::Started(_) = event {
                stopping.store(true, Ordering::SeqCst);
            }
        });
        let results: Vec<_> = outcomes.iter().map(|o| o.result.clone()).collect();
        let stopped = Err(StepError::Stopped);
        assert_eq!(results, [Ok(()), stopped.clone(), stopped]);
        let names: Vec<String> = running(&engine).into_iter().map(|(n, _, _)| n).collect();
        assert_eq!(names, ["p-a-0"]);
    }
}
