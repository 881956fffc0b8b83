//! The engine fails under berth: a Docker engine of the test's own (never the shared
//! one) restarted in the middle of an apply and under a running watcher, and stopped
//! so that it accepts connections but answers nothing. berth reports what was done and
//! what was not, never hangs, and converges once the engine is back.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::engine::{IMAGE, docker};
use crate::watch::Watcher;

/// A Docker engine of the test's own: its own dockerd, data and exec roots, socket, pid
/// file and config (`/etc/docker/daemon.json` would pin the shared engine's data root),
/// no default bridge and no iptables, in a network namespace of its own, held by a
/// `sleep` so that the engine can be stopped and started again in the same namespace (a
/// dockerd without a default bridge deletes `docker0`, which in the host's namespace
/// is the shared engine's). Its socket is a path, reached from any namespace. Stopped,
/// with its namespace, on drop.
pub struct PrivateEngine {
    dir: tempfile::TempDir,
    pool: String,
    namespace: Child,
    dockerd: Option<Child>,
}

impl PrivateEngine {
    /// An engine whose address pool is `pool`, split in /24 networks.
    pub fn start(pool: &str) -> Option<PrivateEngine> {
        crate::engine::tool("dockerd")
            .and(crate::engine::tool("unshare"))
            .and(crate::engine::tool("nsenter"))?;
        let namespace = Command::new("unshare")
            .args(["--net", "sleep", "infinity"])
            .spawn()
            .unwrap();
        let mut engine = PrivateEngine {
            dir: tempfile::tempdir().unwrap(),
            pool: pool.to_string(),
            namespace,
            dockerd: None,
        };
        std::fs::write(engine.path("daemon.json"), "{}").unwrap();
        engine.up();
        Some(engine)
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Starts dockerd (again) and waits until it answers.
    pub fn up(&mut self) {
        assert!(self.dockerd.is_none(), "already up");
        // Only once `unshare` has made the namespace, which takes a moment after it
        // starts: entering it before would start this dockerd in the host's namespace,
        // where it would delete the shared engine's docker0.
        let netns = format!("/proc/{}/ns/net", self.namespace.id());
        let host = std::fs::read_link("/proc/self/ns/net").unwrap();
        let start = Instant::now();
        while std::fs::read_link(&netns).ok().is_none_or(|ns| ns == host) {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no namespace of its own"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let netns = format!("--net={netns}");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("dockerd.log"))
            .unwrap();
        let dockerd = Command::new("nsenter")
            .args([netns.as_str(), "dockerd"])
            .args(["--config-file", &self.path("daemon.json")])
            .args(["--data-root", &self.path("data")])
            .args(["--exec-root", &self.path("exec"), "--pidfile", &self.path("pid")])
            .args(["-H", &self.host()])
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--storage-driver=vfs",
            ])
            .args(["--default-address-pool", &format!("base={},size=24", self.pool)])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.dockerd = Some(dockerd);
        let start = Instant::now();
        while self.docker(&["info"]).2 != 0 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the private dockerd does not answer:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops dockerd as a service manager does (SIGTERM: it stops its containers first)
    /// and waits until it has exited.
    pub fn down(&mut self) {
        if let Some(mut dockerd) = self.dockerd.take() {
            signal(dockerd.id(), "TERM");
            let _ = dockerd.wait();
        }
    }

    /// Freezes dockerd (SIGSTOP): its socket still takes connections, nothing answers.
    pub fn freeze(&self, frozen: bool) {
        let pid = self.dockerd.as_ref().expect("up").id();
        signal(pid, if frozen { "STOP" } else { "CONT" });
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.path("docker.sock"))
    }

    pub fn docker(&self, args: &[&str]) -> (String, String, i32) {
        let host = self.host();
        let mut all = vec!["-H", host.as_str()];
        all.extend_from_slice(args);
        docker(&all)
    }

    /// Copies an image of the shared engine into this one.
    pub fn load(&self, image: &str) {
        let (_, stderr, status) = crate::output(
            Command::new("bash")
                .arg("-c")
                .arg(format!("docker save {image} | docker -H {} load", self.host()))
                .output()
                .unwrap(),
        );
        assert_eq!(status, 0, "{stderr}");
    }

    /// Names of the containers, all of them, sorted.
    pub fn containers(&self) -> Vec<String> {
        let (out, _, _) = self.docker(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
        let mut names: Vec<String> = out.lines().map(str::to_string).collect();
        names.sort();
        names
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("dockerd.log")).unwrap_or_default()
    }
}

fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .status();
}

impl Drop for PrivateEngine {
    fn drop(&mut self) {
        if let Some(dockerd) = &self.dockerd {
            // Thawed, in case the test stopped it frozen.
            signal(dockerd.id(), "CONT");
            let (containers, _, _) = self.docker(&["ps", "-aq"]);
            for id in containers.lines() {
                self.docker(&["rm", "-f", id]);
            }
            let (networks, _, _) = self.docker(&["network", "ls", "-q", "--filter", "type=custom"]);
            for id in networks.lines() {
                self.docker(&["network", "rm", id]);
            }
        }
        self.down();
        let _ = self.namespace.kill();
        let _ = self.namespace.wait();
    }
}

/// A folder of `n` Sesam services (s1…sn) of the test image in project `project`.
fn project(project: &str, n: usize, extra: &str) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(
        repo.path().join("berth.yaml"),
        format!("project: {project}\n{extra}"),
    )
    .unwrap();
    for i in 1..=n {
        std::fs::write(
            repo.path().join(format!("s{i}.conf.json")),
            format!(r#"{{"_id": "s{i}", "type": "system:microservice", "docker": {{"image": "{IMAGE}", "port": 8080, "skip_pull": true}}}}"#),
        )
        .unwrap();
    }
    repo
}

/// berth in `repo` with `state`, on the engine at `host`.
fn berth_on(host: &str, repo: &Path, state: &Path) -> Command {
    let mut command = crate::berth();
    command
        .current_dir(repo)
        .env("BERTH_STATE_DIR", state)
        .env("DOCKER_HOST", host)
        .env("NO_COLOR", "1");
    command
}

/// An apply that makes one service at a time, each judged over 2 s, running.
fn slow_apply(host: &str, repo: &Path, state: &Path) -> Child {
    berth_on(host, repo, state)
        .args([
            "apply",
            "--auto-approve",
            "--parallelism",
            "1",
            "--stable-for",
            "2s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the engine holds `n` containers.
fn until_containers(engine: &PrivateEngine, n: usize) {
    let start = Instant::now();
    while engine.containers().len() < n {
        assert!(start.elapsed() < Duration::from_secs(60), "no container made");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// dockerd restarted while an apply creates six services, one engine operation at a
/// time: the apply says which steps were done and which were not and exits 1; the next
/// apply converges on exactly the six containers, and a plan after it is empty.
#[test]
fn an_engine_restarted_under_an_apply_fails_it_plainly_and_the_next_apply_converges() {
    let Some(mut engine) = PrivateEngine::start("10.214.0.0/24") else {
        return;
    };
    crate::engine::demo_image();
    engine.load(IMAGE);
    let repo = project("berth-it-restart", 6, "");
    let state = tempfile::tempdir().unwrap();
    let host = engine.host();
    let first = slow_apply(&host, repo.path(), state.path());
    until_containers(&engine, 2);
    engine.down();
    let (stdout, stderr, status) = crate::output(first.wait_with_output().unwrap());
    assert_eq!(status, 1, "{stdout}{stderr}");
    // What was done, what failed on the engine's going, and what was never started.
    let report = stderr
        .split_once("Apply incomplete: ")
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("{stderr}"));
    // The six wait for readiness side by side: none, one or two had passed it.
    assert!(
        ["nothing; 6 failed", "1 created; 5 failed", "2 created; 4 failed"]
            .iter()
            .any(|counts| report.starts_with(counts)),
        "{report}"
    );
    assert!(
        report.contains("the engine stopped answering (No such file or directory"),
        "{report}"
    );
    assert!(
        report.contains("(create): not started: the engine stopped answering"),
        "{report}"
    );
    assert!(!report.contains("hyper"), "no client internals: {report}");
    assert!(
        stderr.contains(&format!(
            "The engine at {} stopped answering. Once it answers again, run this again",
            engine.host()
        )),
        "{stderr}"
    );
    engine.up();

    let again = slow_apply(&host, repo.path(), state.path());
    let (stdout, stderr, status) = crate::output(again.wait_with_output().unwrap());
    assert_eq!(status, 0, "{stdout}{stderr}");
    let expected: Vec<String> = (1..=6)
        .map(|i| format!("berth-it-restart-s{i}-0 running"))
        .collect();
    assert_eq!(engine.containers(), expected);
    let (stdout, stderr, status) = crate::output(
        berth_on(&host, repo.path(), state.path())
            .args(["plan", "--detailed-exitcode"])
            .output()
            .unwrap(),
    );
    assert_eq!(status, 0, "{stdout}{stderr}");
}

/// An engine that takes connections and answers nothing (its dockerd frozen): `plan`
/// says so after the handshake's 15 s, `apply` on a running project fails each request
/// after berth.yaml's `engine.timeout`, starts no further step, and neither hangs.
#[test]
fn an_engine_that_answers_nothing_is_a_clear_timeout_never_a_hang() {
    let Some(engine) = PrivateEngine::start("10.215.0.0/24") else {
        return;
    };
    crate::engine::demo_image();
    engine.load(IMAGE);
    let repo = project("berth-it-frozen", 3, "engine:\n  timeout: 3\n");
    let state = tempfile::tempdir().unwrap();
    let host = engine.host();
    let berth = |args: &[&str]| {
        crate::output(
            berth_on(&host, repo.path(), state.path())
                .args(args)
                .output()
                .unwrap(),
        )
    };

    engine.freeze(true);
    let start = Instant::now();
    let (stdout, stderr, status) = berth(&["plan"]);
    let took = start.elapsed();
    engine.freeze(false);
    assert_eq!(status, 1, "{stdout}{stderr}");
    let flat = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("took the connection but did not answer within 3s"),
        "{flat}"
    );
    assert!(flat.contains("start the engine (dockerd)"), "{flat}");
    assert!(took < Duration::from_secs(30), "{took:?}");

    // Frozen in the middle of an apply: the step in flight fails after the timeout, the
    // others are never started.
    let child = slow_apply(&host, repo.path(), state.path());
    until_containers(&engine, 1);
    engine.freeze(true);
    let frozen = Instant::now();
    let (stdout, stderr, status) = crate::output(child.wait_with_output().unwrap());
    let took = frozen.elapsed();
    engine.freeze(false);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("the engine did not answer within 3s (berth.yaml engine.timeout)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not started: the engine stopped answering"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");

    // Thawed, the next apply converges.
    let (stdout, stderr, status) = berth(&["apply", "--auto-approve", "--stable-for", "1s"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    let expected: Vec<String> = (1..=3)
        .map(|i| format!("berth-it-frozen-s{i}-0 running"))
        .collect();
    assert_eq!(engine.containers(), expected);
}

/// dockerd restarted under a running watcher: /status and /metrics say the engine is
/// unreachable while it is down, and once it is back the watcher converges on its own
/// (the containers the engine's shutdown stopped run again), without a restart.
#[test]
fn a_watcher_rides_out_an_engine_restart() {
    let Some(mut engine) = PrivateEngine::start("10.216.0.0/24") else {
        return;
    };
    engine.load(IMAGE);
    let p = crate::engine::Project::new("berth-it-watch-restart");
    p.service("s1", "info", 64);
    p.service("s2", "info", 64);
    let host = engine.host();
    // A long interval: what happens within seconds is the retries' and the events' doing.
    let w = Watcher::start(&p, &["--interval", "60s"], &[("DOCKER_HOST", &host)]);
    w.in_sync();
    assert_eq!(w.status()["engine_reachable"], true);
    assert_eq!(w.metric("berth_engine_up"), 1.0);
    let running = vec![
        "berth-it-watch-restart-s1-0 running".to_string(),
        "berth-it-watch-restart-s2-0 running".to_string(),
    ];
    assert_eq!(engine.containers(), running);

    engine.down();
    w.until("the engine is seen gone", Duration::from_secs(30), || {
        w.status()["engine_reachable"] == false
    });
    assert_eq!(w.metric("berth_engine_up"), 0.0);
    let status = w.status();
    let error = status["last_error"]["message"].as_str().unwrap_or_default();
    assert!(error.contains("start the engine (dockerd)"), "{status:#}");
    assert_eq!(status["last_error"]["permanent"], false, "{status:#}");

    let back = Instant::now();
    engine.up();
    w.until("converged again", Duration::from_secs(60), || {
        let s = w.status();
        s["engine_reachable"] == true
            && s["last_reconcile"]["outcome"] == "in_sync"
            && engine.containers() == running
    });
    println!("converged {:?} after the engine was back", back.elapsed());
    assert_eq!(w.metric("berth_engine_up"), 1.0);
    assert!(w.log().contains("the engine answers again"), "{}", w.log());

    // The engine's event stream is followed again: a container restarted by hand is
    // seen (its `die` counted) within the follower's backoff.
    let die = "berth_docker_events_total{action=\"die\"}";
    let dies = w.metric(die);
    w.until("the events are followed again", Duration::from_secs(40), || {
        engine.docker(&["restart", "-t", "0", "berth-it-watch-restart-s1-0"]);
        std::thread::sleep(Duration::from_millis(500));
        w.metric(die) > dies
    });
}
