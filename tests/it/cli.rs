//! The command line itself: help, version, completions, exit codes.

use crate::run;

#[test]
fn every_command_has_help() {
    for cmd in [
        &["--help"][..],
        &["lint", "--help"],
        &["compile", "--help"],
        &["completions", "--help"],
    ] {
        let (stdout, _, status) = run(cmd);
        assert_eq!(status, 0, "{cmd:?}");
        assert!(stdout.contains("Usage: berth"), "{cmd:?}: {stdout}");
    }
}

#[test]
fn version_names_the_package_version() {
    let (stdout, _, status) = run(&["--version"]);
    assert_eq!(status, 0);
    assert_eq!(stdout.trim(), format!("berth {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn completions_for_bash_mention_subcommands() {
    let (stdout, _, status) = run(&["completions", "bash"]);
    assert_eq!(status, 0);
    assert!(stdout.contains("compile") && stdout.contains("lint"));
}
