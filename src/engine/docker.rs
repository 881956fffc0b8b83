//! The Docker engine through bollard: connecting (unix socket, tcp, tcp with TLS),
//! observing one project (a filtered list, concurrent inspects, the images the model
//! names, the project network) and the writes `apply` makes. Only objects that carry this
//! installation's labels are ever read beyond their names, or changed.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::exec::StartExecOptions;
use bollard::models::ExecConfig;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, ContainerUpdateBody, EndpointSettings,
    HealthConfig, HostConfig, NetworkCreateRequest, NetworkingConfig, PortBinding, RestartPolicy,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    ImportImageOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RenameContainerOptionsBuilder, StopContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures_util::{StreamExt, TryStreamExt, stream};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;

use super::Readiness;
use super::labels::PROJECT;
use super::naming::{clean, network_name};
use super::{Create, Engine, EngineError, ImageSource, Observe, Query};
use crate::config::Mode;
use crate::live::{Container, EngineFacts, HostPort, LiveState, RunState, Surroundings};
use crate::model::{Probe, ProbeAction, Protocol, Resources};

/// The socket Docker listens on when nothing else is said.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How long berth waits for the engine's answer to one request, unless berth.yaml's
/// `engine.timeout` says: long enough for a slow `docker stop`. Connection failures come
/// back at once.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the first request (agreeing on the API version) may take: an engine that
/// accepts connections and answers nothing is then said at once, not after the timeout.
const HANDSHAKE: Duration = Duration::from_secs(15);

/// How many inspects run at once.
pub(super) const CONCURRENCY: usize = 32;

/// Where the engine is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `unix:///path`, `tcp://host:port`, `http://…` or `https://…`.
    pub host: String,
    /// Client certificate, key and CA for TLS (`DOCKER_TLS_VERIFY`).
    pub tls: Option<TlsFiles>,
    /// How long one request may wait for the engine's answer.
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A connected Docker engine; a clone shares the connection.
#[derive(Clone)]
pub struct Docker {
    pub(super) client: bollard::Docker,
    address: String,
    timeout: Duration,
    /// The shared look at services converging on a swarm.
    pub(super) rounds: std::sync::Arc<super::rounds::Rounds>,
}

impl Docker {
    /// Connects and agrees on an API version (the engine's, when older than bollard's),
    /// which also proves the engine answers.
    pub async fn connect(address: &Address) -> Result<Docker, EngineError> {
        let seconds = address.timeout.as_secs().max(1);
        let host = address.host.as_str();
        let handshake = HANDSHAKE.min(address.timeout);
        let silent = || {
            unreachable(
                host,
                format!(
                    "it took the connection but did not answer within {}s (a dockerd that hangs, or is stopped)",
                    handshake.as_secs()
                ),
            )
        };
        // On a unix socket the docker CLI's way (`/_ping`'s header); elsewhere, or
        // when the ping does not say, bollard's (`/version`).
        let pinged = match (&address.tls, host.strip_prefix("unix://")) {
            (None, Some(path)) => match tokio::time::timeout(handshake, pinged_version(path)).await {
                Ok(Ok(version)) => version,
                Ok(Err(e)) => return Err(unreachable(host, chain(&e))),
                Err(_) => return Err(silent()),
            },
            _ => None,
        };
        let newest = *bollard::API_DEFAULT_VERSION;
        let version = &pinged.map_or(newest, |server| if server < newest { server } else { newest });
        let client = match (&address.tls, host.split_once("://")) {
            (Some(tls), _) => bollard::Docker::connect_with_ssl(host, &tls.key, &tls.cert, &tls.ca, seconds, version),
            (None, Some(("unix", _))) => bollard::Docker::connect_with_unix(host, seconds, version),
            (None, Some(("tcp" | "http", _))) => bollard::Docker::connect_with_http(host, seconds, version),
            (None, Some(("https", _))) => {
                return Err(unreachable(host, "https:// needs client certificates: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or engine.tls in berth.yaml".into()));
            }
            _ => {
                return Err(unreachable(host, "unsupported address; use unix://PATH, tcp://HOST:PORT or https://HOST:PORT".into()));
            }
        }
        .map_err(|e| unreachable(host, chain(&e)))?;
        let client = match pinged {
            Some(_) => client,
            None => match tokio::time::timeout(handshake, client.negotiate_version()).await {
                Ok(Ok(client)) => client,
                Ok(Err(bollard::errors::Error::RequestTimeoutError)) | Err(_) => return Err(silent()),
                Ok(Err(e)) => return Err(unreachable(host, chain(&e))),
            },
        };
        Ok(Docker {
            client,
            address: host.to_string(),
            timeout: address.timeout,
            rounds: Default::default(),
        })
    }

    /// An engine's refusal, or the engine gone: a request that could not be sent, whose
    /// connection broke, or that had no answer in time is the engine not answering any
    /// more (`unreachable`), which stops an apply from starting further steps.
    pub(super) fn error(&self, what: impl Into<String>, cause: bollard::errors::Error) -> EngineError {
        use bollard::errors::Error;
        let gone = match &cause {
            Error::RequestTimeoutError => Some(format!(
                "the engine did not answer within {}s (berth.yaml engine.timeout)",
                self.timeout.as_secs()
            )),
            Error::HyperLegacyError { .. } | Error::IOError { .. } => {
                Some(format!("the engine stopped answering ({})", root_cause(&cause)))
            }
            _ => None,
        };
        EngineError {
            address: self.address.clone(),
            what: what.into(),
            unreachable: gone.is_some(),
            cause: gone.unwrap_or_else(|| chain(&cause)),
        }
    }

    /// Lists containers (stopped ones too) matching one filter.
    pub(super) async fn list(
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

    /// The networks named exactly `name`: (id, labels).
    async fn networks_named(
        &self,
        name: &str,
    ) -> Result<Vec<(String, HashMap<String, String>)>, EngineError> {
        // The name filter matches substrings; the exact name is checked here.
        let filters = HashMap::from([("name", vec![name.to_string()])]);
        let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
        let networks = self
            .client
            .list_networks(Some(options))
            .await
            .map_err(|e| self.error("cannot list networks", e))?;
        Ok(networks
            .into_iter()
            .filter(|n| n.name.as_deref() == Some(name))
            .filter_map(|n| Some((n.id?, n.labels.unwrap_or_default())))
            .collect())
    }

    /// Whether the network the project joins (`joined`) exists, and whether berth's own
    /// network of the project (`own`, the same one unless berth.yaml names an external
    /// network) exists with berth's labels of `identity`.
    pub(super) async fn networks(
        &self,
        joined: &str,
        own: &str,
        identity: &super::Identity,
    ) -> Result<(bool, bool), EngineError> {
        let owned = |found: &[(String, HashMap<String, String>)]| found.iter().any(|(_, l)| identity.owns(l));
        let found = self.networks_named(joined).await?;
        let exists = !found.is_empty();
        if joined == own {
            return Ok((exists, owned(&found)));
        }
        Ok((exists, owned(&self.networks_named(own).await?)))
    }

    /// The last lines a container printed, for a failure report.
    async fn last_lines(&self, id: &str) -> String {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail("5")
            .build();
        let lines: Vec<String> = self
            .client
            .logs(id, Some(options))
            .filter_map(|l| async move { l.ok().map(|l| l.to_string().trim_end().to_string()) })
            .collect()
            .await;
        if lines.is_empty() {
            String::new()
        } else {
            format!("; its last lines: {}", lines.join(" | "))
        }
    }

    /// Why a container that should be running is not, or `None` if it runs.
    async fn not_running(&self, id: &str, c: &ContainerInspectResponse) -> Option<String> {
        let state = c.state.as_ref();
        if state.and_then(|s| s.running) == Some(true)
            && state.and_then(|s| s.restarting) != Some(true)
            && c.restart_count.unwrap_or(0) == 0
        {
            return None;
        }
        // Restarted by its restart policy and running again, the engine has reset the
        // exit code. A crash loop exits again soon: wait briefly for that exit, whose
        // code and last lines say why.
        let mut c = c.clone();
        for _ in 0..20 {
            let state = c.state.as_ref();
            if state.and_then(|s| s.running) != Some(true) || state.and_then(|s| s.restarting) == Some(true) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            match self.inspect(id).await {
                Ok(Some(again)) => c = again,
                _ => break,
            }
        }
        let state = c.state.as_ref();
        let restarts = c.restart_count.unwrap_or(0);
        let what = if state.and_then(|s| s.running) == Some(true)
            && state.and_then(|s| s.restarting) != Some(true)
        {
            format!("it exited and the engine restarted it {restarts} time(s)")
        } else {
            let code = state.and_then(|s| s.exit_code).unwrap_or_default();
            format!("it exited (code {code}, {restarts} restart(s))")
        };
        Some(format!("{what}{}", self.last_lines(id).await))
    }

    /// One run of a probe against a running container.
    async fn probe_once(&self, id: &str, c: &ContainerInspectResponse, probe: &Probe) -> Result<(), String> {
        let address = c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .and_then(|n| {
                n.values()
                    .find_map(|e| e.ip_address.clone().filter(|ip| !ip.is_empty()))
            })
            .ok_or("the container has no network address")?;
        match &probe.action {
            ProbeAction::Tcp { port } => {
                tokio::net::TcpStream::connect((address.as_str(), *port))
                    .await
                    .map_err(|e| format!("tcp {address}:{port}: {e}"))?;
                Ok(())
            }
            ProbeAction::Http {
                path,
                port,
                https,
                headers,
            } => {
                if *https {
                    return Err("https probes are not supported; use http or tcp".into());
                }
                http_get(&address, *port, path, headers).await
            }
            ProbeAction::Exec { command } => self.exec(id, command).await,
        }
    }

    /// Runs a command in the container; success is exit code 0.
    async fn exec(&self, id: &str, command: &[String]) -> Result<(), String> {
        let config = ExecConfig {
            cmd: Some(command.to_vec()),
            ..Default::default()
        };
        let exec = self.client.create_exec(id, config).await.map_err(|e| chain(&e))?;
        let detached = StartExecOptions {
            detach: true,
            ..Default::default()
        };
        self.client
            .start_exec(&exec.id, Some(detached))
            .await
            .map_err(|e| chain(&e))?;
        loop {
            let run = self.client.inspect_exec(&exec.id).await.map_err(|e| chain(&e))?;
            if run.running != Some(true) {
                return match run.exit_code {
                    Some(0) => Ok(()),
                    code => Err(format!(
                        "`{}` exited with {}",
                        command.join(" "),
                        code.unwrap_or(-1)
                    )),
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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
pub(super) fn chain(e: &dyn std::error::Error) -> String {
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

/// The innermost cause: `No such file or directory (os error 2)`, without the layers of
/// client errors around it.
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut innermost = e;
    while let Some(next) = innermost.source() {
        innermost = next;
    }
    innermost.to_string()
}

fn unreachable(address: &str, cause: String) -> EngineError {
    EngineError {
        address: address.to_string(),
        what: "cannot reach the Docker engine".into(),
        cause,
        unreachable: true,
    }
}

impl Observe for Docker {
    fn address(&self) -> &str {
        &self.address
    }

    async fn inspect_containers(
        &self,
        identity: &super::Identity,
        ids: &[String],
    ) -> Result<Vec<Container>, EngineError> {
        let inspected: Vec<Option<ContainerInspectResponse>> = stream::iter(ids)
            .map(|id| self.inspect(id))
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(inspected
            .into_iter()
            .flatten()
            .filter_map(|c| owned_container(identity, c))
            .collect())
    }

    async fn image_id(&self, reference: &str) -> Result<Option<String>, EngineError> {
        match self.client.inspect_image(reference).await {
            Ok(image) => Ok(image.id),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(e) => Err(self.error(format!("cannot inspect image `{reference}`"), e)),
        }
    }

    async fn observe(&self, query: &Query<'_>) -> Result<LiveState, EngineError> {
        if query.mode == Mode::Swarm {
            return self.observe_swarm(query).await;
        }
        let identity = query.identity;
        // Ours by label: a plan that changes nothing needs no more of the engine.
        let ours = self.list("label", format!("{PROJECT}={}", identity.project));
        let own = network_name(&identity.project, Mode::Docker);
        let network = self.networks(&query.network, &own, identity);
        let (ours, network) = futures_util::try_join!(ours, network)?;

        let owned: Vec<Container> = if query.inspect_all {
            let ids: Vec<String> = ours
                .iter()
                .filter(|c| c.labels.as_ref().is_some_and(|l| identity.owns(l)))
                .filter_map(|c| c.id.clone())
                .collect();
            self.inspect_containers(identity, &ids).await?
        } else {
            ours.iter()
                .filter_map(|c| listed_container(identity, c))
                .collect()
        };
        // The project's containers another installation made are others too.
        let others = ours.iter().filter_map(id_and_name);
        let foreign = ours
            .iter()
            .filter(|c| c.labels.as_ref().is_some_and(|l| identity.foreign(l)))
            .filter_map(id_and_name)
            .map(|(_, name)| name)
            .collect();
        Ok(LiveState {
            foreign,
            containers: Container::with_others(owned, others),
            images: BTreeMap::new(),
            network: network.0,
            own_network: network.1,
            nodes: Vec::new(),
            swarm_nodes: Vec::new(),
            engine: None,
            published: Vec::new(),
            bound: Vec::new(),
            cosmos: None,
        })
    }

    async fn surroundings(&self, query: &Query<'_>) -> Result<Surroundings, EngineError> {
        if query.mode == Mode::Swarm {
            return Ok(Surroundings::default()); // observed with the rest
        }
        // Anything else only by a name that could clash with the project's.
        let project = clean(&query.identity.project);
        let named = self.list("name", format!("^/{}-", project.replace('.', "\\.")));
        let published = self.published(&query.host_ports);
        let (named, facts, published) = futures_util::try_join!(named, self.facts(), published)?;
        Ok(Surroundings {
            others: named.iter().filter_map(id_and_name).collect(),
            engine: Some(facts),
            bound: self.bound(&query.host_ports, &published),
            published,
        })
    }
}

/// A listed container's ID and name.
fn id_and_name(c: &ContainerSummary) -> Option<(String, String)> {
    let name = c.names.as_ref()?.first()?.trim_start_matches('/').to_string();
    Some((c.id.clone()?, name))
}

impl Docker {
    /// The engine's CPUs, memory and API version (`docker info`).
    async fn facts(&self) -> Result<EngineFacts, EngineError> {
        let info = self
            .client
            .info()
            .await
            .map_err(|e| self.error("cannot read the engine's info", e))?;
        Ok(EngineFacts {
            cpu_millis: positive(info.ncpu).map(|n| n * 1000),
            memory_bytes: positive(info.mem_total),
            api_version: self.client.client_version().to_string(),
        })
    }

    /// The running containers that publish any of `ports` on the host, whoever owns them.
    async fn published(&self, ports: &[(u16, Protocol)]) -> Result<Vec<HostPort>, EngineError> {
        if ports.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<String> = ports
            .iter()
            .map(|(port, protocol)| format!("{port}/{protocol}"))
            .collect();
        let filters = HashMap::from([("publish", wanted)]);
        let options = ListContainersOptionsBuilder::new().filters(&filters).build();
        let containers = self
            .client
            .list_containers(Some(options))
            .await
            .map_err(|e| self.error("cannot list containers", e))?;
        let mut out = Vec::new();
        for c in containers {
            let name = c
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/').to_string());
            for p in c.ports.iter().flatten() {
                let protocol = match p.typ {
                    Some(bollard::models::PortSummaryTypeEnum::UDP) => Protocol::Udp,
                    Some(bollard::models::PortSummaryTypeEnum::SCTP) => Protocol::Sctp,
                    _ => Protocol::Tcp,
                };
                let Some(port) = p.public_port else { continue };
                if ports.contains(&(port, protocol)) {
                    out.push(HostPort {
                        port,
                        protocol,
                        id: c.id.clone().unwrap_or_default(),
                        name: name.clone().unwrap_or_default(),
                    });
                }
            }
        }
        out.sort();
        out.dedup_by(|a, b| (a.port, a.protocol, &a.id) == (b.port, b.protocol, &b.id));
        Ok(out)
    }

    /// On an engine on this machine (a unix socket), the ports of `ports` that no
    /// container publishes and that another process holds: read from the kernel's socket
    /// tables (`/proc/net/{tcp,tcp6,udp,udp6}`), never by binding, so that a plan
    /// changes nothing on the host either.
    fn bound(&self, ports: &[(u16, Protocol)], published: &[HostPort]) -> Vec<(u16, Protocol)> {
        // Reading the tables walks every socket on the host: only when a port is asked for.
        if ports.is_empty() || !self.address.starts_with("unix://") {
            return Vec::new();
        }
        let held = |tables: [&str; 2], state: Option<&str>| -> Vec<u16> {
            tables
                .iter()
                .filter_map(|t| std::fs::read_to_string(t).ok())
                .flat_map(|text| listening(&text, state))
                .collect()
        };
        let tcp = held(["/proc/net/tcp", "/proc/net/tcp6"], Some("0A"));
        let udp = held(["/proc/net/udp", "/proc/net/udp6"], None);
        ports
            .iter()
            .filter(|(port, protocol)| {
                !published
                    .iter()
                    .any(|p| p.port == *port && p.protocol == *protocol)
            })
            .filter(|(port, protocol)| match protocol {
                Protocol::Tcp => tcp.contains(port),
                Protocol::Udp => udp.contains(port),
                Protocol::Sctp => false,
            })
            .copied()
            .collect()
    }
}

/// The local ports of a `/proc/net/{tcp,udp}` table's sockets, those in `state` only
/// (`0A`: listening) when given. Each line: `sl local_address rem_address st ...`, the
/// address as `HEXIP:HEXPORT`.
fn listening(table: &str, state: Option<&str>) -> Vec<u16> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace().skip(1);
            let local = fields.next()?;
            let st = fields.nth(1)?;
            if state.is_some_and(|s| s != st) {
                return None;
            }
            u16::from_str_radix(local.rsplit(':').next()?, 16).ok()
        })
        .collect()
}

/// A count or size the engine reports; zero or less means it did not say.
pub(super) fn positive(v: Option<i64>) -> Option<u64> {
    v.and_then(|v| u64::try_from(v).ok()).filter(|v| *v > 0)
}

/// Registry credentials (user, password) as the engine takes them.
pub(super) fn registry_auth((user, password): &super::Credentials) -> DockerCredentials {
    DockerCredentials {
        username: Some(user.clone()),
        password: Some(password.expose().clone()),
        ..Default::default()
    }
}

/// A listed container this installation owns, as its labels say it was made: its
/// resources are its spec label's (what it was created with), and its restarts unknown.
fn listed_container(identity: &super::Identity, c: &ContainerSummary) -> Option<Container> {
    let labels = c.labels.as_ref()?;
    let mut owner = identity.owner(
        labels,
        c.image_id.as_deref().unwrap_or_default(),
        Resources::default(),
    )?;
    owner.resources = owner
        .spec
        .as_ref()
        .map(|s| s.resources.clone())
        .unwrap_or_default();
    Some(Container {
        id: c.id.clone()?,
        name: c.names.as_ref()?.first()?.trim_start_matches('/').to_string(),
        state: run_state(c.state),
        restarts: 0,
        owner: Some(owner),
        swarm: None,
    })
}

/// A container's state in the engine's word for it, which a listing and an inspect
/// share (`running`, `exited`, …); one being removed (or unknown) is dead to berth.
fn run_state(word: Option<impl std::fmt::Display>) -> RunState {
    match word.map(|w| w.to_string()).as_deref() {
        Some("running") => RunState::Running,
        Some("paused") => RunState::Paused,
        Some("restarting") => RunState::Restarting,
        Some("exited") => RunState::Exited,
        Some("created") => RunState::Created,
        _ => RunState::Dead,
    }
}

/// An inspected container this installation owns; `None` if its labels are incomplete.
fn owned_container(identity: &super::Identity, c: ContainerInspectResponse) -> Option<Container> {
    let labels = c.config.as_ref()?.labels.as_ref()?;
    let resources = c.host_config.as_ref().map(resources_of).unwrap_or_default();
    let owner = identity.owner(labels, c.image.as_deref().unwrap_or_default(), resources)?;
    let state = run_state(c.state.as_ref().and_then(|s| s.status));
    Some(Container {
        id: c.id?,
        name: c.name?.trim_start_matches('/').to_string(),
        state,
        restarts: c
            .restart_count
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        owner: Some(owner),
        swarm: None,
    })
}

/// The resources Docker applies, in the model's units. CPU reservations are CPU shares
/// (1024 per CPU), rounded so that a value berth wrote reads back unchanged.
fn resources_of(h: &HostConfig) -> Resources {
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
pub(super) fn healthcheck(probe: &Probe) -> Option<HealthConfig> {
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
        cap_drop: (!c.capabilities.drop.is_empty()).then(|| c.capabilities.drop.clone()),
        cap_add: (!c.capabilities.add.is_empty()).then(|| c.capabilities.add.clone()),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(c.image.clone()),
        cmd: (!c.command.is_empty()).then(|| c.command.clone()),
        // Only an absolute working folder means something to the engine; otherwise the
        // image's own holds (the front ends resolve COSMOS's relative WORK_DIR).
        working_dir: c.working_dir.clone().filter(|w| w.starts_with('/')),
        stop_signal: c.stop.as_ref().map(|s| s.signal.clone()),
        stop_timeout: c.stop.as_ref().map(|s| i64::from(s.grace_seconds)),
        env: Some(c.env.expose().iter().map(|(k, v)| format!("{k}={v}")).collect()),
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

/// A change berth did not necessarily make to one of a project's containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    /// `die`, `destroy`, `update`, `pause`, `oom` or `rename`.
    pub action: String,
    pub container: String,
    pub service: String,
}

impl Docker {
    /// The engine's events for this installation's containers of one project that can
    /// mean drift: a container died (stopped, killed or crashed), was removed, updated,
    /// paused, renamed or ran out of memory. The stream ends when the connection does.
    pub fn events(
        &self,
        identity: &super::Identity,
    ) -> impl futures_util::Stream<Item = Result<ContainerEvent, EngineError>> + use<'_> {
        use super::labels::{MANAGED_BY, SERVICE};
        let labels = vec![
            format!("{MANAGED_BY}={}", identity.installation),
            format!("{PROJECT}={}", identity.project),
        ];
        let actions = ["die", "destroy", "update", "pause", "oom", "rename"].map(String::from);
        let filters = HashMap::from([
            ("type", vec!["container".to_string()]),
            ("label", labels),
            ("event", actions.to_vec()),
        ]);
        let options = bollard::query_parameters::EventsOptionsBuilder::new()
            .filters(&filters)
            .build();
        self.client.events(Some(options)).map(move |item| {
            let message = item.map_err(|e| self.error("lost the engine's event stream", e))?;
            let actor = message.actor.unwrap_or_default();
            let attributes = actor.attributes.unwrap_or_default();
            Ok(ContainerEvent {
                action: message.action.unwrap_or_default(),
                container: attributes.get("name").cloned().unwrap_or_default(),
                service: attributes.get(SERVICE).cloned().unwrap_or_default(),
            })
        })
    }
}

impl Docker {
    /// Drains an image operation's progress stream; the first error in it is the result.
    async fn drain<T>(
        &self,
        what: String,
        stream: impl futures_util::Stream<Item = Result<T, bollard::errors::Error>>,
        error_of: impl Fn(&T) -> Option<String>,
    ) -> Result<(), EngineError> {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            let item = item.map_err(|e| self.error(what.clone(), e))?;
            if let Some(cause) = error_of(&item) {
                return Err(EngineError {
                    address: self.address.clone(),
                    what,
                    cause,
                    unreachable: false,
                });
            }
        }
        Ok(())
    }
}

impl Docker {
    /// Creates a network with `driver` (`bridge`; `overlay`, attachable, on a swarm).
    pub(super) async fn create_network_of(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        driver: &str,
    ) -> Result<(), EngineError> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some(driver.into()),
            attachable: (driver == "overlay").then_some(true),
            labels: Some(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            ..Default::default()
        };

        self.client.create_network(request).await.map_err(|e| {
            let mut e = self.error(format!("cannot create network `{name}`"), e);
            // Each bridge network takes a subnet from the engine's pools: with the default
            // pools about 30 fit (RUNTIME.md D3). Nothing of the project exists yet.
            if e.cause.contains("non-overlapping") && e.cause.contains("address pool") {
                e.what = format!(
                    "cannot create network `{name}`: the engine's address pools are used up (the default pools hold about 30 networks); remove networks no longer used (`docker network ls`, `docker network rm`), or give the engine more pools (`default-address-pools` in daemon.json); nothing of the project was created"
                );
            }
            e
        })?;
        // Engines before API 1.44 allow two networks of one name, and a killed apply's
        // request can still be creating one: keep one of ours (the same one whoever
        // looks: the smallest ID), so that containers can name it unambiguously.
        let mut ours: Vec<String> = self
            .networks_named(name)
            .await?
            .into_iter()
            .filter(|(_, l)| l.get(super::labels::MANAGED_BY) == labels.get(super::labels::MANAGED_BY))
            .map(|(id, _)| id)
            .collect();
        ours.sort();
        for extra in ours.iter().skip(1) {
            // Already gone, or in use by a container of the other creator: both fine.
            let _ = self.client.remove_network(extra).await;
        }
        Ok(())
    }
}

impl Engine for Docker {
    async fn provide_image(&self, source: &ImageSource) -> Result<(), EngineError> {
        let io = |what: String, e: std::io::Error| EngineError {
            address: self.address.clone(),
            what,
            cause: e.to_string(),
            unreachable: false,
        };
        let build_error =
            |i: &bollard::models::BuildInfo| i.error_detail.as_ref().and_then(|d| d.message.clone());
        match source {
            ImageSource::Load { archive } => {
                let what = format!("cannot load image archive {}", archive.display());
                let bytes = std::fs::read(archive).map_err(|e| io(what.clone(), e))?;
                let options = ImportImageOptionsBuilder::new().quiet(true).build();
                self.drain(
                    what,
                    self.client
                        .import_image(options, bollard::body_full(bytes.into()), None),
                    build_error,
                )
                .await
            }
            ImageSource::Build {
                tag,
                context,
                dockerfile,
                args,
            } => {
                let what = format!("cannot build `{tag}` from {}", context.display());
                let mut archive = tar::Builder::new(Vec::new());
                archive.follow_symlinks(false);
                archive
                    .append_dir_all(".", context)
                    .map_err(|e| io(what.clone(), e))?;
                let bytes = archive.into_inner().map_err(|e| io(what.clone(), e))?;
                let args: HashMap<&str, &str> = args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let options = BuildImageOptionsBuilder::new()
                    .t(tag)
                    .dockerfile(dockerfile)
                    .buildargs(&args)
                    .rm(true)
                    .build();
                self.drain(
                    what,
                    self.client
                        .build_image(options, None, Some(bollard::body_full(bytes.into()))),
                    build_error,
                )
                .await
            }
            ImageSource::Pull {
                reference,
                credentials,
            } => {
                let options = CreateImageOptionsBuilder::new().from_image(reference).build();
                let credentials = credentials.as_ref().map(registry_auth);
                let error = |i: &bollard::models::CreateImageInfo| {
                    i.error_detail.as_ref().and_then(|d| d.message.clone())
                };
                self.drain(
                    format!("cannot pull `{reference}`"),
                    self.client.create_image(Some(options), None, credentials),
                    error,
                )
                .await
            }
        }
    }

    async fn create_network(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<(), EngineError> {
        self.create_network_of(name, labels, "bridge").await
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
        // The container's own grace (its StopTimeout) unless it has none.
        let options = StopContainerOptionsBuilder::new().build();
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

    async fn rename(&self, id: &str, name: &str) -> Result<(), EngineError> {
        let options = RenameContainerOptionsBuilder::new().name(name).build();
        self.client
            .rename_container(id, options)
            .await
            .map_err(|e| self.error(format!("cannot rename container {id} to `{name}`"), e))
    }

    async fn put_file(&self, id: &str, path: &str, content: &[u8]) -> Result<(), EngineError> {
        let io = |e: std::io::Error| EngineError {
            address: self.address.clone(),
            what: format!("cannot pack `{path}`"),
            cause: e.to_string(),
            unreachable: false,
        };
        let mut archive = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o444);
        header.set_uid(0);
        header.set_gid(0);
        archive
            .append_data(&mut header, path.trim_start_matches('/'), content)
            .map_err(io)?;
        let bytes = archive.into_inner().map_err(io)?;
        let options = UploadToContainerOptionsBuilder::new().path("/").build();
        self.client
            .upload_to_container(id, Some(options), bollard::body_full(bytes.into()))
            .await
            .map_err(|e| self.error(format!("cannot place `{path}` in container {id}"), e))
    }

    async fn put_files(&self, id: &str, files: &[crate::model::File]) -> Result<(), EngineError> {
        let io = |e: std::io::Error| EngineError {
            address: self.address.clone(),
            what: "cannot pack the service's files".into(),
            cause: e.to_string(),
            unreachable: false,
        };
        let bytes = folder_archive(files).map_err(io)?;
        // The daemon gives every entry to the container's user (`docker cp -a`).
        let options = UploadToContainerOptionsBuilder::new()
            .path("/")
            .copy_uidgid("1")
            .build();
        self.client
            .upload_to_container(id, Some(options), bollard::body_full(bytes.into()))
            .await
            .map_err(|e| self.error(format!("cannot place the service's files in container {id}"), e))
    }

    async fn wait_ready(&self, id: &str, readiness: &Readiness) -> Result<(), String> {
        let inspect = || async {
            match self.inspect(id).await {
                Ok(Some(c)) => Ok(c),
                Ok(None) => Err("the container disappeared".to_string()),
                Err(e) => Err(format!("{}: {}", e.what, e.cause)),
            }
        };
        match readiness {
            Readiness::StaysUp(time) => {
                tokio::time::sleep(*time).await;
                let c = inspect().await?;
                match self.not_running(id, &c).await {
                    None => Ok(()),
                    Some(why) => Err(format!("did not stay up for {}s: {why}", time.as_secs_f32())),
                }
            }
            Readiness::Probe(probe) => {
                tokio::time::sleep(Duration::from_secs(probe.initial_delay_seconds.into())).await;
                let (mut passed, mut failed) = (0, 0);
                loop {
                    let c = inspect().await?;
                    if let Some(why) = self.not_running(id, &c).await {
                        return Err(why);
                    }
                    let timeout = Duration::from_secs(probe.timeout_seconds.max(1).into());
                    let result = match tokio::time::timeout(timeout, self.probe_once(id, &c, probe)).await {
                        Ok(result) => result,
                        Err(_) => Err(format!("no answer within {}s", timeout.as_secs())),
                    };
                    match result {
                        Ok(()) => {
                            passed += 1;
                            failed = 0;
                            if passed >= probe.success_threshold.max(1) {
                                return Ok(());
                            }
                        }
                        Err(e) => {
                            passed = 0;
                            failed += 1;
                            if failed >= probe.failure_threshold.max(1) {
                                return Err(format!(
                                    "its probe failed {failed} time(s): {e}{}",
                                    self.last_lines(id).await
                                ));
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(probe.period_seconds.max(1).into())).await;
                }
            }
        }
    }

    async fn remove_network(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<(), EngineError> {
        let owner = [super::labels::MANAGED_BY, PROJECT];
        for (id, found) in self.networks_named(name).await? {
            if owner.iter().any(|k| found.get(*k) != labels.get(*k)) {
                continue;
            }
            // A container (or a removed Swarm service's task) just removed can hold its
            // endpoint a moment longer: the engine answers 403 until it lets go.
            let mut tries = 0;
            loop {
                match self.client.remove_network(&id).await {
                    Ok(())
                    | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                        break;
                    }
                    Err(bollard::errors::Error::DockerResponseServerError { status_code: 403, .. })
                        if tries < 20 =>
                    {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    Err(e) => return Err(self.error(format!("cannot remove network `{name}`"), e)),
                }
            }
        }
        Ok(())
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

/// `GET path` over HTTP/1.1; success is a 2xx or 3xx status, as Kubernetes counts it.
async fn http_get(
    address: &str,
    port: u16,
    path: &str,
    headers: &BTreeMap<String, String>,
) -> Result<(), String> {
    let status = http_request("GET", address, port, path, headers).await?;
    if status.is_success() || status.is_redirection() {
        Ok(())
    } else {
        Err(format!("GET http://{address}:{port}{path}: {status}"))
    }
}

/// The API version of the engine behind the unix socket `path`, from the `Api-Version`
/// header of its answer to `GET /_ping`, as the docker CLI reads it: bollard asks
/// `/version`, which dockerd answers only after asking containerd and runc for theirs
/// (measured here: 8 ms against 1 ms, on every berth command). `None` when the
/// answer does not say; an error when nothing answers.
async fn pinged_version(path: &str) -> Result<Option<bollard::ClientVersion>, std::io::Error> {
    let stream = tokio::net::UnixStream::connect(path).await?;
    let Ok((mut sender, connection)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return Ok(None);
    };
    tokio::spawn(connection);
    let request = hyper::Request::get("/_ping")
        .header("host", "docker")
        .body(Empty::<bytes::Bytes>::new())
        .expect("a valid request");
    let Ok(response) = sender.send_request(request).await else {
        return Ok(None);
    };
    let version = response
        .headers()
        .get("api-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once('.'))
        .and_then(|(major, minor)| {
            Some(bollard::ClientVersion {
                major_version: major.parse().ok()?,
                minor_version: minor.parse().ok()?,
            })
        });
    Ok(version)
}

/// One HTTP/1.1 request without a body; the response's status, or why there is none.
pub async fn http_request(
    method: &str,
    address: &str,
    port: u16,
    path: &str,
    headers: &BTreeMap<String, String>,
) -> Result<hyper::StatusCode, String> {
    let fail = |e: &dyn std::error::Error| format!("{method} http://{address}:{port}{path}: {}", chain(e));
    let stream = tokio::net::TcpStream::connect((address, port))
        .await
        .map_err(|e| fail(&e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| fail(&e))?;
    tokio::spawn(connection);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("{address}:{port}"));
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let request = request.body(Empty::<bytes::Bytes>::new()).map_err(|e| fail(&e))?;
    let response = sender.send_request(request).await.map_err(|e| fail(&e))?;
    Ok(response.status())
}

/// A tar of `files` with the folders they sit in below `/tmp/<folder>/` (that one
/// included): those are the program's, made for it. Folders above them, and those of a
/// file elsewhere, are the image's and keep their owner.
fn folder_archive(files: &[crate::model::File]) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    let mut folders = std::collections::BTreeSet::new();
    for file in files {
        let path = file.path.trim_start_matches('/');
        let parts: Vec<&str> = path.split('/').collect();
        let owned_from = if parts[0] == "tmp" { 2 } else { parts.len() };
        for depth in owned_from..parts.len() {
            let folder = parts[..depth].join("/");
            if folders.insert(folder.clone()) {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                header.set_mode(0o755);
                archive.append_data(&mut header, format!("{folder}/"), std::io::empty())?;
            }
        }
        let mut header = tar::Header::new_gnu();
        header.set_size(file.content.0.len() as u64);
        header.set_mode(file.mode);
        archive.append_data(&mut header, path, &file.content.0[..])?;
    }
    archive.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_ports_from_the_kernels_tables() {
        let tcp =
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:0050 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
";
        assert_eq!(listening(tcp, Some("0A")), [8080], "port 80 is only a connection");
        assert_eq!(listening(tcp, None), [8080, 80]);
        let tcp6 = "  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:1BB9 00000000000000000000000000000000:0000 0A 00000000:00000000
";
        assert_eq!(listening(tcp6, Some("0A")), [7097]);
    }

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
