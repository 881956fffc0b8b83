//! berth's one integration test binary: the CLI run as a user runs it, against real
//! files. Modules by subject; shared helpers here.

#![allow(clippy::disallowed_methods)] // tests drive the real binary on real files

mod apply;
mod cli;
mod corpus_apply;
mod cosmos_oracle;
mod cosmos_runtime;
mod day;
mod engine;
mod faults;
mod formats_corpus;
mod git;
mod lint_cli;
mod lint_rules;
mod model;
mod nodes;
mod platforms;
mod pre_commit;
mod promises;
mod secrets;
mod state;
mod swarm;
mod tidy;
mod watch;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `berth` binary under test.
pub fn berth() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.env_remove("NO_COLOR");
    c
}

/// Runs berth with `args`, returning stdout, stderr and the exit code.
pub fn run(args: &[&str]) -> (String, String, i32) {
    output(berth().args(args).output().expect("berth runs"))
}

pub fn output(o: Output) -> (String, String, i32) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

/// The shared folder with `corpus/` and `oracle/`: `$BERTH_CORPUS`, else `../shared`
/// beside the checkout; when it is not there, the test is skipped (see `skip`).
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("BERTH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.join("corpus").is_dir() {
        return Some(dir);
    }
    skip(
        test,
        &format!("no corpus at {} (set BERTH_CORPUS)", dir.display()),
    );
    None
}

/// A test that cannot run here. It fails, saying what it needs, unless the run allows
/// skipping (`BERTH_ALLOW_SKIP=1`): then it is listed in `$BERTH_SKIPPED`, which
/// `tests/run` prints after the run, so that a skip is never mistaken for a pass.
pub fn skip(test: &str, why: &str) {
    assert!(
        std::env::var_os("BERTH_ALLOW_SKIP").is_some(),
        "{test} cannot run: {why}; `bash tests/run` installs what the tests need (or set BERTH_ALLOW_SKIP=1 to skip it)"
    );
    eprintln!("{test}: skipped: {why}");
    if let Some(file) = std::env::var_os("BERTH_SKIPPED") {
        use std::io::Write as _;
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(file)
            .and_then(|mut f| writeln!(f, "{test}: {why}"));
        appended.expect("the skip list is writable");
    }
}
