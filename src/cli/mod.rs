//! The command line: argument parsing, reading inputs from disk, printing. This is the
//! only module that touches the terminal, the filesystem or the environment.

mod apply;
mod compile;
mod completions;
mod destroy;
mod diagnostic;
mod history;
mod hook;
mod inputs;
mod lint;
mod logs;
mod plan;
pub mod report;
mod rollback;
mod sarif;
mod status;
mod unlock;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Compile, plan and apply microservice fleets declared in COSMOS, Cumulocity and Sesam
/// formats.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check configuration files and report every problem found.
    Lint(lint::LintArgs),
    /// Compile configuration files and print what they mean.
    Compile(compile::CompileArgs),
    /// Compare the configuration with the Docker engine and show what apply would do.
    Plan(plan::PlanArgs),
    /// Plan, then make the Docker engine match the configuration.
    Apply(apply::ApplyArgs),
    /// Show every service: desired commit, instances, drift, and the last apply.
    Status(status::StatusArgs),
    /// List the project's applies, rollbacks and destroys, newest first.
    History(history::HistoryArgs),
    /// Apply an earlier commit and pin the project (or services) to it until `unpin`.
    Rollback(rollback::RollbackArgs),
    /// Release a pin set by `rollback`: apply and watch follow the branch again.
    Unpin(rollback::UnpinArgs),
    /// Plan and carry out the removal of everything the project runs.
    Destroy(destroy::DestroyArgs),
    /// Print what the project's containers print.
    Logs(logs::LogsArgs),
    /// Reconcile on every push, webhook, drift and interval, until stopped.
    Watch(watch::WatchArgs),
    /// Install git hooks that trigger a reconcile on push.
    Hook(hook::HookArgs),
    /// Remove the lock of an apply that is gone.
    Unlock(unlock::UnlockArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
}

/// Parses the process arguments and runs the command.
pub fn run() -> ExitCode {
    // clap exits with 2 on a usage error; berth keeps 2 for "changes present"
    // (`plan --detailed-exitcode`), so errors are 1 and help or version 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // The environment is read here, once; below, the commands take what they need of it.
    let env = inputs::environment();
    let result = match cli.command {
        Command::Lint(args) => lint::run(args, &env),
        Command::Compile(args) => compile::run(args, &env),
        Command::Plan(args) => plan::run(args, &env),
        Command::Apply(args) => apply::run(args, &env),
        Command::Status(args) => status::run(args, &env),
        Command::History(args) => history::run(args, &env),
        Command::Rollback(args) => rollback::run(args, &env),
        Command::Unpin(args) => rollback::unpin(args, &env),
        Command::Destroy(args) => destroy::run(args, &env),
        Command::Logs(args) => logs::run(args, &env),
        Command::Watch(args) => watch::run(args, &env),
        Command::Hook(args) => hook::run(args, &env),
        Command::Unlock(args) => unlock::run(args, &env),
        Command::Completions(args) => completions::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{:?}", err);
            ExitCode::FAILURE
        }
    }
}
