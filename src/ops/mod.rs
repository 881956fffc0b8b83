//! The use cases: what `berth lint`, `plan`, `apply`, `status` and `watch` do, between the
//! command line (which parses arguments, reads the environment once, prompts and prints)
//! and the pipeline (parse → compile → diff → plan → apply). Each takes a plain request
//! and returns typed results; none prints. They read no variable and no clock
//! themselves: what they need of the environment comes in `Environment`. Files are read
//! through the `Files` they are given (or a git commit), the engine through `Connect` and
//! the engine traits, berth's own state through `store`.
//!
//! `load` finds and compiles a repository's inputs and lints them; `lint` applies rule
//! levels; `plan` gates, observes and plans; `apply` provides images and turns a plan's
//! steps into jobs with real values; `status` tells each service's instances and drift.

pub mod apply;
pub mod history;
pub mod lint;
pub mod load;
pub mod logs;
pub mod notify;
pub mod plan;
pub mod rollback;
pub mod status;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::cosmos_store::Store;
use crate::engine::EngineError;
use crate::engine::docker::{Address, Docker};
use crate::failure::Failure;
use crate::model::Piece;
use crate::secret::Secret;

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
    /// The folder berth runs in: relative paths in a saved plan are made absolute from it.
    pub cwd: PathBuf,
    /// `BERTH_SSH_KEY`: the private key for ssh:// repositories when none is given.
    pub ssh_key: Option<PathBuf>,
    /// Who runs berth, `user@host`, for the journal.
    pub who: Option<String>,
}

/// Opens a connection to the engine at an address.
pub trait Connect {
    type Engine;
    fn connect(&self, address: &Address) -> impl Future<Output = Result<Self::Engine, EngineError>>;
}

/// The Docker engine the address names, through bollard: one connection per process,
/// opened on first use and shared for as long as the address stays the same. A clone
/// shares it (a watcher's reconciles and its event follower).
#[derive(Default, Clone)]
pub struct Dial {
    open: Arc<Mutex<Option<(Address, Docker)>>>,
}

impl Connect for Dial {
    type Engine = Docker;

    async fn connect(&self, address: &Address) -> Result<Docker, EngineError> {
        let open = |slot: &Option<(Address, Docker)>| {
            slot.as_ref()
                .filter(|(at, _)| at == address)
                .map(|(_, docker)| docker.clone())
        };
        if let Some(docker) = open(&self.open.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(docker);
        }
        let docker = Docker::connect(address).await?;
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = Some((address.clone(), docker.clone()));
        Ok(docker)
    }
}

/// The fake engine, wherever the configuration says the engine is: the use cases
/// connect to it as they would to the Docker engine.
impl Connect for crate::engine::fake::FakeDocker {
    type Engine = crate::engine::fake::FakeDocker;

    async fn connect(&self, _: &Address) -> Result<Self::Engine, EngineError> {
        Ok(self.clone())
    }
}

/// Attached mode: a connection to the COSMOS Redis berth.yaml names (`None` without
/// `cosmos.redis`), its password read from the secret it names.
pub async fn cosmos_store(config: &Config, root: &Path) -> Result<Option<Store>, Failure> {
    let Some(redis) = &config.cosmos.redis else {
        return Ok(None);
    };
    let password = match &redis.password {
        None => None,
        Some(reference) => Some(secret_value(config, root, reference, "cosmos.redis.password")?),
    };
    crate::cosmos_store::connect(redis, password.as_ref())
        .await
        .map(Some)
}

/// The value of a `$SECRET(name)` berth.yaml gives for `field`, from its providers.
pub fn secret_value(
    config: &Config,
    root: &Path,
    reference: &str,
    field: &str,
) -> Result<Secret<String>, Failure> {
    let text = crate::compile::interpolate::secret_text(reference);
    let name = match text.0.as_slice() {
        [Piece::Secret(name)] => name,
        _ => {
            return Err(
                Failure::new(format!("berth.yaml {field} must be a $SECRET(name) reference"))
                    .with_help("keep the value with the other secrets and name it: $SECRET(name)"),
            );
        }
    };
    let value = crate::store::secrets::find(&config.secrets.providers, name, root).ok_or_else(|| {
        Failure::new(format!(
            "secret `{name}` (berth.yaml {field}) has no value in any of berth.yaml's secrets.providers"
        ))
        .with_help("give it a value in one of the providers (a variable with their prefix, or a file in their folder)")
    })?;
    Ok(Secret::new(value))
}
