//! `berth compile --emit model`: the JSON form validates against
//! `schemas/model.schema.json` for the examples and the whole corpus, and the example's
//! model is pinned by a snapshot.

use std::path::PathBuf;

use serde_json::Value;

use crate::{run, shared_dir};

fn validator() -> jsonschema::Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/model.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("the model schema is a valid JSON Schema")
}

fn model_json(args: &[&str]) -> Value {
    let mut all = vec!["compile", "--emit", "model", "--format", "json"];
    all.extend(args);
    let (stdout, stderr, _) = run(&all);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}\n{stderr}"))
}

fn assert_valid(value: &Value) {
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Every folder under examples/ is a config repository: it lints with no error, and its
/// model validates and is pinned by a snapshot.
#[test]
fn examples_lint_clean_and_compile() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 2, "{dirs:?}");
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let run_here =
            |args: &[&str]| crate::output(crate::berth().current_dir(&dir).args(args).output().unwrap());
        let (_, stderr, status) = run_here(&["lint", "."]);
        assert_eq!(status, 0, "{name}: {stderr}");
        assert!(!stderr.contains("error"), "{name}: {stderr}");
        let (stdout, stderr, status) = run_here(&["compile", "--emit", "model", "--format", "json", "."]);
        assert_eq!(status, 0, "{name}: {stderr}");
        let model: Value = serde_json::from_str(&stdout).unwrap();
        assert_valid(&model);
        insta::assert_snapshot!(format!("example_{name}_model"), stdout);
    }
}

#[test]
fn corpus_models_are_valid() {
    let Some(shared) = shared_dir("model::corpus_models_are_valid") else {
        return;
    };
    let dir = shared.join("corpus/cosmos");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // The services COSMOS would deploy, counted from the oracle's own lines for the files
    // it installs, so the number is not just whatever berth printed.
    let mut expected = 0;
    let mut installable = Vec::new();
    for f in &files {
        let name = format!("{}.json", f.file_name().unwrap().to_string_lossy());
        let oracle: Value =
            serde_json::from_str(&std::fs::read_to_string(shared.join("oracle/cosmos").join(name)).unwrap())
                .unwrap();
        if oracle["ok"] != Value::Bool(true) {
            continue;
        }
        installable.push(f.to_string_lossy().into_owned());
        expected += oracle["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| {
                let n = l["params"].as_array().unwrap().len();
                match l["keyword"].as_str().unwrap() {
                    "MICROSERVICE" => n == 2,
                    "INTERFACE" | "ROUTER" => n >= 2,
                    _ => false,
                }
            })
            .count();
    }
    let args: Vec<&str> = installable.iter().map(String::as_str).collect();
    let model = model_json(&args);
    assert_valid(&model);
    assert_eq!(model["services"].as_array().unwrap().len(), expected);
}
