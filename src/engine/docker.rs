//! The Docker engine through bollard: connecting (unix socket, tcp, tcp with TLS),
//! observing one project (a filtered list, concurrent inspects, the images the model
//! names, the project network) and the writes `apply` makes. Only objects that carry this
//! installation's labels are ever read beyond their names, or changed.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, ContainerUpdateBody,
    EndpointSettings, HealthConfig, HostConfig, NetworkCreateRequest, NetworkingConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::{StreamExt, TryStreamExt, stream};

use super::labels::PROJECT;
use super::{Create, Engine, EngineError, Observe, Query};
use crate::diff::{clean, network_name};
use crate::live::{Container, LiveState, RunState};
use crate::model::{Probe, ProbeAction, Resources};

/// The socket Docker listens on when nothing else is said.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How many inspects run at once.
const CONCURRENCY: usize = 32;

/// Seconds a stopping container gets before it is killed.
const STOP_GRACE_SECONDS: i32 = 10;

/// Where the engine is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `unix:///path`, `tcp://host:port`, `http://…` or `https://…`.
    pub host: String,
    /// Client certificate, key and CA for TLS (`DOCKER_TLS_VERIFY`).
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A connected Docker engine.
pub struct Docker {
    client: bollard::Docker,
    address: String,
}

impl Docker {
    /// Connects and agrees on an API version, which also proves the engine answers.
    pub async fn connect(address: &Address) -> Result<Docker, EngineError> {
        // Long enough for a slow `docker stop`; connection failures come back at once.
        const TIMEOUT_SECONDS: u64 = 120;
        let version = bollard::API_DEFAULT_VERSION;
        let host = address.host.as_str();
        let client = match (&address.tls, host.split_once("://")) {
            (Some(tls), _) => bollard::Docker::connect_with_ssl(host, &tls.key, &tls.cert, &tls.ca, TIMEOUT_SECONDS, version),
            (None, Some(("unix", _))) => bollard::Docker::connect_with_unix(host, TIMEOUT_SECONDS, version),
            (None, Some(("tcp" | "http", _))) => bollard::Docker::connect_with_http(host, TIMEOUT_SECONDS, version),
            (None, Some(("https", _))) => {
                return Err(unreachable(host, "https:// needs client certificates: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or engine.tls in berth.yaml".into()));
            }
            _ => {
                return Err(unreachable(host, "unsupported address; use unix://PATH, tcp://HOST:PORT or https://HOST:PORT".into()));
            }
        }
        .map_err(|e| unreachable(host, chain(&e)))?;
        let client = client
            .negotiate_version()
            .await
            .map_err(|e| unreachable(host, chain(&e)))?;
        Ok(Docker {
            client,
            address: host.to_string(),
        })
    }

    fn error(&self, what: impl Into<String>, cause: bollard::errors::Error) -> EngineError {
        EngineError {
            address: self.address.clone(),
            what: what.into(),
            cause: chain(&cause),
        }
    }

    /// Lists containers (stopped ones too) matching one filter.
    async fn list(
        &self,
        key: &str,
        value: String,
    ) -> Result<Vec<bollard::models::ContainerSummary>, EngineError> {
        let filters = HashMap::from([(key, vec![value])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        self.client
            .list_containers(Some(options))
            .await
            .map_err(|e| self.error("cannot list containers", e))
    }

    /// The image ID a reference resolves to, `None` when the image is not present.
    async fn image_id(&self, reference: &str) -> Result<Option<String>, EngineError> {
        match self.client.inspect_image(reference).await {
            Ok(image) => Ok(image.id),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(e) => Err(self.error(format!("cannot inspect image `{reference}`"), e)),
        }
    }

    async fn network_exists(&self, name: &str) -> Result<bool, EngineError> {
        // The name filter matches substrings; the exact name is checked here.
        let filters = HashMap::from([("name", vec![name.to_string()])]);
        let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
        let networks = self
            .client
            .list_networks(Some(options))
            .await
            .map_err(|e| self.error("cannot list networks", e))?;
        Ok(networks.iter().any(|n| n.name.as_deref() == Some(name)))
    }

    /// One owned container, read in full.
    async fn inspect(&self, id: &str) -> Result<Option<ContainerInspectResponse>, EngineError> {
        match self.client.inspect_container(id, None).await {
            Ok(c) => Ok(Some(c)),
            // Removed between the list and the inspect: it is gone.
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(e) => Err(self.error(format!("cannot inspect container {id}"), e)),
        }
    }
}

/// An error with its causes, `outer: inner: innermost`: hyper's outer message alone
/// ("client error (Connect)") does not say that the connection was refused.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

fn unreachable(address: &str, cause: String) -> EngineError {
    EngineError {
        address: address.to_string(),
        what: "cannot reach the Docker engine".into(),
        cause,
    }
}

impl Observe for Docker {
    fn address(&self) -> &str {
        &self.address
    }

    async fn observe(&self, query: &Query<'_>) -> Result<LiveState, EngineError> {
        let identity = query.identity;
        let project = clean(&identity.project);
        // Ours by label; anything else only by a name that could clash with ours.
        let ours = self.list("label", format!("{PROJECT}={}", identity.project));
        let named = self.list("name", format!("^/{}-", project.replace('.', "\\.")));
        let images = stream::iter(query.images.iter())
            .map(|reference| async move {
                Ok::<_, EngineError>((reference.clone(), self.image_id(reference).await?))
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<_>>();
        let network_name = network_name(&identity.project);
        let network = self.network_exists(&network_name);
        let (ours, named, images, network) = futures_util::try_join!(ours, named, images, network)?;

        let owned: Vec<String> = ours
            .iter()
            .filter(|c| c.labels.as_ref().is_some_and(|l| identity.owns(l)))
            .filter_map(|c| c.id.clone())
            .collect();
        let inspected: Vec<Option<ContainerInspectResponse>> = stream::iter(owned.iter())
            .map(|id| self.inspect(id))
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut containers: Vec<Container> = inspected
            .into_iter()
            .flatten()
            .filter_map(|c| owned_container(identity, c))
            .collect();
        for c in ours.iter().chain(&named) {
            let (Some(id), Some(name)) = (&c.id, c.names.as_ref().and_then(|n| n.first())) else {
                continue;
            };
            if containers.iter().any(|known| &known.id == id) {
                continue;
            }
            containers.push(Container {
                id: id.clone(),
                name: name.trim_start_matches('/').to_string(),
                state: RunState::Created,
                owner: None,
            });
        }
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(LiveState {
            containers,
            images: images.into_iter().filter_map(|(r, id)| Some((r, id?))).collect(),
            network,
        })
    }
}

/// An inspected container this installation owns; `None` if its labels are incomplete.
fn owned_container(identity: &super::Identity, c: ContainerInspectResponse) -> Option<Container> {
    let labels = c.config.as_ref()?.labels.as_ref()?;
    let resources = c.host_config.as_ref().map(resources_of).unwrap_or_default();
    let owner = identity.owner(labels, c.image.as_deref().unwrap_or_default(), resources)?;
    let state = match c.state.as_ref().and_then(|s| s.status) {
        Some(ContainerStateStatusEnum::RUNNING) => RunState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => RunState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => RunState::Restarting,
        Some(ContainerStateStatusEnum::EXITED) => RunState::Exited,
        Some(ContainerStateStatusEnum::CREATED) => RunState::Created,
        _ => RunState::Dead,
    };
    Some(Container {
        id: c.id?,
        name: c.name?.trim_start_matches('/').to_string(),
        state,
        owner: Some(owner),
    })
}

/// The resources Docker applies, in the model's units. CPU reservations are CPU shares
/// (1024 per CPU), rounded so that a value berth wrote reads back unchanged.
fn resources_of(h: &HostConfig) -> Resources {
    let positive = |v: Option<i64>| v.filter(|v| *v > 0).map(|v| v as u64);
    Resources {
        cpu_limit_millis: positive(h.nano_cpus).map(|n| n / 1_000_000),
        memory_limit_bytes: positive(h.memory),
        cpu_reservation_millis: positive(h.cpu_shares).map(|s| (s * 1000).div_ceil(1024)),
        memory_reservation_bytes: positive(h.memory_reservation),
        cpuset: h.cpuset_cpus.clone().filter(|s| !s.is_empty()),
    }
}

/// The `docker update` body for `r`; also the resource part of a create.
fn update_body(r: &Resources) -> ContainerUpdateBody {
    let signed = |v: Option<u64>| v.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    ContainerUpdateBody {
        nano_cpus: signed(r.cpu_limit_millis.map(|m| m.saturating_mul(1_000_000))),
        memory: signed(r.memory_limit_bytes),
        // No swap beyond the limit: the limit means what it says, and a later update
        // to a larger limit is not refused for exceeding an old swap limit.
        memory_swap: signed(r.memory_limit_bytes),
        cpu_shares: signed(r.cpu_reservation_millis.map(|m| m * 1024 / 1000)),
        memory_reservation: signed(r.memory_reservation_bytes),
        cpuset_cpus: r.cpuset.clone(),
        ..Default::default()
    }
}

/// A Docker health check for probes Docker can run itself: `exec` ones. HTTP and TCP
/// probes are run by berth from outside, since images need not ship a client.
fn healthcheck(probe: &Probe) -> Option<HealthConfig> {
    let ProbeAction::Exec { command } = &probe.action else {
        return None;
    };
    let nanos = |s: u32| i64::from(s) * 1_000_000_000;
    Some(HealthConfig {
        test: Some(
            std::iter::once("CMD".to_string())
                .chain(command.iter().cloned())
                .collect(),
        ),
        interval: Some(nanos(probe.period_seconds.max(1))),
        timeout: Some(nanos(probe.timeout_seconds.max(1))),
        retries: Some(i64::from(probe.failure_threshold.max(1))),
        start_period: Some(nanos(probe.initial_delay_seconds)),
        ..Default::default()
    })
}

fn create_body(c: &Create) -> ContainerCreateBody {
    let port_key = |p: &crate::model::Port| format!("{}/{}", p.number, p.protocol);
    let bindings: HashMap<String, Option<Vec<PortBinding>>> = c
        .ports
        .iter()
        .filter_map(|p| {
            let host = p.host?;
            Some((
                port_key(p),
                Some(vec![PortBinding {
                    host_ip: None,
                    host_port: Some(host.to_string()),
                }]),
            ))
        })
        .collect();
    let r = update_body(&c.resources);
    let host_config = HostConfig {
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        extra_hosts: (!c.extra_hosts.is_empty())
            .then(|| c.extra_hosts.iter().map(|(h, a)| format!("{h}:{a}")).collect()),
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
            maximum_retry_count: None,
        }),
        network_mode: Some(c.network.clone()),
        nano_cpus: r.nano_cpus,
        memory: r.memory,
        memory_swap: r.memory_swap,
        cpu_shares: r.cpu_shares,
        memory_reservation: r.memory_reservation,
        cpuset_cpus: r.cpuset_cpus,
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(c.image.clone()),
        cmd: (!c.command.is_empty()).then(|| c.command.clone()),
        working_dir: c.working_dir.clone(),
        env: Some(c.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        exposed_ports: (!c.ports.is_empty()).then(|| c.ports.iter().map(port_key).collect()),
        labels: Some(c.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        healthcheck: c.healthcheck.as_ref().and_then(healthcheck),
        host_config: Some(host_config),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                c.network.clone(),
                EndpointSettings {
                    aliases: Some(vec![c.alias.clone()]),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    }
}

impl Engine for Docker {
    async fn create_network(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<(), EngineError> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            labels: Some(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            ..Default::default()
        };
        self.client
            .create_network(request)
            .await
            .map_err(|e| self.error(format!("cannot create network `{name}`"), e))?;
        Ok(())
    }

    async fn create_container(&self, create: &Create) -> Result<String, EngineError> {
        let options = CreateContainerOptionsBuilder::new().name(&create.name).build();
        let created = self
            .client
            .create_container(Some(options), create_body(create))
            .await
            .map_err(|e| self.error(format!("cannot create container `{}`", create.name), e))?;
        Ok(created.id)
    }

    async fn start(&self, id: &str) -> Result<(), EngineError> {
        match self.client.start_container(id, None).await {
            // 304: already running.
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => {
                Ok(())
            }
            Err(e) => Err(self.error(format!("cannot start container {id}"), e)),
        }
    }

    async fn stop(&self, id: &str) -> Result<(), EngineError> {
        let options = StopContainerOptionsBuilder::new().t(STOP_GRACE_SECONDS).build();
        match self.client.stop_container(id, Some(options)).await {
            // 304: already stopped.
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => {
                Ok(())
            }
            Err(e) => Err(self.error(format!("cannot stop container {id}"), e)),
        }
    }

    async fn update(&self, id: &str, resources: &Resources) -> Result<(), EngineError> {
        self.client
            .update_container(id, update_body(resources))
            .await
            .map_err(|e| self.error(format!("cannot update container {id}"), e))
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        // Anonymous volumes stay: berth never removes data.
        let options = RemoveContainerOptionsBuilder::new().force(true).v(false).build();
        match self.client.remove_container(id, Some(options)).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                Ok(())
            }
            Err(e) => Err(self.error(format!("cannot remove container {id}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_read_back_as_written() {
        for millis in [1, 99, 100, 250, 333, 1000, 1500] {
            let r = Resources {
                cpu_limit_millis: Some(millis),
                memory_limit_bytes: Some(64 << 20),
                cpu_reservation_millis: Some(millis),
                memory_reservation_bytes: Some(32 << 20),
                cpuset: Some("0".into()),
            };
            let body = update_body(&r);
            let host = HostConfig {
                nano_cpus: body.nano_cpus,
                memory: body.memory,
                cpu_shares: body.cpu_shares,
                memory_reservation: body.memory_reservation,
                cpuset_cpus: body.cpuset_cpus,
                ..Default::default()
            };
            assert_eq!(resources_of(&host), r, "{millis} millis");
        }
        assert_eq!(resources_of(&HostConfig::default()), Resources::default());
    }
}
