//! Every lint rule against its fixtures, through the real `berth lint`: each rule has
//! `tests/fixtures/lint/<rule>/bad/`, a small repository (a plugin.txt, a
//! cumulocity.json or a Sesam config) that must raise the rule (its rendered report is
//! snapshotted), and `good/`, the corrected form, which must raise no error or warning
//! at all, and not the rule itself. A tidy test keeps `src/lint/rules/`, the registry and the fixtures in
//! step.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::{berth, output, run};

/// A rule as `berth lint --list-rules` prints it.
#[derive(Debug)]
struct Listed {
    id: String,
    name: String,
    severity: String,
}

/// The registry, in its order.
fn registry() -> Vec<Listed> {
    let (stdout, stderr, status) = run(&["lint", "--list-rules"]);
    assert_eq!(status, 0, "{stderr}");
    stdout
        .lines()
        .map(|line| {
            let mut words = line.split_whitespace();
            let mut next = || {
                words
                    .next()
                    .unwrap_or_else(|| panic!("short line: {line:?}"))
                    .to_string()
            };
            Listed {
                id: next(),
                name: next(),
                severity: next(),
            }
        })
        .collect()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint")
}

/// `berth lint <case>` run from the rule's fixture folder, so that the paths in the
/// report are the same on every machine: stderr and the exit code.
fn lint(rule: &str, case: &str) -> (String, i32) {
    let dir = fixtures().join(rule);
    let (_, stderr, status) = output(
        berth()
            .current_dir(&dir)
            .args(["lint", case])
            .output()
            .expect("berth runs"),
    );
    (stderr, status)
}

/// `berth lint --format json <case>` from the rule's fixture folder.
fn lint_json(rule: &str, case: &str) -> serde_json::Value {
    let dir = fixtures().join(rule);
    let (stdout, stderr, _) = output(
        berth()
            .current_dir(&dir)
            .args(["lint", "--format", "json", case])
            .output()
            .expect("berth runs"),
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{rule}/{case}: {e}\n{stderr}"))
}

/// The problem codes in a rendered report: miette prints each on a line of its own.
fn codes(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("berth::") && !l.contains(' '))
        .collect()
}

#[test]
fn every_rule_fires_on_its_bad_fixture_only() {
    let mut failures = Vec::new();
    for rule in registry() {
        let code = format!("berth::lint::{}", rule.name);
        let (bad, status) = lint(&rule.name, "bad");
        if !codes(&bad).contains(&code.as_str()) {
            failures.push(format!("{}: bad/ does not raise {code}:\n{bad}", rule.name));
            continue;
        }
        if rule.severity == "error" && status != 1 {
            failures.push(format!(
                "{}: an error must fail lint, got exit {status}",
                rule.name
            ));
        }
        insta::assert_snapshot!(rule.name.as_str(), bad);
        // The fix raises nothing worse than a note of another rule (a plugin with a
        // TARGET always gets `not-deployed`).
        let (good, status) = lint(&rule.name, "good");
        let noteworthy = lint_json(&rule.name, "good")["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["severity"] != "info" || p["code"] == code.as_str());
        if noteworthy || status != 0 {
            failures.push(format!("{}: good/ is not clean:\n{good}", rule.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn rule_files_registry_and_fixtures_agree() {
    let rules = registry();
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    let unique = |v: &[&str]| v.iter().collect::<BTreeSet<_>>().len() == v.len();
    assert!(unique(&names), "rule names repeat: {names:?}");
    assert!(unique(&ids), "rule ids repeat: {ids:?}");
    for rule in &rules {
        let n = &rule.name;
        assert!(
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "{n} is not kebab-case"
        );
        assert!(
            ["error", "warning", "info"].contains(&rule.severity.as_str()),
            "{n}: severity {}",
            rule.severity
        );
        for case in ["bad", "good"] {
            let fixture = fixtures().join(n).join(case);
            let inputs = std::fs::read_dir(&fixture).map_or(0, |d| d.count());
            assert!(inputs > 0, "{n} has no {}", fixture.display());
        }
    }

    // Each rule lives in the file named after it, and every file there is registered.
    let rules_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lint/rules");
    let files: BTreeSet<String> = std::fs::read_dir(&rules_dir)
        .expect("src/lint/rules is readable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".rs") && f != "mod.rs")
        .collect();
    let expected: BTreeSet<String> = names
        .iter()
        .map(|n| format!("{}.rs", n.replace('-', "_")))
        .collect();
    assert_eq!(files, expected, "rule files and registered rules differ");
    for file in &files {
        let text = std::fs::read_to_string(rules_dir.join(file)).expect("rule file");
        assert!(
            text.starts_with("//! "),
            "{file} does not start with a `//!` line"
        );
    }

    // No fixture folder without a rule.
    let folders: BTreeSet<String> = std::fs::read_dir(fixtures())
        .expect("fixtures/lint is readable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let registered: BTreeSet<String> = names.iter().map(|n| n.to_string()).collect();
    assert_eq!(folders, registered, "fixture folders and registered rules differ");
}

#[test]
fn every_rule_explains_itself() {
    for rule in registry() {
        let (stdout, stderr, status) = run(&["lint", "--explain", &rule.id]);
        assert_eq!(status, 0, "{}: {stderr}", rule.id);
        assert!(
            stdout.starts_with(&format!("{} ({},", rule.name, rule.id)),
            "{}: {stdout}",
            rule.id
        );
    }
}
