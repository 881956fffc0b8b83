//! `berth plan`: compile the repository, observe the Docker engine through a read-only
//! handle, and print what apply would do — as Terraform does, or as JSON — optionally
//! saving it for `berth apply FILE`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::{Args, ValueEnum};
use miette::{IntoDiagnostic, WrapErr};

use super::inputs::{InputArgs, Loaded, load};
use super::report::{colour, colour_stdout, json, render, stdout};
use crate::config::{self, Mode};
use crate::diff::{DiffOptions, Refusal, diff};
use crate::engine::docker::{Address, DEFAULT_HOST, Docker, TlsFiles};
use crate::engine::naming::project_network;
use crate::engine::{EngineError, Identity, Observe, Query, ReadOnly};
use crate::lint::policy::Levels;
use crate::live::LiveState;
use crate::lock::Lock;
use crate::model::{Model, PullPolicy};
use crate::plan::view::{PlanView, human};
use crate::plan::{Action, Plan, PlanOptions, desired_digest, plan};
use crate::problem::{Problem, closest};
use crate::repo::git::GitTree;
use crate::secrets::Secrets;
use crate::state::State;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Also save the plan (JSON) for `berth apply FILE`, bound to what it was made from.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Plan only these services (repeatable).
    #[arg(long = "target", value_name = "SERVICE")]
    targets: Vec<String>,
    /// Remove managed containers that left the configuration [default: berth.yaml's prune].
    #[arg(long)]
    prune: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Terraform-style text.
    Human,
    /// The document described by schemas/plan.schema.json.
    Json,
}

/// A plan, the document that binds it to what it was made from, and what executing
/// it needs.
pub struct Planned {
    pub plan: Plan,
    pub view: PlanView,
    pub model: Model,
    pub config: config::Config,
    /// The folder berth.yaml's relative paths start from.
    pub root: PathBuf,
    pub identity: Identity,
    pub secrets: Secrets,
    pub address: Address,
    /// Containers, or Swarm services.
    pub mode: Mode,
    pub live: LiveState,
    /// berth's state directory.
    pub state_dir: PathBuf,
    /// Held from before the engine was observed until this is dropped, for an apply.
    #[allow(dead_code)] // held, never read: releasing it is its Drop
    pub lock: Option<Lock>,
}

/// What to plan.
pub struct Request<'a> {
    pub inputs: &'a InputArgs,
    pub targets: &'a [String],
    pub prune: bool,
    /// For an apply: take the project's lock first, waiting this long for it.
    pub lock: Option<Duration>,
    /// Set when berth is asked to stop: waiting for the lock ends.
    pub stopping: Option<&'a AtomicBool>,
}

pub fn run(args: PlanArgs) -> miette::Result<ExitCode> {
    let request = Request {
        inputs: &args.inputs,
        targets: &args.targets,
        prune: args.prune,
        lock: None,
        stopping: None,
    };
    let planned = match make(&request) {
        Ok(planned) => planned,
        Err(unplanned) => return unplanned.exit(),
    };
    let view = &planned.view;
    if let Some(path) = &args.out {
        std::fs::write(path, json(view))
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot write the plan to {}", path.display()))?;
    }
    for error in &planned.plan.errors {
        eprintln!("error: {error}");
    }
    stdout(&match args.format {
        Format::Human => human(&planned.plan, colour_stdout()),
        Format::Json => json(view),
    })?;
    Ok(if !planned.plan.errors.is_empty() {
        ExitCode::FAILURE
    } else if args.detailed_exitcode && !planned.plan.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Why nothing was planned: never from a partial picture.
pub enum Unplanned {
    /// The configuration has errors, each with its place; read at `commit` with --repo.
    Invalid {
        problems: Vec<Problem>,
        commit: Option<String>,
    },
    /// The configuration cannot be planned for another reason (no image, a bad lint
    /// level, an unknown target).
    Refused(miette::Report),
    /// The engine could not be read.
    Engine(EngineError),
    /// Anything else: reading the repository, the state directory, the lock.
    Failed(miette::Report),
}

impl From<miette::Report> for Unplanned {
    fn from(report: miette::Report) -> Self {
        Unplanned::Failed(report)
    }
}

impl Unplanned {
    /// Prints it; the command's exit.
    pub fn exit(self) -> miette::Result<ExitCode> {
        match self {
            Unplanned::Invalid { problems, .. } => {
                for p in &problems {
                    eprint!("{}", render(p, colour()));
                }
                eprintln!(
                    "error: the configuration has {} error(s); nothing was planned",
                    problems.len()
                );
                Ok(ExitCode::FAILURE)
            }
            Unplanned::Engine(e) => {
                eprintln!("error: {}", engine_problem(&e));
                Ok(ExitCode::FAILURE)
            }
            Unplanned::Refused(report) | Unplanned::Failed(report) => Err(report),
        }
    }
}

/// Compiles, observes and plans.
pub fn make(request: &Request<'_>) -> Result<Planned, Unplanned> {
    let Request {
        inputs,
        targets,
        prune,
        lock,
        stopping,
    } = *request;
    let loaded = load(inputs)?;
    let levels = Levels::from_config(&loaded.config.lint).map_err(|e| {
        Unplanned::Refused(miette::miette!(
            help = "`berth lint --list-rules` lists them",
            "berth.yaml: {e}"
        ))
    })?;
    let errors: Vec<_> = levels
        .apply(loaded.compiled.problems.clone())
        .into_iter()
        .filter(|p| p.is_error())
        .collect();
    let model = &loaded.compiled.model;
    let without_image: Vec<&str> = model
        .services
        .iter()
        .filter(|s| s.image.is_none())
        .map(|s| s.name.as_str())
        .collect();
    if !errors.is_empty() {
        return Err(Unplanned::Invalid {
            problems: errors,
            commit: loaded.commit().map(String::from),
        });
    }
    if !without_image.is_empty() {
        return Err(Unplanned::Refused(miette::miette!(
            help = "set cosmos.image (COSMOS) or cumulocity.images (Cumulocity) in berth.yaml",
            "no image for: {}",
            without_image.join(", ")
        )));
    }
    for target in targets {
        if !model.services.iter().any(|s| &s.name == target) {
            let names = model.services.iter().map(|s| s.name.as_str());
            let hint = closest(target, names)
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            return Err(Unplanned::Refused(miette::miette!(
                "--target `{target}`: no such service{hint}"
            )));
        }
    }

    let project = match inputs.project() {
        Some(name) => name.to_string(),
        None => project_name(&loaded, inputs.repo())?,
    };
    let state_dir = State::default_dir()?;
    let state = State::open(&state_dir)?;
    let identity = Identity {
        installation: state.installation(),
        project,
        commit: loaded.commit().map(String::from),
    };
    let secrets = Secrets::resolve(model, &loaded.config.secrets.providers, &loaded.root, state);
    let address = engine_address(&loaded.config.engine, &loaded.root)?;
    let lock = match lock {
        Some(timeout) => Some(crate::lock::acquire(
            &state_dir,
            &identity.project,
            &address.host,
            loaded.commit(),
            timeout,
            stopping,
        )?),
        None => None,
    };
    // A reference the engine cannot parse is the plan's to refuse, not the engine's.
    let mut images: Vec<String> = model
        .services
        .iter()
        .filter_map(|s| s.image.clone())
        .filter(|r| crate::diff::limits::reference_problem(r).is_none())
        .collect();
    images.sort();
    images.dedup();
    let mode = inputs.mode(&loaded.config);
    let mut host_ports: Vec<_> = model
        .services
        .iter()
        .flat_map(|s| &s.ports)
        .filter_map(|p| Some((p.host?, p.protocol)))
        .collect();
    host_ports.sort();
    host_ports.dedup();
    let external = loaded.config.network.external.as_deref();
    let query = Query {
        identity: &identity,
        images,
        mode,
        host_ports,
        network: project_network(&identity.project, mode, external),
    };
    let live = runtime()?.block_on(async {
        let docker = Docker::connect(&address).await?;
        // Planning gets a handle that cannot write.
        ReadOnly(&docker).observe(&query).await
    });
    let live = live.map_err(Unplanned::Engine)?;

    let diff = diff(
        model,
        &live,
        &DiffOptions {
            project: &identity.project,
            default_image: "",
            digests: &secrets,
            mode,
            external_network: external.map(|name| (name, loaded.config.network.origin.as_ref())),
        },
    );
    let mut plan = plan(
        &diff,
        &PlanOptions {
            prune: prune || loaded.config.prune,
            mode,
        },
    );
    for name in secrets.missing() {
        for service in model
            .services
            .iter()
            .filter(|s| s.secret_names().any(|n| n == name))
        {
            // The SECRET line that delivers it, else the variable whose value names it,
            // else the service's declaration (registry credentials).
            let line = service.secrets.iter().position(|s| s.name == name);
            let variable = service.env.iter().find(|(_, v)| v.secrets().any(|n| n == name));
            let at = match (line, variable) {
                (Some(i), _) => crate::diff::source_of(service, &format!("secrets[{i}]")),
                (None, Some((key, _))) => crate::diff::source_of(service, &format!("env.{key}")),
                (None, None) => service.origin.clone(),
            };
            plan.errors.push(Refusal {
                service: Some(service.name.clone()),
                message: format!(
                    "secret `{name}` (used by `{}`) has no value in any of berth.yaml's secrets.providers",
                    service.name
                ),
                at: Some(at),
                help: Some("give it a value in one of the providers (a variable with their prefix, or a file in their folder)".into()),
            });
        }
    }
    plan.errors
        .extend(unobtainable_images(model, &loaded.config, &live, &plan));
    if !targets.is_empty() {
        plan = plan.only(targets);
    }
    if let Some(git) = &loaded.git {
        blame(&mut plan, &live, git);
    }
    let view = PlanView::new(
        &plan,
        &identity.project,
        &address.host,
        desired_digest(&diff),
        live.fingerprint(),
        inputs.to_view(targets, prune, loaded.commit()),
    );
    Ok(Planned {
        plan,
        view,
        model: loaded.compiled.model,
        config: loaded.config,
        root: loaded.root,
        identity,
        secrets,
        address,
        mode,
        live,
        state_dir,
        lock,
    })
}

/// Images a create or replace needs that nothing can provide: not on the engine, no
/// berth.yaml rule or archive to build or load them, and `skip_pull` forbids pulling.
/// Known before anything is applied, so the plan refuses instead of the apply failing.
fn unobtainable_images(
    model: &Model,
    config: &config::Config,
    live: &LiveState,
    plan: &Plan,
) -> Vec<Refusal> {
    let needed = |service: &str| {
        plan.steps
            .iter()
            .any(|s| s.service == service && matches!(s.action, Action::Create | Action::Replace))
    };
    model
        .services
        .iter()
        .filter(|s| s.pull.policy == PullPolicy::Never && s.pull.archive.is_none() && needed(&s.name))
        .filter_map(|s| {
            let image = s.image.as_ref()?;
            let provided = live.images.contains_key(image) || config.images.iter().any(|r| &r.name == image);
            (!provided).then(|| Refusal {
                service: Some(s.name.clone()),
                message: format!(
                    "`{}`: the image `{image}` is not on the engine, and skip_pull forbids pulling it",
                    s.name
                ),
                at: Some(crate::diff::source_of(s, "image")),
                help: Some(
                    "load or build it on the engine first, give it a berth.yaml `images` rule, or drop skip_pull"
                        .into(),
                ),
            })
        })
        .collect()
}

/// Names, for every changed field, the commit that last changed its line, between the
/// commit the container was made from and the one planned.
fn blame(plan: &mut Plan, live: &LiveState, git: &GitTree) {
    for step in &mut plan.steps {
        let deployed = live
            .containers
            .iter()
            .find(|c| Some(&c.id) == step.id.as_ref())
            .and_then(|c| c.owner.as_ref()?.commit.clone());
        for change in &mut step.changes {
            change.provenance = git.blame(
                Path::new(&change.source.file),
                change.source.line,
                deployed.as_deref(),
            );
        }
    }
}

/// berth.yaml's `project`; else, read from git, the repository's name (never where
/// berth runs); else the name of the folder berth.yaml would be in.
fn project_name(loaded: &Loaded, repo: Option<&str>) -> miette::Result<String> {
    if let Some(name) = &loaded.config.project {
        return Ok(name.clone());
    }
    let hint = "set `project:` in berth.yaml";
    if let Some(location) = repo {
        let location = if crate::repo::git::is_url(location) {
            crate::repo::without_userinfo(location)
        } else {
            let path = std::fs::canonicalize(location).into_diagnostic()?;
            path.to_string_lossy().into_owned()
        };
        return crate::repo::repository_name(&location).ok_or_else(|| {
            miette::miette!(
                help = hint,
                "cannot name the project after the repository {location}"
            )
        });
    }
    let root = std::fs::canonicalize(&loaded.root).into_diagnostic()?;
    root.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| miette::miette!(help = hint, "cannot name the project after {}", root.display()))
}

/// `DOCKER_HOST` (with `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`, as the docker CLI reads
/// them), else berth.yaml's `engine`, else the default socket.
fn engine_address(engine: &config::Engine, root: &Path) -> miette::Result<Address> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(host) = set("DOCKER_HOST") {
        let tls = match set("DOCKER_TLS_VERIFY") {
            Some(_) => {
                let dir = match set("DOCKER_CERT_PATH") {
                    Some(dir) => PathBuf::from(dir),
                    None => PathBuf::from(set("HOME").unwrap_or_default()).join(".docker"),
                };
                Some(TlsFiles {
                    ca: dir.join("ca.pem"),
                    cert: dir.join("cert.pem"),
                    key: dir.join("key.pem"),
                })
            }
            None => None,
        };
        return Ok(Address { host, tls });
    }
    let Some(host) = &engine.host else {
        return Ok(Address {
            host: DEFAULT_HOST.to_string(),
            tls: None,
        });
    };
    let tls = match &engine.tls {
        None => None,
        Some(tls) => {
            let file = |f: &Option<String>, what: &str| {
                f.as_ref()
                    .map(|f| root.join(f))
                    .ok_or_else(|| miette::miette!("berth.yaml: engine.tls needs `{what}`"))
            };
            if !tls.verify {
                miette::bail!(
                    help = "give engine.tls a `ca` that signed the engine's certificate",
                    "berth.yaml: engine.tls.verify: false is not supported; berth only talks TLS to an engine it can verify"
                );
            }
            Some(TlsFiles {
                ca: file(&tls.ca, "ca")?,
                cert: file(&tls.cert, "cert")?,
                key: file(&tls.key, "key")?,
            })
        }
    };
    Ok(Address {
        host: host.clone(),
        tls,
    })
}

pub fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .into_diagnostic()
}

/// An engine failure as one line; for an unreachable engine, with what to do.
pub fn engine_problem(e: &EngineError) -> String {
    let cause = e.cause.replace('\n', " ");
    let line = format!("{} at {}: {cause}", e.what, e.address);
    if e.what.starts_with("cannot reach") {
        line + "; start the engine (dockerd), or point DOCKER_HOST or berth.yaml's engine.host at a running one"
    } else {
        line
    }
}
