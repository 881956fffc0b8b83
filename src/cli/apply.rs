//! `berth apply`: plan (or re-check a saved plan), ask, then carry the plan out with the
//! apply use case, showing progress on the terminal and a final report.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use miette::{IntoDiagnostic, WrapErr};

use super::inputs::InputArgs;
use super::plan::{exit, runtime};
use super::report::warn;
use super::report::{colour_stdout, stdout};
use crate::apply::{Event, Outcome, StepError};
use crate::notify::{BRIEF, Notifier};
use crate::ops::Dial;
use crate::ops::Environment;
use crate::ops::apply::{Observer, Remade, Run, Settings, carry_out, fresh, record, remade};
use crate::ops::load::Inputs;
use crate::ops::notify::{self as events, About};
use crate::ops::plan::{PinRule, Planned, Request, make};
use crate::plan::Step;
use crate::plan::view::{PlanView, human};
use crate::repo::dir::Disk;
use crate::store::journal;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    inputs: InputArgs,
    #[command(flatten)]
    carry: CarryArgs,
    /// Apply only to these services (repeatable).
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

/// How apply, rollback and destroy carry a plan out.
#[derive(Debug, Args)]
pub struct CarryArgs {
    /// Go ahead without asking.
    #[arg(long)]
    auto_approve: bool,
    /// How many engine operations (create, start, stop, remove, pull) run at once;
    /// readiness checks and Swarm convergence are waited for beside them.
    #[arg(long, default_value_t = 8, value_name = "N")]
    parallelism: usize,
    /// How long to wait for another apply of the project to finish.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub lock_timeout: Duration,
    /// A container without probes is ready when it has stayed up this long; a Swarm
    /// service when all its tasks have.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    stable_for: Duration,
}

/// What is being carried out, for the prompt, the report and the journal.
pub struct Verb<'a> {
    /// `apply`, `rollback` or `destroy`, as the journal names it.
    pub kind: &'static str,
    /// The approval question, about the plan.
    pub question: &'a dyn Fn(&Planned) -> String,
    /// Run once the plan is to go ahead (approved, or nothing to do), before anything
    /// changes: a rollback pins the project here.
    pub settled: &'a dyn Fn(&Planned) -> miette::Result<()>,
}

/// How a carried-out plan ended.
pub enum Carried {
    /// The engine already matched.
    Nothing,
    Done,
    /// Refused, cancelled, or some steps failed: exit 1.
    Failed,
}

impl Carried {
    /// The exit code; with `detailed`, 2 when something changed.
    pub fn exit(self, detailed: bool) -> ExitCode {
        match self {
            Carried::Nothing => ExitCode::SUCCESS,
            Carried::Done if detailed => ExitCode::from(2),
            Carried::Done => ExitCode::SUCCESS,
            Carried::Failed => ExitCode::FAILURE,
        }
    }
}

pub fn run(args: ApplyArgs, env: &Environment) -> miette::Result<ExitCode> {
    let saved = saved_plan(&args.inputs.inputs(env))?;
    let Remade {
        inputs,
        targets,
        prune,
        inspect_all,
    } = match &saved {
        Some(view) => remade(view, env),
        None => Remade {
            inputs: args.inputs.inputs(env),
            targets: args.targets.clone(),
            prune: args.prune,
            inspect_all: args.inspect_all,
        },
    };
    let request = Request {
        inputs: &inputs,
        files: &Disk,
        targets: &targets,
        prune,
        lock: Some(args.carry.lock_timeout),
        stopping: None,
        destroy: false,
        pin: PinRule::Refuse,
        inspect_all: inspect_all || args.inspect_all,
    };
    let verb = Verb {
        kind: "apply",
        question: &|_| "Do you want to perform these actions?".into(),
        settled: &|_| Ok(()),
    };
    Ok(carry(&request, env, &args.carry, saved.as_ref(), &verb)?.exit(false))
}

/// Plans (or re-checks a saved plan), shows the plan, asks, and carries it out with
/// progress on the terminal; the report is kept in the journal.
pub fn carry(
    request: &Request<'_>,
    env: &Environment,
    args: &CarryArgs,
    saved: Option<&PlanView>,
    verb: &Verb<'_>,
) -> miette::Result<Carried> {
    // One runtime and one connection to the engine, for the plan and its apply.
    let runtime = runtime()?;
    let (planned, docker) = match runtime.block_on(make(request, env, &Dial::default(), &warn)) {
        Ok(made) => made,
        Err(unplanned) => {
            exit(unplanned)?;
            return Ok(Carried::Failed);
        }
    };
    match saved {
        // Applying a saved plan applies exactly it: anything new since is refused.
        Some(saved) => fresh(saved, &planned.view).map_err(|stale| {
            miette::miette!(
                help = "make a new plan with `berth plan --out FILE` and review it",
                "{stale}"
            )
        })?,
        None => stdout(&human(&planned.plan, colour_stdout()))?,
    }
    if !planned.plan.errors.is_empty() {
        for error in &planned.plan.errors {
            eprintln!("error: {error}");
        }
        eprintln!("error: the plan has errors; nothing was applied");
        return Ok(Carried::Failed);
    }
    if planned.plan.is_empty() {
        if saved.is_some() {
            println!("No changes. The engine matches the configuration.");
        }
        (verb.settled)(&planned)?;
        // A rollback to what already runs still pins: that is news too.
        if verb.kind == "rollback" {
            let entry = record(&[], &planned, journal_run(verb, env), &Progress::new());
            notify(&runtime, &planned, env, verb, |about| {
                events::finished(about, verb.kind, &entry, pin_of(verb, &planned))
            });
        }
        return Ok(Carried::Nothing);
    }
    if saved.is_none() && !args.auto_approve && !approved(verb.kind, &(verb.question)(&planned))? {
        eprintln!("{} cancelled.", title(verb.kind));
        return Ok(Carried::Failed);
    }
    (verb.settled)(&planned)?;
    let settings = Settings {
        parallelism: args.parallelism,
        stable_for: args.stable_for,
    };
    let outcomes = runtime.block_on(carry_out(
        &docker,
        &planned,
        &settings,
        &AtomicBool::new(false),
        &Progress::new(),
    ));
    let outcomes = match outcomes {
        Ok(outcomes) => outcomes,
        Err(e) => {
            let e = e.explained();
            eprintln!("error: {e}");
            notify(&runtime, &planned, env, verb, |about| {
                events::failed(about, verb.kind, &e)
            });
            return Ok(Carried::Failed);
        }
    };
    let (carried, entry) = report(&outcomes, &planned, journal_run(verb, env));
    notify(&runtime, &planned, env, verb, |about| {
        events::finished(about, verb.kind, &entry, pin_of(verb, &planned))
    });
    Ok(carried)
}

fn journal_run(verb: &Verb<'_>, env: &Environment) -> Run {
    Run {
        kind: verb.kind,
        by: env.who.clone(),
        reason: None,
        time: journal::now(),
    }
}

/// A rollback's pin, for its event (written by its `settled` hook).
fn pin_of(verb: &Verb<'_>, planned: &Planned) -> Option<journal::Pin> {
    let pin = journal::pin(&planned.state_dir, &planned.identity.project);
    pin.ok().flatten().filter(|_| verb.kind == "rollback")
}

/// Sends the event `make` builds to berth.yaml's notify endpoints and waits for the
/// deliveries a few seconds at most (`notify::BRIEF`); one that fails is a warning,
/// never a failure of the command.
fn notify(
    runtime: &tokio::runtime::Runtime,
    planned: &Planned,
    env: &Environment,
    verb: &Verb<'_>,
    make: impl FnOnce(&About<'_>) -> crate::notify::Event,
) {
    let (endpoints, left_out) = events::endpoints(&planned.config, &planned.root);
    for line in &left_out {
        warn(line);
    }
    if endpoints.is_empty() {
        return;
    }
    let report: crate::notify::Report = std::sync::Arc::new(|endpoint: &str, result: Result<(), String>| {
        if let Err(why) = result {
            warn(&format!("notification to {endpoint} not delivered: {why}"));
        }
    });
    let notifier = match Notifier::new(report) {
        Ok(notifier) => notifier,
        Err(e) => return warn(&format!("notifications are off: {e}")),
    };
    let about = About::of(
        &planned.identity,
        &planned.address.host,
        env.who.as_deref(),
        verb.kind,
        journal::now(),
    );
    let event = make(&about);
    runtime.block_on(async {
        let sent = notifier.send(&endpoints, &event, BRIEF);
        futures_util::future::join_all(sent).await;
    });
}

/// `Apply`, `Rollback`, `Destroy`.
fn title(kind: &str) -> String {
    let mut title = kind.to_string();
    if let Some(first) = title.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    title
}

/// The saved plan `berth apply FILE` names, if the only path is one.
fn saved_plan(inputs: &Inputs) -> miette::Result<Option<PlanView>> {
    let [path] = &inputs.paths[..] else {
        return Ok(None);
    };
    if !path.is_file() || path.extension().is_none_or(|e| e != "json") {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).into_diagnostic()?;
    crate::ops::apply::saved_plan(&text)
        .transpose()
        .into_diagnostic()
        .wrap_err_with(|| format!("{} is not a plan this berth can apply", path.display()))
}

/// Asks on the terminal, as Terraform does; without one, refuses.
fn approved(kind: &str, question: &str) -> miette::Result<bool> {
    if !std::io::stdin().is_terminal() {
        let help = match kind {
            "apply" => "review it with `berth plan`, then run `berth apply --auto-approve` (or apply a saved plan: `berth plan --out plan.json`, `berth apply plan.json`)".to_string(),
            _ => format!("review the plan above, then run `berth {kind}` again with --auto-approve"),
        };
        miette::bail!(help = help, "no terminal to ask for approval");
    }
    print!("\n{question} Only 'yes' will be accepted: ");
    std::io::stdout().flush().into_diagnostic()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).into_diagnostic()?;
    Ok(answer.trim() == "yes")
}

/// Progress: a spinner per running step on a terminal, one line per finished step when
/// piped.
struct Progress {
    bars: Option<MultiProgress>,
    running: Mutex<HashMap<String, (Instant, Option<ProgressBar>)>>,
}

impl Observer for Progress {
    fn event(&self, event: Event<'_>) {
        self.show(event);
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn unix(&self) -> std::time::Duration {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
    }

    fn note(&self, warning: bool, line: &str) {
        let line = if warning {
            format!("warning: {line}")
        } else {
            line.to_string()
        };
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(line);
            }
            None => eprintln!("{line}"),
        }
    }
}

impl Progress {
    fn new() -> Progress {
        Progress {
            bars: std::io::stderr().is_terminal().then(MultiProgress::new),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// A spinner while a step runs; a line when it ends.
    fn show(&self, event: Event<'_>) {
        let Ok(mut running) = self.running.lock() else {
            return;
        };
        match event {
            Event::Started(step) => {
                let bar = self.bars.as_ref().map(|bars| {
                    let bar = bars.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_message(format!("{}: {}", step.name, step.action().name()));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                });
                running.insert(key(step), (Instant::now(), bar));
            }
            Event::Finished(step, result) => {
                let Some((started, bar)) = running.remove(&key(step)) else {
                    return;
                };
                let seconds = started.elapsed().as_secs_f32();
                let line = match result {
                    Ok(()) => format!("{}: {} done ({seconds:.1}s)", step.name, step.action().name()),
                    Err(e) => format!(
                        "{}: {} FAILED ({seconds:.1}s): {e}",
                        step.name,
                        step.action().name()
                    ),
                };
                match bar {
                    Some(bar) => {
                        bar.finish_and_clear();
                        let _ = self.bars.as_ref().map(|b| b.println(&line));
                    }
                    None => eprintln!("{line}"),
                }
            }
        }
    }
}

fn key(step: &Step) -> String {
    format!("{}/{}", step.name, step.action().name())
}

/// The final report, also kept in the journal.
fn report(outcomes: &[Outcome], planned: &Planned, run: Run) -> (Carried, journal::Entry) {
    let title = title(run.kind);
    let entry = record(outcomes, planned, run, &Progress::new());
    let carried = if entry.failed.is_empty() {
        println!("\n{title} complete: {}.", entry.done);
        Carried::Done
    } else {
        eprintln!(
            "\n{title} incomplete: {}; {} failed:",
            entry.done,
            entry.failed.len()
        );
        for line in &entry.failed {
            eprintln!("  {line}");
        }
        if outcomes
            .iter()
            .any(|o| o.result.as_ref().is_err_and(StepError::engine_gone))
        {
            eprintln!(
                "The engine at {} stopped answering. Once it answers again, run this again: it plans from what the engine then holds.",
                planned.address.host
            );
        }
        Carried::Failed
    };
    (carried, entry)
}
