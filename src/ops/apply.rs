//! The apply use case: provide the images a plan needs (berth.yaml's build and load
//! rules, a service's archive, else a pull), turn each step into a job with real values
//! (secrets filled in, the readiness check chosen, a replace that must stop first), carry
//! the jobs out through `apply::execute` or, on a swarm, `apply::swarm`, and keep the
//! outcome in the journal. Also the check that a saved plan is still what it would be.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::Environment;
use super::load::Inputs;
use super::plan::Planned;
use crate::apply::swarm::{ServiceJob, execute_swarm};
use crate::apply::{Event, File, Job, Network, Outcome, StepError, execute};
use crate::config::Mode;
use crate::cosmos_store::Write;
use crate::engine::naming::project_network;
use crate::engine::swarm::{ServiceRequest, SwarmSecret, secret_name};
use crate::engine::{Create, EngineError, ImageSource, Readiness, Swarm, labels};
use crate::failure::Failure;
use crate::model::canonical::cosmos_form;
use crate::model::{DesiredState, PullPolicy, SecretDelivery, Service, entry};
use crate::plan::view::PlanView;
use crate::plan::{Action, Step};
use crate::repo::Files;
use crate::repo::dir::Disk;
use crate::secret::Secret;
use crate::store::journal;

/// How an apply runs.
pub struct Settings {
    /// How many services change at once.
    pub parallelism: usize,
    /// A container without probes is ready when it has stayed up this long; a Swarm
    /// service when all its tasks have.
    pub stable_for: Duration,
}

/// Where an apply's progress goes: the terminal for `berth apply`, the log for `berth
/// watch`.
pub trait Observer: Sync {
    fn event(&self, event: Event<'_>);
    /// A line about the apply as a whole: an image provided, a step that cannot run.
    fn note(&self, warning: bool, line: &str);
    /// The time now, for how long an image took: the observer owns the clock.
    fn now(&self) -> Instant;
    /// The time since the Unix epoch, for what records when it was written (a COSMOS
    /// entry's `updated_at`).
    fn unix(&self) -> Duration;
}

/// Provides the images the plan needs, then carries the plan out; one outcome per step.
/// Once `stopping` is set, no new step starts.
pub async fn carry_out<E: Swarm>(
    docker: &E,
    planned: &Planned,
    settings: &Settings,
    stopping: &AtomicBool,
    observer: &dyn Observer,
) -> Result<Vec<Outcome>, EngineError> {
    let images = provide_images(docker, planned, observer).await;
    // Attached mode: the entries go in before any container that reads them starts;
    // when they cannot, those services' steps fail and nothing of theirs runs.
    let unwritten = write_entries(planned, observer).await.err();
    let blocked = |step: &Step| {
        let reason = unwritten.as_ref()?;
        planned
            .plan
            .entries
            .write
            .contains(&step.service)
            .then(|| reason.clone())
    };
    if planned.mode == Mode::Swarm {
        let (jobs, mut outcomes) = jobs(
            planned,
            |step| match blocked(step) {
                Some(reason) => Err(reason),
                None => service_job(planned, step, &images, settings.stable_for),
            },
            observer,
        );
        let (mut done, notes) = execute_swarm(
            docker,
            &planned.identity,
            &Network {
                create: planned.plan.network.as_deref(),
                remove: planned.plan.remove_network.as_deref(),
                labels: &planned.identity.base(),
            },
            &jobs,
            settings.parallelism,
            stopping,
            &|e| observer.event(e),
        )
        .await?;
        for note in notes {
            observer.note(true, &note);
        }
        outcomes.append(&mut done);
        remove_entries(planned, &outcomes, observer).await;
        return Ok(outcomes);
    }
    let (jobs, mut outcomes) = jobs(
        planned,
        |step| match blocked(step) {
            Some(reason) => Err(reason),
            None => job(planned, step, &images, settings.stable_for),
        },
        observer,
    );
    let labels = planned.identity.base();
    let network = Network {
        create: planned.plan.network.as_deref(),
        remove: planned.plan.remove_network.as_deref(),
        labels: &labels,
    };
    let mut done = execute(docker, &network, &jobs, settings.parallelism, stopping, &|e| {
        observer.event(e)
    })
    .await?;
    outcomes.append(&mut done);
    remove_entries(planned, &outcomes, observer).await;
    Ok(outcomes)
}

/// Attached mode: writes the entries the plan names into COSMOS's Redis, each with the
/// time of writing, over what the plan found there and nothing else; why not, as the
/// reason its service's steps fail.
async fn write_entries(planned: &Planned, observer: &dyn Observer) -> Result<(), String> {
    let names = &planned.plan.entries.write;
    if names.is_empty() {
        return Ok(());
    }
    let failed = |e: Failure| {
        let text = e.to_string();
        observer.note(true, &format!("COSMOS entries not written: {text}"));
        format!("its COSMOS entry could not be written: {text}")
    };
    let store = planned
        .cosmos_store
        .as_ref()
        .ok_or_else(|| failed(Failure::new("berth.yaml has no cosmos.redis")))?;
    let updated_at = u64::try_from(observer.unix().as_nanos()).unwrap_or(u64::MAX);
    let mut writes = Vec::new();
    for name in names {
        let Some(service) = service(planned, name) else {
            continue;
        };
        let entry = real_entry(planned, service)
            .map_err(|secret| failed(Failure::new(format!("secret `{secret}` has no value"))))?;
        let (Some(mut entry), Some(config)) = (entry, cosmos_form(service, &planned.secrets)) else {
            continue;
        };
        entry.insert(entry::UPDATED_AT.into(), updated_at.into());
        writes.push(Write {
            name,
            expected: found_text(planned, name),
            entry,
            config: entry::config_digest(&config),
        });
    }
    let identity = &planned.identity;
    store
        .write(&writes, &identity.installation, &identity.project)
        .await
        .map_err(failed)?;
    observer.note(false, &format!("COSMOS entries written: {}", names.join(", ")));
    Ok(())
}

/// What the plan found in Redis under `name`.
fn found_text<'a>(planned: &'a Planned, name: &str) -> Option<&'a str> {
    let found = planned.live.cosmos.as_ref()?.present.get(name)?.as_ref()?;
    Some(found.text.expose().as_str())
}

/// A MICROSERVICE's entry with real values (`None` for any other service); the name of
/// a secret without a value.
fn real_entry(
    planned: &Planned,
    service: &Service,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, String> {
    let missing = std::cell::RefCell::new(None);
    let entry = entry::entry(service, &|text| {
        planned.secrets.render(text).unwrap_or_else(|name| {
            missing.replace(Some(name));
            String::new()
        })
    });
    match missing.into_inner() {
        Some(name) => Err(name),
        None => Ok(entry),
    }
}

/// Attached mode: removes the entries of services pruned away, once nothing of theirs
/// failed to go, and only as the plan found them. A failure is said, not fatal: the
/// next apply removes them.
async fn remove_entries(planned: &Planned, outcomes: &[Outcome], observer: &dyn Observer) {
    let steps = &planned.plan.steps;
    let gone: Vec<(&str, Option<&str>)> = planned
        .plan
        .entries
        .remove
        .iter()
        .filter(|name| {
            !steps.iter().any(|s| {
                &s.service == *name && outcomes.iter().any(|o| o.name == s.name && o.result.is_err())
            })
        })
        .map(|name| (name.as_str(), found_text(planned, name)))
        .collect();
    let Some(store) = planned.cosmos_store.as_ref().filter(|_| !gone.is_empty()) else {
        return;
    };
    let identity = &planned.identity;
    match store
        .remove(&gone, &identity.installation, &identity.project)
        .await
    {
        Ok(left) => {
            let removed: Vec<&str> = gone
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| !left.iter().any(|l| l == n))
                .collect();
            if !removed.is_empty() {
                observer.note(false, &format!("COSMOS entries removed: {}", removed.join(", ")));
            }
            if !left.is_empty() {
                observer.note(
                    true,
                    &format!("COSMOS entries left, changed since the plan: {}", left.join(", ")),
                );
            }
        }
        Err(e) => observer.note(true, &format!("COSMOS entries not removed: {e}")),
    }
}

/// A saved plan that no longer matches what planning now would give.
#[derive(Debug, thiserror::Error)]
#[error("the saved plan is stale: {} since it was made{detail}", what.join(" and "))]
pub struct Stale {
    /// What changed: the configuration, the engine's containers.
    pub what: Vec<&'static str>,
    /// The steps no longer planned and the ones now planned.
    pub detail: String,
}

/// What applying a saved plan plans again from: what it was made from.
pub struct Remade {
    pub inputs: Inputs,
    pub targets: Vec<String>,
    pub prune: bool,
    pub inspect_all: bool,
}

/// What a saved plan was made from. A plan records no ssh key: `BERTH_SSH_KEY` reads
/// its repository again.
pub fn remade(view: &PlanView, env: &Environment) -> Remade {
    Remade {
        inputs: Inputs {
            ssh_key: env.ssh_key.clone(),
            ..Inputs::from_view(&view.inputs)
        },
        targets: view.inputs.targets.clone(),
        prune: view.inputs.prune,
        inspect_all: view.inputs.inspect_all,
    }
}

/// The plan a saved file holds, when it is one (`None`: the file is not a saved plan);
/// an error when it looks like one this berth cannot read.
pub fn saved_plan(text: &str) -> Option<Result<PlanView, serde_json::Error>> {
    let value = serde_json::from_str::<serde_json::Value>(text).ok()?;
    value.get("desired_digest")?;
    Some(serde_json::from_value(value))
}

/// Refuses a saved plan when the configuration or the engine changed since, saying what.
pub fn fresh(saved: &PlanView, now: &PlanView) -> Result<(), Stale> {
    if saved.desired_digest == now.desired_digest
        && saved.observed_fingerprint == now.observed_fingerprint
        && saved.observed_cosmos == now.observed_cosmos
    {
        return Ok(());
    }
    let line = |s: &crate::plan::view::StepView| format!("{} {}", s.action, s.container);
    let before: Vec<String> = saved.steps.iter().map(line).collect();
    let after: Vec<String> = now.steps.iter().map(line).collect();
    let mut what = Vec::new();
    if saved.desired_digest != now.desired_digest {
        what.push("the configuration changed");
    }
    if saved.observed_fingerprint != now.observed_fingerprint {
        what.push("the engine's containers changed");
    }
    if saved.observed_cosmos != now.observed_cosmos {
        what.push("COSMOS's entries in Redis changed");
    }
    let gone: Vec<&String> = before.iter().filter(|s| !after.contains(s)).collect();
    let new: Vec<&String> = after.iter().filter(|s| !before.contains(s)).collect();
    let mut detail = String::new();
    if !gone.is_empty() {
        detail += &format!(
            "; no longer planned: {}",
            gone.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    if !new.is_empty() {
        detail += &format!(
            "; now planned: {}",
            new.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    Err(Stale { what, detail })
}

/// Makes every image a create or replace needs present; by reference, its ID or why not.
async fn provide_images<E: Swarm>(
    engine: &E,
    planned: &Planned,
    observer: &dyn Observer,
) -> BTreeMap<String, Result<String, String>> {
    let mut needed: BTreeMap<&str, &Service> = BTreeMap::new();
    // A Swarm service's update may name a new image; a container's never does.
    let swarm = planned.mode == Mode::Swarm;
    for step in planned.plan.steps.iter().filter(|s| {
        matches!(s.action(), Action::Create | Action::Replace) || swarm && s.action() == Action::Update
    }) {
        if let (Some((spec, _)), Some(service)) = (step.spec(), service(planned, &step.service)) {
            needed.entry(spec.image.as_str()).or_insert(service);
        }
    }
    let mut ids = BTreeMap::new();
    for (reference, service) in needed {
        let present = planned.live.images.get(reference);
        let fresh = service.pull.policy == PullPolicy::Always;
        let result = match source(planned, reference, service) {
            Err(e) => Err(e),
            Ok(_) if present.is_some() && !fresh => Ok(present.cloned().unwrap_or_default()),
            Ok(None) => present.cloned().ok_or_else(|| {
                format!("image `{reference}` is not present, and skip_pull forbids pulling it; build or load it first")
            }),
            Ok(Some(how)) => match provide(engine, reference, &how, observer).await {
                Ok(id) => Ok(id),
                // Asked to pull every time, and the registry fails: the image already
                // here still runs, loudly, rather than nothing.
                Err(e) if present.is_some() => {
                    observer.note(true, &format!("{e}; using the image `{reference}` already present"));
                    Ok(present.cloned().unwrap_or_default())
                }
                Err(e) => Err(e),
            },
        };
        ids.insert(reference.to_string(), result);
    }
    ids
}

/// Provides one image; its ID.
async fn provide<E: Swarm>(
    engine: &E,
    reference: &str,
    how: &ImageSource,
    observer: &dyn Observer,
) -> Result<String, String> {
    let started = observer.now();
    observer.note(false, &format!("image {reference}: {}…", verb(how)));
    engine.provide_image(how).await.map_err(|e| e.explained())?;
    let id = engine.image_id(reference).await.map_err(|e| e.explained())?;
    let id = id.ok_or_else(|| format!("image `{reference}` is still not present after {}", verb(how)))?;
    observer.note(
        false,
        &format!(
            "image {reference}: ready ({:.1}s)",
            observer.now().duration_since(started).as_secs_f32()
        ),
    );
    Ok(id)
}

fn verb(source: &ImageSource) -> &'static str {
    match source {
        ImageSource::Load { .. } => "loading",
        ImageSource::Build { .. } => "building",
        ImageSource::Pull { .. } => "pulling",
    }
}

/// How an image is provided: berth.yaml's rule for it, the service's archive, else a
/// pull (`None` when the service forbids pulling).
pub fn source(planned: &Planned, reference: &str, service: &Service) -> Result<Option<ImageSource>, String> {
    let root = &planned.root;
    if let Some(rule) = planned.config.images.iter().find(|r| r.name == reference) {
        if let Some(build) = &rule.build {
            return Ok(Some(ImageSource::Build {
                tag: reference.to_string(),
                context: root.join(&build.context),
                dockerfile: build.dockerfile.clone(),
                args: build.args.clone(),
            }));
        }
        if let Some(load) = &rule.load {
            return Ok(Some(ImageSource::Load {
                archive: root.join(load),
            }));
        }
    }
    if let Some(archive) = &service.pull.archive {
        return Ok(Some(ImageSource::Load {
            archive: archive_path(root, archive),
        }));
    }
    if service.pull.policy == PullPolicy::Never {
        return Ok(None);
    }
    let credentials = match &service.pull.auth {
        None => None,
        Some(auth) => {
            let text = |t| {
                planned
                    .secrets
                    .render(t)
                    .map_err(|name| format!("registry credentials need secret `{name}`, which has no value"))
            };
            Some((text(&auth.username)?, Secret::new(text(&auth.password)?)))
        }
    };
    Ok(Some(ImageSource::Pull {
        reference: reference.to_string(),
        credentials,
    }))
}

/// Archives are named relative to the current folder when berth read them.
fn archive_path(root: &Path, archive: &str) -> PathBuf {
    let path = PathBuf::from(archive);
    if Disk.is_file(&path) {
        path
    } else {
        root.join(archive)
    }
}

fn service<'a>(planned: &'a Planned, name: &str) -> Option<&'a Service> {
    planned.model.services.iter().find(|s| s.name == name)
}

/// The jobs for the plan's steps, made by `make`; steps that cannot run (no image, no
/// secret) fail here.
fn jobs<J>(
    planned: &Planned,
    make: impl Fn(&Step) -> Result<J, String>,
    observer: &dyn Observer,
) -> (Vec<J>, Vec<Outcome>) {
    let mut jobs = Vec::new();
    let mut failed = Vec::new();
    for step in &planned.plan.steps {
        match make(step) {
            Ok(job) => jobs.push(job),
            Err(e) => {
                observer.note(
                    true,
                    &format!("{}: {} failed: {e}", step.name, step.action().name()),
                );
                failed.push(Outcome {
                    name: step.name.clone(),
                    action: step.action(),
                    result: Err(StepError::Failed(e)),
                });
            }
        }
    }
    (jobs, failed)
}

/// The image ID a new or updated object's hash names: it may have just arrived.
fn image_id(
    images: &BTreeMap<String, Result<String, String>>,
    spec: &crate::model::canonical::Spec,
) -> Result<String, String> {
    images
        .get(&spec.image)
        .cloned()
        .unwrap_or_else(|| Err("no image".into()))
}

/// What a service gets with real values: its environment (secrets in variables filled
/// in), and its secret files as (secret, path, value).
#[allow(clippy::type_complexity)] // a pair said once, taken apart at once by both callers
fn real_values<'a>(
    planned: &Planned,
    service: &'a Service,
) -> Result<
    (
        Secret<BTreeMap<String, String>>,
        Vec<(&'a str, &'a str, Secret<Vec<u8>>)>,
    ),
    String,
> {
    let missing = |name: &str| format!("secret `{name}` has no value");
    let mut env = planned.secrets.environment(service).map_err(|n| missing(&n))?;
    // Standalone (no cosmos.redis), a MICROSERVICE finds the entry COSMOS would keep for
    // it in Redis in a variable.
    if planned.config.cosmos.redis.is_none()
        && let Some(entry) = real_entry(planned, service).map_err(|n| missing(&n))?
    {
        env.insert(
            entry::STANDALONE.into(),
            serde_json::Value::Object(entry).to_string(),
        );
    }
    let env = Secret::new(env);
    let mut files = Vec::new();
    for secret in &service.secrets {
        if let SecretDelivery::File { path } = &secret.delivery {
            let value = planned.secrets.require(&secret.name).map_err(|n| missing(&n))?;
            files.push((
                secret.name.as_str(),
                path.as_str(),
                Secret::new(value.as_bytes().to_vec()),
            ));
        }
    }
    Ok((env, files))
}

/// A Swarm step with real values: secret files become Swarm secrets named after their
/// value's digest, secrets in variables stay variables (Swarm has no other way to set
/// one).
fn service_job(
    planned: &Planned,
    step: &Step,
    images: &BTreeMap<String, Result<String, String>>,
    stable_for: Duration,
) -> Result<ServiceJob, String> {
    let mut job = ServiceJob {
        step: step.clone(),
        request: None,
        stable_for,
    };
    let (Action::Create | Action::Update, Some((spec, _)), Some(service)) =
        (step.action(), step.spec(), service(planned, &step.service))
    else {
        return Ok(job);
    };
    let image_id = image_id(images, spec)?;
    let hash = spec.hash(Some(&image_id));
    let (env, files) = real_values(planned, service)?;
    let identity = &planned.identity;
    let mut secrets = Vec::new();
    for (name, path, value) in files {
        let digest = spec.secret_files.get(path).map_or("", String::as_str);
        let mut labels = identity.base();
        labels.remove(labels::COMMIT);
        labels.insert(labels::SECRET.to_string(), name.to_string());
        secrets.push(SwarmSecret {
            name: secret_name(&identity.project, name, digest),
            labels,
            value,
            target: path.to_string(),
        });
    }
    let mut labels = identity.container(&step.service, 0, spec, &hash, step.origin.as_ref());
    labels.insert(labels::IMAGE_ID.to_string(), image_id);
    let mut container_labels = spec.labels.clone();
    container_labels.insert(labels::SPEC_HASH.to_string(), hash);
    job.request = Some(ServiceRequest {
        name: step.name.clone(),
        spec: spec.clone(),
        env,
        replicas: if service.state == DesiredState::Running {
            service.replicas
        } else {
            0
        },
        labels,
        container_labels,
        network: project_network(
            &identity.project,
            Mode::Swarm,
            planned.config.network.external.as_deref(),
        ),
        alias: step.service.clone(),
        secrets,
        credentials: match source(planned, &spec.image, service)? {
            Some(ImageSource::Pull { credentials, .. }) => credentials,
            _ => None,
        },
    });
    Ok(job)
}

fn job(
    planned: &Planned,
    step: &Step,
    images: &BTreeMap<String, Result<String, String>>,
    stable_for: Duration,
) -> Result<Job, String> {
    let service = service(planned, &step.service);
    let readiness = service
        .and_then(|s| s.probes.readiness.clone().or_else(|| s.probes.liveness.clone()))
        .map_or(Readiness::StaysUp(stable_for), Readiness::Probe);
    let mut job = Job {
        step: step.clone(),
        create: None,
        files: Vec::new(),
        folder: Vec::new(),
        readiness,
        stop_first: false,
    };
    let (Action::Create | Action::Replace, Some((spec, _)), Some(service)) =
        (step.action(), step.spec(), service)
    else {
        return Ok(job);
    };
    let hash = spec.hash(Some(&image_id(images, spec)?));
    let (env, files) = real_values(planned, service)?;
    job.folder = service.files.clone();
    job.files = files
        .into_iter()
        .map(|(_, path, content)| File {
            path: path.to_string(),
            content,
        })
        .collect();
    let identity = &planned.identity;
    let labels = identity.container(&step.service, step.instance, spec, &hash, step.origin.as_ref());
    job.create = Some(Create::new(
        &step.name,
        spec,
        env,
        labels,
        &project_network(
            &identity.project,
            Mode::Docker,
            planned.config.network.external.as_deref(),
        ),
        &step.service,
    ));
    // A host port the old container holds cannot be taken by the new one beside it.
    job.stop_first = step.action() == Action::Replace && spec.ports.iter().any(|p| p.host.is_some());
    Ok(job)
}

/// What ran, for the journal: an apply, a rollback or a destroy, by whom, when, and why
/// when the configuration did not change.
pub struct Run {
    pub kind: &'static str,
    /// `user@host`.
    pub by: Option<String>,
    /// Why it ran besides a new commit: `image update by schedule: web`.
    pub reason: Option<String>,
    /// RFC 3339, UTC.
    pub time: String,
}

/// Keeps an apply's outcome in the journal for `berth status` and `berth history`; the
/// entry written.
pub fn record(outcomes: &[Outcome], planned: &Planned, run: Run, observer: &dyn Observer) -> journal::Entry {
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            o.result.as_ref().err().map(|e| {
                planned
                    .secrets
                    .scrub(&format!("{} ({}): {e}", o.name, o.action.name()))
            })
        })
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.result.is_ok()) {
        *counts.entry(o.action.done()).or_default() += 1;
    }
    let done: Vec<String> = counts.iter().map(|(a, n)| format!("{n} {a}")).collect();
    let done = if done.is_empty() {
        "nothing".to_string()
    } else {
        done.join(", ")
    };
    // Each service's steps; the network's removal is no service's, and `failed` says it
    // when it fails.
    let changes = planned
        .plan
        .steps
        .iter()
        .filter_map(|step| {
            let outcome = outcomes
                .iter()
                .find(|o| o.name == step.name && o.action == step.action())?;
            Some(journal::Change {
                service: step.service.clone(),
                container: step.name.clone(),
                action: step.action().done().to_string(),
                error: outcome
                    .result
                    .as_ref()
                    .err()
                    .map(|e| planned.secrets.scrub(&e.to_string())),
            })
        })
        .collect();
    let entry = journal::Entry {
        time: run.time,
        kind: run.kind.to_string(),
        by: run.by,
        engine: planned.address.host.clone(),
        commit: planned.identity.commit.clone(),
        outcome: if failed.is_empty() {
            "complete"
        } else {
            "incomplete"
        }
        .to_string(),
        done,
        failed,
        reason: run.reason,
        changes,
    };
    let keep = planned.config.history.keep;
    if let Err(e) = journal::record(&planned.state_dir, &planned.identity.project, &entry, keep) {
        let help = crate::store::io_help(&e, &planned.state_dir)
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
        observer.note(
            true,
            &format!("cannot record this apply in the journal (what was applied stays applied; earlier entries are kept): {e}{help}"),
        );
    }
    entry
}
