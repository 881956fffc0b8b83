//! Observed state: what a Docker engine runs, as plain data. The engine edge fills it
//! in; diff and plan read it. Containers that berth does not own are kept only by name,
//! so that a clash can be reported; nothing else about them is ever read.

use std::collections::BTreeMap;

use crate::model::canonical::Spec;

/// What the engine runs that matters to one project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    pub containers: Vec<Container>,
    /// Image reference → the image ID it resolves to, for the references the model names.
    pub images: BTreeMap<String, String>,
}

/// One container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub state: RunState,
    /// `None` for a container berth does not own.
    pub owner: Option<Owner>,
}

/// What berth's labels say about a container it created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub project: String,
    pub service: String,
    pub instance: u32,
    pub spec_hash: String,
    /// The `berth.spec` label, when it could be read back.
    pub spec: Option<Spec>,
    /// The image ID the container was created from.
    pub image_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Dead,
}

impl RunState {
    /// Whether the container's process is up (or coming up).
    pub fn is_running(self) -> bool {
        matches!(self, RunState::Running | RunState::Restarting)
    }
}
