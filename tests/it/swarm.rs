//! `engine: swarm` against a real single-node swarm: the test engine becomes a swarm
//! manager for these tests only (holding the engine alone) and is left as it was found.
//! One project goes through its life: create, idempotence, a rolling start-first update,
//! a failing update that Swarm rolls back, secret rotation, a shard no node carries, a
//! stale saved plan, status, logs, removal and destroy.

use std::sync::RwLockWriteGuard;

use serde_json::Value;

use crate::engine::{ENGINE, Project, docker};

/// The engine as a single-node swarm for as long as this lives; on drop, the swarm is
/// left (when this made it) and the bridge network Swarm leaves behind removed (when it
/// was not there before).
struct Swarm {
    made: bool,
    gwbridge_before: bool,
    _engine: RwLockWriteGuard<'static, ()>,
}

impl Swarm {
    fn join() -> Swarm {
        let engine = ENGINE.write().unwrap_or_else(|e| e.into_inner());
        let gwbridge_before = docker(&["network", "inspect", "docker_gwbridge"]).2 == 0;
        let state = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]).0;
        let made = state.trim() != "active";
        if made {
            let (out, err, status) = docker(&[
                "swarm",
                "init",
                "--listen-addr",
                "127.0.0.1:2377",
                "--advertise-addr",
                "127.0.0.1",
                "--default-addr-pool",
                "10.231.0.0/16",
            ]);
            assert_eq!(status, 0, "docker swarm init: {out}{err}");
        }
        Swarm {
            made,
            gwbridge_before,
            _engine: engine,
        }
    }

    fn node() -> String {
        docker(&["node", "ls", "-q"]).0.trim().to_string()
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        if self.made {
            docker(&["swarm", "leave", "--force"]);
            // The bridge Swarm made stays in use for a moment after leaving.
            for _ in 0..50 {
                if self.gwbridge_before || docker(&["network", "rm", "docker_gwbridge"]).2 == 0 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        } else {
            docker(&["node", "update", "--label-rm", "berth.shard", &Swarm::node()]);
        }
    }
}

fn inspect(service: &str, format: &str) -> String {
    docker(&["service", "inspect", "--format", format, service])
        .0
        .trim()
        .to_string()
}

/// A Sesam service `web` with LOG_LEVEL `level`, and a COSMOS microservice `API` with a
/// secret file, exiting at once with `exit` when given, STOPPED when `stopped`.
fn write_services(p: &Project, level: &str, exit: Option<&str>, stopped: bool) {
    p.sesam("web", 64, &[("LOG_LEVEL", level)]);
    let mut plugin = format!(
        "MICROSERVICE API api\n  CONTAINER {}\n  CMD /berth-demo\n  SECRET FILE cert /run/certs/cert.pem\n",
        p.image
    );
    if let Some(code) = exit {
        plugin += &format!("  ENV BERTH_DEMO_EXIT {code}\n");
    }
    if stopped {
        plugin += "  STOPPED\n";
    }
    p.write("plugin/plugin.txt", &plugin);
}

fn secrets(project: &str) -> Vec<String> {
    let label = format!("label=berth.project={project}");
    let mut names: Vec<String> = docker(&["secret", "ls", "--format", "{{.Name}}", "--filter", &label])
        .0
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    names
}

#[test]
fn swarm_services_through_their_life() {
    let swarm = Swarm::join();
    let p = Project::holding("it-swarm", None);
    std::fs::create_dir_all(p.repo.path().join("plugin")).unwrap();
    std::fs::create_dir_all(p.repo.path().join("secrets")).unwrap();
    p.write(
        "berth.yaml",
        "project: it-swarm\nengine: swarm\nprune: true\nsecrets:\n  providers:\n    - { type: dir, path: secrets }\n",
    );
    p.write("secrets/cert", "first");
    write_services(&p, "info", None, false);
    let (web, api) = ("it-swarm-web", "it-swarm-DEFAULT__USER__API");

    // Create: one Swarm service per service, on the project's overlay network.
    let plan = p.plan_json();
    assert_eq!(plan["mode"], "swarm");
    assert_eq!(plan["network"], "it-swarm-overlay");
    let steps: Vec<(&str, &str)> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["action"].as_str().unwrap(), s["container"].as_str().unwrap()))
        .collect();
    assert_eq!(steps, [("create", api), ("create", web)]);
    p.apply(&[]);
    assert_eq!(inspect(web, "{{.Spec.Mode.Replicated.Replicas}}"), "1");
    assert_eq!(
        inspect(
            web,
            "{{.Spec.UpdateConfig.Order}} {{.Spec.UpdateConfig.FailureAction}}"
        ),
        "start-first rollback"
    );
    assert_eq!(
        inspect(web, "{{index .Spec.Labels \"berth.project\"}}"),
        "it-swarm"
    );
    assert_eq!(
        docker(&[
            "network",
            "inspect",
            "--format",
            "{{.Driver}}",
            "it-swarm-overlay"
        ])
        .0
        .trim(),
        "overlay"
    );
    let first_secrets = secrets("it-swarm");
    assert_eq!(first_secrets.len(), 1, "{first_secrets:?}");
    assert!(
        inspect(api, "{{json .Spec.TaskTemplate.ContainerSpec.Secrets}}").contains("/run/certs/cert.pem"),
        "the secret is a file, not a variable"
    );

    // Idempotence: nothing to do, and an apply that changes nothing.
    let (out, status) = p.plan(&[]);
    assert_eq!(status, 0, "{out}");
    let version = inspect(web, "{{.Version.Index}}");
    p.apply(&[]);
    assert_eq!(
        inspect(web, "{{.Version.Index}}"),
        version,
        "a no-op apply writes nothing"
    );

    // A new service whose task crashes at once is not reported created: berth waits for
    // its tasks to stay up, and says how they fail.
    p.sesam("crash", 64, &[("BERTH_DEMO_EXIT", "2")]);
    let (stdout, stderr, status) = p.berth(&["apply", "--auto-approve"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("it-swarm-crash (create)") && stderr.contains("non-zero exit (2)"),
        "{stderr}"
    );
    p.remove("crash.conf.json");
    p.apply(&[]);
    assert_ne!(docker(&["service", "inspect", "it-swarm-crash"]).2, 0, "pruned");

    // A rolling start-first update: the service is updated in place, its old task shut
    // down only once the new one runs.
    write_services(&p, "debug", None, false);
    let (out, status) = p.plan(&[]);
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("~ env.LOG_LEVEL: \"info\" → \"debug\""), "{out}");
    assert!(out.contains("rolling, start-first"), "{out}");
    let id = inspect(web, "{{.ID}}");
    p.apply(&[]);
    assert_eq!(inspect(web, "{{.ID}}"), id, "the same service, updated");
    assert_eq!(inspect(web, "{{.UpdateStatus.State}}"), "completed");
    let tasks = docker(&[
        "service",
        "ps",
        web,
        "--format",
        "{{.DesiredState}} {{.CurrentState}}",
    ])
    .0;
    assert_eq!(
        tasks.lines().filter(|l| l.starts_with("Running Running")).count(),
        1,
        "{tasks}"
    );
    assert_eq!(
        tasks.lines().filter(|l| l.starts_with("Shutdown")).count(),
        1,
        "{tasks}"
    );

    // A failing update: Swarm rolls it back, berth says so and exits 1; the plan still
    // wants the update.
    write_services(&p, "debug", Some("3"), false);
    let (stdout, stderr, status) = p.berth(&["apply", "--auto-approve"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(stderr.contains("Swarm rolled the service back"), "{stderr}");
    assert!(stderr.contains("non-zero exit (3)"), "the task's error: {stderr}");
    assert_eq!(inspect(api, "{{.UpdateStatus.State}}"), "rollback_completed");
    assert!(!inspect(api, "{{json .Spec.TaskTemplate.ContainerSpec.Env}}").contains("BERTH_DEMO_EXIT"));
    let (out, status) = p.plan(&[]);
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("env.BERTH_DEMO_EXIT"), "{out}");
    let (status_out, _, _) = p.berth(&["status"]);
    assert!(
        status_out.contains("last update rollback_completed"),
        "{status_out}"
    );

    // Stopped is a replica count of 0, changed without a rollout (and Swarm clears the
    // rolled-back status with this update).
    write_services(&p, "debug", None, true);
    let (out, status) = p.plan(&[]);
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("~ replicas: 1 → 0"), "{out}");
    p.apply(&[]);
    assert_eq!(inspect(api, "{{.Spec.Mode.Replicated.Replicas}}"), "0");
    write_services(&p, "debug", None, false);
    p.apply(&[]);
    assert_eq!(inspect(api, "{{.Spec.Mode.Replicated.Replicas}}"), "1");

    // Secret rotation: a new value is a new Swarm secret swapped in by an update; the old
    // one is removed once no service uses it.
    p.write("secrets/cert", "second");
    let (out, status) = p.plan(&[]);
    assert_eq!(status, 2, "{out}");
    assert!(
        out.contains("secret_files./run/certs/cert.pem") && out.contains("(plugin/plugin.txt:4:3)"),
        "the change points at the SECRET line: {out}"
    );
    p.apply(&[]);
    let rotated = secrets("it-swarm");
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    assert_ne!(rotated, first_secrets);
    assert!(inspect(api, "{{json .Spec.TaskTemplate.ContainerSpec.Secrets}}").contains(&rotated[0]));

    // A shard no node carries is an error naming the label; labelling a node fixes it.
    let shard = format!(
        "MICROSERVICE API api\n  CONTAINER {}\n  CMD /berth-demo\n  SECRET FILE cert /run/certs/cert.pem\n  SHARD 2\n",
        p.image
    );
    p.write("plugin/plugin.txt", &shard);
    let (out, status) = p.plan(&[]);
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains("no ready, active node has the label berth.shard=2"),
        "{out}"
    );
    assert!(
        out.contains("plugin/plugin.txt:5:3"),
        "points at the SHARD line: {out}"
    );
    docker(&["node", "update", "--label-add", "berth.shard=2", &Swarm::node()]);
    p.apply(&[]);
    assert_eq!(
        inspect(api, "{{json .Spec.TaskTemplate.Placement.Constraints}}"),
        r#"["node.labels.berth.shard==2"]"#
    );

    // A saved plan is stale once anyone changes the service: its version index moved.
    write_services(&p, "warn", None, false);
    p.write("plugin/plugin.txt", &shard);
    let saved = p.repo.path().join("plan.json");
    let (_, stderr, status) = p.berth(&["plan", "--out", saved.to_str().unwrap()]);
    assert_eq!(status, 0, "{stderr}");
    docker(&[
        "service",
        "update",
        "--detach",
        "--label-add",
        "someone=else",
        web,
    ]);
    let (stdout, stderr, status) = p.berth(&["apply", saved.to_str().unwrap()]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(stderr.contains("stale"), "{stderr}");
    assert!(!inspect(web, "{{json .Spec.TaskTemplate.ContainerSpec.Env}}").contains("LOG_LEVEL=warn"));
    p.apply(&[]);

    // (A change made while the apply runs is refused by Swarm's version check, which the
    // update names; berth no longer holds a slot while API rolls, so the window between
    // its look and web's update is too short to hit by hand from a test.)
    p.write("secrets/cert", "third");
    write_services(&p, "error", None, false);
    p.write("plugin/plugin.txt", &shard);
    p.apply(&[]);
    assert!(inspect(web, "{{json .Spec.TaskTemplate.ContainerSpec.Env}}").contains("LOG_LEVEL=error"));

    // Status: running and desired tasks per service, schema-valid.
    let (json, stderr, status) = p.berth(&["status", "--format", "json"]);
    assert_eq!(status, 0, "{stderr}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    let web_status = doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "web")
        .unwrap();
    assert_eq!(
        (
            web_status["running"].as_u64(),
            web_status["desired_instances"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(web_status["swarm"]["failing"], serde_json::json!([]));

    // Logs: each running task's lines, prefixed with its service and slot.
    let (out, stderr, status) = p.berth(&["logs", "--tail", "2"]);
    assert_eq!(status, 0, "{stderr}");
    let from = |prefix: &str| {
        out.lines()
            .filter(|l| l.starts_with(prefix) && l.contains(" | berth-demo: "))
            .count()
    };
    assert_eq!((from("web-1 "), from("DEFAULT__USER__API-1 ")), (2, 2), "{out}");

    // Removal: gone from the configuration, the service goes (prune on); its secret
    // stays while API uses it.
    p.remove("web.conf.json");
    p.apply(&[]);
    assert_ne!(docker(&["service", "inspect", web]).2, 0, "removed");
    assert_eq!(secrets("it-swarm").len(), 1);

    // Destroy: every Swarm service, secret and the overlay network of the project.
    let (stdout, stderr, status) = p.berth(&["destroy", "--auto-approve"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Destroy complete"), "{stdout}");
    assert_ne!(docker(&["service", "inspect", api]).2, 0, "destroyed");
    assert!(secrets("it-swarm").is_empty());
    assert_ne!(
        docker(&["network", "inspect", "it-swarm-overlay"]).2,
        0,
        "and its overlay network"
    );
    drop(p);
    drop(swarm);
}
