//! The desired state read from git (`--repo`, `--ref`): real repositories made with the
//! git command line in temp folders — a bare one with several commits and a tag, a
//! non-bare one whose working tree must not change, and a file:// remote mirrored under
//! the state directory and updated after a push.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::engine::{Project, label};
use crate::output;

pub fn git(dir: &Path, args: &[&str]) -> String {
    let (stdout, stderr, status) = output(
        Command::new("git")
            .current_dir(dir)
            .args([
                "-c",
                "user.name=Ana",
                "-c",
                "user.email=ana@example.org",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .output()
            .unwrap(),
    );
    assert_eq!(status, 0, "git {args:?}: {stderr}");
    stdout.trim().to_string()
}

/// A Sesam service `web` with LOG_LEVEL `level`.
fn web(level: &str) -> String {
    format!(
        r#"{{ "_id": "web", "type": "system:microservice",
  "docker": {{ "image": "{}", "port": 8080, "skip_pull": true, "environment": {{ "LOG_LEVEL": "{level}" }} }} }}
"#,
        crate::engine::IMAGE
    )
}

/// A work repository with two commits (tag `v1` on the first) pushed to a bare one.
struct Repos {
    work: tempfile::TempDir,
    bare: tempfile::TempDir,
    first: String,
    second: String,
}

fn repos(project: &str) -> Repos {
    let (work, bare) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    git(bare.path(), &["init", "--bare", "-q"]);
    git(work.path(), &["init", "-q"]);
    std::fs::write(work.path().join("berth.yaml"), format!("project: {project}\n")).unwrap();
    std::fs::write(work.path().join("web.conf.json"), web("info")).unwrap();
    git(work.path(), &["add", "."]);
    git(work.path(), &["commit", "-q", "-m", "web at info"]);
    git(work.path(), &["tag", "v1"]);
    let first = git(work.path(), &["rev-parse", "HEAD"]);
    std::fs::write(work.path().join("web.conf.json"), web("debug")).unwrap();
    git(work.path(), &["commit", "-q", "-am", "raise log level"]);
    let second = git(work.path(), &["rev-parse", "HEAD"]);
    let bare_path = bare.path().display().to_string();
    git(work.path(), &["push", "-q", &bare_path, "main", "v1"]);
    Repos {
        work,
        bare,
        first,
        second,
    }
}

/// `berth apply` of `repo` at `reference`, which must succeed.
fn apply_at(p: &Project, repo: &str, reference: &str) {
    let (stdout, stderr, status) = p.berth(&[
        "apply",
        "--auto-approve",
        "--stable-for",
        "1s",
        "--repo",
        repo,
        "--ref",
        reference,
    ]);
    assert_eq!(status, 0, "{stdout}{stderr}");
}

/// `berth compile --emit model --format json` of `repo` at `reference`: web's LOG_LEVEL.
fn level(p: &Project, repo: &str, reference: Option<&str>) -> Result<String, String> {
    let mut args = vec!["compile", "--format", "json", "--repo", repo];
    if let Some(r) = reference {
        args.extend(["--ref", r]);
    }
    let (stdout, stderr, status) = p.berth(&args);
    if status != 0 {
        return Err(stderr);
    }
    let model: Value = serde_json::from_str(&stdout).unwrap();
    Ok(model["services"][0]["env"]["LOG_LEVEL"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

#[test]
fn a_ref_of_a_bare_repository_is_compiled_from_its_tree() {
    let p = Project::new("berth-it-git");
    let r = repos("berth-it-git");
    let bare = r.bare.path().display().to_string();
    assert_eq!(level(&p, &bare, None).unwrap(), "debug", "default: HEAD");
    assert_eq!(level(&p, &bare, Some("main")).unwrap(), "debug");
    assert_eq!(level(&p, &bare, Some("v1")).unwrap(), "info", "a tag");
    assert_eq!(level(&p, &bare, Some(&r.first)).unwrap(), "info", "a commit id");
    assert_eq!(
        level(&p, &bare, Some(&r.second[..10])).unwrap(),
        "debug",
        "an abbreviated one"
    );
    let error = level(&p, &bare, Some("no-such-branch")).unwrap_err();
    assert!(error.contains("`no-such-branch` names no commit"), "{error}");
    let error = level(&p, "/nonexistent/repo", None).unwrap_err();
    assert!(
        error.contains("cannot open the git repository /nonexistent/repo"),
        "{error}"
    );
}

#[test]
fn a_working_tree_is_never_touched() {
    let p = Project::new("berth-it-worktree");
    let r = repos("berth-it-worktree");
    // Uncommitted: the working tree says "trace"; berth reads the commit.
    std::fs::write(r.work.path().join("web.conf.json"), web("trace")).unwrap();
    let status_before = git(r.work.path(), &["status", "--porcelain"]);
    let work = r.work.path().display().to_string();
    assert_eq!(level(&p, &work, Some("HEAD")).unwrap(), "debug");
    assert_eq!(level(&p, &work, Some("v1")).unwrap(), "info");
    assert_eq!(
        std::fs::read_to_string(r.work.path().join("web.conf.json")).unwrap(),
        web("trace")
    );
    assert_eq!(git(r.work.path(), &["status", "--porcelain"]), status_before);
    assert_eq!(
        git(r.work.path(), &["rev-parse", "HEAD"]),
        r.second,
        "HEAD did not move"
    );
}

#[test]
fn a_remote_is_mirrored_and_updated_on_each_run() {
    let p = Project::new("berth-it-mirror");
    let r = repos("berth-it-mirror");
    let url = format!("file://{}", r.bare.path().display());
    assert_eq!(level(&p, &url, None).unwrap(), "debug");
    let mirrors: Vec<_> = std::fs::read_dir(p.state.path().join("mirrors"))
        .unwrap()
        .collect();
    assert_eq!(mirrors.len(), 1, "one bare mirror in the state directory");

    // A new push is seen by the next run; --offline keeps to what was fetched.
    std::fs::write(r.work.path().join("web.conf.json"), web("warn")).unwrap();
    git(r.work.path(), &["commit", "-q", "-am", "quieter"]);
    let bare = r.bare.path().display().to_string();
    git(r.work.path(), &["push", "-q", &bare, "main"]);
    let (_, stderr, status) = p.berth(&["compile", "--format", "json", "--repo", &url, "--offline"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stderr.contains("warning: --offline"), "{stderr}");
    assert_eq!(level(&p, &url, None).unwrap(), "warn");

    // An unreachable remote is an error, not a silent use of the cache.
    let gone = format!("file://{}/gone", r.bare.path().display());
    let error = level(&p, &gone, None).unwrap_err();
    assert!(error.contains(&format!("cannot fetch {gone}")), "{error}");
}

/// Containers carry the commit they were made from; a saved plan reads the same commit
/// again, even after the branch moved on.
#[test]
fn plans_and_applies_read_the_commit() {
    let p = Project::new("berth-it-gitapply");
    let r = repos("berth-it-gitapply");
    let bare = r.bare.path().display().to_string();
    apply_at(&p, &bare, "v1");
    assert_eq!(label(&p.container("web"), "berth.commit"), r.first);

    let saved = p.state.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    assert_eq!(p.berth(&["plan", "--repo", &bare, "--out", saved]).2, 0);
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    assert_eq!(plan["inputs"]["commit"], r.second.as_str());
    assert_eq!(plan["steps"][0]["action"], "replace");

    // Before the apply, status shows the drift and the first commit running.
    let (stdout, _, _) = p.berth(&["status", "--repo", &bare, "--format", "json"]);
    let status: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["commit"], r.second.as_str());
    assert_eq!(status["services"][0]["instances"][0]["commit"], r.first.as_str());
    assert_eq!(
        status["services"][0]["drift"][0],
        format!("replace {} (env.LOG_LEVEL)", p.container("web"))
    );

    let (stdout, stderr, status) = p.berth(&["apply", saved, "--stable-for", "1s"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert_eq!(label(&p.container("web"), "berth.commit"), r.second);

    // After it: in sync, the new commit running, and the apply in the journal.
    let (stdout, _, _) = p.berth(&["status", "--repo", &bare, "--format", "json"]);
    let status: Value = serde_json::from_str(&stdout).unwrap();
    let web = &status["services"][0];
    assert_eq!(
        (web["running"].as_u64(), web["drift"].as_array().map(Vec::len)),
        (Some(1), Some(0))
    );
    assert_eq!(web["instances"][0]["commit"], r.second.as_str());
    assert_eq!(status["last_apply"]["outcome"], "complete");
    assert_eq!(status["last_apply"]["done"], "1 replaced");
    assert_eq!(status["last_apply"]["commit"], r.second.as_str());
    let (stdout, _, _) = p.berth(&["status", "--repo", &bare]);
    assert!(
        stdout.contains(&format!("desired commit {}", &r.second[..7])),
        "{stdout}"
    );
    assert!(
        stdout.contains("in sync")
            && stdout.contains("Last apply: ")
            && stdout.contains("complete: 1 replaced"),
        "{stdout}"
    );
}

/// A change made two commits back is attributed to that commit, in text and JSON.
#[test]
fn a_plan_names_the_commit_behind_each_change() {
    let p = Project::new("berth-it-blame");
    let r = repos("berth-it-blame");
    let bare = r.bare.path().display().to_string();
    apply_at(&p, &bare, "v1");
    // Two unrelated commits on top of the one that raised the log level.
    for (file, text) in [("README.md", "# fleet\n"), ("NOTES.md", "notes\n")] {
        std::fs::write(r.work.path().join(file), text).unwrap();
        git(r.work.path(), &["add", file]);
        git(
            r.work.path(),
            &[
                "-c",
                "user.name=Bo",
                "-c",
                "user.email=bo@example.org",
                "commit",
                "-q",
                "-m",
                &format!("add {file}"),
            ],
        );
    }
    git(r.work.path(), &["push", "-q", &bare, "main"]);

    let (stdout, stderr, status) = p.berth(&["plan", "--repo", &bare, "--format", "json"]);
    assert_eq!(status, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    assert!(crate::engine::schema().is_valid(&plan), "{plan:#}");
    let change = &plan["steps"][0]["changes"][0];
    assert_eq!(change["path"], "env.LOG_LEVEL");
    assert_eq!(
        change["commit"]["commit"],
        r.second.as_str(),
        "two commits back, not HEAD"
    );
    assert_eq!(change["commit"]["summary"], "raise log level");
    assert_eq!(change["commit"]["author"], "Ana");

    let (stdout, _, _) = p.berth(&["plan", "--repo", &bare]);
    let line = stdout.lines().find(|l| l.contains("env.LOG_LEVEL")).unwrap();
    assert!(
        line.contains(&format!(
            "(web.conf.json:2:91, {} \"raise log level\", Ana <ana@…>)",
            &r.second[..7]
        )),
        "{line}"
    );
}

/// An ssh:// remote served by a real sshd on loopback: fetched with the key given by
/// --ssh-key, refused with another key, and refused when the server's host key is not in
/// known_hosts.
#[test]
fn an_ssh_remote_is_fetched_with_a_key() {
    if crate::engine::tool("/usr/sbin/sshd")
        .and(crate::engine::tool("ssh-keygen"))
        .is_none()
    {
        return;
    }
    let p = Project::new("berth-it-ssh");
    let r = repos("berth-it-ssh");
    let dir = tempfile::tempdir().unwrap();
    let at = |f: &str| dir.path().join(f).display().to_string();
    for key in ["host", "client", "stranger"] {
        let (_, stderr, status) = output(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f", &at(key)])
                .output()
                .unwrap(),
        );
        assert_eq!(status, 0, "{stderr}");
    }
    std::fs::copy(at("client.pub"), at("authorized_keys")).unwrap();
    let port = crate::engine::free_port();
    std::fs::write(
        at("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {}\n",
            at("host"),
            at("authorized_keys"),
            at("sshd.pid")
        ),
    )
    .unwrap();
    let _ = std::fs::create_dir_all("/run/sshd"); // sshd's privilege-separation folder
    let mut sshd = Command::new("/usr/sbin/sshd");
    sshd.args(["-D", "-e", "-f", &at("sshd_config")]);
    let _sshd = crate::engine::Relay::start(sshd);

    // The user's known_hosts, in a home of the test's own.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    let host_key = std::fs::read_to_string(at("host.pub")).unwrap();
    let known = home.path().join(".ssh/known_hosts");
    let user = output(Command::new("id").arg("-un").output().unwrap())
        .0
        .trim()
        .to_string();
    let url = format!("ssh://{user}@127.0.0.1:{port}{}", r.bare.path().display());
    let compile = |key: &str| {
        output(
            crate::berth()
                .current_dir(p.repo.path())
                .env("BERTH_STATE_DIR", p.state.path())
                .env("HOME", home.path())
                .env_remove("SSH_AUTH_SOCK")
                .args([
                    "compile",
                    "--format",
                    "json",
                    "--repo",
                    &url,
                    "--ssh-key",
                    &at(key),
                ])
                .output()
                .unwrap(),
        )
    };

    std::fs::write(&known, "").unwrap();
    let (_, stderr, status) = compile("client");
    assert_eq!(status, 1, "an unknown host key is refused");
    assert!(
        stderr.contains(&format!("cannot fetch {url}")) && stderr.contains("hostkey"),
        "{stderr}"
    );

    std::fs::write(&known, format!("[127.0.0.1]:{port} {host_key}")).unwrap();
    let (_, stderr, status) = compile("stranger");
    assert_eq!(status, 1, "a key the server does not know is refused");
    assert!(
        stderr.contains(&format!("cannot fetch {url}")) && stderr.contains("refused"),
        "{stderr}"
    );

    let (stdout, stderr, status) = compile("client");
    assert_eq!(status, 0, "{stderr}");
    let model: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(model["services"][0]["env"]["LOG_LEVEL"], "debug");

    // Without --ssh-key: the user's ssh agent holds the key.
    let socket = dir.path().join("agent.sock");
    let mut agent = Command::new("ssh-agent");
    agent.args(["-D", "-a", socket.to_str().unwrap()]);
    let _agent = crate::engine::Relay::start(agent);
    let (_, stderr, status) = output(
        Command::new("ssh-add")
            .env("SSH_AUTH_SOCK", &socket)
            .arg(at("client"))
            .output()
            .unwrap(),
    );
    assert_eq!(status, 0, "{stderr}");
    std::fs::remove_dir_all(p.state.path().join("mirrors")).unwrap();
    let (_, stderr, status) = output(
        crate::berth()
            .current_dir(p.repo.path())
            .env("BERTH_STATE_DIR", p.state.path())
            .env("HOME", home.path())
            .env("SSH_AUTH_SOCK", &socket)
            .env_remove("BERTH_SSH_KEY")
            .args(["compile", "--repo", &url])
            .output()
            .unwrap(),
    );
    assert_eq!(status, 0, "through the agent: {stderr}");
}

#[test]
fn a_damaged_repository_is_a_clear_error() {
    let p = Project::new("berth-it-damaged");
    let r = repos("berth-it-damaged");
    let bare = r.bare.path();
    // Overwrite the object of the HEAD commit's tree with garbage.
    let tree = git(bare, &["rev-parse", "main^{tree}"]);
    let object = bare.join("objects").join(&tree[..2]).join(&tree[2..]);
    assert!(object.is_file(), "a loose object after a small push");
    let mut permissions = std::fs::metadata(&object).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)] // the test's own file, to damage it
    permissions.set_readonly(false);
    std::fs::set_permissions(&object, permissions).unwrap();
    std::fs::write(&object, b"not a zlib stream").unwrap();
    let error = level(&p, &bare.display().to_string(), None).unwrap_err();
    assert!(
        error.contains(&format!("cannot read {}", bare.display())) && error.contains("git fsck"),
        "{error}"
    );
}

/// Without `project:`, a project read from git is named after the repository, the same
/// from any folder berth runs in (`/` included), and for the bare repository and its clone.
#[test]
fn a_repository_names_its_project_wherever_berth_runs() {
    let _engine = crate::engine::ENGINE.read().unwrap_or_else(|e| e.into_inner());
    let parent = tempfile::tempdir().unwrap();
    let work = parent.path().join("berth-it-gitname");
    let bare = parent.path().join("berth-it-gitname.git");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q"]);
    std::fs::write(work.join("web.conf.json"), web("info")).unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "web"]);
    git(
        parent.path(),
        &[
            "clone",
            "-q",
            "--bare",
            "berth-it-gitname",
            "berth-it-gitname.git",
        ],
    );
    let state = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    for repo in [&work, &bare] {
        for cwd in [Path::new("/"), elsewhere.path(), parent.path()] {
            let (stdout, stderr, _) = output(
                crate::berth()
                    .current_dir(cwd)
                    .env("BERTH_STATE_DIR", state.path())
                    .args(["plan", "--format", "json", "--repo", repo.to_str().unwrap()])
                    .output()
                    .unwrap(),
            );
            let plan: Value =
                serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
            assert_eq!(
                plan["project"],
                "berth-it-gitname",
                "{} from {}",
                repo.display(),
                cwd.display()
            );
        }
    }
}
