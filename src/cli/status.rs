//! `berth status`: every service with its desired commit, its instances (state and the
//! commit each was made from), its drift (what a plan would do) and the last apply's
//! outcome from the journal. Read-only, like `plan`.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::inputs::InputArgs;
use super::plan::{exit, plan};
use super::report::{json, stdout};
use crate::ops::Environment;
use crate::ops::plan::{PinRule, Request};
use crate::ops::status::{Status, status};
use crate::repo::dir::Disk;
use crate::store::journal::short;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn run(args: StatusArgs, env: &Environment) -> miette::Result<ExitCode> {
    let inputs = args.inputs.inputs(env);
    let request = Request {
        inputs: &inputs,
        files: &Disk,
        targets: &[],
        prune: false,
        lock: None,
        stopping: None,
        destroy: false,
        pin: PinRule::Follow,
        inspect_all: true,
    };
    let planned = match plan(&request, env) {
        Ok(planned) => planned,
        Err(unplanned) => return exit(unplanned),
    };
    let status = status(&planned);
    stdout(&match args.format {
        Format::Human => human(&status),
        Format::Json => json(&status),
    })?;
    Ok(ExitCode::SUCCESS)
}

fn human(status: &Status) -> String {
    let mut out = format!("Project {} on {}", status.project, status.engine);
    if let Some(commit) = &status.commit {
        let _ = write!(out, ", desired commit {}", short(commit));
    }
    out.push_str("\n\n");
    let rows: Vec<[String; 4]> = status
        .services
        .iter()
        .map(|s| {
            let mut commits: Vec<&str> = s
                .instances
                .iter()
                .filter_map(|i| i.commit.as_deref())
                .map(short)
                .collect();
            commits.dedup();
            [
                s.name.clone(),
                format!(
                    "{}/{} running{}",
                    s.running,
                    s.desired_instances,
                    if s.desired_state == "stopped" {
                        " (stopped by design)"
                    } else {
                        ""
                    }
                ),
                if commits.is_empty() {
                    "-".into()
                } else {
                    commits.join(",")
                },
                if s.drift.is_empty() {
                    "in sync".into()
                } else {
                    s.drift.join("; ")
                },
            ]
        })
        .collect();
    let header = ["SERVICE", "INSTANCES", "COMMIT", "DRIFT"].map(String::from);
    let width = |i: usize| {
        rows.iter()
            .chain([&header])
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    for row in std::iter::once(&header).chain(&rows) {
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
    for (name, swarm) in status
        .services
        .iter()
        .filter_map(|s| Some((&s.name, s.swarm.as_ref()?)))
    {
        for failing in &swarm.failing {
            let _ = writeln!(out, "  {name}: failing task {failing}");
        }
        if let Some(update) = swarm.update.as_deref().filter(|u| !u.starts_with("completed")) {
            let _ = writeln!(out, "  {name}: last update {update}");
        }
    }
    if !status.nodes.is_empty() {
        out.push_str("\nNodes:\n");
        for n in &status.nodes {
            let mut said = vec![n.role.as_str(), n.state.as_str()];
            match n.availability.as_str() {
                "active" => {}
                "drain" => said.push("drained: Swarm moves its tasks away and places none on it"),
                "pause" => said.push("paused: Swarm places no new task on it"),
                other => said.push(other),
            }
            let _ = writeln!(out, "  {}: {}", n.name, said.join(", "));
        }
    }
    if let Some(pinned) = &status.pinned {
        let mut summary = pinned.summary.clone();
        if let Some(first) = summary.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        let _ = writeln!(out, "\n{summary}; `berth unpin` releases it.");
    }
    if !status.kept.is_empty() {
        let _ = writeln!(out, "\nNo longer configured, kept: {}", status.kept.join(", "));
    }
    match &status.last_apply {
        None => out.push_str("\nNo apply recorded.\n"),
        Some(last) => {
            let commit = last
                .commit
                .as_deref()
                .map(|c| format!(" at commit {}", short(c)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "\nLast apply: {}, {}: {}{commit}",
                last.time, last.outcome, last.done
            );
            for failure in &last.failed {
                let _ = writeln!(out, "  failed: {failure}");
            }
        }
    }
    out
}
