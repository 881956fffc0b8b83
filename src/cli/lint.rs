//! `berth lint`: every problem in every input, and an exit code for hooks and CI.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::inputs::{InputArgs, load};
use super::report::{Tally, colour, render, stdout};
use crate::lint::{Rule, find_rule, rules::RULES};
use crate::problem::{Location, Severity};

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Fail when there are more warnings than this.
    #[arg(long, value_name = "N")]
    max_warnings: Option<usize>,
    /// Output format: human (miette's report on stderr) or json (on stdout,
    /// `schemas/lint.schema.json`).
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    format: LintFormat,
    /// Print a rule's documentation (by name or id, e.g. `parameter-count` or `P3`).
    #[arg(long, value_name = "RULE", exclusive = true)]
    explain: Option<String>,
    /// List every rule with its default level.
    #[arg(long, exclusive = true)]
    list_rules: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LintFormat {
    Human,
    Json,
}

/// `--format json`: the promised machine form.
#[derive(Serialize)]
struct LintView<'a> {
    format_version: &'static str,
    files: usize,
    errors: usize,
    warnings: usize,
    infos: usize,
    problems: Vec<ProblemView<'a>>,
}

#[derive(Serialize)]
struct ProblemView<'a> {
    code: &'a str,
    severity: Severity,
    message: &'a str,
    #[serde(flatten)]
    location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
}

pub fn run(args: LintArgs) -> miette::Result<ExitCode> {
    if args.list_rules {
        let list: String = RULES
            .iter()
            .map(|r| format!("{:<4} {:<32} {:<8} {}\n", r.id, r.name, r.severity, r.summary))
            .collect();
        stdout(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(name) = &args.explain {
        return match find_rule(name) {
            Some(rule) => {
                stdout(&explain(rule))?;
                Ok(ExitCode::SUCCESS)
            }
            None => Err(miette::miette!(
                help = "`berth lint --list-rules` lists them",
                "no lint rule is called `{name}`"
            )),
        };
    }
    let loaded = load(&args.inputs)?;
    let problems = &loaded.compiled.problems;
    let mut tally = Tally::default();
    problems.iter().for_each(|p| tally.add(p));
    match args.format {
        LintFormat::Human => {
            let colour = colour();
            for problem in problems {
                eprint!("{}", render(problem, colour));
            }
            eprintln!("{}", tally.summary(loaded.files));
        }
        LintFormat::Json => {
            let view = LintView {
                format_version: "1",
                files: loaded.files,
                errors: tally.errors,
                warnings: tally.warnings,
                infos: tally.infos,
                problems: problems
                    .iter()
                    .map(|p| ProblemView {
                        code: p.code,
                        severity: p.severity,
                        message: &p.message,
                        location: p.location(),
                        help: p.help.as_deref(),
                    })
                    .collect(),
            };
            // Our own view type: serialising it cannot fail.
            stdout(&(serde_json::to_string_pretty(&view).unwrap_or_default() + "\n"))?;
        }
    }
    let too_many_warnings = args.max_warnings.is_some_and(|max| tally.warnings > max);
    Ok(if tally.errors > 0 || too_many_warnings {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A rule's documentation as `--explain` prints it.
pub fn explain(rule: &Rule) -> String {
    let d = &rule.docs;
    let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
    format!(
        "{} ({}, default level: {})\n{}\n\nWhat it does\n  {}\n\nWhy\n  {}\n\nExample\n{}\nUse instead\n{}",
        rule.name,
        rule.id,
        rule.severity,
        rule.summary,
        d.what,
        d.why,
        indent(d.example),
        indent(d.instead),
    )
}
