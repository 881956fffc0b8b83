//! What to do about a `Diff`: one step per container — create, update in place,
//! replace, start, stop or remove — with the reasons, in a stable order. Pure: the plan
//! is data; `apply` carries it out.

pub mod view;

use sha2::{Digest as _, Sha256};

use crate::diff::{Change, Diff};
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

/// One step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub action: Action,
    pub service: String,
    pub instance: u32,
    /// The container's name on the engine.
    pub name: String,
    /// The existing container (not for `Create`).
    pub id: Option<String>,
    /// What the container is to be created from (`Create`, `Replace`), or updated to.
    pub spec: Option<Spec>,
    pub hash: Option<String>,
    /// For `Create` and `Replace`: start the new container.
    pub start: bool,
    /// Why: the changed fields; empty for a missing or stopped container.
    pub changes: Vec<Change>,
    /// Where the service is declared (not for `Remove`).
    pub origin: Option<Origin>,
    /// A `Remove` of a container left over from an interrupted apply.
    pub leftover: bool,
}

/// What apply will do, and what stops it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The project network to create before any container.
    pub network: Option<String>,
    pub steps: Vec<Step>,
    /// Problems that forbid applying: names taken by containers berth does not own.
    pub errors: Vec<String>,
    /// Managed containers nothing asks for, left alone because prune is off.
    pub kept: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// Remove managed containers that left the desired state.
    pub prune: bool,
}

impl Step {
    /// `replace p-web-0 (env.LOG_LEVEL, memory)`: the action, the container and the
    /// fields that cause it.
    pub fn summary(&self) -> String {
        let fields: Vec<&str> = self.changes.iter().map(|c| c.path.as_str()).collect();
        if fields.is_empty() {
            format!("{} {}", self.action.name(), self.name)
        } else {
            format!("{} {} ({})", self.action.name(), self.name, fields.join(", "))
        }
    }
}

impl Plan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.network.is_none()
    }

    /// Only what concerns the named services (`--target`): their steps, the errors that
    /// name them, and the network when one of them needs it.
    pub fn only(mut self, services: &[String]) -> Plan {
        let wanted = |s: &str| services.iter().any(|t| t == s);
        self.steps.retain(|s| wanted(&s.service));
        self.errors
            .retain(|e| services.iter().any(|t| e.contains(&format!("`{t}`"))));
        self.kept.clear();
        if !self
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::Create | Action::Replace))
        {
            self.network = None;
        }
        self
    }
}

/// The digest of the desired state a plan is made from: every desired container's name,
/// spec hash and running state. A saved plan is stale when this changes.
pub fn desired_digest(diff: &Diff) -> String {
    let mut h = Sha256::new();
    for i in &diff.instances {
        h.update(format!("{}\0{}\0{}\n", i.name, i.hash, i.want_running));
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

pub fn plan(diff: &Diff, options: &PlanOptions) -> Plan {
    let mut steps = Vec::new();
    for i in &diff.instances {
        let step = |action, id: Option<&str>, changes: Vec<Change>| Step {
            action,
            service: i.service.clone(),
            instance: i.instance,
            name: i.name.clone(),
            id: id.map(String::from),
            spec: matches!(action, Action::Create | Action::Replace | Action::Update).then(|| i.spec.clone()),
            hash: matches!(action, Action::Create | Action::Replace | Action::Update).then(|| i.hash.clone()),
            start: i.want_running,
            changes,
            origin: Some(i.origin.clone()),
            leftover: false,
        };
        let Some(live) = &i.live else {
            if !diff.clashes.iter().any(|c| c.name == i.name) {
                steps.push(step(Action::Create, None, Vec::new()));
            }
            continue;
        };
        let id = Some(live.id.as_str());
        if !live.changes.is_empty() {
            if live.changes.iter().all(|c| c.in_place) {
                steps.push(step(Action::Update, id, live.changes.clone()));
            } else {
                steps.push(step(Action::Replace, id, live.changes.clone()));
                continue; // the new container starts (or not) as desired
            }
        }
        if i.want_running && !live.state.is_running() {
            steps.push(step(Action::Start, id, Vec::new()));
        } else if !i.want_running && live.state.is_running() {
            steps.push(step(Action::Stop, id, Vec::new()));
        }
    }
    let remove = |c: &Container, leftover: bool| {
        let owner = c.owner.as_ref()?;
        Some(Step {
            action: Action::Remove,
            service: owner.service.clone(),
            instance: owner.instance,
            name: c.name.clone(),
            id: Some(c.id.clone()),
            spec: None,
            hash: None,
            start: false,
            changes: Vec::new(),
            origin: None,
            leftover,
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
    steps.sort_by(|a, b| (&a.service, a.instance, a.action).cmp(&(&b.service, b.instance, b.action)));
    let errors = diff
        .clashes
        .iter()
        .map(|c| format!("the container name `{}` for `{}` is taken by a container berth does not manage; berth will not touch it", c.name, c.service))
        .collect();
    Plan {
        network: diff.missing_network.clone(),
        steps,
        errors,
        kept,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::diff::{DiffOptions, diff};
    use crate::engine::fake::FakeEngine;
    use crate::live::{Container, LiveState, RunState};
    use crate::model::fixtures::{self, FakeDigests};
    use crate::model::{DesiredState, Model, Service, Text};

    fn service(name: &str, env: &str, memory: u64, replicas: u32, running: bool) -> Service {
        let mut s = fixtures::service(name);
        s.env.insert("LOG".into(), Text::literal(env));
        s.resources.memory_limit_bytes = Some(memory);
        s.replicas = replicas;
        s.state = if running {
            DesiredState::Running
        } else {
            DesiredState::Stopped
        };
        s
    }

    fn plan_for(model: &Model, live: &LiveState, prune: bool) -> Plan {
        let options = DiffOptions {
            project: "p",
            default_image: "none",
            digests: &FakeDigests,
        };
        plan(&diff(model, live, &options), &PlanOptions { prune })
    }

    fn converge(model: &Model, engine: &mut FakeEngine) -> Plan {
        let p = plan_for(model, &engine.state, true);
        engine.apply_plan(&p);
        p
    }

    fn actions(p: &Plan) -> Vec<(Action, &str)> {
        p.steps.iter().map(|s| (s.action, s.name.as_str())).collect()
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
            // An apply killed mid-replace leaves the new container under its temporary name.
            if !engine.state.containers.is_empty() && crash % 4 == 0 {
                let i = crash as usize % engine.state.containers.len();
                let mut next = engine.state.containers[i].clone();
                next.id.push_str("-next");
                next.name.push_str("-next");
                engine.state.containers.push(next);
            }
            prop_assert_eq!(plan_for(&after, &engine.state, true), plan_for(&after, &engine.state, true));
            converge(&after, &mut engine);
            let again = plan_for(&after, &engine.state, true);
            prop_assert!(again.is_empty(), "{:?}", again.steps);
        }
    }
}
