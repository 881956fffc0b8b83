//! `berth compile`: what the inputs mean, at three depths — the file's own tokens
//! (`raw-lines`), the lines after COSMOS's install phases (`lines`), or the services
//! (`model`).

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use miette::IntoDiagnostic;
use serde::Serialize;

use super::inputs::{InputArgs, load};
use super::report::{colour, json, render, stdout};
use crate::lint::policy::Levels;
use crate::model::{self, Model};
use crate::ops::Environment;
use crate::parse::plugin_txt::LogicalLine;

#[derive(Debug, Args)]
pub struct CompileArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Emit::Model)]
    emit: Emit,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// Logical lines (keyword, params, file, line) after VARIABLEs and ERB.
    Lines,
    /// Logical lines of the file as written, without ERB.
    RawLines,
    /// The compiled services.
    Model,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    /// The same document as json, written as YAML.
    Yaml,
}

/// `--emit lines|raw-lines --format json`.
#[derive(Serialize)]
struct LinesView<'a> {
    format_version: &'static str,
    files: Vec<FileLines<'a>>,
}

#[derive(Serialize)]
struct FileLines<'a> {
    file: &'a str,
    lines: Vec<LineView<'a>>,
}

#[derive(Serialize)]
struct LineView<'a> {
    keyword: &'a str,
    params: Vec<&'a str>,
    line: usize,
}

/// `--emit model --format json`.
#[derive(Serialize)]
struct ModelView<'a> {
    format_version: &'static str,
    #[serde(flatten)]
    model: &'a Model,
}

pub fn run(args: CompileArgs, env: &Environment) -> miette::Result<ExitCode> {
    let loaded = load(&args.inputs.inputs(env), env)?;
    let compiled = &loaded.compiled;
    let colour = colour();
    // berth.yaml's lint levels and `# berth:allow` comments count here too: a rule
    // silenced for lint does not stop compile.
    let levels = Levels::from_config(&loaded.config.lint)
        .map_err(|e| miette::miette!(help = "`berth lint --list-rules` lists them", "berth.yaml: {e}"))?;
    let problems = levels.apply(compiled.problems.clone());
    let errors: Vec<_> = problems.iter().filter(|p| p.is_error()).collect();
    for p in &errors {
        eprint!("{}", render(p, colour));
    }
    let out = match args.emit {
        Emit::Lines | Emit::RawLines => {
            let raw = args.emit == Emit::RawLines;
            let picked: Vec<(&str, &[LogicalLine])> = compiled
                .plugins
                .iter()
                .map(|i| {
                    (
                        i.plugin.file.name(),
                        if raw {
                            &i.plugin.raw.lines[..]
                        } else {
                            &i.plugin.lines[..]
                        },
                    )
                })
                .collect();
            lines(&picked, args.format)?
        }
        Emit::Model => {
            let view = ModelView {
                format_version: model::FORMAT_VERSION,
                model: &compiled.model,
            };
            match args.format {
                Format::Json => json(&view),
                Format::Yaml => serde_saphyr::to_string(&view).into_diagnostic()?,
                Format::Text => model_text(&compiled.model),
            }
        }
    };
    stdout(&out)?;
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn lines(files: &[(&str, &[LogicalLine])], format: Format) -> miette::Result<String> {
    let view = || LinesView {
        format_version: model::FORMAT_VERSION,
        files: files
            .iter()
            .map(|(file, lines)| FileLines {
                file,
                lines: lines
                    .iter()
                    .map(|l| LineView {
                        keyword: &l.keyword,
                        params: l.params.iter().map(|p| p.value.as_str()).collect(),
                        line: l.line,
                    })
                    .collect(),
            })
            .collect(),
    };
    Ok(match format {
        Format::Json => json(&view()),
        Format::Yaml => serde_saphyr::to_string(&view()).into_diagnostic()?,
        Format::Text => {
            let mut out = String::new();
            for (file, lines) in files {
                for l in lines.iter() {
                    out.push_str(&format!("{file}:{}: {}", l.line, l.keyword));
                    for p in &l.params {
                        out.push(' ');
                        out.push_str(&shown(&p.value));
                    }
                    out.push('\n');
                }
            }
            out
        }
    })
}

/// A parameter as text: bare when that is unambiguous, else JSON-quoted.
fn shown(value: &str) -> String {
    let plain = !value.is_empty()
        && !value.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c.is_control());
    if plain {
        value.to_string()
    } else {
        serde_json::to_string(value).unwrap_or_default()
    }
}

fn model_text(model: &Model) -> String {
    let mut out = String::new();
    for s in &model.services {
        out.push_str(&format!("{} ({})\n", s.name, s.origin));
        if let Some(image) = &s.image {
            out.push_str(&format!("  image: {image}\n"));
        }
        if !s.command.is_empty() {
            let argv: Vec<String> = s.command.iter().map(|a| shown(a)).collect();
            out.push_str(&format!("  command: {}\n", argv.join(" ")));
        }
        if let Some(dir) = &s.working_dir {
            out.push_str(&format!("  working_dir: {dir}\n"));
        }
        for (k, v) in &s.env {
            out.push_str(&format!("  env {k}={}\n", shown(&v.to_string())));
        }
        for p in &s.ports {
            out.push_str(&format!("  port {}/{}\n", p.number, p.protocol));
        }
        for secret in &s.secrets {
            let to = match &secret.delivery {
                model::SecretDelivery::Env { variable } => format!("env {variable}"),
                model::SecretDelivery::File { path } => format!("file {path}"),
            };
            out.push_str(&format!("  secret {} -> {to}\n", secret.name));
        }
        if s.replicas != 1 {
            out.push_str(&format!("  replicas: {}\n", s.replicas));
        }
        let r = &s.resources;
        let limits = [
            r.cpu_limit_millis.map(|c| format!("cpu {c}m")),
            r.memory_limit_bytes.map(|m| format!("memory {m} B")),
        ];
        let limits: Vec<String> = limits.into_iter().flatten().collect();
        if !limits.is_empty() {
            out.push_str(&format!("  limits: {}\n", limits.join(", ")));
        }
        for (kind, probe) in [
            ("liveness", &s.probes.liveness),
            ("readiness", &s.probes.readiness),
        ] {
            if let Some(p) = probe {
                let action = match &p.action {
                    model::ProbeAction::Http { path, port, .. } => format!("GET :{port}{path}"),
                    model::ProbeAction::Tcp { port } => format!("tcp :{port}"),
                    model::ProbeAction::Exec { command } => format!("exec {}", command.join(" ")),
                };
                out.push_str(&format!("  {kind} probe: {action} every {}s\n", p.period_seconds));
            }
        }
        if s.state == model::DesiredState::Stopped {
            out.push_str("  state: stopped\n");
        }
    }
    out
}
