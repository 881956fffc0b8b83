//! `berth lint`: every problem in every input, and an exit code for hooks and CI.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::inputs::InputArgs;
use super::report::{colour, json, render, stdout, warn};
use super::sarif;
use crate::lint::{Rule, find_rule, rules::RULES};
use crate::ops::Environment;
use crate::ops::lint::{Linted, Request, lint};
use crate::problem::{Location, Problem, Severity};
use crate::repo::dir::Disk;

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Fail when there are more warnings than this.
    #[arg(long, value_name = "N")]
    max_warnings: Option<usize>,
    /// Output format: human (miette's report on stderr), json (on stdout,
    /// `schemas/lint.schema.json`), sarif (SARIF 2.1.0 on stdout, for code scanning) or
    /// github (workflow annotations on stdout).
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    format: LintFormat,
    /// Make these rules errors (names or ids, comma separated; over berth.yaml's `lint`).
    #[arg(long, value_name = "RULE", value_delimiter = ',')]
    deny: Vec<String>,
    /// Make these rules warnings.
    #[arg(long, value_name = "RULE", value_delimiter = ',')]
    warn: Vec<String>,
    /// Silence these rules.
    #[arg(long, value_name = "RULE", value_delimiter = ',')]
    allow: Vec<String>,
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
    Sarif,
    Github,
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

pub fn run(args: LintArgs, env: &Environment) -> miette::Result<ExitCode> {
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
    let inputs = args.inputs.inputs(env);
    let request = Request {
        inputs: &inputs,
        deny: &args.deny,
        warn: &args.warn,
        allow: &args.allow,
        max_warnings: args.max_warnings,
    };
    let Linted {
        problems,
        files,
        tally,
        failed,
    } = lint(&request, &Disk, env.state_dir.as_deref(), &warn)?;
    match args.format {
        LintFormat::Human => {
            let colour = colour();
            for problem in &problems {
                eprint!("{}", render(problem, colour));
            }
            eprintln!("{}", tally.summary(files));
        }
        LintFormat::Json => {
            let view = LintView {
                format_version: "1",
                files,
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
            stdout(&json(&view))?;
        }
        LintFormat::Sarif => stdout(&json(&sarif::report(&problems)))?,
        LintFormat::Github => stdout(&github_annotations(&problems))?,
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// GitHub Actions workflow commands: one `::error file=…,line=…,col=…::message` per
/// problem, which the Actions UI shows on the pull request's diff.
fn github_annotations(problems: &[Problem]) -> String {
    // Workflow command values escape %, CR and LF; property values also : and ,.
    let data = |s: &str| s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    let property = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    problems
        .iter()
        .map(|p| {
            let level = match p.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "notice",
            };
            let place = p
                .location()
                .map(|l| format!(" file={},line={},col={},", property(&l.file), l.line, l.column))
                .unwrap_or_else(|| " ".into());
            format!(
                "::{level}{place}title={}::{}\n",
                property(p.code),
                data(&p.message)
            )
        })
        .collect()
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
