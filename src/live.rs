//! Observed state: what a Docker engine runs, as plain data. The engine edge fills it
//! in; diff and plan read it. Containers that berth does not own are kept only by name,
//! so that a clash can be reported; nothing else about them is ever read.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest as _, Sha256};

use crate::model::canonical::Spec;
use crate::model::{Protocol, Resources};
use crate::secret::Secret;

/// What the engine runs that matters to one project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    pub containers: Vec<Container>,
    /// Image reference → the image ID it resolves to, for the references the model names.
    pub images: BTreeMap<String, String>,
    /// Whether the network the project joins exists (its own, or berth.yaml's external).
    pub network: bool,
    /// Whether berth's own network of this project exists, with berth's labels: the one
    /// network it may remove, once no container needs it. A network of that name made
    /// by anyone else is never touched.
    pub own_network: bool,
    /// Swarm: the nodes work can be placed on (ready and active), by their labels.
    pub nodes: Vec<BTreeMap<String, String>>,
    /// Swarm: every node, as status shows it (one that is down or drained included).
    pub swarm_nodes: Vec<Node>,
    /// What the engine can give a container; `None` when it was not read (the fakes, and
    /// a Docker engine's plan that changes nothing: see `Surroundings`).
    pub engine: Option<EngineFacts>,
    /// The running containers that publish a host port the model asks for, whoever
    /// owns them (this project's own included: its service may keep its port).
    pub published: Vec<HostPort>,
    /// Host ports the model asks for that a process outside the engine holds (read on a
    /// local engine only).
    pub bound: Vec<(u16, Protocol)>,
    /// Attached mode (berth.yaml `cosmos.redis`): what COSMOS's Redis holds of the
    /// project's microservices; `None` otherwise.
    pub cosmos: Option<Entries>,
    /// The names of objects labelled as this project's by another berth installation
    /// (another state key): what a lost key leaves behind.
    pub foreign: Vec<String>,
}

/// A swarm node as one observation saw it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    /// Its host name (its ID when it reports none).
    pub name: String,
    /// `manager` or `worker`.
    pub role: String,
    /// Swarm's word for it: `ready`, `down`, `disconnected` or `unknown`.
    pub state: String,
    /// `active`, `pause` or `drain`: whether Swarm may place tasks on it.
    pub availability: String,
}

/// What COSMOS's Redis holds that a plan depends on, read in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entries {
    /// For each MICROSERVICE the model asks for, by name: the entry under that name,
    /// `None` when there is none.
    pub present: BTreeMap<String, Option<Found>>,
    /// berth's record of the entries it wrote, by name: those of the model's names and
    /// those of this project.
    pub written: BTreeMap<String, Written>,
}

/// An entry as Redis holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// `model::entry::digest` of it.
    pub digest: String,
    /// Its text, which an apply expects to find still there: values of ENV lines named
    /// like secrets are in it.
    pub text: Secret<String>,
}

/// berth's record of one entry it wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Written {
    pub installation: String,
    pub project: String,
    /// `model::entry::digest` of the entry as written.
    pub digest: String,
    /// `model::entry::config_digest` of the configuration it was written from.
    #[serde(default)]
    pub config: String,
}

/// The engine's own limits, read once per observation: `docker info`, or on a swarm the
/// largest ready node's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineFacts {
    /// CPUs a container may be limited to at most, in millicores (`NCPU` × 1000);
    /// `None` when the engine did not say (no check is then made against it).
    pub cpu_millis: Option<u64>,
    /// The memory of the host (or the largest node), in bytes, when known.
    pub memory_bytes: Option<u64>,
    /// The API version agreed with the engine.
    pub api_version: String,
}

/// A host port a container publishes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostPort {
    pub port: u16,
    pub protocol: Protocol,
    /// The container's (or Swarm service's) ID and name.
    pub id: String,
    pub name: String,
}

/// What only a change needs to know of a Docker engine, read once a plan has one: what
/// could make the engine refuse it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Surroundings {
    /// Containers berth does not own whose names could clash with the project's (ID,
    /// name).
    pub others: Vec<(String, String)>,
    /// `None` when it was not read (the fakes).
    pub engine: Option<EngineFacts>,
    /// As `LiveState::published`.
    pub published: Vec<HostPort>,
    /// As `LiveState::bound`.
    pub bound: Vec<(u16, Protocol)>,
}

impl LiveState {
    /// Adds what a change needs to know to what the labels said.
    pub fn surround(&mut self, surroundings: Surroundings) {
        let Surroundings {
            others,
            engine,
            published,
            bound,
        } = surroundings;
        self.containers = Container::with_others(std::mem::take(&mut self.containers), others);
        self.engine = engine.or(self.engine.take());
        self.published = published;
        self.bound = bound;
    }

    /// Puts containers read in full in place of what their listing said (one gone
    /// meanwhile stays as listed: the apply finds out).
    pub fn replace(&mut self, inspected: Vec<Container>) {
        for c in inspected {
            if let Some(known) = self.containers.iter_mut().find(|k| k.id == c.id) {
                *known = c;
            }
        }
    }

    /// A digest of everything a plan depends on: a saved plan is stale when the engine's
    /// fingerprint has changed since.
    pub fn fingerprint(&self) -> String {
        let mut text = String::new();
        let mut containers: Vec<&Container> = self.containers.iter().collect();
        containers.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        for c in containers {
            let _ = write!(text, "{}\0{}\0{:?}", c.id, c.name, c.state);
            if let Some(o) = &c.owner {
                let _ = write!(text, "\0{}\0{}\0{:?}", o.spec_hash, o.image_id, o.resources);
            }
            // A Swarm service's version index moves with every change made to it.
            if let Some(s) = &c.swarm {
                let _ = write!(text, "\0{}\0{}", s.version, s.replicas);
            }
            text.push('\n');
        }
        for (reference, id) in &self.images {
            let _ = writeln!(text, "image\0{reference}\0{id}");
        }
        let _ = writeln!(text, "network\0{}\0{}", self.network, self.own_network);
        // Whoever else holds a host port the model asks for decides whether it can be had.
        for p in &self.published {
            let _ = writeln!(text, "published\0{}/{}\0{}", p.port, p.protocol, p.id);
        }
        for (port, protocol) in &self.bound {
            let _ = writeln!(text, "bound\0{port}/{protocol}");
        }
        format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
    }

    /// Attached mode: a digest of what COSMOS's Redis holds that the plan depends on (a
    /// saved plan is stale when it changed); `None` otherwise.
    pub fn cosmos_fingerprint(&self) -> Option<String> {
        let entries = self.cosmos.as_ref()?;
        let mut text = String::new();
        for (name, found) in &entries.present {
            let digest = found.as_ref().map(|f| f.digest.as_str());
            let _ = writeln!(text, "entry\0{name}\0{digest:?}");
        }
        for (name, w) in &entries.written {
            let _ = writeln!(
                text,
                "written\0{name}\0{}\0{}\0{}\0{}",
                w.installation, w.project, w.digest, w.config
            );
        }
        Some(format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes()))))
    }
}

/// One container; on a swarm, one service (its instance is 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub state: RunState,
    /// How many times the engine restarted it under its restart policy (0 when not
    /// known). Not part of the fingerprint: no plan depends on it.
    pub restarts: u32,
    /// `None` for a container berth does not own.
    pub owner: Option<Owner>,
    /// What only a Swarm service has.
    pub swarm: Option<SwarmService>,
}

/// A Swarm service's facts beyond its labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmService {
    /// The version index, Swarm's optimistic concurrency: an update names the version it
    /// was planned from and is refused when the service has changed since.
    pub version: u64,
    /// Desired tasks (0 for a stopped service).
    pub replicas: u32,
    /// Tasks of the current spec that are running (and healthy, with a health check).
    pub running: u32,
    /// Tasks of the current spec that failed or were rejected, each as `slot N: error`.
    pub failing: Vec<String>,
    /// The state of the last rolling update (`completed`, `rollback_completed`, …) with
    /// Swarm's message; `None` before any.
    pub update: Option<String>,
    /// The last rolling update failed and Swarm rolled the service back.
    pub rolled_back: bool,
}

impl Container {
    /// Adds the objects (ID, name) not already in `known` as ones berth does not own —
    /// known by name only, for clashes — and sorts all by name.
    pub fn with_others(
        mut known: Vec<Container>,
        others: impl IntoIterator<Item = (String, String)>,
    ) -> Vec<Container> {
        for (id, name) in others {
            if !known.iter().any(|c| c.id == id) {
                known.push(Container {
                    id,
                    name,
                    state: RunState::Created,
                    restarts: 0,
                    owner: None,
                    swarm: None,
                });
            }
        }
        known.sort_by(|a, b| a.name.cmp(&b.name));
        known
    }
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
    /// The commit the container was created from (`berth.commit`), with a git source.
    pub commit: Option<String>,
    /// The resources the engine applies now. Labels cannot change after creation, so
    /// after an in-place update these, not the spec label's, are the truth.
    pub resources: Resources,
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
