//! `berth lint`: every problem in every input, and an exit code for hooks and CI.

use std::process::ExitCode;

use clap::Args;

use super::inputs::{InputArgs, load};
use super::report::{Tally, colour, render, stdout};
use crate::lint::{Rule, find_rule, rules::RULES};

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Fail when there are more warnings than this.
    #[arg(long, value_name = "N")]
    max_warnings: Option<usize>,
    /// Print a rule's documentation (by name or id, e.g. `parameter-count` or `P3`).
    #[arg(long, value_name = "RULE", exclusive = true)]
    explain: Option<String>,
    /// List every rule with its default level.
    #[arg(long, exclusive = true)]
    list_rules: bool,
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
    let colour = colour();
    let mut tally = Tally::default();
    for problem in &loaded.compiled.problems {
        tally.add(problem);
        eprint!("{}", render(problem, colour));
    }
    eprintln!("{}", tally.summary(loaded.files));
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
