//! The pre-commit integration, for real: the pre-commit framework (from PyPI, in a
//! temporary virtualenv) installs berth's `berth-lint` hook from this checkout, and a
//! commit of a bad plugin.txt is refused with berth's diagnostic while a good one passes.
//!
//! It needs python3 with venv, PyPI and this checkout as a git repository (the hook is
//! taken from its HEAD commit). A missing piece fails the test, unless the run allows
//! skipping (`crate::skip`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::output;

fn skip_or_fail(why: &str) {
    crate::skip("pre_commit", why);
}

fn sh(cmd: &mut Command) -> (String, String, i32) {
    output(cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}")))
}

fn git(dir: &Path, args: &[&str]) -> (String, String, i32) {
    sh(Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "berth test")
        .env("GIT_AUTHOR_EMAIL", "test@berth.invalid")
        .env("GIT_COMMITTER_NAME", "berth test")
        .env("GIT_COMMITTER_EMAIL", "test@berth.invalid"))
}

#[test]
fn a_commit_with_a_bad_plugin_is_refused() {
    let checkout = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (head, _, status) = git(&checkout, &["rev-parse", "HEAD"]);
    if status != 0 {
        return skip_or_fail("this checkout is not a git repository");
    }
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join("venv");
    if sh(Command::new("python3").args(["-m", "venv"]).arg(&venv)).2 != 0 {
        return skip_or_fail("python3 -m venv failed");
    }
    let (_, stderr, status) =
        sh(Command::new(venv.join("bin/pip")).args(["install", "--quiet", "pre-commit"]));
    if status != 0 {
        return skip_or_fail(&format!("pip install pre-commit failed: {stderr}"));
    }

    let repo = tmp.path().join("config-repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "--quiet", "-b", "main"]);
    std::fs::write(
        repo.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: {}\n    rev: {}\n    hooks:\n      - id: berth-lint\n",
            checkout.display(),
            head.trim()
        ),
    )
    .unwrap();
    let pre_commit = |args: &[&str]| {
        sh(Command::new(venv.join("bin/pre-commit"))
            .current_dir(&repo)
            .args(args)
            .env("PRE_COMMIT_HOME", tmp.path().join("cache"))
            // The hook is built with cargo; sharing this checkout's target folder keeps
            // a rebuild incremental.
            .env("CARGO_TARGET_DIR", checkout.join("target/pre-commit"))
            .env("NO_COLOR", "1"))
    };
    let (stdout, stderr, status) = pre_commit(&["install"]);
    assert_eq!(status, 0, "{stdout}{stderr}");

    // A MICROSERVICE without its name: COSMOS would refuse the plugin.
    std::fs::write(
        repo.join("plugin.txt"),
        "MICROSERVICE EXAMPLE\n  CMD ruby example.rb\n",
    )
    .unwrap();
    git(&repo, &["add", "."]);
    let (stdout, stderr, status) = git(&repo, &["commit", "--quiet", "-m", "bad"]);
    let said = format!("{stdout}{stderr}");
    assert_ne!(status, 0, "the commit must be refused:\n{said}");
    assert!(
        said.contains("berth::lint::parameter-count"),
        "berth's diagnostic is shown:\n{said}"
    );
    assert!(said.contains("plugin.txt:1:1"), "{said}");

    std::fs::write(
        repo.join("plugin.txt"),
        "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n",
    )
    .unwrap();
    git(&repo, &["add", "."]);
    let (stdout, stderr, status) = git(&repo, &["commit", "--quiet", "-m", "good"]);
    assert_eq!(status, 0, "a good plugin commits:\n{stdout}{stderr}");
}
