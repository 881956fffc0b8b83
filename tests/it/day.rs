//! The operator's day beyond plan and apply, end to end on the real engine and real git:
//! `berth history` after several applies, `berth rollback` that pins until `berth
//! unpin`, `berth destroy` that removes only its project's objects, and `berth logs`
//! merged and followed.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::engine::{IMAGE, Project, compile_schema, docker, label};
use crate::git::git;

fn commit(p: &Project, message: &str) -> String {
    git(p.repo.path(), &["add", "-A"]);
    git(p.repo.path(), &["commit", "-q", "-m", message]);
    git(p.repo.path(), &["rev-parse", "HEAD"])
}

fn id(container: &str) -> String {
    docker(&["inspect", "-f", "{{.Id}}", container])
        .0
        .trim()
        .to_string()
}

/// `berth ARGS --repo .` in the project's repository.
fn at_repo(p: &Project, args: &[&str]) -> (String, String, i32) {
    let mut all = args.to_vec();
    all.extend(["--repo", "."]);
    p.berth(&all)
}

fn history(p: &Project, extra: &[&str]) -> Value {
    let mut args = vec!["history", "--format", "json"];
    args.extend_from_slice(extra);
    let (stdout, stderr, status) = at_repo(p, &args);
    assert_eq!(status, 0, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let schema = compile_schema("history.schema.json");
    let errors: Vec<String> = schema.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{doc:#}");
    doc
}

/// Each entry's kind, commit and steps (`action service`).
fn entries(doc: &Value) -> Vec<(String, String, Vec<String>)> {
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let steps = e["changes"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .map(|c| {
                            format!(
                                "{} {}",
                                c["action"].as_str().unwrap(),
                                c["service"].as_str().unwrap()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            (
                e["kind"].as_str().unwrap().to_string(),
                e["commit"].as_str().unwrap_or_default().to_string(),
                steps,
            )
        })
        .collect()
}

#[test]
fn history_lists_every_apply_and_a_rollback_holds_until_unpinned() {
    let p = Project::new("berth-it-day-history");
    git(p.repo.path(), &["init", "-q", "-b", "main"]);
    p.write("berth.yaml", &format!("project: {}\n", p.name));
    p.service("web", "info", 64);
    p.service("api", "info", 64);
    let first = commit(&p, "web and api");
    let apply = |p: &Project| {
        let (stdout, stderr, status) = at_repo(p, &["apply", "--auto-approve", "--stable-for", "0s"]);
        assert_eq!(status, 0, "{stdout}{stderr}");
    };
    apply(&p);
    p.service("web", "debug", 64);
    let second = commit(&p, "web: debug");
    apply(&p);
    p.service("db", "info", 64);
    let third = commit(&p, "db");
    apply(&p);

    // Newest first, each with its commit, who ran it and what it did to each service.
    let doc = history(&p, &[]);
    assert_eq!(doc["project"], p.name);
    let apply = |c: &str, steps: &[&str]| {
        (
            "apply".to_string(),
            c.to_string(),
            steps.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        entries(&doc),
        [
            apply(&third, &["created db"]),
            apply(&second, &["replaced web"]),
            apply(&first, &["created api", "created web"]),
        ]
    );
    assert!(doc["entries"][0]["by"].as_str().unwrap().contains('@'), "{doc:#}");
    // One service's history: only the applies that changed it.
    let web = history(&p, &["web"]);
    assert_eq!(entries(&web).len(), 2);
    let (text, _, _) = at_repo(&p, &["history"]);
    assert!(text.contains(&format!("commit {}", &second[..7])), "{text}");
    assert!(text.contains("replaced  web"), "{text}");

    // Two applies back: only what differs is replaced (web), db goes with --prune, api
    // is untouched; the project is pinned to that commit.
    let [web, api, db] = ["web", "api", "db"].map(|s| p.container(s));
    let (web_before, api_before) = (id(&web), id(&api));
    let (stdout, stderr, status) = at_repo(
        &p,
        &[
            "rollback",
            "--steps",
            "2",
            "--prune",
            "--auto-approve",
            "--detailed-exitcode",
            "--stable-for",
            "0s",
        ],
    );
    assert_eq!(status, 2, "{stdout}{stderr}");
    assert!(
        stdout.contains("Rollback complete: 1 removed, 1 replaced."),
        "{stdout}"
    );
    assert_ne!(id(&web), web_before);
    assert_eq!(id(&api), api_before, "api is the same at both commits");
    assert_eq!(label(&web, "berth.commit"), first);
    assert_eq!(p.containers(), [api.clone(), web.clone()]);

    // Pinned: an apply of the branch is refused, status says how far it moved, and a
    // rollback to where it is already is no change (exit 0 with --detailed-exitcode).
    let rolled_back = id(&web);
    let (stdout, stderr, status) = at_repo(&p, &["apply", "--auto-approve"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("pinned to commit {}", &first[..7])),
        "{stderr}"
    );
    assert!(stderr.contains("berth unpin"), "{stderr}");
    assert_eq!(id(&web), rolled_back, "nothing changed");
    assert_eq!(p.containers(), [api.clone(), web.clone()]);
    // The pin names a commit: the same project read from a folder cannot follow it.
    let (_, stderr, code) = p.berth(&["status"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("read from a folder"), "{stderr}");
    let (json, _, _) = at_repo(&p, &["status", "--format", "json"]);
    let status: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(status["pinned"]["commit"], first.as_str());
    assert_eq!(status["pinned"]["ahead"], 2);
    assert_eq!(status["pinned"]["head"], third.as_str());
    let (_, stderr, code) = at_repo(
        &p,
        &[
            "rollback",
            "--to",
            &first,
            "--auto-approve",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let doc = history(&p, &["--limit", "2"]);
    let kinds: Vec<(String, String, Vec<String>)> = entries(&doc);
    assert_eq!(kinds[0], ("rollback".to_string(), first.clone(), Vec::new()));
    assert_eq!(
        kinds[1],
        (
            "rollback".to_string(),
            first.clone(),
            vec!["removed db".to_string(), "replaced web".to_string()]
        )
    );

    // Unpinned, the branch applies again.
    let (stdout, stderr, status) = at_repo(&p, &["unpin"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("no longer pinned"), "{stdout}");
    let (stdout, stderr, status) = at_repo(&p, &["apply", "--auto-approve", "--stable-for", "0s"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert_eq!(label(&web, "berth.commit"), third);
    assert_eq!(p.containers(), [api, db, web]);

    // A folder has no earlier versions: rollback says so.
    let (_, stderr, status) = p.berth(&["rollback"]);
    assert_eq!(status, 1);
    assert!(stderr.contains("rollback needs git"), "{stderr}");
}

#[test]
fn destroy_removes_its_project_and_nothing_else() {
    let p = Project::new("berth-it-day-destroy");
    let other = Project::new("berth-it-day-keep");
    for q in [&p, &other] {
        q.write("berth.yaml", &format!("project: {}\n", q.name));
        q.service("web", "info", 64);
        q.service("api", "info", 64);
        q.apply(&["--stable-for", "0s"]);
    }
    // A container berth does not manage, named like the project's.
    let mut p = p;
    let stranger = format!("{}-web-1", p.name);
    let (_, err, status) = docker(&["run", "-d", "--name", &stranger, IMAGE]);
    assert_eq!(status, 0, "{err}");
    p.others.push(stranger.clone());
    let network = format!("{}-net", p.name);

    // Without a terminal to approve it, nothing goes.
    let (_, stderr, status) = p.berth(&["destroy"]);
    assert_eq!(status, 1);
    assert!(stderr.contains("no terminal to ask for approval"), "{stderr}");
    assert!(stderr.contains("`berth destroy` again"), "{stderr}");
    assert_eq!(p.containers().len(), 2);

    // One service: its container goes, the network stays for the other.
    let (stdout, stderr, status) = p.berth(&["destroy", "--target", "web", "--auto-approve"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert_eq!(p.containers(), [p.container("api")]);
    assert_eq!(docker(&["network", "inspect", &network]).2, 0);

    // Everything: the containers and the network, and nothing of the other project or
    // the stranger.
    let (stdout, stderr, status) = p.berth(&["destroy", "--auto-approve"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("network \"berth-it-day-destroy-net\""),
        "{stdout}"
    );
    assert!(stdout.contains("Destroy complete"), "{stdout}");
    assert!(p.containers().is_empty());
    assert_ne!(
        docker(&["network", "inspect", &network]).2,
        0,
        "the network is gone"
    );
    assert_eq!(docker(&["inspect", &stranger]).2, 0, "the stranger stays");
    assert_eq!(other.containers().len(), 2, "the other project stays");
    let (out, status) = other.plan(&[]);
    assert_eq!(status, 0, "{out}");

    // A destroy of nothing is no change; a target the project does not run is an error.
    let (stdout, _, status) = p.berth(&["destroy", "--auto-approve"]);
    assert_eq!(status, 0);
    assert!(stdout.contains("No changes"), "{stdout}");
    let (_, stderr, status) = p.berth(&["destroy", "--target", "web", "--auto-approve"]);
    assert_eq!(status, 1);
    assert!(stderr.contains("runs nothing of that name"), "{stderr}");
    let (text, _, _) = p.berth(&["history"]);
    assert_eq!(text.matches("destroy ").count(), 2, "{text}");
}

#[test]
fn logs_of_two_services_are_merged_in_time_and_followed() {
    let p = Project::new("berth-it-day-logs");
    p.write("berth.yaml", &format!("project: {}\n", p.name));
    p.service("web", "info", 64);
    p.service("api", "warn", 64);
    p.apply(&["--stable-for", "0s"]);
    // Both print at start; wait until they have.
    let deadline = Instant::now() + Duration::from_secs(20);
    let lines = loop {
        let (stdout, stderr, status) = p.berth(&["logs", "--timestamps"]);
        assert_eq!(status, 0, "{stderr}");
        if stdout.matches("listening on 8080").count() == 2 || Instant::now() > deadline {
            break stdout;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Every line prefixed with its service and instance, padded alike, in time order.
    assert!(
        lines.contains("web-0 | ") && lines.contains("api-0 | "),
        "{lines}"
    );
    assert!(
        lines.contains("api-0 | ") && lines.contains("env LOG_LEVEL=warn"),
        "{lines}"
    );
    let times: Vec<&str> = lines
        .lines()
        .map(|l| l.split(" | ").nth(1).unwrap().split(' ').next().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "{lines}");
    // One service, its last line; as JSON.
    let (stdout, _, _) = p.berth(&["logs", "web", "--tail", "1"]);
    assert_eq!(stdout, "web-0 | berth-demo: listening on 8080\n");
    let (stdout, _, _) = p.berth(&["logs", "api", "--tail", "1", "--format", "json"]);
    let line: Value = serde_json::from_str(&stdout).unwrap();
    let schema = compile_schema("log-line.schema.json");
    let errors: Vec<String> = schema.iter_errors(&line).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{line:#}");
    assert_eq!(
        (
            &line["service"],
            &line["instance"],
            &line["stream"],
            &line["text"]
        ),
        (
            &Value::from("api"),
            &Value::from("0"),
            &Value::from("stdout"),
            &Value::from("berth-demo: listening on 8080")
        )
    );
    assert!(line["time"].as_str().unwrap().ends_with('Z'), "{line}");
    let (_, stderr, status) = p.berth(&["logs", "wbe"]);
    assert_eq!(status, 1);
    assert!(
        stderr.contains("did you mean") && stderr.contains("`web`?"),
        "{stderr}"
    );

    // Following: a replace's new container is followed from its first line.
    let mut follow = crate::berth()
        .current_dir(p.repo.path())
        .env("BERTH_STATE_DIR", p.state.path())
        .env("NO_COLOR", "1")
        .args(["logs", "-f", "web"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = follow.stdout.take().unwrap();
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = out.read(&mut buffer) {
            if n == 0 || sender.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    p.service("web", "debug", 64);
    p.apply(&["--stable-for", "0s"]);
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.contains("web-0 | berth-demo: env LOG_LEVEL=debug") && Instant::now() < deadline {
        if let Ok(bytes) = received.recv_timeout(Duration::from_millis(200)) {
            seen.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(seen.contains("web-0 | berth-demo: env LOG_LEVEL=info"), "{seen}");
    assert!(
        seen.contains("web-0 | berth-demo: env LOG_LEVEL=debug"),
        "the new container: {seen}"
    );
    assert!(!seen.contains("api-0"), "{seen}");
}
