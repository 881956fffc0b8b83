//! The desired state: plain typed data describing what will run, whatever format it was
//! written in. Built by `compile`, read by later stages; no behaviour beyond accessors.
//!
//! Its JSON form (`berth compile --emit model --format json`) is a promised interface,
//! described by `schemas/model.schema.json` and versioned by `FORMAT_VERSION`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Version of the model's JSON form.
pub const FORMAT_VERSION: &str = "1";

/// Everything a repository asks to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Model {
    /// Sorted by name.
    pub services: Vec<Service>,
}

/// One service: a container specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// Unique within the model. For COSMOS: `SCOPE__USER__NAME` and its kin.
    pub name: String,
    /// Where the service is declared.
    pub origin: Origin,
    /// The image; `None` means the project's default image for this platform.
    pub image: Option<String>,
    /// The argv, run without a shell. Empty means the image's own entrypoint.
    pub command: Vec<String>,
    pub working_dir: Option<String>,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<Port>,
    /// Secrets by reference: values are resolved only when applying.
    pub secrets: Vec<Secret>,
    pub state: DesiredState,
    /// Where each field's value came from, keyed by field path (`env.LOG_LEVEL`,
    /// `command`, `ports[0]`), so plans can point at the line that caused a change.
    pub sources: BTreeMap<String, Origin>,
    /// What only COSMOS means, kept for fidelity and for COSMOS-aware tooling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cosmos: Option<CosmosService>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Port {
    pub number: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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
    /// As a read-only file (mode 0400) at this path.
    File { path: String },
}

/// COSMOS facts about a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// `OPTION` lines, each as its whole parameter list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_prefix: Option<String>,
    pub shard: i64,
    pub db_shard: i64,
    /// `None`: ERB on every microservice file; empty: on none; else the regexes of
    /// files it is disabled for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_erb: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CosmosKind {
    Microservice,
    Interface,
    Router,
}
