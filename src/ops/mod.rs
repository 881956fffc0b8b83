//! The use cases: what `berth plan`, `apply`, `status` and `watch` do, between the
//! command line (which parses arguments, reads the environment, prompts and prints) and
//! the pipeline (parse → compile → diff → plan → apply). Each takes a plain request,
//! works through the engine interfaces (`Observe`, `Engine`, `Swarm`) and the `Files`
//! interface, and returns typed results; none prints.
//!
//! `load` finds and compiles a repository's inputs; `plan` gates, observes and plans;
//! `apply` provides images and turns a plan's steps into jobs with real values;
//! `status` tells each service's instances and drift.

pub mod apply;
pub mod load;
pub mod plan;
pub mod status;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::path::PathBuf;

use crate::engine::EngineError;
use crate::engine::docker::{Address, Docker};

/// What the use cases take from the process's environment, read once by the command
/// line so that nothing below it reads variables.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// berth's state directory, when the environment names one.
    pub state_dir: Option<PathBuf>,
    /// `DOCKER_HOST`, as the docker CLI reads it.
    pub docker_host: Option<String>,
    /// `DOCKER_TLS_VERIFY` is set.
    pub docker_tls_verify: bool,
    /// `DOCKER_CERT_PATH`.
    pub docker_cert_path: Option<PathBuf>,
    /// `HOME`, where the docker CLI keeps its certificates.
    pub home: Option<PathBuf>,
}

/// Opens a connection to the engine at an address.
pub trait Connect {
    type Engine;
    fn connect(&self, address: &Address) -> impl Future<Output = Result<Self::Engine, EngineError>>;
}

/// The Docker engine the address names, through bollard.
pub struct Dial;

impl Connect for Dial {
    type Engine = Docker;

    fn connect(&self, address: &Address) -> impl Future<Output = Result<Docker, EngineError>> {
        Docker::connect(address)
    }
}
