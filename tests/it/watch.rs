//! `berth watch` and `berth hook` end to end: a real watcher process reading real git
//! repositories (pushed to with the git command line), reconciling the real engine, and
//! answering real HTTP. Each test's watcher is killed when the test ends, and its
//! project's containers removed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::engine::{IMAGE, Project, compile_schema, docker, free_port, label};
use crate::git::git;

/// A Sesam service running the test image, with LOG_LEVEL `level`.
pub fn service(id: &str, level: &str) -> String {
    format!(
        r#"{{ "_id": "{id}", "type": "system:microservice",
  "docker": {{ "image": "{IMAGE}", "port": 8080, "skip_pull": true, "environment": {{ "LOG_LEVEL": "{level}" }} }} }}
"#
    )
}

/// A work repository that pushes to a bare one.
pub struct Repos {
    work: tempfile::TempDir,
    bare: tempfile::TempDir,
}

impl Repos {
    /// berth.yaml (`project` plus `extra`) and `services` at LOG_LEVEL info, pushed.
    pub fn new(project: &str, extra: &str, services: &[&str]) -> Repos {
        let r = Repos {
            work: tempfile::tempdir().unwrap(),
            bare: tempfile::tempdir().unwrap(),
        };
        git(r.bare.path(), &["init", "--bare", "-q"]);
        git(r.work.path(), &["init", "-q"]);
        r.write("berth.yaml", &format!("project: {project}\n{extra}"));
        for s in services {
            r.write(&format!("{s}.conf.json"), &service(s, "info"));
        }
        r.commit("first");
        r
    }

    pub fn write(&self, path: &str, text: &str) {
        std::fs::write(self.work.path().join(path), text).unwrap();
    }

    /// Commits everything and pushes main; the new commit.
    pub fn commit(&self, message: &str) -> String {
        git(self.work.path(), &["add", "-A"]);
        git(self.work.path(), &["commit", "-q", "-m", message]);
        git(self.work.path(), &["push", "-q", &self.bare(), "main"]);
        git(self.work.path(), &["rev-parse", "HEAD"])
    }

    pub fn bare(&self) -> String {
        self.bare.path().display().to_string()
    }
}

/// A running `berth watch`, killed on drop; its log in a file.
pub struct Watcher {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Watcher {
    /// `berth watch --listen` with `args`, from the project's folder and state.
    pub fn start(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Watcher {
        Watcher::start_on(free_port(), p, args, env)
    }

    fn start_on(port: u16, p: &Project, args: &[&str], env: &[(&str, &str)]) -> Watcher {
        Watcher::start_at(port, p.repo.path(), p.state.path(), args, env)
    }

    /// `berth watch --listen` on `port` with `args`, from folder `repo` with state `state`.
    pub fn start_at(port: u16, repo: &Path, state: &Path, args: &[&str], env: &[(&str, &str)]) -> Watcher {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("watch.log");
        let listen = format!("127.0.0.1:{port}");
        let mut command = crate::berth();
        command
            .current_dir(repo)
            .env("BERTH_STATE_DIR", state)
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .args(["watch", "--listen", &listen])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if !args.contains(&"--stable-for") {
            command.args(["--stable-for", "1s"]);
        }
        let mut w = Watcher {
            child: command.spawn().unwrap(),
            port,
            log,
            _dir: dir,
        };
        let start = Instant::now();
        while http(port, "GET", "/healthz", &[], b"").is_none_or(|(code, _)| code != 200) {
            if let Some(exit) = w.child.try_wait().unwrap() {
                panic!("the watcher exited ({exit}):\n{}", w.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the watcher does not answer:\n{}",
                w.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        w
    }

    /// `GET /status`, checked against schemas/watch-status.schema.json.
    pub fn status(&self) -> Value {
        let (code, body) = http(self.port, "GET", "/status", &[], b"").expect("/status answers");
        assert_eq!(code, 200);
        let status: Value = serde_json::from_str(&body).unwrap();
        let errors: Vec<String> = status_schema()
            .iter_errors(&status)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}\n{status:#}");
        status
    }

    /// The value of one sample of /metrics (0 when absent).
    pub fn metric(&self, sample: &str) -> f64 {
        let (_, text) = http(self.port, "GET", "/metrics", &[], b"").expect("/metrics answers");
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    fn reconciles(&self) -> u64 {
        self.status()["reconciles"].as_u64().unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for `done`, failing with the watcher's log after `limit`.
    pub fn until(&self, what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < limit,
                "timed out waiting until {what}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until a reconcile found the engine matching the repository and none runs.
    pub fn in_sync(&self) {
        self.until("in sync", Duration::from_secs(60), || {
            let s = self.status();
            s["last_reconcile"]["outcome"] == "in_sync" && s["reconciling"] == false
        });
    }

    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-s", signal, &pid])
                .status()
                .unwrap()
                .success()
        );
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on loopback; the status code and body, `None` when nothing
/// answers.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request += &format!("{k}: {v}\r\n");
    }
    request += "\r\n";
    stream.write_all(request.as_bytes()).ok()?;
    // A refused body may be cut off by the server; the answer still counts.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let code = answer.split(' ').nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

fn status_schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| compile_schema("watch-status.schema.json"))
}

fn id(container: &str) -> String {
    docker(&["inspect", "-f", "{{.Id}}", container])
        .0
        .trim()
        .to_string()
}

fn state(container: &str) -> String {
    docker(&["inspect", "-f", "{{.State.Status}}", container])
        .0
        .trim()
        .to_string()
}

#[test]
fn a_push_replaces_the_changed_service_and_a_broken_push_changes_nothing() {
    let p = Project::new("berth-it-watch-push");
    let r = Repos::new(p.name, "", &["web", "api", "db"]);
    let w = Watcher::start(&p, &["--repo", &r.bare(), "--ref", "main"], &[]);
    w.in_sync();
    let [web, api, db] = ["web", "api", "db"].map(|s| p.container(s));
    let before: Vec<String> = [&web, &api, &db].map(|c| id(c)).to_vec();

    // One service changes: only it is replaced, from the new commit, and it is up.
    r.write("web.conf.json", &service("web", "debug"));
    let second = r.commit("web: debug");
    w.until("web runs the new commit", Duration::from_secs(30), || {
        label(&web, "berth.commit") == second && state(&web) == "running"
    });
    w.in_sync();
    assert_ne!(id(&web), before[0], "web was replaced");
    assert_eq!(
        [id(&api), id(&db)],
        [before[1].clone(), before[2].clone()],
        "the others untouched"
    );
    assert_eq!(
        p.containers(),
        [api.clone(), db.clone(), web.clone()],
        "no -next left"
    );
    assert_eq!(w.status()["desired_commit"], second.as_str());

    // A broken configuration: nothing changes; the error is in /status and the log.
    let running: Vec<String> = [&web, &api, &db].map(|c| id(c)).to_vec();
    r.write(
        "api.conf.json",
        "{ \"_id\": \"api\", \"type\": \"system:microservice\", \"docker\": ",
    );
    let broken = r.commit("api: broken");
    w.until("the error is reported", Duration::from_secs(30), || {
        w.status()["last_error"]["permanent"] == true
    });
    let status = w.status();
    let message = status["last_error"]["message"].as_str().unwrap();
    assert!(message.contains("api.conf.json:1:"), "{message}");
    assert!(message.contains(&broken[..7]), "names the commit: {message}");
    assert_eq!(status["last_reconcile"]["outcome"], "invalid");
    assert_eq!(status["last_reconcile"]["commit"], broken.as_str());
    assert!(w.log().contains("api.conf.json:1:"), "{}", w.log());
    assert_eq!(w.metric("berth_reconciles_total{outcome=\"invalid\"}"), 1.0);
    assert_eq!(
        [&web, &api, &db].map(|c| id(c)).to_vec(),
        running,
        "the last good state keeps running"
    );

    // The next good push converges.
    r.write("api.conf.json", &service("api", "warn"));
    let fixed = r.commit("api: fixed");
    w.until("api runs the fixed commit", Duration::from_secs(30), || {
        label(&api, "berth.commit") == fixed
    });
    w.in_sync();
    assert!(w.status()["last_error"].is_null());
    assert_eq!(id(&db), before[2], "db never changed");
    assert_eq!(p.containers(), [api, db, web]);
}

#[test]
fn drift_is_healed_or_only_reported() {
    // heal, watching a local bare repository.
    let p = Project::new("berth-it-watch-heal");
    let r = Repos::new(p.name, "drift: heal\n", &["web", "api"]);
    let w = Watcher::start(&p, &["--repo", &r.bare()], &[]);
    w.in_sync();
    let (web, api) = (p.container("web"), p.container("api"));
    let api_id = id(&api);
    docker(&["stop", "-t", "1", &web]);
    w.until("web is started again", Duration::from_secs(30), || {
        state(&web) == "running"
    });
    w.in_sync();
    assert_eq!(
        w.metric("berth_drift_total{action=\"start\",handling=\"healed\"}"),
        1.0
    );
    assert!(
        w.log()
            .contains("drift: start berth-it-watch-heal-web-0; healing"),
        "{}",
        w.log()
    );
    // Removed by hand: made again.
    docker(&["rm", "-f", &web]);
    w.until("web is made again", Duration::from_secs(30), || {
        state(&web) == "running"
    });
    assert_eq!(id(&api), api_id, "the other service untouched");
    // Its process killed from outside (a crash): the engine restarts it; berth reports
    // it and does nothing itself.
    w.in_sync();
    let web_id = id(&web);
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", &web])
        .0
        .trim()
        .to_string();
    assert!(
        Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success()
    );
    w.until("the crash is reported", Duration::from_secs(30), || {
        w.status()["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "web" && s["state"] == "crash_looping")
    });
    assert!(w.log().contains("crash-looping"), "{}", w.log());
    assert_eq!(id(&web), web_id, "restarted by the engine, not replaced");
    drop(w);

    // warn, watching a plain folder (no git): reported, left stopped.
    let p = Project::new("berth-it-watch-warn");
    p.service("web", "info", 64);
    let w = Watcher::start(&p, &["--drift", "warn"], &[]);
    w.in_sync();
    let web = p.container("web");
    docker(&["stop", "-t", "1", &web]);
    w.until("the drift is reported", Duration::from_secs(30), || {
        let s = w.status();
        s["last_reconcile"]["outcome"] == "drift_reported" && s["services"][0]["state"] == "drifted"
    });
    assert_eq!(w.status()["services"][0]["drift"][0], format!("start {web}"));
    assert_eq!(
        w.metric("berth_drift_total{action=\"start\",handling=\"reported\"}"),
        1.0
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(state(&web), "exited", "left as it is");
    // A watcher started again remembers the converged state: still drift, still left.
    drop(w);
    let w = Watcher::start(&p, &["--drift", "warn"], &[]);
    w.until("the drift is reported again", Duration::from_secs(30), || {
        w.status()["last_reconcile"]["outcome"] == "drift_reported"
    });
    assert_eq!(state(&web), "exited", "not applied by the new watcher");
    // A change to the folder is a new desired state: applied whole, drift included.
    p.service("web", "debug", 64);
    w.until("web is replaced and running", Duration::from_secs(30), || {
        state(&web) == "running" && w.status()["services"][0]["state"] == "in_sync"
    });
    drop(w);

    // off: engine events are counted but trigger nothing, and nothing is healed.
    let p = Project::new("berth-it-watch-off");
    p.service("web", "info", 64);
    let w = Watcher::start(&p, &["--drift", "off"], &[]);
    w.in_sync();
    let reconciles = w.reconciles();
    let web = p.container("web");
    docker(&["stop", "-t", "1", &web]);
    w.until("the event is seen", Duration::from_secs(30), || {
        w.metric("berth_docker_events_total{action=\"die\"}") >= 1.0
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(w.reconciles(), reconciles, "no reconcile for an event");
    assert_eq!(state(&web), "exited");
}

#[test]
fn webhooks_are_authenticated_and_a_burst_costs_at_most_two_reconciles() {
    let p = Project::new("berth-it-watch-hooks");
    let config = "webhooks:\n  github: GH\n  gitea: GT\n  gitlab: GL\n  generic: GEN\nsecrets:\n  providers:\n    - type: env\n      prefix: IT_HOOK_\n";
    let r = Repos::new(p.name, config, &["web"]);
    // A URL: no file watching, and an interval long enough that only webhooks trigger.
    let url = format!("file://{}", r.bare());
    let env = [
        ("IT_HOOK_GH", "gh-secret"),
        ("IT_HOOK_GT", "gt-secret"),
        ("IT_HOOK_GL", "gl-secret"),
        ("IT_HOOK_GEN", "gen-secret"),
    ];
    let w = Watcher::start(
        &p,
        &["--repo", &url, "--interval", "1h", "--log-format", "json"],
        &env,
    );
    w.in_sync();
    let web = p.container("web");
    r.write("web.conf.json", &service("web", "debug"));
    let second = r.commit("web: debug");

    let body = br#"{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}"#;
    let signature = berth::watch::webhook::github_signature(body, b"gh-secret");
    let forged = berth::watch::webhook::github_signature(body, b"guess");
    let reconciles = w.reconciles();
    for headers in [vec![], vec![("X-Hub-Signature-256", forged.as_str())]] {
        let (code, text) = http(w.port, "POST", "/hooks/github", &headers, body).unwrap();
        assert_eq!(code, 401, "{text}");
    }
    let (code, _) = http(
        w.port,
        "POST",
        "/hooks/gitlab",
        &[("X-Gitlab-Token", "gl-secreT")],
        body,
    )
    .unwrap();
    assert_eq!(code, 401);
    let (code, _) = http(w.port, "POST", "/hooks/generic", &[], body).unwrap();
    assert_eq!(code, 401);
    let (code, _) = http(w.port, "POST", "/hooks/nope", &[], body).unwrap();
    assert_eq!(code, 404);
    let big = vec![b' '; 1024 * 1024 + 1];
    let (code, _) = http(
        w.port,
        "POST",
        "/hooks/github",
        &[("X-Hub-Signature-256", &signature)],
        &big,
    )
    .unwrap();
    assert_eq!(code, 413);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(w.reconciles(), reconciles, "refused deliveries trigger nothing");
    assert_ne!(label(&web, "berth.commit"), second, "the push is not applied yet");
    assert_eq!(
        w.metric("berth_webhook_deliveries_total{endpoint=\"github\",result=\"unauthorized\"}"),
        2.0
    );

    // A signed delivery: 202 at once, then the configured branch is fetched and applied.
    let (code, _) = http(
        w.port,
        "POST",
        "/hooks/github",
        &[("X-Hub-Signature-256", &signature)],
        body,
    )
    .unwrap();
    assert_eq!(code, 202);
    w.until("the push is applied", Duration::from_secs(30), || {
        label(&web, "berth.commit") == second
    });
    w.in_sync();

    // The other forges' ways of proving the secret.
    let gitea = &berth::watch::webhook::github_signature(body, b"gt-secret")[7..];
    for (endpoint, header, value) in [
        ("gitea", "X-Gitea-Signature", gitea.to_string()),
        ("gitlab", "X-Gitlab-Token", "gl-secret".to_string()),
        ("generic", "Authorization", "Bearer gen-secret".to_string()),
    ] {
        let (code, text) = http(
            w.port,
            "POST",
            &format!("/hooks/{endpoint}"),
            &[(header, &value)],
            body,
        )
        .unwrap();
        assert_eq!(code, 202, "{endpoint}: {text}");
    }
    w.in_sync();

    // Twenty deliveries at once: folded into at most two reconciles.
    let reconciles = w.reconciles();
    let senders: Vec<_> = (0..20)
        .map(|_| {
            let (port, signature) = (w.port, signature.clone());
            std::thread::spawn(move || {
                http(
                    port,
                    "POST",
                    "/hooks/github",
                    &[("X-Hub-Signature-256", &signature)],
                    body,
                )
            })
        })
        .collect();
    for s in senders {
        assert_eq!(s.join().unwrap().unwrap().0, 202);
    }
    std::thread::sleep(Duration::from_secs(2));
    w.in_sync();
    let ran = w.reconciles() - reconciles;
    assert!((1..=2).contains(&ran), "{ran} reconciles for a burst of 20");

    // --log-format json: one object per line.
    let log = w.log();
    for line in log.lines() {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            entry["level"].is_string() && entry["message"].is_string(),
            "{line}"
        );
    }
    let refused = log
        .lines()
        .filter(|l| {
            l.contains(
                r#""message":"webhook refused: X-Hub-Signature-256 does not match the configured secret""#,
            )
        })
        .count();
    assert_eq!(refused, 1, "{log}");
}

#[test]
fn a_remote_repository_is_fetched_every_interval() {
    let p = Project::new("berth-it-watch-poll");
    let r = Repos::new(p.name, "", &["web"]);
    let url = format!("file://{}", r.bare());
    let w = Watcher::start(&p, &["--repo", &url, "--interval", "2s"], &[]);
    w.in_sync();
    r.write("web.conf.json", &service("web", "debug"));
    let second = r.commit("web: debug");
    // No webhook, no file watch (a URL): the interval's fetch finds the push.
    w.until("the push is applied", Duration::from_secs(30), || {
        label(&p.container("web"), "berth.commit") == second
    });
    w.in_sync();
    assert_eq!(w.status()["desired_commit"], second.as_str());
}

#[test]
fn a_watcher_stopped_or_killed_mid_apply_converges_when_started_again() {
    let p = Project::new("berth-it-watch-kill");
    let names = ["s1", "s2", "s3", "s4", "s5", "s6"];
    let r = Repos::new(p.name, "", &names);
    let slow = ["--repo", &r.bare(), "--parallelism", "1", "--stable-for", "2s"];
    let w = Watcher::start(&p, &slow, &[]);
    w.in_sync();
    for s in names {
        r.write(&format!("{s}.conf.json"), &service(s, "debug"));
    }
    let second = r.commit("everyone: debug");
    let at = |p: &Project, commit: &str| {
        names
            .iter()
            .filter(|s| label(&p.container(s), "berth.commit") == commit)
            .count()
    };

    // SIGTERM while the replaces are in flight (all six begin at once, one engine
    // operation at a time, and wait for readiness side by side): they finish, leaving
    // no `-next` or `-old` container, and the watcher exits 0, releasing the lock.
    w.until("an apply is under way", Duration::from_secs(30), || {
        w.status()["reconciling"] == true
    });
    std::thread::sleep(Duration::from_millis(500));
    w.signal("TERM");
    let mut w = w;
    let status = w.child.wait().unwrap();
    assert!(status.success(), "exit {status:?}; log:\n{}", w.log());
    assert!(
        w.log().contains("stopping: letting the steps in flight finish"),
        "{}",
        w.log()
    );
    let done = at(&p, &second);
    assert!(done >= 1, "{done} of 6 replaced; log:\n{}", w.log());
    assert!(
        p.containers()
            .iter()
            .all(|c| !c.ends_with("-next") && !c.ends_with("-old")),
        "{:?}",
        p.containers()
    );

    // Started again (so the lock was released) on a new commit; two SIGTERMs end it at
    // once, in the middle of a replace.
    for s in names {
        r.write(&format!("{s}.conf.json"), &service(s, "warn"));
    }
    let third = r.commit("everyone: warn");
    let mut w = Watcher::start(&p, &slow, &[]);
    w.until("a replace is under way", Duration::from_secs(30), || {
        p.containers().iter().any(|c| c.ends_with("-next"))
    });
    w.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    w.signal("TERM");
    let status = w.child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "log:\n{}", w.log());
    assert!(w.log().contains("a second signal"), "{}", w.log());
    drop(w);

    // Started again, then SIGKILLed mid-apply.
    let w = Watcher::start(&p, &slow, &[]);
    w.until("the next replace is under way", Duration::from_secs(30), || {
        p.containers().iter().any(|c| c.ends_with("-next"))
    });
    w.signal("KILL");
    drop(w);

    // A third watcher converges: every service at the new commit, no leftovers.
    let w = Watcher::start(&p, &slow, &[]);
    w.until(
        "every service runs the new commit",
        Duration::from_secs(90),
        || at(&p, &third) == names.len(),
    );
    w.in_sync();
    let mut expected: Vec<String> = names.iter().map(|s| p.container(s)).collect();
    expected.sort();
    assert_eq!(p.containers(), expected);
}

/// Runs `git push` from the work repository with berth's state folder in the
/// environment the hook inherits; git's output (hook lines are prefixed `remote:`).
fn push(r: &Repos, p: &Project) -> String {
    let output = Command::new("git")
        .current_dir(r.work.path())
        .env("BERTH_STATE_DIR", p.state.path())
        .env("NO_COLOR", "1")
        .args(["push", &r.bare(), "main"])
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned() + &String::from_utf8_lossy(&output.stdout)
}

fn commit_only(r: &Repos, message: &str) -> String {
    git(r.work.path(), &["commit", "-q", "-am", message]);
    git(r.work.path(), &["rev-parse", "HEAD"])
}

#[test]
fn the_post_receive_hook_pokes_the_watcher_or_applies_by_itself() {
    let p = Project::new("berth-it-watch-hook");
    let r = Repos::new(p.name, "", &["web"]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let install = |repo: &Path| {
        p.berth(&[
            "hook",
            "install",
            "--post-receive",
            &repo.display().to_string(),
            "--listen",
            &listen,
            "--ref",
            "main",
        ])
    };
    let (stdout, stderr, code) = install(r.bare.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("Installed"), "{stdout}");
    let hook = r.bare.path().join("hooks/post-receive");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&hook).unwrap().permissions());
    assert_eq!(mode & 0o111, 0o111, "executable");
    let (stdout, _, code) = install(r.bare.path());
    assert_eq!(
        (code, stdout.contains("already installed")),
        (0, true),
        "{stdout}"
    );

    // core.hooksPath is where git looks, so that is where the hook goes.
    let elsewhere = tempfile::tempdir().unwrap();
    git(elsewhere.path(), &["init", "--bare", "-q"]);
    git(elsewhere.path(), &["config", "core.hooksPath", "custom-hooks"]);
    let (stdout, stderr, code) = install(elsewhere.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(elsewhere.path().join("custom-hooks/post-receive").is_file());
    assert!(!elsewhere.path().join("hooks/post-receive").exists());

    // Someone else's hook is left alone.
    let other = tempfile::tempdir().unwrap();
    git(other.path(), &["init", "--bare", "-q"]);
    std::fs::write(other.path().join("hooks/post-receive"), "#!/bin/sh\necho mine\n").unwrap();
    let (_, stderr, code) = install(other.path());
    assert_eq!(code, 1);
    assert!(stderr.contains("was not written by berth"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(other.path().join("hooks/post-receive")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );

    // No watcher: the push applies by itself.
    r.write("web.conf.json", &service("web", "debug"));
    let second = commit_only(&r, "web: debug");
    let said = push(&r, &p);
    assert!(said.contains("no watcher answered"), "{said}");
    assert!(said.contains("Apply complete"), "{said}");
    let web = p.container("web");
    assert_eq!(label(&web, "berth.commit"), second);

    // With a watcher (reading a URL, so only the hook can tell it): the push pokes it.
    let url = format!("file://{}", r.bare());
    let w = Watcher::start_on(port, &p, &["--repo", &url, "--interval", "1h"], &[]);
    w.in_sync();
    r.write("web.conf.json", &service("web", "warn"));
    let third = commit_only(&r, "web: warn");
    let said = push(&r, &p);
    assert!(said.contains("will reconcile"), "{said}");
    w.until("the watcher applies the push", Duration::from_secs(30), || {
        label(&web, "berth.commit") == third
    });
    assert!(
        w.log().contains("webhook accepted endpoint=\"local\""),
        "{}",
        w.log()
    );
    // A forged poke is refused.
    let (code, _) = http(
        port,
        "POST",
        "/hooks/local",
        &[("Authorization", "Bearer guess")],
        b"",
    )
    .unwrap();
    assert_eq!(code, 401);
}

#[test]
fn a_watcher_refuses_to_follow_a_repository_offline() {
    let (_, stderr, code) = crate::run(&["watch", "--repo", "file:///nowhere.git", "--offline"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot follow a repository --offline"),
        "{stderr}"
    );
}

/// Sesam's `pull_image_cron_expression`: at each due time the watcher pulls the image
/// (from a password-protected registry on loopback, with the service's credentials); a
/// pull that finds the same image does nothing, and one that finds a new image behind
/// the tag replaces the service, recorded as an image update by schedule.
#[test]
fn a_scheduled_pull_replaces_the_service_only_when_the_tag_names_a_new_image() {
    let Some(registry) = crate::engine::Registry::start("puller", "s3cret") else {
        return;
    };
    let mut p = Project::new("berth-it-cron");
    let image = registry.push(IMAGE, "berth-it/cron:1");
    p.tags.push(image.clone());
    p.write(
        "berth.yaml",
        "project: berth-it-cron\nsecrets:\n  providers:\n    - { type: env, prefix: BERTH_IT_CRON_ }\n",
    );
    p.write(
        "cron.conf.json",
        &format!(
            r#"{{ "_id": "cron", "type": "system:microservice",
  "docker": {{ "image": "{image}", "port": 8080, "username": "puller", "password": "$SECRET(registry)",
    "pull_image_cron_expression": "*/2 * * * * *" }} }}"#
        ),
    );
    let w = Watcher::start(&p, &[], &[("BERTH_IT_CRON_registry", "s3cret")]);
    w.in_sync();
    let container = p.container("cron");
    let before = id(&container);

    // The same image behind the tag: pulled on schedule, nothing replaced.
    let same = "berth_scheduled_pulls_total{result=\"same_image\"}";
    w.until("two scheduled pulls", Duration::from_secs(30), || {
        w.metric(same) >= 2.0
    });
    assert_eq!(id(&container), before, "the same container");
    let status = w.status();
    let pull = &status["services"][0]["last_scheduled_pull"];
    assert_eq!(
        (pull["image"].as_str(), pull["result"].as_str()),
        (Some(image.as_str()), Some("same_image")),
        "{status:#}"
    );

    // A new image behind the tag (pushed, never pulled by hand): the service is replaced.
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {IMAGE}\nLABEL berth-it-cron=2\n"),
    )
    .unwrap();
    let local = "berth-it-cron-next:2";
    let (_, stderr, status) = docker(&[
        "build",
        "--quiet",
        "--tag",
        local,
        context.path().to_str().unwrap(),
    ]);
    assert_eq!(status, 0, "{stderr}");
    let new_id = docker(&["image", "inspect", "-f", "{{.Id}}", local])
        .0
        .trim()
        .to_string();
    registry.push(local, "berth-it/cron:1");
    p.tags.push(local.into());
    w.until("the service runs the new image", Duration::from_secs(60), || {
        docker(&["inspect", "-f", "{{.Image}}", &container]).0.trim() == new_id
    });
    assert_ne!(id(&container), before, "replaced");
    // The new container has the name before the old one is stopped and removed; the
    // apply's journal entry follows once it is done.
    let journal = || std::fs::read_to_string(p.state.path().join("journal/berth-it-cron.jsonl")).unwrap();
    w.until(
        "the journal tells of the replace",
        Duration::from_secs(30),
        || journal().contains("\"reason\":\"image update by schedule: cron\""),
    );
    assert!(w.metric("berth_scheduled_pulls_total{result=\"new_image\"}") >= 1.0);
    assert!(
        w.log().contains("scheduled pull: the tag names a new image"),
        "{}",
        w.log()
    );
    w.in_sync();
}

#[test]
fn a_rollback_pins_the_watcher_until_unpinned() {
    let p = Project::new("berth-it-watch-pin");
    let r = Repos::new(p.name, "", &["web", "api"]);
    let first = git(r.work.path(), &["rev-parse", "HEAD"]);
    let w = Watcher::start(&p, &["--repo", &r.bare(), "--ref", "main"], &[]);
    w.in_sync();
    let [web, api] = ["web", "api"].map(|s| p.container(s));
    r.write("web.conf.json", &service("web", "debug"));
    let second = r.commit("web: debug");
    w.until("web runs the second commit", Duration::from_secs(30), || {
        label(&web, "berth.commit") == second
    });
    w.in_sync();

    // Rolled back by hand while the watcher runs: it follows the pin at once.
    let (stdout, stderr, status) = crate::engine::berth_in(
        p.repo.path(),
        p.state.path(),
        &[
            "rollback",
            "--repo",
            &r.bare(),
            "--ref",
            "main",
            "--to",
            &first,
            "--auto-approve",
            "--stable-for",
            "0s",
        ],
    );
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert_eq!(label(&web, "berth.commit"), first);

    // A push while pinned is not applied; the watcher says how far the branch moved.
    r.write("api.conf.json", &service("api", "debug"));
    let third = r.commit("api: debug");
    w.until(
        "the watcher sees the push behind the pin",
        Duration::from_secs(30),
        || w.status()["pinned"]["ahead"] == 2,
    );
    w.in_sync();
    let status = w.status();
    assert_eq!(status["pinned"]["commit"], first.as_str());
    assert_eq!(status["pinned"]["head"], third.as_str());
    assert_eq!(status["desired_commit"], first.as_str());
    assert_eq!(w.metric("berth_pinned"), 1.0);
    assert_eq!(w.metric("berth_pin_commits_behind"), 2.0);
    assert_eq!(label(&web, "berth.commit"), first, "web stays rolled back");
    assert!(!label(&api, "berth.commit").is_empty());
    assert_ne!(label(&api, "berth.commit"), third, "the push waits");
    assert!(
        w.log().contains(&format!("pinned to commit {}", &first[..7])),
        "{}",
        w.log()
    );

    // Unpinned: the watcher applies the branch at once.
    let (stdout, stderr, status) =
        crate::engine::berth_in(p.repo.path(), p.state.path(), &["unpin", "--repo", &r.bare()]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    w.until("the branch is applied", Duration::from_secs(30), || {
        label(&web, "berth.commit") == third && label(&api, "berth.commit") == third
    });
    w.in_sync();
    assert!(w.status()["pinned"].is_null());
    assert_eq!(w.metric("berth_pinned"), 0.0);
}

/// A request's headers (lower-case names) and body.
type Received = (std::collections::HashMap<String, String>, Vec<u8>);

/// A notification receiver on loopback: every request, answered 200.
pub struct Receiver {
    pub port: u16,
    got: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = got.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut data = Vec::new();
                let mut buffer = [0u8; 8192];
                let (head, body) = loop {
                    let Ok(n) = stream.read(&mut buffer) else {
                        break (String::new(), Vec::new());
                    };
                    if n == 0 {
                        break (String::new(), Vec::new());
                    }
                    data.extend_from_slice(&buffer[..n]);
                    let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&data[..end]).into_owned();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if data.len() >= end + 4 + length {
                        break (head, data[end + 4..end + 4 + length].to_vec());
                    }
                };
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let _ =
                    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                kept.lock().unwrap().push((headers, body));
            }
        });
        Receiver { port, got }
    }

    /// Every request received so far, headers and body, as text.
    pub fn raw(&self) -> String {
        let got = self.got.lock().unwrap();
        got.iter()
            .map(|(headers, body)| format!("{headers:?}\n{}\n", String::from_utf8_lossy(body)))
            .collect()
    }

    /// The events received so far, each checked: its signature under `key`, its
    /// X-Berth-Event header and schemas/event.schema.json.
    fn events(&self, key: &[u8]) -> Vec<Value> {
        use hmac::{KeyInit, Mac};
        let schema = compile_schema("event.schema.json");
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(headers, body)| {
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
                mac.update(body);
                let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
                assert_eq!(
                    headers.get("x-berth-signature-256"),
                    Some(&expected),
                    "{headers:?}"
                );
                let event: Value = serde_json::from_slice(body).unwrap();
                let errors: Vec<String> = schema.iter_errors(&event).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{errors:?}\n{event:#}");
                assert_eq!(
                    headers.get("x-berth-event").map(String::as_str),
                    event["event"].as_str()
                );
                assert_eq!(
                    headers.get("x-berth-delivery").map(String::as_str),
                    event["id"].as_str()
                );
                event
            })
            .collect()
    }

    /// Waits for an event of kind `event` from `sender` that `check` accepts.
    fn wait_for(&self, key: &[u8], event: &str, sender: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = self
                .events(key)
                .into_iter()
                .find(|e| e["event"] == event && e["sender"] == sender && check(e));
            if let Some(found) = found {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no {event} event from {sender}; got: {:#?}",
                self.events(key)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn notifications_are_signed_events_and_a_dead_receiver_delays_nothing() {
    const KEY: &[u8] = b"notify-key-7f3a";
    let receiver = Receiver::start();
    let dead = free_port();
    let p = Project::new("berth-it-watch-notify");
    let yaml = format!(
        "drift: heal\nsecrets:\n  providers:\n    - {{ type: env, prefix: BERTH_IT_NOTIFY_ }}\nnotify:\n  - webhook: http://127.0.0.1:{}/hook\n    secret: $SECRET(key)\n  - webhook: http://127.0.0.1:{dead}/hooks/T0KEN-IN-PATH\n",
        receiver.port
    );
    let r = Repos::new(p.name, &yaml, &["web", "api"]);
    let env = [("BERTH_IT_NOTIFY_key", std::str::from_utf8(KEY).unwrap())];
    let apply = |prune: bool| {
        let mut command = crate::berth();
        command
            .current_dir(r.work.path())
            .env("BERTH_STATE_DIR", p.state.path())
            .env("NO_COLOR", "1")
            .envs(env)
            .args(["apply", "--auto-approve", "--stable-for", "1s"]);
        if prune {
            command.arg("--prune");
        }
        crate::output(command.output().unwrap())
    };

    // An apply from the command line: its end, with every step.
    let (stdout, stderr, status) = apply(false);
    assert_eq!(status, 0, "{stdout}{stderr}");
    let event = receiver.wait_for(KEY, "apply", "apply", |_| true);
    assert_eq!(event["outcome"], "applied");
    assert_eq!(event["project"], p.name);
    assert_eq!(
        event["changes"],
        serde_json::json!([
            { "service": "api", "container": p.container("api"), "action": "created" },
            { "service": "web", "container": p.container("web"), "action": "created" }
        ])
    );
    // The dead endpoint is a warning naming only its host, never its path.
    assert!(
        stderr.contains(&format!("notification to http://127.0.0.1:{dead} not delivered")),
        "{stderr}"
    );
    assert!(!format!("{stdout}{stderr}").contains("T0KEN"), "{stderr}");

    // A failed apply: incomplete, with the step's error.
    r.write(
        "crash.conf.json",
        &service("crash", "info").replace("\"LOG_LEVEL\"", "\"BERTH_DEMO_EXIT\": \"3\", \"LOG_LEVEL\""),
    );
    let (stdout, stderr, status) = apply(false);
    assert_eq!(status, 1, "{stdout}{stderr}");
    let event = receiver.wait_for(KEY, "apply", "apply", |e| e["outcome"] == "incomplete");
    assert_eq!(event["severity"], "error");
    let step = &event["changes"][0];
    assert_eq!(
        (&step["service"], &step["action"]),
        (&Value::from("crash"), &Value::from("created"))
    );
    assert!(step["error"].as_str().unwrap().contains("exit"), "{event:#}");
    std::fs::remove_file(r.work.path().join("crash.conf.json")).unwrap();
    let (stdout, stderr, status) = apply(true);
    assert_eq!(status, 0, "{stdout}{stderr}");

    // The watcher: a container removed by hand is healed, and both are told.
    let w = Watcher::start(&p, &["--repo", &r.bare(), "--ref", "main"], &env);
    w.in_sync();
    docker(&["rm", "-f", &p.container("web")]);
    let healed = receiver.wait_for(KEY, "drift_healed", "watch", |_| true);
    assert_eq!(healed["services"], serde_json::json!(["web"]));
    // A container removed with -f dies before it is gone: a watcher may first try to
    // start it, fail, and heal it at the next try; the heal is the apply that succeeds.
    let applied = receiver.wait_for(KEY, "apply", "watch", |e| e["outcome"] == "applied");
    assert_eq!(applied["outcome"], "applied", "{applied:#}\n{}", w.log());
    assert!(applied["by"].as_str().unwrap().contains('@'), "{applied:#}");
    // The reconcile that healed took its own time, not the dead endpoint's retries
    // (4 tries over 14 s).
    w.in_sync();

    // A broken push: the error with its place.
    r.write(
        "api.conf.json",
        "{ \"_id\": \"api\", \"type\": \"system:microservice\", \"docker\": ",
    );
    let broken = r.commit("api: broken");
    let invalid = receiver.wait_for(KEY, "invalid_configuration", "watch", |_| true);
    assert_eq!(invalid["commit"], broken.as_str());
    assert_eq!(invalid["problems"][0]["file"], "api.conf.json");
    assert_eq!(invalid["problems"][0]["line"], 1);

    // The dead endpoint: counted once its tries are spent, logged once however many
    // events fail.
    let failed =
        format!("berth_notifications_total{{endpoint=\"http://127.0.0.1:{dead}\",result=\"failed\"}}");
    w.until(
        "the dead endpoint's failures are counted",
        Duration::from_secs(60),
        || w.metric(&failed) >= 2.0,
    );
    assert!(
        w.metric(&format!(
            "berth_notifications_total{{endpoint=\"http://127.0.0.1:{}\",result=\"delivered\"}}",
            receiver.port
        )) >= 3.0
    );
    assert_eq!(w.log().matches("notifications fail").count(), 1, "{}", w.log());
    assert!(!w.log().contains("T0KEN"), "{}", w.log());
    // Every reconcile, the heal's included, ended within 10 s: none waited for the dead
    // endpoint's retries (14 s).
    let all = w.metric("berth_reconcile_duration_seconds_count");
    assert!(all >= 3.0);
    assert_eq!(
        w.metric("berth_reconcile_duration_seconds_bucket{le=\"10.24\"}"),
        all
    );
}

/// The watcher's resident memory, KiB.
fn rss_kib(w: &Watcher) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", w.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Sends `request` raw and reads the answer's status code (`None`: closed unanswered).
fn raw(port: u16, request: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).split(' ').nth(1)?.parse().ok()
}

/// Slow senders, oversized heads and a thousand requests at once cost bounded time and
/// memory, are answered 408, 413 and 431 where an answer fits, and never hold up a
/// reconcile: a change written while every connection slot is taken is applied.
#[test]
fn the_http_endpoints_hold_up_under_abuse() {
    let p = Project::new("berth-it-watch-abuse");
    p.write("berth.yaml", &format!("project: {}\nwebhooks:\n  generic: GEN\nsecrets:\n  providers:\n    - type: env\n      prefix: IT_ABUSE_\n", p.name));
    p.service("web", "info", 32);
    let w = Watcher::start(&p, &[], &[("IT_ABUSE_GEN", "abuse-secret")]);
    w.in_sync();
    let port = w.port;
    let rss_before = rss_kib(&w);

    // More slow senders than there are connection slots, each stuck in its head.
    let slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"POST /hooks/generic HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            s
        })
        .collect();
    // Meanwhile the loop goes on: a change is applied.
    let web = p.container("web");
    let before = id(&web);
    p.service("web", "debug", 32);
    w.until(
        "the change is applied with every slot taken",
        Duration::from_secs(30),
        || id(&web) != before && !id(&web).is_empty(),
    );
    // Each slow head is cut off after its 10 s; those that waited for a slot, 10 s
    // after they got one.
    let start = Instant::now();
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(
            rest.is_empty() || String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 408"),
            "{rest:?}"
        );
    }
    assert!(start.elapsed() < Duration::from_secs(40), "{:?}", start.elapsed());

    // A body that stops coming: 408. A head too large, or with too many headers: 431.
    // A body over 1 MiB: 413, unread.
    let mut slow_body = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow_body
        .write_all(b"POST /hooks/generic HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abuse-secret\r\nContent-Length: 100\r\n\r\n{\"a\":")
        .unwrap();
    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(16 * 1024)
    );
    assert_eq!(raw(port, big_header.as_bytes()), Some(431));
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_eq!(
        raw(
            port,
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes()
        ),
        Some(431)
    );
    assert_eq!(
        raw(
            port,
            b"POST /hooks/generic HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"
        ),
        Some(413)
    );
    slow_body.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut answer = Vec::new();
    let _ = slow_body.read_to_end(&mut answer);
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(w.metric("berth_webhook_deliveries_total{endpoint=\"generic\",result=\"timeout\"}") >= 1.0);

    // A thousand requests at once, all answered.
    let start = Instant::now();
    let mut streams: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    for s in &mut streams {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        assert!(
            answer.starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    let took = start.elapsed();
    let rss_after = rss_kib(&w);
    println!("1000 requests at once: {took:?}; resident {rss_before} KiB before, {rss_after} KiB after");
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(
        rss_after < rss_before + 64 * 1024,
        "{rss_before} → {rss_after} KiB"
    );
    w.in_sync();
}
