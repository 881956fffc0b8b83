//! The desired state: plain typed data describing what will run, whatever format it was
//! written in. Built by `compile`, read by later stages; no behaviour beyond accessors.
//!
//! Its JSON form (`berth compile --emit model --format json`) is a promised interface,
//! described by `schemas/model.schema.json` and versioned by `FORMAT_VERSION`.

use crate::secret::Secret as Hidden;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use serde::{Deserialize, Serialize};

/// Version of the model's JSON form.
pub const FORMAT_VERSION: &str = "1";

pub mod canonical;
pub mod entry;
#[cfg(test)]
pub mod fixtures;

/// Everything a repository asks to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Model {
    /// Sorted by name.
    pub services: Vec<Service>,
}

/// One service: a container specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// Unique within the model. COSMOS: `SCOPE__USER__NAME` and its kin; Cumulocity: the
    /// manifest name (`name@tenant` for a PER_TENANT instance set); Sesam: the `_id`.
    pub name: String,
    /// Where the service is declared.
    pub origin: Origin,
    /// The image; `None` means the project's default image for this platform.
    pub image: Option<String>,
    /// The argv, run without a shell. Empty means the image's own entrypoint.
    pub command: Vec<String>,
    pub working_dir: Option<String>,
    pub env: BTreeMap<String, Text>,
    pub ports: Vec<Port>,
    /// Secrets by reference: values are resolved only when applying.
    pub secrets: Vec<Secret>,
    /// Files placed in each container before it starts: a COSMOS microservice's folder.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<File>,
    pub state: DesiredState,
    /// How many identical containers run.
    pub replicas: u32,
    pub resources: Resources,
    pub probes: Probes,
    /// Placement constraints for an engine of several nodes (Swarm): a COSMOS `SHARD n`
    /// is `node.labels.berth.shard==n`. A single engine has one node and ignores them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placement: Vec<String>,
    /// Extra `/etc/hosts` entries: host name → address.
    pub extra_hosts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Linux capabilities beyond (or short of) the engine's default set.
    #[serde(skip_serializing_if = "Capabilities::is_default")]
    pub capabilities: Capabilities,
    pub pull: Pull,
    /// How the platform stops the program: the signal it sends, and how long it waits
    /// before killing it (COSMOS: SIGINT, 5 s). `None`: the engine's (SIGTERM, 10 s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Where each field's value came from, keyed by field path (`env.LOG_LEVEL`,
    /// `command`, `ports[0]`), so plans can point at the line that caused a change.
    pub sources: BTreeMap<String, Origin>,
    /// What only the source platform means, kept for fidelity.
    pub platform: Platform,
}

impl Service {
    /// What COSMOS keeps of a MICROSERVICE block; `None` for any other service.
    pub fn cosmos_microservice(&self) -> Option<&CosmosService> {
        match &self.platform {
            Platform::Cosmos(c) if c.kind == CosmosKind::Microservice => Some(c),
            _ => None,
        }
    }

    /// Every secret the service needs: delivered ones, those inside env values, and
    /// those of its registry credentials.
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        let auth = self.pull.auth.iter().flat_map(|a| [&a.username, &a.password]);
        self.secrets
            .iter()
            .map(|s| s.name.as_str())
            .chain(self.env.values().chain(auth).flat_map(Text::secrets))
    }

    /// A service with every field at its default: no image override, the image's own
    /// command, running, one replica, no limits, no probes.
    pub fn new(name: impl Into<String>, origin: Origin, platform: Platform) -> Service {
        Service {
            name: name.into(),
            origin,
            image: None,
            command: Vec::new(),
            working_dir: None,
            env: BTreeMap::new(),
            ports: Vec::new(),
            secrets: Vec::new(),
            files: Vec::new(),
            state: DesiredState::Running,
            replicas: 1,
            resources: Resources::default(),
            probes: Probes::default(),
            placement: Vec::new(),
            extra_hosts: BTreeMap::new(),
            labels: BTreeMap::new(),
            capabilities: Capabilities::default(),
            pull: Pull::default(),
            stop: None,
            sources: BTreeMap::new(),
            platform,
        }
    }
}

/// How a program is stopped: `signal`, then a kill after `grace_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stop {
    pub signal: String,
    pub grace_seconds: u32,
}

/// A file placed in a service's containers before they start, owned by the container's
/// user. Its content is configuration, not a secret: the model's JSON shows its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct File {
    /// An absolute path in the container.
    pub path: String,
    /// Permission bits, shown in octal (`0644`).
    #[serde(serialize_with = "octal")]
    pub mode: u32,
    /// The SHA-256 of the content, in hex.
    pub sha256: String,
    #[serde(skip)]
    pub content: Content,
}

impl File {
    pub fn new(path: String, mode: u32, content: Arc<[u8]>) -> File {
        File {
            path,
            mode,
            sha256: hex::encode(Sha256::digest(&content)),
            content: Content(content),
        }
    }
}

fn octal<S: serde::Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{mode:04o}"))
}

/// A file's bytes, shared between the plugin tree and every service that places them;
/// shown by size only.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Content(pub Arc<[u8]>);

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

/// Text that may embed secret references, resolved only when applying. Its JSON and
/// display form writes a reference as `<secret:NAME>`, so values never leak.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Text(pub Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Piece {
    Literal(String),
    Secret(String),
    /// A secret inside a JSON string literal (a Sesam environment value that is an
    /// object, sent JSON-encoded): its value must be JSON-escaped when it is filled in.
    SecretInJson(String),
    /// A credential written in plain text in the repository (a password field, an env
    /// var named like a secret): used as is, but never shown.
    Sensitive(Hidden<String>),
}

impl Text {
    pub fn literal(s: impl Into<String>) -> Text {
        Text(vec![Piece::Literal(s.into())])
    }

    /// The same text holding a credential: its plain-text parts are never shown.
    pub fn sensitive(self) -> Text {
        Text(
            self.0
                .into_iter()
                .map(|p| match p {
                    Piece::Literal(s) if !s.is_empty() => Piece::Sensitive(Hidden::new(s)),
                    other => other,
                })
                .collect(),
        )
    }

    /// The same text where it is JSON source: its secrets go inside JSON strings.
    pub fn in_json(self) -> Text {
        Text(
            self.0
                .into_iter()
                .map(|p| match p {
                    Piece::Secret(name) => Piece::SecretInJson(name),
                    other => other,
                })
                .collect(),
        )
    }

    /// The secrets this text needs.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Piece::Secret(name) | Piece::SecretInJson(name) => Some(name.as_str()),
            Piece::Literal(_) | Piece::Sensitive(_) => None,
        })
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for piece in &self.0 {
            match piece {
                Piece::Literal(s) => f.write_str(s)?,
                Piece::Secret(name) | Piece::SecretInJson(name) => write!(f, "<secret:{name}>")?,
                Piece::Sensitive(_) => f.write_str("<redacted>")?,
            }
        }
        Ok(())
    }
}

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// CPU in millicores and memory in bytes; `None` is "no limit" / "no reservation".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub cpu_limit_millis: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    pub cpu_reservation_millis: Option<u64>,
    pub memory_reservation_bytes: Option<u64>,
    /// The CPUs the container may run on (`0-3`, `0,4`).
    pub cpuset: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Probes {
    pub liveness: Option<Probe>,
    pub readiness: Option<Probe>,
}

/// A health check, in Kubernetes terms (the shape Cumulocity uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub action: ProbeAction,
    pub initial_delay_seconds: u32,
    pub period_seconds: u32,
    pub timeout_seconds: u32,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProbeAction {
    Http {
        path: String,
        port: u16,
        https: bool,
        headers: BTreeMap<String, String>,
    },
    Tcp {
        port: u16,
    },
    Exec {
        command: Vec<String>,
    },
}

/// Linux capabilities taken from, and given to, the container (`--cap-drop`, `--cap-add`,
/// as Docker names them: `ALL`, `NET_BIND_SERVICE`). Empty: the engine's default set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
}

impl Capabilities {
    /// The engine's default set, changed in nothing.
    pub fn is_default(&self) -> bool {
        self.drop.is_empty() && self.add.is_empty()
    }
}

/// When and how the image is fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pull {
    pub policy: PullPolicy,
    /// A cron expression: check for a newer image on this schedule.
    pub schedule: Option<String>,
    /// Registry credentials for a private image.
    pub auth: Option<RegistryAuth>,
    /// A `docker save` archive to load instead of pulling (a Cumulocity `image.tar`).
    pub archive: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PullPolicy {
    /// Pull when the image is not present.
    #[default]
    Missing,
    /// Pull on every (re)creation.
    Always,
    /// Never pull: the image must be present, loaded or built.
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryAuth {
    pub username: Text,
    pub password: Text,
}

/// Platform facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "platform", rename_all = "lowercase")]
pub enum Platform {
    Cosmos(CosmosService),
    Cumulocity(CumulocityService),
    Sesam(SesamService),
}

/// A position in a source file, 1-based.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    /// Created and started.
    Running,
    /// Created but not started (COSMOS `STOPPED`).
    Stopped,
}

/// A port the container listens on, and the host port it is published on, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Port {
    pub number: u16,
    pub protocol: Protocol,
    pub host: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        })
    }
}

/// A secret the container consumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Secret {
    /// The secret's name in the secret store.
    pub name: String,
    pub delivery: SecretDelivery,
    /// The secret store, when the source names one.
    pub store: Option<String>,
}

/// How the secret reaches the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "as", rename_all = "lowercase")]
pub enum SecretDelivery {
    /// As this environment variable; it wins over a plain env entry of the same name.
    Env { variable: String },
    /// As a read-only file (mode 0444, as Swarm secrets) at this path.
    File { path: String },
}

/// COSMOS facts about a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CosmosService {
    pub kind: CosmosKind,
    pub scope: String,
    /// MICROSERVICE: the `microservices/<folder>/` its files come from. INTERFACE/ROUTER:
    /// the interface class file.
    pub folder: String,
    /// INTERFACE/ROUTER: the parameters passed to the interface class.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub target_names: Vec<String>,
    /// `OPTION` lines, each as its whole parameter list; the values of an option named
    /// like a secret (`OPTION PASSWORD x`) are used but never shown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Vec<Text>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_prefix: Option<String>,
    pub shard: i64,
    pub db_shard: i64,
    /// `None`: ERB on every microservice file; empty: on none; else the regexes of
    /// files it is disabled for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_erb: Option<Vec<String>>,
    /// MICROSERVICE: WORK_DIR as written (COSMOS's `.` when `None`); the service's own
    /// working folder is where it resolves to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work_dir: Option<String>,
    /// MICROSERVICE: the block's own ENV lines, in order (a repeated name keeps its first
    /// place): what its entry in Redis holds. The service's `env` shows them.
    #[serde(skip)]
    pub env: Vec<(String, Text)>,
    /// MICROSERVICE: CONTAINER as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// MICROSERVICE: each SECRET line's parameters as COSMOS stores them (names only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Vec<String>>,
    /// The plugin's folder, relative to the repository (`.` at its root): where COSMOS
    /// names the plugin gem.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub plugin: String,
    /// Whether COSMOS would give the plugin its dependencies (NEEDS_DEPENDENCIES, a
    /// `lib/` folder, a requirements.txt or pyproject.toml).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub needs_dependencies: bool,
}

/// Cumulocity facts about a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CumulocityService {
    pub manifest_name: String,
    pub version: String,
    pub api_version: String,
    pub isolation: String,
    /// The tenant of a PER_TENANT instance set.
    pub tenant: Option<String>,
    pub context_path: Option<String>,
    pub required_roles: Vec<String>,
    pub roles: Vec<String>,
    /// `scale: AUTO` cannot exist on one engine; kept so tools can say so.
    pub autoscale: bool,
}

/// Sesam facts about a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SesamService {
    pub id: String,
    pub use_https: bool,
    pub verify_ssl: bool,
    pub eager_load: bool,
    pub connect_timeout_seconds: u64,
    pub read_timeout_seconds: u64,
    /// HTTP authentication Sesam uses towards the service (`basic`, `digest`).
    pub authentication: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CosmosKind {
    #[default]
    Microservice,
    Interface,
    Router,
}

/// Whether a config key names a secret: its last word (`DEPLOY_TOKEN`, `clientSecret`,
/// `db-password`, `credentials`) is password, passwd, secret, token or credential, or its
/// last two are api key or private key. Words are split at non-alphanumerics and at
/// lower-to-upper case changes; `token_url` or `private_key_id` name no secret.
pub fn looks_secret(key: &str) -> bool {
    let mut words: Vec<String> = Vec::new();
    for part in key.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut word = String::new();
        let mut prev_lower = false;
        for c in part.chars() {
            if c.is_ascii_uppercase() && prev_lower {
                words.push(std::mem::take(&mut word));
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            word.push(c.to_ascii_lowercase());
        }
        if !word.is_empty() {
            words.push(word);
        }
    }
    let Some(last) = words.last() else {
        return false;
    };
    let last = last.strip_suffix('s').unwrap_or(last);
    let before = words.len().checked_sub(2).map(|i| words[i].as_str());
    [
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "apikey",
        "privatekey",
    ]
    .contains(&last)
        || (last == "key" && matches!(before, Some("api" | "private")))
}
