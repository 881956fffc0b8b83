//! berth on a Swarm of three nodes (`tests/swarm-nodes`: three engines of the test's
//! own, each in a network namespace of its own, joined by a bridge): a replicated
//! service spreads over the nodes; a node lost is shown by `status` (the slot, the node,
//! why) while `plan` stays empty, and once the node is back nothing needs applying.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::engine::IMAGE;

/// The three-node swarm, taken down on drop.
struct Swarm {
    dir: tempfile::TempDir,
}

impl Swarm {
    fn up() -> Option<Swarm> {
        crate::engine::tool("dockerd")
            .and(crate::engine::tool("nsenter"))
            .and(crate::engine::tool("iptables"))?;
        let swarm = Swarm {
            dir: tempfile::tempdir().unwrap(),
        };
        let (stdout, stderr, status) = swarm.script(&["up"]);
        assert_eq!(status, 0, "{stdout}{stderr}");
        Some(swarm)
    }

    fn script(&self, args: &[&str]) -> (String, String, i32) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/swarm-nodes");
        let mut args = args.to_vec();
        let dir = self.dir.path().join("nodes").display().to_string();
        args.push(&dir);
        crate::output(Command::new("bash").arg(script).args(args).output().unwrap())
    }

    fn host(&self, node: u32) -> String {
        format!("unix://{}/nodes/n{node}.sock", self.dir.path().display())
    }

    fn docker(&self, node: u32, args: &[&str]) -> String {
        let host = self.host(node);
        let mut all = vec!["-H", host.as_str()];
        all.extend_from_slice(args);
        crate::engine::docker(&all).0
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        self.script(&["down"]);
    }
}

#[test]
fn a_service_spreads_over_three_nodes_and_a_lost_node_is_shown_never_planned() {
    let Some(swarm) = Swarm::up() else {
        return;
    };
    crate::engine::demo_image();
    for node in 1..=3 {
        let (_, stderr, status) = crate::output(
            Command::new("bash")
                .arg("-c")
                .arg(format!(
                    "docker save {IMAGE} | docker -H {} load",
                    swarm.host(node)
                ))
                .output()
                .unwrap(),
        );
        assert_eq!(status, 0, "{stderr}");
    }
    let repo = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::write(
        repo.path().join("berth.yaml"),
        format!("project: berth-it-nodes\nengine: swarm\ncumulocity:\n  images:\n    \"spread:1.0.0\": \"{IMAGE}\"\n"),
    )
    .unwrap();
    std::fs::create_dir(repo.path().join("spread")).unwrap();
    std::fs::write(
        repo.path().join("spread/cumulocity.json"),
        r#"{"apiVersion": "2", "name": "spread", "version": "1.0.0", "provider": {"name": "berth"}, "isolation": "MULTI_TENANT", "replicas": 3}"#,
    )
    .unwrap();
    let manager = swarm.host(1);
    let berth = |args: &[&str]| {
        crate::output(
            crate::berth()
                .current_dir(repo.path())
                .env("BERTH_STATE_DIR", state.path())
                .env("DOCKER_HOST", &manager)
                .env("NO_COLOR", "1")
                .args(args)
                .output()
                .unwrap(),
        )
    };
    let (stdout, stderr, status) = berth(&["apply", "--auto-approve", "--stable-for", "2s"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    let placed = || {
        swarm.docker(
            1,
            &[
                "service",
                "ps",
                "berth-it-nodes-spread",
                "--filter",
                "desired-state=running",
                "--format",
                "{{.Node}} {{.CurrentState}}",
            ],
        )
    };
    let mut nodes: Vec<String> = placed()
        .lines()
        .map(|l| l.split(' ').next().unwrap_or("").to_string())
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["n1", "n2", "n3"], "one task on each node");
    assert_eq!(berth(&["plan", "--detailed-exitcode"]).2, 0);

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
    let (stdout, stderr, status) = berth(&["plan", "--detailed-exitcode"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
}
