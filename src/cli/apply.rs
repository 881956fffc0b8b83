//! `berth apply`: plan, then carry the plan out on the Docker engine — the project
//! network first, then each container step. A failed step is reported and the others go
//! on; the exit code says whether everything was applied.

use std::process::ExitCode;

use clap::Args;

use super::inputs::InputArgs;
use super::plan::{Planned, engine_problem, make, runtime};
use super::report::{colour, stdout};
use crate::diff::network_name;
use crate::engine::docker::Docker;
use crate::engine::{Create, Engine, EngineError};
use crate::plan::view::human;
use crate::plan::{Action, Step};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Apply without asking. Required for now: berth does not prompt yet.
    #[arg(long)]
    auto_approve: bool,
    /// Apply only to these services (repeatable).
    #[arg(long = "target", value_name = "SERVICE")]
    targets: Vec<String>,
    /// Remove managed containers that left the configuration [default: berth.yaml's prune].
    #[arg(long)]
    prune: bool,
}

pub fn run(args: ApplyArgs) -> miette::Result<ExitCode> {
    if !args.auto_approve {
        miette::bail!(
            help = "review it with `berth plan`, then run `berth apply --auto-approve`",
            "berth apply needs --auto-approve"
        );
    }
    let Some(planned) = make(&args.inputs, &args.targets, args.prune)? else {
        return Ok(ExitCode::FAILURE);
    };
    stdout(&human(&planned.plan, colour()))?;
    if !planned.plan.errors.is_empty() {
        for error in &planned.plan.errors {
            eprintln!("error: {error}");
        }
        eprintln!("error: the plan has errors; nothing was applied");
        return Ok(ExitCode::FAILURE);
    }
    if planned.plan.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let failures = runtime()?.block_on(async {
        let docker = match Docker::connect(&planned.address).await {
            Ok(d) => d,
            Err(e) => return vec![engine_problem(&e)],
        };
        execute(&docker, &planned).await
    });
    for failure in &failures {
        eprintln!("error: {failure}");
    }
    if failures.is_empty() {
        println!(
            "Apply complete: {}",
            planned.view.summary.line().trim_start_matches("Plan: ")
        );
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}

/// Carries out every step; returns what failed.
async fn execute(engine: &impl Engine, planned: &Planned) -> Vec<String> {
    if let Some(network) = &planned.plan.network
        && let Err(e) = engine.create_network(network, &planned.identity.base()).await
    {
        // Without the network no container can be created.
        return vec![engine_problem(&e)];
    }
    let mut failures = Vec::new();
    for step in &planned.plan.steps {
        match run_step(engine, planned, step).await {
            Ok(()) => println!("{}: {} done", step.name, step.action.name()),
            Err(e) => failures.push(format!("{}: {} failed: {e}", step.name, step.action.name())),
        }
    }
    failures
}

async fn run_step(engine: &impl Engine, planned: &Planned, step: &Step) -> Result<(), String> {
    let id = step.id.as_deref().unwrap_or_default();
    let fail = |e: EngineError| engine_problem(&e);
    match step.action {
        Action::Create => create(engine, planned, step).await,
        Action::Replace => {
            // Stop-first for now: create-before-destroy with probes comes with apply's
            // safety work.
            engine.remove(id).await.map_err(fail)?;
            create(engine, planned, step).await
        }
        Action::Update => {
            let spec = step.spec.as_ref().ok_or("no spec to update to")?;
            engine.update(id, &spec.resources).await.map_err(fail)
        }
        Action::Start => engine.start(id).await.map_err(fail),
        Action::Stop => engine.stop(id).await.map_err(fail),
        Action::Remove => engine.remove(id).await.map_err(fail),
    }
}

async fn create(engine: &impl Engine, planned: &Planned, step: &Step) -> Result<(), String> {
    let (Some(spec), Some(hash)) = (&step.spec, &step.hash) else {
        return Err("no spec to create from".into());
    };
    let service = planned
        .model
        .services
        .iter()
        .find(|s| s.name == step.service)
        .ok_or("the service left the model")?;
    if !spec.secret_files.is_empty() {
        return Err("secret files are not delivered yet; use SECRET ENV".into());
    }
    let env = planned
        .secrets
        .environment(service)
        .map_err(|name| format!("secret `{name}` has no value"))?;
    let identity = &planned.identity;
    let labels = identity.container(&step.service, step.instance, spec, hash, step.origin.as_ref());
    let request = Create::new(
        &step.name,
        spec,
        env,
        labels,
        &network_name(&identity.project),
        &step.service,
    );
    let fail = |e: EngineError| engine_problem(&e);
    let id = engine.create_container(&request).await.map_err(fail)?;
    if step.start {
        engine.start(&id).await.map_err(fail)?;
    }
    Ok(())
}
