//! `berth watch`: the GitOps daemon. One loop reconciles (read the repository, observe
//! the engine, plan, apply) whenever a trigger arrives — a ref change in a local
//! repository, a webhook, an engine event about a managed container, or the interval —
//! never two at once, with triggers that arrive during a run folded into one more run.
//! Beside it: the HTTP endpoints (`crate::watch::http`), the file watcher and the
//! engine's event stream. The reconcile and its decisions (backoff,
//! drift, failures, service states) are `crate::watch::reconciler`'s.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use futures_util::{FutureExt, StreamExt};
use miette::IntoDiagnostic;
use notify::RecursiveMode;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::inputs::InputArgs;
use super::inputs::state_dir;
use super::plan::runtime;
use crate::config::Drift;
use crate::engine::Identity;
use crate::engine::docker::Address;
use crate::ops::Environment;
use crate::ops::load::Inputs;
use crate::ops::{Connect, Dial};
use crate::repo::git::{git_dir, is_url};
use crate::secret::Secret;
use crate::store::state::State as BerthState;
use crate::watch::reconciler::{Clock, Reconciler, Settings as ReconcileSettings};
use crate::watch::status::Shared;
use crate::watch::{Backoff, Next};

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Reconcile at least this often; with a --repo URL, also how often it is fetched.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    interval: Duration,
    /// Serve webhooks, /healthz, /metrics and /status on this address (e.g. 127.0.0.1:9090).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// What to do about containers changed behind berth's back [default: berth.yaml's
    /// drift, else warn].
    #[arg(long, value_enum, value_name = "MODE")]
    drift: Option<DriftMode>,
    /// Log lines for people, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// How many engine operations (create, start, stop, remove, pull) run at once;
    /// readiness checks and Swarm convergence are waited for beside them.
    #[arg(long, default_value_t = 8, value_name = "N")]
    parallelism: usize,
    /// A container without probes is ready when it has stayed up this long.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    stable_for: Duration,
    /// How long a reconcile waits for another apply of the project (`berth apply`).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    lock_timeout: Duration,
    /// Remove managed containers that left the configuration [default: berth.yaml's prune].
    #[arg(long)]
    prune: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DriftMode {
    /// Ignore changes made by hand.
    Off,
    /// Report them (log, /status, /metrics) and leave them.
    Warn,
    /// Undo them: start what was stopped, recreate what was removed or changed.
    Heal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

/// How long the loop lets a burst of triggers (the refs of one push, an editor's save, a
/// webhook storm) go on before it runs, so that the burst costs one reconcile.
const SETTLE: Duration = Duration::from_millis(20);

pub fn run(args: WatchArgs, env: &Environment) -> miette::Result<ExitCode> {
    logging(args.log_format);
    let runtime = runtime()?;
    runtime.block_on(watch_loop(args, env))
}

fn logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

async fn watch_loop(args: WatchArgs, env: &Environment) -> miette::Result<ExitCode> {
    let inputs = args.inputs.inputs(env);
    if inputs.offline {
        miette::bail!(
            help = "drop --offline: the watcher fetches the remote on every reconcile, which is how it sees pushes",
            "berth watch cannot follow a repository --offline"
        );
    }
    let state = BerthState::open(&state_dir(env)?)?;
    let (target, target_rx) = watch::channel(None);
    let source = match &inputs.repo {
        Some(repo) => format!("{repo} at {}", inputs.reference.as_deref().unwrap_or("HEAD")),
        None => inputs
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let shared = Arc::new(Shared::new(
        source.clone(),
        Secret::new(state.local_token()),
        target,
    ));
    notifications(&shared);
    let (stop, mut stopped) = watch::channel(false);
    tokio::spawn(signals(shared.clone(), stop));
    if let Some(address) = args.listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .into_diagnostic()
            .map_err(|e| {
                miette::miette!(
                    help = "choose another --listen address",
                    "cannot listen on {address}: {e}"
                )
            })?;
        info!(address = %listener.local_addr().into_diagnostic()?, "serving /hooks, /healthz, /metrics and /status");
        tokio::spawn(crate::watch::http::serve(
            listener,
            shared.clone(),
            stopped.clone(),
        ));
    }
    // Kept alive for as long as the loop runs.
    let _files = watch_files(&inputs, shared.clone())?;
    let _pins = watch_pins(&state_dir(env)?, shared.clone())?;
    // One engine connection for the reconciles and the event follower.
    let dial = Dial::default();
    tokio::spawn(follow_events(shared.clone(), dial.clone(), target_rx));
    info!(%source, interval = %humantime::format_duration(args.interval), "watching");

    let interval = args.interval;
    let settings = ReconcileSettings {
        inputs: inputs.clone(),
        env: env.clone(),
        prune: args.prune,
        lock_timeout: args.lock_timeout,
        parallelism: args.parallelism,
        stable_for: args.stable_for,
        drift: args.drift.map(|mode| match mode {
            DriftMode::Off => Drift::Off,
            DriftMode::Warn => Drift::Warn,
            DriftMode::Heal => Drift::Heal,
        }),
    };
    // One runtime and one engine connection for every reconcile.
    let new_reconciler = || {
        Reconciler::new(
            settings.clone(),
            dial.clone(),
            Handle::current(),
            Box::new(SystemClock),
        )
    };
    let mut reconciler = new_reconciler();
    let mut next = Next::Requeue(Duration::ZERO);
    loop {
        let wait = match next {
            Next::Requeue(after) => after.min(interval),
            Next::AwaitChange => interval,
        };
        // A scheduled pull wakes the loop at its time.
        let wait = reconciler.until_next_pull().map_or(wait, |pull| pull.min(wait));
        tokio::select! {
            _ = shared.wake.notified() => {
                tokio::time::sleep(SETTLE).await;
                // Triggers during the settle are part of this run.
                let _ = shared.wake.notified().now_or_never();
            }
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.wait_for(|s| *s) => {}
        }
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let for_run = shared.clone();
        let mut task = tokio::task::spawn_blocking(move || {
            let next = reconciler.reconcile(&for_run);
            (reconciler, next)
        });
        let joined = tokio::select! {
            joined = &mut task => joined,
            _ = stopped.wait_for(|s| *s) => {
                info!("stopping: letting the steps in flight finish");
                task.await
            }
        };
        (reconciler, next) = match joined {
            Ok(done) => done,
            // A bug in berth, not a fault of the fleet: the watcher goes on, with a fresh
            // memory (the lock went with the unwinding), after a pause.
            Err(e) => {
                error!(
                    "a reconcile failed unexpectedly ({e}); starting afresh in {}",
                    humantime::format_duration(interval)
                );
                shared.status(|s| s.reconciling = false);
                (new_reconciler(), Next::Requeue(interval))
            }
        };
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
    }
    info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Sets up notifications: each delivery counted in /metrics, and an endpoint that fails
/// logged once, until it takes deliveries again.
fn notifications(shared: &Arc<Shared>) {
    let down = Mutex::new(std::collections::BTreeSet::new());
    let metrics = shared.clone();
    let report: crate::notify::Report = Arc::new(move |endpoint: &str, result: Result<(), String>| {
        metrics.metrics.notification(endpoint, result.is_ok());
        let mut down = down.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Err(why) if down.insert(endpoint.to_string()) => warn!(
                %endpoint,
                "notifications fail: {why}; counted in berth_notifications_total, and said again once they are delivered"
            ),
            Ok(()) if down.remove(endpoint) => info!(%endpoint, "notifications are delivered again"),
            _ => {}
        }
    });
    match crate::notify::Notifier::new(report) {
        Ok(notifier) => {
            let _ = shared.notifier.set(notifier);
        }
        Err(e) => warn!("notifications are off: {e}"),
    }
}

/// SIGTERM or SIGINT: no new reconcile or step starts; the loop ends after the steps in
/// flight. A second one ends berth at once; the next reconcile (of any berth) finishes
/// what was in flight.
async fn signals(shared: Arc<Shared>, stop: watch::Sender<bool>) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            error!("cannot listen for SIGTERM: {e}");
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => info!("SIGINT received"),
    }
    shared.stopping.store(true, Ordering::SeqCst);
    let _ = stop.send(true);
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    warn!("a second signal: stopping now, with steps in flight; the next reconcile finishes them");
    std::process::exit(1);
}

/// Watches a local repository's refs (or, without --repo, the configuration's folders);
/// every change is a trigger. Nothing to watch for a URL: it is polled every --interval.
fn watch_files(inputs: &Inputs, shared: Arc<Shared>) -> miette::Result<Option<notify::RecommendedWatcher>> {
    let targets: Vec<(PathBuf, RecursiveMode)> = match inputs.repo.as_deref() {
        Some(repo) if is_url(repo) => return Ok(None),
        Some(repo) => {
            let dir = git_dir(repo).map_err(|e| miette::miette!("{e}"))?;
            // Directories, never ref files: git replaces a ref by renaming a new file
            // over it, which ends a watch on the file.
            let mut targets = vec![
                (dir.join("refs"), RecursiveMode::Recursive),
                (dir.clone(), RecursiveMode::NonRecursive),
            ];
            if dir.join("reftable").is_dir() {
                targets.push((dir.join("reftable"), RecursiveMode::Recursive));
            }
            targets
        }
        None => inputs
            .paths
            .iter()
            .map(|p| (p.clone(), RecursiveMode::Recursive))
            .collect(),
    };
    // git writes a ref (or packed-refs) as `<name>.lock` and renames it into place: the
    // lock file is the update under way, the rename its end, which wakes the loop at
    // once (the loop's settle gathers the rest of a push).
    let in_place = |path: &std::path::Path| path.extension().is_none_or(|e| e != "lock");
    Ok(Some(watcher(targets, shared, in_place)?))
}

/// Watches the state directory's pins: `berth rollback` and `berth unpin` are triggers,
/// so that a watcher follows or releases a pin at once, not at its next interval.
fn watch_pins(state: &std::path::Path, shared: Arc<Shared>) -> miette::Result<notify::RecommendedWatcher> {
    let journal = state.join("journal");
    std::fs::create_dir_all(&journal)
        .into_diagnostic()
        .map_err(|e| miette::miette!("cannot make {}: {e}", journal.display()))?;
    // The journal and converged files beside them change with every apply, which must
    // not wake the loop that wrote them.
    let pin = |path: &std::path::Path| path.extension().is_some_and(|e| e == "pin");
    watcher(vec![(journal, RecursiveMode::NonRecursive)], shared, pin)
}

/// A file watcher on `targets` that wakes the loop on every change (not a read, ours
/// included) to a path `wanted` accepts.
fn watcher(
    targets: Vec<(PathBuf, RecursiveMode)>,
    shared: Arc<Shared>,
    wanted: impl Fn(&std::path::Path) -> bool + Send + 'static,
) -> miette::Result<notify::RecommendedWatcher> {
    use notify::Watcher as _;
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
        Ok(event) if !event.kind.is_access() && event.paths.iter().any(|p| wanted(p)) => {
            debug!(paths = ?event.paths, "files changed");
            shared.wake.notify_one();
        }
        Ok(_) => {}
        Err(e) => warn!("file watch: {e}"),
    })
    .into_diagnostic()?;
    for (path, mode) in targets {
        watcher
            .watch(&path, mode)
            .map_err(|e| miette::miette!("cannot watch {}: {e}", path.display()))?;
    }
    Ok(watcher)
}

/// Follows the engine's events for the project's containers: each is a trigger (unless
/// drift is off) and a metric. Reconnects when the stream ends (every second, then less
/// often, up to every 30 s), and triggers once when it is followed again, since events
/// may have been missed meanwhile: an engine that restarted has stopped or restarted
/// the containers.
async fn follow_events(
    shared: Arc<Shared>,
    dial: Dial,
    mut target: watch::Receiver<Option<(Identity, Address)>>,
) {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    let mut missed = false;
    loop {
        let Ok(current) = target.wait_for(|t| t.is_some()).await.map(|t| t.clone()) else {
            return;
        };
        let Some((identity, address)) = current else {
            continue;
        };
        let docker = match dial.connect(&address).await {
            Ok(docker) => docker,
            Err(e) => {
                debug!("engine events: {}", e.explained());
                tokio::time::sleep(backoff.next().unwrap_or_default()).await;
                continue;
            }
        };
        debug!(project = %identity.project, "following the engine's events");
        let mut events = std::pin::pin!(docker.events(&identity));
        if std::mem::take(&mut missed) {
            shared.wake.notify_one();
        }
        loop {
            tokio::select! {
                item = events.next() => match item {
                    Some(Ok(event)) => {
                        backoff.reset();
                        shared.metrics.event(&event.action);
                        if !shared.drift_off.load(Ordering::SeqCst) {
                            debug!(container = %event.container, action = %event.action, "engine event");
                            shared.wake.notify_one();
                        }
                    }
                    Some(Err(e)) => {
                        warn!("engine events: {}", e.explained());
                        break;
                    }
                    None => break,
                },
                changed = target.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
            }
        }
        missed = true;
        tokio::time::sleep(backoff.next().unwrap_or_default()).await;
        shared.wake.notify_one();
    }
}

/// The system's clock, for the reconciler.
struct SystemClock;

impl Clock for SystemClock {
    fn instant(&self) -> Instant {
        Instant::now()
    }

    fn unix(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }
}
