//! A fake engine for tests of the pure core: it carries out plan steps on a `LiveState`,
//! as the Docker engine would, so that convergence can be checked (apply a plan, plan
//! again, nothing left).

use crate::live::{Container, LiveState, Owner, RunState};
use crate::plan::{Action, Plan, Step};

/// A fake engine for one project.
#[derive(Debug, Clone, Default)]
pub struct FakeEngine {
    pub project: String,
    pub state: LiveState,
    next_id: u64,
}

impl FakeEngine {
    pub fn new(project: &str, state: LiveState) -> FakeEngine {
        FakeEngine {
            project: project.to_string(),
            state,
            next_id: 0,
        }
    }

    /// Carries out a whole plan, network first.
    pub fn apply_plan(&mut self, plan: &Plan) {
        if plan.network.is_some() {
            self.state.network = true;
            self.state.own_network = true;
        }
        for step in &plan.steps {
            self.apply(step);
        }
        if plan.remove_network.is_some() {
            self.state.network = false;
            self.state.own_network = false;
        }
    }

    /// Carries out one step as the Docker engine would.
    pub fn apply(&mut self, step: &Step) {
        let by_id = |c: &Container| Some(c.id.as_str()) == step.id();
        match step.action() {
            Action::Create | Action::Replace => {
                self.state.containers.retain(|c| !by_id(c));
                let Some((spec, hash)) = step.spec() else {
                    return;
                };
                self.next_id += 1;
                let image_id = self.state.images.get(&spec.image).cloned().unwrap_or_default();
                self.state.containers.push(Container {
                    id: format!("fake{}", self.next_id),
                    name: step.name.clone(),
                    state: if step.starts() {
                        RunState::Running
                    } else {
                        RunState::Created
                    },
                    restarts: 0,
                    owner: Some(Owner {
                        project: self.project.clone(),
                        service: step.service.clone(),
                        instance: step.instance,
                        spec_hash: hash.to_string(),
                        spec: Some(spec.clone()),
                        image_id,
                        commit: None,
                        resources: spec.resources.clone(),
                    }),
                    swarm: None,
                });
            }
            Action::Update => {
                if let Some(owner) = self
                    .state
                    .containers
                    .iter_mut()
                    .find(|c| by_id(c))
                    .and_then(|c| c.owner.as_mut())
                    && let Some((spec, _)) = step.spec()
                {
                    // Like `docker update`: the resources change, the labels cannot.
                    owner.resources = spec.resources.clone();
                }
            }
            Action::Start | Action::Stop => {
                if let Some(c) = self.state.containers.iter_mut().find(|c| by_id(c)) {
                    c.state = if step.action() == Action::Start {
                        RunState::Running
                    } else {
                        RunState::Exited
                    };
                }
            }
            Action::Remove => self.state.containers.retain(|c| !by_id(c)),
        }
    }
}
