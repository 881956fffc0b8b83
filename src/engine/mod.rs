//! The engine edge: what berth asks of a container engine, split by type into looking
//! (`Observe`, all that `plan` ever gets) and changing (`Engine`, for `apply`). `docker`
//! talks to a real Docker engine through bollard; `fake` is the in-memory engine the pure
//! core's tests apply plans to.

#[allow(clippy::disallowed_methods)] // the edge: image archives and build contexts
pub mod docker;
pub mod fake;
pub mod labels;
pub mod logs;
pub mod naming;
#[allow(clippy::disallowed_methods)] // the edge: the clock of Swarm's progress
mod rounds;
#[allow(clippy::disallowed_methods)] // the edge: waiting for Swarm to converge
pub mod swarm;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Mode;
use crate::live::{Container, LiveState, Surroundings};
use crate::model::canonical::Spec;
use crate::model::{Capabilities, Port, Probe, Protocol, Resources};
use crate::secret::Secret;

pub use labels::Identity;

/// A failed engine call, with the address it went to.
#[derive(Debug, thiserror::Error)]
#[error("{what} (engine at {address}): {cause}")]
pub struct EngineError {
    pub address: String,
    /// What berth was doing: `cannot reach the Docker engine`, `cannot list containers`.
    pub what: String,
    pub cause: String,
    /// No engine answered at the address at all.
    pub unreachable: bool,
}

impl EngineError {
    /// The failure as one line; for an unreachable engine, with what to do.
    pub fn explained(&self) -> String {
        let cause = self.cause.replace('\n', " ");
        let line = format!("{} at {}: {cause}", self.what, self.address);
        if self.unreachable {
            line + "; start the engine (dockerd), or point DOCKER_HOST or berth.yaml's engine.host at a running one"
        } else {
            line
        }
    }
}

/// What to observe: one project's objects.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub identity: &'a Identity,
    /// Containers, or Swarm services (with the swarm's nodes).
    pub mode: Mode,
    /// The host ports the model publishes: who else holds them is observed.
    pub host_ports: Vec<(u16, Protocol)>,
    /// The network the project's containers join, whose existence is observed.
    pub network: String,
    /// Inspect every container this installation owns. Otherwise each is what its
    /// listing and labels say (its resources those its spec label records, no restart
    /// count), and `inspect_containers` reads those the labels do not settle.
    pub inspect_all: bool,
}

/// Reading an engine. `plan` gets only this, so it cannot change anything.
pub trait Observe {
    /// Where the engine is, for messages.
    fn address(&self) -> &str;

    /// The project's containers, and whether the project network exists (the images
    /// the model names are `image_id`'s). On a swarm also what `surroundings` reads of a Docker engine (its nodes
    /// are the placement, read in any case).
    fn observe(&self, query: &Query<'_>) -> impl Future<Output = Result<LiveState, EngineError>>;

    /// Docker: what only a change needs to know (the names of containers berth does not
    /// own that could clash with the project's, the engine's limits), which a plan reads
    /// once it has a change.
    fn surroundings(&self, query: &Query<'_>) -> impl Future<Output = Result<Surroundings, EngineError>>;

    /// The ID of the image a reference names, `None` when it is not present.
    fn image_id(&self, reference: &str) -> impl Future<Output = Result<Option<String>, EngineError>>;

    /// The containers with these IDs that `identity` owns, read in full (one gone
    /// meanwhile is left out).
    fn inspect_containers(
        &self,
        identity: &Identity,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<Container>, EngineError>>;
}

/// Changing an engine: what `apply` needs on top of reading it.
pub trait Engine: Observe {
    fn create_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), EngineError>>;
    /// Removes the network `name` if it carries the owner labels of `labels` (berth's
    /// own, of this project); any other network of that name is left alone.
    fn remove_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), EngineError>>;
    /// Makes an image present.
    fn provide_image(&self, source: &ImageSource) -> impl Future<Output = Result<(), EngineError>>;
    /// Creates a container (not started) and returns its ID.
    fn create_container(&self, create: &Create) -> impl Future<Output = Result<String, EngineError>>;
    fn start(&self, id: &str) -> impl Future<Output = Result<(), EngineError>>;
    fn stop(&self, id: &str) -> impl Future<Output = Result<(), EngineError>>;
    /// Changes resources of an existing container in place (`docker update`). Labels
    /// cannot change; diff compares resources with what the engine reports instead.
    fn update(&self, id: &str, resources: &Resources) -> impl Future<Output = Result<(), EngineError>>;
    fn remove(&self, id: &str) -> impl Future<Output = Result<(), EngineError>>;
    fn rename(&self, id: &str, name: &str) -> impl Future<Output = Result<(), EngineError>>;
    /// Places a file (mode 0444, owned by root) in a created container, before it starts.
    fn put_file(&self, id: &str, path: &str, content: &[u8])
    -> impl Future<Output = Result<(), EngineError>>;
    /// Places a service's own files in a created container, before it starts: each with
    /// its mode, owned (with the folders made for them below the first file's top folder
    /// under `/tmp`) by the user the container runs as, as if the program had written them.
    fn put_files(
        &self,
        id: &str,
        files: &[crate::model::File],
    ) -> impl Future<Output = Result<(), EngineError>>;
    /// Waits until a started container is ready, or says why it is not.
    fn wait_ready(&self, id: &str, readiness: &Readiness) -> impl Future<Output = Result<(), String>>;
}

/// How a new or started container shows that it works.
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    /// A probe berth runs: HTTP or TCP to the container's address, or a command in it.
    Probe(Probe),
    /// Still running, and not restarted, after this long.
    StaysUp(Duration),
}

/// Changing a swarm: the Swarm services of an apply, on top of the containers `Engine`
/// changes. A create or update returns once Swarm has taken it; `converge` waits.
pub trait Swarm: Engine {
    /// Creates an attachable overlay network with `labels`.
    fn create_overlay(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), EngineError>>;
    /// Creates a service; returns its ID.
    fn create_service(&self, request: &swarm::ServiceRequest)
    -> impl Future<Output = Result<String, String>>;
    /// Updates service `id` from the version the plan saw (Swarm refuses the update if
    /// anyone changed it since).
    fn update_service(
        &self,
        id: &str,
        version: u64,
        request: &swarm::ServiceRequest,
    ) -> impl Future<Output = Result<(), String>>;
    /// Waits until Swarm has converged on service `id` as `request` asks, its tasks
    /// running for `stable_for`, or says why not.
    fn converge(
        &self,
        id: &str,
        request: &swarm::ServiceRequest,
        stable_for: Duration,
    ) -> impl Future<Output = Result<(), String>>;
    /// Removes a service and waits until its tasks on this engine are gone.
    fn remove_service(&self, id: &str) -> impl Future<Output = Result<(), String>>;
    /// Removes this installation's secrets of the project that no service uses; notes on
    /// what could not be removed.
    fn remove_unused_secrets(&self, identity: &Identity) -> impl Future<Output = Vec<String>>;
}

/// A read-only view of any engine: hands `plan` an engine it cannot write through.
pub struct ReadOnly<'a, E>(pub &'a E);

impl<E: Observe> Observe for ReadOnly<'_, E> {
    fn address(&self) -> &str {
        self.0.address()
    }

    fn observe(&self, query: &Query<'_>) -> impl Future<Output = Result<LiveState, EngineError>> {
        self.0.observe(query)
    }

    fn surroundings(&self, query: &Query<'_>) -> impl Future<Output = Result<Surroundings, EngineError>> {
        self.0.surroundings(query)
    }

    fn image_id(&self, reference: &str) -> impl Future<Output = Result<Option<String>, EngineError>> {
        self.0.image_id(reference)
    }

    fn inspect_containers(
        &self,
        identity: &Identity,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<Container>, EngineError>> {
        self.0.inspect_containers(identity, ids)
    }
}

/// Where an image that is not present comes from. The registry password is a `Secret`:
/// a watcher keeps these for as long as it runs, and its `Debug` never shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// `docker load` of an archive (a Cumulocity `image.tar`, berth.yaml `images[].load`).
    Load { archive: PathBuf },
    /// `docker build` of a context folder (berth.yaml `images[].build`).
    Build {
        tag: String,
        context: PathBuf,
        dockerfile: String,
        args: BTreeMap<String, String>,
    },
    /// A pull from its registry, with credentials when the service has them.
    Pull {
        reference: String,
        credentials: Option<Credentials>,
    },
}

/// A registry user and password.
pub type Credentials = (String, Secret<String>);

/// Everything needed to create one container, with real values: secrets resolved,
/// berth's labels set.
#[derive(Debug, Clone, PartialEq)]
pub struct Create {
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    pub working_dir: Option<String>,
    /// Environment with real values (secrets included): never logged or stored.
    pub env: Secret<BTreeMap<String, String>>,
    pub ports: Vec<Port>,
    pub extra_hosts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub resources: Resources,
    pub healthcheck: Option<Probe>,
    pub capabilities: Capabilities,
    /// How the container is stopped, when not as the engine does by default.
    pub stop: Option<crate::model::Stop>,
    /// The project network, and the name the container answers to on it.
    pub network: String,
    pub alias: String,
}

impl Create {
    /// The request for a container of `spec`, with `env` the spec's environment with
    /// secret values filled in.
    pub fn new(
        name: &str,
        spec: &Spec,
        env: Secret<BTreeMap<String, String>>,
        labels: BTreeMap<String, String>,
        network: &str,
        alias: &str,
    ) -> Create {
        Create {
            name: name.to_string(),
            image: spec.image.clone(),
            command: spec.command.clone(),
            working_dir: spec.working_dir.clone(),
            env,
            ports: spec.ports.clone(),
            extra_hosts: spec.extra_hosts.clone(),
            labels,
            resources: spec.resources.clone(),
            healthcheck: spec.healthcheck.clone(),
            capabilities: spec.capabilities.clone(),
            stop: spec.stop.clone(),
            network: network.to_string(),
            alias: alias.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ImageSource;
    use crate::secret::Secret;

    #[test]
    fn a_pull_never_shows_its_password() {
        let pull = ImageSource::Pull {
            reference: "registry.local/app:1".into(),
            credentials: Some(("puller".into(), Secret::new("s3cret".into()))),
        };
        let shown = format!("{pull:?}");
        assert!(shown.contains("puller") && !shown.contains("s3cret"), "{shown}");
    }
}
