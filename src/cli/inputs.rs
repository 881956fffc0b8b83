//! The options every front-end command shares: what to read (paths, a git repository)
//! and the COSMOS install overrides, turned into the use cases' `Inputs`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::config::Mode;
use crate::ops::Environment;
use crate::ops::load::{Inputs, Loaded};

/// What to compile and how: the paths and the COSMOS install overrides.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Files or folders (folders: every plugin.txt, cumulocity*.json and Sesam config
    /// below them; berth.yaml is read from the first folder).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    source: SourceArgs,
}

/// Which project, for the commands whose arguments are services (`logs`, `history`,
/// `rollback`, `unpin`): the paths are an option.
#[derive(Debug, Clone, Args)]
pub struct ProjectArgs {
    /// A file or folder of the configuration, as `berth plan` takes it (repeatable).
    #[arg(long = "path", default_value = ".", value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    source: SourceArgs,
}

/// Where the configuration comes from, and the COSMOS install overrides.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Set a COSMOS VARIABLE, replacing its default and berth.yaml's (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_pair)]
    vars: Vec<(String, String)>,
    /// Set what `ENV['NAME']` returns inside COSMOS ERB (repeatable). ERB sees no other
    /// environment, so results do not depend on the shell berth runs in.
    #[arg(long = "erb-env", value_name = "NAME=VALUE", value_parser = parse_pair)]
    env: Vec<(String, String)>,
    /// The COSMOS scope plugins are installed into [default: berth.yaml's, else DEFAULT].
    #[arg(long)]
    scope: Option<String>,
    /// Read the configuration from this git repository (a path, bare or not, or a URL,
    /// mirrored under berth's state directory) instead of the working folder; PATHs are
    /// then inside the repository.
    #[arg(long, value_name = "PATH|URL")]
    repo: Option<String>,
    /// The commit to read with --repo: a branch, tag or commit id [default: HEAD, for a
    /// URL the remote's default branch].
    #[arg(long = "ref", value_name = "REF", requires = "repo")]
    reference: Option<String>,
    /// With a --repo URL: use the mirror as last fetched, without fetching.
    #[arg(long, requires = "repo")]
    offline: bool,
    /// With an ssh:// --repo: the private key to authenticate with [default: the ssh
    /// agent; also BERTH_SSH_KEY].
    #[arg(long, value_name = "FILE", requires = "repo")]
    ssh_key: Option<PathBuf>,
    /// Containers on one engine, or Swarm services [default: berth.yaml's engine.mode].
    #[arg(long, value_enum, value_name = "MODE")]
    engine: Option<EngineMode>,
    /// The project's name, as compose's -p: one configuration run as several projects
    /// side by side [default: berth.yaml's project, else the repository's or folder's name].
    #[arg(long, value_name = "NAME", value_parser = parse_project)]
    project: Option<String>,
}

/// `--engine`: berth.yaml's `engine.mode` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EngineMode {
    /// One container per instance on one Docker engine.
    Docker,
    /// One Swarm service per service, through a swarm manager.
    Swarm,
}

/// A project name as berth.yaml's `project` takes it.
fn parse_project(s: &str) -> Result<String, String> {
    let mut chars = s.chars();
    let first = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if first && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c)) {
        Ok(s.to_string())
    } else {
        Err("lower-case letters and digits, then also `_`, `.` and `-`".into())
    }
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
    }
}

impl InputArgs {
    /// The inputs the use cases take; the ssh key falls back to `BERTH_SSH_KEY`.
    pub fn inputs(&self, env: &Environment) -> Inputs {
        self.source.inputs(&self.paths, env)
    }
}

impl ProjectArgs {
    /// The inputs the use cases take.
    pub fn inputs(&self, env: &Environment) -> Inputs {
        self.source.inputs(&self.paths, env)
    }
}

impl SourceArgs {
    fn inputs(&self, paths: &[PathBuf], env: &Environment) -> Inputs {
        Inputs {
            paths: paths.to_vec(),
            vars: self.vars.clone(),
            env: self.env.clone(),
            scope: self.scope.clone(),
            repo: self.repo.clone(),
            reference: self.reference.clone(),
            offline: self.offline,
            ssh_key: self.ssh_key.clone().or_else(|| env.ssh_key.clone()),
            engine: self.engine.map(|mode| match mode {
                EngineMode::Docker => Mode::Docker,
                EngineMode::Swarm => Mode::Swarm,
            }),
            project: self.project.clone(),
        }
    }
}

/// Reads and compiles what `inputs` names, with the state directory the environment
/// names (for mirrors of repositories read by URL); warnings go to stderr.
pub fn load(inputs: &Inputs, env: &Environment) -> miette::Result<Loaded> {
    Ok(crate::ops::load::load(
        inputs,
        &crate::repo::dir::Disk,
        env.state_dir.as_deref(),
        &super::report::warn,
    )?)
}

/// What the use cases read from the environment, read once, when berth starts. Unset,
/// empty and (but for paths) non-UTF-8 variables count as not set, as the docker CLI
/// reads them.
pub fn environment() -> Environment {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Environment {
        state_dir: crate::store::state::State::default_dir(|name| std::env::var_os(name)),
        docker_host: set("DOCKER_HOST"),
        docker_tls_verify: set("DOCKER_TLS_VERIFY").is_some(),
        docker_cert_path: set("DOCKER_CERT_PATH").map(PathBuf::from),
        home: set("HOME").map(PathBuf::from),
        cwd: std::env::current_dir().unwrap_or_default(),
        ssh_key: std::env::var_os("BERTH_SSH_KEY")
            .filter(|k| !k.is_empty())
            .map(PathBuf::from),
        // The account's name from the system, not `USER`, which cron and systemd leave
        // unset.
        who: match (whoami::fallible::username(), whoami::fallible::hostname()) {
            (Ok(user), Ok(host)) => Some(format!("{user}@{host}")),
            (Ok(user), Err(_)) => Some(user),
            _ => None,
        },
    }
}

/// berth's state directory, or what to set for one.
pub fn state_dir(env: &Environment) -> Result<PathBuf, crate::failure::Failure> {
    crate::store::state::dir(env.state_dir.as_deref())
}
