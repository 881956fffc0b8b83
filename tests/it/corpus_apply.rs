//! Plans are promises, checked on files nobody here wrote: every Cumulocity manifest and
//! Sesam node config of the corpus is planned and applied on the real engine, each as a
//! project of its own, with a stand-in image tagged under every image name berth
//! derives (berth-demo `--stand-in`: 200 on every path, its arguments ignored). Each
//! case is either refused at plan with a diagnostic at file:line:col, or applied and
//! converged (the next plan is empty); a plan that succeeds followed by an apply that
//! fails is a broken promise, and there must be none.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use serde_json::Value;

use crate::engine::{IMAGE, demo_image, docker};
use crate::shared_dir;

/// Cases applied side by side: each takes one network from the engine's pools (about 30),
/// and a few manifests wait minutes for their probes' initial delay.
const SIDE_BY_SIDE: usize = 10;

/// One corpus file set up as a repository of its own.
struct Case {
    name: String,
    repo: tempfile::TempDir,
    state: tempfile::TempDir,
    project: String,
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The configuration does not compile (lint errors), at their place: the first.
    Invalid(String),
    /// Compiled, but the plan refused it (what the engine would not do), at its place:
    /// the first error line.
    Refused(String),
    /// Planned, applied, and the next plan was empty.
    Converged,
    /// Planned, but the apply failed, or did not converge.
    Broken(String),
}

impl Case {
    fn berth(&self, args: &[&str]) -> (String, String, i32) {
        crate::engine::berth_in(self.repo.path(), self.state.path(), args)
    }

    fn clean(&self) {
        let label = format!("label=berth.project={}", self.project);
        let (ids, _, _) = docker(&["ps", "-aq", "--filter", &label]);
        for id in ids.lines() {
            docker(&["rm", "-f", id]);
        }
        let (networks, _, _) = docker(&["network", "ls", "-q", "--filter", &label]);
        for id in networks.lines() {
            docker(&["network", "rm", id]);
        }
    }

    fn run(&self) -> Outcome {
        self.clean();
        let (stdout, stderr, status) = self.berth(&["plan", "--detailed-exitcode"]);
        let outcome = match status {
            1 => {
                // Every refusal names its place: file:line:col.
                if !has_location(&stderr) {
                    Outcome::Broken(format!("refused without a place:\n{stdout}{stderr}"))
                } else if stderr.contains("nothing was planned") {
                    let first = stderr
                        .lines()
                        .map(str::trim)
                        .find(|l| l.starts_with('×'))
                        .unwrap_or_default();
                    Outcome::Invalid(first.to_string())
                } else {
                    let first = stderr
                        .lines()
                        .find(|l| l.starts_with("error: "))
                        .unwrap_or_default();
                    Outcome::Refused(first.to_string())
                }
            }
            2 => {
                let (out, err, status) = self.berth(&["apply", "--auto-approve"]);
                if status != 0 {
                    Outcome::Broken(format!("apply failed:\n{out}{err}"))
                } else {
                    match self.berth(&["plan", "--detailed-exitcode"]) {
                        (_, _, 0) => Outcome::Converged,
                        (out, err, _) => Outcome::Broken(format!("not converged:\n{out}{err}")),
                    }
                }
            }
            _ => Outcome::Broken(format!("plan exited {status}:\n{stdout}{stderr}")),
        };
        self.clean();
        outcome
    }
}

/// Whether `text` names a place in a JSON file: `.json:LINE:COL`.
fn has_location(text: &str) -> bool {
    text.match_indices(".json:").any(|(i, m)| {
        let rest = &text[i + m.len()..];
        let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
        let line = digits(rest);
        line > 0 && rest[line..].starts_with(':') && digits(&rest[line + 1..]) > 0
    })
}

/// The names a text's `$SECRET(name)` references use.
fn secret_names(text: &str) -> BTreeSet<String> {
    text.split("$SECRET(")
        .skip(1)
        .filter_map(|rest| rest.split_once(')'))
        .map(|(name, _)| name.to_string())
        .filter(|name| !name.is_empty() && !name.contains(['/', '\\']))
        .collect()
}

/// `@name@` placeholders in a manifest, each given a value in berth.yaml's `vars`, as a
/// build would (an unresolved one is the plan's to refuse, which other tests check).
fn placeholders(text: &str) -> BTreeSet<String> {
    text.split('@')
        .skip(1)
        .step_by(2)
        .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
        .map(String::from)
        .collect()
}

fn cases(shared: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for format in ["cumulocity", "sesam"] {
        let dir = shared.join("corpus").join(format);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| format == "cumulocity" || !(n.ends_with(".md") || n.ends_with(".rst")))
            .collect();
        names.sort();
        for name in names {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            let repo = tempfile::tempdir().unwrap();
            let project = format!("berth-it-corpus-{}", cases.len());
            let mut yaml = format!(
                "project: {project}\ncumulocity:\n  tenants: [{{id: t1, user: service-user, password: not-a-secret}}]\n"
            );
            // Every $SECRET(...) gets a stand-in value, so that the file is applied.
            let secrets = secret_names(&text);
            if !secrets.is_empty() {
                std::fs::create_dir(repo.path().join("secrets")).unwrap();
                for name in &secrets {
                    std::fs::write(repo.path().join("secrets").join(name), "stand-in").unwrap();
                }
                yaml.push_str("secrets:\n  providers:\n    - { type: dir, path: secrets }\n");
            }
            let file = if format == "cumulocity" {
                let vars = placeholders(&text);
                if !vars.is_empty() {
                    yaml.push_str("vars:\n");
                    for v in vars {
                        // A value of the kind the build would give: a quantity where
                        // the placeholder stands for one, else a version.
                        let value = if v.contains("cpu") {
                            "0.5"
                        } else if v.contains("memory") {
                            "256M"
                        } else {
                            "1.0.0"
                        };
                        yaml.push_str(&format!("  \"{v}\": \"{value}\"\n"));
                    }
                }
                "cumulocity.json".to_string()
            } else {
                std::fs::create_dir(repo.path().join("systems")).unwrap();
                format!(
                    "systems/{}.conf.json",
                    name.trim_end_matches(".txt").trim_end_matches(".conf.json")
                )
            };
            std::fs::write(repo.path().join(&file), &text).unwrap();
            std::fs::write(repo.path().join("berth.yaml"), yaml).unwrap();
            cases.push(Case {
                name: format!("{format}/{name}"),
                repo,
                state: tempfile::tempdir().unwrap(),
                project,
            });
        }
    }
    cases
}

/// The images the cases' models name, and every port their services listen on or are
/// probed on.
fn images_and_ports(cases: &[Case]) -> (BTreeSet<String>, BTreeSet<u64>) {
    let mut images = BTreeSet::new();
    let mut ports = BTreeSet::from([80]);
    for case in cases {
        let (stdout, _, status) = case.berth(&["compile", "--emit", "model", "--format", "json"]);
        if status != 0 {
            continue;
        }
        let model: Value = serde_json::from_str(&stdout).unwrap();
        for s in model["services"].as_array().unwrap() {
            if let Some(image) = s["image"].as_str() {
                images.insert(image.to_string());
            }
            ports.extend(
                s["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|p| p["number"].as_u64()),
            );
            for probe in ["liveness", "readiness"] {
                ports.extend(s["probes"][probe]["action"]["port"].as_u64());
            }
        }
    }
    (images, ports)
}

#[test]
fn every_real_manifest_and_node_config_is_refused_at_plan_or_applied_and_converged() {
    let Some(shared) = shared_dir("corpus_apply") else {
        return;
    };
    let _engine = crate::engine::ENGINE.read().unwrap_or_else(|e| e.into_inner());
    demo_image();
    let cases = cases(&shared);
    let (images, ports) = images_and_ports(&cases);

    // One stand-in image listening on every port any case uses, tagged under each name.
    let context = tempfile::tempdir().unwrap();
    let ports: Vec<String> = ports
        .iter()
        .flat_map(|p| ["\"--port\"".to_string(), format!("\"{p}\"")])
        .collect();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!(
            "FROM {IMAGE}\nENTRYPOINT [\"/berth-demo\", \"--stand-in\", {}]\nCMD []\n",
            ports.join(", ")
        ),
    )
    .unwrap();
    let stand_in = "berth-it-stand-in:corpus";
    let context_path = context.path().to_str().unwrap();
    let (_, stderr, status) = docker(&["build", "--quiet", "--tag", stand_in, context_path]);
    assert_eq!(status, 0, "{stderr}");
    let tagged: Vec<&String> = images
        .iter()
        .filter(|image| docker(&["image", "inspect", image.as_str()]).2 != 0)
        .filter(|image| docker(&["tag", stand_in, image.as_str()]).2 == 0)
        .collect();

    let queue = Mutex::new(cases.iter().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..SIDE_BY_SIDE {
            scope.spawn(|| {
                loop {
                    // Not in a `while let`: its guard would live through the run.
                    let next = queue.lock().unwrap().pop();
                    let Some(case) = next else { break };
                    let outcome = case.run();
                    results.lock().unwrap().push((case.name.clone(), outcome));
                }
            });
        }
    });
    for image in &tagged {
        docker(&["rmi", image.as_str()]);
    }
    docker(&["rmi", stand_in]);

    let results = results.into_inner().unwrap();
    let count = |f: &dyn Fn(&Outcome) -> bool| results.iter().filter(|(_, o)| f(o)).count();
    let broken: Vec<String> = results
        .iter()
        .filter_map(|(name, o)| match o {
            Outcome::Broken(why) => Some(format!("{name}: {why}")),
            _ => None,
        })
        .collect();
    eprintln!(
        "corpus_apply: {} cases: {} invalid, {} refused at plan, {} applied and converged, {} broken promises",
        results.len(),
        count(&|o| matches!(o, Outcome::Invalid(_))),
        count(&|o| matches!(o, Outcome::Refused(_))),
        count(&|o| *o == Outcome::Converged),
        broken.len()
    );
    for (name, outcome) in &results {
        match outcome {
            Outcome::Invalid(why) => eprintln!("corpus_apply: invalid {name}: {why}"),
            Outcome::Refused(why) => eprintln!("corpus_apply: refused {name}: {why}"),
            _ => {}
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n\n"));
    assert_eq!(results.len(), cases.len());
    // Most real files are fine: a refusal of nearly everything would be a bug too.
    assert!(
        count(&|o| *o == Outcome::Converged) >= results.len() / 2,
        "{results:?}"
    );
}
