//! Docker Swarm through bollard, on the same connection as `docker`: a project's Swarm
//! services observed as one `Container` each (their labels read back into an `Owner`,
//! their version index, replicas and tasks), the swarm's nodes for placement, and the
//! writes a Swarm apply makes — the overlay network, versioned secrets, service create,
//! update (rolling, start-first, rolled back by Swarm on failure) and remove — each
//! waited on until Swarm has converged or says why not.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec,
    Limit, NetworkAttachmentConfig, NodeSpecAvailabilityEnum, NodeState, ResourceObject, SecretSpec, Service,
    ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, ServiceUpdateStatusStateEnum,
    Task, TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecFile, TaskSpecContainerSpecSecrets,
    TaskSpecPlacement, TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
    TaskState,
};
use bollard::query_parameters::{
    ListNodesOptions, ListSecretsOptionsBuilder, ListServicesOptionsBuilder, ListTasksOptionsBuilder,
    UpdateServiceOptionsBuilder,
};

use super::docker::{Docker, healthcheck, positive, registry_auth};
use super::labels::{IMAGE_ID, PROJECT, SPEC_HASH};
use super::naming::{clean, network_name};
use super::rounds::Nodes;
use super::{Credentials, EngineError, Identity, Query};
use crate::config::Mode;
use crate::live::{Container, EngineFacts, HostPort, LiveState, RunState, SwarmService};
use crate::model::canonical::Spec;
use crate::model::{Protocol, Resources};
use crate::secret::Secret;

/// How long a create or update may go without progress (no task of any service the
/// apply waits on changing state) before berth says why not: Kubernetes' default
/// progress deadline. A busy swarm is waited for, as `docker stack deploy` waits: a
/// node pulling a large image from a slow registry keeps its tasks in Preparing for
/// minutes, and a create given up on is removed.
const PROGRESS_DEADLINE: Duration = Duration::from_secs(600);
/// How long a removed service's containers may take to go.
const REMOVAL_TIMEOUT: Duration = Duration::from_secs(120);
/// How often a converging service is looked at, at first.
const POLL: Duration = Duration::from_millis(250);
/// Failed tasks of one slot under the current spec after which a service that Swarm
/// cannot roll back (a new one) is reported as failing rather than waited on.
const CRASH_LOOP: usize = 3;
/// How long Swarm watches a new task for failure before the next one (its default).
const MONITOR: Duration = Duration::from_secs(5);
/// Swarm's limit on object names.
const MAX_NAME: usize = 64;

/// One Swarm service to create or update, with real values.
#[derive(Debug, Clone)]
pub struct ServiceRequest {
    pub name: String,
    pub spec: Spec,
    /// Environment with real values (secrets delivered as variables included).
    pub env: Secret<BTreeMap<String, String>>,
    pub replicas: u32,
    /// The service's labels: berth's, read back into its `Owner`.
    pub labels: BTreeMap<String, String>,
    /// The task containers' labels: the service's own and the spec hash, so that a new
    /// image behind the same tag still changes the task template and rolls the tasks.
    pub container_labels: BTreeMap<String, String>,
    pub network: String,
    /// The name the tasks answer to on the network.
    pub alias: String,
    pub secrets: Vec<SwarmSecret>,
    /// Registry credentials (user, password), sent along so that every node can pull.
    pub credentials: Option<Credentials>,
}

/// A secret file, as a Swarm secret named after its value's keyed digest: a new value
/// is a new secret, which a rolling update swaps in.
#[derive(Debug, Clone)]
pub struct SwarmSecret {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: Secret<Vec<u8>>,
    /// The file's path in the container.
    pub target: String,
}

/// The Swarm secret for secret `name` with value digest `digest`:
/// `<project>-<name>-<12 hex>`, shortened to fit Swarm's limit.
pub fn secret_name(project: &str, name: &str, digest: &str) -> String {
    let digest = digest.rsplit(':').next().unwrap_or_default();
    let hex: String = digest.chars().filter(char::is_ascii_hexdigit).take(12).collect();
    let mut prefix = format!("{}-{}", clean(project), clean(name));
    prefix.truncate(MAX_NAME - hex.len() - 1);
    format!("{prefix}-{hex}")
}

impl Docker {
    /// The swarm's view of a project; an error unless the engine is a swarm manager.
    pub(super) async fn observe_swarm(&self, query: &Query<'_>) -> Result<LiveState, EngineError> {
        self.client.inspect_swarm().await.map_err(|e| {
            self.error(
                "the engine is not a swarm manager (engine mode swarm: run `docker swarm init`, or point engine.host at a manager)",
                e,
            )
        })?;
        let identity = query.identity;
        let ours = self.services("label", vec![format!("{PROJECT}={}", identity.project)]);
        // Swarm's name filter matches prefixes.
        let named = self.services("name", vec![format!("{}-", clean(&identity.project))]);
        let own = network_name(&identity.project, Mode::Swarm);
        let network = self.networks(&query.network, &own, identity);
        let nodes = self.nodes();
        let published = self.published_by_services(&query.host_ports);
        let (ours, named, network, nodes, published) =
            futures_util::try_join!(ours, named, network, nodes, published)?;
        let owned: Vec<_> = ours.iter().filter_map(|s| owned(identity, s)).collect();
        // One task list for every service, grouped by service.
        let ids: Vec<String> = owned.iter().filter_map(|(s, _)| s.id.clone()).collect();
        let tasks = match ids.is_empty() {
            true => HashMap::new(),
            false => super::rounds::by_service(self.list_tasks_of(ids).await?),
        };
        let owned: Vec<Container> = owned
            .into_iter()
            .map(|(service, owner)| {
                let of = service.id.as_ref().and_then(|id| tasks.get(id));
                service_container(service, owner, of.map_or(&[], Vec::as_slice), &nodes)
            })
            .collect();
        let others = ours
            .iter()
            .chain(&named)
            .filter_map(|s| Some((s.id.clone()?, s.spec.as_ref()?.name.clone()?)));
        let foreign = ours
            .iter()
            .filter_map(|s| s.spec.as_ref())
            .filter(|s| s.labels.as_ref().is_some_and(|l| identity.foreign(l)))
            .filter_map(|s| s.name.clone())
            .collect();
        let (placeable, resources): (Vec<_>, Vec<_>) = nodes.placeable.into_iter().unzip();
        // A task runs on one node: the largest ready node bounds what one may ask for.
        let engine = EngineFacts {
            cpu_millis: resources.iter().filter_map(|(cpu, _)| *cpu).max(),
            memory_bytes: resources.iter().filter_map(|(_, memory)| *memory).max(),
            api_version: self.client.client_version().to_string(),
        };
        Ok(LiveState {
            foreign,
            containers: Container::with_others(owned, others),
            images: BTreeMap::new(),
            network: network.0,
            own_network: network.1,
            nodes: placeable,
            swarm_nodes: nodes.shown,
            engine: Some(engine),
            published,
            bound: Vec::new(),
            cosmos: None,
        })
    }

    /// The Swarm services that publish any of `ports` on the routing mesh, whoever owns
    /// them: Swarm refuses a second service on a published port.
    async fn published_by_services(&self, ports: &[(u16, Protocol)]) -> Result<Vec<HostPort>, EngineError> {
        if ports.is_empty() {
            return Ok(Vec::new());
        }
        let services = self
            .client
            .list_services(None::<bollard::query_parameters::ListServicesOptions>)
            .await
            .map_err(|e| self.error("cannot list Swarm services", e))?;
        let mut out = Vec::new();
        for s in services {
            let name = s
                .spec
                .as_ref()
                .and_then(|spec| spec.name.clone())
                .unwrap_or_default();
            for p in s.endpoint.iter().flat_map(|e| e.ports.iter().flatten()) {
                let protocol = match p.protocol {
                    Some(EndpointPortConfigProtocolEnum::UDP) => Protocol::Udp,
                    Some(EndpointPortConfigProtocolEnum::SCTP) => Protocol::Sctp,
                    _ => Protocol::Tcp,
                };
                let Some(port) = p.published_port.and_then(|p| u16::try_from(p).ok()) else {
                    continue;
                };
                if ports.contains(&(port, protocol)) {
                    out.push(HostPort {
                        port,
                        protocol,
                        id: s.id.clone().unwrap_or_default(),
                        name: name.clone(),
                    });
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The services any of `values` of the filter `key` matches.
    async fn services(&self, key: &str, values: Vec<String>) -> Result<Vec<Service>, EngineError> {
        let filters = HashMap::from([(key, values)]);
        let options = ListServicesOptionsBuilder::new().filters(&filters).build();
        self.client
            .list_services(Some(options))
            .await
            .map_err(|e| self.error("cannot list Swarm services", e))
    }

    async fn secrets(&self, key: &str, value: String) -> Result<Vec<bollard::models::Secret>, EngineError> {
        let filters = HashMap::from([(key, vec![value])]);
        let options = ListSecretsOptionsBuilder::new().filters(&filters).build();
        self.client
            .list_secrets(Some(options))
            .await
            .map_err(|e| self.error("cannot list Swarm secrets", e))
    }

    /// The swarm's nodes: the placeable ones, the ones that are down, and every one's
    /// name and state.
    async fn nodes(&self) -> Result<Nodes, EngineError> {
        let listed = self
            .client
            .list_nodes(None::<ListNodesOptions>)
            .await
            .map_err(|e| self.error("cannot list Swarm nodes", e))?;
        let mut nodes = Nodes::default();
        for n in listed {
            let id = n.id.clone().unwrap_or_default();
            let name = n
                .description
                .as_ref()
                .and_then(|d| d.hostname.clone())
                .unwrap_or_else(|| id.clone());
            let state = n.status.as_ref().and_then(|s| s.state);
            let spec = n.spec.unwrap_or_default();
            let ready = state == Some(NodeState::READY);
            if !ready {
                nodes.down.insert(id.clone());
            }
            nodes.shown.push(crate::live::Node {
                name: name.clone(),
                // Swarm's own words (Display), as `docker node ls` shows them.
                role: word(spec.role, "worker"),
                state: word(state, "unknown"),
                availability: word(spec.availability, "active"),
            });
            nodes.names.insert(id, name);
            if ready && spec.availability == Some(NodeSpecAvailabilityEnum::ACTIVE) {
                let resources = n.description.and_then(|d| d.resources).unwrap_or_default();
                nodes.placeable.push((
                    spec.labels.unwrap_or_default().into_iter().collect(),
                    (
                        positive(resources.nano_cpus).map(|n| n / 1_000_000),
                        positive(resources.memory_bytes),
                    ),
                ));
            }
        }
        nodes.shown.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(nodes)
    }

    /// One look at the services with these IDs: the services, their tasks, the nodes.
    async fn look(&self, ids: Vec<String>) -> Result<(Vec<Service>, Vec<Task>, Nodes), EngineError> {
        futures_util::try_join!(
            self.services("id", ids.clone()),
            self.list_tasks_of(ids),
            self.nodes()
        )
    }

    /// The tasks of the services with these IDs, whatever their spec.
    async fn list_tasks_of(&self, services: Vec<String>) -> Result<Vec<Task>, EngineError> {
        let filters = HashMap::from([("service", services)]);
        let options = ListTasksOptionsBuilder::new().filters(&filters).build();
        self.client
            .list_tasks(Some(options))
            .await
            .map_err(|e| self.error("cannot list Swarm tasks", e))
    }

    /// The service spec, with its secrets created if they do not exist yet.
    async fn service_spec(&self, request: &ServiceRequest) -> Result<ServiceSpec, String> {
        let mut refs = Vec::new();
        for secret in &request.secrets {
            let id = self.secret(secret).await.map_err(text)?;
            refs.push(TaskSpecContainerSpecSecrets {
                file: Some(TaskSpecContainerSpecFile {
                    name: Some(secret.target.clone()),
                    // Read-only, owned by root, as a secret file on one engine.
                    uid: Some("0".into()),
                    gid: Some("0".into()),
                    mode: Some(0o444),
                }),
                secret_id: Some(id),
                secret_name: Some(secret.name.clone()),
            });
        }
        Ok(service_spec(request, refs))
    }

    /// The ID of the Swarm secret, created when missing.
    async fn secret(&self, secret: &SwarmSecret) -> Result<String, EngineError> {
        // The name filter matches prefixes.
        let existing = || async {
            let found = self.secrets("name", secret.name.clone()).await?;
            Ok::<_, EngineError>(
                found
                    .into_iter()
                    .find(|s| s.spec.as_ref().and_then(|s| s.name.as_ref()) == Some(&secret.name))
                    .and_then(|s| s.id),
            )
        };
        if let Some(id) = existing().await? {
            return Ok(id);
        }
        let spec = SecretSpec {
            name: Some(secret.name.clone()),
            labels: Some(secret.labels.clone().into_iter().collect()),
            data: Some(base64::engine::general_purpose::STANDARD.encode(secret.value.expose())),
            ..Default::default()
        };
        match self.client.create_secret(spec).await {
            Ok(created) => Ok(created.id),
            // Created meanwhile by another service's step of this apply.
            Err(e) if chain_of(&e).contains("already exists") => existing()
                .await?
                .ok_or_else(|| self.error(format!("cannot create Swarm secret `{}`", secret.name), e)),
            Err(e) => Err(self.error(format!("cannot create Swarm secret `{}`", secret.name), e)),
        }
    }

    /// Waits until a removed service's containers on this engine are gone (Swarm
    /// forgets the service at once; its nodes stop and remove the tasks after).
    async fn gone(&self, id: &str) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < REMOVAL_TIMEOUT {
            let left = self
                .list("label", format!("com.docker.swarm.service.id={id}"))
                .await
                .map_err(text)?;
            if left.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
        Err(format!(
            "the service's tasks were still there after {}s",
            REMOVAL_TIMEOUT.as_secs()
        ))
    }

    /// Removes this installation's secrets of the project that no service uses; notes
    /// on what could not be removed.
    async fn remove_unused_secrets_of(&self, identity: &Identity) -> Vec<String> {
        let label = format!("{PROJECT}={}", identity.project);
        let (secrets, services) = match futures_util::try_join!(
            self.secrets("label", label.clone()),
            self.services("label", vec![label])
        ) {
            Ok(both) => both,
            Err(e) => return vec![text(e)],
        };
        let used: Vec<String> = services
            .iter()
            .filter_map(|s| {
                s.spec
                    .as_ref()?
                    .task_template
                    .as_ref()?
                    .container_spec
                    .as_ref()?
                    .secrets
                    .clone()
            })
            .flatten()
            .filter_map(|r| r.secret_id)
            .collect();
        let mut notes = Vec::new();
        for secret in secrets {
            let labels = secret
                .spec
                .as_ref()
                .and_then(|s| s.labels.clone())
                .unwrap_or_default();
            let (Some(id), true) = (secret.id, identity.owns(&labels)) else {
                continue;
            };
            if used.contains(&id) {
                continue;
            }
            if let Err(e) = self.client.delete_secret(&id).await {
                notes.push(text(self.error("cannot remove an unused Swarm secret", e)));
            }
        }
        notes
    }
}

impl super::Swarm for Docker {
    async fn create_overlay(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<(), EngineError> {
        self.create_network_of(name, labels, "overlay").await
    }

    async fn create_service(&self, request: &ServiceRequest) -> Result<String, String> {
        let spec = self.service_spec(request).await?;
        let created = self
            .client
            .create_service(spec, request.credentials.as_ref().map(registry_auth))
            .await
            .map_err(|e| text(self.error("cannot create the service", e)))?;
        Ok(created.id.unwrap_or_default())
    }

    async fn update_service(&self, id: &str, version: u64, request: &ServiceRequest) -> Result<(), String> {
        let spec = self.service_spec(request).await?;
        let options = UpdateServiceOptionsBuilder::new()
            .version(i32::try_from(version).unwrap_or(i32::MAX))
            .build();
        let auth = request.credentials.as_ref().map(registry_auth);
        match self.client.update_service(id, spec, options, auth).await {
            Ok(_) => Ok(()),
            Err(e) if chain_of(&e).contains("out of sequence") => Err(format!(
                "the service changed since it was planned (its version index is no longer {version}); nothing was changed: plan again"
            )),
            Err(e) => Err(text(self.error("cannot update the service", e))),
        }
    }

    /// Waits until Swarm has converged on the service: no rollout under way, and as many
    /// running tasks of the requested spec as replicas. A rolled back or paused update,
    /// a new service whose tasks keep failing, or the timeout is an error saying why.
    /// (Swarm clears the last rollout's status with every update of the spec, so a status
    /// seen here is this change's.)
    async fn converge(&self, id: &str, request: &ServiceRequest, stable_for: Duration) -> Result<(), String> {
        let hash = request.labels.get(SPEC_HASH).cloned().unwrap_or_default();
        let started = Instant::now();
        let _watching = self.rounds.watch(id);
        // Since when the same tasks have been running, one in every slot.
        let mut steady: Option<(Instant, Vec<String>)> = None;
        loop {
            let look = self.rounds.look(|ids| self.look(ids)).await.map_err(text)?;
            let Some(service) = look.services.get(id) else {
                return Err("the service is gone: removed by someone else meanwhile".into());
            };
            let of = look.tasks.get(id).map_or(&[][..], Vec::as_slice);
            let tasks = Tasks::of(of, &hash, &look.nodes);
            let failing = || {
                if tasks.failing.is_empty() {
                    String::new()
                } else {
                    format!("; failing tasks: {}", tasks.failing.join("; "))
                }
            };
            let status = service.update_status.as_ref();
            let message = status.and_then(|s| s.message.clone()).unwrap_or_default();
            match status.and_then(|s| s.state) {
                Some(ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED) => {
                    return Err(format!(
                        "the update failed and Swarm rolled the service back to its previous spec: {message}{}",
                        failing()
                    ));
                }
                Some(
                    ServiceUpdateStatusStateEnum::PAUSED | ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED,
                ) => {
                    return Err(format!("Swarm paused the update: {message}{}", failing()));
                }
                Some(
                    ServiceUpdateStatusStateEnum::UPDATING | ServiceUpdateStatusStateEnum::ROLLBACK_STARTED,
                ) => steady = None,
                // Every slot runs a task of this spec (a slot that failed before and was
                // scaled away no longer counts), and the same ones for `stable_for`.
                _ if tasks.running == request.replicas => match &steady {
                    Some((since, ids)) if *ids == tasks.running_ids => {
                        if since.elapsed() >= stable_for {
                            return Ok(());
                        }
                    }
                    _ => steady = Some((Instant::now(), tasks.running_ids.clone())),
                },
                _ if tasks.crash_looping => {
                    return Err(format!(
                        "{} of {} tasks running; Swarm keeps restarting the others{}",
                        tasks.running,
                        request.replicas,
                        failing()
                    ));
                }
                _ => steady = None,
            }
            // Waiting in a busy swarm's queues is not failing: only when nothing this
            // apply waits on has moved for so long does berth say why not.
            if look.progress.elapsed() > PROGRESS_DEADLINE {
                return Err(format!(
                    "{} of {} tasks running, and no task of this apply has changed state for {}s{}",
                    tasks.running,
                    request.replicas,
                    PROGRESS_DEADLINE.as_secs(),
                    failing()
                ));
            }
            // A rollout that takes long is looked at less often (up to every 2 s); the
            // look itself is shared with every other service converging meanwhile.
            tokio::time::sleep((started.elapsed() / 10).clamp(POLL, POLL * 8)).await;
        }
    }

    async fn remove_service(&self, id: &str) -> Result<(), String> {
        self.client
            .delete_service(id)
            .await
            .map_err(|e| text(self.error("cannot remove the service", e)))?;
        self.gone(id).await
    }

    async fn remove_unused_secrets(&self, identity: &Identity) -> Vec<String> {
        self.remove_unused_secrets_of(identity).await
    }
}

/// What a service's tasks of one spec are doing.
#[derive(Debug, Default)]
struct Tasks {
    /// Slots with a running task.
    running: u32,
    /// The running tasks' IDs, sorted: a task replaced between two looks changes them.
    running_ids: Vec<String>,
    /// Slots without one, with their last error.
    failing: Vec<String>,
    /// A slot without a running task has failed again and again.
    crash_looping: bool,
}

impl Tasks {
    /// What the tasks of one service made from the spec with hash `hash` are doing; one
    /// on a node that is down is not running, whatever Swarm last heard from it. A slot's error names
    /// the node its task was on.
    fn of(tasks: &[Task], hash: &str, nodes: &Nodes) -> Tasks {
        // By slot, oldest first (the version index grows with every change).
        let mut slots: BTreeMap<i64, Vec<(u64, TaskState, String, String)>> = BTreeMap::new();
        for t in tasks {
            let current = t
                .spec
                .as_ref()
                .and_then(|s| s.container_spec.as_ref()?.labels.as_ref()?.get(SPEC_HASH))
                .is_some_and(|h| h == hash);
            let Some(status) = t.status.clone().filter(|_| current) else {
                continue;
            };
            // Swarm's error (`task: non-zero exit (3)`), not its last word (`shutdown`).
            let mut error = status.err.unwrap_or_default();
            let mut state = status.state.unwrap_or(TaskState::NEW);
            let node = t.node_id.as_ref().and_then(|id| Some((id, nodes.names.get(id)?)));
            if let Some((id, name)) = node {
                if nodes.down.contains(id) && state == TaskState::RUNNING {
                    state = TaskState::ORPHANED;
                    error = format!("its node {name} is down; Swarm places the task again on another");
                } else if error.starts_with("No such image") {
                    // Swarm keeps the node's pull error to itself.
                    error = format!(
                        "on node {name}: {error} (the node could not pull it: are the registry credentials right, and does the node reach the registry?)"
                    );
                } else if !error.is_empty() {
                    error = format!("on node {name}: {error}");
                }
            }
            slots.entry(t.slot.unwrap_or_default()).or_default().push((
                t.version.as_ref().and_then(|v| v.index).unwrap_or_default(),
                state,
                error,
                t.id.clone().unwrap_or_default(),
            ));
        }
        let mut out = Tasks::default();
        for (slot, mut tasks) in slots {
            tasks.sort();
            let failed = tasks
                .iter()
                .filter(|(_, s, _, _)| matches!(s, TaskState::FAILED | TaskState::REJECTED))
                .count();
            let running: Vec<&String> = tasks
                .iter()
                .filter(|(_, s, _, _)| *s == TaskState::RUNNING)
                .map(|(_, _, _, id)| id)
                .collect();
            if !running.is_empty() {
                out.running += 1;
                out.running_ids.extend(running.into_iter().cloned());
            } else {
                if let Some((_, _, error, _)) = tasks.iter().rev().find(|(_, _, e, _)| !e.is_empty()) {
                    out.failing.push(format!("slot {slot}: {error}"));
                }
                out.crash_looping |= failed >= CRASH_LOOP;
            }
        }
        out.running_ids.sort();
        out
    }
}

/// A service this installation owns, with its tasks.
fn service_container(
    service: &Service,
    owner: crate::live::Owner,
    tasks: &[Task],
    nodes: &Nodes,
) -> Container {
    let id = service.id.clone().unwrap_or_default();
    let spec = service.spec.clone().unwrap_or_default();
    let replicas = replicas_of(&spec);
    let tasks = Tasks::of(tasks, &owner.spec_hash, nodes);
    let update = service.update_status.as_ref().and_then(|u| {
        let state = format!("{:?}", u.state?).to_lowercase();
        Some(match &u.message {
            Some(m) if !m.is_empty() => format!("{state}: {m}"),
            _ => state,
        })
    });
    Container {
        id,
        name: spec.name.unwrap_or_default(),
        state: if replicas > 0 {
            RunState::Running
        } else {
            RunState::Exited
        },
        restarts: 0,
        owner: Some(owner),
        swarm: Some(SwarmService {
            version: service.version.as_ref().and_then(|v| v.index).unwrap_or_default(),
            replicas,
            running: tasks.running,
            failing: tasks.failing,
            update,
            rolled_back: service.update_status.as_ref().and_then(|u| u.state)
                == Some(ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED),
        }),
    }
}

/// A listed service this installation owns, with what its labels say.
fn owned<'a>(identity: &Identity, service: &'a Service) -> Option<(&'a Service, crate::live::Owner)> {
    let spec = service.spec.as_ref()?;
    let labels = spec.labels.as_ref()?;
    let image_id = labels.get(IMAGE_ID).cloned().unwrap_or_default();
    let resources = spec
        .task_template
        .as_ref()
        .and_then(|t| t.resources.as_ref())
        .map(resources_of)
        .unwrap_or_default();
    let mut owner = identity.owner(labels, &image_id, resources)?;
    // Unlike a container, a Swarm service can be changed in place by hand (`docker
    // service update`): what it runs is read back, and differs from the label's spec
    // when someone did.
    if let (Some(stored), Some(template)) = (owner.spec.take(), spec.task_template.as_ref()) {
        let running = as_running(stored.clone(), template);
        if running != stored {
            owner.spec_hash = running.hash(Some(&image_id));
        }
        owner.spec = Some(running);
    }
    Some((service, owner))
}

/// `spec` with what `docker service update` can change read back from the service's
/// task template: image, command, environment and placement. A value berth wrote as a
/// secret's (or a credential's) digest is kept as that digest when its variable is still
/// set, and the variable berth adds for a standalone COSMOS microservice is not the
/// spec's.
fn as_running(mut spec: Spec, template: &TaskSpec) -> Spec {
    let Some(container) = template.container_spec.as_ref() else {
        return spec;
    };
    if let Some(image) = &container.image
        // Swarm may pin the digest it resolved: `name:tag@sha256:…`.
        && *image != spec.image
        && image.split_once('@').map(|(name, _)| name) != Some(spec.image.as_str())
    {
        spec.image = image.clone();
    }
    spec.command = container.args.clone().unwrap_or_default();
    let hidden = |v: &str| v.contains("<secret:") || v.contains("<redacted:");
    let standalone = spec.cosmos.is_some();
    spec.env = container
        .env
        .iter()
        .flatten()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| !(standalone && *k == crate::model::entry::STANDALONE))
        .map(|(k, v)| match spec.env.get(k) {
            Some(stored) if hidden(stored) => (k.to_string(), stored.clone()),
            _ => (k.to_string(), v.to_string()),
        })
        .collect();
    spec.placement = template
        .placement
        .as_ref()
        .and_then(|p| p.constraints.clone())
        .unwrap_or_default();
    spec
}

fn replicas_of(spec: &ServiceSpec) -> u32 {
    spec.mode
        .as_ref()
        .and_then(|m| m.replicated.as_ref()?.replicas)
        .map_or(0, |r| u32::try_from(r).unwrap_or(0))
}

const NANOS_PER_MILLI_CPU: i64 = 1_000_000;

/// The resources a service's tasks get, in the model's units.
fn resources_of(r: &TaskSpecResources) -> Resources {
    let limits = r.limits.as_ref();
    let reservations = r.reservations.as_ref();
    Resources {
        cpu_limit_millis: positive(limits.and_then(|l| l.nano_cpus)).map(|n| n / NANOS_PER_MILLI_CPU as u64),
        memory_limit_bytes: positive(limits.and_then(|l| l.memory_bytes)),
        cpu_reservation_millis: positive(reservations.and_then(|l| l.nano_cpus))
            .map(|n| n / NANOS_PER_MILLI_CPU as u64),
        memory_reservation_bytes: positive(reservations.and_then(|l| l.memory_bytes)),
        cpuset: None,
    }
}

/// The Swarm service spec of a request, with its secrets' references.
pub fn service_spec(request: &ServiceRequest, secrets: Vec<TaskSpecContainerSpecSecrets>) -> ServiceSpec {
    let spec = &request.spec;
    let signed = |v: Option<u64>| v.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    let cpus = |m: Option<u64>| signed(m).map(|m| m.saturating_mul(NANOS_PER_MILLI_CPU));
    let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    let r = &spec.resources;
    let ports: Vec<EndpointPortConfig> = spec
        .ports
        .iter()
        .filter_map(|p| {
            Some(EndpointPortConfig {
                protocol: Some(match p.protocol {
                    Protocol::Tcp => EndpointPortConfigProtocolEnum::TCP,
                    Protocol::Udp => EndpointPortConfigProtocolEnum::UDP,
                    Protocol::Sctp => EndpointPortConfigProtocolEnum::SCTP,
                }),
                target_port: Some(i64::from(p.number)),
                published_port: Some(i64::from(p.host?)),
                // The routing mesh: the port answers on every node, and a start-first
                // update can start the new task beside the old one.
                publish_mode: Some(EndpointPortConfigPublishModeEnum::INGRESS),
                ..Default::default()
            })
        })
        .collect();
    ServiceSpec {
        name: Some(request.name.clone()),
        labels: Some(request.labels.clone().into_iter().collect()),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(spec.image.clone()),
                labels: Some(request.container_labels.clone().into_iter().collect()),
                args: (!spec.command.is_empty()).then(|| spec.command.clone()),
                // As on one engine: only an absolute working directory means something
                // in another image than COSMOS's own.
                dir: spec.working_dir.clone().filter(|w| w.starts_with('/')),
                env: Some(
                    request
                        .env
                        .expose()
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect(),
                ),
                hosts: (!spec.extra_hosts.is_empty())
                    .then(|| spec.extra_hosts.iter().map(|(h, a)| format!("{a} {h}")).collect()),
                health_check: spec.healthcheck.as_ref().and_then(healthcheck),
                secrets: (!secrets.is_empty()).then_some(secrets),
                stop_signal: spec.stop.as_ref().map(|s| s.signal.clone()),
                stop_grace_period: Some(nanos(Duration::from_secs(
                    spec.stop.as_ref().map_or(10, |s| s.grace_seconds.into()),
                ))),
                capability_drop: (!spec.capabilities.drop.is_empty()).then(|| spec.capabilities.drop.clone()),
                capability_add: (!spec.capabilities.add.is_empty()).then(|| spec.capabilities.add.clone()),
                ..Default::default()
            }),
            resources: Some(TaskSpecResources {
                limits: Some(Limit {
                    nano_cpus: cpus(r.cpu_limit_millis),
                    memory_bytes: signed(r.memory_limit_bytes),
                    ..Default::default()
                }),
                reservations: Some(ResourceObject {
                    nano_cpus: cpus(r.cpu_reservation_millis),
                    memory_bytes: signed(r.memory_reservation_bytes),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(TaskSpecRestartPolicyConditionEnum::ANY),
                delay: Some(nanos(MONITOR)),
                max_attempts: Some(0),
                ..Default::default()
            }),
            placement: (!spec.placement.is_empty()).then(|| TaskSpecPlacement {
                constraints: Some(spec.placement.clone()),
                ..Default::default()
            }),
            networks: Some(vec![NetworkAttachmentConfig {
                target: Some(request.network.clone()),
                aliases: Some(vec![request.alias.clone()]),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(i64::from(request.replicas)),
            }),
            ..Default::default()
        }),
        // One task at a time, the new one started (and healthy) before the old one
        // stops; any failure rolls the whole service back.
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            delay: Some(0),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
            monitor: Some(nanos(MONITOR)),
            max_failure_ratio: Some(0.0),
            order: Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST),
        }),
        rollback_config: Some(ServiceSpecRollbackConfig {
            parallelism: Some(1),
            delay: Some(0),
            failure_action: Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
            monitor: Some(nanos(MONITOR)),
            max_failure_ratio: Some(0.0),
            order: Some(ServiceSpecRollbackConfigOrderEnum::START_FIRST),
        }),
        endpoint_spec: Some(EndpointSpec {
            ports: (!ports.is_empty()).then_some(ports),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Swarm's word for an enum value, or `default` when unset (bollard's `EMPTY`).
fn word<T: std::fmt::Display>(value: Option<T>, default: &str) -> String {
    value
        .map(|v| v.to_string())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| default.into())
}

fn chain_of(e: &bollard::errors::Error) -> String {
    super::docker::chain(e)
}

fn text(e: EngineError) -> String {
    format!("{}: {}", e.what, e.cause)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::canonical::canonical;
    use crate::model::fixtures::{self, FakeDigests};
    use crate::model::{Port, Probe, ProbeAction};

    fn request() -> ServiceRequest {
        let mut service = fixtures::service("web");
        service.ports.push(Port {
            number: 8080,
            protocol: Protocol::Tcp,
            host: Some(18080),
        });
        service.ports.push(Port {
            number: 9090,
            protocol: Protocol::Udp,
            host: None,
        });
        service.resources.memory_limit_bytes = Some(64 << 20);
        service.resources.cpu_reservation_millis = Some(250);
        service.probes.liveness = Some(Probe {
            action: ProbeAction::Exec {
                command: vec!["/berth-demo".into(), "--check".into()],
            },
            initial_delay_seconds: 0,
            period_seconds: 1,
            timeout_seconds: 1,
            success_threshold: 1,
            failure_threshold: 3,
        });
        service.extra_hosts.insert("db".into(), "10.0.0.5".into());
        let mut spec = canonical(&service, "img", &FakeDigests);
        spec.placement = vec!["node.labels.berth.shard==1".into()];
        ServiceRequest {
            name: "p-web".into(),
            spec,
            env: Secret::new(BTreeMap::from([("A".into(), "1".into())])),
            replicas: 2,
            labels: BTreeMap::from([(SPEC_HASH.into(), "v1:x".into())]),
            container_labels: BTreeMap::from([(SPEC_HASH.into(), "v1:x".into())]),
            network: "p-overlay".into(),
            alias: "web".into(),
            secrets: Vec::new(),
            credentials: None,
        }
    }

    #[test]
    fn a_request_becomes_a_rolling_start_first_service() {
        let spec = service_spec(&request(), Vec::new());
        let task = spec.task_template.as_ref().unwrap();
        let container = task.container_spec.as_ref().unwrap();
        assert_eq!(container.env.as_deref(), Some(&["A=1".to_string()][..]));
        assert_eq!(container.hosts.as_deref(), Some(&["10.0.0.5 db".to_string()][..]));
        assert_eq!(
            container.health_check.as_ref().unwrap().test.as_deref(),
            Some(&["CMD".to_string(), "/berth-demo".into(), "--check".into()][..])
        );
        let resources = task.resources.as_ref().unwrap();
        assert_eq!(resources.limits.as_ref().unwrap().memory_bytes, Some(64 << 20));
        assert_eq!(
            resources.reservations.as_ref().unwrap().nano_cpus,
            Some(250_000_000)
        );
        assert_eq!(
            resources_of(resources).cpu_reservation_millis,
            Some(250),
            "reads back as written"
        );
        assert_eq!(
            task.placement.as_ref().unwrap().constraints.as_deref(),
            Some(&["node.labels.berth.shard==1".to_string()][..])
        );
        let update = spec.update_config.as_ref().unwrap();
        assert_eq!(update.order, Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST));
        assert_eq!(
            update.failure_action,
            Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK)
        );
        assert_eq!(replicas_of(&spec), 2);
        // Only ports with a host port are published.
        let ports = spec.endpoint_spec.unwrap().ports.unwrap();
        assert_eq!((ports.len(), ports[0].published_port), (1, Some(18080)));
    }

    #[test]
    fn what_runs_is_read_back_so_that_a_change_by_hand_is_seen() {
        let mut request = request();
        request.spec.env =
            BTreeMap::from([("A".into(), "1".into()), ("PW".into(), "<secret:pw:abc>".into())]);
        request.spec.command = vec!["serve".into()];
        request.env = Secret::new(BTreeMap::from([
            ("A".into(), "1".into()),
            ("PW".into(), "hunter2".into()),
        ]));
        let stored = request.spec.clone();
        let sent = service_spec(&request, Vec::new()).task_template.unwrap();
        assert_eq!(as_running(stored.clone(), &sent), stored, "as berth made it");

        let mut pinned = sent.clone();
        let container = pinned.container_spec.as_mut().unwrap();
        container.image = Some(format!("{}@sha256:0123", stored.image));
        assert_eq!(
            as_running(stored.clone(), &pinned),
            stored,
            "a digest pinned is the same image"
        );

        let mut by_hand = sent.clone();
        let container = by_hand.container_spec.as_mut().unwrap();
        container.env.as_mut().unwrap().push("BY_HAND=1".into());
        container.env.as_mut().unwrap().retain(|kv| !kv.starts_with("A="));
        container.args = Some(vec!["other".into()]);
        container.image = Some("else:2".into());
        by_hand.placement = None;
        let running = as_running(stored.clone(), &by_hand);
        assert_eq!(
            running.env,
            BTreeMap::from([
                ("BY_HAND".into(), "1".into()),
                ("PW".into(), "<secret:pw:abc>".into()),
            ]),
            "the secret's value is never read back"
        );
        assert_eq!(running.command, ["other"]);
        assert_eq!(running.image, "else:2");
        assert!(running.placement.is_empty());
    }

    #[test]
    fn secret_names_are_versioned_and_fit_swarm() {
        let a = secret_name("p", "db_password", "sha256:0123456789abcdef");
        assert_eq!(a, "p-db_password-0123456789ab");
        assert_ne!(a, secret_name("p", "db_password", "sha256:fedcba9876543210"));
        let long = secret_name(&"x".repeat(80), "s", "abcdefabcdefabcdef");
        assert_eq!(long.len(), MAX_NAME);
        assert!(long.ends_with("-abcdefabcdef"), "{long}");
    }
}
