//! The in-memory engine behind the `Observe` and `Engine` interfaces, for tests of the
//! apply executor and the use cases: it keeps a `LiveState` and records every write.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::Readiness;
use super::{Create, Engine, EngineError, Identity, ImageSource, Observe, Query, labels};
use crate::live::{Container, LiveState, RunState, Surroundings};
use crate::model::Resources;

/// The fake engine behind the `Observe` and `Engine` interfaces, for tests of the apply
/// executor: it keeps a `LiveState`, records every write, and fails the readiness check
/// of a container whose environment has `READY=no`, and the creation of one whose image
/// is `missing` (an engine that is gone, when it is `gone`).
///
/// A clone is the same engine, as a clone of a connection is.
#[derive(Clone, Default)]
pub struct FakeDocker {
    pub state: Arc<Mutex<LiveState>>,
    pub writes: Arc<Mutex<Vec<String>>>,
    env: Arc<Mutex<BTreeMap<String, BTreeMap<String, String>>>>,
    next: Arc<Mutex<u64>>,
    /// Creates and starts in flight at once, and readiness waits: each lets other
    /// tasks run before it ends, as a real engine's would.
    pub operations: Arc<Gauge>,
    pub waits: Arc<Gauge>,
}

/// How many of something are under way, and the most there were at once.
#[derive(Default)]
pub struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Gauge {
    pub fn most(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }

    /// One more under way until the returned guard is dropped, having let others run.
    async fn during(&self) -> impl Drop + '_ {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::task::yield_now().await;
        Under(self)
    }
}

struct Under<'a>(&'a Gauge);

impl Drop for Under<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FakeDocker {
    fn write(&self, what: String) {
        self.writes.lock().expect("not poisoned").push(what);
    }

    fn with<T>(&self, id: &str, f: impl FnOnce(&mut Container) -> T) -> Result<T, EngineError> {
        let mut state = self.state.lock().expect("not poisoned");
        let c = state
            .containers
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or_else(|| fail(format!("no container {id}")))?;
        Ok(f(c))
    }
}

fn fail(cause: String) -> EngineError {
    EngineError {
        address: "fake".into(),
        what: "fake".into(),
        cause,
        unreachable: false,
    }
}

impl Observe for FakeDocker {
    fn address(&self) -> &str {
        "fake"
    }

    async fn observe(&self, _: &Query<'_>) -> Result<LiveState, EngineError> {
        Ok(self.state.lock().expect("not poisoned").clone())
    }

    async fn surroundings(&self, _: &Query<'_>) -> Result<Surroundings, EngineError> {
        // Its observation is whole already.
        Ok(Surroundings::default())
    }

    async fn inspect_containers(&self, _: &Identity, ids: &[String]) -> Result<Vec<Container>, EngineError> {
        let state = self.state.lock().expect("not poisoned");
        Ok(state
            .containers
            .iter()
            .filter(|c| ids.contains(&c.id))
            .cloned()
            .collect())
    }

    async fn image_id(&self, reference: &str) -> Result<Option<String>, EngineError> {
        Ok(self
            .state
            .lock()
            .expect("not poisoned")
            .images
            .get(reference)
            .cloned())
    }
}

impl Engine for FakeDocker {
    async fn create_network(&self, name: &str, _: &BTreeMap<String, String>) -> Result<(), EngineError> {
        self.write(format!("network {name}"));
        let mut state = self.state.lock().expect("not poisoned");
        state.network = true;
        state.own_network = true;
        Ok(())
    }

    async fn remove_network(&self, name: &str, _: &BTreeMap<String, String>) -> Result<(), EngineError> {
        self.write(format!("remove network {name}"));
        let mut state = self.state.lock().expect("not poisoned");
        state.network = false;
        state.own_network = false;
        Ok(())
    }

    /// A pull or build makes the image present under a made-up ID; a load leaves the
    /// engine as it was (the archive's tags are not known here).
    async fn provide_image(&self, source: &ImageSource) -> Result<(), EngineError> {
        let (verb, reference) = match source {
            ImageSource::Pull { reference, .. } => ("pull", reference.clone()),
            ImageSource::Build { tag, .. } => ("build", tag.clone()),
            ImageSource::Load { archive } => {
                self.write(format!("load {}", archive.display()));
                return Ok(());
            }
        };
        self.write(format!("{verb} {reference}"));
        if reference.starts_with("missing") {
            return Err(fail(format!("{reference}: not found")));
        }
        let mut state = self.state.lock().expect("not poisoned");
        let id = format!("sha256:{verb}-{reference}");
        state.images.insert(reference, id);
        Ok(())
    }

    async fn create_container(&self, c: &Create) -> Result<String, EngineError> {
        let _under = self.operations.during().await;
        self.write(format!("create {}", c.name));
        if c.image == "missing" {
            return Err(fail(format!("no image {}", c.image)));
        }
        if c.image == "gone" {
            return Err(EngineError {
                unreachable: true,
                ..fail("the engine stopped answering".into())
            });
        }
        let id = {
            let mut next = self.next.lock().expect("not poisoned");
            *next += 1;
            format!("f{next}")
        };
        let labels: HashMap<String, String> = c.labels.clone().into_iter().collect();
        let identity = Identity {
            installation: labels.get(labels::MANAGED_BY).cloned().unwrap_or_default(),
            project: labels.get(labels::PROJECT).cloned().unwrap_or_default(),
            commit: None,
        };
        let mut state = self.state.lock().expect("not poisoned");
        let image_id = state.images.get(&c.image).cloned().unwrap_or_default();
        state.containers.push(Container {
            id: id.clone(),
            name: c.name.clone(),
            state: RunState::Created,
            restarts: 0,
            owner: identity.owner(&labels, &image_id, c.resources.clone()),
            swarm: None,
        });
        self.env
            .lock()
            .expect("not poisoned")
            .insert(id.clone(), c.env.expose().clone());
        Ok(id)
    }

    async fn start(&self, id: &str) -> Result<(), EngineError> {
        let _under = self.operations.during().await;
        self.write(format!("start {id}"));
        self.with(id, |c| c.state = RunState::Running)
    }

    async fn stop(&self, id: &str) -> Result<(), EngineError> {
        self.write(format!("stop {id}"));
        self.with(id, |c| c.state = RunState::Exited)
    }

    async fn update(&self, id: &str, resources: &Resources) -> Result<(), EngineError> {
        self.write(format!("update {id}"));
        self.with(id, |c| {
            if let Some(owner) = &mut c.owner {
                owner.resources = resources.clone();
            }
        })
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.write(format!("remove {id}"));
        self.state
            .lock()
            .expect("not poisoned")
            .containers
            .retain(|c| c.id != id);
        Ok(())
    }

    async fn rename(&self, id: &str, name: &str) -> Result<(), EngineError> {
        self.write(format!("rename {id} {name}"));
        self.with(id, |c| c.name = name.to_string())
    }

    async fn put_file(&self, id: &str, path: &str, _: &[u8]) -> Result<(), EngineError> {
        self.write(format!("file {id} {path}"));
        Ok(())
    }

    async fn put_files(&self, id: &str, files: &[crate::model::File]) -> Result<(), EngineError> {
        for f in files {
            self.write(format!("file {id} {} {:o}", f.path, f.mode));
        }
        Ok(())
    }

    async fn wait_ready(&self, id: &str, _: &Readiness) -> Result<(), String> {
        let _under = self.waits.during().await;
        let env = self.env.lock().expect("not poisoned");
        match env.get(id).and_then(|e| e.get("READY")) {
            Some(v) if v == "no" => Err("not ready".into()),
            _ => Ok(()),
        }
    }
}

/// A fake engine is no swarm manager: it makes the overlay network as any network, and
/// refuses services.
impl super::Swarm for FakeDocker {
    async fn create_overlay(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<(), EngineError> {
        self.create_network(name, labels).await
    }

    async fn create_service(&self, _: &super::swarm::ServiceRequest) -> Result<String, String> {
        Err("the fake engine is no swarm".into())
    }

    async fn update_service(&self, _: &str, _: u64, _: &super::swarm::ServiceRequest) -> Result<(), String> {
        Err("the fake engine is no swarm".into())
    }

    async fn converge(
        &self,
        _: &str,
        _: &super::swarm::ServiceRequest,
        _: std::time::Duration,
    ) -> Result<(), String> {
        Err("the fake engine is no swarm".into())
    }

    async fn remove_service(&self, _: &str) -> Result<(), String> {
        Err("the fake engine is no swarm".into())
    }

    async fn remove_unused_secrets(&self, _: &Identity) -> Vec<String> {
        Vec::new()
    }
}
