//! The command line itself: help, version, completions, exit codes.

use crate::run;

#[test]
fn every_command_has_help() {
    for cmd in [
        &["--help"][..],
        &["lint", "--help"],
        &["compile", "--help"],
        &["plan", "--help"],
        &["apply", "--help"],
        &["status", "--help"],
        &["unlock", "--help"],
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

/// A temporary folder holding the given files.
fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

fn run_in(dir: &std::path::Path, args: &[&str]) -> (String, String, i32) {
    crate::output(crate::berth().current_dir(dir).args(args).output().unwrap())
}

#[test]
fn lint_exit_codes() {
    let good = tree(&[(
        "plugin.txt",
        b"MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n",
    )]);
    let (_, stderr, status) = run_in(good.path(), &["lint"]);
    assert_eq!((status, stderr.trim()), (0, "no problems in 1 file"));

    let bad = tree(&[("plugin.txt", b"MICROSERVICE EXAMPLE\n  CMD ruby example.rb\n")]);
    let (_, stderr, status) = run_in(bad.path(), &["lint"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("berth::lint::parameter-count"), "{stderr}");
    assert!(stderr.trim_end().ends_with("1 error in 1 file"), "{stderr}");
}

#[test]
fn folders_are_searched_for_plugin_txt_in_path_order() {
    let dir = tree(&[
        ("b/plugin.txt", b"MICROSERVICE B b\n  CMD run\n"),
        ("a/deeper/plugin.txt", b"MICROSERVICE A a\n  CMD run\n"),
        ("a/notes.txt", b"NOT A PLUGIN\n"),
    ]);
    let (stdout, stderr, status) = run_in(dir.path(), &["compile", "--emit", "raw-lines", "."]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(
        stdout,
        "a/deeper/plugin.txt:1: MICROSERVICE A a\na/deeper/plugin.txt:2: CMD run\n\
         b/plugin.txt:1: MICROSERVICE B b\nb/plugin.txt:2: CMD run\n"
    );
}

#[test]
fn invalid_utf8_is_an_error_with_the_byte_offset() {
    let dir = tree(&[("plugin.txt", b"MICROSERVICE EX ex\n  ENV K caf\xe9\n  CMD run\n")]);
    let (_, stderr, status) = run_in(dir.path(), &["lint", "plugin.txt"]);
    assert_eq!(status, 1);
    assert!(stderr.contains("berth::parse::invalid-utf8"), "{stderr}");
    assert!(stderr.contains("invalid byte at offset 30"), "{stderr}");
    assert!(stderr.contains("plugin.txt:2:12"), "{stderr}");
}

#[test]
fn unknown_keyword_suggests_the_closest_one() {
    let dir = tree(&[("plugin.txt", b"MICROSERVCE EX ex\n")]);
    let (_, stderr, status) = run_in(dir.path(), &["lint", "plugin.txt"]);
    assert_eq!(status, 1);
    assert!(stderr.contains("did you mean `MICROSERVICE`?"), "{stderr}");
}

#[test]
fn explain_and_list_rules() {
    let (stdout, _, status) = run(&["lint", "--explain", "P3"]);
    assert_eq!(status, 0);
    assert!(
        stdout.starts_with("parameter-count (P3, default level: error)"),
        "{stdout}"
    );
    assert!(stdout.contains("Use instead"));
    let (stdout, _, _) = run(&["lint", "--list-rules"]);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("P1 ") && l.contains("unknown-keyword"))
    );
    let (_, stderr, status) = run(&["lint", "--explain", "no-such-rule"]);
    assert_eq!(status, 1);
    assert!(
        stderr.contains("no lint rule is called `no-such-rule`"),
        "{stderr}"
    );
}

#[test]
fn max_warnings_turns_warnings_into_failure() {
    // Two warnings: neither MICROSERVICE has a CMD.
    let dir = tree(&[("plugin.txt", b"MICROSERVICE A a\nMICROSERVICE B b\n")]);
    let (_, stderr, status) = run_in(dir.path(), &["lint"]);
    assert_eq!(status, 0, "warnings alone pass: {stderr}");
    assert!(stderr.trim_end().ends_with("2 warnings in 1 file"), "{stderr}");
    let (_, _, status) = run_in(dir.path(), &["lint", "--max-warnings", "2"]);
    assert_eq!(status, 0);
    let (_, _, status) = run_in(dir.path(), &["lint", "--max-warnings", "1"]);
    assert_eq!(status, 1);
}

#[test]
fn berth_yaml_discovery_globs_choose_the_inputs() {
    let dir = tree(&[
        (
            "berth.yaml",
            b"discovery:\n  include: [\"plugins/**/plugin.txt\", \"services/*.json\"]\n  exclude: [\"plugins/old/**\"]\n",
        ),
        ("plugins/a/plugin.txt", b"MICROSERVICE A a\n  CMD run\n"),
        ("plugins/old/plugin.txt", b"MICROSERVICE OLD old\n  CMD run\n"),
        ("other/plugin.txt", b"MICROSERVICE OTHER other\n  CMD run\n"),
        (
            "services/orders.json",
            br#"{"_id": "orders", "type": "system:microservice", "docker": {"image": "o:1", "port": 80}}"#,
        ),
    ]);
    let (stdout, stderr, status) = run_in(dir.path(), &["compile", "--format", "json", "."]);
    assert_eq!(status, 0, "{stderr}");
    let model: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = model["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["DEFAULT__USER__A", "orders"]);
}

#[test]
fn model_yaml_is_the_json_document() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fleet");
    let as_json = run_in(std::path::Path::new(dir), &["compile", "--format", "json", "."]).0;
    let as_yaml = run_in(std::path::Path::new(dir), &["compile", "--format", "yaml", "."]).0;
    let from_yaml = berth::parse::yaml::parse(&as_yaml).expect("valid YAML").value;
    let from_json: serde_json::Value = serde_json::from_str(&as_json).unwrap();
    assert_eq!(from_yaml, from_json);
}

#[test]
fn plain_text_credentials_are_never_printed() {
    let dir = tree(&[
        ("plugin.txt", b"MICROSERVICE A a\n  CMD run\n  ENV API_TOKEN hunter2-cosmos\n  ENV LOG_LEVEL debug\n"),
        (
            "berth.yaml",
            b"cumulocity:\n  bootstrap_password: hunter2-c8y\n  tenants: [{id: t1, user: u, password: hunter2-tenant}]\n",
        ),
        (
            "c8y/cumulocity.json",
            br#"{"apiVersion": "2", "name": "m", "version": "1.0.0", "provider": {"name": "x"}, "isolation": "PER_TENANT"}"#,
        ),
        (
            "systems/s.conf.json",
            br#"{"_id": "ss", "type": "system:microservice", "docker": {"image": "a:1", "port": 80,
                "username": "u", "password": "hunter2-registry", "environment": {"DB_PASSWORD": "hunter2-env"}}}"#,
        ),
    ]);
    for format in ["text", "json", "yaml"] {
        let (stdout, stderr, _) = run_in(dir.path(), &["compile", "--format", format, "."]);
        assert!(
            !stdout.contains("hunter2") && !stderr.contains("hunter2"),
            "{format}:\n{stdout}{stderr}"
        );
        assert!(stdout.contains("<redacted>"), "{format}:\n{stdout}");
        assert!(stdout.contains("debug"), "ordinary values are shown: {stdout}");
    }
}

#[test]
fn a_repeated_sesam_id_in_one_file_is_an_error() {
    let dir = tree(&[(
        "systems/all.json",
        br#"[{"_id": "ms", "type": "system:microservice", "docker": {"image": "a:1", "port": 80}},
             {"_id": "ms", "type": "system:microservice", "docker": {"image": "b:1", "port": 80}}]"#,
    )]);
    let (_, stderr, status) = run_in(dir.path(), &["lint", "."]);
    assert_eq!(status, 1, "{stderr}");
    assert_eq!(
        stderr.matches("two services are named `ms`").count(),
        2,
        "{stderr}"
    );
}

#[test]
fn a_usage_error_exits_1_not_2() {
    // 2 is reserved for "changes present" (plan --detailed-exitcode).
    let (_, stderr, status) = run(&["lint", "--no-such-flag"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("unexpected argument"), "{stderr}");
}

#[test]
fn sesam_pipes_must_use_declared_systems() {
    let ms = |id: &str| {
        format!(
            r#"{{"_id": "{id}", "type": "system:microservice", "docker": {{"image": "a:1", "port": 80}}}}"#
        )
    };
    let dir = tree(&[
        ("node/systems/orders.conf.json", ms("orders").as_bytes()),
        ("node/systems/unused.conf.json", ms("unused").as_bytes()),
        ("node/systems/crm.conf.json", br#"{"_id": "crm", "type": "system:url", "base_url": "http://crm"}"#),
        (
            "node/pipes/sync.conf.json",
            br#"{"_id": "sync", "type": "pipe", "source": {"type": "json", "system": "orders"},
                "sink": {"type": "json", "system": "ordrs"}, "transform": [{"type": "http", "system": "crm"}]}"#,
        ),
    ]);
    let (_, stderr, status) = run_in(dir.path(), &["lint", "."]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("no system is called `ordrs`"), "{stderr}");
    assert!(stderr.contains("did you mean `orders`?"), "{stderr}");
    assert!(
        stderr.contains("no pipe uses the microservice `unused`"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("`crm`") && !stderr.contains("not-deployed"),
        "{stderr}"
    );
    let (stdout, _, _) = run_in(dir.path(), &["compile", "--format", "json", "."]);
    let model: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        model["services"].as_array().unwrap().len(),
        2,
        "pipes and url systems deploy nothing"
    );
}

/// A folder with nothing berth reads (a typo in a path, a wrong folder) passes nothing
/// silently: lint warns, and plan refuses unless removing everything is meant.
#[test]
fn a_folder_with_nothing_to_read_is_not_success() {
    let dir = tree(&[
        ("berth.yaml", b"project: berth-it-nothing\n"),
        ("docs/notes.txt", b"hi\n"),
    ]);
    let (stdout, stderr, status) = run_in(dir.path(), &["lint", "."]);
    assert_eq!(status, 0, "a warning: {stdout}{stderr}");
    assert!(
        stderr.contains("no COSMOS plugin.txt, Cumulocity manifest or Sesam config under ."),
        "{stderr}"
    );
    let (stdout, _, _) = run_in(dir.path(), &["lint", "--format", "json", "."]);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["warnings"], 1, "{report}");
    assert_eq!(report["problems"][0]["code"], "berth::load::nothing-read");

    for command in ["plan", "apply"] {
        let (stdout, stderr, status) = run_in(dir.path(), &[command, "."]);
        assert_eq!(status, 1, "{command}: {stdout}{stderr}");
        assert!(
            stderr.contains("no COSMOS plugin.txt") && stderr.contains("--prune"),
            "{stderr}"
        );
    }
}
