//! The use cases on the fake engine and files in memory: what plan refuses, that an
//! applied plan converges, stale saved plans, where images come from, and replaces that
//! must stop the old container first.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::Environment;
use super::apply::{Observer, Settings, carry_out, fresh, source};
use super::load::Inputs;
use super::plan::{PinRule, Planned, Request, Unplanned, make};
use crate::apply::Event;
use crate::engine::ImageSource;
use crate::engine::fake::FakeDocker;
use crate::plan::Action;
use crate::repo::memory::Memory;

const BERTH: &str = "cosmos:\n  image: \"app:1\"\n";
const PLUGIN: &str = "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n";
const SERVICE: &str = "DEFAULT__USER__EXAMPLE";

/// A state directory for one test, and the environment naming it.
struct Setup {
    _state: tempfile::TempDir,
    env: Environment,
}

fn setup() -> Setup {
    let state = tempfile::tempdir().expect("a temporary folder");
    let env = Environment {
        state_dir: Some(state.path().to_path_buf()),
        ..Environment::default()
    };
    Setup { _state: state, env }
}

fn inputs() -> Inputs {
    Inputs {
        paths: vec![".".into()],
        project: Some("ops-test".into()),
        ..Inputs::default()
    }
}

async fn plan_with(
    files: &Memory,
    engine: &FakeDocker,
    targets: &[String],
    setup: &Setup,
) -> Result<Planned, Unplanned> {
    let inputs = inputs();
    let request = Request {
        inputs: &inputs,
        files,
        targets,
        prune: false,
        lock: None,
        stopping: None,
        destroy: false,
        pin: PinRule::Refuse,
        inspect_all: false,
    };
    // The whole use case: load, gate, connect (to the fake engine), observe, plan.
    let (planned, _) = make(&request, &setup.env, engine, &|_| {}).await?;
    Ok(planned)
}

/// Progress, kept out of the way; the notes are kept for the tests to read.
#[derive(Default)]
struct Quiet {
    notes: std::sync::Mutex<Vec<String>>,
}

impl Observer for Quiet {
    fn event(&self, _: Event<'_>) {}

    fn note(&self, _: bool, line: &str) {
        self.notes.lock().expect("not poisoned").push(line.to_string());
    }

    #[allow(clippy::disallowed_methods)] // the test is the edge: its own clock
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn unix(&self) -> Duration {
        Duration::from_secs(1_796_500_000)
    }
}

async fn apply(engine: &FakeDocker, planned: &Planned) -> Vec<crate::apply::Outcome> {
    let settings = Settings {
        parallelism: 4,
        stable_for: Duration::ZERO,
    };
    carry_out(
        engine,
        planned,
        &settings,
        &AtomicBool::new(false),
        &Quiet::default(),
    )
    .await
    .expect("the fake engine answers")
}

fn refusal(result: Result<Planned, Unplanned>) -> String {
    match result {
        Err(Unplanned::Refused(failure)) => failure.to_string(),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("planned"),
    }
}

#[tokio::test]
async fn an_invalid_configuration_is_not_planned_and_the_engine_not_read() {
    let setup = setup();
    let files = Memory::new()
        .add("berth.yaml", BERTH)
        .add("plugin.txt", "MICROSERVICE\n");
    let engine = FakeDocker::default();
    match plan_with(&files, &engine, &[], &setup).await {
        Err(Unplanned::Invalid { problems, commit, .. }) => {
            assert!(!problems.is_empty() && problems.iter().all(|p| p.is_error()));
            assert_eq!(commit, None);
        }
        Err(other) => panic!("not refused as invalid: {other}"),
        Ok(_) => panic!("planned"),
    }
    assert!(engine.writes.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_service_without_an_image_is_refused() {
    let setup = setup();
    let files = Memory::new().add("plugin.txt", PLUGIN);
    let message = refusal(plan_with(&files, &FakeDocker::default(), &[], &setup).await);
    assert_eq!(message, format!("no image for: {SERVICE}"));
}

#[tokio::test]
async fn an_unknown_target_is_refused_with_the_closest_name() {
    let setup = setup();
    let files = Memory::new().add("berth.yaml", BERTH).add("plugin.txt", PLUGIN);
    let target = vec!["DEFAULT__USER__EXAMPL".to_string()];
    let message = refusal(plan_with(&files, &FakeDocker::default(), &target, &setup).await);
    assert!(
        message.contains(&format!("did you mean `{SERVICE}`?")),
        "{message}"
    );
}

#[tokio::test]
async fn an_applied_plan_converges() {
    let setup = setup();
    let files = Memory::new().add("berth.yaml", BERTH).add("plugin.txt", PLUGIN);
    let engine = FakeDocker::default();
    let planned = plan_with(&files, &engine, &[], &setup).await.expect("planned");
    let actions: Vec<Action> = planned.plan.steps.iter().map(|s| s.action()).collect();
    assert_eq!(actions, [Action::Create]);
    assert!(
        planned.plan.network.is_some(),
        "the project network is made first"
    );
    let outcomes = apply(&engine, &planned).await;
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    // The image was not there: the apply pulled it before creating the container.
    let writes = engine.writes.lock().unwrap().clone();
    let pulled = writes.iter().position(|w| w == "pull app:1").expect("pulled");
    let created = writes
        .iter()
        .position(|w| w.starts_with("create "))
        .expect("created");
    assert!(pulled < created, "{writes:?}");
    let again = plan_with(&files, &engine, &[], &setup)
        .await
        .expect("planned again");
    assert!(again.plan.is_empty(), "{:?}", again.plan.steps);
}

#[tokio::test]
async fn a_secret_without_a_value_is_refused_at_its_line() {
    let setup = setup();
    let plugin = format!("{PLUGIN}  SECRET ENV API_KEY API_KEY\n");
    let files = Memory::new().add("berth.yaml", BERTH).add("plugin.txt", &plugin);
    let planned = plan_with(&files, &FakeDocker::default(), &[], &setup)
        .await
        .expect("planned");
    let [error] = &planned.plan.errors[..] else {
        panic!("{:?}", planned.plan.errors);
    };
    assert!(error.message.contains("secret `API_KEY`"), "{error}");
    let at = error.at.as_ref().expect("a place");
    assert_eq!((at.file.as_str(), at.line), ("plugin.txt", 3), "{error}");
}

const SKIP_PULL: &str = r#"{"_id": "skipper", "type": "system:microservice", "docker": {"image": "kept:1", "port": 8080, "skip_pull": true}}"#;

#[tokio::test]
async fn an_image_nothing_can_provide_is_refused_until_it_is_there() {
    let setup = setup();
    let files = Memory::new().add("systems/skipper.conf.json", SKIP_PULL);
    let engine = FakeDocker::default();
    let planned = plan_with(&files, &engine, &[], &setup).await.expect("planned");
    let messages: Vec<&str> = planned.plan.errors.iter().map(|e| e.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`kept:1` is not on the engine, and skip_pull forbids pulling it")),
        "{messages:?}"
    );
    engine
        .state
        .lock()
        .unwrap()
        .images
        .insert("kept:1".into(), "sha256:kept".into());
    let planned = plan_with(&files, &engine, &[], &setup).await.expect("planned");
    assert!(planned.plan.errors.is_empty(), "{:?}", planned.plan.errors);
}

#[tokio::test]
async fn a_saved_plan_is_stale_once_the_engine_changed() {
    let setup = setup();
    let files = Memory::new().add("berth.yaml", BERTH).add("plugin.txt", PLUGIN);
    let engine = FakeDocker::default();
    // The image is there already: the apply changes nothing but the containers.
    engine
        .state
        .lock()
        .unwrap()
        .images
        .insert("app:1".into(), "sha256:app".into());
    let saved = plan_with(&files, &engine, &[], &setup).await.expect("planned");
    // The same plan made again is fresh.
    let same = plan_with(&files, &engine, &[], &setup).await.expect("planned");
    assert!(fresh(&saved.view, &same.view).is_ok());
    apply(&engine, &saved).await;
    let now = plan_with(&files, &engine, &[], &setup).await.expect("planned");
    let stale = fresh(&saved.view, &now.view).expect_err("stale");
    assert_eq!(stale.what, ["the engine's containers changed"]);
    assert!(
        stale.to_string().contains("no longer planned: create "),
        "{stale}"
    );
}

#[tokio::test]
async fn images_come_from_a_rule_an_archive_or_a_pull() {
    let setup = setup();
    let berth = "cosmos:\n  image: \"app:1\"\nimages:\n  - name: \"app:1\"\n    build: { context: app }\n";
    let files = Memory::new().add("berth.yaml", berth).add("plugin.txt", PLUGIN);
    let planned = plan_with(&files, &FakeDocker::default(), &[], &setup)
        .await
        .expect("planned");
    let service = &planned.model.services[0];
    match source(&planned, "app:1", service) {
        Ok(Some(ImageSource::Build {
            tag,
            context,
            dockerfile,
            ..
        })) => {
            assert_eq!((tag.as_str(), dockerfile.as_str()), ("app:1", "Dockerfile"));
            assert_eq!(context, planned.root.join("app"));
        }
        other => panic!("not built: {other:?}"),
    }
    // Without a rule: pulled, with no credentials.
    match source(&planned, "other:2", service) {
        Ok(Some(ImageSource::Pull {
            reference,
            credentials,
        })) => {
            assert_eq!(reference, "other:2");
            assert!(credentials.is_none());
        }
        other => panic!("not pulled: {other:?}"),
    }
    // skip_pull: nothing provides it.
    let files = Memory::new().add("systems/skipper.conf.json", SKIP_PULL);
    let planned = plan_with(&files, &FakeDocker::default(), &[], &setup)
        .await
        .expect("planned");
    assert!(matches!(
        source(&planned, "kept:1", &planned.model.services[0]),
        Ok(None)
    ));
}

/// Where in the engine's writes the old container was stopped and the new one created.
fn stop_and_create(engine: &FakeDocker, old: &str) -> (usize, usize, Vec<String>) {
    let writes = engine.writes.lock().unwrap().clone();
    let at = |what: &dyn Fn(&String) -> bool| writes.iter().position(what);
    let stopped = at(&|w| *w == format!("stop {old}")).expect("old stopped");
    let created = at(&|w| w.starts_with("create ")).expect("new created");
    (stopped, created, writes)
}

#[tokio::test]
async fn a_replace_that_publishes_a_host_port_stops_the_old_container_first() {
    let setup = setup();
    let with_port =
        |command: &str| format!("MICROSERVICE EXAMPLE example\n  CMD ruby {command}\n  PORT 8080\n");
    let engine = FakeDocker::default();
    let files = Memory::new()
        .add("berth.yaml", BERTH)
        .add("plugin.txt", &with_port("one.rb"));
    let planned = plan_with(&files, &engine, &[], &setup).await.expect("planned");
    apply(&engine, &planned).await;
    let old = engine.state.lock().unwrap().containers[0].id.clone();
    engine.writes.lock().unwrap().clear();

    let files = Memory::new()
        .add("berth.yaml", BERTH)
        .add("plugin.txt", &with_port("two.rb"));
    let planned = plan_with(&files, &engine, &[], &setup).await.expect("planned");
    let actions: Vec<Action> = planned.plan.steps.iter().map(|s| s.action()).collect();
    assert_eq!(actions, [Action::Replace]);
    let outcomes = apply(&engine, &planned).await;
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    let (stopped, created, writes) = stop_and_create(&engine, &old);
    assert!(stopped < created, "the old container holds the port: {writes:?}");

    // Without a host port the new container starts beside the old one.
    let engine = FakeDocker::default();
    let files = Memory::new().add("berth.yaml", BERTH).add("plugin.txt", PLUGIN);
    apply(
        &engine,
        &plan_with(&files, &engine, &[], &setup).await.expect("planned"),
    )
    .await;
    let old = engine.state.lock().unwrap().containers[0].id.clone();
    engine.writes.lock().unwrap().clear();
    let files = Memory::new().add("berth.yaml", BERTH).add(
        "plugin.txt",
        "MICROSERVICE EXAMPLE example\n  CMD ruby other.rb\n",
    );
    apply(
        &engine,
        &plan_with(&files, &engine, &[], &setup).await.expect("planned"),
    )
    .await;
    let (stopped, created, writes) = stop_and_create(&engine, &old);
    assert!(created < stopped, "create before destroy: {writes:?}");
}

/// Every type that holds a secret value, formatted with `{:?}` as a log line or a panic
/// would: the value never shows.
#[tokio::test]
async fn no_secret_value_shows_in_any_debug_output() {
    use crate::apply::swarm::ServiceJob;
    use crate::apply::{File, Job};
    use crate::engine::swarm::{ServiceRequest, SwarmSecret};
    use crate::engine::{Create, Readiness};
    use crate::secret::Secret;
    use crate::store::state::State;

    const VALUE: &str = "sentinel-value-7f3a";
    let setup = setup();
    let folder = tempfile::tempdir().expect("a temporary folder");
    #[allow(clippy::disallowed_methods)] // the test is the edge: it writes the secret
    std::fs::write(folder.path().join("API_KEY"), VALUE).expect("written");
    let berth = format!(
        "{BERTH}secrets:\n  providers:\n    - {{ type: dir, path: \"{}\" }}\n",
        folder.path().display()
    );
    let plugin = format!("{PLUGIN}  SECRET ENV API_KEY API_KEY\n  SECRET FILE API_KEY /run/secrets/key\n");
    let files = Memory::new().add("berth.yaml", &berth).add("plugin.txt", &plugin);
    let planned = plan_with(&files, &FakeDocker::default(), &[], &setup)
        .await
        .expect("planned");
    assert!(planned.plan.errors.is_empty(), "{:?}", planned.plan.errors);
    let service = &planned.model.services[0];
    let env = planned
        .secrets
        .environment(service)
        .expect("every secret has a value");
    assert_eq!(
        env.get("API_KEY").map(String::as_str),
        Some(VALUE),
        "the value is there to be sent"
    );

    let step = planned.plan.steps[0].clone();
    let spec = step.spec().expect("a create has a spec").0.clone();
    let create = Create::new(
        &step.name,
        &spec,
        Secret::new(env.clone()),
        Default::default(),
        "net",
        "alias",
    );
    let file = File {
        path: "/run/secrets/key".into(),
        content: Secret::new(VALUE.as_bytes().to_vec()),
    };
    let job = Job {
        step: step.clone(),
        create: Some(create.clone()),
        files: vec![file.clone()],
        folder: Vec::new(),
        readiness: Readiness::StaysUp(Duration::ZERO),
        stop_first: false,
    };
    let secret = SwarmSecret {
        name: "p-key-0123".into(),
        labels: Default::default(),
        value: Secret::new(VALUE.as_bytes().to_vec()),
        target: "/run/secrets/key".into(),
    };
    let request = ServiceRequest {
        name: step.name.clone(),
        spec,
        env: Secret::new(env),
        replicas: 1,
        labels: Default::default(),
        container_labels: Default::default(),
        network: "net".into(),
        alias: "alias".into(),
        secrets: vec![secret.clone()],
        credentials: Some(("puller".into(), Secret::new(VALUE.into()))),
    };
    let service_job = ServiceJob {
        step,
        request: Some(request.clone()),
        stable_for: Duration::ZERO,
    };
    let pull = ImageSource::Pull {
        reference: "app:1".into(),
        credentials: Some(("puller".into(), Secret::new(VALUE.into()))),
    };
    let state = State::open(setup.env.state_dir.as_deref().expect("a state directory")).expect("opened");
    let shown = [
        format!("{create:?}"),
        format!("{file:?}"),
        format!("{job:?}"),
        format!("{secret:?}"),
        format!("{request:?}"),
        format!("{service_job:?}"),
        format!("{pull:?}"),
        format!("{:?}", planned.secrets),
        format!("{:?}", planned.model),
        format!("{:?}", planned.plan),
        format!("{state:?}"),
        format!("{}", Secret::new(VALUE)),
        // A credential written in plain text in the repository.
        format!("{:?}", crate::model::Text::literal(VALUE).sensitive()),
    ];
    for text in &shown {
        assert!(!text.contains(VALUE), "a secret value shows: {text}");
    }
    assert!(
        shown.iter().take(8).all(|t| t.contains("<redacted>")),
        "{shown:?}"
    );
}

#[test]
fn lint_fails_on_errors_and_refuses_an_unknown_rule() {
    use super::lint::{Request as LintRequest, lint};
    let files = Memory::new()
        .add("berth.yaml", BERTH)
        .add("plugin.txt", "MICROSERVICE\n");
    let inputs = inputs();
    let request = |deny: &'static [String]| LintRequest {
        inputs: &inputs,
        deny,
        warn: &[],
        allow: &[],
        max_warnings: None,
    };
    let quiet = |_: &str| {};
    let linted = lint(&request(&[]), &files, None, &quiet).expect("linted");
    assert!(linted.failed && linted.tally.errors > 0, "{:?}", linted.problems);
    assert_eq!(linted.files, 1, "the plugin; berth.yaml is the project file");
    let fine = Memory::new().add("berth.yaml", BERTH).add("plugin.txt", PLUGIN);
    let linted = lint(&request(&[]), &fine, None, &quiet).expect("linted");
    assert!(!linted.failed, "{:?}", linted.problems);
    static UNKNOWN: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| vec!["no-such-rule".into()]);
    let refused = lint(&request(&UNKNOWN), &fine, None, &quiet)
        .err()
        .expect("refused");
    assert_eq!(
        refused.help.as_deref(),
        Some("`berth lint --list-rules` lists them")
    );
}
