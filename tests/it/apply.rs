//! `berth apply` on the real engine: it converges and then writes nothing, survives
//! SIGKILL at any point, keeps the old container when a replacement fails, runs one at
//! a time per project, applies a saved plan only while it is fresh, delivers secrets
//! only to the container, builds and loads images locally, and never prunes from a
//! broken configuration. Also the README's quick start, run as written.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::{IMAGE, Project, actions, docker, free_port, label, pair};
use crate::output;

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Runs `berth apply --auto-approve` with `extra`; its output and exit code.
fn apply(p: &Project, extra: &[&str]) -> (String, i32) {
    let mut args = vec!["apply", "--auto-approve"];
    args.extend_from_slice(extra);
    let (stdout, stderr, status) = p.berth(&args);
    (stdout + &stderr, status)
}

/// What the engine did to the project's containers between two instants.
fn events(p: &Project, since: u64, until: u64) -> Vec<String> {
    let (out, stderr, status) = docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        &format!("label=berth.project={}", p.name),
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert_eq!(status, 0, "{stderr}");
    out.lines().map(String::from).collect()
}

/// The canonical names of `n` services `s0..` of project `p`.
fn names(p: &Project, n: usize) -> Vec<String> {
    let mut names: Vec<String> = (0..n).map(|i| p.container(&format!("s{i}"))).collect();
    names.sort();
    names
}

#[test]
fn apply_converges_and_a_second_apply_writes_nothing() {
    let p = Project::new("berth-it-idem");
    for i in 0..3 {
        p.service(&format!("s{i}"), "info", 32);
    }
    let (out, status) = apply(&p, &["--stable-for", "1s"]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("Apply complete: 3 created."), "{out}");
    assert_eq!(p.plan(&[]).1, 0, "nothing left to do");
    assert_eq!(p.containers(), names(&p, 3));

    // Docker's event clock has whole seconds: start on a fresh one, end after one more.
    std::thread::sleep(Duration::from_millis(1100));
    let since = now();
    let (out, status) = apply(&p, &[]);
    assert_eq!(
        (out.trim(), status),
        ("No changes. The engine matches the configuration.", 0)
    );
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        events(&p, since, now()),
        Vec::<String>::new(),
        "no write reached the engine"
    );

    // A change shows up as events, so the check above can see them.
    p.service("s1", "debug", 32);
    let since = now();
    assert_eq!(apply(&p, &["--stable-for", "1s"]).1, 0);
    std::thread::sleep(Duration::from_millis(1100));
    assert!(
        events(&p, since, now())
            .iter()
            .any(|e| e.starts_with("container create"))
    );
}

/// Starts an apply and kills it with SIGKILL after `lines` finished steps (0: as soon as
/// it starts executing).
fn kill_apply_after(p: &Project, lines: usize) {
    let mut child = crate::berth()
        .current_dir(p.repo.path())
        .env("BERTH_STATE_DIR", p.state.path())
        .args([
            "apply",
            "--auto-approve",
            "--parallelism",
            "3",
            "--stable-for",
            "2s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The plan is printed before any step runs: the end of stdout marks the start.
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = 0;
    while seen < lines {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.contains(" done (") || line.contains(" FAILED (") {
            seen += 1;
        }
    }
    if lines == 0 {
        std::thread::sleep(Duration::from_millis(300));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// Kill berth at six points: three while creating ten services from nothing, three while
/// replacing all ten. Each time the next apply converges, with exactly the ten
/// containers left: no duplicate, temporary or orphaned one.
#[test]
fn an_apply_killed_at_any_point_is_finished_by_the_next() {
    let p = Project::new("berth-it-kill");
    for (round, kill_after) in [0, 2, 5, 0, 1, 4].into_iter().enumerate() {
        if round < 3 {
            p.clean();
        }
        for i in 0..10 {
            p.service(&format!("s{i}"), &format!("v{round}"), 32);
        }
        kill_apply_after(&p, kill_after);
        let (out, status) = apply(&p, &["--stable-for", "1s", "--parallelism", "8"]);
        assert_eq!(status, 0, "after a kill in round {round}: {out}");
        assert_eq!(p.plan(&[]).1, 0, "converged after a kill in round {round}");
        assert_eq!(p.containers(), names(&p, 10), "round {round}");
    }
}

#[test]
fn a_replacement_that_fails_leaves_the_old_container_running() {
    let p = Project::new("berth-it-fail");
    p.service("web", "info", 32);
    assert_eq!(apply(&p, &["--stable-for", "1s"]).1, 0);
    let web = p.container("web");
    let id = || docker(&["inspect", "-f", "{{.Id}} {{.State.Running}}", &web]).0;
    let before = id();

    // The new container exits at once: it never passes "stays up".
    p.sesam("web", 32, &[("LOG_LEVEL", "debug"), ("BERTH_DEMO_EXIT", "3")]);
    let (out, status) = apply(&p, &["--stable-for", "1s"]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("the old container was left running"), "{out}");
    // Its exit code, even when the engine's restart policy had restarted it by then.
    assert!(out.contains("exited (code 3"), "says why: {out}");
    assert_eq!(id(), before, "the same container, still running");
    assert_eq!(
        p.containers(),
        std::slice::from_ref(&web),
        "the failed replacement is gone"
    );
    assert_eq!(actions(&p.plan_json()), [pair("replace", &web)], "still to do");
}

#[test]
fn a_replacement_that_fails_its_probe_leaves_the_old_container_running() {
    let p = Project::new("berth-it-probe");
    p.write(
        "berth.yaml",
        &format!("project: berth-it-probe\ncumulocity:\n  images:\n    \"probed:1.0.0\": \"{IMAGE}\"\n"),
    );
    let manifest = |path: &str| {
        format!(
            r#"{{ "apiVersion": "2", "name": "probed", "version": "1.0.0", "provider": {{ "name": "berth" }},
  "isolation": "MULTI_TENANT",
  "livenessProbe": {{ "httpGet": {{ "path": "{path}", "port": 80 }}, "periodSeconds": 1, "failureThreshold": 2 }},
  "readinessProbe": {{ "httpGet": {{ "path": "{path}", "port": 80 }}, "periodSeconds": 1, "failureThreshold": 2 }} }}"#
        )
    };
    p.write("cumulocity.json", &manifest("/health"));
    let (out, status) = apply(&p, &[]);
    assert_eq!(status, 0, "the probe passes: {out}");
    let probed = p.container("probed");
    let before = docker(&["inspect", "-f", "{{.Id}}", &probed]).0;

    p.write("cumulocity.json", &manifest("/missing"));
    let (out, status) = apply(&p, &[]);
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains("its probe failed 2 time(s)") && out.contains("404"),
        "{out}"
    );
    assert_eq!(docker(&["inspect", "-f", "{{.Id}}", &probed]).0, before);
    assert_eq!(p.containers(), [probed]);
}

/// An exec probe runs inside the container (docker exec): the demo image checks itself.
#[test]
fn an_exec_probe_runs_in_the_container() {
    let p = Project::new("berth-it-exec");
    p.write(
        "berth.yaml",
        &format!("project: berth-it-exec\ncumulocity:\n  images:\n    \"checked:1.0.0\": \"{IMAGE}\"\n"),
    );
    let manifest = |check: &str| {
        format!(
            r#"{{ "apiVersion": "2", "name": "checked", "version": "1.0.0", "provider": {{ "name": "berth" }},
  "isolation": "MULTI_TENANT",
  "readinessProbe": {{ "exec": {{ "command": ["/berth-demo", "{check}"] }}, "periodSeconds": 1, "failureThreshold": 2 }},
  "livenessProbe": {{ "exec": {{ "command": ["/berth-demo", "{check}"] }}, "periodSeconds": 1, "failureThreshold": 2 }} }}"#
        )
    };
    p.write("cumulocity.json", &manifest("--check"));
    let (out, status) = apply(&p, &[]);
    assert_eq!(status, 0, "the probe passes: {out}");
    let checked = p.container("checked");
    let before = docker(&["inspect", "-f", "{{.Id}}", &checked]).0;

    p.write("cumulocity.json", &manifest("--check-fails"));
    let (out, status) = apply(&p, &[]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("`/berth-demo --check-fails` exited with 1"), "{out}");
    assert_eq!(docker(&["inspect", "-f", "{{.Id}}", &checked]).0, before);
    assert_eq!(p.containers(), [checked]);
}

#[test]
fn applies_of_one_project_run_one_at_a_time() {
    let p = Project::new("berth-it-lock");
    for i in 0..3 {
        p.service(&format!("s{i}"), "info", 32);
    }
    let mut first = crate::berth()
        .current_dir(p.repo.path())
        .env("BERTH_STATE_DIR", p.state.path())
        .args(["apply", "--auto-approve", "--stable-for", "4s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Its plan is printed while it holds the lock.
    let mut line = String::new();
    BufReader::new(first.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();

    let (out, status) = apply(&p, &["--lock-timeout", "0s"]);
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains(&format!("(pid {})", first.id())) && out.contains("is being applied"),
        "names the holder: {out}"
    );

    // A patient one waits, then finds nothing to do; the engine was never shared.
    let (out, status) = apply(&p, &["--lock-timeout", "60s"]);
    assert_eq!(
        (out.trim(), status),
        ("No changes. The engine matches the configuration.", 0)
    );
    assert!(first.wait().unwrap().success());
    assert_eq!(p.containers(), names(&p, 3));
}

#[test]
fn a_saved_plan_is_applied_only_while_fresh() {
    let p = Project::new("berth-it-saved");
    p.service("web", "info", 32);
    let saved = p.state.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    assert_eq!(p.berth(&["plan", "--out", saved]).2, 0);
    p.service("web", "debug", 32);
    let (stdout, stderr, status) = p.berth(&["apply", saved]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("the saved plan is stale: the configuration changed"),
        "{stderr}"
    );
    assert!(p.containers().is_empty(), "nothing applied");

    assert_eq!(p.berth(&["plan", "--out", saved]).2, 0);
    let (stdout, stderr, status) = p.berth(&["apply", saved, "--stable-for", "1s"]);
    assert_eq!(status, 0, "a saved plan needs no approval: {stdout}{stderr}");
    assert_eq!(p.plan(&[]).1, 0);
    // The engine changed since: stale too.
    assert_eq!(p.berth(&["plan", "--out", saved]).2, 0);
    docker(&["stop", "-t", "1", &p.container("web")]);
    let (_, stderr, status) = p.berth(&["apply", saved]);
    assert_eq!(status, 1);
    assert!(
        stderr.contains("the engine's containers changed") && stderr.contains("now planned: start"),
        "{stderr}"
    );
}

#[test]
fn without_a_terminal_apply_asks_for_auto_approve() {
    let p = Project::new("berth-it-ask");
    p.service("web", "info", 32);
    let (_, stderr, status) = p.berth(&["apply"]);
    assert_eq!(status, 1);
    assert!(
        stderr.contains("no terminal to ask for approval") && stderr.contains("--auto-approve"),
        "{stderr}"
    );
    assert!(p.containers().is_empty());
}

/// On a terminal (a pty from `script`), apply shows the plan and asks; only `yes` applies.
#[test]
fn on_a_terminal_apply_asks_and_only_yes_applies() {
    if crate::engine::tool("script").is_none() {
        return;
    }
    let p = Project::new("berth-it-prompt");
    p.service("web", "info", 32);
    let answer = |text: &str| {
        let command = format!("{} apply --stable-for 0s", env!("CARGO_BIN_EXE_berth"));
        let mut child = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .current_dir(p.repo.path())
            .env("BERTH_STATE_DIR", p.state.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{text}\n").as_bytes())
            .unwrap();
        output(child.wait_with_output().unwrap())
    };
    let (out, _, status) = answer("no");
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains("Only 'yes' will be accepted") && out.contains("Apply cancelled."),
        "{out}"
    );
    assert!(p.containers().is_empty());
    let (out, _, status) = answer("yes");
    assert_eq!(status, 0, "{out}");
    assert_eq!(p.containers(), [p.container("web")]);
}

#[test]
fn secrets_reach_the_container_and_nothing_else() {
    let p = Project::new("berth-it-secrets");
    p.write(
        "berth.yaml",
        &format!("project: berth-it-secrets\ncosmos:\n  image: {IMAGE}\nsecrets:\n  providers:\n    - {{ type: dir, path: vault }}\n"),
    );
    std::fs::create_dir(p.repo.path().join("vault")).unwrap();
    p.write("vault/api-key", "k3y-VALUE-1\n");
    p.write("vault/cert", "CERT-VALUE-2");
    p.write(
        "plugin.txt",
        "MICROSERVICE S secure\n  CMD /berth-demo\n  SECRET ENV api-key API_KEY\n  SECRET FILE cert /run/secrets/cert.pem\n",
    );
    let (out, status) = apply(&p, &["--stable-for", "1s"]);
    assert_eq!(status, 0, "{out}");
    assert!(
        !out.contains("k3y-VALUE-1") && !out.contains("CERT-VALUE-2"),
        "{out}"
    );
    let name = p.container("DEFAULT__USER__SECURE");
    let (file, _, status) = output(
        Command::new("bash")
            .arg("-c")
            .arg(format!("docker cp {name}:/run/secrets/cert.pem - | tar -xO"))
            .output()
            .unwrap(),
    );
    assert_eq!((file.as_str(), status), ("CERT-VALUE-2", 0));
    let (env, _, _) = docker(&[
        "inspect",
        "-f",
        "{{range .Config.Env}}{{println .}}{{end}}",
        &name,
    ]);
    assert!(env.lines().any(|l| l == "API_KEY=k3y-VALUE-1"), "{env}");
    let (labels, _, _) = docker(&["inspect", "-f", "{{json .Config.Labels}}", &name]);
    assert!(!labels.contains("VALUE"), "labels hold digests only: {labels}");
    let (plan, _, _) = p.berth(&["plan", "--format", "json"]);
    assert!(!plan.contains("VALUE"));

    // A new secret value replaces the container (its digest changed).
    p.write("vault/cert", "CERT-VALUE-3");
    let json = p.plan_json();
    assert_eq!(actions(&json), [pair("replace", &name)]);
    assert_eq!(
        json["steps"][0]["changes"][0]["path"],
        "secret_files./run/secrets/cert.pem"
    );
}

#[test]
fn images_are_built_and_loaded_without_a_registry() {
    let mut p = Project::new("berth-it-images");
    // A build context, and an archive of an image that is then removed.
    std::fs::create_dir(p.repo.path().join("ctx")).unwrap();
    p.write(
        "ctx/Dockerfile",
        &format!("FROM {IMAGE}\nLABEL built-by=berth-it\n"),
    );
    let archive = p.repo.path().join("loaded.tar");
    assert_eq!(docker(&["tag", IMAGE, "berth-it-loaded:1"]).2, 0);
    assert_eq!(
        docker(&["save", "-o", archive.to_str().unwrap(), "berth-it-loaded:1"]).2,
        0
    );
    assert_eq!(docker(&["rmi", "berth-it-loaded:1"]).2, 0);
    p.tags = vec!["berth-it-built:1".into(), "berth-it-loaded:1".into()];
    p.write(
        "berth.yaml",
        "project: berth-it-images\nimages:\n  - { name: \"berth-it-built:1\", build: { context: ctx } }\n  - { name: \"berth-it-loaded:1\", load: loaded.tar }\n",
    );
    p.image = "berth-it-built:1".into();
    p.service("built", "info", 32);
    p.image = "berth-it-loaded:1".into();
    p.service("loaded", "info", 32);

    let (out, status) = apply(&p, &["--stable-for", "1s"]);
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains("image berth-it-built:1: building") && out.contains("image berth-it-loaded:1: loading"),
        "{out}"
    );
    assert_eq!(label(&p.container("built"), "built-by"), "berth-it");
    assert_eq!(p.plan(&[]).1, 0, "the hash names the image that was built");
}

#[test]
fn a_broken_configuration_never_prunes() {
    let p = Project::new("berth-it-prune");
    p.service("alpha", "info", 32);
    p.service("beta", "info", 32);
    assert_eq!(apply(&p, &["--stable-for", "1s"]).1, 0);
    p.write(
        "beta.conf.json",
        "{ \"_id\": \"beta\", \"type\": \"system:microservice\", ",
    );
    p.remove("alpha.conf.json");
    let (out, status) = apply(&p, &["--prune"]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("nothing was planned"), "{out}");
    assert_eq!(p.containers(), names_of(&p, &["alpha", "beta"]));

    // Fixed: now a removed service is pruned, and only with --prune.
    p.service("beta", "info", 32);
    assert_eq!(apply(&p, &[]).1, 0);
    assert_eq!(p.containers().len(), 2, "kept without --prune");
    assert_eq!(apply(&p, &["--prune"]).1, 0);
    assert_eq!(p.containers(), names_of(&p, &["beta"]));
}

fn names_of(p: &Project, services: &[&str]) -> Vec<String> {
    services.iter().map(|s| p.container(s)).collect()
}

/// `GET /health` from this process; the status line.
fn health(address: &str, port: u16) -> String {
    let mut stream = TcpStream::connect((address, port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET /health HTTP/1.0\r\n\r\n").unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.lines().next().unwrap_or_default().to_string()
}

/// The README's quick start, as written: one command brings the example fleet up, and
/// every running service answers its health endpoint. It runs as a project of its own,
/// on a free host port, so that a fleet a user brought up with the same command is
/// neither in its way nor touched.
#[test]
fn the_example_fleet_comes_up_with_one_command() {
    const PROJECT: &str = "berth-it-quickstart";
    let _engine = crate::engine::ENGINE.read().unwrap_or_else(|e| e.into_inner());
    let label = format!("label=berth.project={PROJECT}");
    let remove = || {
        let (ids, _, _) = docker(&["ps", "-aq", "--filter", &label]);
        for id in ids.lines() {
            docker(&["rm", "-f", id]);
        }
        docker(&["network", "rm", &format!("{PROJECT}-net")]);
    };
    remove(); // leftovers of a killed run
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let up = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fleet/up");
    let result = output(
        Command::new("bash")
            .arg(up)
            .args(["--project", PROJECT, "--var", &format!("decoder_port={port}")])
            .env("BERTH_STATE_DIR", state.path())
            .output()
            .unwrap(),
    );
    let check = || -> Result<(), String> {
        let (stdout, stderr, status) = &result;
        if *status != 0 {
            return Err(format!("up failed: {stdout}{stderr}"));
        }
        let running = [
            ("DEFAULT__USER__DECODER-0", port),
            ("telemetry-bridge-0", 80),
            ("telemetry-bridge-1", 80),
            ("orders-sync-0", 8080),
        ];
        for (name, port) in running {
            let name = format!("{PROJECT}-{name}");
            let (ip, _, _) = docker(&[
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                &name,
            ]);
            let status = health(ip.trim(), port);
            if !status.contains("200") {
                return Err(format!("{name}: {status}"));
            }
        }
        let relay = format!("{PROJECT}-DEFAULT__USER__RELAY-0");
        let (state_of_relay, _, _) = docker(&["inspect", "-f", "{{.State.Status}}", &relay]);
        if state_of_relay.trim() != "created" {
            return Err(format!("the STOPPED relay is {state_of_relay}"));
        }
        Ok(())
    };
    let outcome = check();
    remove();
    outcome.unwrap();
}

/// A registry on loopback (Debian's docker-registry) that wants a password: the image is
/// pulled with the service's own credentials, and a wrong password fails clearly.
#[test]
fn a_private_image_is_pulled_with_the_service_credentials() {
    let Some(registry) = crate::engine::Registry::start("puller", "s3cret") else {
        return;
    };
    let mut p = Project::new("berth-it-pull");
    let image = registry.push(IMAGE, "berth-it/private:1");
    p.tags.push(image.clone());

    p.write(
        "berth.yaml",
        "project: berth-it-pull\nsecrets:\n  providers:\n    - { type: env, prefix: BERTH_IT_PULL_ }\n",
    );
    p.write(
        "private.conf.json",
        &format!(
            r#"{{ "_id": "private", "type": "system:microservice",
  "docker": {{ "image": "{image}", "port": 8080, "username": "puller", "password": "$SECRET(registry)" }} }}"#
        ),
    );
    let apply_with = |password: &str| {
        output(
            crate::berth()
                .current_dir(p.repo.path())
                .env("BERTH_STATE_DIR", p.state.path())
                .env("BERTH_IT_PULL_registry", password)
                .args(["apply", "--auto-approve", "--stable-for", "1s"])
                .output()
                .unwrap(),
        )
    };
    let (_, stderr, status) = apply_with("wrong");
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains(&format!("cannot pull `{image}`")), "{stderr}");
    assert!(
        !stderr.contains("wrong"),
        "the password is never printed: {stderr}"
    );
    assert!(p.containers().is_empty());

    let (stdout, stderr, status) = apply_with("s3cret");
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert!(stderr.contains(&format!("image {image}: pulling")), "{stderr}");
    assert_eq!(p.containers(), [p.container("private")]);
}
