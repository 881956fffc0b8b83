//! The canonical spec of a service: the normal form of exactly what its containers are
//! created from, with defaults filled in, maps sorted and secrets replaced by keyed
//! digests (DESIGN.md §3). It is stored on each container (the `berth.spec` label) and
//! hashed into `berth.spec-hash`; a plan compares the desired spec with the stored one
//! field by field. Provenance, replica count, desired running state and pull policy are
//! not part of it: changing them never recreates a container.
//!
//! The hash is versioned (`v1:`): a berth release that changes this normal form must
//! bump `SPEC_VERSION`, and one that does not leaves every hash as it was.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::model::{Capabilities, Piece, Port, Probe, Resources, SecretDelivery, Service, Stop, Text};

/// The version of the normal form, the prefix of every hash.
pub const SPEC_VERSION: &str = "v1";

/// What a container is created from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// The image reference as written; the image ID it resolves to enters the hash.
    pub image: String,
    pub command: Vec<String>,
    pub working_dir: Option<String>,
    /// Values with secrets as `<secret:NAME:DIGEST>` and plain-text credentials as
    /// `<redacted:DIGEST>`: a changed secret changes the spec, and no value is stored.
    pub env: BTreeMap<String, String>,
    pub ports: Vec<Port>,
    /// Secret files: path → `NAME:DIGEST`.
    pub secret_files: BTreeMap<String, String>,
    /// Files placed before start (a COSMOS microservice's folder): path → `MODE SHA256`
    /// (the first 128 bits), so that a plan names the file that changed. Skipped when
    /// there are none, so other specs and hashes are as before the field existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    pub extra_hosts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// The only fields Docker can change on a running container (`docker update`).
    pub resources: Resources,
    /// The liveness probe, which becomes the container's health check.
    pub healthcheck: Option<Probe>,
    /// Swarm placement constraints; always empty on a single engine, so its specs and
    /// hashes are the same as before Swarm existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placement: Vec<String>,
    /// Skipped when the engine's default set is kept, so that the specs and hashes of
    /// services that change no capability are the same as before the field existed.
    #[serde(default, skip_serializing_if = "Capabilities::is_default")]
    pub capabilities: Capabilities,
    /// How the container is stopped, when not as the engine does by default; skipped
    /// otherwise, so other specs and hashes are as before the field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// A COSMOS MICROSERVICE's entry in Redis (`model::entry`, without `updated_at`, ENV
    /// values named like secrets as digests): what the program reads its OPTIONs from,
    /// so a changed OPTION replaces it, as COSMOS restarts a changed microservice.
    /// Skipped for every other service, whose specs and hashes are as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosmos: Option<serde_json::Value>,
    /// berth.yaml's `network.external`, when the project joins a network it did not
    /// make: moving to or from one then replaces the containers. Skipped for the
    /// project's own network, so those specs and hashes are as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Swarm: the registry credentials a service carries to every node that pulls its
    /// image, as `user:<secret:NAME:DIGEST>` (`swarm_auth`), so that new ones update the
    /// service. Skipped on one engine, which pulls with them and keeps nothing, so other
    /// specs and hashes are as before the field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_auth: Option<String>,
}

/// Keyed digests of secret values, computed at the edge where the values and the key
/// live; the core only ever sees digests.
pub trait Digests {
    /// The digest of the current value of secret `name`.
    fn secret(&self, name: &str) -> String;
    /// The digest of a plain-text credential written in the repository.
    fn value(&self, value: &str) -> String;
}

/// A service's canonical spec. `default_image` is the platform default for services that
/// name none (COSMOS blocks without CONTAINER).
pub fn canonical(service: &Service, default_image: &str, digests: &dyn Digests) -> Spec {
    let mut env: BTreeMap<String, String> = service
        .env
        .iter()
        .map(|(k, v)| (k.clone(), render(v, digests)))
        .collect();
    let mut secret_files = BTreeMap::new();
    for secret in &service.secrets {
        let digest = format!("{}:{}", secret.name, digests.secret(&secret.name));
        match &secret.delivery {
            // A secret env var wins over a plain one of the same name (COSMOS's rule).
            SecretDelivery::Env { variable } => {
                env.insert(variable.clone(), format!("<secret:{digest}>"));
            }
            SecretDelivery::File { path } => {
                secret_files.insert(path.clone(), digest);
            }
        }
    }
    let mut ports = service.ports.clone();
    ports.sort();
    Spec {
        image: service.image.clone().unwrap_or_else(|| default_image.to_string()),
        command: service.command.clone(),
        working_dir: service.working_dir.clone(),
        env,
        ports,
        secret_files,
        files: service
            .files
            .iter()
            .map(|f| (f.path.clone(), format!("{:04o} {}", f.mode, &f.sha256[..32])))
            .collect(),
        extra_hosts: service.extra_hosts.clone(),
        labels: service.labels.clone(),
        resources: service.resources.clone(),
        healthcheck: service.probes.liveness.clone(),
        placement: Vec::new(),
        capabilities: service.capabilities.clone(),
        stop: service.stop.clone(),
        cosmos: cosmos_form(service, digests),
        network: None,
        registry_auth: None,
    }
}

/// A COSMOS MICROSERVICE's entry as its spec holds it (`None` for any other service):
/// digests for values named like secrets; without the time of writing, and without
/// whether it runs, which is the service's state (started and stopped, not replaced).
pub fn cosmos_form(service: &Service, digests: &dyn Digests) -> Option<serde_json::Value> {
    let mut entry = crate::model::entry::entry(service, &|text| render(text, digests))?;
    entry.shift_remove(crate::model::entry::UPDATED_AT);
    entry.shift_remove("enabled");
    Some(serde_json::Value::Object(entry))
}

/// What a Swarm service keeps of its registry credentials, as digests: Swarm hands them
/// to each node with the task, so a new password is a change of the service.
pub fn swarm_auth(service: &Service, digests: &dyn Digests) -> Option<String> {
    let auth = service.pull.auth.as_ref()?;
    Some(format!(
        "{}:{}",
        render(&auth.username, digests),
        render(&auth.password, digests)
    ))
}

fn render(text: &Text, digests: &dyn Digests) -> String {
    text.0
        .iter()
        .map(|piece| match piece {
            Piece::Literal(s) => s.clone(),
            Piece::Secret(name) | Piece::SecretInJson(name) => {
                format!("<secret:{name}:{}>", digests.secret(name))
            }
            Piece::Sensitive(value) => format!("<redacted:{}>", digests.value(value.expose())),
        })
        .collect()
}

impl Spec {
    /// `v1:<sha256 hex>` over the spec's JSON and the image ID the reference resolved to
    /// (`None` before the image is known).
    pub fn hash(&self, image_id: Option<&str>) -> String {
        let mut h = Sha256::new();
        // Serialising plain data with string keys cannot fail.
        h.update(serde_json::to_vec(self).unwrap_or_default());
        h.update([0]);
        h.update(image_id.unwrap_or_default().as_bytes());
        format!("{SPEC_VERSION}:{}", hex::encode(h.finalize()))
    }

    /// Every field that differs from `other`, as `(path, this value, other's value)`
    /// with JSON values, by path: `env.LOG_LEVEL`, `command`, `resources.cpu_limit_millis`.
    pub fn differences(&self, other: &Spec) -> Vec<(String, serde_json::Value, serde_json::Value)> {
        let (a, b) = (self.fields(), other.fields());
        let paths: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        paths
            .into_iter()
            .filter_map(|p| {
                // A field one spec lacks is null to it: a spec from before a field existed
                // differs only where the field holds something.
                let null = serde_json::Value::Null;
                let (x, y) = (a.get(p).unwrap_or(&null), b.get(p).unwrap_or(&null));
                (x != y).then(|| (p.clone(), x.clone(), y.clone()))
            })
            .collect()
    }
}

/// Whether a changed path can be applied to a running container (`docker update`).
pub fn updatable_in_place(path: &str) -> bool {
    path.starts_with("resources.")
}

impl Spec {
    /// The spec as `path → value`: objects are walked into (`env.KEY`), arrays and
    /// scalars are leaves, so a changed command is one change, not one per argument.
    pub fn fields(&self) -> BTreeMap<String, serde_json::Value> {
        flatten(self)
    }
}

fn flatten(spec: &Spec) -> BTreeMap<String, serde_json::Value> {
    fn walk(prefix: &str, v: serde_json::Value, out: &mut BTreeMap<String, serde_json::Value>) {
        match v {
            serde_json::Value::Object(map) if !map.is_empty() => {
                for (k, x) in map {
                    let path = if prefix.is_empty() {
                        k
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&path, x, out);
                }
            }
            serde_json::Value::Object(_) => {}
            leaf => {
                out.insert(prefix.to_string(), leaf);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", serde_json::to_value(spec).unwrap_or_default(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{self, FakeDigests as Fake};
    use crate::model::{Protocol, Secret};

    /// The fixture service with a secret env var, a port and a secret file.
    fn service() -> Service {
        let mut s = fixtures::service("svc");
        s.env
            .insert("TOKEN".into(), Text(vec![Piece::Secret("tok".into())]));
        s.ports.push(Port {
            number: 80,
            protocol: Protocol::Tcp,
            host: None,
        });
        s.secrets.push(Secret {
            name: "cert".into(),
            delivery: SecretDelivery::File {
                path: "/run/cert.pem".into(),
            },
            store: None,
        });
        s
    }

    #[test]
    fn secrets_enter_as_digests_only() {
        let spec = canonical(&service(), "unused", &Fake);
        assert_eq!(spec.env["TOKEN"], "<secret:tok:d(tok)>");
        assert_eq!(spec.secret_files["/run/cert.pem"], "cert:d(cert)");
    }

    #[test]
    fn the_hash_is_versioned_stable_and_sensitive_to_what_matters() {
        let s = service();
        let spec = canonical(&s, "unused", &Fake);
        let h = spec.hash(Some("sha256:aaa"));
        assert!(h.starts_with("v1:") && h.len() == 3 + 64, "{h}");
        // Pinned: a change of this value means every deployed container would be
        // replaced by an upgrade. Bump SPEC_VERSION when the normal form changes.
        assert_eq!(
            h,
            "v1:3464642237d9fa5fc84d3cdcc7aedca952351dba99718d9abbae7903ac8053a1"
        );
        assert_ne!(
            h,
            spec.hash(Some("sha256:bbb")),
            "a new image ID changes the hash"
        );
        let mut more = s.clone();
        more.replicas = 3;
        more.sources.clear();
        assert_eq!(
            canonical(&more, "unused", &Fake).hash(Some("sha256:aaa")),
            h,
            "not part of the spec"
        );
    }

    #[test]
    fn differences_name_fields_and_tell_in_place_updates() {
        let a = canonical(&service(), "unused", &Fake);
        let mut s = service();
        s.env.insert("LOG".into(), Text::literal("debug"));
        s.resources.memory_limit_bytes = Some(1 << 20);
        let b = canonical(&s, "unused", &Fake);
        let d = b.differences(&a);
        let paths: Vec<&str> = d.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(paths, ["env.LOG", "resources.memory_limit_bytes"]);
        assert_eq!(d[0].1, "debug");
        assert!(!updatable_in_place(paths[0]) && updatable_in_place(paths[1]));
    }

    #[test]
    fn a_spec_survives_its_label() {
        let spec = canonical(&service(), "unused", &Fake);
        let label = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<Spec>(&label).unwrap(), spec);
    }
}
