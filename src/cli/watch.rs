//! `berth watch`: the GitOps daemon. One loop reconciles (read the repository, observe
//! the engine, plan, apply) whenever a trigger arrives — a ref change in a local
//! repository, a webhook, an engine event about a managed container, or the interval —
//! never two at once, with triggers that arrive during a run folded into one more run.
//! Beside it: the HTTP endpoints (`/hooks/*`, `/healthz`, `/metrics`, `/status`), the
//! file watcher and the engine's event stream. The decisions (backoff, drift) are in
//! `crate::watch`; the reconcile reuses `plan::make` and `apply::carry_out` whole.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use clap::{Args, ValueEnum};
use futures_util::{FutureExt, StreamExt};
use http_body_util::BodyExt;
use miette::IntoDiagnostic;
use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use serde::Serialize;
use tokio::sync::{Notify, watch};
use tracing::{debug, error, info, warn};

use super::inputs::InputArgs;
use super::plan::{plan, runtime, state_dir};
use super::report::one_line;
use crate::ops::status::{ServiceStatus, services};
use crate::apply::{Event, STOPPED};
use crate::config::Drift;
use crate::engine::docker::{Address, Docker};
use crate::engine::{Engine as _, EngineError, Identity, ImageSource, Observe as _};
use crate::journal;
use crate::live::RunState;
use crate::ops::apply::{Observer, Settings, carry_out, record, source};
use crate::ops::load::Inputs;
use crate::ops::plan::{Planned, Request, Unplanned};
use crate::plan::Step;
use crate::repo::git::{git_dir, is_url};
use crate::schedule::{Found, Pulls};
use crate::state::State as BerthState;
use crate::watch::metrics::Metrics;
use crate::watch::webhook::{Forge, MAX_BODY, verify};
use crate::watch::{Backoff, Failure, Memory, Next, retry_backoff};

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
    /// How many services change at once.
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

/// How long the loop lets a burst of triggers (git's lock-and-rename, a webhook storm)
/// go on before it runs, so that the burst costs one reconcile.
const SETTLE: Duration = Duration::from_millis(50);

/// The bearer token of `POST /hooks/local`, which `berth hook`'s post-receive hook
/// sends: derived from the state key, so only who can read berth's state can poke.
pub fn local_token(state: &BerthState) -> String {
    state.digest(b"berth hook: local")
}

pub fn run(args: WatchArgs) -> miette::Result<ExitCode> {
    logging(args.log_format);
    let runtime = runtime()?;
    runtime.block_on(watch_loop(args))
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

/// What the loop, the HTTP handlers, the file watcher and the event stream share.
struct Shared {
    /// A trigger: something may have changed. One stored permit at most, so any number
    /// of triggers during a run make exactly one more run.
    wake: Notify,
    stopping: AtomicBool,
    /// The effective drift mode is `off`: engine events are not triggers.
    drift_off: AtomicBool,
    metrics: Metrics,
    status: Mutex<Status>,
    /// Webhook endpoint → its secret (or why it has none), from the last berth.yaml
    /// read; `None` before the first.
    hooks: Mutex<Option<BTreeMap<&'static str, Result<String, String>>>>,
    local_token: String,
    /// The project and engine whose events to follow, once known.
    target: watch::Sender<Option<(Identity, Address)>>,
}

impl Shared {
    fn status<T>(&self, f: impl FnOnce(&mut Status) -> T) -> T {
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut status)
    }
}

/// `GET /status`.
#[derive(Debug, Clone, Default, Serialize)]
struct Status {
    format_version: &'static str,
    /// `--repo` with its ref, or the folders watched.
    source: String,
    project: Option<String>,
    engine: Option<String>,
    drift_mode: &'static str,
    /// A reconcile is running now.
    reconciling: bool,
    reconciles: u64,
    /// The commit of the last configuration that compiled.
    desired_commit: Option<String>,
    last_reconcile: Option<Reconcile>,
    /// When a reconcile last ended with the engine matching the repository.
    last_success: Option<String>,
    /// Cleared by the next success.
    last_error: Option<LastError>,
    services: Vec<WatchedService>,
    /// Managed containers no longer configured, kept (no prune).
    kept: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
struct Reconcile {
    started: String,
    seconds: f64,
    outcome: &'static str,
    commit: Option<String>,
    /// What the apply did, when it applied.
    done: Option<String>,
    /// Why it applied besides a new commit: `image update by schedule: web`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct LastError {
    time: String,
    message: String,
    /// It waits for a change to the repository rather than being retried.
    permanent: bool,
}

#[derive(Debug, Clone, Serialize)]
struct WatchedService {
    #[serde(flatten)]
    status: ServiceStatus,
    desired_commit: Option<String>,
    /// in_sync, out_of_sync (being applied), drifted (reported, left), held (healed
    /// repeatedly, waiting), crash_looping (the engine keeps restarting it), failing
    /// (its last step failed).
    state: &'static str,
    last_error: Option<String>,
    /// Its last scheduled image pull, when it has a schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_scheduled_pull: Option<ScheduledPull>,
}

async fn watch_loop(args: WatchArgs) -> miette::Result<ExitCode> {
    let inputs = args.inputs.inputs();
    if inputs.offline {
        miette::bail!(
            help = "drop --offline: the watcher fetches the remote on every reconcile, which is how it sees pushes",
            "berth watch cannot follow a repository --offline"
        );
    }
    let state = BerthState::open(&state_dir()?)?;
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
    let shared = Arc::new(Shared {
        wake: Notify::new(),
        stopping: AtomicBool::new(false),
        drift_off: AtomicBool::new(false),
        metrics: Metrics::default(),
        status: Mutex::new(Status {
            format_version: "1",
            source: source.clone(),
            ..Status::default()
        }),
        hooks: Mutex::new(None),
        local_token: local_token(&state),
        target,
    });
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
        let mut stopped = stopped.clone();
        let server = axum::serve(listener, router(shared.clone()))
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .into_future();
        tokio::spawn(async move {
            if let Err(e) = server.await {
                error!("the HTTP server stopped: {e}");
            }
        });
    }
    // Kept alive for as long as the loop runs.
    let _files = watch_files(&inputs, shared.clone())?;
    tokio::spawn(follow_events(shared.clone(), target_rx));
    info!(%source, interval = %humantime::format_duration(args.interval), "watching");

    let interval = args.interval;
    let mut reconciler = Reconciler::new(args.clone());
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
                (Reconciler::new(args.clone()), Next::Requeue(interval))
            }
        };
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
    }
    info!("stopped");
    Ok(ExitCode::SUCCESS)
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
/// every debounced batch of changes is a trigger. Nothing to watch for a URL: it is
/// polled every --interval.
fn watch_files(
    inputs: &Inputs,
    shared: Arc<Shared>,
) -> miette::Result<
    Option<
        notify_debouncer_full::Debouncer<notify::RecommendedWatcher, notify_debouncer_full::RecommendedCache>,
    >,
> {
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
            .paths()
            .iter()
            .map(|p| (p.clone(), RecursiveMode::Recursive))
            .collect(),
    };
    let mut debouncer = new_debouncer(
        Duration::from_millis(50),
        None,
        move |result: DebounceEventResult| {
            match result {
                Ok(events) => {
                    // Reading (ours included) is not a change.
                    if events.iter().any(|e| !e.kind.is_access()) {
                        debug!(events = events.len(), "files changed");
                        shared.wake.notify_one();
                    }
                }
                Err(errors) => {
                    for e in errors {
                        warn!("file watch: {e}");
                    }
                }
            }
        },
    )
    .into_diagnostic()?;
    for (path, mode) in targets {
        debouncer
            .watch(&path, mode)
            .map_err(|e| miette::miette!("cannot watch {}: {e}", path.display()))?;
    }
    Ok(Some(debouncer))
}

/// Follows the engine's events for the project's containers: each is a trigger (unless
/// drift is off) and a metric. Reconnects when the stream ends, and then triggers once,
/// since events may have been missed.
async fn follow_events(shared: Arc<Shared>, mut target: watch::Receiver<Option<(Identity, Address)>>) {
    let mut backoff = retry_backoff();
    loop {
        let Ok(current) = target.wait_for(|t| t.is_some()).await.map(|t| t.clone()) else {
            return;
        };
        let Some((identity, address)) = current else {
            continue;
        };
        let docker = match Docker::connect(&address).await {
            Ok(docker) => docker,
            Err(e) => {
                warn!("engine events: {}", e.explained());
                tokio::time::sleep(backoff.next().unwrap_or_default()).await;
                continue;
            }
        };
        debug!(project = %identity.project, "following the engine's events");
        let mut events = std::pin::pin!(docker.events(&identity));
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
        tokio::time::sleep(backoff.next().unwrap_or_default()).await;
        shared.wake.notify_one();
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/hooks/{endpoint}", post(hook))
        .with_state(shared)
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.text(),
    )
}

async fn status(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let body = shared.status(|s| serde_json::to_string_pretty(s).unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], body + "\n")
}

/// `POST /hooks/{github,gitea,gitlab,generic,local}`: authenticated, then answered at
/// once; the delivery only wakes the loop, which fetches the configured branch.
async fn hook(
    State(shared): State<Arc<Shared>>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> (StatusCode, String) {
    let (forge, name) = match Forge::ALL.into_iter().find(|f| f.name() == endpoint) {
        Some(forge) => (forge, forge.name()),
        // The post-receive hook's endpoint: a bearer token derived from the state key.
        None if endpoint == "local" => (Forge::Generic, "local"),
        None => return (StatusCode::NOT_FOUND, format!("no endpoint /hooks/{endpoint}\n")),
    };
    let metrics = &shared.metrics;
    let too_large = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY);
    let body = match too_large {
        true => None,
        false => http_body_util::Limited::new(body, MAX_BODY).collect().await.ok(),
    };
    let Some(body) = body.map(|b| b.to_bytes()) else {
        metrics.webhook(name, "too_large");
        warn!(endpoint = name, "webhook refused: body over 1 MiB");
        return (StatusCode::PAYLOAD_TOO_LARGE, "body over 1 MiB\n".into());
    };
    let secret = if name == "local" {
        Ok(shared.local_token.clone())
    } else {
        let hooks = shared.hooks.lock().unwrap_or_else(|e| e.into_inner());
        match hooks.as_ref().map(|h| h.get(name)) {
            None => Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: berth.yaml not read yet\n".to_string(),
            )),
            Some(None) => Err((
                StatusCode::NOT_FOUND,
                format!("/hooks/{name} is not configured: set webhooks.{name} in berth.yaml\n"),
            )),
            Some(Some(Err(why))) => Err((StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n"))),
            Some(Some(Ok(secret))) => Ok(secret.clone()),
        }
    };
    let secret = match secret {
        Ok(secret) => secret,
        Err(answer) => {
            metrics.webhook(name, "not_configured");
            return answer;
        }
    };
    let header = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    match verify(forge, header, &body, secret.as_bytes()) {
        Ok(()) => {
            metrics.webhook(name, "accepted");
            info!(endpoint = name, "webhook accepted");
            shared.wake.notify_one();
            (
                StatusCode::ACCEPTED,
                "accepted: berth will fetch and reconcile\n".into(),
            )
        }
        Err(refused) => {
            metrics.webhook(name, "unauthorized");
            warn!(endpoint = name, "webhook refused: {refused}");
            (StatusCode::UNAUTHORIZED, format!("{refused}\n"))
        }
    }
}

/// The reconcile and what it remembers between runs. Runs on a blocking thread: it
/// reads git and files and waits for the lock.
struct Reconciler {
    args: WatchArgs,
    memory: Memory,
    backoff: Backoff,
    /// The last failure logged, so that a failure repeated by every trigger is logged
    /// once.
    logged: Option<String>,
    /// Drift reported in warn mode, so that it is logged when it changes.
    reported: BTreeSet<String>,
    /// Service → why its last step failed.
    errors: BTreeMap<String, String>,
    /// Container ID → how many times the engine had restarted it at the last look.
    restarts: BTreeMap<String, u32>,
    /// Services the engine was restarting again and again at the last look.
    crashing: BTreeSet<String>,
    /// The project whose last convergence was read back from the state directory.
    resumed: Option<String>,
    /// Scheduled image pulls (`pull_image_cron_expression`), how to pull each service's
    /// image and on which engine, from the last plan.
    pulls: Pulls,
    pull_sources: BTreeMap<String, ScheduledImage>,
    pull_address: Option<Address>,
    /// Each scheduled service's last pull, for /status.
    last_pulls: BTreeMap<String, ScheduledPull>,
    /// Services whose scheduled pull found a new image, until an apply replaces them.
    pulled: BTreeSet<String>,
}

/// What a scheduled service pulls, and the image its containers run now.
struct ScheduledImage {
    image: String,
    source: ImageSource,
    running: Option<String>,
}

/// A service's last scheduled pull, in /status.
#[derive(Debug, Clone, Serialize)]
struct ScheduledPull {
    time: String,
    image: String,
    /// new_image, same_image or failed.
    result: &'static str,
    /// The image ID the tag names after the pull; the error when it failed.
    detail: String,
}

/// What one reconcile came to.
struct Ending {
    outcome: &'static str,
    next: Next,
    failure: Option<Failure>,
    done: Option<String>,
    /// Why an apply ran besides a new commit (`image update by schedule: web`).
    reason: Option<String>,
}

impl Reconciler {
    fn new(args: WatchArgs) -> Reconciler {
        Reconciler {
            args,
            memory: Memory::default(),
            backoff: retry_backoff(),
            logged: None,
            reported: BTreeSet::new(),
            errors: BTreeMap::new(),
            restarts: BTreeMap::new(),
            crashing: BTreeSet::new(),
            resumed: None,
            pulls: Pulls::default(),
            pull_sources: BTreeMap::new(),
            pull_address: None,
            last_pulls: BTreeMap::new(),
            pulled: BTreeSet::new(),
        }
    }

    /// How long until the next scheduled pull, if any is scheduled.
    fn until_next_pull(&self) -> Option<Duration> {
        let next = self.pulls.next_due()?;
        // Just past the second it is due, so that the reconcile it wakes finds it due.
        Some(Duration::from_secs_f64(
            (next as f64 - unix_now()).max(0.0) + 0.05,
        ))
    }

    /// Pulls the images of the services due at `now` (Sesam's `pull_image_cron_expression`:
    /// the node pulls on the schedule and restarts the container when the pull brought a
    /// newer image). A new image behind the tag changes the service's spec hash, so the
    /// plan that follows replaces it, as any other change.
    fn pull_scheduled(&mut self, now: i64, shared: &Shared) {
        let due = self.pulls.due(now);
        let (Some(address), false) = (&self.pull_address, due.is_empty()) else {
            return;
        };
        let jobs: Vec<(String, &ScheduledImage)> = due
            .into_iter()
            .filter_map(|s| {
                let image = self.pull_sources.get(&s)?;
                Some((s, image))
            })
            .collect();
        // Each service's pull stands alone: one that fails leaves the others be.
        let pulled = runtime().map_err(|e| e.to_string()).and_then(|rt| {
            rt.block_on(async {
                let docker = Docker::connect(address).await?;
                let mut out = Vec::new();
                for (service, job) in &jobs {
                    let pull = async {
                        let before = docker.image_id(&job.image).await?;
                        docker.provide_image(&job.source).await?;
                        let after = docker.image_id(&job.image).await?;
                        let found = Found::of(job.running.as_deref(), before.as_deref(), after.as_deref());
                        Ok::<_, EngineError>((found, after.unwrap_or_default()))
                    };
                    out.push((service.clone(), job.image.clone(), pull.await));
                }
                Ok(out)
            })
            .map_err(|e: EngineError| e.explained())
        });
        let pulled = match pulled {
            Ok(pulled) => pulled,
            Err(e) => {
                warn!("scheduled pulls: {e}; trying again at the next due time");
                return;
            }
        };
        let time = journal::now();
        for (service, image, result) in pulled {
            let (result, detail) = match result {
                Ok((found, after)) => {
                    if found == Found::NewImage {
                        info!(%service, %image, "scheduled pull: the tag names a new image ({after}); replacing the service");
                        self.pulled.insert(service.clone());
                    } else {
                        debug!(%service, %image, "scheduled pull: the same image");
                    }
                    (found.name(), after)
                }
                Err(e) => {
                    let e = e.explained();
                    warn!(%service, %image, "scheduled pull failed: {e}");
                    ("failed", e)
                }
            };
            shared.metrics.scheduled_pull(result);
            self.last_pulls.insert(
                service,
                ScheduledPull {
                    time: time.clone(),
                    image,
                    result,
                    detail,
                },
            );
        }
    }

    /// Schedules the pulls the plan's services ask for: those that pull from a
    /// registry (never with `skip_pull`, never an image berth builds or loads).
    fn schedule_pulls(&mut self, planned: &Planned, now: i64) {
        let mut schedules = BTreeMap::new();
        let mut sources = BTreeMap::new();
        for service in &planned.model.services {
            let (Some(expression), Some(image)) = (&service.pull.schedule, &service.image) else {
                continue;
            };
            if let Ok(Some(source @ ImageSource::Pull { .. })) = source(planned, image, service) {
                // The image the service's containers run now: what a pull is compared with.
                let running = planned
                    .live
                    .containers
                    .iter()
                    .filter_map(|c| c.owner.as_ref())
                    .find(|o| o.service == service.name)
                    .map(|o| o.image_id.clone());
                schedules.insert(service.name.clone(), expression.clone());
                sources.insert(
                    service.name.clone(),
                    ScheduledImage {
                        image: image.clone(),
                        source,
                        running,
                    },
                );
            }
        }
        self.pulls.set(&schedules, now);
        self.last_pulls.retain(|s, _| schedules.contains_key(s));
        self.pulled.retain(|s| schedules.contains_key(s));
        self.pull_sources = sources;
        self.pull_address = Some(planned.address.clone());
    }

    fn reconcile(&mut self, shared: &Shared) -> Next {
        let started = Instant::now();
        let time = journal::now();
        shared.status(|s| s.reconciling = true);
        self.pull_scheduled(unix_secs(), shared);
        let inputs = self.args.inputs.inputs();
        let request = Request {
            inputs: &inputs,
            targets: &[],
            prune: self.args.prune,
            lock: Some(self.args.lock_timeout),
            stopping: Some(&shared.stopping),
        };
        let (ending, commit) = match plan(&request) {
            Ok(planned) => {
                let commit = planned.identity.commit.clone();
                self.schedule_pulls(&planned, unix_secs());
                (self.converge(planned, shared), commit)
            }
            Err(unplanned) => {
                let commit = match &unplanned {
                    Unplanned::Invalid { commit, .. } => commit.clone(),
                    _ => None,
                };
                let failure = failure(unplanned);
                let outcome = match failure {
                    Failure::Permanent(_) => "invalid",
                    Failure::Transient(_) => "failed",
                };
                (self.failed(failure, outcome), commit)
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        shared.metrics.reconciled(ending.outcome, seconds);
        // Only a reconcile that found nothing to do saw the engine match the repository
        // (after an apply, the next reconcile looks).
        let matched = ending.outcome == "in_sync";
        if matched {
            shared.metrics.succeeded(unix_now());
        }
        match &ending.failure {
            None => {
                self.logged = None;
                debug!(outcome = ending.outcome, seconds, "reconciled");
            }
            Some(failure) if self.logged.as_deref() != Some(failure.message()) => {
                self.logged = Some(failure.message().to_string());
                match failure {
                    Failure::Permanent(m) => {
                        error!(
                            "{m}; nothing was changed, and berth waits for the next change to the repository"
                        )
                    }
                    Failure::Transient(m) => warn!("{m}; retrying in {}", retry_text(ending.next)),
                }
            }
            Some(_) => debug!(outcome = ending.outcome, "the same failure again"),
        }
        shared.status(|s| {
            s.reconciling = false;
            s.reconciles += 1;
            s.last_reconcile = Some(Reconcile {
                started: time.clone(),
                seconds,
                outcome: ending.outcome,
                commit,
                done: ending.done.clone(),
                reason: ending.reason.clone(),
            });
            if matched {
                s.last_success = Some(time.clone());
            }
            match &ending.failure {
                None => s.last_error = None,
                Some(f) => {
                    s.last_error = Some(LastError {
                        time: time.clone(),
                        message: f.message().to_string(),
                        permanent: matches!(f, Failure::Permanent(_)),
                    })
                }
            }
        });
        ending.next
    }

    fn failed(&mut self, failure: Failure, outcome: &'static str) -> Ending {
        let next = match failure {
            // Retrying the same commit cannot help; the next trigger (or the interval)
            // looks again.
            Failure::Permanent(_) => Next::AwaitChange,
            Failure::Transient(_) => Next::Requeue(self.backoff.next().unwrap_or_default()),
        };
        Ending {
            outcome,
            next,
            failure: Some(failure),
            done: None,
            reason: None,
        }
    }

    /// Decides what to do with a plan and does it.
    fn converge(&mut self, mut planned: Planned, shared: &Shared) -> Ending {
        let mode = self.mode(&planned);
        self.share(&planned, mode, shared);
        if !planned.plan.errors.is_empty() {
            return self.failed(
                Failure::Permanent(
                    planned
                        .plan
                        .errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                "invalid",
            );
        }
        let project = &planned.identity.project;
        // A watcher started again remembers what the engine last matched, so that a
        // change made by hand meanwhile is still drift, not a reason to apply.
        if self.resumed.as_ref() != Some(project) {
            self.resumed = Some(project.clone());
            if let Some(digest) = journal::converged(&planned.state_dir, project) {
                self.memory.converged(&digest);
            }
        }
        let desired = planned.view.desired_digest.clone();
        if planned.plan.is_empty()
            && self.memory.converged(&desired)
            && let Err(e) = journal::set_converged(&planned.state_dir, project, &desired)
        {
            warn!("cannot record the converged state in the journal: {e}");
        }
        let decision = self
            .memory
            .decide(&planned.plan.steps, &desired, mode, Instant::now());
        let healing = !decision.drift.is_empty() && !decision.apply.is_empty();
        let reported: BTreeSet<String> = decision.drift.iter().map(Step::summary).collect();
        if reported != self.reported {
            for step in decision
                .drift
                .iter()
                .filter(|s| !self.reported.contains(&s.summary()))
            {
                let handling = if healing { "healed" } else { "reported" };
                shared.metrics.drift(step.action.name(), handling);
                if healing {
                    warn!(container = %step.name, "drift: {}; healing", step.summary());
                } else {
                    warn!(container = %step.name, "drift: {}; left as it is (drift mode warn)", step.summary());
                }
            }
            self.reported = if healing { BTreeSet::new() } else { reported };
        }
        for held in &decision.held {
            shared.metrics.drift("any", "held");
            warn!(
                service = %held.service,
                "drift again after {} heal(s) in a row: crash-looping or changed by someone else; next heal in {}",
                held.heals,
                humantime::format_duration(Duration::from_secs(held.wait.as_secs().max(1)))
            );
        }
        let held: BTreeSet<&str> = decision.held.iter().map(|h| h.service.as_str()).collect();
        let drifted: BTreeSet<&str> = decision
            .drift
            .iter()
            .filter(|_| !healing)
            .map(|s| s.service.as_str())
            .collect();
        // The project network is removed only with every step: a container left (held,
        // or drift not healed) may still be attached.
        if decision.apply.len() < planned.plan.steps.len() {
            planned.plan.remove_network = None;
        }
        if decision.apply.is_empty() && planned.plan.remove_network.is_none() {
            let outcome = if planned.plan.is_empty() {
                "in_sync"
            } else if !drifted.is_empty() {
                "drift_reported"
            } else if !held.is_empty() {
                "drift_held"
            } else {
                "drift_ignored"
            };
            self.backoff.reset();
            self.errors
                .retain(|service, _| planned.plan.steps.iter().any(|s| &s.service == service));
            self.publish(&planned, &held, &drifted, shared);
            let next = decision.requeue().map_or(Next::AwaitChange, Next::Requeue);
            return Ending {
                outcome,
                next,
                failure: None,
                done: None,
                reason: None,
            };
        }

        let steps = decision.apply;
        info!(
            commit = planned.identity.commit.as_deref().unwrap_or("-"),
            "applying {} step(s): {}",
            steps.len(),
            steps.iter().map(Step::summary).collect::<Vec<_>>().join(", ")
        );
        planned.plan.steps = steps;
        let settings = Settings {
            parallelism: self.args.parallelism,
            stable_for: self.args.stable_for,
        };
        let outcomes = runtime().map_err(|e| e.to_string()).and_then(|rt| {
            rt.block_on(async {
                let docker = Docker::connect(&planned.address).await?;
                carry_out(&docker, &planned, &settings, &shared.stopping, &Log).await
            })
            .map_err(|e| e.explained())
        });
        let outcomes = match outcomes {
            Ok(outcomes) => outcomes,
            Err(e) => return self.failed(Failure::Transient(e), "failed"),
        };
        // Steps of services a scheduled pull found a new image for: an image update by
        // schedule, whatever else changed.
        let by_schedule: BTreeSet<String> = planned
            .plan
            .steps
            .iter()
            .map(|s| s.service.clone())
            .filter(|s| self.pulled.contains(s))
            .collect();
        let reason = (!by_schedule.is_empty()).then(|| {
            format!(
                "image update by schedule: {}",
                by_schedule.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        });
        let entry = record(&outcomes, &planned, reason.clone(), &Log);
        let service_of = |name: &str| {
            planned
                .plan
                .steps
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.service.clone())
                .unwrap_or_default()
        };
        for outcome in &outcomes {
            let service = service_of(&outcome.name);
            match &outcome.result {
                Ok(()) => {
                    self.errors.remove(&service);
                    self.pulled.remove(&service);
                }
                // Not a service's step (the project network's removal): the apply's
                // report says it.
                Err(_) if service.is_empty() => {}
                Err(e) if e == STOPPED => {}
                Err(e) => {
                    self.errors.insert(
                        service,
                        format!("{} {}: {e}", outcome.action.name(), outcome.name),
                    );
                }
            }
        }
        self.publish(&planned, &held, &BTreeSet::new(), shared);
        if entry.failed.is_empty() {
            info!(
                commit = planned.identity.commit.as_deref().unwrap_or("-"),
                "applied: {}", entry.done
            );
            self.backoff.reset();
            // Look again at once: level-triggered, the next reconcile proves the engine
            // converged (and refreshes /status).
            Ending {
                outcome: "applied",
                next: Next::Requeue(Duration::ZERO),
                failure: None,
                done: Some(entry.done),
                reason,
            }
        } else {
            let message = format!("apply incomplete ({}): {}", entry.done, entry.failed.join("; "));
            let mut ending = self.failed(Failure::Transient(message), "incomplete");
            ending.done = Some(entry.done);
            ending.reason = reason;
            ending
        }
    }

    /// --drift, else berth.yaml's.
    fn mode(&self, planned: &Planned) -> Drift {
        match self.args.drift {
            Some(DriftMode::Off) => Drift::Off,
            Some(DriftMode::Warn) => Drift::Warn,
            Some(DriftMode::Heal) => Drift::Heal,
            None => planned.config.drift,
        }
    }

    /// Hands what the configuration says to the rest of the watcher: the webhook
    /// secrets, the drift mode, the project whose events to follow.
    fn share(&self, planned: &Planned, mode: Drift, shared: &Shared) {
        let config = &planned.config;
        let named = [
            ("github", &config.webhooks.github),
            ("gitea", &config.webhooks.gitea),
            ("gitlab", &config.webhooks.gitlab),
            ("generic", &config.webhooks.generic),
        ];
        let hooks = named
            .into_iter()
            .filter_map(|(endpoint, name)| {
                let name = name.as_ref()?;
                let value = crate::secrets::find(&config.secrets.providers, name, &planned.root).ok_or_else(|| {
                    format!("webhooks.{endpoint} names secret `{name}`, which has no value in any of berth.yaml's secrets.providers")
                });
                Some((endpoint, value))
            })
            .collect();
        *shared.hooks.lock().unwrap_or_else(|e| e.into_inner()) = Some(hooks);
        shared.drift_off.store(mode == Drift::Off, Ordering::SeqCst);
        let identity = Identity {
            commit: None,
            ..planned.identity.clone()
        };
        let target = (identity, planned.address.clone());
        shared.target.send_if_modified(|current| {
            let changed = current.as_ref() != Some(&target);
            if changed {
                *current = Some(target);
            }
            changed
        });
        shared.status(|s| {
            s.project = Some(planned.identity.project.clone());
            s.engine = Some(planned.address.host.clone());
            s.drift_mode = match mode {
                Drift::Off => "off",
                Drift::Warn => "warn",
                Drift::Heal => "heal",
            };
        });
    }

    /// Publishes every service's state, as of the plan (before any apply).
    fn publish(
        &mut self,
        planned: &Planned,
        held: &BTreeSet<&str>,
        drifted: &BTreeSet<&str>,
        shared: &Shared,
    ) {
        // Crash-looping: restarting now, or restarted by the engine since the last look.
        // The engine's restart policy (with its own backoff) restarts it; berth reports.
        let mut crashing = BTreeSet::new();
        for c in &planned.live.containers {
            let Some(owner) = &c.owner else { continue };
            let restarted = self
                .restarts
                .get(&c.id)
                .is_some_and(|before| c.restarts > *before);
            if c.state == RunState::Restarting || restarted {
                crashing.insert(owner.service.clone());
            }
        }
        for service in crashing.difference(&self.crashing) {
            warn!(%service, "crash-looping: the engine keeps restarting it (see `docker logs`); berth reports it and leaves the restarts to the engine");
        }
        self.restarts = planned
            .live
            .containers
            .iter()
            .map(|c| (c.id.clone(), c.restarts))
            .collect();
        self.crashing = crashing;
        let watched = services(planned)
            .into_iter()
            .map(|status| {
                let name = status.name.as_str();
                let restarting = self.crashing.contains(name);
                let error = self.errors.get(name).cloned();
                let state = if error.is_some() {
                    "failing"
                } else if held.contains(name) {
                    "held"
                } else if restarting {
                    "crash_looping"
                } else if drifted.contains(name) {
                    "drifted"
                } else if status.drift.is_empty() {
                    "in_sync"
                } else {
                    "out_of_sync"
                };
                WatchedService {
                    last_scheduled_pull: self.last_pulls.get(name).cloned(),
                    status,
                    desired_commit: planned.identity.commit.clone(),
                    state,
                    last_error: error,
                }
            })
            .collect();
        shared.status(|s| {
            s.desired_commit = planned.identity.commit.clone();
            s.services = watched;
            s.kept = planned.plan.kept.clone();
        });
    }
}

/// Sorts why nothing was planned by what makes it pass.
fn failure(unplanned: Unplanned) -> Failure {
    match unplanned {
        Unplanned::Invalid { problems, commit } => Failure::Permanent(format!(
            "the configuration{} has {} error(s): {}",
            commit
                .map(|c| format!(" at commit {}", &c[..c.len().min(7)]))
                .unwrap_or_default(),
            problems.len(),
            problems
                .iter()
                .map(|p| one_line(p).trim_end().to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )),
        Unplanned::Refused(report) => Failure::Permanent(format!("{report}")),
        Unplanned::Engine(e) => Failure::Transient(e.explained()),
        Unplanned::Failed(report) => Failure::Transient(format!("{report}")),
    }
}

fn retry_text(next: Next) -> String {
    match next {
        Next::Requeue(after) => humantime::format_duration(after).to_string(),
        Next::AwaitChange => "the next change".into(),
    }
}

fn unix_secs() -> i64 {
    unix_now() as i64
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// An apply's progress, as log lines.
struct Log;

impl Observer for Log {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Started(step) => debug!(container = %step.name, "{} started", step.action.name()),
            Event::Finished(step, Ok(())) => info!(container = %step.name, "{} done", step.action.name()),
            Event::Finished(step, Err(e)) => {
                warn!(container = %step.name, "{} failed: {e}", step.action.name())
            }
        }
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn note(&self, warning: bool, line: &str) {
        if warning {
            warn!("{line}");
        } else {
            info!("{line}");
        }
    }
}
