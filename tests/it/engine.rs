//! `berth plan` (and the `apply` that makes its containers) against the real Docker
//! engine: every kind of change gets its action, an unmanaged container in the way is
//! an error and untouched, an unreachable engine is one clear line. Each test owns a
//! project name and removes its containers and network, before and after.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::output;

/// The image every test container runs, built once per test run from this repository.
const IMAGE: &str = "berth-demo:it";

fn demo_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("images/demo/build");
        let (_, stderr, status) = output(Command::new("bash").arg(script).arg(IMAGE).output().unwrap());
        assert_eq!(status, 0, "building {IMAGE}: {stderr}");
    });
    IMAGE
}

fn docker(args: &[&str]) -> (String, String, i32) {
    output(Command::new("docker").args(args).output().expect("docker runs"))
}

/// A configuration repository in a temp folder, its own state folder, and the engine
/// objects of its project, which are removed when it is dropped.
struct Project {
    name: &'static str,
    repo: tempfile::TempDir,
    state: tempfile::TempDir,
    /// Unmanaged containers the test made, removed at the end too.
    others: Vec<String>,
}

impl Project {
    fn new(name: &'static str) -> Project {
        demo_image();
        let p = Project {
            name,
            repo: tempfile::tempdir().unwrap(),
            state: tempfile::tempdir().unwrap(),
            others: Vec::new(),
        };
        p.clean(); // leftovers of an earlier run that was killed
        p.write("berth.yaml", &format!("project: {name}\n"));
        p
    }

    fn write(&self, path: &str, text: &str) {
        std::fs::write(self.repo.path().join(path), text).unwrap();
    }

    fn remove(&self, path: &str) {
        std::fs::remove_file(self.repo.path().join(path)).unwrap();
    }

    /// A Sesam microservice system running the demo image.
    fn service(&self, id: &str, log_level: &str, memory_mib: u32) {
        self.write(
            &format!("{id}.conf.json"),
            &format!(
                r#"{{
  "_id": "{id}",
  "type": "system:microservice",
  "docker": {{
    "image": "{IMAGE}",
    "port": 8080,
    "memory": {memory_mib},
    "environment": {{ "LOG_LEVEL": "{log_level}" }}
  }}
}}
"#
            ),
        );
    }

    fn berth(&self, args: &[&str]) -> (String, String, i32) {
        output(
            crate::berth()
                .current_dir(self.repo.path())
                .env("BERTH_STATE_DIR", self.state.path())
                .env("NO_COLOR", "1")
                .args(args)
                .output()
                .unwrap(),
        )
    }

    fn plan(&self, extra: &[&str]) -> (String, i32) {
        let mut args = vec!["plan", "--detailed-exitcode"];
        args.extend_from_slice(extra);
        let (stdout, stderr, status) = self.berth(&args);
        assert!(status != 1 || !stderr.is_empty(), "an error says why");
        (stdout + &stderr, status)
    }

    /// The plan as JSON, checked against schemas/plan.schema.json.
    fn plan_json(&self) -> Value {
        let (stdout, stderr, _) = self.berth(&["plan", "--format", "json"]);
        let plan: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
        let errors: Vec<String> = schema().iter_errors(&plan).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}\n{plan:#}");
        plan
    }

    fn apply(&self, extra: &[&str]) {
        let mut args = vec!["apply", "--auto-approve"];
        args.extend_from_slice(extra);
        let (stdout, stderr, status) = self.berth(&args);
        assert_eq!(status, 0, "{stdout}{stderr}");
    }

    fn container(&self, service: &str) -> String {
        format!("{}-{service}-0", self.name)
    }

    fn clean(&self) {
        let label = format!("label=berth.project={}", self.name);
        let (ids, _, _) = docker(&["ps", "-aq", "--filter", &label]);
        for id in ids.lines().chain(self.others.iter().map(String::as_str)) {
            docker(&["rm", "-f", id]);
        }
        docker(&["network", "rm", &format!("{}-net", self.name)]);
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        self.clean();
    }
}

fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/plan.schema.json");
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        jsonschema::validator_for(&schema).expect("the plan schema is a valid JSON Schema")
    })
}

fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["action"].as_str().unwrap().to_string(),
                s["container"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(action: &str, container: &str) -> (String, String) {
    (action.to_string(), container.to_string())
}

/// One project through its life: every kind of change on a real engine, each plan
/// printed as Terraform would (snapshots) and as schema-valid JSON.
#[test]
fn plan_names_the_action_for_every_kind_of_change() {
    let p = Project::new("berth-it-plan");
    p.service("web", "info", 64);
    p.service("worker", "info", 64);
    let (web, worker) = (p.container("web"), p.container("worker"));

    // Empty engine: everything is created.
    let (text, status) = p.plan(&[]);
    assert_eq!(status, 2, "{text}");
    insta::assert_snapshot!("plan_create", text);
    let json = p.plan_json();
    assert_eq!(actions(&json), [pair("create", &web), pair("create", &worker)]);
    assert_eq!(json["network"], "berth-it-plan-net");

    // Applied: nothing left to do, exit 0.
    p.apply(&[]);
    let (text, status) = p.plan(&[]);
    assert_eq!(
        (text.trim(), status),
        ("No changes. The engine matches the configuration.", 0)
    );

    // An env change replaces, naming the field and its line; a memory change updates
    // in place.
    p.service("web", "debug", 64);
    p.service("worker", "info", 128);
    let (text, status) = p.plan(&[]);
    assert_eq!(status, 2);
    insta::assert_snapshot!("plan_replace_and_update", text);
    let json = p.plan_json();
    assert_eq!(actions(&json), [pair("replace", &web), pair("update", &worker)]);
    let change = &json["steps"][0]["changes"][0];
    assert_eq!(
        (
            change["path"].as_str(),
            change["from"].as_str(),
            change["to"].as_str()
        ),
        (Some("env.LOG_LEVEL"), Some("info"), Some("debug"))
    );
    assert_eq!(change["source"], "web.conf.json:8:22");
    assert_eq!(json["steps"][1]["changes"][0]["in_place"], true);
    p.apply(&[]);
    assert_eq!(p.plan(&[]).1, 0, "the in-place update converged");

    // By hand: a stopped container is started, a deleted one created again.
    docker(&["stop", "-t", "1", &web]);
    assert_eq!(actions(&p.plan_json()), [pair("start", &web)]);
    docker(&["rm", "-f", &worker]);
    assert_eq!(
        actions(&p.plan_json()),
        [pair("start", &web), pair("create", &worker)]
    );
    p.apply(&[]);

    // A memory limit changed by hand is drift, put back in place.
    docker(&["update", "--memory", "96m", "--memory-swap", "96m", &worker]);
    let json = p.plan_json();
    assert_eq!(actions(&json), [pair("update", &worker)]);
    assert_eq!(json["steps"][0]["changes"][0]["from"], 96 << 20);

    // A service gone from the repository: kept without prune, removed with it.
    p.remove("worker.conf.json");
    let (text, status) = p.plan(&[]);
    assert_eq!(status, 0, "kept containers are not a change: {text}");
    assert!(
        text.contains(&format!(
            "kept because prune is off (--prune removes them): {worker}"
        )),
        "{text}"
    );
    let (text, status) = p.plan(&["--prune"]);
    assert_eq!(status, 2);
    insta::assert_snapshot!("plan_remove", text);
    p.apply(&["--prune"]);
    assert_eq!(p.plan(&["--prune"]).1, 0);
    let (names, _, _) = docker(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        "label=berth.project=berth-it-plan",
    ]);
    assert_eq!(names.trim(), web);
}

#[test]
fn a_container_berth_does_not_own_is_an_error_and_untouched() {
    let mut p = Project::new("berth-it-clash");
    p.service("web", "info", 64);
    let name = p.container("web");
    let (id, stderr, status) = docker(&["run", "-d", "--name", &name, IMAGE]);
    assert_eq!(status, 0, "{stderr}");
    p.others.push(name.clone());

    let (text, status) = p.plan(&[]);
    assert_eq!(status, 1, "{text}");
    assert!(
        text.contains(&format!(
            "the container name `{name}` for `web` is taken by a container berth does not manage"
        )),
        "{text}"
    );
    let (stdout, stderr, status) = p.berth(&["apply", "--auto-approve"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    let (state, _, _) = docker(&["inspect", "-f", "{{.Id}} {{.State.Running}}", &name]);
    assert_eq!(
        state.trim(),
        format!("{} true", id.trim()),
        "the same container, still running"
    );
}

#[test]
fn a_saved_plan_is_bound_to_what_it_was_made_from() {
    let p = Project::new("berth-it-out");
    p.service("web", "info", 64);
    let (_, stderr, status) = p.berth(&["plan", "--out", "plan.json"]);
    assert_eq!(status, 0, "{stderr}");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(p.repo.path().join("plan.json")).unwrap()).unwrap();
    assert!(schema().is_valid(&saved));
    assert_eq!(saved, p.plan_json(), "same inputs, same engine: the same plan");

    p.apply(&[]);
    let after = p.plan_json();
    assert_eq!(
        after["desired_digest"], saved["desired_digest"],
        "the configuration did not change"
    );
    assert_ne!(
        after["observed_fingerprint"], saved["observed_fingerprint"],
        "the engine did"
    );
    p.service("web", "debug", 64);
    assert_ne!(p.plan_json()["desired_digest"], saved["desired_digest"]);
}

#[test]
fn an_unreachable_engine_is_one_line_naming_the_address() {
    let p = Project::new("berth-it-unreachable");
    p.service("web", "info", 64);
    for host in ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1"] {
        let out = crate::berth()
            .current_dir(p.repo.path())
            .env("BERTH_STATE_DIR", p.state.path())
            .env("DOCKER_HOST", host)
            .arg("plan")
            .output()
            .unwrap();
        let (stdout, stderr, status) = output(out);
        assert_eq!((stdout.as_str(), status), ("", 1));
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("error: cannot reach the Docker engine at {host}: ")),
            "{stderr}"
        );
        assert!(stderr.contains("DOCKER_HOST"), "says how to fix it: {stderr}");
    }
}

#[test]
fn the_state_key_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new("berth-it-state");
    p.service("web", "info", 64);
    let (_, stderr, status) = p.berth(&["plan"]);
    assert_eq!(status, 0, "{stderr}");
    let mode = std::fs::metadata(p.state.path().join("key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
