//! berth on a Swarm of three nodes (`tests/swarm-nodes`: three engines of the test's
//! own, each in a network namespace of its own, joined by a bridge, with a registry on
//! the bridge and the manager's API over TLS): a replicated service spreads over the
//! nodes; a node lost is shown by `status` (the slot, the node, why) while `plan` stays
//! empty, and once the node is back nothing needs applying; images pulled by the
//! workers with the service's credentials (a wrong password names the node); a drained
//! node; rolling updates and a rollback across nodes; a shard placed on its node.

use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::engine::IMAGE;

/// The swarm's bridge, namespaces and registry address are fixed: one swarm at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The registry on the swarm's bridge.
const REGISTRY: &str = "10.78.0.1:5000";

/// The three-node swarm, taken down on drop.
struct Swarm {
    dir: tempfile::TempDir,
    _alone: MutexGuard<'static, ()>,
}

impl Swarm {
    fn up() -> Option<Swarm> {
        crate::engine::tool("dockerd")
            .and(crate::engine::tool("nsenter"))
            .and(crate::engine::tool("iptables"))
            .and(crate::engine::tool("docker-registry"))
            .and(crate::engine::tool("htpasswd"))
            .and(crate::engine::tool("curl"))?;
        let swarm = Swarm {
            _alone: ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner()),
            dir: tempfile::tempdir().unwrap(),
        };
        let (stdout, stderr, status) = swarm.script(&["up"]);
        assert_eq!(status, 0, "{stdout}{stderr}");
        Some(swarm)
    }

    fn script(&self, args: &[&str]) -> (String, String, i32) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/swarm-nodes");
        let mut args = args.to_vec();
        let dir = self.nodes().display().to_string();
        args.push(&dir);
        crate::output(Command::new("bash").arg(script).args(args).output().unwrap())
    }

    /// The script's folder: sockets, certificates, the registry's password.
    fn nodes(&self) -> std::path::PathBuf {
        self.dir.path().join("nodes")
    }

    fn host(&self, node: u32) -> String {
        format!("unix://{}/n{node}.sock", self.nodes().display())
    }

    fn docker(&self, node: u32, args: &[&str]) -> String {
        let host = self.host(node);
        let mut all = vec!["-H", host.as_str()];
        all.extend_from_slice(args);
        crate::engine::docker(&all).0
    }

    /// A shell command with `$N1`…`$N3` set to the nodes' `-H` addresses.
    fn sh(&self, command: &str) {
        let (stdout, stderr, status) = crate::output(
            Command::new("bash")
                .arg("-c")
                .arg(command)
                .env("N1", self.host(1))
                .env("N2", self.host(2))
                .env("N3", self.host(3))
                .output()
                .unwrap(),
        );
        assert_eq!(status, 0, "{command}: {stdout}{stderr}");
    }

    /// The demo image, loaded into `nodes` from the machine's engine.
    fn load(&self, nodes: &[u32]) {
        crate::engine::demo_image();
        for node in nodes {
            self.sh(&format!("docker save {IMAGE} | docker -H $N{node} load"));
        }
    }

    /// The running tasks of `service`: `(node, task)` pairs, by node.
    fn placed(&self, service: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .docker(
                1,
                &[
                    "service",
                    "ps",
                    service,
                    "--filter",
                    "desired-state=running",
                    "--format",
                    "{{.Node}} {{.ID}} {{.CurrentState}}",
                ],
            )
            .lines()
            .filter(|l| l.contains(" Running "))
            .filter_map(|l| {
                let mut words = l.split(' ');
                Some((words.next()?.to_string(), words.next()?.to_string()))
            })
            .collect();
        out.sort();
        out
    }

    /// Waits until `service` runs tasks on exactly `nodes`.
    fn wait_placed(&self, service: &str, nodes: &[&str]) -> Vec<(String, String)> {
        self.wait_tasks(service, nodes, |placed| {
            placed.iter().map(|(n, _)| n.as_str()).eq(nodes.iter().copied())
        })
    }

    /// Waits until `service` runs `count` tasks, all on `nodes` (Swarm spreads a new
    /// service's tasks, but a rolling update may put both new ones on one node).
    fn wait_running(&self, service: &str, count: usize, nodes: &[&str]) -> Vec<(String, String)> {
        self.wait_tasks(service, nodes, |placed| {
            placed.len() == count && placed.iter().all(|(n, _)| nodes.contains(&n.as_str()))
        })
    }

    fn wait_tasks(
        &self,
        service: &str,
        nodes: &[&str],
        done: impl Fn(&[(String, String)]) -> bool,
    ) -> Vec<(String, String)> {
        let start = Instant::now();
        loop {
            let placed = self.placed(service);
            if done(&placed) {
                return placed;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{service} never ran on {nodes:?}: {placed:?}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        self.script(&["down"]);
    }
}

/// A repository and state folder driven against the swarm.
struct Fleet {
    repo: tempfile::TempDir,
    state: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Fleet {
    fn new(berth_yaml: &str) -> Fleet {
        let fleet = Fleet {
            repo: tempfile::tempdir().unwrap(),
            state: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        };
        fleet.write("berth.yaml", berth_yaml);
        fleet
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.repo.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn berth(&self, args: &[&str]) -> (String, String, i32) {
        crate::output(
            crate::berth()
                .current_dir(self.repo.path())
                .env("BERTH_STATE_DIR", self.state.path())
                .env("NO_COLOR", "1")
                .env_remove("DOCKER_HOST")
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .args(args)
                .output()
                .unwrap(),
        )
    }

    fn apply(&self) {
        let (stdout, stderr, status) = self.berth(&["apply", "--auto-approve", "--stable-for", "2s"]);
        assert_eq!(status, 0, "{stdout}{stderr}");
    }

    fn assert_no_changes(&self) {
        let (stdout, stderr, status) = self.berth(&["plan", "--detailed-exitcode"]);
        assert_eq!(status, 0, "{stdout}{stderr}");
    }
}

#[test]
fn a_service_spreads_over_three_nodes_and_a_lost_node_is_shown_never_planned() {
    let Some(swarm) = Swarm::up() else {
        return;
    };
    swarm.load(&[1, 2, 3]);
    let fleet = Fleet::new(&format!(
        "project: berth-it-nodes\nengine:\n  mode: swarm\n  host: {}\ncumulocity:\n  images:\n    \"spread:1.0.0\": \"{IMAGE}\"\n",
        swarm.host(1)
    ));
    fleet.write(
        "spread/cumulocity.json",
        r#"{"apiVersion": "2", "name": "spread", "version": "1.0.0", "provider": {"name": "berth"}, "isolation": "MULTI_TENANT", "replicas": 3}"#,
    );
    let berth = |args: &[&str]| fleet.berth(args);
    fleet.apply();
    swarm.wait_placed("berth-it-nodes-spread", &["n1", "n2", "n3"]);
    fleet.assert_no_changes();

    // Node 3 is lost: status says which slot and why; the desired state did not change.
    let (_, stderr, status) = swarm.script(&["stop", "3"]);
    assert_eq!(status, 0, "{stderr}");
    let start = Instant::now();
    let said = loop {
        let (stdout, _, _) = berth(&["status"]);
        if stdout.contains("its node n3 is down") {
            break stdout;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the lost node is never shown:\n{stdout}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        said.contains("2/3 running") || said.contains("3/3 running"),
        "{said}"
    );
    assert!(said.contains("n3: worker, down"), "the node's own line: {said}");
    let (stdout, stderr, status) = berth(&["plan", "--detailed-exitcode"]);
    assert_eq!(status, 0, "a lost node is not a change to plan: {stdout}{stderr}");

    // Swarm places the task again; the node comes back; nothing flaps or needs applying.
    let (_, stderr, status) = swarm.script(&["start", "3"]);
    assert_eq!(status, 0, "{stderr}");
    let start = Instant::now();
    loop {
        let (stdout, _, _) = berth(&["status"]);
        let ready = swarm.docker(1, &["node", "ls", "--format", "{{.Status}}"]);
        if stdout.contains("3/3 running")
            && !stdout.contains("is down")
            && ready.lines().all(|s| s == "Ready")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "not back:\n{stdout}\n{ready}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    fleet.assert_no_changes();
}

/// The manager reached over TLS only; an image in the swarm's registry that the workers
/// pull with the service's credentials, a wrong password failing with the node's name;
/// a drained manager; a rolling update over two nodes, and one that Swarm rolls back; a
/// COSMOS shard refused while no node carries it, then placed on the one that does.
#[test]
fn tls_a_registry_a_drained_node_rollouts_and_shards_across_nodes() {
    let Some(swarm) = Swarm::up() else {
        return;
    };
    let nodes = swarm.nodes();
    let password = std::fs::read_to_string(nodes.join("registry.password")).unwrap();
    let password = password.trim();
    // The demo image in the registry, pushed from the manager (the only node with it).
    let image = format!("{REGISTRY}/berth-it/demo:1");
    swarm.load(&[1]);
    let login = tempfile::tempdir().unwrap();
    swarm.sh(&format!(
        "export DOCKER_CONFIG={config}; docker -H $N1 tag {IMAGE} {image} && \
         docker -H $N1 login -u berth --password-stdin {REGISTRY} <<<'{password}' && docker -H $N1 push {image}",
        config = login.path().display()
    ));
    // The manager only manages: its tasks go to the workers.
    swarm.docker(1, &["node", "update", "--availability", "drain", "n1"]);

    let tls = nodes.join("tls");
    let mut fleet = Fleet::new(&format!(
        "project: berth-it-fleet\nengine:\n  mode: swarm\n  host: tcp://10.78.0.11:2376\n  tls:\n    ca: {ca}\n    cert: {cert}\n    key: {key}\nsecrets:\n  providers:\n    - {{ type: env, prefix: BERTH_IT_FLEET_ }}\ncumulocity:\n  images:\n    \"roll:1.0.0\": \"{IMAGE}\"\n",
        ca = tls.join("ca.pem").display(),
        cert = tls.join("cert.pem").display(),
        key = tls.join("key.pem").display(),
    ));
    fleet.write(
        "pulled.conf.json",
        &format!(
            r#"{{ "_id": "pulled", "type": "system:microservice",
  "docker": {{ "image": "{image}", "port": 8080, "username": "berth", "password": "$SECRET(registry)" }} }}"#
        ),
    );

    // A wrong password: the worker's task cannot pull; the failure names the node, and
    // the service it created is removed, so the next apply creates it again.
    fleet.env = vec![("BERTH_IT_FLEET_registry".into(), "not-the-password".into())];
    let (stdout, stderr, status) = fleet.berth(&["apply", "--auto-approve", "--stable-for", "2s"]);
    let said = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(
        said.contains("on node n2: No such image") || said.contains("on node n3: No such image"),
        "names the worker: {said}"
    );
    assert!(said.contains("the node could not pull it"), "{said}");
    assert!(said.contains("the new service was removed"), "{said}");
    assert!(!said.contains("not-the-password"), "{said}");
    assert!(
        !swarm
            .docker(1, &["service", "ls", "--format", "{{.Name}}"])
            .contains("berth-it-fleet-pulled")
    );

    // The right one: a worker pulls it.
    fleet.env = vec![("BERTH_IT_FLEET_registry".into(), password.into())];
    fleet.apply();
    let placed = swarm.placed("berth-it-fleet-pulled");
    let worker = placed[0].0.trim_start_matches('n').parse::<u32>().unwrap();
    assert!(worker != 1, "not on the drained manager: {placed:?}");
    assert!(
        swarm
            .docker(worker, &["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .contains(&image)
    );
    fleet.assert_no_changes();
    let (status_text, _, _) = fleet.berth(&["status"]);
    assert!(
        status_text.contains("n1: manager, ready, drained"),
        "the drained node is shown: {status_text}"
    );
    let (json, _, _) = fleet.berth(&["status", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["nodes"][0]["availability"], "drain", "{json}");
    assert_eq!(json["nodes"][2]["state"], "ready", "{json}");

    // Two replicas over the two workers, with an exec probe as their health check.
    swarm.load(&[2, 3]);
    let roll = |cpu: &str, check: &str| {
        fleet.write(
            "roll/cumulocity.json",
            &format!(
                r#"{{"apiVersion": "2", "name": "roll", "version": "1.0.0", "provider": {{"name": "berth"}}, "isolation": "MULTI_TENANT", "replicas": 2,
  "resources": {{"cpu": "{cpu}", "memory": "64M"}},
  "livenessProbe": {{"exec": {{"command": ["/berth-demo", "{check}"]}}, "periodSeconds": 1, "failureThreshold": 2}},
  "readinessProbe": {{"httpGet": {{"path": "/health", "port": 80}}, "periodSeconds": 1}}}}"#
            ),
        );
    };
    roll("0.5", "--check");
    // Swarm cannot run the HTTP probe: the plan says how the service is judged instead.
    let (stdout, _, status) = fleet.berth(&["plan"]);
    assert_eq!(status, 0, "a warning, not an error: {stdout}");
    let said = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        said.contains("Warning: roll/cumulocity.json:")
            && said.contains("its readiness HTTP probe (GET /health on port 80) does not run on Swarm"),
        "{said}"
    );
    fleet.apply();
    let first = swarm.wait_placed("berth-it-fleet-roll", &["n2", "n3"]);
    fleet.assert_no_changes();

    // A rolling update: new tasks on both workers, the old ones gone.
    roll("0.25", "--check");
    let (stdout, _, status) = fleet.berth(&["plan", "--detailed-exitcode"]);
    assert_eq!(status, 2, "{stdout}");
    assert!(stdout.contains("rolling, start-first"), "{stdout}");
    fleet.apply();
    let second = swarm.wait_running("berth-it-fleet-roll", 2, &["n2", "n3"]);
    assert!(
        second.iter().all(|task| !first.contains(task)),
        "every task replaced: {first:?} → {second:?}"
    );
    fleet.assert_no_changes();

    // An update whose tasks never get healthy: Swarm rolls it back on both nodes, and
    // berth says so; what runs is the previous spec, so a plan still shows the change.
    roll("0.25", "--check-fails");
    let (stdout, stderr, status) = fleet.berth(&["apply", "--auto-approve", "--stable-for", "2s"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    let said = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(said.contains("Swarm rolled the service back"), "{said}");
    let back = swarm.wait_running("berth-it-fleet-roll", 2, &["n2", "n3"]);
    assert!(
        swarm
            .docker(
                1,
                &[
                    "service",
                    "inspect",
                    "--format",
                    "{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck}}",
                    "berth-it-fleet-roll"
                ]
            )
            .contains("\"--check\""),
        "the previous spec runs: {back:?}"
    );
    let (stdout, _, status) = fleet.berth(&["plan", "--detailed-exitcode"]);
    assert_eq!(status, 2, "the desired change is still to make: {stdout}");
    roll("0.25", "--check");
    fleet.assert_no_changes();

    // A COSMOS shard: refused while no node carries its label, then placed on the one
    // that does.
    fleet.write(
        "plugin/plugin.txt",
        &format!("MICROSERVICE SHARDED sharded\n  CONTAINER {IMAGE}\n  CMD /berth-demo\n  SHARD 1\n"),
    );
    let (stdout, stderr, status) = fleet.berth(&["plan"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("no ready, active node has the label berth.shard=1"),
        "{stdout}{stderr}"
    );
    swarm.docker(1, &["node", "update", "--label-add", "berth.shard=1", "n3"]);
    fleet.apply();
    swarm.wait_placed("berth-it-fleet-DEFAULT__USER__SHARDED", &["n3"]);
    fleet.assert_no_changes();
}

/// `berth watch` on the swarm: a push rolls only the changed service over the nodes;
/// a service scaled and changed by hand is drift, healed; a push whose rollout Swarm
/// rolls back is reported and not rolled out again until a new commit changes it.
#[test]
fn the_watcher_rolls_pushes_heals_drift_and_leaves_a_rolled_back_rollout() {
    use crate::watch::{Repos, Watcher, service};

    let Some(swarm) = Swarm::up() else {
        return;
    };
    swarm.load(&[1, 2, 3]);
    let project = "berth-it-swarm-watch";
    let r = Repos::new(
        project,
        &format!("engine:\n  mode: swarm\n  host: {}\ndrift: heal\n", swarm.host(1)),
        &["web", "api"],
    );
    let state = tempfile::tempdir().unwrap();
    let w = Watcher::start_at(
        crate::engine::free_port(),
        state.path(),
        state.path(),
        &[
            "--repo",
            &r.bare(),
            "--ref",
            "main",
            "--interval",
            "2s",
            "--stable-for",
            "2s",
        ],
        &[],
    );
    let web = format!("{project}-web");
    let api = format!("{project}-api");
    let version = |service: &str| {
        swarm
            .docker(
                1,
                &["service", "inspect", "--format", "{{.Version.Index}}", service],
            )
            .trim()
            .to_string()
    };
    let inspect = |service: &str, format: &str| {
        swarm
            .docker(1, &["service", "inspect", "--format", format, service])
            .trim()
            .to_string()
    };
    w.in_sync();
    let nodes = w.status()["nodes"].clone();
    assert_eq!(nodes.as_array().map(Vec::len), Some(3), "{nodes}");
    let api_version = version(&api);

    // A push: web rolls to the new spec; api is not touched.
    r.write("web.conf.json", &service("web", "debug"));
    r.commit("web: debug");
    w.until("web runs LOG_LEVEL=debug", Duration::from_secs(90), || {
        inspect(&web, "{{json .Spec.TaskTemplate.ContainerSpec.Env}}").contains("LOG_LEVEL=debug")
    });
    w.in_sync();
    assert_eq!(version(&api), api_version, "api untouched");

    // Drift by hand: scaled, and an environment variable added; both healed.
    swarm.docker(1, &["service", "scale", "--detach", &format!("{web}=3")]);
    w.until("the scale is healed", Duration::from_secs(90), || {
        inspect(&web, "{{.Spec.Mode.Replicated.Replicas}}") == "1"
            && w.status()["last_reconcile"]["outcome"] == "in_sync"
    });
    assert!(w.log().contains("drift"), "{}", w.log());
    swarm.docker(
        1,
        &["service", "update", "--detach", "--env-add", "BY_HAND=1", &web],
    );
    w.until("the hand-made change is healed", Duration::from_secs(90), || {
        !inspect(&web, "{{json .Spec.TaskTemplate.ContainerSpec.Env}}").contains("BY_HAND")
            && w.status()["last_reconcile"]["outcome"] == "in_sync"
    });

    // A push whose tasks exit at once: Swarm rolls web back; the watcher says so and
    // does not roll it out again at every look (the interval is 2 s).
    r.write(
        "web.conf.json",
        &service("web", "error").replace(r#""LOG_LEVEL""#, r#""BERTH_DEMO_EXIT": "3", "LOG_LEVEL""#),
    );
    r.commit("web: exits");
    w.until("the rollback is reported", Duration::from_secs(120), || {
        w.status()["last_error"]["permanent"] == true
    });
    let status = w.status();
    let message = status["last_error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("Swarm rolled back the update of `web`"),
        "{message}"
    );
    let web_status = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "web")
        .unwrap()
        .clone();
    assert_eq!(web_status["state"], "failing", "{web_status}");
    assert!(
        inspect(&web, "{{json .Spec.TaskTemplate.ContainerSpec.Env}}").contains("LOG_LEVEL=debug"),
        "the previous spec runs"
    );
    let settled = version(&web);
    let reconciles = w.status()["reconciles"].as_u64().unwrap();
    w.until("a few more looks", Duration::from_secs(60), || {
        w.status()["reconciles"].as_u64().unwrap() >= reconciles + 3
    });
    assert_eq!(version(&web), settled, "not rolled out again:\n{}", w.log());

    // A new commit that changes web is rolled out.
    r.write("web.conf.json", &service("web", "warn"));
    r.commit("web: warn");
    w.until("web runs LOG_LEVEL=warn", Duration::from_secs(90), || {
        inspect(&web, "{{json .Spec.TaskTemplate.ContainerSpec.Env}}").contains("LOG_LEVEL=warn")
    });
    w.in_sync();
    assert!(w.status()["last_error"].is_null());
    assert_eq!(version(&api), api_version, "api never touched");
}
