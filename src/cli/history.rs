//! `berth history`: the project's applies, rollbacks and destroys from the journal,
//! newest first: when, who, which commit, what each did to each service, and how it
//! ended; as text or as the document schemas/history.schema.json describes.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::inputs::ProjectArgs;
use super::report::{json, stdout, warn};
use crate::ops::Environment;
use crate::ops::history::{History, history};
use crate::ops::plan::{locate, short};
use crate::repo::dir::Disk;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only the entries that changed this service.
    #[arg(value_name = "SERVICE")]
    service: Option<String>,
    #[command(flatten)]
    project: ProjectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Show at most this many entries.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    /// The document described by schemas/history.schema.json.
    Json,
}

pub fn run(args: HistoryArgs, env: &Environment) -> miette::Result<ExitCode> {
    let located = locate(&args.project.inputs(env), &Disk, env, &warn)?;
    let mut history = history(
        &located.identity.project,
        &located.state_dir,
        args.service.as_deref(),
    )?;
    if let Some(limit) = args.limit {
        history.entries.truncate(limit);
    }
    if !history.damaged_lines.is_empty() {
        let lines: Vec<String> = history.damaged_lines.iter().map(ToString::to_string).collect();
        warn(&format!(
            "the journal of `{}` has damaged line(s) {}, left out",
            history.project,
            lines.join(", ")
        ));
    }
    stdout(&match args.format {
        Format::Human => human(&history, args.service.as_deref()),
        Format::Json => json(&history),
    })?;
    Ok(ExitCode::SUCCESS)
}

fn human(history: &History, service: Option<&str>) -> String {
    if history.entries.is_empty() {
        let of = service.map(|s| format!(" of `{s}`")).unwrap_or_default();
        return format!("No apply{of} recorded for project `{}`.\n", history.project);
    }
    let mut out = String::new();
    for entry in &history.entries {
        let commit = entry.commit.as_deref().map_or("-", short);
        let by = entry
            .by
            .as_deref()
            .map(|b| format!("  by {b}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{}  {:<8}  {:<10}  commit {commit}{by}",
            entry.time, entry.kind, entry.outcome
        );
        if let Some(reason) = &entry.reason {
            let _ = writeln!(out, "    why: {reason}");
        }
        let changes = entry
            .changes
            .iter()
            .filter(|c| service.is_none_or(|s| c.service == s));
        for change in changes {
            let error = change
                .error
                .as_deref()
                .map(|e| format!("  FAILED: {e}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    {:<9} {} ({}){error}",
                change.action, change.service, change.container
            );
        }
        if entry.changes.is_empty() {
            // Entries written before berth kept each step say what was done in sum.
            let _ = writeln!(out, "    {}", entry.done);
        }
    }
    out
}
