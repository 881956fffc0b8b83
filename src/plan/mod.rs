//! What to do about a `Diff`: one step per container — create, update in place,
//! replace, start, stop or remove — with the reasons, in a stable order. Pure: the plan
//! is data; `apply` carries it out.

#[cfg(test)]
pub mod fake;
pub mod view;

use sha2::{Digest as _, Sha256};

use crate::config::Mode;
use crate::diff::{Change, Diff, Refusal};
use crate::live::Container;
use crate::model::Origin;
use crate::model::canonical::Spec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// First among an instance's steps: a leftover goes before its replacement comes.
    Remove,
    Create,
    /// `docker update` of resources on the running container.
    Update,
    /// A new container takes the old one's place.
    Replace,
    Start,
    Stop,
}

/// One step: what it does to one container (or Swarm service), and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub service: String,
    pub instance: u32,
    /// The container's name on the engine.
    pub name: String,
    /// What the step does, with what that needs.
    pub work: Work,
    /// Why: the changed fields; empty for a missing or stopped container.
    pub changes: Vec<Change>,
    /// Where the service is declared (not for `Remove`).
    pub origin: Option<Origin>,
}

/// What a step does, each kind with what it needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// Make a container of `spec` (whose hash is `hash`), started when `start`.
    Create {
        spec: Spec,
        hash: String,
        start: bool,
    },
    /// Change `on` to `spec` in place.
    Update {
        on: Existing,
        spec: Spec,
        hash: String,
    },
    /// A new container of `spec` takes `on`'s place, started when `start`.
    Replace {
        on: Existing,
        spec: Spec,
        hash: String,
        start: bool,
    },
    Start {
        on: Existing,
    },
    Stop {
        on: Existing,
    },
    /// Remove `on`; `leftover` when an interrupted apply left it.
    Remove {
        on: Existing,
        leftover: bool,
    },
}

/// The object on the engine a step acts on, as planned.
#[derive(Debug, Clone, PartialEq)]
pub struct Existing {
    pub id: String,
    /// A Swarm service's version index when planned: its update names it, and Swarm
    /// refuses the update when the service has changed since.
    pub version: Option<u64>,
}

/// What apply will do, and what stops it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The project network to create before any container.
    pub network: Option<String>,
    /// The project network to remove after every container (prune of everything).
    pub remove_network: Option<String>,
    pub steps: Vec<Step>,
    /// Problems that forbid applying: names taken by containers berth does not own, and
    /// whatever the engine would refuse.
    pub errors: Vec<Refusal>,
    /// What will run, but not as on the service's own platform.
    pub warnings: Vec<Refusal>,
    /// Managed containers nothing asks for, left alone because prune is off.
    pub kept: Vec<String>,
    /// Whether steps are about containers or Swarm services.
    pub mode: Mode,
    /// Attached mode: the entries to keep in COSMOS's Redis.
    pub entries: EntrySteps,
}

/// Attached mode: what is done to COSMOS's Redis around the steps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntrySteps {
    /// Written before any step runs: the entries of the MICROSERVICEs whose containers
    /// (or Swarm service) are created, replaced, updated, started or stopped (the
    /// program reads its entry as it starts; `enabled` follows the running state).
    pub write: Vec<String>,
    /// Removed after the steps (prune): entries berth wrote for services no longer
    /// desired, once nothing of theirs failed to go.
    pub remove: Vec<String>,
    /// Entries of services no longer desired that changed in Redis since berth wrote
    /// them, left where they are.
    pub left: Vec<String>,
}

impl EntrySteps {
    pub fn is_empty(&self) -> bool {
        self.write.is_empty() && self.remove.is_empty()
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// Remove managed containers that left the desired state.
    pub prune: bool,
    pub mode: Mode,
}

impl Step {
    pub fn action(&self) -> Action {
        match self.work {
            Work::Create { .. } => Action::Create,
            Work::Update { .. } => Action::Update,
            Work::Replace { .. } => Action::Replace,
            Work::Start { .. } => Action::Start,
            Work::Stop { .. } => Action::Stop,
            Work::Remove { .. } => Action::Remove,
        }
    }

    /// The existing object acted on; none for a create.
    pub fn existing(&self) -> Option<&Existing> {
        match &self.work {
            Work::Create { .. } => None,
            Work::Update { on, .. }
            | Work::Replace { on, .. }
            | Work::Start { on }
            | Work::Stop { on }
            | Work::Remove { on, .. } => Some(on),
        }
    }

    /// The existing object's ID; none for a create.
    pub fn id(&self) -> Option<&str> {
        self.existing().map(|e| e.id.as_str())
    }

    /// What is created or updated to, and its hash.
    pub fn spec(&self) -> Option<(&Spec, &str)> {
        match &self.work {
            Work::Create { spec, hash, .. }
            | Work::Update { spec, hash, .. }
            | Work::Replace { spec, hash, .. } => Some((spec, hash)),
            _ => None,
        }
    }

    /// Whether a created or replacing container starts.
    pub fn starts(&self) -> bool {
        matches!(
            self.work,
            Work::Create { start: true, .. } | Work::Replace { start: true, .. }
        )
    }

    /// A removal of what an interrupted apply left.
    pub fn leftover(&self) -> bool {
        matches!(self.work, Work::Remove { leftover: true, .. })
    }

    /// `replace p-web-0 (env.LOG_LEVEL, memory)`: the action, the container and the
    /// fields that cause it.
    pub fn summary(&self) -> String {
        let fields: Vec<&str> = self.changes.iter().map(|c| c.path.as_str()).collect();
        if fields.is_empty() {
            format!("{} {}", self.action().name(), self.name)
        } else {
            format!("{} {} ({})", self.action().name(), self.name, fields.join(", "))
        }
    }
}

impl Plan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
            && self.network.is_none()
            && self.remove_network.is_none()
            && self.entries.is_empty()
    }

    /// Only what concerns the named services (`--target`): their steps, the errors that
    /// name them, and the network when one of them needs it.
    pub fn only(mut self, services: &[String]) -> Plan {
        let wanted = |s: &str| services.iter().any(|t| t == s);
        self.steps.retain(|s| wanted(&s.service));
        // An error about no service (the project's network) concerns every target.
        self.errors.retain(|e| e.service.as_deref().is_none_or(wanted));
        self.warnings.retain(|e| e.service.as_deref().is_none_or(wanted));
        self.kept.clear();
        self.remove_network = None;
        self.entries.write.retain(|s| wanted(s));
        self.entries.remove.retain(|s| wanted(s));
        if !self
            .steps
            .iter()
            .any(|s| matches!(s.action(), Action::Create | Action::Replace))
        {
            self.network = None;
        }
        self
    }
}

impl Plan {
    /// Leaves alone the services `held` names (pinned by `berth rollback`): none of
    /// their steps or errors, no entry written for them, and the network kept for them.
    pub fn hold(&mut self, held: impl Fn(&str) -> bool) {
        let before = self.steps.len();
        self.steps.retain(|s| !held(&s.service));
        self.errors
            .retain(|e| e.service.as_deref().is_none_or(|s| !held(s)));
        self.entries.write.retain(|s| !held(s));
        self.entries.remove.retain(|s| !held(s));
        if self.steps.len() < before {
            self.remove_network = None;
        }
    }
}

/// The digest of the desired state a plan is made from: every desired container's name,
/// spec hash and running state, but those of services `held` names. A saved plan is
/// stale when this changes.
pub fn desired_digest(diff: &Diff, held: impl Fn(&str) -> bool) -> String {
    let mut h = Sha256::new();
    for i in diff.instances.iter().filter(|i| !held(&i.service)) {
        h.update(format!("{}\0{}\0{}\n", i.name, i.hash, i.want_running));
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

pub fn plan(diff: &Diff, options: &PlanOptions) -> Plan {
    let mut steps = Vec::new();
    for i in &diff.instances {
        let step = |work: Work, changes: Vec<Change>| Step {
            service: i.service.clone(),
            instance: i.instance,
            name: i.name.clone(),
            work,
            changes,
            origin: Some(i.origin.clone()),
        };
        // Cloned only for a step that makes or changes the container.
        let (spec, hash, start) = (|| i.spec.clone(), || i.hash.clone(), i.want_running);
        let Some(live) = &i.live else {
            if !diff.clashes.iter().any(|c| c.name == i.name) {
                let work = Work::Create {
                    spec: spec(),
                    hash: hash(),
                    start,
                };
                steps.push(step(work, Vec::new()));
            }
            continue;
        };
        let on = Existing {
            id: live.id.clone(),
            version: live.version,
        };
        if !live.changes.is_empty() {
            if live.changes.iter().all(|c| c.in_place) {
                let work = Work::Update {
                    on: on.clone(),
                    spec: spec(),
                    hash: hash(),
                };
                steps.push(step(work, live.changes.clone()));
            } else {
                let work = Work::Replace {
                    on,
                    spec: spec(),
                    hash: hash(),
                    start,
                };
                steps.push(step(work, live.changes.clone()));
                continue; // the new container starts (or not) as desired
            }
        }
        if i.want_running && !live.state.is_running() {
            steps.push(step(Work::Start { on }, Vec::new()));
        } else if !i.want_running && live.state.is_running() {
            steps.push(step(Work::Stop { on }, Vec::new()));
        }
    }
    let remove = |c: &Container, leftover: bool| {
        let owner = c.owner.as_ref()?;
        let on = Existing {
            id: c.id.clone(),
            version: c.swarm.as_ref().map(|s| s.version),
        };
        Some(Step {
            service: owner.service.clone(),
            instance: owner.instance,
            name: c.name.clone(),
            work: Work::Remove { on, leftover },
            changes: Vec::new(),
            origin: None,
        })
    };
    steps.extend(diff.leftovers.iter().filter_map(|c| remove(c, true)));
    let mut kept = Vec::new();
    for c in &diff.orphans {
        if options.prune {
            steps.extend(remove(c, false));
        } else {
            kept.push(c.name.clone());
        }
    }
    steps.sort_by(|a, b| (&a.service, a.instance, a.action()).cmp(&(&b.service, b.instance, b.action())));
    let object = match options.mode {
        Mode::Docker => "container",
        Mode::Swarm => "service",
    };
    let errors = diff
        .clashes
        .iter()
        .map(|c| Refusal {
            service: Some(c.service.clone()),
            message: format!("the {object} name `{}` for `{}` is taken by a {object} berth does not manage; berth will not touch it", c.name, c.service),
            at: diff.instances.iter().find(|i| i.service == c.service).map(|i| i.origin.clone()),
            help: Some(format!("remove or rename that {object}, or rename the service")),
        })
        .chain(diff.refusals.iter().cloned())
        .collect();
    let entries = diff
        .entries
        .as_ref()
        .map_or_else(EntrySteps::default, |e| EntrySteps {
            write: e
                .desired
                .iter()
                .filter(|name| {
                    steps
                        .iter()
                        .any(|s| &s.service == *name && s.action() != Action::Remove)
                })
                .cloned()
                .collect(),
            remove: if options.prune {
                e.stale.clone()
            } else {
                Vec::new()
            },
            left: e.changed.clone(),
        });
    Plan {
        network: diff.missing_network.clone(),
        // Only when no container of the project is left on it: none kept (prune off)
        // may still be attached.
        remove_network: diff
            .idle_network
            .clone()
            .filter(|_| options.prune || diff.orphans.is_empty()),
        steps,
        errors,
        warnings: diff.warnings.clone(),
        kept,
        mode: options.mode,
        entries,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::diff::{DiffOptions, diff};
    use crate::plan::fake::FakeEngine;
    use std::collections::BTreeMap;

    use crate::live::{Container, LiveState, Owner, RunState, SwarmService};
    use crate::model::fixtures::{self, FakeDigests};
    use crate::model::{DesiredState, Model, Service, Text};

    fn service(name: &str, env: &str, memory: u64, replicas: u32, running: bool) -> Service {
        let mut s = fixtures::service(name);
        s.env.insert("LOG".into(), Text::literal(env));
        // In units of 16 MiB: above the engine's 6 MiB minimum.
        s.resources.memory_limit_bytes = Some(memory << 24);
        s.replicas = replicas;
        s.state = if running {
            DesiredState::Running
        } else {
            DesiredState::Stopped
        };
        s
    }

    /// Project `p` of installation `i`, containers on one engine.
    fn diff_options() -> DiffOptions<'static> {
        DiffOptions {
            project: "p",
            installation: "i",
            default_image: "none",
            digests: &FakeDigests,
            mode: Mode::Docker,
            external_network: None,
        }
    }

    fn plan_for(model: &Model, live: &LiveState, prune: bool) -> Plan {
        let options = PlanOptions {
            prune,
            mode: Mode::Docker,
        };
        plan(&diff(model, live, &diff_options()), &options)
    }

    fn converge(model: &Model, engine: &mut FakeEngine) -> Plan {
        let p = plan_for(model, &engine.state, true);
        engine.apply_plan(&p);
        p
    }

    fn actions(p: &Plan) -> Vec<(Action, &str)> {
        p.steps.iter().map(|s| (s.action(), s.name.as_str())).collect()
    }

    /// A COSMOS MICROSERVICE with one OPTION, as the front end makes it.
    fn microservice(period: &str) -> Service {
        let text = format!("MICROSERVICE BG bg\n  CMD run\n  OPTION PERIOD {period}\n");
        let file = crate::source::SourceFile::new("plugin.txt", text);
        let options = crate::compile::cosmos::install::InstallOptions::default();
        let (plugin, _) = crate::compile::cosmos::install::install(&file, &options);
        let mut s = crate::compile::cosmos::lower::lower(&plugin, &options).remove(0);
        s.image = Some("demo:1".into());
        s
    }

    /// Attached mode: the entry berth writes is the configuration's, over nothing but
    /// its own; a changed one is rewritten with a replace; one berth did not write is
    /// refused; a pruned one is removed unless it changed since.
    #[test]
    fn cosmos_entries_are_written_rewritten_refused_or_left_as_they_deserve() {
        use crate::live::{Entries, Found, Written};
        use crate::model::entry::{config_digest, digest, entry};
        let name = "DEFAULT__USER__BG";
        let model = Model {
            services: vec![microservice("30")],
        };
        let written = |s: &Service| {
            let e = entry(s, &|t| t.to_string()).expect("an entry");
            let config = crate::model::canonical::cosmos_form(s, &FakeDigests).expect("a form");
            (
                Found {
                    digest: digest(&e),
                    text: crate::secret::Secret::new(serde_json::Value::Object(e).to_string()),
                },
                Written {
                    installation: "i".into(),
                    project: "p".into(),
                    digest: digest(&entry(s, &|t| t.to_string()).expect("an entry")),
                    config: config_digest(&config),
                },
            )
        };
        let attached = |present: Option<Found>, record: Option<Written>| {
            let mut engine = FakeEngine::new("p", LiveState::default());
            engine.state.cosmos = Some(Entries::default());
            converge(&model, &mut engine);
            let mut live = engine.state.clone();
            live.cosmos = Some(Entries {
                present: [(name.to_string(), present)].into(),
                written: record.map(|r| (name.to_string(), r)).into_iter().collect(),
            });
            live
        };
        let (found, record) = written(&model.services[0]);

        // Fresh: the create writes it.
        let mut fresh = LiveState {
            cosmos: Some(Entries::default()),
            ..LiveState::default()
        };
        fresh.cosmos.as_mut().map(|e| e.present.insert(name.into(), None));
        let p = plan_for(&model, &fresh, true);
        assert_eq!(p.entries.write, [name]);

        // As written: nothing to do.
        let live = attached(Some(found.clone()), Some(record.clone()));
        assert!(plan_for(&model, &live, true).is_empty());

        // Missing, changed in Redis, or from another configuration: rewritten, replaced.
        let mut other = record.clone();
        other.config = "another".into();
        let mut changed = found.clone();
        changed.digest = "changed".into();
        for (live, why) in [
            (attached(None, Some(record.clone())), "missing"),
            (
                attached(Some(changed.clone()), Some(record.clone())),
                "changed in Redis since berth wrote it",
            ),
            (
                attached(Some(found.clone()), Some(other)),
                "written from another configuration",
            ),
        ] {
            let p = plan_for(&model, &live, true);
            assert_eq!(actions(&p), [(Action::Replace, "p-DEFAULT__USER__BG-0")], "{why}");
            assert_eq!(p.steps[0].changes[0].from, why);
            assert_eq!(p.entries.write, [name], "{why}");
        }

        // Someone else's: refused, whoever wrote it.
        let mut theirs = record.clone();
        theirs.installation = "another".into();
        for record in [None, Some(theirs)] {
            let p = plan_for(&model, &attached(Some(found.clone()), record), true);
            assert!(
                p.errors
                    .iter()
                    .any(|e| e.message.contains("already has an entry")),
                "{:?}",
                p.errors
            );
        }

        // Pruned: berth's own is removed; one changed since is left, and said so.
        let none = Model::default();
        let p = plan_for(&none, &attached(Some(found.clone()), Some(record.clone())), true);
        assert_eq!(
            (p.entries.remove.as_slice(), p.entries.left.len()),
            ([name.to_string()].as_slice(), 0)
        );
        let p = plan_for(&none, &attached(Some(changed), Some(record.clone())), true);
        assert_eq!(
            (p.entries.remove.len(), p.entries.left.as_slice()),
            (0, [name.to_string()].as_slice())
        );
        assert!(
            plan_for(&none, &attached(Some(found), Some(record)), false)
                .entries
                .remove
                .is_empty(),
            "only under prune"
        );
    }

    #[test]
    fn each_kind_of_change_gets_its_action() {
        let model = Model {
            services: vec![
                service("a", "info", 100, 1, true),
                service("b", "info", 100, 1, true),
            ],
        };
        let mut engine = FakeEngine::new("p", LiveState::default());
        let first = converge(&model, &mut engine);
        assert_eq!(
            actions(&first),
            [(Action::Create, "p-a-0"), (Action::Create, "p-b-0")]
        );
        assert!(plan_for(&model, &engine.state, true).is_empty(), "converged");

        // env → replace; memory → update in place; stopped by hand → start.
        let mut changed = model.clone();
        changed.services[0]
            .env
            .insert("LOG".into(), Text::literal("debug"));
        changed.services[1].resources.memory_limit_bytes = Some(200);
        let p = plan_for(&changed, &engine.state, true);
        assert_eq!(
            actions(&p),
            [(Action::Replace, "p-a-0"), (Action::Update, "p-b-0")]
        );
        assert_eq!(p.steps[0].changes[0].path, "env.LOG");
        assert!(p.steps[1].changes.iter().all(|c| c.in_place));

        engine.state.containers[0].state = RunState::Exited;
        let p = plan_for(&model, &engine.state, true);
        assert_eq!(actions(&p), [(Action::Start, "p-a-0")]);

        // Gone from the model: removed only under prune.
        let fewer = Model {
            services: vec![model.services[0].clone()],
        };
        engine.state.containers[0].state = RunState::Running;
        assert_eq!(plan_for(&fewer, &engine.state, false).kept, ["p-b-0"]);
        assert_eq!(
            actions(&plan_for(&fewer, &engine.state, true)),
            [(Action::Remove, "p-b-0")]
        );
    }

    #[test]
    fn a_project_pruned_to_nothing_removes_its_network_last() {
        let model = Model {
            services: vec![service("a", "info", 1, 1, true)],
        };
        let mut engine = FakeEngine::new("p", LiveState::default());
        converge(&model, &mut engine);
        assert!(engine.state.network);
        let empty = Model::default();
        // Kept containers still need it.
        assert_eq!(plan_for(&empty, &engine.state, false).remove_network, None);
        let p = plan_for(&empty, &engine.state, true);
        assert_eq!(actions(&p), [(Action::Remove, "p-a-0")]);
        assert_eq!(p.remove_network.as_deref(), Some("p-net"));
        engine.apply_plan(&p);
        assert!(!engine.state.network);
        assert!(plan_for(&empty, &engine.state, true).is_empty(), "converged");
        // A network of that name berth did not make is never removed.
        let theirs = LiveState {
            network: true,
            own_network: false,
            ..LiveState::default()
        };
        assert_eq!(plan_for(&empty, &theirs, true).remove_network, None);
        // --target never removes the network.
        assert_eq!(
            plan_for(
                &empty,
                &LiveState {
                    network: true,
                    ..LiveState::default()
                },
                true
            )
            .only(&["a".into()])
            .remove_network,
            None
        );
    }

    #[test]
    fn held_services_keep_their_containers_and_leave_the_digest() {
        let model = Model {
            services: vec![service("a", "info", 1, 1, true), service("b", "info", 1, 1, true)],
        };
        let mut engine = FakeEngine::new("p", LiveState::default());
        converge(&model, &mut engine);
        let changed = Model {
            services: vec![
                service("a", "debug", 1, 1, true),
                service("b", "debug", 1, 1, true),
            ],
        };
        let mut p = plan_for(&changed, &engine.state, true);
        p.errors.push(Refusal {
            service: Some("a".into()),
            message: "a's".into(),
            at: None,
            help: None,
        });
        p.hold(|s| s == "a");
        assert_eq!(actions(&p), [(Action::Replace, "p-b-0")]);
        assert!(p.errors.is_empty(), "a held service's errors wait with it");
        // Pruned to nothing but a held service: the network stays for it.
        let mut emptied = plan_for(&Model::default(), &engine.state, true);
        emptied.hold(|s| s == "a");
        assert_eq!(actions(&emptied), [(Action::Remove, "p-b-0")]);
        assert_eq!(emptied.remove_network, None);
        // The digest without a held service is the digest of the rest alone.
        let options = diff_options();
        let only_b = Model {
            services: vec![service("b", "debug", 1, 1, true)],
        };
        let both = diff(&changed, &engine.state, &options);
        assert_eq!(
            desired_digest(&both, |s| s == "a"),
            desired_digest(&diff(&only_b, &engine.state, &options), |_| false)
        );
        assert_ne!(
            desired_digest(&both, |s| s == "a"),
            desired_digest(&both, |_| false)
        );
    }

    #[test]
    fn a_name_taken_by_an_unmanaged_container_is_an_error_and_untouched() {
        let model = Model {
            services: vec![service("a", "info", 100, 1, true)],
        };
        let live = LiveState {
            containers: vec![Container {
                id: "theirs".into(),
                name: "p-a-0".into(),
                state: RunState::Running,
                restarts: 0,
                owner: None,
                swarm: None,
            }],
            ..LiveState::default()
        };
        let p = plan_for(&model, &live, true);
        assert!(p.steps.is_empty());
        assert_eq!(p.errors.len(), 1);
    }

    #[test]
    fn a_new_image_behind_the_same_tag_replaces() {
        let model = Model {
            services: vec![service("a", "info", 100, 1, true)],
        };
        let mut engine = FakeEngine::new("p", LiveState::default());
        engine.state.images.insert("demo:1".into(), "sha256:old".into());
        converge(&model, &mut engine);
        engine.state.images.insert("demo:1".into(), "sha256:new".into());
        let p = plan_for(&model, &engine.state, true);
        assert_eq!(actions(&p), [(Action::Replace, "p-a-0")]);
        assert_eq!(p.steps[0].changes[0].path, "image-id");
    }

    /// The plan for a swarm whose one service `a` was created from `created` with
    /// `replicas`, on nodes with `nodes` labels.
    fn swarm_plan(
        model: &Model,
        created: &Service,
        replicas: u32,
        nodes: Vec<BTreeMap<String, String>>,
    ) -> Plan {
        let swarm = DiffOptions {
            mode: Mode::Swarm,
            ..diff_options()
        };
        let (spec, hash) = crate::diff::desired(created, &LiveState::default(), &swarm);
        let live = LiveState {
            containers: vec![Container {
                id: "svc1".into(),
                name: "p-a".into(),
                state: RunState::Running,
                restarts: 0,
                owner: Some(Owner {
                    project: "p".into(),
                    service: "a".into(),
                    instance: 0,
                    spec_hash: hash,
                    resources: spec.resources.clone(),
                    spec: Some(spec),
                    image_id: String::new(),
                    commit: None,
                }),
                swarm: Some(SwarmService {
                    version: 7,
                    replicas,
                    ..SwarmService::default()
                }),
            }],
            nodes,
            network: true,
            ..LiveState::default()
        };
        let options = PlanOptions {
            prune: true,
            mode: Mode::Swarm,
        };
        plan(&diff(model, &live, &swarm), &options)
    }

    #[test]
    fn a_swarm_service_is_one_object_updated_in_place_at_its_version() {
        let a = service("a", "info", 100, 2, true);
        let model = Model {
            services: vec![a.clone()],
        };
        assert!(swarm_plan(&model, &a, 2, vec![]).is_empty(), "converged");

        // Any change is a rolling update of the one service, naming the version planned.
        let mut changed = model.clone();
        changed.services[0]
            .env
            .insert("LOG".into(), Text::literal("debug"));
        changed.services[0].replicas = 3;
        let p = swarm_plan(&changed, &a, 2, vec![]);
        assert_eq!(actions(&p), [(Action::Update, "p-a")]);
        assert_eq!(p.steps[0].existing().and_then(|e| e.version), Some(7));
        let paths: Vec<&str> = p.steps[0].changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["env.LOG", "replicas"]);
        assert!(p.steps[0].changes.iter().all(|c| c.in_place));

        // Stopped is no replicas, not a stop step.
        let mut stopped = model.clone();
        stopped.services[0].state = DesiredState::Stopped;
        let p = swarm_plan(&stopped, &a, 2, vec![]);
        assert_eq!(actions(&p), [(Action::Update, "p-a")]);
        assert_eq!(
            (
                p.steps[0].changes[0].from.clone(),
                p.steps[0].changes[0].to.clone()
            ),
            (2.into(), 0.into())
        );

        // Gone from the model: the service is removed.
        assert_eq!(
            actions(&swarm_plan(&Model::default(), &a, 2, vec![])),
            [(Action::Remove, "p-a")]
        );
    }

    #[test]
    fn a_shard_no_node_carries_is_an_error() {
        let mut a = service("a", "info", 100, 1, true);
        a.placement = vec!["node.labels.berth.shard==1".into()];
        let model = Model {
            services: vec![a.clone()],
        };
        let shard = |n: &str| BTreeMap::from([("berth.shard".to_string(), n.to_string())]);
        let p = swarm_plan(&model, &a, 1, vec![shard("0")]);
        assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
        assert!(
            p.errors[0].to_string().contains("berth.shard=1"),
            "{}",
            p.errors[0]
        );
        assert!(
            swarm_plan(&model, &a, 1, vec![shard("0"), shard("1")])
                .errors
                .is_empty()
        );
    }

    #[test]
    fn new_registry_credentials_update_a_swarm_service_and_nothing_on_one_engine() {
        use crate::model::RegistryAuth;
        let mut a = service("a", "info", 100, 1, true);
        a.pull.auth = Some(RegistryAuth {
            username: Text::literal("puller"),
            password: Text::literal("one").sensitive(),
        });
        let model = Model {
            services: vec![a.clone()],
        };
        let mut created = a.clone();
        let p = swarm_plan(&model, &created, 1, vec![]);
        assert!(p.is_empty(), "{:?}", actions(&p));
        created.pull.auth = Some(RegistryAuth {
            username: Text::literal("puller"),
            password: Text::literal("before").sensitive(),
        });
        let p = swarm_plan(&model, &created, 1, vec![]);
        assert_eq!(actions(&p), [(Action::Update, "p-a")]);
        let paths: Vec<&str> = p.steps[0].changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["registry_auth"]);

        // One engine pulls with them and keeps nothing: not part of a container.
        let mut engine = FakeEngine::new("p", LiveState::default());
        converge(&model, &mut engine);
        let mut changed = model.clone();
        changed.services[0].pull.auth = created.pull.auth.clone();
        let p = plan_for(&changed, &engine.state, true);
        assert!(p.is_empty(), "{:?}", p.steps);
    }

    #[test]
    fn a_probe_swarm_cannot_run_is_a_warning_of_the_plan_never_an_error() {
        use crate::model::{Probe, ProbeAction};
        let probe = |action| Probe {
            action,
            initial_delay_seconds: 0,
            period_seconds: 1,
            timeout_seconds: 1,
            success_threshold: 1,
            failure_threshold: 1,
        };
        let http = probe(ProbeAction::Http {
            path: "/health".into(),
            port: 80,
            https: false,
            headers: BTreeMap::new(),
        });
        let exec = probe(ProbeAction::Exec {
            command: vec!["/check".into()],
        });
        let mut a = service("a", "info", 100, 1, true);
        a.probes.readiness = Some(http.clone());
        a.probes.liveness = Some(exec.clone());
        let model = Model {
            services: vec![a.clone()],
        };
        let p = swarm_plan(&model, &a, 1, vec![]);
        assert!(p.errors.is_empty() && p.is_empty(), "{:?}", p.errors);
        let said: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].contains("its readiness HTTP probe (GET /health on port 80) does not run on Swarm"),
            "{said:?}"
        );
        assert!(
            crate::plan::view::human(&p, false).contains("Warning: "),
            "the plan says it"
        );

        // An exec liveness probe is the tasks' health check; the same as readiness too.
        a.probes.readiness = Some(exec.clone());
        let model = Model {
            services: vec![a.clone()],
        };
        assert!(swarm_plan(&model, &a, 1, vec![]).warnings.is_empty());
        // A TCP liveness probe is not.
        a.probes.liveness = Some(probe(ProbeAction::Tcp { port: 80 }));
        let model = Model {
            services: vec![a.clone()],
        };
        let p = swarm_plan(&model, &a, 1, vec![]);
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert!(
            p.warnings[0]
                .to_string()
                .contains("its liveness TCP probe (port 80)")
        );
        // One engine runs them all: no warning.
        assert!(plan_for(&model, &LiveState::default(), true).warnings.is_empty());
    }

    fn arb_model() -> impl Strategy<Value = Model> {
        proptest::collection::btree_map("[a-e]", ("[a-c]", 1u64..4, 0u32..3, any::<bool>()), 0..5).prop_map(
            |services| Model {
                services: services
                    .into_iter()
                    .map(|(name, (env, mem, replicas, running))| service(&name, &env, mem, replicas, running))
                    .collect(),
            },
        )
    }

    proptest! {
        /// From any earlier state (another model applied, then containers stopped or
        /// deleted by hand), one plan applied leaves nothing to do, and planning is
        /// deterministic.
        #[test]
        fn one_apply_converges(before in arb_model(), after in arb_model(), stop in any::<u8>(), delete in any::<u8>(), crash in any::<u8>()) {
            let mut engine = FakeEngine::new("p", LiveState::default());
            converge(&before, &mut engine);
            for (i, c) in engine.state.containers.iter_mut().enumerate() {
                if stop as usize % 5 == i { c.state = RunState::Exited; }
            }
            if !engine.state.containers.is_empty() && delete % 3 == 0 {
                let i = delete as usize % engine.state.containers.len();
                engine.state.containers.remove(i);
            }
            // An apply killed mid-replace leaves the new container under its temporary
            // name, and, killed mid-handover, the old one under its retiring name.
            if !engine.state.containers.is_empty() && crash % 4 == 0 {
                let i = crash as usize % engine.state.containers.len();
                let mut next = engine.state.containers[i].clone();
                next.id.push_str("-next");
                next.name.push_str("-next");
                engine.state.containers.push(next);
                if crash % 8 == 4 {
                    engine.state.containers[i].name.push_str("-old");
                }
            }
            prop_assert_eq!(plan_for(&after, &engine.state, true), plan_for(&after, &engine.state, true));
            converge(&after, &mut engine);
            let again = plan_for(&after, &engine.state, true);
            prop_assert!(again.is_empty(), "{:?}", again.steps);
        }
    }
}
