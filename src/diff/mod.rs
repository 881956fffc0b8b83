//! Desired against observed: for every instance of every service, whether its container
//! exists, and what differs, field by field, between the canonical spec it should have
//! and the one it was created from. Also the managed containers nothing asks for any
//! more, and the unmanaged ones in the way. Pure: values in, values out.

pub mod limits;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::Mode;
use crate::engine::naming::{network_name, object_name};
use crate::live::{Container, LiveState, RunState};
use crate::model::canonical::{Digests, Spec, canonical, swarm_auth, updatable_in_place};
use crate::model::{DesiredState, Model, Origin, ProbeAction, SecretDelivery, Service};
pub use limits::Refusal;

/// What `diff` needs besides the model and the live state.
pub struct DiffOptions<'a> {
    pub project: &'a str,
    /// This installation's id (berth's state directory): whose record of a COSMOS entry
    /// in Redis makes it berth's own.
    pub installation: &'a str,
    /// The image for services that name none (COSMOS blocks without CONTAINER).
    pub default_image: &'a str,
    pub digests: &'a dyn Digests,
    /// Containers per instance, or one Swarm service per service.
    pub mode: Mode,
    /// berth.yaml's `network.external`: the network joined instead of the project's own,
    /// and where it is named.
    pub external_network: Option<(&'a str, Option<&'a Origin>)>,
}

/// The difference for a whole project.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    /// One entry per desired container, by service and instance.
    pub instances: Vec<Instance>,
    /// Containers of this project whose service or instance is no longer desired.
    pub orphans: Vec<Container>,
    /// Containers of a desired instance under another name: the new container of a
    /// replace that was interrupted. Always removed.
    pub leftovers: Vec<Container>,
    /// Desired container names taken by containers berth does not own.
    pub clashes: Vec<Clash>,
    /// The project network, when it does not exist yet.
    pub missing_network: Option<String>,
    /// berth's own project network, when it exists and no container is desired: a
    /// project pruned to nothing leaves no network behind (pools are scarce).
    pub idle_network: Option<String>,
    /// What the engine would refuse for the desired state (a limit outside its range, a
    /// host port in use, a placement no node satisfies, a field Swarm does not have),
    /// and an entry in COSMOS's Redis that berth did not write.
    pub refusals: Vec<Refusal>,
    /// What will work, but not as on the service's own platform (a probe Swarm cannot
    /// run): said by the plan, never a reason to refuse it.
    pub warnings: Vec<Refusal>,
    /// Attached mode: the COSMOS entries berth keeps in Redis.
    pub entries: Option<EntryDiff>,
}

/// Attached mode: which entries in COSMOS's Redis are the project's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntryDiff {
    /// The MICROSERVICEs whose entry berth keeps, by name.
    pub desired: std::collections::BTreeSet<String>,
    /// Entries berth wrote for this project that no service asks for any more.
    pub stale: Vec<String>,
    /// Of those, the ones changed in Redis since berth wrote them: no longer only
    /// berth's, so left where they are.
    pub changed: Vec<String>,
}

/// One desired container and what is there for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub service: String,
    pub instance: u32,
    /// The container's name on the engine.
    pub name: String,
    pub spec: Spec,
    pub hash: String,
    pub want_running: bool,
    /// Where the service is declared (the `berth.source` label).
    pub origin: Origin,
    /// The existing container, when there is one.
    pub live: Option<Present>,
}

/// The container (or Swarm service) that exists for a desired instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Present {
    pub id: String,
    pub state: RunState,
    /// A Swarm service's version index, which its update must name.
    pub version: Option<u64>,
    /// Fields whose desired value differs from the one the container was created with.
    pub changes: Vec<Change>,
}

/// One changed field.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// `env.LOG_LEVEL`, `image`, `resources.memory_limit_bytes`; `image-id` when the
    /// reference now resolves to another image; `spec` when the stored spec is unreadable.
    pub path: String,
    pub from: Value,
    pub to: Value,
    /// `docker update` can apply it to the running container.
    pub in_place: bool,
    /// The line that sets the field (the service's declaration when no line does).
    pub source: Origin,
    /// With a git source: the commit that last changed that line. Filled in at the edge,
    /// where the repository is.
    pub provenance: Option<Provenance>,
}

/// The commit behind a changed line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Provenance {
    pub commit: String,
    pub summary: String,
    pub author: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clash {
    pub service: String,
    pub name: String,
}

/// The spec a service's containers (or Swarm service) should have, and its hash with
/// the image ID its reference resolves to now.
pub(crate) fn desired(service: &Service, live: &LiveState, options: &DiffOptions) -> (Spec, String) {
    let mut spec = canonical(service, options.default_image, options.digests);
    spec.network = options.external_network.map(|(name, _)| name.to_string());
    if options.mode == Mode::Swarm {
        spec.placement = service.placement.clone();
        spec.registry_auth = swarm_auth(service, options.digests);
    }
    let hash = spec.hash(live.images.get(&spec.image).map(String::as_str));
    (spec, hash)
}

/// The IDs of this project's containers whose labels do not settle the diff: their
/// service is desired, with another spec hash than theirs, so what the engine applies
/// now (resources an earlier apply changed in place) is compared field by field. A
/// container whose hash is the desired one is what its labels say, and needs no more.
pub fn unsettled(model: &Model, live: &LiveState, options: &DiffOptions) -> Vec<String> {
    let hashes: BTreeMap<&str, String> = model
        .services
        .iter()
        .map(|s| (s.name.as_str(), desired(s, live, options).1))
        .collect();
    live.containers
        .iter()
        .filter(|c| {
            c.owner.as_ref().is_some_and(|o| {
                o.project == options.project
                    && hashes.get(o.service.as_str()).is_some_and(|h| *h != o.spec_hash)
            })
        })
        .map(|c| c.id.clone())
        .collect()
}

pub fn diff(model: &Model, live: &LiveState, options: &DiffOptions) -> Diff {
    let ours = |c: &&Container| c.owner.as_ref().is_some_and(|o| o.project == options.project);
    let mut instances = Vec::new();
    let mut clashes = Vec::new();
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();
    let swarm = options.mode == Mode::Swarm;
    for service in &model.services {
        let (spec, hash) = desired(service, live, options);
        if swarm {
            refusals.extend(swarm_refusals(service, &spec, &live.nodes));
            warnings.extend(swarm_probes(service));
        }
        let image_id = live.images.get(&spec.image).map(String::as_str);
        let first = object_name(options.mode, options.project, &service.name, 0);
        refusals.extend(limits::refusals(service, &spec, &first, live, options.mode));
        // A Swarm service is one object, whatever its replica count.
        let count = if swarm { 1 } else { service.replicas };
        for instance in 0..count {
            let name = object_name(options.mode, options.project, &service.name, instance);
            // Only the container with the instance's own name is it; any other that
            // claims the instance is left over from an interrupted apply.
            let existing = live.containers.iter().filter(ours).find(|c| {
                c.name == name
                    && c.owner
                        .as_ref()
                        .is_some_and(|o| o.service == service.name && o.instance == instance)
            });
            if existing.is_none()
                && live
                    .containers
                    .iter()
                    .any(|c| c.name == name && c.owner.is_none())
            {
                clashes.push(Clash {
                    service: service.name.clone(),
                    name: name.clone(),
                });
            }
            let entry = match (&live.cosmos, &spec.cosmos) {
                (Some(entries), Some(config)) => match entry_change(service, config, entries, options) {
                    Ok(change) => change,
                    Err(refusal) => {
                        // Once per service, not per instance.
                        if instance == 0 {
                            refusals.push(*refusal);
                        }
                        None
                    }
                },
                _ => None,
            };
            let live = existing.map(|c| {
                let mut changes = changes(service, &spec, &hash, c, image_id, options.mode);
                changes.extend(replica_change(service, c));
                changes.extend(entry.clone());
                Present {
                    id: c.id.clone(),
                    // A Swarm service runs or stops by its replica count, compared above.
                    state: match (swarm, service.state) {
                        (false, _) => c.state,
                        (true, DesiredState::Running) => RunState::Running,
                        (true, DesiredState::Stopped) => RunState::Exited,
                    },
                    version: c.swarm.as_ref().map(|s| s.version),
                    changes,
                }
            });
            instances.push(Instance {
                service: service.name.clone(),
                instance,
                name,
                spec: spec.clone(),
                hash: hash.clone(),
                want_running: service.state == DesiredState::Running,
                origin: service.origin.clone(),
                live,
            });
        }
    }
    let wanted = |service: &str, instance: u32| {
        model.services.iter().any(|s| {
            s.name == service
                && if swarm {
                    instance == 0
                } else {
                    instance < s.replicas
                }
        })
    };
    let mut orphans = Vec::new();
    let mut leftovers = Vec::new();
    for c in live.containers.iter().filter(ours) {
        let Some(o) = &c.owner else { continue };
        if !wanted(&o.service, o.instance) {
            orphans.push(c.clone());
        } else if c.name != object_name(options.mode, options.project, &o.service, o.instance) {
            leftovers.push(c.clone());
        }
    }
    orphans.sort_by(|a, b| a.name.cmp(&b.name));
    leftovers.sort_by(|a, b| a.name.cmp(&b.name));
    let wanted_network = !live.network && !instances.is_empty();
    let missing_network = match options.external_network {
        None => wanted_network.then(|| network_name(options.project, options.mode)),
        // Another's network: joined, never made.
        Some((name, at)) => {
            if wanted_network {
                refusals.push(Refusal {
                    service: None,
                    message: format!("the network `{name}` (berth.yaml network.external) does not exist on the engine"),
                    at: at.cloned(),
                    help: Some(format!(
                        "create it first (`docker network create {name}`), or remove network.external to let berth make the project's own"
                    )),
                });
            }
            None
        }
    };
    // Only berth's own network of this project, once nothing joins it: no container is
    // desired, or they all join berth.yaml's external network now. One of that name
    // made by anyone else is never planned for removal.
    let idle_network = (live.own_network && (instances.is_empty() || options.external_network.is_some()))
        .then(|| network_name(options.project, options.mode));
    let entries = live.cosmos.as_ref().map(|entries| {
        let desired: std::collections::BTreeSet<String> = instances
            .iter()
            .filter(|i| i.spec.cosmos.is_some())
            .map(|i| i.service.clone())
            .collect();
        let mut stale = Vec::new();
        let mut changed = Vec::new();
        for (name, w) in &entries.written {
            if w.project != options.project
                || w.installation != options.installation
                || desired.contains(name)
            {
                continue;
            }
            match entries.present.get(name) {
                Some(Some(found)) if found.digest != w.digest => changed.push(name.clone()),
                _ => stale.push(name.clone()),
            }
        }
        EntryDiff {
            desired,
            stale,
            changed,
        }
    });
    Diff {
        instances,
        orphans,
        leftovers,
        clashes,
        missing_network,
        idle_network,
        refusals,
        warnings,
        entries,
    }
}

impl Diff {
    /// Whether a container is to be created or changed: only then can a name taken by
    /// another's container, or a limit above what the engine has, stop the plan.
    pub fn creates_or_changes(&self) -> bool {
        self.instances
            .iter()
            .any(|i| i.live.as_ref().is_none_or(|p| !p.changes.is_empty()))
    }
}

/// A MICROSERVICE's entry in COSMOS's Redis against berth's record of it and against the
/// configuration (`config`, the spec's form of it): missing, changed since berth wrote
/// it, or written from another configuration (an apply that did not finish) is a change
/// (the program reads it only as it starts, so rewriting it means a replace); written
/// by anyone else, it is refused, never taken.
fn entry_change(
    service: &Service,
    config: &Value,
    entries: &crate::live::Entries,
    options: &DiffOptions,
) -> Result<Option<Change>, Box<Refusal>> {
    let name = &service.name;
    let written = entries.written.get(name);
    let present = entries.present.get(name).cloned().flatten();
    let change = |from: &str| Change {
        path: "redis".into(),
        from: Value::String(from.into()),
        to: Value::String("written by berth".into()),
        in_place: false,
        source: service.origin.clone(),
        provenance: None,
    };
    match (present, written) {
        (None, _) => Ok(Some(change("missing"))),
        (Some(found), Some(w)) if w.project == options.project && w.installation == options.installation => {
            Ok(if found.digest != w.digest {
                Some(change("changed in Redis since berth wrote it"))
            } else if w.config != crate::model::entry::config_digest(config) {
                Some(change("written from another configuration"))
            } else {
                None
            })
        }
        (Some(_), written) => {
            let whose = match written {
                Some(w) if w.installation == options.installation => {
                    format!("berth wrote it for the project `{}`", w.project)
                }
                Some(_) => "another berth installation wrote it".to_string(),
                None => "berth did not write it".to_string(),
            };
            Err(Box::new(Refusal::new(
                name,
                service.origin.clone(),
                format!(
                    "COSMOS's Redis already has an entry for `{name}` in {} and {whose}",
                    crate::model::entry::HASH
                ),
                "remove it from COSMOS first (uninstall the plugin that made it), or rename the MICROSERVICE",
            )))
        }
    }
}

fn changes(
    service: &Service,
    spec: &Spec,
    hash: &str,
    container: &Container,
    image_id: Option<&str>,
    mode: Mode,
) -> Vec<Change> {
    let Some(owner) = &container.owner else {
        return Vec::new();
    };
    if owner.spec_hash == hash && owner.resources == spec.resources {
        return Vec::new();
    }
    let Some(live_spec) = &owner.spec else {
        return vec![Change {
            path: "spec".into(),
            from: Value::Null,
            to: Value::String(hash.to_string()),
            in_place: mode == Mode::Swarm,
            source: service.origin.clone(),
            provenance: None,
        }];
    };
    // Resources as the engine applies them now: an in-place update changes those but
    // cannot change the label.
    let live_spec = Spec {
        resources: owner.resources.clone(),
        ..live_spec.clone()
    };
    let mut out: Vec<Change> = spec
        .differences(&live_spec)
        .into_iter()
        .map(|(path, to, from)| Change {
            // Docker can change a limit in place but not lift one; a Swarm service takes
            // any change as a rolling update.
            in_place: mode == Mode::Swarm || updatable_in_place(&path) && !to.is_null(),
            source: source_of(service, &path),
            provenance: None,
            path,
            from,
            to,
        })
        .collect();
    if let Some(id) = image_id
        && id != owner.image_id
        && live_spec.image == spec.image
    {
        out.push(Change {
            path: "image-id".into(),
            from: Value::String(owner.image_id.clone()),
            to: Value::String(id.to_string()),
            in_place: mode == Mode::Swarm,
            source: source_of(service, "image"),
            provenance: None,
        });
    }
    out
}

/// A Swarm service's replica count against the desired one (0 for a stopped service).
fn replica_change(service: &Service, container: &Container) -> Option<Change> {
    let live = container.swarm.as_ref()?.replicas;
    let running = service.state == DesiredState::Running;
    let desired = if running { service.replicas } else { 0 };
    (live != desired).then(|| Change {
        path: "replicas".into(),
        from: live.into(),
        to: desired.into(),
        in_place: true,
        source: source_of(service, if running { "replicas" } else { "state" }),
        provenance: None,
    })
}

/// The probes of `service` that no one runs on a swarm. A Swarm health check runs inside
/// the task, so only an exec liveness probe becomes one (gating a rollout as readiness
/// does); an HTTP or TCP probe would need a client in the image, and berth cannot reach
/// a task's address on the overlay from the manager. Such a service is judged by its
/// tasks' state alone: running, the same tasks, for the stable-for window.
fn swarm_probes(service: &Service) -> Vec<Refusal> {
    let kind = |probe: &crate::model::Probe| match &probe.action {
        ProbeAction::Http { path, port, .. } => Some(format!("HTTP probe (GET {path} on port {port})")),
        ProbeAction::Tcp { port } => Some(format!("TCP probe (port {port})")),
        ProbeAction::Exec { .. } => None,
    };
    let probes = &service.probes;
    let liveness = probes
        .liveness
        .as_ref()
        .and_then(|p| Some(("liveness", kind(p)?)));
    // An exec readiness probe runs only when it is the liveness probe too.
    let readiness = probes
        .readiness
        .as_ref()
        .filter(|r| probes.liveness.as_ref() != Some(*r))
        .map(|r| ("readiness", kind(r).unwrap_or_else(|| "exec probe".into())));
    liveness
        .into_iter()
        .chain(readiness)
        .map(|(which, what)| {
            Refusal::new(
                &service.name,
                source_of(service, &format!("probes.{which}")),
                format!(
                    "`{}`: its {which} {what} does not run on Swarm, whose health checks run inside the task and come only from an exec liveness probe; berth and Swarm judge its tasks by their state alone (running, the same ones, for the stable-for window)",
                    service.name
                ),
                "make it an exec liveness probe (it becomes the tasks' health check), or use engine mode docker, where berth runs HTTP and TCP probes itself",
            )
        })
        .collect()
}

/// Why a swarm cannot run `service` as specified: a placement constraint no ready,
/// active node satisfies (only `node.labels.K==V` is checked), a field Swarm lacks.
fn swarm_refusals(
    service: &Service,
    spec: &Spec,
    nodes: &[std::collections::BTreeMap<String, String>],
) -> Vec<Refusal> {
    let mut out = Vec::new();
    for constraint in &spec.placement {
        let Some((key, value)) = constraint
            .strip_prefix("node.labels.")
            .and_then(|c| c.split_once("=="))
        else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if !nodes
            .iter()
            .any(|labels| labels.get(key).is_some_and(|v| v == value))
        {
            out.push(Refusal::new(
                &service.name,
                source_of(service, "placement"),
                format!(
                    "`{}` cannot be placed: no ready, active node has the label {key}={value} ({constraint})",
                    service.name
                ),
                format!("label one with `docker node update --label-add {key}={value} NODE`"),
            ));
        }
    }
    if spec.resources.cpuset.is_some() {
        out.push(Refusal::new(
            &service.name,
            source_of(service, "resources.cpuset"),
            format!(
                "`{}` sets cpuset, which a Swarm service cannot have",
                service.name
            ),
            "remove it, or use engine mode docker",
        ));
    }
    if let Some(file) = service.files.first() {
        out.push(Refusal::new(
            &service.name,
            source_of(service, &format!("files.{}", file.path)),
            format!(
                "`{}` needs {} file(s) of its plugin placed before it starts, which berth does not yet do for Swarm tasks",
                service.name,
                service.files.len()
            ),
            "build the folder into the service's image (and give it CONTAINER), or use engine mode docker",
        ));
    }
    out
}

/// The line behind a changed field: a delivered secret's line, else the field's own
/// source, else its nearest recorded parent (`resources` for
/// `resources.memory_limit_bytes`), else the declaration.
pub(crate) fn source_of(service: &Service, path: &str) -> Origin {
    // A delivered secret is recorded by its place among the secrets (`secrets[1]`), and
    // appears in the spec by its file or variable.
    let delivered = service.secrets.iter().position(|s| match &s.delivery {
        SecretDelivery::File { path: file } => path.strip_prefix("secret_files.") == Some(file.as_str()),
        SecretDelivery::Env { variable } => path.strip_prefix("env.") == Some(variable.as_str()),
    });
    if let Some(origin) = delivered.and_then(|i| service.sources.get(&format!("secrets[{i}]"))) {
        return origin.clone();
    }
    let mut key = path;
    loop {
        if let Some(origin) = service.sources.get(key) {
            return origin.clone();
        }
        // Arrays record their elements (`ports[0]`); the first stands for the array.
        let element = format!("{key}[");
        if let Some((_, origin)) = service.sources.iter().find(|(k, _)| k.starts_with(&element)) {
            return origin.clone();
        }
        match key.rfind(['.', '[']) {
            Some(i) => key = &key[..i],
            None => return service.origin.clone(),
        }
    }
}
