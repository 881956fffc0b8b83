//! `berth plan` (and the `apply` that makes its containers) against the real Docker
//! engine: every kind of change gets its action, an unmanaged container in the way is
//! an error and untouched, an unreachable engine is one clear line. Each test owns a
//! project name and removes its containers and network, before and after.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{OnceLock, RwLock, RwLockReadGuard};

use serde_json::Value;

use crate::output;

/// The image every test container runs, built once per test run from this repository.
pub const IMAGE: &str = "berth-demo:it";

pub fn demo_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("images/demo/build");
        let (_, stderr, status) = output(Command::new("bash").arg(script).arg(IMAGE).output().unwrap());
        assert_eq!(status, 0, "building {IMAGE}: {stderr}");
    });
    IMAGE
}

/// A label of a container, trimmed ("" when it has none).
pub fn label(container: &str, key: &str) -> String {
    let format = format!("{{{{index .Config.Labels \"{key}\"}}}}");
    docker(&["inspect", "-f", &format, container])
        .0
        .trim()
        .to_string()
}

pub fn docker(args: &[&str]) -> (String, String, i32) {
    output(Command::new("docker").args(args).output().expect("docker runs"))
}

/// The engine as a whole: every project holds it shared; a test that turns the engine
/// into a swarm holds it alone, since joining and leaving a swarm disturbs other
/// containers (leaving can drop standalone containers' published ports, moby#42877).
pub static ENGINE: RwLock<()> = RwLock::new(());

/// A configuration repository in a temp folder, its own state folder, and the engine
/// objects of its project, which are removed when it is dropped.
pub struct Project {
    pub name: &'static str,
    pub repo: tempfile::TempDir,
    pub state: tempfile::TempDir,
    /// Unmanaged containers the test made, removed at the end too.
    pub others: Vec<String>,
    /// Image tags the test made, removed at the end.
    pub tags: Vec<String>,
    /// The image the services run.
    pub image: String,
    /// Held while the project lives; a test that panicked while holding it changed
    /// nothing that needs protecting, hence `into_inner` on poison.
    _engine: Option<RwLockReadGuard<'static, ()>>,
}

impl Project {
    pub fn new(name: &'static str) -> Project {
        let engine = ENGINE.read().unwrap_or_else(|e| e.into_inner());
        Project::holding(name, Some(engine))
    }

    /// A project for a test that holds the engine alone already.
    pub fn holding(name: &'static str, engine: Option<RwLockReadGuard<'static, ()>>) -> Project {
        demo_image();
        let p = Project {
            name,
            repo: tempfile::tempdir().unwrap(),
            state: tempfile::tempdir().unwrap(),
            others: Vec::new(),
            tags: Vec::new(),
            image: IMAGE.to_string(),
            _engine: engine,
        };
        p.clean(); // leftovers of an earlier run that was killed
        p.write("berth.yaml", &format!("project: {name}\n"));
        p
    }

    pub fn write(&self, path: &str, text: &str) {
        std::fs::write(self.repo.path().join(path), text).unwrap();
    }

    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.repo.path().join(path)).unwrap();
    }

    /// A Sesam microservice system running the project's image.
    pub fn service(&self, id: &str, log_level: &str, memory_mib: u32) {
        self.sesam(id, memory_mib, &[("LOG_LEVEL", log_level)]);
    }

    /// A Sesam microservice system with this environment.
    pub fn sesam(&self, id: &str, memory_mib: u32, env: &[(&str, &str)]) {
        let image = &self.image;
        let env: serde_json::Map<String, Value> = env
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        let env = Value::Object(env);
        self.write(
            &format!("{id}.conf.json"),
            &format!(
                r#"{{
  "_id": "{id}",
  "type": "system:microservice",
  "docker": {{
    "image": "{image}",
    "port": 8080,
    "memory": {memory_mib},
    "skip_pull": true,
    "environment": {env}
  }}
}}
"#
            ),
        );
    }

    /// The names of the project's containers, sorted.
    pub fn containers(&self) -> Vec<String> {
        let label = format!("label=berth.project={}", self.name);
        let (names, _, _) = docker(&["ps", "-a", "--format", "{{.Names}}", "--filter", &label]);
        let mut names: Vec<String> = names.lines().map(String::from).collect();
        names.sort();
        names
    }

    pub fn berth(&self, args: &[&str]) -> (String, String, i32) {
        berth_in(self.repo.path(), self.state.path(), args)
    }

    pub fn plan(&self, extra: &[&str]) -> (String, i32) {
        let mut args = vec!["plan", "--detailed-exitcode"];
        args.extend_from_slice(extra);
        let (stdout, stderr, status) = self.berth(&args);
        assert!(status != 1 || !stderr.is_empty(), "an error says why");
        (stdout + &stderr, status)
    }

    /// The plan as JSON, checked against schemas/plan.schema.json.
    pub fn plan_json(&self) -> Value {
        self.plan_json_with(&[])
    }

    pub fn plan_json_with(&self, extra: &[&str]) -> Value {
        let mut args = vec!["plan", "--format", "json"];
        args.extend_from_slice(extra);
        let (stdout, stderr, _) = self.berth(&args);
        let plan: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
        let errors: Vec<String> = schema().iter_errors(&plan).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}\n{plan:#}");
        plan
    }

    pub fn apply(&self, extra: &[&str]) {
        let mut args = vec!["apply", "--auto-approve"];
        args.extend_from_slice(extra);
        let (stdout, stderr, status) = self.berth(&args);
        assert_eq!(status, 0, "{stdout}{stderr}");
    }

    pub fn container(&self, service: &str) -> String {
        format!("{}-{service}-0", self.name)
    }

    pub fn clean(&self) {
        let label = format!("label=berth.project={}", self.name);
        // Swarm objects first (these fail harmlessly when the engine is no swarm).
        for kind in ["service", "secret"] {
            let (ids, _, _) = docker(&[kind, "ls", "-q", "--filter", &label]);
            for id in ids.lines() {
                docker(&[kind, "rm", id]);
            }
        }
        let (ids, _, _) = docker(&["ps", "-aq", "--filter", &label]);
        for id in ids.lines().chain(self.others.iter().map(String::as_str)) {
            docker(&["rm", "-f", id]);
        }
        // By label: an engine may hold two networks of one name.
        let (networks, _, _) = docker(&["network", "ls", "-q", "--filter", &label]);
        for id in networks.lines() {
            // A removed Swarm service's tasks leave its overlay network a moment later.
            for _ in 0..40 {
                if docker(&["network", "rm", id]).2 == 0 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
        }
        for tag in &self.tags {
            docker(&["rmi", tag]);
        }
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        self.clean();
    }
}

/// `berth ARGS` run in the repository `repo` with the state directory `state`, without
/// colour: stdout, stderr and the exit code.
pub fn berth_in(repo: &Path, state: &Path, args: &[&str]) -> (String, String, i32) {
    output(
        crate::berth()
            .current_dir(repo)
            .env("BERTH_STATE_DIR", state)
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap(),
    )
}

pub fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| compile_schema("plan.schema.json"))
}

/// One of `schemas/`, compiled.
pub fn compile_schema(file: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas").join(file);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{file} is not a valid JSON Schema: {e}"))
}

pub fn actions(plan: &Value) -> Vec<(String, String)> {
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

pub fn pair(action: &str, container: &str) -> (String, String) {
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
    assert_eq!(change["source"], "web.conf.json:9:21");
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

    // A memory limit changed by hand (`docker update`) is drift no label shows: a plan
    // trusts the labels of a container whose spec is the desired one, as compose does;
    // `--inspect-all` finds it, and an apply with it puts the limit back in place.
    docker(&["update", "--memory", "96m", "--memory-swap", "96m", &worker]);
    assert!(actions(&p.plan_json()).is_empty());
    let json = p.plan_json_with(&["--inspect-all"]);
    assert_eq!(actions(&json), [pair("update", &worker)]);
    assert_eq!(json["steps"][0]["changes"][0]["from"], 96 << 20);
    // Saved with `--inspect-all`, the plan is applied with it (not stale for what only an
    // inspect shows).
    let saved = p.state.path().join("inspected.json");
    let saved = saved.to_str().unwrap();
    let (_, stderr, status) = p.berth(&["plan", "--inspect-all", "--out", saved]);
    assert_eq!(status, 0, "{stderr}");
    let (stdout, stderr, status) = p.berth(&["apply", saved, "--auto-approve"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert!(actions(&p.plan_json_with(&["--inspect-all"])).is_empty());

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
    for apply in [
        &["apply", "--auto-approve"][..],
        &["apply", "--auto-approve", "--prune"],
    ] {
        let (stdout, stderr, status) = p.berth(apply);
        assert_eq!(status, 1, "{stdout}{stderr}");
    }
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

/// What berth asks of the engine, read through a relay that logs every request: a plan
/// with nothing to do reads the project's own containers and network and the images,
/// and nothing else (no name list for clashes, no `docker info`, no version call: the
/// API version comes from the ping, as with the docker CLI); one with a change also
/// reads what could refuse it.
#[test]
fn a_plan_with_nothing_to_do_reads_only_the_projects_own_objects() {
    let p = Project::new("berth-it-reads");
    p.service("web", "info", 64);
    p.apply(&[]);
    let requests = |args: &[&str]| -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let relay = dir.path().join("docker.sock");
        let recorder = Recorder::start(&relay);
        let (stdout, stderr, status) = output(
            crate::berth()
                .current_dir(p.repo.path())
                .env("BERTH_STATE_DIR", p.state.path())
                .env("DOCKER_HOST", format!("unix://{}", relay.display()))
                .args(args)
                .output()
                .unwrap(),
        );
        assert!(status == 0 || status == 2, "{stdout}{stderr}");
        recorder.stop()
    };
    let listed = |requests: &[String], filter: &str| {
        requests
            .iter()
            .filter(|r| r.contains("/containers/json") && r.contains(filter))
            .count()
    };

    let noop = requests(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        noop.iter().filter(|r| r.starts_with("GET /_ping")).count(),
        1,
        "{noop:#?}"
    );
    assert_eq!(
        listed(&noop, "label"),
        1,
        "one list, by the project's label: {noop:#?}"
    );
    assert_eq!(listed(&noop, "%22name%22"), 0, "no list by name: {noop:#?}");
    for never in ["/version", "/info"] {
        assert!(!noop.iter().any(|r| r.contains(never)), "no {never}: {noop:#?}");
    }
    assert!(
        noop.iter().any(|r| r.contains("/images/")),
        "the image is resolved: {noop:#?}"
    );
    assert!(
        !noop
            .iter()
            .any(|r| r.contains("/containers/") && r.ends_with("/json")),
        "no inspect: {noop:#?}"
    );

    // A change reads what could refuse it: names that could clash, the engine's limits.
    p.service("worker", "info", 64);
    let change = requests(&["plan", "--detailed-exitcode"]);
    assert_eq!(listed(&change, "label"), 1, "{change:#?}");
    assert_eq!(listed(&change, "%22name%22"), 1, "{change:#?}");
    assert!(change.iter().any(|r| r.contains("/info")), "{change:#?}");
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

#[test]
fn a_tag_that_now_names_another_image_replaces() {
    let mut p = Project::new("berth-it-image");
    let tag = "berth-it-image:1";
    assert_eq!(docker(&["tag", IMAGE, tag]).2, 0);
    p.tags.push(tag.to_string());
    p.image = tag.to_string();
    p.service("web", "info", 64);
    p.apply(&[]);
    assert_eq!(p.plan(&[]).1, 0);

    // The same tag, a new image (a commit of the running container has a new ID).
    let (_, stderr, status) = docker(&["commit", &p.container("web"), tag]);
    assert_eq!(status, 0, "{stderr}");
    let json = p.plan_json();
    assert_eq!(actions(&json), [pair("replace", &p.container("web"))]);
    let change = &json["steps"][0]["changes"][0];
    assert_eq!(change["path"], "image-id");
    assert_ne!(change["from"], change["to"]);
}

/// A tool the test needs; `None` (and a note) when it is missing outside CI.
pub fn tool(name: &str) -> Option<()> {
    if Command::new(name).arg("-version").output().is_ok() {
        return Some(());
    }
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    crate::skip(&test, &format!("{name} is not installed"));
    None
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A helper process of a test — a relay from a loopback port to the engine's unix socket
/// (socat for plain tcp, stunnel for TLS), a registry — killed on drop.
pub struct Relay(std::process::Child);

/// The engine's unix socket.
fn socket() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(String::from))
        .unwrap_or_else(|| "/var/run/docker.sock".into())
}

impl Relay {
    pub fn start(mut command: Command) -> Relay {
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        Relay(child)
    }

    fn tcp(port: u16) -> Relay {
        let mut socat = Command::new("socat");
        socat
            .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"))
            .arg(format!("UNIX-CONNECT:{}", socket()));
        Relay::start(socat)
    }

    /// TLS that requires a client certificate signed by the CA in `certs`. (stunnel, not
    /// socat: socat's server fails the session resumption a TLS client may attempt.)
    fn tls(port: u16, certs: &Path) -> Relay {
        let c = |f: &str| certs.join(f).display().to_string();
        let config = format!(
            "foreground = yes\npid =\n[docker]\naccept = 127.0.0.1:{port}\nconnect = {}\ncert = {}\nkey = {}\nCAfile = {}\nverifyChain = yes\nrequireCert = yes\n",
            socket(),
            c("server-cert.pem"),
            c("server-key.pem"),
            c("ca.pem")
        );
        std::fs::write(certs.join("stunnel.conf"), config).unwrap();
        let mut stunnel = Command::new("stunnel");
        stunnel.arg(certs.join("stunnel.conf"));
        Relay::start(stunnel)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A relay from a unix socket of its own to the engine's that records the request line
/// (`GET /containers/json?…`) of every request passed through it.
struct Recorder {
    path: PathBuf,
    stopping: std::sync::Arc<std::sync::atomic::AtomicBool>,
    accepting: std::thread::JoinHandle<Vec<String>>,
}

impl Recorder {
    fn start(path: &Path) -> Recorder {
        use std::io::{Read, Write};
        use std::os::unix::net::{UnixListener, UnixStream};
        let listener = UnixListener::bind(path).unwrap();
        let stopping = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = stopping.clone();
        let accepting = std::thread::spawn(move || {
            let mut recording = Vec::new();
            for client in listener.incoming() {
                let Ok(mut client) = client else { break };
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let mut engine = UnixStream::connect(socket()).unwrap();
                let (mut to_client, mut from_engine) =
                    (client.try_clone().unwrap(), engine.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_engine, &mut to_client);
                    let _ = to_client.shutdown(std::net::Shutdown::Write);
                });
                // What the client sent, once it is done.
                recording.push(std::thread::spawn(move || {
                    let (mut buffer, mut sent) = ([0u8; 65536], Vec::new());
                    while let Ok(n) = client.read(&mut buffer) {
                        if n == 0 || engine.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                        sent.extend_from_slice(&buffer[..n]);
                    }
                    let _ = engine.shutdown(std::net::Shutdown::Write);
                    sent
                }));
            }
            let methods = ["GET ", "POST ", "HEAD ", "PUT ", "DELETE "];
            recording
                .into_iter()
                .flat_map(|r| {
                    let sent = r.join().unwrap();
                    String::from_utf8_lossy(&sent)
                        .split("\r\n")
                        .filter(|l| methods.iter().any(|m| l.starts_with(m)))
                        .map(|l| l.split(" HTTP/").next().unwrap().to_string())
                        .collect::<Vec<_>>()
                })
                .collect()
        });
        Recorder {
            path: path.to_path_buf(),
            stopping,
            accepting,
        }
    }

    /// Stops relaying; the request lines of every connection, once they have all ended.
    fn stop(self) -> Vec<String> {
        self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(std::os::unix::net::UnixStream::connect(&self.path));
        self.accepting.join().unwrap()
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl
/// into `dir` with the names the docker CLI expects (ca.pem, cert.pem, key.pem).
fn certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let (_, stderr, status) = output(
            Command::new("openssl")
                .current_dir(dir)
                .args(args)
                .output()
                .unwrap(),
        );
        assert_eq!(status, 0, "openssl {args:?}: {stderr}");
    };
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=berth-test-ca",
    ]);
    for (name, ext) in [("server", "server.ext"), ("client", "client.ext")] {
        let key = if name == "client" {
            "key.pem"
        } else {
            "server-key.pem"
        };
        let cert = if name == "client" {
            "cert.pem"
        } else {
            "server-cert.pem"
        };
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "1",
            "-extfile",
            ext,
        ]);
    }
}

/// The engine over plain tcp (berth.yaml's engine.host) and over tcp with TLS
/// (DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH, and berth.yaml's engine.tls).
#[test]
fn the_engine_is_reached_over_tcp_and_tls() {
    if tool("socat").and(tool("stunnel")).and(tool("openssl")).is_none() {
        return;
    }
    let p = Project::new("berth-it-tcp");
    p.service("web", "info", 64);
    let plan_via = |envs: &[(&str, &str)]| {
        let mut cmd = crate::berth();
        cmd.current_dir(p.repo.path())
            .env("BERTH_STATE_DIR", p.state.path())
            .env_remove("DOCKER_HOST")
            .arg("plan");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        output(cmd.output().unwrap())
    };

    let port = free_port();
    let _plain = Relay::tcp(port);
    p.write(
        "berth.yaml",
        &format!("project: berth-it-tcp\nengine:\n  host: tcp://127.0.0.1:{port}\n"),
    );
    let (stdout, stderr, status) = plan_via(&[]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("Plan: 1 to create"), "{stdout}");

    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    let port = free_port();
    let _tls = Relay::tls(port, certs.path());
    let host = format!("tcp://127.0.0.1:{port}");
    let cert_path = certs.path().display().to_string();
    let (stdout, stderr, status) = plan_via(&[
        ("DOCKER_HOST", &host),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", &cert_path),
    ]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("Plan: 1 to create"), "{stdout}");

    // Without TLS the relay refuses to talk: one line naming the address.
    let (_, stderr, status) = plan_via(&[("DOCKER_HOST", &host)]);
    assert_eq!(status, 1);
    assert!(
        stderr.starts_with(&format!("error: cannot reach the Docker engine at {host}"))
            && stderr.lines().count() == 1,
        "{stderr}"
    );

    // berth.yaml's engine.tls, relative to the repository.
    std::fs::create_dir(p.repo.path().join("certs")).unwrap();
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::copy(certs.path().join(f), p.repo.path().join("certs").join(f)).unwrap();
    }
    p.write(
        "berth.yaml",
        &format!("project: berth-it-tcp\nengine:\n  host: tcp://127.0.0.1:{port}\n  tls: {{ ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem }}\n"),
    );
    let (stdout, stderr, status) = plan_via(&[]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("Plan: 1 to create"), "{stdout}");
}

/// Networks are a scarce engine resource (about 30 with the default pools): a project
/// pruned to nothing removes its own network, last, and then has nothing left to do.
#[test]
fn a_project_pruned_to_nothing_leaves_no_network_behind() {
    let p = Project::new("berth-it-pruned");
    p.service("web", "info", 32);
    p.apply(&["--stable-for", "1s"]);
    let network = "berth-it-pruned-net";
    assert_eq!(docker(&["network", "inspect", network]).2, 0);
    p.remove("web.conf.json");
    let (text, status) = p.plan(&[]);
    assert_eq!(
        status, 1,
        "without prune, a folder with nothing to read is refused and everything stays: {text}"
    );
    assert!(text.contains("no COSMOS plugin.txt"), "{text}");
    let (text, status) = p.plan(&["--prune"]);
    assert_eq!(status, 2, "{text}");
    assert!(
        text.contains(&format!("# network {network} will be removed")),
        "{text}"
    );
    let (stdout, stderr, _) = p.berth(&["plan", "--prune", "--format", "json"]);
    let plan: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert!(schema().is_valid(&plan), "{plan:#}");
    assert_eq!(plan["remove_network"], network);
    p.apply(&["--prune"]);
    assert_ne!(docker(&["network", "inspect", network]).2, 0, "removed");
    assert!(p.containers().is_empty());
    assert_eq!(p.plan(&["--prune"]).1, 0, "nothing left to do");
}

/// A password-protected registry on loopback (Debian's `docker-registry`, users from
/// `htpasswd`), stopped on drop; `None` (and a skip) without the tools.
pub struct Registry {
    pub port: u16,
    dir: tempfile::TempDir,
    _process: Relay,
}

impl Registry {
    pub fn start(user: &str, password: &str) -> Option<Registry> {
        tool("docker-registry").and(tool("htpasswd"))?;
        let dir = tempfile::tempdir().unwrap();
        let path = |f: &str| dir.path().join(f).display().to_string();
        let (users, stderr, status) = output(
            Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .unwrap(),
        );
        assert_eq!(status, 0, "{stderr}");
        std::fs::write(path("htpasswd"), users).unwrap();
        let port = free_port();
        std::fs::write(
            path("config.yml"),
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: berth\n    path: {}\n",
                path("data"),
                path("htpasswd")
            ),
        )
        .unwrap();
        let mut registry = Command::new("docker-registry");
        registry.args(["serve", &path("config.yml")]);
        let process = Relay::start(registry);
        let r = Registry {
            port,
            dir,
            _process: process,
        };
        let (_, e, s) = r.cli(&["login", "-u", user, "-p", password, &format!("127.0.0.1:{port}")]);
        assert_eq!(s, 0, "login: {e}");
        Some(r)
    }

    /// The docker CLI logged in to this registry (its own config folder).
    pub fn cli(&self, args: &[&str]) -> (String, String, i32) {
        output(
            Command::new("docker")
                .env("DOCKER_CONFIG", self.dir.path().join("cli"))
                .args(args)
                .output()
                .unwrap(),
        )
    }

    /// Pushes the local image `local` as `name` here; the engine keeps no tag of it.
    pub fn push(&self, local: &str, name: &str) -> String {
        let remote = format!("127.0.0.1:{}/{name}", self.port);
        assert_eq!(docker(&["tag", local, &remote]).2, 0);
        let (_, e, s) = self.cli(&["push", &remote]);
        assert_eq!(s, 0, "push: {e}");
        assert_eq!(docker(&["rmi", &remote]).2, 0, "only the registry has it now");
        remote
    }
}
