//! The plan use case: read and compile the configuration, refuse what cannot be
//! planned (errors, services without an image, unknown targets), name the project, take
//! the lock for an apply, observe the engine through a read-only handle, and plan —
//! with the refusals only the engine's state reveals (a secret without a value, an image
//! nothing can provide) and, from git, who changed each field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::load::{Inputs, Loaded, Read, load, read};
use super::{Connect, Environment};
use crate::config::{self, Mode};
use crate::cosmos_store::Store;
use crate::diff::{DiffOptions, Refusal, diff};
use crate::engine::docker::{Address, DEFAULT_HOST, DEFAULT_TIMEOUT, TlsFiles};
use crate::engine::naming::project_network;
use crate::engine::{EngineError, Identity, Observe, Query, ReadOnly};
use crate::failure::Failure;
use crate::lint::policy::Levels;
use crate::live::LiveState;
use crate::model::{Model, PullPolicy};
use crate::plan::view::PlanView;
use crate::plan::{Action, Plan, PlanOptions, desired_digest, plan};
use crate::problem::{Problem, closest};
use crate::repo::Files;
use crate::repo::git::GitTree;
use crate::store::journal;
use crate::store::lock::Lock;
use crate::store::secrets::Secrets;
use crate::store::state::State;

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
    /// Attached mode: the connection to COSMOS's Redis the plan read, for the apply.
    pub cosmos_store: Option<Store>,
    /// berth's state directory.
    pub state_dir: PathBuf,
    /// Held from before the engine was observed until this is dropped, for an apply.
    #[allow(dead_code)] // held, never read: releasing it is its Drop
    pub lock: Option<Lock>,
    /// The project's pin, read under the lock.
    pub pinned: Option<Pinned>,
}

/// What to plan.
pub struct Request<'a> {
    pub inputs: &'a Inputs,
    /// Where the inputs' paths are read, unless they name a git repository: the
    /// filesystem (`repo::dir::Disk`), or files in memory.
    pub files: &'a dyn Files,
    pub targets: &'a [String],
    pub prune: bool,
    /// For an apply: take the project's lock first, waiting this long for it.
    pub lock: Option<Duration>,
    /// Set when berth is asked to stop: waiting for the lock ends.
    pub stopping: Option<&'a AtomicBool>,
    /// Plan the removal of everything the project runs (or of the targets): `berth
    /// destroy`.
    pub destroy: bool,
    /// What a pin set by `berth rollback` does to this plan.
    pub pin: PinRule,
    /// Inspect every container, also those whose labels settle the plan: what only an
    /// inspect shows (restart counts, a limit changed by hand with `docker update`) is
    /// read for all (`berth status`, `berth watch`, `--inspect-all`).
    pub inspect_all: bool,
}

/// What a pin set by `berth rollback` does to a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinRule {
    /// Plan as if there were none, and say that apply would refuse (`berth plan`).
    Warn,
    /// Refuse to change a pinned service (`berth apply`): applying a newer commit
    /// would undo the rollback.
    Refuse,
    /// Plan the pinned commit instead, and leave pinned services alone (`berth watch`).
    Follow,
    /// The plan moves or ignores the pin itself (`berth rollback`, `berth destroy`).
    Ignore,
}

/// A pin, and how far the branch has moved past it.
#[derive(Debug, Clone)]
pub struct Pinned {
    pub pin: journal::Pin,
    /// The commit the configuration's branch is at (`None` from a folder).
    pub head: Option<String>,
    /// Commits on the branch since the pinned one.
    pub ahead: Option<usize>,
}

impl Pinned {
    /// `pinned to abc1234 by berth rollback (ops@host, 2026-12-06T01:00:00Z); the
    /// branch is 2 commit(s) ahead at def5678`.
    pub fn describe(&self) -> String {
        let pin = &self.pin;
        let what = match pin.services.as_slice() {
            [] => "the project is".to_string(),
            [one] => format!("`{one}` is"),
            many => format!("{} are", many.join(", ")),
        };
        let by = pin.by.as_deref().map(|b| format!("{b}, ")).unwrap_or_default();
        let mut line = format!(
            "{what} pinned to commit {} by berth rollback ({by}{})",
            short(&pin.commit),
            pin.time
        );
        if let (Some(head), Some(ahead)) = (&self.head, self.ahead)
            && head != &pin.commit
        {
            line += &format!("; the branch is {ahead} commit(s) ahead, at {}", short(head));
        }
        line
    }
}

pub use crate::store::journal::short;

/// Why nothing was planned: never from a partial picture.
#[derive(Debug, thiserror::Error)]
pub enum Unplanned {
    /// The configuration has errors, each with its place; read at `commit` with --repo.
    /// The project and where to tell of it, when berth.yaml still says.
    #[error("the configuration has {} error(s); nothing was planned", problems.len())]
    Invalid {
        problems: Vec<Problem>,
        commit: Option<String>,
        project: Option<String>,
        notify: Vec<crate::notify::Endpoint>,
    },
    /// The configuration cannot be planned for another reason (no image, a bad lint
    /// level, an unknown target).
    #[error("{0}")]
    Refused(Failure),
    /// The engine could not be read.
    #[error(transparent)]
    Engine(EngineError),
    /// Anything else: reading the repository, the state directory, the lock.
    #[error("{0}")]
    Failed(Failure),
}

impl From<Failure> for Unplanned {
    fn from(failure: Failure) -> Self {
        Unplanned::Failed(failure)
    }
}

/// Everything known before the engine is looked at: the compiled configuration past
/// its gates, who plans, and the lock when applying.
struct Prepared {
    loaded: Loaded,
    inputs: Inputs,
    targets: Vec<String>,
    prune: bool,
    identity: Identity,
    secrets: Secrets,
    pub address: Address,
    mode: Mode,
    state_dir: PathBuf,
    lock: Option<Lock>,
    /// The folder berth runs in, that relative paths in a saved plan start from.
    cwd: PathBuf,
    destroy: bool,
    pin: PinRule,
    pinned: Option<Pinned>,
    /// berth made its key and has not yet looked at an engine with it.
    new_key: bool,
    inspect_all: bool,
}

/// Compiles, observes and plans, over a connection `connect` opens to the engine
/// berth.yaml or the environment names; the plan and that connection. `warn` hears what
/// is worth saying but stops nothing (a mirror used without fetching).
pub async fn make<C: Connect>(
    request: &Request<'_>,
    env: &Environment,
    connect: &C,
    warn: &dyn Fn(&str),
) -> Result<(Planned, C::Engine), Unplanned>
where
    C::Engine: Observe,
{
    let read = read(request.inputs, request.files, env.state_dir.as_deref(), warn)?;
    // Without a lock to take first (an apply observes only under it), the engine is
    // asked for the project's containers while the configuration compiles on a thread
    // of its own: a plan costs the longer of the two, not both.
    let ahead = match request.lock {
        None => Sight::ahead(request, &read, env),
        Some(_) => None,
    };
    // The images the model names are resolved as soon as it is compiled.
    let (named, images) = tokio::sync::oneshot::channel();
    let compiling = async {
        let loaded = compile_aside(read).await;
        let _ = named.send(image_references(&loaded.compiled.model));
        loaded
    };
    let looking = async {
        match &ahead {
            Some(sight) => Some(sight.look(connect, images).await),
            None => None,
        }
    };
    let (loaded, looked) = futures_util::join!(compiling, looking);
    let prepared = prepare(request, loaded, env)?;
    let prepared = match (request.pin, &prepared.pinned) {
        (PinRule::Follow, Some(pinned)) if pinned.pin.services.is_empty() => {
            let pinned = pinned.clone();
            follow(request, prepared, pinned, env)?
        }
        (PinRule::Warn, Some(pinned)) => {
            warn(&format!(
                "{}; `berth apply` refuses to change what is pinned until `berth unpin`",
                pinned.describe()
            ));
            prepared
        }
        _ => prepared,
    };
    // The look taken ahead is the plan's when it was of what the plan is of.
    let (engine, live) = match (ahead, looked) {
        (Some(sight), Some(looked)) if sight == Sight::of(&prepared) => {
            let (engine, looked) = looked.map_err(Unplanned::Engine)?;
            (engine, Some(looked))
        }
        _ => {
            let engine = connect
                .connect(&prepared.address)
                .await
                .map_err(Unplanned::Engine)?;
            (engine, None)
        }
    };
    let planned = observe_and_plan(prepared, &engine, live).await?;
    Ok((planned, engine))
}

/// Compiles what was read on a thread of its own, so that the engine's answers are
/// awaited meanwhile.
async fn compile_aside(read: Read) -> Loaded {
    let (done, compiled) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = done.send(read.compile());
    });
    compiled.await.expect("the compile finishes") // a panic in it ends berth as before
}

/// What observing a Docker engine's own objects of a project takes, all known before
/// the configuration compiles.
#[derive(Debug, PartialEq)]
struct Sight {
    address: Address,
    identity: Identity,
    mode: Mode,
    network: String,
    inspect_all: bool,
}

impl Sight {
    /// The sight of a plan, from what was read: `None` when it cannot be had yet (a
    /// Swarm, whose observation needs the model; a project that cannot be named, which
    /// the plan reports).
    fn ahead(request: &Request<'_>, read: &Read, env: &Environment) -> Option<Sight> {
        let mode = request.inputs.mode(&read.config);
        if mode != Mode::Docker {
            return None;
        }
        let state_dir = crate::store::state::dir(env.state_dir.as_deref()).ok()?;
        let project = project_named(request.inputs, &read.config, &read.root).ok()?;
        Some(Sight {
            address: engine_address(&read.config.engine, &read.root, env).ok()?,
            network: project_network(&project, mode, read.config.network.external.as_deref()),
            mode,
            identity: Identity {
                installation: State::open(&state_dir).ok()?.installation(),
                project,
                commit: read.git.as_ref().map(|g| g.commit.clone()),
            },
            inspect_all: request.inspect_all,
        })
    }

    /// The sight of a plan about to observe.
    fn of(prepared: &Prepared) -> Sight {
        let external = prepared.loaded.config.network.external.as_deref();
        Sight {
            address: prepared.address.clone(),
            identity: prepared.identity.clone(),
            mode: prepared.mode,
            network: project_network(&prepared.identity.project, prepared.mode, external),
            inspect_all: prepared.inspect_all,
        }
    }

    /// Connects and observes the project's own objects, and the images the model names
    /// once they are known.
    async fn look<C: Connect>(
        &self,
        connect: &C,
        images: tokio::sync::oneshot::Receiver<Vec<String>>,
    ) -> Result<(C::Engine, Looked), EngineError>
    where
        C::Engine: Observe,
    {
        let engine = connect.connect(&self.address).await?;
        let query = Query {
            identity: &self.identity,
            mode: self.mode,
            host_ports: Vec::new(), // the surroundings'
            network: self.network.clone(),
            inspect_all: self.inspect_all,
        };
        let engine_view = ReadOnly(&engine);
        let resolve = async {
            let references = images.await.unwrap_or_default();
            let ids = image_ids(&engine_view, &references).await?;
            Ok((references, ids))
        };
        let (mut live, (references, ids)) = futures_util::try_join!(engine_view.observe(&query), resolve)?;
        live.images = ids;
        Ok((engine, Looked { live, references }))
    }
}

/// What the engine showed while the configuration compiled.
struct Looked {
    live: LiveState,
    /// The image references whose IDs `live` holds.
    references: Vec<String>,
}

/// The whole project is pinned: the pinned commit is what is desired, read again from
/// the same repository (its mirror already holds it), under the lock taken again.
fn follow(
    request: &Request<'_>,
    prepared: Prepared,
    pinned: Pinned,
    env: &Environment,
) -> Result<Prepared, Unplanned> {
    if request.inputs.repo.is_none() {
        return Err(Unplanned::Refused(
            Failure::new(format!(
                "{}, but this configuration is read from a folder, which has no commits to plan from",
                pinned.describe()
            ))
            .with_help("read it with --repo (the repository the rollback read), or `berth unpin`"),
        ));
    }
    if prepared.loaded.commit() == Some(pinned.pin.commit.as_str()) {
        return Ok(prepared);
    }
    let inputs = Inputs {
        reference: Some(pinned.pin.commit.clone()),
        offline: true,
        project: Some(prepared.identity.project.clone()),
        ..request.inputs.clone()
    };
    drop(prepared); // and its lock
    let loaded = load(&inputs, request.files, env.state_dir.as_deref(), &|_| {})?;
    let again = Request {
        inputs: &inputs,
        ..*request
    };
    let mut prepared = prepare(&again, loaded, env)?;
    // The pin is read again under the lock taken again: moved or released meanwhile,
    // this plan is of nothing anyone wants.
    if prepared.pinned.as_ref().map(|p| &p.pin) != Some(&pinned.pin) {
        return Err(Unplanned::Failed(Failure::new(
            "the pin changed while planning (a rollback or unpin ran); planning again",
        )));
    }
    // How far the branch moved is the branch's, not the pinned commit's.
    prepared.pinned = Some(pinned);
    Ok(prepared)
}

/// Where a project runs and who owns its objects, without planning it: for the
/// commands that read the project (`logs`, `history`) or berth's state of it (`unpin`).
pub struct Located {
    pub identity: Identity,
    pub address: Address,
    pub mode: Mode,
    pub state_dir: PathBuf,
}

/// Finds the project the inputs name the way a plan does (a configuration with errors
/// still names one).
pub fn locate(
    inputs: &Inputs,
    files: &dyn Files,
    env: &Environment,
    warn: &dyn Fn(&str),
) -> Result<Located, Failure> {
    let loaded = load(inputs, files, env.state_dir.as_deref(), warn)?;
    let state_dir = crate::store::state::dir(env.state_dir.as_deref())?;
    let identity = Identity {
        installation: State::open(&state_dir)?.installation(),
        project: project_of(inputs, &loaded)?,
        commit: loaded.commit().map(String::from),
    };
    Ok(Located {
        identity,
        address: engine_address(&loaded.config.engine, &loaded.root, env)?,
        mode: inputs.mode(&loaded.config),
        state_dir,
    })
}

/// The gates and the identity: everything of a plan that needs no engine.
fn prepare(request: &Request<'_>, loaded: Loaded, env: &Environment) -> Result<Prepared, Unplanned> {
    let Request {
        inputs,
        files: _,
        targets,
        prune,
        lock,
        stopping,
        destroy,
        pin,
        inspect_all,
    } = *request;
    let levels = Levels::from_config(&loaded.config.lint).map_err(|e| {
        Unplanned::Refused(
            Failure::new(format!("berth.yaml: {e}")).with_help("`berth lint --list-rules` lists them"),
        )
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
            project: project_of(inputs, &loaded).ok(),
            notify: super::notify::endpoints(&loaded.config, &loaded.root).0,
        });
    }
    // Planning nothing is removing everything: only when that is what is asked.
    if !(prune || destroy || loaded.config.prune)
        && let Some((message, help)) = loaded.nothing_read(inputs)
    {
        return Err(Unplanned::Refused(Failure::new(message).with_help(format!(
            "{help}; to remove everything the project runs, plan with --prune"
        ))));
    }
    if !without_image.is_empty() && !destroy {
        return Err(Unplanned::Refused(
            Failure::new(format!("no image for: {}", without_image.join(", ")))
                .with_help("set cosmos.image (COSMOS) or cumulocity.images (Cumulocity) in berth.yaml"),
        ));
    }
    // What a destroy may target is also what runs but is no longer configured: known
    // once the engine is observed.
    for target in targets.iter().filter(|_| !destroy) {
        if !model.services.iter().any(|s| &s.name == target) {
            let names = model.services.iter().map(|s| s.name.as_str());
            let hint = closest(target, names)
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            return Err(Unplanned::Refused(Failure::new(format!(
                "--target `{target}`: no such service{hint}"
            ))));
        }
    }

    let project = project_of(inputs, &loaded)?;
    let state_dir = crate::store::state::dir(env.state_dir.as_deref())?;
    let state = State::open(&state_dir)?;
    let new_key = state.fresh;
    let identity = Identity {
        installation: state.installation(),
        project,
        commit: loaded.commit().map(String::from),
    };
    let secrets = Secrets::resolve(model, &loaded.config.secrets.providers, &loaded.root, state);
    let address = engine_address(&loaded.config.engine, &loaded.root, env)?;
    let lock = match lock {
        Some(timeout) => Some(crate::store::lock::acquire(
            &state_dir,
            &identity.project,
            &address.host,
            loaded.commit(),
            timeout,
            stopping,
        )?),
        None => None,
    };
    let mode = inputs.mode(&loaded.config);
    let pinned = match journal::pin(&state_dir, &identity.project) {
        Err(e) => return Err(Unplanned::Refused(Failure::new(e))),
        Ok(None) => None,
        Ok(Some(pin)) => {
            let git = loaded.git.as_ref();
            Some(Pinned {
                head: git.map(|g| g.commit.clone()),
                ahead: git.and_then(|g| g.ahead_of(&pin.commit)),
                pin,
            })
        }
    };
    Ok(Prepared {
        loaded,
        inputs: inputs.clone(),
        targets: targets.to_vec(),
        prune,
        identity,
        secrets,
        address,
        mode,
        state_dir,
        lock,
        cwd: env.cwd.clone(),
        destroy,
        pin,
        pinned,
        new_key,
        inspect_all,
    })
}

/// Observes the engine through a handle that cannot write (unless `looked`: what it
/// showed while the configuration compiled), and plans.
async fn observe_and_plan<E: Observe>(
    prepared: Prepared,
    engine: &E,
    looked: Option<Looked>,
) -> Result<Planned, Unplanned> {
    let Prepared {
        loaded,
        inputs,
        targets,
        prune,
        identity,
        secrets,
        address,
        mode,
        state_dir,
        lock,
        cwd,
        destroy,
        pin,
        pinned,
        new_key,
        inspect_all,
    } = prepared;
    let mut loaded = loaded;
    if destroy {
        // Nothing is desired but what the configuration keeps beside the targets.
        loaded
            .compiled
            .model
            .services
            .retain(|s| !targets.is_empty() && !targets.contains(&s.name));
    }
    let model = &loaded.compiled.model;
    let images = image_references(model);
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
        mode,
        host_ports,
        network: project_network(&identity.project, mode, external),
        inspect_all,
    };
    // Planning gets a handle that cannot write.
    let engine = &ReadOnly(engine);
    let mut live = match looked {
        Some(Looked { live, references }) if references == images => live,
        Some(Looked { mut live, .. }) => {
            live.images = image_ids(engine, &images).await.map_err(Unplanned::Engine)?;
            live
        }
        None => {
            let (mut live, ids) = futures_util::try_join!(engine.observe(&query), image_ids(engine, &images))
                .map_err(Unplanned::Engine)?;
            live.images = ids;
            live
        }
    };
    if new_key {
        lost_key(&live.foreign, &identity.project, &state_dir)?;
    }
    let (cosmos_store, entries) = observe_entries(&loaded.config, &loaded.root, model, &identity)
        .await?
        .unzip();
    live.cosmos = entries;
    let options = DiffOptions {
        project: &identity.project,
        installation: &identity.installation,
        default_image: "",
        digests: &secrets,
        mode,
        external_network: external.map(|name| (name, loaded.config.network.origin.as_ref())),
    };
    // Labels first: only containers whose labels do not settle the diff are inspected
    // (a Swarm service's listing is already all there is to it).
    if mode == Mode::Docker && !inspect_all {
        let unsettled = crate::diff::unsettled(model, &live, &options);
        if !unsettled.is_empty() {
            let inspected = engine
                .inspect_containers(&identity, &unsettled)
                .await
                .map_err(Unplanned::Engine)?;
            live.replace(inspected);
        }
    }
    let mut diff = diff(model, &live, &options);
    // What could refuse a change is read once there is one: a plan with nothing to do
    // costs the engine one list call.
    if mode == Mode::Docker && diff.creates_or_changes() {
        let surroundings = engine.surroundings(&query).await.map_err(Unplanned::Engine)?;
        live.surround(surroundings);
        diff = crate::diff::diff(model, &live, &options);
    }
    let mut plan = plan(
        &diff,
        &PlanOptions {
            prune: prune || destroy || loaded.config.prune,
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
    if destroy {
        unknown_targets(&targets, &plan)?;
    }
    if !targets.is_empty() {
        plan = plan.only(&targets);
    }
    // Services pinned apart from the rest: left as the rollback made them, and out of
    // the desired state's digest (so that, once released, their steps are news to a
    // watcher, not drift). A whole project pinned was planned at the pinned commit.
    let held = |service: &str| {
        pin == PinRule::Follow
            && pinned
                .as_ref()
                .is_some_and(|p| !p.pin.services.is_empty() && p.pin.holds(service))
    };
    if let Some(pinned) = &pinned {
        match pin {
            PinRule::Refuse => refuse_pinned(&plan, pinned)?,
            PinRule::Follow => plan.hold(held),
            PinRule::Warn | PinRule::Ignore => {}
        }
    }
    if let Some(git) = &loaded.git {
        blame(&mut plan, &live, git);
    }
    let mut view = PlanView::new(
        &plan,
        &identity.project,
        &address.host,
        desired_digest(&diff, held),
        live.fingerprint(),
        inputs.to_view(&targets, prune, inspect_all, loaded.commit(), &cwd),
    );
    view.observed_cosmos = live.cosmos_fingerprint();
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
        cosmos_store,
        state_dir,
        lock,
        pinned,
    })
}

/// The image references the model names, each once: those the engine can parse (one it
/// cannot is the plan's to refuse, not the engine's).
fn image_references(model: &Model) -> Vec<String> {
    let mut images: Vec<String> = model
        .services
        .iter()
        .filter_map(|s| s.image.clone())
        .filter(|r| crate::diff::limits::reference_problem(r).is_none())
        .collect();
    images.sort();
    images.dedup();
    images
}

/// The image IDs the references resolve to, for those present.
async fn image_ids<E: Observe>(
    engine: &E,
    references: &[String],
) -> Result<BTreeMap<String, String>, EngineError> {
    use futures_util::{StreamExt, TryStreamExt};
    let found: Vec<(&String, Option<String>)> = futures_util::stream::iter(references)
        .map(|reference| async move { Ok::<_, EngineError>((reference, engine.image_id(reference).await?)) })
        .buffer_unordered(32)
        .try_collect()
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(reference, id)| Some((reference.clone(), id?)))
        .collect())
}

/// A key berth has just made is a new installation's only when the engine holds nothing
/// of the project made under another key; else the old key was lost, and going on would
/// disown every object it made.
fn lost_key(foreign: &[String], project: &str, state_dir: &Path) -> Result<(), Unplanned> {
    if foreign.is_empty() {
        return Ok(crate::store::state::settle(state_dir)?);
    }
    let key = state_dir.join("key");
    Err(Unplanned::Refused(
        Failure::new(format!(
            "berth's key {} is new, but the engine holds {} object(s) of project `{project}` made by another berth installation ({}): the key they were made with is lost or replaced",
            key.display(),
            foreign.len(),
            foreign.join(", ")
        ))
        .with_help(format!(
            "restore {} from a backup: berth's installation id comes from it, and a new key disowns every object the old one made; if those objects truly are another berth's, remove {} and plan again",
            key.display(),
            state_dir.join(crate::store::state::FRESH).display()
        )),
    ))
}

/// A destroy's targets: services the configuration names, or that run.
fn unknown_targets(targets: &[String], plan: &Plan) -> Result<(), Unplanned> {
    match targets
        .iter()
        .find(|t| !plan.steps.iter().any(|s| &s.service == *t))
    {
        None => Ok(()),
        Some(target) => Err(Unplanned::Refused(
            Failure::new(format!(
                "--target `{target}`: the project runs nothing of that name, so there is nothing to destroy"
            ))
            .with_help("`berth status` lists the project's services"),
        )),
    }
}

/// `berth apply` does not undo a rollback: a plan that changes a pinned service is
/// refused.
fn refuse_pinned(plan: &Plan, pinned: &Pinned) -> Result<(), Unplanned> {
    let mut held: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| pinned.pin.holds(&s.service))
        .map(|s| s.service.as_str())
        .collect();
    held.dedup();
    if held.is_empty() {
        return Ok(());
    }
    Err(Unplanned::Refused(
        Failure::new(format!(
            "{}; applying would change {}",
            pinned.describe(),
            held.join(", ")
        ))
        .with_help(if pinned.pin.services.is_empty() {
            "`berth unpin` releases the pin (then apply), or `berth rollback --to COMMIT` moves it"
        } else {
            "`berth unpin` releases the pin (then apply), `berth rollback --to COMMIT` moves it, or --target services that are not pinned"
        }),
    ))
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
            .any(|s| s.service == service && matches!(s.action(), Action::Create | Action::Replace))
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

/// Attached mode: what COSMOS's Redis holds of the model's MICROSERVICEs and of the
/// project's entries, with berth's record of what it wrote there, in one round trip; and
/// the connection, for the apply.
async fn observe_entries(
    config: &config::Config,
    root: &Path,
    model: &Model,
    identity: &Identity,
) -> Result<Option<(Store, crate::live::Entries)>, Failure> {
    let Some(store) = super::cosmos_store(config, root).await? else {
        return Ok(None);
    };
    let names: Vec<String> = model
        .services
        .iter()
        .filter(|s| s.cosmos_microservice().is_some())
        .map(|s| s.name.clone())
        .collect();
    let entries = store
        .observe(&names, &identity.installation, &identity.project)
        .await?;
    Ok(Some((store, entries)))
}

/// Names, for every changed field, the commit that last changed its line, between the
/// commit the container was made from and the one planned.
fn blame(plan: &mut Plan, live: &LiveState, git: &GitTree) {
    for step in &mut plan.steps {
        let deployed = live
            .containers
            .iter()
            .find(|c| Some(c.id.as_str()) == step.id())
            .and_then(|c| c.owner.as_ref()?.commit.clone());
        for change in &mut step.changes {
            let file = Path::new(&change.source.file);
            // A microservice's file changed as a whole: the commit that last changed it.
            change.provenance = if change.path.starts_with("files.") {
                git.last_change(file, deployed.as_deref())
            } else {
                git.blame(file, change.source.line, deployed.as_deref())
            };
        }
    }
}

/// The project a configuration is deployed as: `--project`, else berth.yaml's, else
/// the repository's or folder's name.
pub fn project_of(inputs: &Inputs, loaded: &Loaded) -> Result<String, Failure> {
    project_named(inputs, &loaded.config, &loaded.root)
}

/// `--project`; else berth.yaml's `project`; else, read from git, the repository's name
/// (never where berth runs); else the name of the folder berth.yaml would be in.
fn project_named(inputs: &Inputs, config: &config::Config, root: &Path) -> Result<String, Failure> {
    if let Some(name) = inputs.project.as_ref().or(config.project.as_ref()) {
        return Ok(name.clone());
    }
    let hint = "set `project:` in berth.yaml";
    if let Some(location) = &inputs.repo {
        let location = if crate::repo::git::is_url(location) {
            crate::repo::without_userinfo(location)
        } else {
            let path = crate::repo::dir::canonical(Path::new(location))?;
            path.to_string_lossy().into_owned()
        };
        return crate::repo::repository_name(&location).ok_or_else(|| {
            Failure::new(format!("cannot name the project after the repository {location}")).with_help(hint)
        });
    }
    let root = crate::repo::dir::canonical(root)?;
    root.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            Failure::new(format!("cannot name the project after {}", root.display())).with_help(hint)
        })
}

/// `DOCKER_HOST` (with `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`, as the docker CLI reads
/// them), else berth.yaml's `engine`, else the default socket.
fn engine_address(engine: &config::Engine, root: &Path, env: &Environment) -> Result<Address, Failure> {
    let timeout = engine.timeout.map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    if let Some(host) = env.docker_host.clone() {
        let tls = match env.docker_tls_verify {
            true => {
                let dir = match &env.docker_cert_path {
                    Some(dir) => dir.clone(),
                    None => env.home.clone().unwrap_or_default().join(".docker"),
                };
                Some(TlsFiles {
                    ca: dir.join("ca.pem"),
                    cert: dir.join("cert.pem"),
                    key: dir.join("key.pem"),
                })
            }
            false => None,
        };
        return Ok(Address { host, tls, timeout });
    }
    let Some(host) = &engine.host else {
        return Ok(Address {
            host: DEFAULT_HOST.to_string(),
            tls: None,
            timeout,
        });
    };
    let tls = match &engine.tls {
        None => None,
        Some(tls) => {
            let file = |f: &Option<String>, what: &str| {
                f.as_ref()
                    .map(|f| root.join(f))
                    .ok_or_else(|| Failure::new(format!("berth.yaml: engine.tls needs `{what}`")))
            };
            if !tls.verify {
                return Err(Failure::new(
                    "berth.yaml: engine.tls.verify: false is not supported; berth only talks TLS to an engine it can verify",
                )
                .with_help("give engine.tls a `ca` that signed the engine's certificate"));
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
        timeout,
    })
}
