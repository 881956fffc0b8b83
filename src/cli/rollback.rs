//! `berth rollback` and `berth unpin`: plan and apply the desired state of an earlier
//! commit (named, or N applies back in the journal), then pin the project (or the named
//! services) to it, so that neither `berth watch` nor `berth apply` moves them on from
//! it until `berth unpin`: a push never silently undoes a rollback.

use std::process::ExitCode;

use clap::Args;

use super::apply::{CarryArgs, Verb, carry};
use super::inputs::ProjectArgs;
use super::report::warn;
use crate::ops::Environment;
use crate::ops::plan::{PinRule, Planned, Request, locate, short};
use crate::ops::rollback::{self, Released};
use crate::repo::dir::Disk;
use crate::store::journal;

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
    let located = locate(&inputs, &Disk, env, &warn)?;
    let earlier = rollback::inputs(&inputs, &located, args.to.as_deref(), usize::from(args.steps))?;
    let request = Request {
        inputs: &earlier,
        files: &Disk,
        targets: &args.services,
        prune: args.prune,
        lock: Some(args.carry.lock_timeout),
        stopping: None,
        destroy: false,
        pin: PinRule::Ignore,
        inspect_all: false,
    };
    let question = |planned: &Planned| {
        format!(
            "Do you want to roll back {} to commit {} and pin {} there until `berth unpin`?",
            what(&args.services, &planned.identity.project),
            short(planned.identity.commit.as_deref().unwrap_or_default()),
            if args.services.is_empty() { "it" } else { "them" },
        )
    };
    let pin = |planned: &Planned| {
        let (pin, replaced) = rollback::pin(planned, &args.services, env.who.clone(), journal::now())?;
        if let Some(replaced) = replaced {
            eprintln!(
                "This replaces the pin of {} to commit {}.",
                what(&replaced.services, &planned.identity.project),
                short(&replaced.commit)
            );
        }
        eprintln!(
            "Pinned {} to commit {}; `berth unpin` follows the branch again.",
            what(&pin.services, &planned.identity.project),
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
    let project = &located.identity.project;
    match rollback::release(&located.state_dir, project, &args.services)? {
        Released::Nothing => println!("Project `{project}` is not pinned."),
        Released::All => {
            println!("Project `{project}` is no longer pinned; the next apply or watch follows the branch.")
        }
        Released::Some { left, commit } => println!(
            "Released {}; still pinned to commit {}: {}.",
            args.services.join(", "),
            short(&commit),
            left.join(", ")
        ),
    }
    Ok(ExitCode::SUCCESS)
}
