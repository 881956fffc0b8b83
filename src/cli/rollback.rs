//! `berth rollback` and `berth unpin`: plan and apply the desired state of an earlier
//! commit (named, or N applies back in the journal), then pin the project (or the named
//! services) to it, so that neither `berth watch` nor `berth apply` moves them on from
//! it until `berth unpin`: a push never silently undoes a rollback.

use std::process::ExitCode;

use clap::Args;
use miette::IntoDiagnostic;

use super::apply::{CarryArgs, Verb, carry};
use super::inputs::ProjectArgs;
use super::report::warn;
use crate::ops::Environment;
use crate::ops::history::{earlier_commit, history};
use crate::ops::load::Inputs;
use crate::ops::plan::{PinRule, Planned, Request, locate, short};
use crate::repo::dir::Disk;
use crate::store::journal::{self, Pin};

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Roll back only these services, and pin only them.
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
    #[command(flatten)]
    project: ProjectArgs,
    #[command(flatten)]
    carry: CarryArgs,
    /// The commit to return to (an id, tag or branch of the repository).
    #[arg(long, value_name = "COMMIT", conflicts_with = "steps")]
    to: Option<String>,
    /// Return to the commit this many applies back in the journal (`berth history`).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    steps: u16,
    /// Remove managed containers the earlier commit does not have [default: berth.yaml's prune].
    #[arg(long)]
    prune: bool,
    /// Exit 0 when there was nothing to change, 2 when the rollback changed something,
    /// 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct UnpinArgs {
    /// Release only these services of a pin that names services.
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
    #[command(flatten)]
    project: ProjectArgs,
}

pub fn run(args: RollbackArgs, env: &Environment) -> miette::Result<ExitCode> {
    let inputs = args.project.inputs(env);
    if inputs.repo.is_none() {
        miette::bail!(
            help = "run it with --repo PATH|URL (the repository the folder comes from), as `berth watch` reads it",
            "rollback needs git: this configuration is read from a folder, which keeps no earlier versions"
        );
    }
    let located = locate(&inputs, &Disk, env, &warn)?;
    let project = located.identity.project.clone();
    let commit = match &args.to {
        Some(commit) => commit.clone(),
        None => {
            let history = history(&project, &located.state_dir, None)?;
            let mut entries = history.entries;
            entries.reverse();
            earlier_commit(&entries, usize::from(args.steps))?
        }
    };
    let earlier = Inputs {
        reference: Some(commit),
        project: Some(project),
        ..inputs
    };
    let request = Request {
        inputs: &earlier,
        files: &Disk,
        targets: &args.services,
        prune: args.prune,
        lock: Some(args.carry.lock_timeout),
        stopping: None,
        destroy: false,
        pin: PinRule::Ignore,
    };
    let question = |planned: &Planned| {
        format!(
            "Do you want to roll back {} to commit {} and pin {} there until `berth unpin`?",
            what(&args.services, &planned.identity.project),
            short(planned.identity.commit.as_deref().unwrap_or_default()),
            if args.services.is_empty() { "it" } else { "them" },
        )
    };
    // Pinned before anything changes: a watcher waiting for the lock then finds the
    // pin, not the branch.
    let pin = |planned: &Planned| {
        let pin = Pin {
            commit: planned.identity.commit.clone().unwrap_or_default(),
            services: args.services.clone(),
            time: journal::now(),
            by: env.who.clone(),
        };
        journal::set_pin(&planned.state_dir, &planned.identity.project, &pin).into_diagnostic()?;
        eprintln!(
            "Pinned {} to commit {}; `berth unpin` follows the branch again.",
            what(&args.services, &planned.identity.project),
            short(&pin.commit)
        );
        Ok(())
    };
    let verb = Verb {
        kind: "rollback",
        question: &question,
        settled: &pin,
    };
    Ok(carry(&request, env, &args.carry, None, &verb)?.exit(args.detailed_exitcode))
}

fn what(services: &[String], project: &str) -> String {
    if services.is_empty() {
        format!("project `{project}`")
    } else {
        format!("{} of project `{project}`", services.join(", "))
    }
}

pub fn unpin(args: UnpinArgs, env: &Environment) -> miette::Result<ExitCode> {
    let located = locate(&args.project.inputs(env), &Disk, env, &warn)?;
    let (state, project) = (&located.state_dir, &located.identity.project);
    let Some(mut pin) = journal::pin(state, project).unwrap_or_else(|e| {
        warn(&e);
        None
    }) else {
        // A damaged pin is removed like a good one.
        let removed = journal::unpin(state, project).into_diagnostic()?;
        println!(
            "Project `{project}` {}.",
            if removed {
                "is no longer pinned"
            } else {
                "is not pinned"
            }
        );
        return Ok(ExitCode::SUCCESS);
    };
    if !args.services.is_empty() {
        if pin.services.is_empty() {
            miette::bail!(
                help = "`berth unpin` without services releases it",
                "the whole project `{project}` is pinned, not single services"
            );
        }
        if let Some(unknown) = args.services.iter().find(|s| !pin.services.contains(s)) {
            miette::bail!("`{unknown}` is not pinned; pinned: {}", pin.services.join(", "));
        }
        pin.services.retain(|s| !args.services.contains(s));
    }
    if pin.services.is_empty() || args.services.is_empty() {
        journal::unpin(state, project).into_diagnostic()?;
        println!("Project `{project}` is no longer pinned; the next apply or watch follows the branch.");
    } else {
        journal::set_pin(state, project, &pin).into_diagnostic()?;
        println!(
            "Released {}; still pinned to commit {}: {}.",
            args.services.join(", "),
            short(&pin.commit),
            pin.services.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
