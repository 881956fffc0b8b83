//! What the watcher shares between its loop, its HTTP handlers, its file watcher and its
//! event stream — the trigger, the stop flag, the metrics, the webhook secrets, the
//! project whose events to follow — and what `GET /status` shows, with a reconcile's
//! outcome and each service's state as enums.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use serde::Serialize;
use tokio::sync::{Notify, watch};

use super::metrics::Metrics;
use crate::engine::Identity;
use crate::engine::docker::Address;
use crate::ops::status::{PinStatus, ServiceStatus};
use crate::secret::Secret;

/// Webhook endpoint → its secret, or why it has none.
pub type Hooks = BTreeMap<&'static str, Result<Secret<String>, String>>;

/// What the loop, the HTTP handlers, the file watcher and the event stream share.
pub struct Shared {
    /// A trigger: something may have changed. One stored permit at most, so any number
    /// of triggers during a run make exactly one more run.
    pub wake: Notify,
    pub stopping: AtomicBool,
    /// The effective drift mode is `off`: engine events are not triggers.
    pub drift_off: AtomicBool,
    pub metrics: Metrics,
    pub status: Mutex<Status>,
    /// Webhook endpoint → its secret (or why it has none), from the last berth.yaml
    /// read; `None` before the first.
    pub hooks: Mutex<Option<Hooks>>,
    pub local_token: Secret<String>,
    /// The project and engine whose events to follow, once known.
    pub target: watch::Sender<Option<(Identity, Address)>>,
    /// Sends berth.yaml `notify` events; unset when https cannot be set up.
    pub notifier: std::sync::OnceLock<crate::notify::Notifier>,
}

impl Shared {
    /// A watcher's shared state before its first reconcile: `source` is what it
    /// watches, as /status shows it.
    pub fn new(
        source: String,
        local_token: Secret<String>,
        target: watch::Sender<Option<(Identity, Address)>>,
    ) -> Shared {
        Shared {
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
            drift_off: AtomicBool::new(false),
            metrics: Metrics::default(),
            status: Mutex::new(Status {
                format_version: "1",
                source,
                ..Status::default()
            }),
            hooks: Mutex::new(None),
            local_token,
            target,
            notifier: std::sync::OnceLock::new(),
        }
    }

    pub fn status<T>(&self, f: impl FnOnce(&mut Status) -> T) -> T {
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut status)
    }
}

/// What one reconcile came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The engine matches the repository.
    InSync,
    /// A plan was applied, every step of it.
    Applied,
    /// A plan was applied and some steps failed.
    Incomplete,
    /// The configuration cannot be planned: nothing changes until it does.
    Invalid,
    /// Planning or applying failed for a reason that may pass (the engine, the lock).
    Failed,
    /// Drift was found and reported, not healed (drift mode warn).
    DriftReported,
    /// Drift was found on services healed again and again; they wait their backoff.
    DriftHeld,
    /// Drift was found and ignored (drift mode off).
    DriftIgnored,
}

impl Outcome {
    /// The name in metrics and logs: the same as in /status.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::InSync => "in_sync",
            Outcome::Applied => "applied",
            Outcome::Incomplete => "incomplete",
            Outcome::Invalid => "invalid",
            Outcome::Failed => "failed",
            Outcome::DriftReported => "drift_reported",
            Outcome::DriftHeld => "drift_held",
            Outcome::DriftIgnored => "drift_ignored",
        }
    }
}

/// A watched service's state, in /status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    /// The engine matches the repository.
    InSync,
    /// A plan would change it; the next apply will.
    OutOfSync,
    /// Changed on the engine, reported and left (drift mode warn).
    Drifted,
    /// Healed again and again: waiting out its heal backoff.
    Held,
    /// The engine keeps restarting it.
    CrashLooping,
    /// Its last step failed.
    Failing,
}

/// `GET /status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub format_version: &'static str,
    /// `--repo` with its ref, or the folders watched.
    pub source: String,
    pub project: Option<String>,
    pub engine: Option<String>,
    /// Whether the engine answered at the last look; `None` before berth asked it.
    pub engine_reachable: Option<bool>,
    pub drift_mode: &'static str,
    /// A reconcile is running now.
    pub reconciling: bool,
    pub reconciles: u64,
    /// The commit of the last configuration that compiled.
    pub desired_commit: Option<String>,
    pub last_reconcile: Option<Reconcile>,
    /// When a reconcile last ended with the engine matching the repository.
    pub last_success: Option<String>,
    /// Cleared by the next success.
    pub last_error: Option<LastError>,
    pub services: Vec<WatchedService>,
    /// On a swarm: every node, with its state and availability.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<crate::live::Node>,
    /// Managed containers no longer configured, kept (no prune).
    pub kept: Vec<String>,
    /// What `berth rollback` pinned: the watcher applies no newer commit to it until
    /// `berth unpin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<PinStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reconcile {
    pub started: String,
    pub seconds: f64,
    pub outcome: Outcome,
    pub commit: Option<String>,
    /// What the apply did, when it applied.
    pub done: Option<String>,
    /// Why it applied besides a new commit: `image update by schedule: web`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastError {
    pub time: String,
    pub message: String,
    /// It waits for a change to the repository rather than being retried.
    pub permanent: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct WatchedService {
    #[serde(flatten)]
    pub status: ServiceStatus,
    pub desired_commit: Option<String>,
    pub state: ServiceState,
    pub last_error: Option<String>,
    /// Its last scheduled image pull, when it has a schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_scheduled_pull: Option<ScheduledPull>,
}

/// A service's last scheduled pull, in /status.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduledPull {
    pub time: String,
    pub image: String,
    /// new_image, same_image or failed.
    pub result: &'static str,
    /// The image ID the tag names after the pull; the error when it failed.
    pub detail: String,
}
