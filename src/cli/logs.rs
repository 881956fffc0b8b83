//! `berth logs`: what the project's containers (or Swarm tasks) print, each line
//! prefixed with its service and instance as compose prints them (`web-0 | …`, padded
//! to the longest name, a colour per source on a terminal), merged in time order, or
//! followed with `-f`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::inputs::ProjectArgs;
use super::plan::runtime;
use super::report::{colour_stdout, warn};
use crate::engine::docker::Docker;
use crate::engine::logs::{LogLine, LogOptions, LogSource};
use crate::ops::Environment;
use crate::ops::logs::{LogsError, read, sources};
use crate::ops::plan::locate;
use crate::repo::dir::Disk;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only these services' containers.
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
    #[command(flatten)]
    project: ProjectArgs,
    /// Follow: print new lines as they come, and the containers that start meanwhile.
    #[arg(short, long)]
    follow: bool,
    /// Only lines newer than this (`10m`, `1h30m`).
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    since: Option<Duration>,
    /// The last N lines of each container.
    #[arg(long, short = 'n', value_name = "N")]
    tail: Option<u64>,
    /// Show each line's time, as the engine recorded it.
    #[arg(short, long)]
    timestamps: bool,
    /// No colour, even on a terminal (also NO_COLOR).
    #[arg(long)]
    no_color: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// `service-instance | line`, as compose prints.
    Human,
    /// One JSON object per line, as schemas/log-line.schema.json describes.
    Json,
}

/// compose's colours, in its order: cyan, yellow, green, magenta, blue, then bold.
const COLOURS: [&str; 10] = [
    "36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1",
];

pub fn run(args: LogsArgs, env: &Environment) -> miette::Result<ExitCode> {
    let located = locate(&args.project.inputs(env), &Disk, env, &warn)?;
    let runtime = runtime()?;
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    };
    let options = LogOptions {
        follow: args.follow,
        since: args
            .since
            .map(|d| now() - i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        tail: args.tail,
    };
    let colour = !args.no_color && colour_stdout();
    let result = runtime.block_on(async {
        let docker = Docker::connect(&located.address).await?;
        let listed = now();
        let found = sources(&docker, &located, &args.services).await?;
        if found.is_empty() && !args.follow {
            eprintln!("Project `{}` runs no container.", located.identity.project);
            return Ok(());
        }
        let width = found.iter().map(|s| prefix(s).len()).max().unwrap_or(0);
        let mut colours: Vec<String> = Vec::new();
        let mut print = |source: &LogSource, line: &LogLine| {
            if args.format == Format::Json {
                let record = serde_json::json!({
                    "service": source.service,
                    "instance": source.instance,
                    "time": line.time,
                    "stream": if line.stderr { "stderr" } else { "stdout" },
                    "text": line.text,
                });
                return println!("{record}");
            }
            let name = prefix(source);
            let index = match colours.iter().position(|n| *n == name) {
                Some(i) => i,
                None => {
                    colours.push(name.clone());
                    colours.len() - 1
                }
            };
            let time = if args.timestamps {
                format!("{} ", line.time)
            } else {
                String::new()
            };
            let head = format!("{name:width$} |");
            let head = if colour {
                format!("\x1b[{}m{head}\x1b[0m", COLOURS[index % COLOURS.len()])
            } else {
                head
            };
            println!("{head} {time}{}", line.text);
        };
        read(
            &docker,
            &located,
            found,
            &args.services,
            &options,
            listed,
            &mut print,
        )
        .await
        .map_err(LogsError::Engine)
    });
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(LogsError::Refused(failure)) => Err(failure.into()),
        Err(LogsError::Engine(e)) => {
            eprintln!("error: {}", e.explained());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `web-0`: compose's `service-N`.
fn prefix(source: &LogSource) -> String {
    format!("{}-{}", source.service, source.instance)
}
