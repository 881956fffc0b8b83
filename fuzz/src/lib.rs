//! What the fuzz targets share: berth's whole use case over files in memory (load,
//! compile, lint, gate, observe the in-memory engine, plan, render), with the checks a
//! crash would break: every problem's place lies inside its file, and every problem and
//! plan renders.

use std::path::PathBuf;
use std::sync::OnceLock;

use berth::cli::report;
use berth::engine::fake::FakeDocker;
use berth::ops::Environment;
use berth::ops::load::{Inputs, load_from};
use berth::ops::plan::{PinRule, Request, Unplanned, make};
use berth::plan::view::human;
use berth::problem::Problem;
use berth::repo::memory::Memory;

/// One state directory for the whole run: planning makes its key once.
fn state_dir() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder"))
        .path()
        .to_path_buf()
}

/// One runtime for the whole run.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// A problem points inside its file, on character boundaries, and renders as a report
/// (not only as the one-line fallback `report::render` keeps for a bad span).
pub fn check(problem: &Problem) {
    if let (Some(file), Some(span)) = (&problem.file, problem.span) {
        let text = file.text();
        let spans = std::iter::once(span).chain(problem.related.iter().map(|r| r.span));
        for s in spans {
            assert!(
                s.start <= s.end && s.end <= text.len(),
                "{}: span {s:?} outside {} bytes",
                problem.code,
                text.len()
            );
            assert!(
                text.is_char_boundary(s.start) && text.is_char_boundary(s.end),
                "{}: span {s:?} cuts a character",
                problem.code
            );
        }
        let _ = problem.location();
    }
    let _ = report::render(problem, false);
    let _ = problem.one_line();
}

/// Loads, checks every problem, and when the configuration is valid plans it against
/// the in-memory engine and renders the plan as text and JSON. With `BERTH_FUZZ_PLANS`
/// set to a folder, each plan is saved there too: `fuzz/run` seeds the saved-plan
/// target with the plans of the corpus.
pub fn plan(files: &Memory) {
    let inputs = Inputs {
        paths: vec![".".into()],
        project: Some("fuzz".into()),
        ..Inputs::default()
    };
    let Ok(loaded) = load_from(files, &inputs) else {
        return;
    };
    loaded.compiled.problems.iter().for_each(check);
    if loaded.compiled.problems.iter().any(Problem::is_error) {
        return;
    }
    let env = Environment {
        state_dir: Some(state_dir()),
        ..Environment::default()
    };
    let request = Request {
        inputs: &inputs,
        files,
        targets: &[],
        prune: true,
        lock: None,
        stopping: None,
        destroy: false,
        pin: PinRule::Ignore,
    };
    let engine = FakeDocker::default();
    match runtime().block_on(make(&request, &env, &engine, &|_| {})) {
        Ok((planned, _)) => {
            let _ = human(&planned.plan, false);
            let json = report::json(&planned.view);
            if let Some(folder) = std::env::var_os("BERTH_FUZZ_PLANS") {
                let name = format!("{}.json", planned.view.desired_digest);
                let _ = std::fs::write(PathBuf::from(folder).join(name), json);
            }
        }
        Err(Unplanned::Invalid { problems, .. }) => problems.iter().for_each(check),
        Err(other) => {
            let _ = other.to_string();
        }
    }
}
