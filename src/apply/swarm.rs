//! Carrying out a plan on a swarm: the overlay network, then the services side by side
//! (the same scheduler and engine slots as containers), then the removal of secrets no
//! service uses any more. Generic over the `Swarm` interface; how to wait for
//! convergence is the engine's.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::slots::{Slots, WAITING};
use super::{Event, Failed, Network, Outcome, remove_network, schedule};
use crate::engine::swarm::ServiceRequest;
use crate::engine::{EngineError, Identity, Swarm};
use crate::plan::{Step, Work};

/// A plan step on a swarm.
#[derive(Debug, Clone)]
pub struct ServiceJob {
    pub step: Step,
    /// For `Create` and `Update`.
    pub request: Option<ServiceRequest>,
    /// How long every task must run, the same tasks throughout, before the service
    /// counts as converged: a task that crashes right after it starts is not.
    pub stable_for: Duration,
}

/// Carries out a Swarm plan: the overlay network, then the services (side by side, at
/// most `parallelism` engine operations at once, convergence waits beside them), then
/// the removal of berth's secrets of this project that no service uses any more.
/// Returns one outcome per job and notes on the secrets.
pub async fn execute_swarm<E: Swarm>(
    engine: &E,
    identity: &Identity,
    network: &Network<'_>,
    jobs: &[ServiceJob],
    parallelism: usize,
    stopping: &AtomicBool,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<(Vec<Outcome>, Vec<String>), EngineError> {
    if let Some(name) = network.create {
        engine.create_overlay(name, network.labels).await?;
    }
    let slots = &Slots::new(parallelism);
    let mut outcomes = schedule(
        jobs,
        |j| &j.step,
        parallelism.max(WAITING),
        || slots.turn(),
        stopping,
        progress,
        |job, turn| async move { run(&slots.bound(engine, turn), job).await.map_err(Failed::from) },
    )
    .await;
    let notes = engine.remove_unused_secrets(identity).await;
    outcomes.extend(remove_network(engine, network, &outcomes).await);
    Ok((outcomes, notes))
}

async fn run<E: Swarm>(engine: &E, job: &ServiceJob) -> Result<(), String> {
    let step = &job.step;
    match (&step.work, &job.request) {
        (Work::Create { .. }, Some(request)) => {
            let id = engine.create_service(request).await?;
            let Err(e) = engine.converge(&id, request, job.stable_for).await else {
                return Ok(());
            };
            // As a container that fails its readiness check: a create that fails leaves
            // nothing behind for Swarm to retry for ever, and the next apply creates it
            // again with what changed meanwhile (registry credentials, which no spec
            // holds, too).
            match engine.remove_service(&id).await {
                Ok(()) => Err(format!("{e}; the new service was removed")),
                Err(removal) => Err(format!("{e}; removing the new service failed too: {removal}")),
            }
        }
        // The version the plan was made from: Swarm refuses the update if anyone changed
        // the service since.
        (Work::Update { on, .. }, Some(request)) => {
            engine
                .update_service(&on.id, on.version.unwrap_or_default(), request)
                .await?;
            engine.converge(&on.id, request, job.stable_for).await
        }
        (Work::Remove { on, .. }, _) => engine.remove_service(&on.id).await,
        _ => Err(format!(
            "`{}` is not a step of a Swarm service",
            step.action().name()
        )),
    }
}
