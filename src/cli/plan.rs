//! `berth plan`: compile the repository, observe the Docker engine through a read-only
//! handle, and print what apply would do — as Terraform does, or as JSON — optionally
//! saving it for `berth apply FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use miette::{IntoDiagnostic, WrapErr};

use super::inputs::InputArgs;
use super::report::warn;
use super::report::{colour, colour_stdout, json, render, stdout};
use crate::ops::Dial;
use crate::ops::Environment;
use crate::ops::plan::{PinRule, Planned, Request, Unplanned, make};
use crate::plan::view::human;
use crate::repo::dir::Disk;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Also save the plan (JSON) for `berth apply FILE`, bound to what it was made from.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Plan only these services (repeatable).
    #[arg(long = "target", value_name = "SERVICE")]
    targets: Vec<String>,
    /// Remove managed containers that left the configuration [default: berth.yaml's prune].
    #[arg(long)]
    prune: bool,
    /// Inspect every container, also those whose labels show them current: finds a
    /// limit changed by hand (`docker update`), at one engine request per container.
    #[arg(long)]
    inspect_all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Terraform-style text.
    Human,
    /// The document described by schemas/plan.schema.json.
    Json,
}

pub fn run(args: PlanArgs, env: &Environment) -> miette::Result<ExitCode> {
    let inputs = args.inputs.inputs(env);
    let request = Request {
        inputs: &inputs,
        files: &Disk,
        targets: &args.targets,
        prune: args.prune,
        lock: None,
        stopping: None,
        destroy: false,
        pin: PinRule::Warn,
        inspect_all: args.inspect_all,
    };
    let planned = match plan(&request, env) {
        Ok(planned) => planned,
        Err(unplanned) => return exit(unplanned),
    };
    let view = &planned.view;
    if let Some(path) = &args.out {
        std::fs::write(path, json(view))
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot write the plan to {}", path.display()))?;
    }
    for error in &planned.plan.errors {
        eprintln!("error: {error}");
    }
    stdout(&match args.format {
        Format::Human => human(&planned.plan, colour_stdout()),
        Format::Json => json(view),
    })?;
    Ok(if !planned.plan.errors.is_empty() {
        ExitCode::FAILURE
    } else if args.detailed_exitcode && !planned.plan.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Plans on the engine the configuration names: the use case on one runtime, with the
/// process's environment.
pub fn plan(request: &Request<'_>, env: &Environment) -> Result<Planned, Unplanned> {
    let runtime = runtime().map_err(|e| Unplanned::Failed(crate::failure::Failure::new(e.to_string())))?;
    runtime
        .block_on(make(request, env, &Dial::default(), &warn))
        .map(|(planned, _)| planned)
}

/// Prints why nothing was planned; the command's exit.
pub fn exit(unplanned: Unplanned) -> miette::Result<ExitCode> {
    match unplanned {
        Unplanned::Invalid { ref problems, .. } => {
            for p in problems {
                eprint!("{}", render(p, colour()));
            }
            eprintln!("error: {unplanned}");
            Ok(ExitCode::FAILURE)
        }
        Unplanned::Engine(e) => {
            eprintln!("error: {}", e.explained());
            Ok(ExitCode::FAILURE)
        }
        Unplanned::Refused(failure) | Unplanned::Failed(failure) => Err(failure.into()),
    }
}

pub fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .into_diagnostic()
}
