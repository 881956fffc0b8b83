//! COSMOS plugins run as COSMOS runs them, on the real engine: the microservice's own
//! files rendered and placed at `/tmp/<NAME>`, WORK_DIR resolved against them, and — in
//! attached mode — its entry in a real Redis, read by COSMOS's own Python library
//! (`openc3` from PyPI, in an image built here by `images/openc3/build`) running
//! COSMOS's documented BackgroundMicroservice example from `../shared/examples`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::engine::{Project, docker, free_port};
use crate::git::git;
use crate::output;

/// The image with Debian, Redis and the `openc3` package, built once per machine (its
/// tag names the recipe); `None` when it cannot be built here (the test is skipped).
fn openc3_image() -> Option<&'static str> {
    static BUILT: OnceLock<Result<String, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        if Command::new("debootstrap").arg("--version").output().is_err() {
            return Err("debootstrap is not installed".into());
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("images/openc3/build");
        let (stdout, stderr, status) = output(Command::new("bash").arg(script).output().unwrap());
        // Debian's mirror or PyPI answering is this test's need, not berth's: a failure
        // to build says so and fails (tests/run makes sure both are reachable).
        assert_eq!(status, 0, "building the openc3 image: {stderr}");
        Ok(stdout.trim().to_string())
    });
    match built {
        Ok(tag) => Some(tag.as_str()),
        Err(why) => {
            let test = std::thread::current().name().unwrap_or("a test").to_string();
            crate::skip(&test, why);
            None
        }
    }
}

/// A Redis server in a container of the openc3 image, on `network` as `redis` and
/// published on loopback for berth; removed on drop.
struct Redis {
    container: String,
    port: u16,
}

impl Redis {
    fn start(image: &str, name: &str, network: &str, password: &str) -> Redis {
        docker(&["rm", "-f", name]);
        let port = free_port();
        let (_, stderr, status) = docker(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            network,
            "--network-alias",
            "redis",
            "-p",
            &format!("127.0.0.1:{port}:6379"),
            image,
            "redis-server",
            "--protected-mode",
            "no",
            "--save",
            "",
            "--requirepass",
            password,
        ]);
        assert_eq!(status, 0, "{stderr}");
        let redis = Redis {
            container: name.to_string(),
            port,
        };
        wait_for(Duration::from_secs(20), "Redis to answer", || {
            redis.cli(&["PING"]).contains("PONG").then_some(())
        });
        redis
    }

    /// `redis-cli` in the Redis container, authenticated.
    fn cli(&self, args: &[&str]) -> String {
        let mut all = vec![
            "exec",
            self.container.as_str(),
            "redis-cli",
            "--no-auth-warning",
            "-a",
            PASSWORD,
        ];
        all.extend_from_slice(args);
        docker(&all).0
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        docker(&["rm", "-f", &self.container]);
    }
}

const PASSWORD: &str = "redis-Pa55";

/// Polls `check` until it gives a value, or fails after `limit` naming what it waited for.
fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The container's log so far.
fn logs(container: &str) -> String {
    let (out, err, _) = docker(&["logs", container]);
    out + &err
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The project's own network, made by the test (berth joins it as `network.external`),
/// so that Redis is on it before berth starts anything.
fn network(p: &Project) -> String {
    let name = format!("{}-ext", p.name);
    docker(&["network", "rm", &name]);
    let label = format!("berth.project={}", p.name);
    let (_, stderr, status) = docker(&["network", "create", "--label", &label, &name]);
    assert_eq!(status, 0, "{stderr}");
    name
}

const NAME: &str = "DEFAULT__USER__BACKGROUND-MICROSERVICE";

/// A project `name` with the example plugin in `bg/`, its own network and a Redis on it
/// (removed with the project); the network's name.
fn background_project(name: &'static str, shared: &Path, image: &str) -> (Project, String, Redis) {
    let mut p = Project::new(name);
    let net = network(&p);
    let redis = Redis::start(image, &format!("{name}-redis"), &net, PASSWORD);
    p.others.push(redis.container.clone());
    copy_dir(
        &shared.join("examples/cosmos-background"),
        &p.repo.path().join("bg"),
    );
    std::fs::create_dir_all(p.repo.path().join("vault")).unwrap();
    (p, net, redis)
}

/// The entry COSMOS's library reads back for the example, and what the library itself
/// writes for the same block (a MicroserviceModel with the values COSMOS's parser
/// gives it), both without `updated_at`, as JSON.
fn entry_read_back(image: &str, network: &str) -> (Value, Value) {
    let script = format!(
        r#"
import json
from openc3.models.microservice_model import MicroserviceModel
read = MicroserviceModel.get(name="{NAME}", scope="DEFAULT")
own = MicroserviceModel(name="{NAME}", folder_name="BACKGROUND",
    cmd=["/openc3/python/.venv/bin/python", "background.py"], work_dir=".",
    options=[["PERIOD", "60"]], plugin="bg", scope="DEFAULT").as_json()
for e in (read, own):
    e.pop("updated_at")
print(json.dumps([read, own]))
"#
    );
    let (stdout, stderr, status) = docker(&[
        "run",
        "--rm",
        "--network",
        network,
        "-e",
        "OPENC3_REDIS_HOSTNAME=redis",
        "-e",
        &format!("OPENC3_REDIS_PASSWORD={PASSWORD}"),
        "-e",
        "OPENC3_REDIS_EPHEMERAL_HOSTNAME=redis",
        "-e",
        "OPENC3_REDIS_EPHEMERAL_PORT=6379",
        "-e",
        "OPENC3_NO_STORE=1",
        image,
        "/openc3/python/.venv/bin/python",
        "-c",
        &script,
    ]);
    assert_eq!(status, 0, "{stderr}");
    let line = stdout.lines().last().unwrap_or_default();
    let both: Vec<Value> = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
    (both[0].clone(), both[1].clone())
}

#[test]
fn the_background_example_runs_under_berth_as_under_cosmos() {
    let Some(shared) = crate::shared_dir("the_background_example_runs_under_berth_as_under_cosmos") else {
        return;
    };
    let Some(image) = openc3_image() else { return };
    let (p, net, redis) = background_project("berth-it-cosmos-bg", &shared, image);
    p.write("vault/redis_pw", PASSWORD);
    p.write(
        "berth.yaml",
        &format!(
            "project: {}\nnetwork:\n  external: {net}\nsecrets:\n  providers:\n    - {{ type: dir, path: vault }}\ncosmos:\n  image: {image}\n  redis:\n    url: redis://127.0.0.1:{}\n    password: $SECRET(redis_pw)\n  env:\n    OPENC3_REDIS_HOSTNAME: redis\n    OPENC3_REDIS_PORT: 6379\n    OPENC3_REDIS_EPHEMERAL_HOSTNAME: redis\n    OPENC3_REDIS_EPHEMERAL_PORT: 6379\n",
            p.name, redis.port
        ),
    );
    let container = format!("{}-{NAME}-0", p.name);

    // The plan shows the entry with the service; the apply writes it before the start.
    let plan = p.plan_json();
    assert_eq!(
        plan["cosmos_entries"]["write"],
        serde_json::json!([NAME]),
        "{plan:#}"
    );
    p.apply(&["--stable-for", "3s"]);
    let log = wait_for(Duration::from_secs(60), "the microservice to run", || {
        let log = logs(&container);
        log.contains("BackgroundMicroservice ran").then_some(log)
    });
    assert!(log.contains("Microservice initialized with config"), "{log}");
    // Stopped as the operator stops it: SIGINT, a kill 5 s later.
    let (stop, _, _) = docker(&[
        "inspect",
        "-f",
        "{{.Config.StopSignal}} {{.Config.StopTimeout}}",
        &container,
    ]);
    assert_eq!(stop.trim(), "SIGINT 5");
    assert!(log.contains("'options': [['PERIOD', '30']]"), "{log}");
    assert_eq!(p.plan(&[]).1, 0, "converged: {}", p.plan(&[]).0);
    // A no-op plan reads Redis in one call.
    redis.cli(&["CONFIG", "RESETSTAT"]);
    assert_eq!(p.plan(&[]).1, 0);
    let stats = redis.cli(&["INFO", "commandstats"]);
    let calls = |command: &str| {
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
            .and_then(|rest| rest.split(',').next()?.parse::<u32>().ok())
            .unwrap_or(0)
    };
    assert_eq!((calls("evalsha"), calls("script|load")), (1, 0), "{stats}");

    // A changed OPTION replaces the service, and the new value is what it reads.
    let plugin = p.repo.path().join("bg/plugin.txt");
    let text = std::fs::read_to_string(&plugin).unwrap();
    std::fs::write(&plugin, text.replace("PERIOD 30", "PERIOD 60")).unwrap();
    let (plan, status) = p.plan(&[]);
    assert_eq!(status, 2, "{plan}");
    assert!(plan.contains("must be replaced"), "{plan}");
    assert!(
        plan.contains(r#"cosmos.options: [["PERIOD","30"]] → [["PERIOD","60"]] # forces replacement"#),
        "{plan}"
    );
    p.apply(&["--stable-for", "3s"]);
    wait_for(Duration::from_secs(60), "the new period to be read", || {
        logs(&container)
            .contains("'options': [['PERIOD', '60']]")
            .then_some(())
    });

    // What berth wrote is what COSMOS's own library writes for the block.
    let (read, own) = entry_read_back(image, &net);
    assert_eq!(read, own, "berth's entry against the library's own");
    let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(&read), keys(&own), "and in the same order");

    // A saved plan is bound to what Redis held: a change there makes it stale.
    let option = std::fs::read_to_string(&plugin).unwrap();
    std::fs::write(&plugin, option.replace("PERIOD 60", "PERIOD 61")).unwrap();
    assert_eq!(p.berth(&["plan", "--out", "saved.json"]).2, 0);
    redis.cli(&[
        "HSET",
        "berth__openc3_microservices",
        "DEFAULT__USER__SOMEONE",
        "{}",
    ]);
    let unrelated = p.berth(&["apply", "saved.json", "--stable-for", "1s"]);
    assert_eq!(
        unrelated.2, 0,
        "another name's record is not the plan's business: {unrelated:?}"
    );
    std::fs::write(&plugin, option).unwrap();
    assert_eq!(p.berth(&["plan", "--out", "saved.json"]).2, 0);
    let entry = redis.cli(&["HGET", "openc3_microservices", NAME]);
    redis.cli(&[
        "HSET",
        "openc3_microservices",
        NAME,
        entry.trim().replace("\"61\"", "\"62\"").as_str(),
    ]);
    let (stdout, stderr, status) = p.berth(&["apply", "saved.json"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(stderr.contains("COSMOS's entries in Redis changed"), "{stderr}");
    p.apply(&["--stable-for", "1s"]);

    // Someone changes the entry in Redis: the plan rewrites it and restarts the program.
    let changed = redis
        .cli(&["HGET", "openc3_microservices", NAME])
        .replace("\"60\"", "\"5\"");
    redis.cli(&["HSET", "openc3_microservices", NAME, changed.trim()]);
    let (plan, status) = p.plan(&[]);
    assert_eq!(status, 2, "{plan}");
    assert!(
        plan.contains("redis: \"changed in Redis since berth wrote it\""),
        "{plan}"
    );
    p.apply(&["--stable-for", "1s"]);
    assert_eq!(p.plan(&[]).1, 0);

    // An entry berth did not write is never touched; pruning removes only berth's own.
    redis.cli(&["HSET", "openc3_microservices", "DEFAULT__USER__OTHER", "{}"]);
    std::fs::remove_dir_all(p.repo.path().join("bg")).unwrap();
    let (plan, status) = p.plan(&["--prune"]);
    assert_eq!(status, 2, "{plan}");
    assert!(
        plan.contains(&format!("COSMOS entry {NAME} will be removed from Redis")),
        "{plan}"
    );
    p.apply(&["--prune"]);
    assert_eq!(redis.cli(&["HEXISTS", "openc3_microservices", NAME]).trim(), "0");
    assert_eq!(
        redis
            .cli(&["HEXISTS", "berth__openc3_microservices", NAME])
            .trim(),
        "0"
    );
    assert_eq!(
        redis
            .cli(&["HGET", "openc3_microservices", "DEFAULT__USER__OTHER"])
            .trim(),
        "{}"
    );
    assert!(p.containers().is_empty());
}

#[test]
fn redis_problems_are_plan_errors_that_apply_nothing() {
    let Some(shared) = crate::shared_dir("redis_problems_are_plan_errors_that_apply_nothing") else {
        return;
    };
    let Some(image) = openc3_image() else { return };
    let (p, net, redis) = background_project("berth-it-cosmos-refuse", &shared, image);
    let config = |port: u16, password: &str| {
        p.write("vault/redis_pw", password);
        p.write(
            "berth.yaml",
            &format!(
                "project: {}\nnetwork:\n  external: {net}\nsecrets:\n  providers:\n    - {{ type: dir, path: vault }}\ncosmos:\n  image: {image}\n  redis:\n    url: redis://127.0.0.1:{port}\n    password: $SECRET(redis_pw)\n",
                p.name
            ),
        );
    };
    let refused = |why: &str, hint: &str| {
        for command in [&["plan"][..], &["apply", "--auto-approve"]] {
            let (stdout, stderr, status) = p.berth(command);
            assert_eq!(status, 1, "{command:?}: {stdout}{stderr}");
            assert!(
                stderr.contains(why) && stderr.contains(hint),
                "{command:?}: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
        assert!(p.containers().is_empty(), "nothing applied");
    };

    config(free_port(), PASSWORD);
    refused(
        "cannot connect to COSMOS's Redis at redis://127.0.0.1:",
        "is Redis running",
    );
    config(redis.port, "not-the-password");
    refused(
        "cannot connect to COSMOS's Redis",
        "Redis refused berth's credentials",
    );
    config(redis.port, PASSWORD);
    redis.cli(&["HSET", "openc3_microservices", NAME, "{\"name\":\"theirs\"}"]);
    refused("berth did not write it", "remove it from COSMOS first");
    assert_eq!(
        redis.cli(&["HGET", "openc3_microservices", NAME]).trim(),
        "{\"name\":\"theirs\"}",
        "nothing overwritten"
    );
}

/// A plugin tree with two MICROSERVICEs of one folder-per-service each, exercising
/// every rule of the install's rendering.
fn write_plugin(p: &Project, app_image: &str) {
    let plugin = format!(
        "VARIABLE period 30\nMICROSERVICE APP app\n  CMD ./run.sh\n  CONTAINER {app_image}\n  OPTION PERIOD <%= period %>\n  DISABLE_ERB \\.tmpl$\nMICROSERVICE OTHER other\n  WORK_DIR bin\n  CMD sh start.sh\n"
    );
    let files: &[(&str, &[u8])] = &[
        ("plugin.txt", plugin.as_bytes()),
        (
            "microservices/APP/run.sh",
            b"#!/bin/sh\necho \"rendered: <%= microservice_name %> <%= period %>\"\necho \"pwd: $(pwd)\"\nexec sleep 1000\n",
        ),
        ("microservices/APP/conf/_raw.txt", b"<%= period %>\n"),
        ("microservices/APP/page.tmpl", b"<%= period %>\n"),
        ("microservices/APP/data.bin", b"\x00\x01<%= period %>"),
        ("microservices/OTHER/bin/start.sh", b"echo \"other in $(pwd)\"\nexec sleep 1000\n"),
    ];
    for (path, content) in files {
        let path = p.repo.path().join("plugin").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

#[test]
fn a_microservice_gets_its_folder_rendered_and_one_file_edit_replaces_only_it() {
    let Some(image) = openc3_image() else { return };
    let mut p = Project::new("berth-it-cosmos-files");
    // The program of APP runs as a user of its own, as an image may say.
    let nobody = format!("{}:nobody", p.name);
    let (_, stderr, status) = output(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "printf 'FROM {image}\\nUSER nobody\\n' | docker build -q -t {nobody} -"
            ))
            .output()
            .unwrap(),
    );
    assert_eq!(status, 0, "{stderr}");
    p.tags.push(nobody.clone());
    p.write(
        "berth.yaml",
        &format!("project: {}\ncosmos:\n  image: {image}\n", p.name),
    );
    write_plugin(&p, &nobody);
    let app = format!("{}-DEFAULT__USER__APP-0", p.name);
    let other = format!("{}-DEFAULT__USER__OTHER-0", p.name);
    p.apply(&["--stable-for", "1s"]);
    let base = "/tmp/DEFAULT__USER__APP";
    let cat = |path: &str| docker(&["exec", &app, "cat", path]).0;
    assert_eq!(
        cat(&format!("{base}/conf/_raw.txt")),
        "<%= period %>\n",
        "a `_` file is raw"
    );
    assert_eq!(
        cat(&format!("{base}/page.tmpl")),
        "<%= period %>\n",
        "DISABLE_ERB"
    );
    assert_eq!(
        cat(&format!("{base}/data.bin")),
        "\u{0}\u{1}<%= period %>",
        "not text: raw"
    );
    let log = wait_for(Duration::from_secs(20), "the program's output", || {
        let log = logs(&app);
        log.contains("pwd:").then_some(log)
    });
    assert!(log.contains("rendered: DEFAULT__USER__APP 30"), "{log}");
    assert!(
        log.contains(&format!("pwd: {base}")),
        "WORK_DIR is the files' folder: {log}"
    );
    assert!(
        wait_for(Duration::from_secs(20), "the other program", || {
            let log = logs(&other);
            log.contains("other in").then_some(log)
        })
        .contains("other in /tmp/DEFAULT__USER__OTHER/bin"),
        "a relative WORK_DIR is joined to the files' folder"
    );
    // The program COSMOS makes executable is; the files are the program's own.
    let (stat, _, _) = docker(&[
        "exec",
        &app,
        "stat",
        "-c",
        "%a %U",
        &format!("{base}/run.sh"),
        &format!("{base}/page.tmpl"),
        base,
    ]);
    assert_eq!(
        stat.lines().collect::<Vec<_>>(),
        ["777 nobody", "644 nobody", "755 nobody"],
        "{stat}"
    );
    // Standalone, the entry COSMOS would keep in Redis is in a variable.
    let (env, _, _) = docker(&["exec", &app, "printenv", "BERTH_COSMOS_ENTRY"]);
    let entry: Value = serde_json::from_str(&env).unwrap_or_else(|e| panic!("{e}: {env}"));
    assert_eq!(entry["options"], serde_json::json!([["PERIOD", "30"]]));
    assert_eq!(p.plan(&[]).1, 0, "converged");

    // One edited file: exactly its service is replaced, and the plan names the file.
    let page = p.repo.path().join("plugin/microservices/APP/page.tmpl");
    std::fs::write(&page, "edited\n").unwrap();
    let plan = p.plan_json();
    let steps: Vec<(String, String)> = crate::engine::actions(&plan);
    assert_eq!(steps, [crate::engine::pair("replace", &app)], "{plan:#}");
    let change = &plan["steps"][0]["changes"][0];
    assert_eq!(change["path"], format!("files.{base}/page.tmpl"), "{plan:#}");
    assert!(
        change["source"]
            .as_str()
            .unwrap_or_default()
            .ends_with("plugin/microservices/APP/page.tmpl:1:1"),
        "{change}"
    );
    p.apply(&["--stable-for", "1s"]);
    assert_eq!(cat(&format!("{base}/page.tmpl")), "edited\n");

    // From a git commit: the same files, and the commit that changed the file is named.
    let repo = p.repo.path();
    git(repo, &["init", "-q"]);
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "the plugin"]);
    let (out, err, status) = p.berth(&["apply", "--auto-approve", "--repo", ".", "--stable-for", "1s"]);
    assert_eq!(status, 0, "{out}{err}");
    std::fs::write(&page, "from git\n").unwrap();
    std::fs::write(
        p.repo.path().join("plugin/microservices/OTHER/bin/start.sh"),
        "uncommitted\n",
    )
    .unwrap();
    git(
        repo,
        &[
            "commit",
            "-q",
            "-m",
            "a new page",
            "--",
            "plugin/microservices/APP/page.tmpl",
        ],
    );
    let (plan, stderr, status) = p.berth(&["plan", "--repo", ".", "--detailed-exitcode"]);
    assert_eq!(status, 2, "{plan}{stderr}");
    assert!(plan.contains(&format!("files.{base}/page.tmpl")), "{plan}");
    assert!(plan.contains("\"a new page\""), "the commit is named: {plan}");
    assert!(
        !plan.contains(&other),
        "a file changed only in the working tree is not read: {plan}"
    );
}
