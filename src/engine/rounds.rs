//! One look at the swarm per poll round, shared by every service of an apply that is
//! converging at the same time: three requests a round whatever their number, and one
//! clock of progress for all of them, so that a service whose task waits in a busy
//! node's queue is not given up on while the swarm keeps working through that queue.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bollard::models::{Service, Task};

use super::EngineError;

/// How long a look serves every waiter before the next is taken.
const ROUND: Duration = Duration::from_millis(250);

/// A node's labels, and its CPUs (millicores) and memory (bytes) when it reports them.
pub(super) type Placeable = (BTreeMap<String, String>, (Option<u64>, Option<u64>));

/// The swarm's nodes, listed once per observation.
#[derive(Default)]
pub(super) struct Nodes {
    /// The placeable ones (ready and active).
    pub(super) placeable: Vec<Placeable>,
    /// Every node's name, by ID.
    pub(super) names: BTreeMap<String, String>,
    /// The IDs of those that are not ready (down, or unknown): a task Swarm last saw
    /// running on one is not running for berth.
    pub(super) down: BTreeSet<String>,
    /// Every node, for status.
    pub(super) shown: Vec<crate::live::Node>,
}

/// The services being converged and the last look at them.
#[derive(Default)]
pub struct Rounds {
    /// The services being waited on, with how many waiters each (a create that fails
    /// removes its service while another step may still look).
    watched: Mutex<BTreeMap<String, usize>>,
    last: tokio::sync::Mutex<Option<Arc<Look>>>,
}

/// The swarm as one round saw it: the watched services, their tasks and the nodes.
pub(super) struct Look {
    at: Instant,
    ids: BTreeSet<String>,
    pub(super) services: HashMap<String, Service>,
    pub(super) tasks: HashMap<String, Vec<Task>>,
    pub(super) nodes: Nodes,
    /// What moves as Swarm works: every task's state and every rollout's.
    states: BTreeMap<String, String>,
    /// When anything watched last moved (a task or a rollout changing state, a task or
    /// a service appearing).
    pub(super) progress: Instant,
}

/// Stops watching a service when its waiter is done, however it ends.
pub(super) struct Watching<'a> {
    rounds: &'a Rounds,
    id: String,
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        let mut watched = self.rounds.watched.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = watched.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                watched.remove(&self.id);
            }
        }
    }
}

impl Rounds {
    /// Watches service `id` until the returned guard is dropped.
    pub(super) fn watch(&self, id: &str) -> Watching<'_> {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        *watched.entry(id.to_string()).or_default() += 1;
        Watching {
            rounds: self,
            id: id.to_string(),
        }
    }

    /// The latest look, taken anew (with `fetch`, given the watched IDs) when the last
    /// one is older than a round or does not cover every watched service; concurrent
    /// callers wait for the same one.
    pub(super) async fn look<F, Fut>(&self, fetch: F) -> Result<Arc<Look>, EngineError>
    where
        F: FnOnce(Vec<String>) -> Fut,
        Fut: Future<Output = Result<(Vec<Service>, Vec<Task>, Nodes), EngineError>>,
    {
        let ids: BTreeSet<String> = {
            let watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
            watched.keys().cloned().collect()
        };
        let mut last = self.last.lock().await;
        if let Some(look) = last
            .as_ref()
            .filter(|l| l.at.elapsed() < ROUND && ids.is_subset(&l.ids))
        {
            return Ok(look.clone());
        }
        let (services, tasks, nodes) = fetch(ids.iter().cloned().collect()).await?;
        let look = Arc::new(Look::new(ids, services, tasks, nodes, last.as_deref()));
        *last = Some(look.clone());
        Ok(look)
    }
}

impl Look {
    fn new(
        ids: BTreeSet<String>,
        services: Vec<Service>,
        tasks: Vec<Task>,
        nodes: Nodes,
        previous: Option<&Look>,
    ) -> Look {
        let mut states = BTreeMap::new();
        let services: HashMap<String, Service> = services
            .into_iter()
            // The ID filter matches prefixes.
            .filter(|s| s.id.as_ref().is_some_and(|id| ids.contains(id)))
            .map(|s| {
                let id = s.id.clone().unwrap_or_default();
                let status = s.update_status.as_ref();
                let rollout = format!(
                    "{:?} {:?}",
                    status.and_then(|u| u.state),
                    status.and_then(|u| u.message.clone())
                );
                states.insert(format!("service {id}"), rollout);
                (id, s)
            })
            .collect();
        for t in &tasks {
            let id = t.id.clone().unwrap_or_default();
            let state = t.status.as_ref().and_then(|s| s.state).map(|s| s.to_string());
            states.insert(format!("task {id}"), state.unwrap_or_default());
        }
        // Progress is anything new or changed (a service newly waited on too: its step
        // just began); a task or service gone is not.
        let moved = previous
            .is_none_or(|p| !ids.is_subset(&p.ids) || states.iter().any(|(k, v)| p.states.get(k) != Some(v)));
        let now = Instant::now();
        Look {
            at: now,
            ids,
            services,
            tasks: by_service(tasks),
            nodes,
            states,
            progress: match previous {
                Some(p) if !moved => p.progress,
                _ => now,
            },
        }
    }
}

/// Tasks by the ID of their service.
pub(super) fn by_service(tasks: Vec<Task>) -> HashMap<String, Vec<Task>> {
    let mut grouped: HashMap<String, Vec<Task>> = HashMap::new();
    for t in tasks {
        grouped
            .entry(t.service_id.clone().unwrap_or_default())
            .or_default()
            .push(t);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use bollard::models::{ServiceUpdateStatus, ServiceUpdateStatusStateEnum, TaskState, TaskStatus};

    use super::*;

    fn task(id: &str, service: &str, state: TaskState) -> Task {
        Task {
            id: Some(id.into()),
            service_id: Some(service.into()),
            status: Some(TaskStatus {
                state: Some(state),
                ..TaskStatus::default()
            }),
            ..Task::default()
        }
    }

    fn service(id: &str, state: Option<ServiceUpdateStatusStateEnum>) -> Service {
        Service {
            id: Some(id.into()),
            update_status: state.map(|state| ServiceUpdateStatus {
                state: Some(state),
                ..ServiceUpdateStatus::default()
            }),
            ..Service::default()
        }
    }

    fn look(tasks: Vec<Task>, services: Vec<Service>, previous: Option<&Look>) -> Look {
        let ids = ["s1", "s2"].map(String::from).into();
        Look::new(ids, services, tasks, Nodes::default(), previous)
    }

    #[test]
    fn a_service_newly_waited_on_is_progress_even_when_nothing_else_moved() {
        let only = |ids: &[&str], previous: Option<&Look>| {
            let ids = ids.iter().map(|s| s.to_string()).collect();
            Look::new(
                ids,
                vec![service("s1", None)],
                Vec::new(),
                Nodes::default(),
                previous,
            )
        };
        let first = only(&["s1"], None);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(only(&["s1"], Some(&first)).progress, first.progress);
        // s2's step began: whatever the swarm shows, its clock starts now.
        assert!(only(&["s1", "s2"], Some(&first)).progress > first.progress);
    }

    #[test]
    fn any_watched_task_or_rollout_moving_is_progress_for_all() {
        let first = look(
            vec![
                task("t1", "s1", TaskState::PREPARING),
                task("t2", "s2", TaskState::PENDING),
            ],
            vec![service("s1", None), service("s2", None)],
            None,
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
        // Nothing moved: the clock stays where it was.
        let same = look(
            vec![
                task("t1", "s1", TaskState::PREPARING),
                task("t2", "s2", TaskState::PENDING),
            ],
            vec![service("s2", None), service("s1", None)],
            Some(&first),
        );
        assert_eq!(same.progress, first.progress);
        std::thread::sleep(std::time::Duration::from_millis(5));
        // s2's task waits in its node's queue while s1's starts: progress for both.
        let moved = look(
            vec![
                task("t1", "s1", TaskState::RUNNING),
                task("t2", "s2", TaskState::PENDING),
            ],
            vec![service("s1", None), service("s2", None)],
            Some(&same),
        );
        assert!(moved.progress > same.progress);
        assert_eq!(moved.tasks["s2"].len(), 1);
        // A task gone (s1's, replaced) is not progress; a rollout changing state is.
        let gone = look(
            vec![task("t2", "s2", TaskState::PENDING)],
            vec![service("s1", None), service("s2", None)],
            Some(&moved),
        );
        assert_eq!(gone.progress, moved.progress);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let rollout = look(
            vec![task("t2", "s2", TaskState::PENDING)],
            vec![
                service("s1", Some(ServiceUpdateStatusStateEnum::UPDATING)),
                service("s2", None),
            ],
            Some(&gone),
        );
        assert!(rollout.progress > gone.progress);
    }

    #[test]
    fn a_service_outside_the_watched_ones_is_left_out() {
        // Swarm's ID filter matches prefixes: `s1` also finds `s10`.
        let seen = look(Vec::new(), vec![service("s1", None), service("s10", None)], None);
        assert_eq!(seen.services.len(), 1);
        assert!(seen.services.contains_key("s1"));
    }
}
