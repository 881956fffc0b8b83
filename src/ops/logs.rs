//! The logs use case: the lines the project's containers (or Swarm tasks) print, of all
//! services or the ones named. Without following, every source's lines are read and
//! merged in the engine's time order; following, lines are passed on as they arrive,
//! and containers that start meanwhile (a replace's new one) are followed too.

use futures_util::StreamExt;
use futures_util::stream::{BoxStream, SelectAll};

use super::plan::Located;
use crate::engine::EngineError;
use crate::engine::docker::Docker;
use crate::engine::logs::{LogLine, LogOptions, LogSource};
use crate::failure::Failure;
use crate::problem::closest;

/// Why no lines could be read.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("{0}")]
    Refused(Failure),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The sources to read: every one of the project's, or those of the named services.
pub async fn sources(
    docker: &Docker,
    located: &Located,
    services: &[String],
) -> Result<Vec<LogSource>, LogsError> {
    let all = docker.log_sources(&located.identity, located.mode).await?;
    for service in services {
        if !all.iter().any(|s| &s.service == service) {
            let hint = closest(service, all.iter().map(|s| s.service.as_str()))
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            return Err(LogsError::Refused(
                Failure::new(format!(
                    "`{service}`: project `{}` runs nothing of that name{hint}",
                    located.identity.project
                ))
                .with_help("`berth status` lists the project's services and their instances"),
            ));
        }
    }
    Ok(all
        .into_iter()
        .filter(|s| services.is_empty() || services.contains(&s.service))
        .collect())
}

/// Passes every line of `sources` to `print`, with its source: merged in time order, or
/// with `options.follow` as they arrive until the process is stopped, the containers of
/// the services that start from `listed` (Unix seconds, taken before the sources were
/// listed, so that none starting meanwhile is missed) included.
pub async fn read(
    docker: &Docker,
    located: &Located,
    sources: Vec<LogSource>,
    services: &[String],
    options: &LogOptions,
    listed: i64,
    print: &mut dyn FnMut(&LogSource, &LogLine),
) -> Result<(), EngineError> {
    // Each line tagged with its source; `None` when the source's stream ends.
    type Tagged = BoxStream<'static, (usize, Option<Result<LogLine, EngineError>>)>;
    let open_stream = |i: usize, source: &LogSource, options: &LogOptions| -> Tagged {
        docker
            .log_lines(source, options)
            .map(move |l| (i, Some(l)))
            .chain(futures_util::stream::iter([(i, None)]))
            .boxed()
    };
    let mut known = sources;
    let mut streams: SelectAll<Tagged> = SelectAll::new();
    for (i, source) in known.iter().enumerate() {
        streams.push(open_stream(i, source, options));
    }
    if !options.follow {
        let mut lines = Vec::new();
        while let Some((i, line)) = streams.next().await {
            if let Some(line) = line {
                lines.push((line?, i));
            }
        }
        // The engine's times, to the nanosecond, sort as they read; a stable sort keeps
        // each source's own order.
        lines.sort_by(|(a, _), (b, _)| a.time.cmp(&b.time));
        for (line, i) in &lines {
            print(&known[*i], line);
        }
        return Ok(());
    }
    // The sources whose stream runs: a start event for one of them is not news.
    let mut open: std::collections::BTreeSet<usize> = (0..known.len()).collect();
    let mut started = std::pin::pin!(docker.started(&located.identity, listed));
    loop {
        tokio::select! {
            Some((i, line)) = streams.next(), if !streams.is_empty() => match line {
                Some(line) => print(&known[i], &line?),
                None => {
                    open.remove(&i);
                }
            },
            event = started.next() => {
                let Some((source, time)) = event.transpose()? else { return Ok(()) };
                if !(services.is_empty() || services.contains(&source.service)) {
                    continue;
                }
                let seen = known.iter().position(|k| k == &source);
                if seen.is_some_and(|i| open.contains(&i)) {
                    continue;
                }
                // A container started again prints on from when it started.
                let since = LogOptions {
                    follow: true,
                    since: seen.map(|_| time),
                    tail: None,
                };
                let i = known.len();
                streams.push(open_stream(i, &source, &since));
                open.insert(i);
                known.push(source);
            }
        }
    }
}
