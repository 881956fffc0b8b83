//! `berth.yaml`, the project file: its typed form and how it is read (YAML, then the
//! schema `schemas/berth.schema.json`, then these types). Every section is optional; a
//! repository without the file gets `Config::default()`. Pure: the caller reads the file.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};

use crate::model::Origin;
use crate::parse::yaml;
use crate::problem::Problem;
use crate::source::SourceFile;
use crate::validate::{Schema, validate};

/// The project file. Field meanings are documented in the schema.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub project: Option<String>,
    pub engine: Engine,
    pub discovery: Discovery,
    pub cosmos: Cosmos,
    pub cumulocity: Cumulocity,
    pub sesam: Sesam,
    /// Values for `@name@` build placeholders.
    #[serde(deserialize_with = "scalar_map")]
    pub vars: BTreeMap<String, String>,
    /// Values for Sesam `$ENV(name)`, over the Sesam env file.
    pub env: BTreeMap<String, serde_json::Value>,
    pub secrets: Secrets,
    pub images: Vec<ImageRule>,
    pub prune: bool,
    pub drift: Drift,
    pub webhooks: Webhooks,
    pub lint: Lint,
    pub network: Network,
    pub history: History,
    /// Where berth's events go.
    pub notify: Vec<Notify>,
}

/// An endpoint that gets berth's events: a JSON POST to a URL (schemas/event.schema.json).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    pub webhook: String,
    /// `$SECRET(name)`: the key the body is signed with (HMAC-SHA256).
    #[serde(default)]
    pub secret: Option<String>,
    /// Only these events; every event when empty.
    #[serde(default)]
    pub events: Vec<String>,
}

/// How much of the journal is kept: `berth history` lists it, `berth rollback --steps`
/// reaches back through it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct History {
    /// Applies kept per project.
    pub keep: usize,
}

impl Default for History {
    fn default() -> Self {
        History { keep: 100 }
    }
}

/// The network the project's containers join.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    /// A network that exists beforehand (Sesam's `microservices`, COSMOS's own), joined
    /// instead of the project's own; berth never creates or removes it.
    pub external: Option<String>,
    /// Where `external` is written, for plan errors.
    #[serde(skip)]
    pub origin: Option<Origin>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "EngineForm")]
pub struct Engine {
    pub host: Option<String>,
    pub tls: Option<Tls>,
    pub mode: Mode,
    /// Seconds berth waits for the engine's answer to one request.
    pub timeout: Option<u64>,
}

/// What berth makes of each service on the engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One container per instance on one Docker engine.
    #[default]
    Docker,
    /// One Swarm service per service, through a swarm manager.
    Swarm,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Docker => "docker",
            Mode::Swarm => "swarm",
        }
    }
}

/// `engine: swarm` is short for `engine: { mode: swarm }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum EngineForm {
    Mode(Mode),
    Full(EngineFields),
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct EngineFields {
    host: Option<String>,
    tls: Option<Tls>,
    mode: Mode,
    timeout: Option<u64>,
}

impl From<EngineForm> for Engine {
    fn from(form: EngineForm) -> Engine {
        let f = match form {
            EngineForm::Mode(mode) => EngineFields {
                mode,
                ..EngineFields::default()
            },
            EngineForm::Full(f) => f,
        };
        Engine {
            host: f.host,
            tls: f.tls,
            mode: f.mode,
            timeout: f.timeout,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub ca: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
    #[serde(default = "yes")]
    pub verify: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Discovery {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cosmos {
    pub image: Option<String>,
    pub scope: Option<String>,
    /// VARIABLE overrides by plugin folder (relative path) or `*`.
    pub variables: BTreeMap<String, ScalarMap>,
    /// What `ENV[...]` returns inside ERB; `null` means unset.
    pub erb_env: BTreeMap<String, Option<Scalar>>,
    /// What COSMOS's operator environment gives every microservice (RUNTIME.md R2), under
    /// the block's own ENV; `$SECRET(name)` references are filled in when applying.
    pub env: BTreeMap<String, Scalar>,
    /// Attached mode: the Redis COSMOS keeps its models in, where berth writes each
    /// microservice's entry.
    pub redis: Option<Redis>,
}

/// Where COSMOS's Redis is, for berth and (as `OPENC3_REDIS_*`) for the microservices.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redis {
    /// `redis://host:port`.
    pub url: String,
    pub username: Option<String>,
    /// A `$SECRET(name)` reference.
    pub password: Option<String>,
    /// The ephemeral store (logs, streams); the main one when unset.
    pub ephemeral_url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cumulocity {
    pub base_url: Option<String>,
    pub bootstrap_tenant: Option<String>,
    pub bootstrap_user: Option<String>,
    pub bootstrap_password: Option<String>,
    pub tenants: Vec<Tenant>,
    /// Manifest `name:version` → the image to run.
    pub images: BTreeMap<String, String>,
    /// `C8Y_BASEURL_MQTT`, `C8Y_BASEURL_PULSAR`.
    pub mqtt_url: Option<String>,
    pub pulsar_url: Option<String>,
    /// `C8Y_BOOTSTRAP_REGISTER`.
    pub bootstrap_register: bool,
    /// `TZ`.
    pub timezone: Option<String>,
    /// Manifest name → application key (`APPLICATION_KEY`); default `<name>-key`.
    pub application_keys: BTreeMap<String, String>,
    /// The `PROXY_*` variables.
    pub proxy: Proxy,
    pub capabilities: CapabilityProfile,
}

/// The platform's outbound proxies, given to every Cumulocity service as `PROXY_*`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Proxy {
    pub http: Option<ProxyHost>,
    pub https: Option<ProxyHost>,
    pub socks: Option<ProxyHost>,
    /// `PROXY_HTTP_NON_PROXY_HOSTS`.
    pub non_proxy_hosts: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyHost {
    pub host: String,
    pub port: u16,
}

/// The Linux capabilities a Cumulocity service gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CapabilityProfile {
    /// As the platform's own local-run example: every capability dropped but
    /// `NET_BIND_SERVICE`.
    #[default]
    Platform,
    /// The Docker engine's default set.
    Docker,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub id: String,
    pub user: String,
    pub password: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sesam {
    pub env_profile: Option<String>,
    pub node_url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Secrets {
    pub providers: Vec<SecretProvider>,
}

/// Where secret values come from, tried in order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SecretProvider {
    /// `<prefix><NAME>` environment variables.
    Env { prefix: String },
    /// One file per secret in a folder.
    Dir { path: String },
}

/// How an image that no registry serves is produced.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageRule {
    pub name: String,
    pub build: Option<Build>,
    pub load: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    pub context: String,
    #[serde(default = "dockerfile")]
    pub dockerfile: String,
    #[serde(default, deserialize_with = "scalar_map")]
    pub args: BTreeMap<String, String>,
}

fn dockerfile() -> String {
    "Dockerfile".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Drift {
    Off,
    #[default]
    Warn,
    Heal,
}

/// For each webhook endpoint, the name of the secret that authenticates deliveries.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Webhooks {
    pub github: Option<String>,
    pub gitea: Option<String>,
    pub gitlab: Option<String>,
    pub generic: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lint {
    pub deny: Vec<String>,
    pub warn: Vec<String>,
    pub allow: Vec<String>,
    pub max_warnings: Option<usize>,
}

/// A YAML scalar given where text is meant (`1.10`, `true`), kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(Scalar(s)),
            v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => Ok(Scalar(v.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected text, a number or a boolean, not {other}"
            ))),
        }
    }
}

/// Name → scalar, kept as text.
pub type ScalarMap = BTreeMap<String, Scalar>;

fn scalar_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let map = BTreeMap::<String, Scalar>::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.0)).collect())
}

/// Reads berth.yaml: YAML, schema, types. Problems carry file, line and column; on any
/// error the config is `None` (never half a config: defaults could hide a typo).
pub fn read(file: &Arc<SourceFile>) -> (Option<Config>, Vec<Problem>) {
    let doc = match yaml::parse(file.text()) {
        Ok(doc) => doc,
        Err(e) => {
            let p = Problem::error("berth::config::yaml", e.message)
                .at(file, e.span)
                .with_help("berth.yaml must be valid YAML; check indentation and quoting here");
            return (None, vec![p]);
        }
    };
    let problems = validate(Schema::Berth, &doc.value, &doc, "", file);
    if !problems.is_empty() {
        return (None, problems);
    }
    let external = doc.key_span("/network/external");
    match serde_json::from_value::<Config>(doc.value) {
        Ok(mut config) => {
            config.network.origin = external.map(|span| {
                let (line, column) = file.line_col(span.start);
                Origin {
                    file: file.name().to_string(),
                    line,
                    column,
                }
            });
            (Some(config), Vec::new())
        }
        // The schema and these types describe the same shape; a mismatch is a berth bug,
        // still reported as a problem rather than a panic.
        Err(e) => (
            None,
            vec![
                Problem::error("berth::config::shape", format!("berth.yaml: {e}"))
                    .at(file, Default::default()),
            ],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(text: &str) -> (Option<Config>, Vec<Problem>) {
        read(&SourceFile::new("berth.yaml", text))
    }

    #[test]
    fn a_full_file_reads() {
        let text = r#"
project: ground
engine: { host: "tcp://127.0.0.1:2375" }
cosmos:
  image: "openc3inc/openc3-operator:6.0.0"
  variables:
    "*": { log_level: debug, port: 7780 }
cumulocity:
  base_url: https://example.cumulocity.com
  tenants: [{ id: t1, user: svc, password: "$SECRET(t1_password)" }]
vars: { project.version: 1.10 }
secrets:
  providers:
    - { type: env, prefix: BERTH_SECRET_ }
    - { type: dir, path: secrets }
images:
  - { name: "demo:1.0", build: { context: images/demo } }
drift: heal
"#;
        let (config, problems) = read_str(text);
        assert!(problems.is_empty(), "{problems:?}");
        let c = config.unwrap();
        assert_eq!(c.project.as_deref(), Some("ground"));
        assert_eq!(c.cosmos.variables["*"]["port"], Scalar("7780".into()));
        assert_eq!(c.vars["project.version"], "1.1");
        assert_eq!(
            c.secrets.providers[1],
            SecretProvider::Dir {
                path: "secrets".into()
            }
        );
        assert_eq!(c.images[0].build.as_ref().unwrap().dockerfile, "Dockerfile");
        assert_eq!(c.drift, Drift::Heal);
        assert_eq!(c.engine.mode, Mode::Docker);
    }

    #[test]
    fn the_engine_mode_reads_short_and_long() {
        let mode = |text: &str| read_str(text).0.map(|c| c.engine.mode);
        assert_eq!(mode("engine: swarm\n"), Some(Mode::Swarm));
        assert_eq!(
            mode("engine: { mode: swarm, host: \"tcp://m:2376\" }\n"),
            Some(Mode::Swarm)
        );
        assert_eq!(mode("engine: { host: \"tcp://m:2376\" }\n"), Some(Mode::Docker));
        let (config, problems) = read_str("engine: kubernetes\n");
        assert!(config.is_none() && problems.len() == 1, "{problems:?}");
        assert_eq!(problems[0].location().unwrap().to_string(), "berth.yaml:1:9");
    }

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(read_str("").0, Some(Config::default()));
    }

    #[test]
    fn a_typo_is_an_error_at_its_line_and_column() {
        let (config, problems) = read_str("project: x\ndrfit: heal\n");
        assert!(config.is_none());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].location().unwrap().to_string(), "berth.yaml:2:1");
        assert_eq!(problems[0].help.as_deref(), Some("did you mean `drift`?"));
    }
}
