//! Secrets never leak, by test: a project that uses every kind of secret berth knows
//! (COSMOS SECRET ENV and FILE, Sesam `$SECRET` in the environment and as registry
//! credentials, the Cumulocity bootstrap password, a webhook secret, a notification
//! key), each with a recognisable value, is linted, compiled, planned, applied, watched
//! and made to fail; then everything berth produced is searched for the values. They
//! may appear only where the platform puts them: the container's environment and files.

use std::path::Path;
use std::time::Duration;

use crate::engine::{IMAGE, Project, docker};
use crate::watch::{Receiver, Watcher, http};

/// Each secret's name and its value.
const SECRETS: [(&str, &str); 8] = [
    ("cosmos_env", "LEAK-cosmos-env-7Qx1"),
    ("cosmos_file", "LEAK-cosmos-file-8Rw2"),
    ("sesam_token", "LEAK-sesam-token-9Sv3"),
    ("registry_user", "LEAK-registry-user-1Tu4"),
    ("registry_password", "LEAK-registry-password-2Ut5"),
    ("c8y_password", "LEAK-c8y-password-3Vs6"),
    ("hook_secret", "LEAK-hook-secret-4Wr7"),
    ("notify_key", "LEAK-notify-key-5Xq8"),
];

/// Every file under `dir`, with its bytes as text.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
            found.push((path.display().to_string(), text));
        }
    }
    found
}

/// Fails naming where a secret value was found.
fn clean(place: &str, text: &str) {
    for (name, value) in SECRETS {
        assert!(
            !text.contains(value),
            "the value of secret `{name}` is in {place}:\n{text}"
        );
    }
}

#[test]
fn no_secret_value_reaches_any_output_of_berth() {
    let p = Project::new("berth-it-leak");
    let receiver = Receiver::start();
    p.write(
        "berth.yaml",
        &format!(
            r#"project: berth-it-leak
cosmos:
  image: {IMAGE}
cumulocity:
  bootstrap_tenant: t1
  bootstrap_user: bootstrapper
  bootstrap_password: "$SECRET(c8y_password)"
  images:
    "bridge:1.0.0": "{IMAGE}"
secrets:
  providers:
    - {{ type: dir, path: vault }}
webhooks:
  generic: hook_secret
notify:
  - webhook: "http://127.0.0.1:{}/events"
    secret: "$SECRET(notify_key)"
"#,
            receiver.port
        ),
    );
    std::fs::create_dir(p.repo.path().join("vault")).unwrap();
    for (name, value) in SECRETS {
        p.write(&format!("vault/{name}"), value);
    }
    p.write(
        "plugin.txt",
        "MICROSERVICE S secure\n  CMD /berth-demo\n  SECRET ENV cosmos_env API_KEY\n  SECRET FILE cosmos_file /run/secrets/cert.pem\n",
    );
    p.write(
        "sesam.conf.json",
        &format!(
            r#"{{"_id": "sesam", "type": "system:microservice",
  "docker": {{"image": "{IMAGE}", "port": 8080, "skip_pull": true,
    "username": "$SECRET(registry_user)", "password": "$SECRET(registry_password)",
    "environment": {{"TOKEN": "$SECRET(sesam_token)"}}}}}}"#
        ),
    );
    std::fs::create_dir(p.repo.path().join("bridge")).unwrap();
    p.write(
        "bridge/cumulocity.json",
        r#"{"apiVersion": "2", "name": "bridge", "version": "1.0.0", "provider": {"name": "berth"}, "isolation": "MULTI_TENANT"}"#,
    );

    let trace = [("BERTH_LOG", "trace"), ("NO_COLOR", "1")];
    let run = |args: &[&str]| {
        let (stdout, stderr, status) = crate::output(
            crate::berth()
                .current_dir(p.repo.path())
                .env("BERTH_STATE_DIR", p.state.path())
                .envs(trace)
                .args(args)
                .output()
                .unwrap(),
        );
        clean(
            &format!("the output of `berth {}`", args.join(" ")),
            &format!("{stdout}\n{stderr}"),
        );
        (stdout, stderr, status)
    };
    for args in [
        &["lint"][..],
        &["lint", "--format", "json"],
        &["compile"],
        &["compile", "--format", "json"],
        &["plan"],
        &["plan", "--format", "json"],
    ] {
        run(args);
    }
    let saved = p.state.path().join("saved-plan.json");
    run(&["plan", "--out", saved.to_str().unwrap()]);
    let (stdout, stderr, status) = run(&[
        "apply",
        "--auto-approve",
        "--stable-for",
        "1s",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    for args in [
        &["status"][..],
        &["status", "--format", "json"],
        &["history", "--format", "json"],
        &["plan"],
    ] {
        run(args);
    }

    // Where the values do belong: the containers' environment and files.
    let secure = p.container("DEFAULT__USER__SECURE");
    let env = |name: &str| docker(&["inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", name]).0;
    assert!(env(&secure).contains("API_KEY=LEAK-cosmos-env-7Qx1"));
    assert!(env(&p.container("sesam")).contains("TOKEN=LEAK-sesam-token-9Sv3"));
    assert!(env(&p.container("bridge")).contains("C8Y_BOOTSTRAP_PASSWORD=LEAK-c8y-password-3Vs6"));
    let (file, _, _) = crate::output(
        std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("docker cp {secure}:/run/secrets/cert.pem - | tar -xO"))
            .output()
            .unwrap(),
    );
    assert_eq!(file, "LEAK-cosmos-file-8Rw2");
    // And nowhere else on the engine: labels, names, the network.
    for container in p.containers() {
        clean(
            &format!("the labels of {container}"),
            &docker(&[
                "inspect",
                "-f",
                "{{json .Config.Labels}} {{.Name}} {{json .HostConfig}}",
                &container,
            ])
            .0,
        );
    }
    clean(
        "the project network",
        &docker(&["network", "inspect", "berth-it-leak-net"]).0,
    );

    // The watcher, traced, with a webhook delivery and a change that it applies.
    let w = Watcher::start(&p, &[], &trace);
    w.in_sync();
    let (code, _) = http(
        w.port,
        "POST",
        "/hooks/generic",
        &[("Authorization", "Bearer LEAK-hook-secret-4Wr7")],
        b"{}",
    )
    .unwrap();
    assert_eq!(code, 202);
    let (code, _) = http(
        w.port,
        "POST",
        "/hooks/generic",
        &[("Authorization", "Bearer wrong")],
        b"{}",
    )
    .unwrap();
    assert_eq!(code, 401);
    p.write("vault/sesam_token", "LEAK-sesam-token-9Sv3-v2");
    w.until("the new value is applied", Duration::from_secs(60), || {
        env(&p.container("sesam")).contains("TOKEN=LEAK-sesam-token-9Sv3-v2")
    });
    w.in_sync();
    clean("/status", &http(w.port, "GET", "/status", &[], b"").unwrap().1);
    clean("/metrics", &http(w.port, "GET", "/metrics", &[], b"").unwrap().1);
    clean("the watcher's log", &w.log());
    assert!(
        w.log().contains("webhook accepted"),
        "the log is traced: {}",
        w.log()
    );
    drop(w);

    // A failing apply: an image that cannot be pulled with the registry credentials.
    p.write(
        "sesam.conf.json",
        r#"{"_id": "sesam", "type": "system:microservice",
  "docker": {"image": "127.0.0.1:9/berth-it/none:1", "port": 8080,
    "username": "$SECRET(registry_user)", "password": "$SECRET(registry_password)",
    "environment": {"TOKEN": "$SECRET(sesam_token)"}}}"#,
    );
    let (stdout, stderr, status) = run(&["apply", "--auto-approve", "--stable-for", "1s"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    run(&["history"]);

    // Everything berth keeps, and every event it sent.
    for (path, text) in files(p.state.path()) {
        if !path.ends_with("/key") {
            clean(&path, &text);
        }
    }
    assert!(!receiver.raw().is_empty(), "events were sent");
    clean("the notifications", &receiver.raw());
}
