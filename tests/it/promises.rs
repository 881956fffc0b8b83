//! A plan never holds a step the engine will refuse: one test per class of refusal
//! (RUNTIME.md §4), each refused by `berth plan` at the file, line and column of the
//! field that causes it, with a hint, and by `berth apply`, which creates nothing. And
//! what cannot be known before the engine is asked — its address pools running out —
//! is said plainly, with nothing of the project left half made.

use crate::engine::{IMAGE, Project, docker, free_port};
use crate::faults::PrivateEngine;

/// `plan` and `apply` both refuse, naming `place` and saying `says`; no container is made.
fn refused(p: &Project, place: &str, says: &str) {
    let (text, status) = p.plan(&[]);
    assert_eq!(status, 1, "{text}");
    let line = text
        .lines()
        .find(|l| l.contains(says))
        .unwrap_or_else(|| panic!("no `{says}` in:\n{text}"));
    assert!(line.starts_with(&format!("error: {place}: ")), "{line}");
    assert!(line.contains("; "), "with a hint: {line}");
    let (stdout, stderr, status) = p.berth(&["apply", "--auto-approve"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(stderr.contains("nothing was applied"), "{stderr}");
    assert!(p.containers().is_empty(), "{:?}", p.containers());
    let network = format!("{}-net", p.name);
    assert_ne!(
        docker(&["network", "inspect", &network]).2,
        0,
        "no network either"
    );
}

/// Lint knows without an engine (rule memory-below-minimum); with the rule allowed, the
/// plan still refuses.
#[test]
fn a_memory_limit_under_6_mib_is_refused_at_its_line() {
    let p = Project::new("berth-it-promise-memory");
    p.sesam("tiny", 4, &[]);
    let (text, status) = p.plan(&[]);
    assert_eq!(status, 1, "{text}");
    assert!(
        text.contains("berth::lint::memory-below-minimum") && text.contains("tiny.conf.json:7:15"),
        "{text}"
    );
    p.write(
        "berth.yaml",
        "project: berth-it-promise-memory\nlint:\n  allow: [memory-below-minimum]\n",
    );
    refused(
        &p,
        "tiny.conf.json:7:5",
        "a memory limit of 4 MiB is below the engine's minimum of 6 MiB",
    );
}

#[test]
fn cpu_beyond_the_engine_and_a_reservation_above_its_limit_are_refused_at_their_lines() {
    let p = Project::new("berth-it-promise-cpu");
    let config = |lint: &str| {
        format!("project: berth-it-promise-cpu\ncumulocity:\n  images:\n    \"big:1.0.0\": {IMAGE}\n{lint}")
    };
    p.write("berth.yaml", &config(""));
    let manifest = |resources: &str| {
        format!(
            r#"{{
  "apiVersion": "2",
  "name": "big",
  "version": "1.0.0",
  "provider": {{"name": "berth"}},
  "isolation": "MULTI_TENANT",
  {resources}
}}
"#
        )
    };
    p.write(
        "cumulocity.json",
        &manifest(r#""resources": {"cpu": "64", "memory": "128M"}"#),
    );
    refused(
        &p,
        "cumulocity.json:7:17",
        "a CPU limit of 64 is more than the engine has",
    );

    // A reservation above its limit is lint's to say (requests-exceed-limits); allowed,
    // the plan still refuses it.
    p.write(
        "cumulocity.json",
        &manifest(r#""resources": {"memory": "128M"}, "requestedResources": {"memory": "256M"}"#),
    );
    let (text, status) = p.plan(&[]);
    assert_eq!(status, 1, "{text}");
    assert!(text.contains("berth::lint::requests-exceed-limits"), "{text}");
    p.write(
        "berth.yaml",
        &config("lint:\n  allow: [requests-exceed-limits]\n"),
    );
    refused(
        &p,
        "cumulocity.json:7:59",
        "the memory reservation (244.1 MiB) is above the memory limit (122.1 MiB)",
    );
}

/// A COSMOS microservice of `p` publishing `port` on the host (its PORT line is line 3).
fn publishing(p: &Project, port: u16) {
    p.write(
        "berth.yaml",
        &format!("project: {}\ncosmos:\n  image: {IMAGE}\n", p.name),
    );
    p.write(
        "plugin.txt",
        &format!("MICROSERVICE WEB web\n  CMD /berth-demo\n  PORT {port}\n"),
    );
}

#[test]
fn a_host_port_another_container_publishes_is_refused() {
    let mut p = Project::new("berth-it-promise-port");
    let port = free_port();
    let holder = "berth-it-promise-port-holder";
    docker(&["rm", "-f", holder]);
    let publish = format!("{port}:8080");
    let (_, stderr, status) = docker(&["run", "-d", "--name", holder, "-p", &publish, IMAGE]);
    assert_eq!(status, 0, "{stderr}");
    p.others.push(holder.into());
    publishing(&p, port);
    refused(
        &p,
        "plugin.txt:3:3",
        &format!("host port {port}/tcp is already published by container `{holder}`"),
    );
}

#[test]
fn a_host_port_another_process_holds_is_refused() {
    let p = Project::new("berth-it-promise-bound");
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    publishing(&p, port);
    refused(
        &p,
        "plugin.txt:3:3",
        &format!("host port {port}/tcp is already in use by another process"),
    );
    drop(listener);
    let (text, status) = p.plan(&[]);
    assert_eq!(status, 2, "free again, planned: {text}");
}

#[test]
fn an_image_with_an_unresolved_env_reference_is_refused_at_its_span() {
    let p = Project::new("berth-it-promise-image");
    p.write(
        "watcher.conf.json",
        r#"{
  "_id": "watcher",
  "type": "system:microservice",
  "docker": {
    "image": "$ENV(watcher-image)",
    "port": 5000
  }
}
"#,
    );
    refused(&p, "watcher.conf.json:5:5", "still holds an unresolved $ENV(...)");
}

#[test]
fn an_image_that_is_absent_and_may_not_be_pulled_is_refused() {
    let p = Project::new("berth-it-promise-absent");
    p.write(
        "absent.conf.json",
        r#"{
  "_id": "absent",
  "type": "system:microservice",
  "docker": {
    "image": "berth-it-absent:1",
    "port": 5000,
    "skip_pull": true
  }
}
"#,
    );
    refused(
        &p,
        "absent.conf.json:5:5",
        "the image `berth-it-absent:1` is not on the engine, and skip_pull forbids pulling it",
    );
}

#[test]
fn a_name_the_engine_rejects_is_refused() {
    let _engine = crate::engine::ENGINE.read().unwrap_or_else(|e| e.into_inner());
    let parent = tempfile::tempdir().unwrap();
    // Without `project:`, the project is named after its folder, which may be no name
    // the engine takes.
    let repo = parent.path().join("_odd");
    std::fs::create_dir(&repo).unwrap();
    std::fs::write(
        repo.join("web.conf.json"),
        format!(r#"{{"_id": "web", "type": "system:microservice", "docker": {{"image": "{IMAGE}", "port": 8080}}}}"#),
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let (stdout, stderr, status) = crate::output(
        crate::berth()
            .current_dir(&repo)
            .env("BERTH_STATE_DIR", state.path())
            .args(["plan"])
            .output()
            .unwrap(),
    );
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("error: web.conf.json:1:2: `web` cannot be named `_odd-web-0` on the engine"),
        "{stderr}"
    );
}

/// Each project network takes a subnet from the engine's pools (about 30 with Docker's
/// defaults). When they are used up, apply says so and what to do, before it has made
/// anything of the project.
#[test]
fn used_up_address_pools_are_said_plainly_and_nothing_is_left_half_made() {
    let Some(engine) = PrivateEngine::start("10.213.0.0/24") else {
        return;
    };
    crate::engine::demo_image();
    let (_, stderr, status) = engine.docker(&["network", "create", "berth-it-pools-taken"]);
    assert_eq!(status, 0, "the pool's one network: {stderr}");
    engine.load(IMAGE);
    let repo = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("berth.yaml"), "project: berth-it-pools\n").unwrap();
    std::fs::write(
        repo.path().join("web.conf.json"),
        format!(r#"{{"_id": "web", "type": "system:microservice", "docker": {{"image": "{IMAGE}", "port": 8080, "skip_pull": true}}}}"#),
    )
    .unwrap();
    let (stdout, stderr, status) = crate::output(
        crate::berth()
            .current_dir(repo.path())
            .env("BERTH_STATE_DIR", state.path())
            .env("DOCKER_HOST", engine.host())
            .args(["apply", "--auto-approve", "--stable-for", "1s"])
            .output()
            .unwrap(),
    );
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("the engine's address pools are used up")
            && stderr.contains("default-address-pools")
            && stderr.contains("nothing of the project was created"),
        "{stderr}"
    );
    assert_eq!(engine.docker(&["ps", "-aq"]).0.trim(), "", "no container made");
    let (networks, _, _) = engine.docker(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.contains("berth-it-pools-net"), "{networks}");
}
