//! `berth lint` as a CI and pre-commit product: output formats (json, SARIF, GitHub
//! annotations), rule levels from flags and berth.yaml, inline suppression, and
//! linting a few files of a repository with cross-file rules resolved against all of it.

use serde_json::Value;

use crate::output;

fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn lint(dir: &tempfile::TempDir, args: &[&str]) -> (String, String, i32) {
    let mut all = vec!["lint"];
    all.extend(args);
    output(
        crate::berth()
            .current_dir(dir.path())
            .args(&all)
            .output()
            .unwrap(),
    )
}

/// Two warnings (`missing-cmd`) in one plugin.
const NO_CMD: &str = "MICROSERVICE A a\nMICROSERVICE B b\n";

#[test]
fn sarif_describes_rules_and_locates_results() {
    let dir = repo(&[("plugin.txt", NO_CMD)]);
    let (stdout, _, status) = lint(&dir, &["--format", "sarif"]);
    assert_eq!(status, 0);
    let sarif: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let r = &results[0];
    assert_eq!(r["ruleId"], "berth::lint::missing-cmd");
    assert_eq!(r["level"], "warning");
    assert_eq!(
        rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"],
        r["ruleId"]
    );
    let region = &r["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "plugin.txt"
    );
    assert!(
        rules
            .iter()
            .all(|r| r["defaultConfiguration"]["level"].is_string())
    );
}

#[test]
fn github_annotations_are_workflow_commands() {
    let dir = repo(&[("plugin.txt", NO_CMD)]);
    let (stdout, _, _) = lint(&dir, &["--format", "github"]);
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with("::warning file=plugin.txt,line=1,col=1,title=berth%3A%3Alint%3A%3Amissing-cmd::"),
        "{first}"
    );
    assert_eq!(stdout.lines().count(), 2);
}

#[test]
fn levels_from_flags_and_berth_yaml() {
    let dir = repo(&[("plugin.txt", NO_CMD)]);
    assert_eq!(lint(&dir, &[]).2, 0);
    let (_, stderr, status) = lint(&dir, &["--deny", "missing-cmd"]);
    assert_eq!(status, 1);
    assert!(stderr.trim_end().ends_with("2 errors in 1 file"), "{stderr}");
    let (_, stderr, _) = lint(&dir, &["--allow", "P14"]);
    assert!(stderr.trim_end().ends_with("no problems in 1 file"), "{stderr}");
    let (_, _, status) = lint(&dir, &["--deny", "no-such-rule"]);
    assert_eq!(status, 1);

    let dir = repo(&[
        ("plugin.txt", NO_CMD),
        ("berth.yaml", "lint:\n  deny: [missing-cmd]\n"),
    ]);
    assert_eq!(lint(&dir, &[]).2, 1, "berth.yaml denies it");
    assert_eq!(
        lint(&dir, &["--warn", "missing-cmd"]).2,
        0,
        "the command line wins"
    );
    let dir = repo(&[
        ("plugin.txt", NO_CMD),
        ("berth.yaml", "lint:\n  max_warnings: 1\n"),
    ]);
    assert_eq!(lint(&dir, &[]).2, 1);
}

#[test]
fn inline_comments_suppress_a_rule() {
    let text = "MICROSERVICE A a # berth:allow missing-cmd\n# berth:allow P14\nMICROSERVICE B b\n";
    let dir = repo(&[("plugin.txt", text)]);
    let (_, stderr, status) = lint(&dir, &[]);
    assert_eq!(status, 0);
    assert!(stderr.trim_end().ends_with("no problems in 1 file"), "{stderr}");
}

#[test]
fn some_files_are_linted_against_the_whole_repository() {
    // Two plugins declare the same service; pre-commit passes only the changed one.
    let a = "MICROSERVICE SAME same\n  CMD run\n";
    let dir = repo(&[
        ("berth.yaml", ""),
        ("one/plugin.txt", a),
        ("two/plugin.txt", a),
        ("three/plugin.txt", NO_CMD),
    ]);
    let (_, stderr, status) = lint(&dir, &["two/plugin.txt"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("two services are named `DEFAULT__USER__SAME`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the other one is at one/plugin.txt:1:1"),
        "{stderr}"
    );
    // Problems of files that were not named are not reported.
    assert!(!stderr.contains("three/plugin.txt"), "{stderr}");
    assert!(stderr.trim_end().ends_with("1 error in 1 file"), "{stderr}");
    // Linting the other file alone shows the same clash from its side.
    let (_, stderr, status) = lint(&dir, &["one/plugin.txt"]);
    assert_eq!(status, 1);
    assert!(
        stderr.contains("the other one is at two/plugin.txt:1:1"),
        "{stderr}"
    );
}

/// `berth compile .` in `dir`: stdout, stderr and the exit code.
fn compile(dir: &tempfile::TempDir) -> (String, String, i32) {
    output(
        crate::berth()
            .current_dir(dir.path())
            .args(["compile", "."])
            .output()
            .unwrap(),
    )
}

#[test]
fn compile_honours_suppression_and_berth_yaml_levels() {
    let plugin = "LEGACY_THING x # berth:allow unknown-keyword\nMICROSERVICE A a\n  CMD run\n";
    let dir = repo(&[("plugin.txt", plugin)]);
    let out = compile(&dir);
    assert_eq!(out.2, 0, "{}", out.1);
    let dir = repo(&[
        ("plugin.txt", "LEGACY_THING x\nMICROSERVICE A a\n  CMD run\n"),
        ("berth.yaml", "lint: { allow: [P1] }\n"),
    ]);
    let out = compile(&dir);
    assert_eq!(out.2, 0, "{}", out.1);
    let dir = repo(&[("plugin.txt", "LEGACY_THING x\nMICROSERVICE A a\n  CMD run\n")]);
    let out = compile(&dir);
    assert_eq!(out.2, 1, "without either, the unknown keyword stops compile");
}
