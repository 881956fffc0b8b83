//! The reconciler on the fake engine, over a repository folder on disk and a clock the
//! test moves: it applies, then finds the engine in sync; drift is reported or healed as
//! the drift mode says; an invalid configuration waits for a change; a failed step
//! marks its service failing and is retried; a service the engine keeps restarting is
//! crash-looping. Each tells berth.yaml's notify endpoint, a real HTTP receiver here.

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::{Notify, watch};

use super::Next;
use super::metrics::Metrics;
use super::reconciler::{Clock, Reconciler, Settings};
use super::status::{Outcome, ServiceState, Shared, Status};
use crate::config::Drift;
use crate::engine::fake::FakeDocker;
use crate::live::RunState;
use crate::ops::Environment;
use crate::ops::load::Inputs;
use crate::secret::Secret;

const SERVICE: &str = "DEFAULT__USER__EXAMPLE";

/// A clock that only the test moves.
struct TestClock {
    start: Instant,
}

impl Clock for TestClock {
    fn instant(&self) -> Instant {
        self.start
    }

    fn unix(&self) -> f64 {
        1_800_000_000.0
    }
}

/// A repository, a state directory, the fake engine and a reconciler over them, and a
/// receiver of its notifications.
struct World {
    repo: tempfile::TempDir,
    _state: tempfile::TempDir,
    engine: FakeDocker,
    shared: Shared,
    runtime: Runtime,
    reconciler: Option<Reconciler<FakeDocker>>,
    received: std::sync::Arc<Mutex<Vec<serde_json::Value>>>,
}

/// An HTTP receiver on loopback that keeps each request's JSON body; its port.
#[allow(clippy::disallowed_methods)] // the test is the edge: a server of its own
fn receiver(received: std::sync::Arc<Mutex<Vec<serde_json::Value>>>) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = listener.local_addr().expect("an address").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut data = Vec::new();
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&data).into_owned();
                let Some((head, body)) = text.split_once("\r\n\r\n") else {
                    continue;
                };
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")?
                            .trim()
                            .parse()
                            .ok()
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    if let Ok(event) = serde_json::from_str(body) {
                        received.lock().unwrap().push(event);
                    }
                    let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
                    break;
                }
            }
        }
    });
    port
}

impl World {
    fn new(image: &str, drift: Drift) -> World {
        let repo = tempfile::tempdir().expect("a temporary folder");
        let state = tempfile::tempdir().expect("a temporary folder");
        let received = std::sync::Arc::new(Mutex::new(Vec::new()));
        let port = receiver(received.clone());
        let world_files = [
            (
                "berth.yaml",
                format!(
                    "project: watched\ncosmos:\n  image: \"{image}\"\nnotify:\n  - webhook: http://127.0.0.1:{port}/events\n"
                ),
            ),
            (
                "plugin.txt",
                "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n".to_string(),
            ),
        ];
        for (name, text) in world_files {
            write(&repo.path().join(name), &text);
        }
        let settings = Settings {
            inputs: Inputs {
                paths: vec![repo.path().to_path_buf()],
                ..Inputs::default()
            },
            env: Environment {
                state_dir: Some(state.path().to_path_buf()),
                ..Environment::default()
            },
            prune: false,
            lock_timeout: Duration::from_secs(5),
            parallelism: 4,
            stable_for: Duration::ZERO,
            drift: Some(drift),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let engine = FakeDocker::default();
        #[allow(clippy::disallowed_methods)] // the test is the edge: its clock
        let clock = Box::new(TestClock {
            start: Instant::now(),
        });
        let reconciler = Reconciler::new(settings, engine.clone(), runtime.handle().clone(), clock);
        let notifier = {
            let _inside = runtime.enter();
            crate::notify::Notifier::new(std::sync::Arc::new(|_: &str, _| {})).expect("a notifier")
        };
        let notified = std::sync::OnceLock::new();
        let _ = notified.set(notifier);
        World {
            received,
            repo,
            _state: state,
            engine,
            shared: Shared {
                wake: Notify::new(),
                stopping: AtomicBool::new(false),
                drift_off: AtomicBool::new(false),
                metrics: Metrics::default(),
                status: Mutex::new(Status::default()),
                hooks: Mutex::new(None),
                local_token: Secret::default(),
                target: watch::channel(None).0,
                notifier: notified,
            },
            runtime,
            reconciler: Some(reconciler),
        }
    }

    fn reconcile(&mut self) -> Next {
        let reconciler = self.reconciler.as_mut().expect("a reconciler");
        // The loop runs it on a blocking thread beside the runtime; so does the test.
        let _inside = self.runtime.enter();
        reconciler.reconcile(&self.shared)
    }

    fn outcome(&self) -> Outcome {
        self.shared
            .status(|s| s.last_reconcile.as_ref().map(|r| r.outcome))
            .expect("a reconcile ran")
    }

    fn state(&self) -> ServiceState {
        self.shared.status(|s| {
            s.services
                .iter()
                .find(|w| w.status.name == SERVICE)
                .map(|w| w.state)
                .expect("the service is shown")
        })
    }

    /// The events received, once `count` have come and a while more has passed (so that
    /// one too many is seen), sorted by kind: deliveries run side by side, in no order.
    #[allow(clippy::disallowed_methods)] // the test is the edge: it waits for deliveries
    fn events(&self, count: usize) -> Vec<(String, serde_json::Value)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let settle = |ms| {
            self.runtime
                .block_on(async { tokio::time::sleep(Duration::from_millis(ms)).await })
        };
        while self.received.lock().unwrap().len() < count && Instant::now() < deadline {
            settle(20);
        }
        settle(300);
        let mut events: Vec<(String, serde_json::Value)> = self
            .received
            .lock()
            .unwrap()
            .iter()
            .map(|e| (e["event"].as_str().unwrap_or_default().to_string(), e.clone()))
            .collect();
        events.sort_by(|a, b| a.0.cmp(&b.0));
        events
    }

    fn containers(&self) -> usize {
        self.engine.state.lock().unwrap().containers.len()
    }
}

#[allow(clippy::disallowed_methods)] // the test is the edge: it writes the repository
fn write(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).expect("written");
}

#[test]
fn it_applies_then_finds_the_engine_in_sync() {
    let mut world = World::new("app:1", Drift::Heal);
    assert_eq!(world.reconcile(), Next::Requeue(Duration::ZERO));
    assert_eq!(world.outcome(), Outcome::Applied);
    assert_eq!(world.containers(), 1);
    assert_eq!(world.reconcile(), Next::AwaitChange);
    assert_eq!(world.outcome(), Outcome::InSync);
    assert_eq!(world.state(), ServiceState::InSync);
    let status = world.shared.status(|s| serde_json::to_value(&*s).unwrap());
    assert_eq!(status["last_reconcile"]["outcome"], "in_sync");
    assert_eq!(status["services"][0]["state"], "in_sync");
    let events = world.events(1);
    assert_eq!(events.len(), 1, "in sync is no news: {events:?}");
    assert_eq!(events[0].0, "apply");
    assert_eq!(events[0].1["outcome"], "applied");
    assert_eq!(events[0].1["sender"], "watch");
}

#[test]
fn drift_is_reported_in_warn_mode_and_left() {
    let mut world = World::new("app:1", Drift::Warn);
    world.reconcile();
    world.reconcile();
    // Someone removes the container by hand.
    world.engine.state.lock().unwrap().containers.clear();
    world.engine.writes.lock().unwrap().clear();
    assert_eq!(world.reconcile(), Next::AwaitChange);
    assert_eq!(world.outcome(), Outcome::DriftReported);
    assert_eq!(world.state(), ServiceState::Drifted);
    assert!(
        world.engine.writes.lock().unwrap().is_empty(),
        "warn changes nothing"
    );
    // Told once, however often it is seen again.
    world.reconcile();
    let events = world.events(2);
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["apply", "drift_found"]);
    assert_eq!(events[1].1["services"], serde_json::json!([SERVICE]));
    assert_eq!(events[1].1["severity"], "warning");
}

#[test]
fn drift_is_healed_in_heal_mode() {
    let mut world = World::new("app:1", Drift::Heal);
    world.reconcile();
    world.reconcile();
    world.engine.state.lock().unwrap().containers.clear();
    world.reconcile();
    assert_eq!(world.outcome(), Outcome::Applied);
    assert_eq!(world.containers(), 1, "the container is back");
    let kinds: Vec<String> = world.events(3).into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["apply", "apply", "drift_healed"]);
    let healed = world
        .events(3)
        .into_iter()
        .find(|(k, _)| k == "drift_healed")
        .unwrap()
        .1;
    assert_eq!(healed["services"], serde_json::json!([SERVICE]));
    // Removed again before its heal backoff ran out (the test's clock stands still):
    // held, and told once.
    world.reconcile();
    world.engine.state.lock().unwrap().containers.clear();
    world.reconcile();
    world.reconcile();
    assert_eq!(world.state(), ServiceState::Held);
    let events = world.events(4);
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["apply", "apply", "drift_healed", "service_held"],
        "told once"
    );
    assert_eq!(events[3].1["services"], serde_json::json!([SERVICE]));
}

#[test]
fn an_invalid_configuration_waits_for_a_change() {
    let mut world = World::new("app:1", Drift::Heal);
    write(&world.repo.path().join("plugin.txt"), "MICROSERVICE\n");
    assert_eq!(world.reconcile(), Next::AwaitChange);
    assert_eq!(world.outcome(), Outcome::Invalid);
    let error = world.shared.status(|s| s.last_error.clone()).expect("an error");
    assert!(error.permanent && error.message.contains("error(s)"), "{error:?}");
    assert!(world.engine.writes.lock().unwrap().is_empty());
    // Told once, with the error's place.
    world.reconcile();
    let events = world.events(1);
    assert_eq!(events.len(), 1, "{events:?}");
    let (kind, event) = &events[0];
    assert_eq!(kind, "invalid_configuration");
    assert_eq!(event["project"], "watched");
    let file = event["problems"][0]["file"].as_str().unwrap_or_default();
    assert!(file.ends_with("/plugin.txt"), "{event:#}");
    assert_eq!(event["problems"][0]["line"], 1);
}

#[test]
fn a_failed_step_marks_its_service_failing_and_is_retried() {
    // The fake engine cannot pull an image named `missing…`.
    let mut world = World::new("missing:1", Drift::Heal);
    assert_eq!(world.reconcile(), Next::Requeue(Duration::from_secs(1)));
    assert_eq!(world.outcome(), Outcome::Incomplete);
    assert_eq!(world.state(), ServiceState::Failing);
    // The backoff grows while it keeps failing.
    assert_eq!(world.reconcile(), Next::Requeue(Duration::from_secs(2)));
    let (kind, event) = &world.events(1)[0];
    assert_eq!(
        (kind.as_str(), &event["outcome"]),
        ("apply", &serde_json::json!("incomplete"))
    );
    assert!(event["changes"][0]["error"].as_str().is_some(), "{event:#}");
}

#[test]
fn a_service_the_engine_keeps_restarting_is_crash_looping() {
    let mut world = World::new("app:1", Drift::Heal);
    world.reconcile();
    world.reconcile();
    world.engine.state.lock().unwrap().containers[0].state = RunState::Restarting;
    world.reconcile();
    assert_eq!(world.state(), ServiceState::CrashLooping);
    let events = world.events(2);
    assert_eq!(
        events.last().map(|(k, _)| k.as_str()),
        Some("crash_loop"),
        "{events:?}"
    );
}
