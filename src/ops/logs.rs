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
/// with `options.follow` as they arrive until the process is stopped (new containers of
/// the services included). `now` is the time in Unix seconds.
pub async fn read(
    docker: &Docker,
    located: &Located,
    sources: Vec<LogSource>,
    services: &[String],
    options: &LogOptions,
    now: &dyn Fn() -> i64,
    print: &mut dyn FnMut(&LogSource, &LogLine),
) -> Result<(), EngineError> {
    type Tagged = BoxStream<'static, (usize, Result<LogLine, EngineError>)>;
    let mut known = sources;
    let mut streams: SelectAll<Tagged> = SelectAll::new();
    for (i, source) in known.iter().enumerate() {
        streams.push(docker.log_lines(source, options).map(move |l| (i, l)).boxed());
    }
    if !options.follow {
        let mut lines = Vec::new();
        while let Some((i, line)) = streams.next().await {
            lines.push((line?, i));
        }
        // The engine's times, to the nanosecond, sort as they read; a stable sort keeps
        // each source's own order.
        lines.sort_by(|(a, _), (b, _)| a.time.cmp(&b.time));
        for (line, i) in &lines {
            print(&known[*i], line);
        }
        return Ok(());
    }
    let mut started = std::pin::pin!(docker.started(&located.identity));
    loop {
        tokio::select! {
            Some((i, line)) = streams.next(), if !streams.is_empty() => print(&known[i], &line?),
            source = started.next() => {
                let Some(source) = source.transpose()? else { return Ok(()) };
                let wanted = services.is_empty() || services.contains(&source.service);
                if !wanted {
                    continue;
                }
                // A container started again prints on: only its new lines.
                let again = known.contains(&source);
                let since = LogOptions {
                    follow: true,
                    since: again.then(now),
                    tail: None,
                };
                let i = known.len();
                streams.push(docker.log_lines(&source, &since).map(move |l| (i, l)).boxed());
                known.push(source);
            }
        }
    }
}
