//! Reading what the project's containers (or Swarm tasks) print, for `berth logs`: the
//! sources (each container, or each running task with its slot), their lines with the
//! engine's timestamps, and, when following, the containers that start meanwhile (a
//! replace's new container). An edge: it talks to the engine through bollard.

use std::collections::HashMap;

use bollard::container::LogOutput;
use bollard::query_parameters::{ListServicesOptionsBuilder, ListTasksOptionsBuilder, LogsOptionsBuilder};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};

use super::docker::Docker;
use super::labels::{INSTANCE, MANAGED_BY, PROJECT, SERVICE};
use super::{EngineError, Identity};
use crate::config::Mode;

/// Something that prints: a container, or a Swarm task.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogSource {
    pub service: String,
    /// The instance (a container's) or the slot (a task's).
    pub instance: String,
    pub id: String,
    pub task: bool,
}

/// Which lines.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    /// Unix seconds.
    pub since: Option<i64>,
    /// The last N lines of each source.
    pub tail: Option<u64>,
}

/// One line a source printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The engine's RFC 3339 time with nanoseconds (it sorts as it reads).
    pub time: String,
    pub stderr: bool,
    pub text: String,
}

impl Docker {
    /// The project's containers (this installation's), or on a swarm the running tasks
    /// of its services; sorted by service and instance.
    pub async fn log_sources(&self, identity: &Identity, mode: Mode) -> Result<Vec<LogSource>, EngineError> {
        let mut sources = match mode {
            Mode::Docker => self
                .list("label", format!("{PROJECT}={}", identity.project))
                .await?
                .into_iter()
                .filter_map(|c| container_source(identity, c.labels.unwrap_or_default(), c.id?))
                .collect(),
            Mode::Swarm => self.task_sources(identity).await?,
        };
        sources.sort();
        Ok(sources)
    }

    /// The running tasks of this installation's services of the project, by slot.
    async fn task_sources(&self, identity: &Identity) -> Result<Vec<LogSource>, EngineError> {
        let label = format!("{PROJECT}={}", identity.project);
        let filters = HashMap::from([("label", vec![label])]);
        let services = self
            .client
            .list_services(Some(ListServicesOptionsBuilder::new().filters(&filters).build()))
            .await
            .map_err(|e| self.error("cannot list Swarm services", e))?;
        let mut sources = Vec::new();
        for service in services {
            let labels = service.spec.and_then(|s| s.labels).unwrap_or_default();
            let (Some(id), Some(name), true) = (service.id, labels.get(SERVICE), identity.owns(&labels))
            else {
                continue;
            };
            let filters = HashMap::from([("service", vec![id]), ("desired-state", vec!["running".into()])]);
            let tasks = self
                .client
                .list_tasks(Some(ListTasksOptionsBuilder::new().filters(&filters).build()))
                .await
                .map_err(|e| self.error("cannot list Swarm tasks", e))?;
            sources.extend(tasks.into_iter().filter_map(|t| {
                Some(LogSource {
                    service: name.clone(),
                    instance: t.slot.unwrap_or_default().to_string(),
                    id: t.id?,
                    task: true,
                })
            }));
        }
        Ok(sources)
    }

    /// A source's lines, oldest first; with `follow`, until it stops.
    pub fn log_lines(
        &self,
        source: &LogSource,
        options: &LogOptions,
    ) -> impl Stream<Item = Result<LogLine, EngineError>> + Send + use<> {
        let mut builder = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .follow(options.follow);
        if let Some(since) = options.since {
            builder = builder.since(i32::try_from(since).unwrap_or(i32::MAX));
        }
        if let Some(tail) = options.tail {
            builder = builder.tail(&tail.to_string());
        }
        let options = builder.build();
        let chunks: BoxStream<'static, _> = if source.task {
            self.client.task_logs(&source.id, Some(options)).boxed()
        } else {
            self.client.logs(&source.id, Some(options)).boxed()
        };
        let this = self.clone();
        let mut lines = Lines::default();
        chunks
            .map(Some)
            .chain(futures_util::stream::iter([None]))
            .flat_map(move |chunk| {
                let lines: Vec<Result<LogLine, EngineError>> = match chunk {
                    Some(Err(e)) => vec![Err(this.error("cannot read the logs", e))],
                    Some(Ok(output)) => {
                        let (stderr, bytes) = match output {
                            LogOutput::StdErr { message } => (true, message),
                            LogOutput::StdOut { message }
                            | LogOutput::Console { message }
                            | LogOutput::StdIn { message } => (false, message),
                        };
                        lines.push(stderr, &bytes).into_iter().map(Ok).collect()
                    }
                    None => lines.finish().into_iter().map(Ok).collect(),
                };
                futures_util::stream::iter(lines)
            })
    }

    /// With `berth logs -f`: the project's containers that start from `since` (Unix
    /// seconds) on, each with the time it started.
    pub fn started(
        &self,
        identity: &Identity,
        since: i64,
    ) -> impl Stream<Item = Result<(LogSource, i64), EngineError>> + use<'_> {
        let labels = vec![
            format!("{MANAGED_BY}={}", identity.installation),
            format!("{PROJECT}={}", identity.project),
        ];
        let filters = HashMap::from([
            ("type", vec!["container".to_string()]),
            ("label", labels),
            ("event", vec!["start".to_string()]),
        ]);
        let options = bollard::query_parameters::EventsOptionsBuilder::new()
            .since(&since.to_string())
            .filters(&filters)
            .build();
        let identity = identity.clone();
        self.client.events(Some(options)).filter_map(move |item| {
            let source = match item {
                Err(e) => Some(Err(self.error("lost the engine's event stream", e))),
                Ok(message) => {
                    let time = message.time.unwrap_or(since);
                    message.actor.and_then(|actor| {
                        let labels = actor.attributes.unwrap_or_default();
                        container_source(&identity, labels, actor.id?).map(|s| Ok((s, time)))
                    })
                }
            };
            async move { source }
        })
    }
}

fn container_source(identity: &Identity, labels: HashMap<String, String>, id: String) -> Option<LogSource> {
    identity.owns(&labels).then_some(())?;
    Some(LogSource {
        service: labels.get(SERVICE)?.clone(),
        instance: labels.get(INSTANCE)?.clone(),
        id,
        task: false,
    })
}

/// A stream's chunks cut into lines: a chunk may hold several lines, or part of one;
/// stdout and stderr are cut apart, and what is left when the stream ends is a line too.
#[derive(Default)]
struct Lines {
    pending: [Vec<u8>; 2],
}

impl Lines {
    fn push(&mut self, stderr: bool, bytes: &[u8]) -> Vec<LogLine> {
        let buffer = &mut self.pending[usize::from(stderr)];
        buffer.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            lines.push(parse(&line[..end], stderr));
        }
        lines
    }

    fn finish(&mut self) -> Vec<LogLine> {
        let [out, err] = &mut self.pending;
        [(false, out), (true, err)]
            .into_iter()
            .filter(|(_, b)| !b.is_empty())
            .map(|(stderr, b)| parse(&std::mem::take(b), stderr))
            .collect()
    }
}

/// `2026-12-06T01:02:03.123456789Z text`: the engine's time, then the line.
fn parse(line: &[u8], stderr: bool) -> LogLine {
    let line = String::from_utf8_lossy(line);
    let line = line.strip_suffix('\r').unwrap_or(&line);
    let (time, text) = line.split_once(' ').unwrap_or((line, ""));
    LogLine {
        time: time.to_string(),
        stderr,
        text: text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_cut_into_lines_per_stream() {
        let mut lines = Lines::default();
        let texts = |lines: Vec<LogLine>| -> Vec<(bool, String)> {
            lines.into_iter().map(|l| (l.stderr, l.text)).collect()
        };
        assert_eq!(
            texts(lines.push(false, b"T1 one\nT2 tw")),
            [(false, "one".to_string())]
        );
        assert_eq!(texts(lines.push(true, b"T3 err")), []);
        assert_eq!(
            texts(lines.push(false, b"o\nT4 three\n")),
            [(false, "two".to_string()), (false, "three".to_string())]
        );
        assert_eq!(texts(lines.finish()), [(true, "err".to_string())]);
        assert_eq!(texts(lines.finish()), []);
    }

    #[test]
    fn a_line_is_the_engines_time_then_the_text() {
        let line = parse(b"2026-12-06T01:02:03.000000001Z hello world\r", true);
        assert_eq!(line.time, "2026-12-06T01:02:03.000000001Z");
        assert_eq!(line.text, "hello world");
        assert!(line.stderr);
        assert_eq!(parse(b"2026-12-06T01:02:03Z", false).text, "");
    }
}
