//! `berth destroy`: Terraform's destroy, compose's down. A plan that removes every
//! object of the project (containers, its network, Swarm services and their secrets,
//! COSMOS entries berth wrote), or only the targets', then approval, then removal.
//! Volumes and anything without berth's ownership labels are never touched.

use std::process::ExitCode;

use clap::Args;

use super::apply::{CarryArgs, Verb, carry};
use super::inputs::InputArgs;
use crate::ops::Environment;
use crate::ops::plan::{PinRule, Request};
use crate::repo::dir::Disk;

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    inputs: InputArgs,
    #[command(flatten)]
    carry: CarryArgs,
    /// Destroy only these services (repeatable); the project network stays.
    #[arg(long = "target", value_name = "SERVICE")]
    targets: Vec<String>,
}

pub fn run(args: DestroyArgs, env: &Environment) -> miette::Result<ExitCode> {
    let inputs = args.inputs.inputs(env);
    let request = Request {
        inputs: &inputs,
        files: &Disk,
        targets: &args.targets,
        prune: true,
        lock: Some(args.carry.lock_timeout),
        stopping: None,
        destroy: true,
        pin: PinRule::Ignore,
        inspect_all: false,
    };
    let question = |planned: &crate::ops::plan::Planned| {
        let what = if args.targets.is_empty() {
            format!("everything project `{}` runs", planned.identity.project)
        } else {
            format!(
                "{} of project `{}`",
                args.targets.join(", "),
                planned.identity.project
            )
        };
        format!("Do you really want to destroy {what}? Volumes are kept. There is no undo.")
    };
    let verb = Verb {
        kind: "destroy",
        question: &question,
        settled: &|_| Ok(()),
    };
    Ok(carry(&request, env, &args.carry, None, &verb)?.exit(false))
}
