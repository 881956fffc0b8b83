//! The status use case: every configured service with its instances as observed, the
//! commit each was made from, and what a plan would do to it (its drift). Read by
//! `berth status` and by the watcher's /status.

use serde::Serialize;

use super::plan::{Pinned, Planned};
use crate::plan::Step;
use crate::store::journal;

/// The status of a project: `berth status`'s document.
#[derive(Serialize)]
pub struct Status {
    pub format_version: &'static str,
    pub project: String,
    pub engine: String,
    /// The commit the configuration was read from (with --repo).
    pub commit: Option<String>,
    pub services: Vec<ServiceStatus>,
    /// On a swarm: every node, with its state and availability (a drained one included).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<crate::live::Node>,
    /// Managed containers no longer in the configuration.
    pub kept: Vec<String>,
    pub last_apply: Option<journal::Entry>,
    /// What `berth rollback` pinned, until `berth unpin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<PinStatus>,
}

/// A pin and how far the branch moved past it.
#[derive(Debug, Clone, Serialize)]
pub struct PinStatus {
    #[serde(flatten)]
    pub pin: journal::Pin,
    /// The branch's commit now.
    pub head: Option<String>,
    /// Commits on the branch since the pinned one.
    pub ahead: Option<usize>,
    /// `the project is pinned to commit abc1234 by berth rollback (…)`.
    pub summary: String,
}

impl PinStatus {
    pub fn of(pinned: &Pinned) -> PinStatus {
        PinStatus {
            pin: pinned.pin.clone(),
            head: pinned.head.clone(),
            ahead: pinned.ahead,
            summary: pinned.describe(),
        }
    }
}

/// The project's status as of a plan: every service, the kept containers, and the last
/// apply from the journal.
pub fn status(planned: &Planned) -> Status {
    Status {
        format_version: "1",
        project: planned.identity.project.clone(),
        engine: planned.address.host.clone(),
        commit: planned.identity.commit.clone(),
        services: services(planned),
        nodes: planned.live.swarm_nodes.clone(),
        kept: planned.plan.kept.clone(),
        last_apply: journal::last(&planned.state_dir, &planned.identity.project),
        pinned: planned.pinned.as_ref().map(PinStatus::of),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub name: String,
    pub desired_instances: u32,
    pub desired_state: &'static str,
    pub running: usize,
    pub instances: Vec<InstanceStatus>,
    /// What a plan would do, `replace (env.LOG_LEVEL)`; empty when in sync.
    pub drift: Vec<String>,
    /// On a swarm: tasks that are not running, and the last rolling update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SwarmStatus {
    /// Task slots of the current spec without a running task, with their last error.
    pub failing: Vec<String>,
    /// The last rolling update's state and Swarm's message (`rollback_completed: …`).
    pub update: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceStatus {
    pub container: String,
    pub state: String,
    pub commit: Option<String>,
}

/// Every configured service: its instances as observed and what a plan would do to it.
pub fn services(planned: &Planned) -> Vec<ServiceStatus> {
    planned
        .model
        .services
        .iter()
        .map(|s| {
            let ours: Vec<&crate::live::Container> = planned
                .live
                .containers
                .iter()
                .filter(|c| c.owner.as_ref().is_some_and(|o| o.service == s.name))
                .collect();
            let swarm = ours.iter().find_map(|c| c.swarm.as_ref());
            let mut instances: Vec<InstanceStatus> = ours
                .iter()
                .map(|c| InstanceStatus {
                    container: c.name.clone(),
                    state: format!("{:?}", c.state).to_lowercase(),
                    commit: c.owner.as_ref().and_then(|o| o.commit.clone()),
                })
                .collect();
            instances.sort_by(|a, b| a.container.cmp(&b.container));
            let drift = planned
                .plan
                .steps
                .iter()
                .filter(|step| step.service == s.name)
                .map(Step::summary)
                .collect();
            ServiceStatus {
                name: s.name.clone(),
                desired_instances: s.replicas,
                desired_state: match s.state {
                    crate::model::DesiredState::Running => "running",
                    crate::model::DesiredState::Stopped => "stopped",
                },
                // A Swarm service's running tasks; else its running containers.
                running: match swarm {
                    Some(t) => t.running as usize,
                    None => instances.iter().filter(|i| i.state == "running").count(),
                },
                instances,
                drift,
                swarm: swarm.map(|t| SwarmStatus {
                    failing: t.failing.clone(),
                    update: t.update.clone(),
                }),
            }
        })
        .collect()
}
