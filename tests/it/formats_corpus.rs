//! Every Cumulocity manifest and Sesam config in the corpus (and every Sesam JSON example
//! in the corpus READMEs) through `berth lint --format json`: the report validates
//! against `schemas/lint.schema.json`, real configs compile with no error, and the
//! outcome per file (counts, and each error's code and position) is pinned by a
//! snapshot, so a broken example keeps its error at the right line.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::shared_dir;

fn lint_report(dir: &Path, file: &str) -> Value {
    let out = crate::berth()
        .current_dir(dir)
        .args(["lint", "--format", "json", file])
        .output()
        .unwrap();
    let (stdout, stderr, _) = crate::output(out);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{file}: {e}\n{stderr}"))
}

fn lint_validator() -> jsonschema::Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/lint.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// One line per file: counts, then every error as `code@line:col`.
fn outcomes(format: &str) -> Option<(String, Vec<(String, Value)>)> {
    let shared = shared_dir(&format!("formats_corpus::{format}"))?;
    let dir = shared.join("corpus").join(format);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let validator = lint_validator();
    let mut summary = String::new();
    let mut reports = Vec::new();
    for name in names {
        let report = lint_report(&dir, &name);
        assert!(
            validator.is_valid(&report),
            "{name}: the report does not match lint.schema.json"
        );
        let errors: Vec<String> = report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["severity"] == "error")
            .map(|p| format!("{}@{}:{}", p["code"].as_str().unwrap(), p["line"], p["column"]))
            .collect();
        summary.push_str(&format!(
            "{name}: {} input(s), {}E {}W {}I{}\n",
            report["files"],
            report["errors"],
            report["warnings"],
            report["infos"],
            if errors.is_empty() {
                String::new()
            } else {
                format!("; {}", errors.join(", "))
            }
        ));
        reports.push((name, report));
    }
    Some((summary, reports))
}

#[test]
fn cumulocity_corpus() {
    let Some((summary, reports)) = outcomes("cumulocity") else {
        return;
    };
    assert_eq!(reports.len(), 66);
    // The three manifests that break platform rules (FORMATS.md §2.8 C4, C5) and nothing else.
    let failing: Vec<&str> = reports
        .iter()
        .filter(|(_, r)| r["errors"] != 0)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        failing,
        [
            "SoftwareAG__cumulocity-lora__nodejs__lora-codec-adeunis__cumulocity.json",
            "SoftwareAG__cumulocity-provision-epl__src__main__configuration__cumulocity.json",
            "SoftwareAG__cumulocity-python-api__samples__cumulocity.json",
        ]
    );
    insta::assert_snapshot!("cumulocity_corpus", summary);
}

#[test]
fn sesam_corpus() {
    let Some((summary, reports)) = outcomes("sesam") else {
        return;
    };
    // Real node configs all compile; only README examples may be broken.
    for (name, report) in &reports {
        if !name.ends_with(".md") && !name.ends_with(".rst") {
            assert_eq!(report["errors"], 0, "{name}: {report:#}");
            assert_eq!(report["files"], 1, "{name}");
        }
    }
    insta::assert_snapshot!("sesam_corpus", summary);
}

/// The whole corpus of the JSON formats compiles into a model that matches
/// `schemas/model.schema.json` (duplicate names across files are reported, but the
/// model is still printed).
#[test]
fn corpus_models_match_the_model_schema() {
    let Some(shared) = shared_dir("formats_corpus::models") else {
        return;
    };
    let schema_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/model.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for format in ["cumulocity", "sesam"] {
        let dir = shared.join("corpus").join(format);
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut args = vec!["compile", "--emit", "model", "--format", "json"];
        args.extend(files.iter().map(String::as_str));
        let out = crate::berth().current_dir(&dir).args(&args).output().unwrap();
        let (stdout, stderr, _) = crate::output(out);
        let model: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{format}: {e}\n{stderr}"));
        let errors: Vec<String> = validator
            .iter_errors(&model)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{format}: {}", errors.join("\n"));
        // Cumulocity: the 63 valid manifests less the 20 PER_TENANT ones, which run once
        // per berth.yaml tenant and there is none here. Sesam: the 26 node configs; the
        // README examples are checked but deploy nothing.
        let expected = if format == "cumulocity" { 43 } else { 26 };
        assert_eq!(model["services"].as_array().unwrap().len(), expected, "{format}");
        // No secret value can leak: every secret-bearing env value is a reference.
        assert!(
            !stdout.contains("$SECRET("),
            "{format}: an unconverted secret reference"
        );
    }
}
