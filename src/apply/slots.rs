//! `--parallelism` as engine slots: every engine operation of an apply (create, start,
//! stop, remove, pulls, a Swarm create or update) takes one of `parallelism` slots for
//! as long as the engine works on it, and the waits between them (a container staying
//! up, a probe, a swarm converging) take none, so that fifty services wait their two
//! seconds together rather than in rounds of eight. Once an operation finds the engine
//! gone, no other is sent: each would only wait for its own timeout.

use std::collections::BTreeMap;
use std::time::Duration;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::engine::swarm::ServiceRequest;
use crate::engine::{Create, Engine, EngineError, Identity, ImageSource, Observe, Query, Readiness, Swarm};
use crate::live::{Container, LiveState, Surroundings};
use crate::model::{File, Resources};

/// How many services an apply carries forward at once, most of them waiting: a bound
/// on the polls and probes in flight, not on the engine's work.
pub const WAITING: usize = 128;

/// `parallelism` slots for engine operations, and whether one found the engine gone.
pub struct Slots {
    slots: Arc<Semaphore>,
    gone: AtomicBool,
}

/// A slot a step waited for before it began, and holds for its first operation: a
/// step begins only when it can act, and so only after what the operations before it
/// found (the engine gone) is known. Dropped unused, it frees the slot.
pub struct Turn(Option<OwnedSemaphorePermit>);

/// A step's view of an engine: each operation takes a slot (the step's turn first).
pub struct Bounded<'a, E> {
    engine: &'a E,
    slots: &'a Slots,
    turn: Mutex<Turn>,
}

impl Slots {
    pub fn new(parallelism: usize) -> Slots {
        Slots {
            slots: Arc::new(Semaphore::new(parallelism.max(1))),
            gone: AtomicBool::new(false),
        }
    }

    /// Waits until a slot is free, and takes it for the step about to begin. (The
    /// semaphore is never closed: it always comes.)
    pub async fn turn(&self) -> Turn {
        Turn(self.slots.clone().acquire_owned().await.ok())
    }

    /// `engine` as the step with `turn` sees it.
    pub fn bound<'a, E>(&'a self, engine: &'a E, turn: Turn) -> Bounded<'a, E> {
        Bounded {
            engine,
            slots: self,
            turn: Mutex::new(turn),
        }
    }
}

impl<E: Observe> Bounded<'_, E> {
    /// A slot, held until dropped: the step's turn, else the next free one.
    async fn slot(&self) -> Turn {
        let turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner).0.take();
        match turn {
            Some(slot) => Turn(Some(slot)),
            None => self.slots.turn().await,
        }
    }

    /// Runs one engine operation in a slot, unless an operation found the engine gone.
    async fn op<T>(&self, operation: impl Future<Output = Result<T, EngineError>>) -> Result<T, EngineError> {
        let _slot = self.slot().await;
        if self.slots.gone.load(Ordering::SeqCst) {
            return Err(EngineError {
                address: self.engine.address().to_string(),
                what: "not started".into(),
                cause: "the engine stopped answering".into(),
                unreachable: true,
            });
        }
        let result = operation.await;
        if result.as_ref().is_err_and(|e| e.unreachable) {
            self.slots.gone.store(true, Ordering::SeqCst);
        }
        result
    }

    /// A Swarm operation, which says why it failed in words only.
    async fn swarm_op<T>(&self, operation: impl Future<Output = Result<T, String>>) -> Result<T, String> {
        let _slot = self.slot().await;
        if self.slots.gone.load(Ordering::SeqCst) {
            return Err("not started: the engine stopped answering".into());
        }
        operation.await
    }
}

impl<E: Observe> Observe for Bounded<'_, E> {
    fn address(&self) -> &str {
        self.engine.address()
    }

    async fn observe(&self, query: &Query<'_>) -> Result<LiveState, EngineError> {
        self.op(self.engine.observe(query)).await
    }

    async fn surroundings(&self, query: &Query<'_>) -> Result<Surroundings, EngineError> {
        self.op(self.engine.surroundings(query)).await
    }

    async fn image_id(&self, reference: &str) -> Result<Option<String>, EngineError> {
        self.op(self.engine.image_id(reference)).await
    }

    async fn inspect_containers(
        &self,
        identity: &Identity,
        ids: &[String],
    ) -> Result<Vec<Container>, EngineError> {
        self.op(self.engine.inspect_containers(identity, ids)).await
    }
}

impl<E: Engine> Engine for Bounded<'_, E> {
    async fn create_network(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<(), EngineError> {
        self.op(self.engine.create_network(name, labels)).await
    }

    async fn remove_network(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<(), EngineError> {
        self.op(self.engine.remove_network(name, labels)).await
    }

    async fn provide_image(&self, source: &ImageSource) -> Result<(), EngineError> {
        self.op(self.engine.provide_image(source)).await
    }

    async fn create_container(&self, create: &Create) -> Result<String, EngineError> {
        self.op(self.engine.create_container(create)).await
    }

    async fn start(&self, id: &str) -> Result<(), EngineError> {
        self.op(self.engine.start(id)).await
    }

    async fn stop(&self, id: &str) -> Result<(), EngineError> {
        self.op(self.engine.stop(id)).await
    }

    async fn update(&self, id: &str, resources: &Resources) -> Result<(), EngineError> {
        self.op(self.engine.update(id, resources)).await
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        self.op(self.engine.remove(id)).await
    }

    async fn rename(&self, id: &str, name: &str) -> Result<(), EngineError> {
        self.op(self.engine.rename(id, name)).await
    }

    async fn put_file(&self, id: &str, path: &str, content: &[u8]) -> Result<(), EngineError> {
        self.op(self.engine.put_file(id, path, content)).await
    }

    async fn put_files(&self, id: &str, files: &[File]) -> Result<(), EngineError> {
        self.op(self.engine.put_files(id, files)).await
    }

    /// Waiting takes no slot.
    async fn wait_ready(&self, id: &str, readiness: &Readiness) -> Result<(), String> {
        self.engine.wait_ready(id, readiness).await
    }
}

impl<E: Swarm> Swarm for Bounded<'_, E> {
    async fn create_overlay(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<(), EngineError> {
        self.op(self.engine.create_overlay(name, labels)).await
    }

    async fn create_service(&self, request: &ServiceRequest) -> Result<String, String> {
        self.swarm_op(self.engine.create_service(request)).await
    }

    async fn update_service(&self, id: &str, version: u64, request: &ServiceRequest) -> Result<(), String> {
        self.swarm_op(self.engine.update_service(id, version, request))
            .await
    }

    /// Waiting takes no slot.
    async fn converge(&self, id: &str, request: &ServiceRequest, stable_for: Duration) -> Result<(), String> {
        self.engine.converge(id, request, stable_for).await
    }

    async fn remove_service(&self, id: &str) -> Result<(), String> {
        self.swarm_op(self.engine.remove_service(id)).await
    }

    async fn remove_unused_secrets(&self, identity: &Identity) -> Vec<String> {
        let _slot = self.slot().await;
        self.engine.remove_unused_secrets(identity).await
    }
}
