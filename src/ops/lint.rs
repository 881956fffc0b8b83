//! The lint use case: compile the repository (the whole one around the files named, as
//! pre-commit names them, so that rules across files are right), apply berth.yaml's rule
//! levels and the command line's over them, keep the named files' problems, and say
//! whether the run fails (an error, or more warnings than allowed).

use std::path::Path;

use super::load::{Inputs, load};
use crate::failure::Failure;
use crate::lint::policy::{Level, Levels};
use crate::problem::{Problem, Severity};
use crate::repo::Files;

/// What to lint and how strictly.
pub struct Request<'a> {
    pub inputs: &'a Inputs,
    /// Rules made errors, warnings, or silenced, over berth.yaml's levels.
    pub deny: &'a [String],
    pub warn: &'a [String],
    pub allow: &'a [String],
    /// Fail with more warnings than this [default: berth.yaml's].
    pub max_warnings: Option<usize>,
}

/// What a lint found.
pub struct Linted {
    /// By file and position.
    pub problems: Vec<Problem>,
    /// How many files were read (or named).
    pub files: usize,
    pub tally: Tally,
    /// An error, or more warnings than allowed.
    pub failed: bool,
}

/// Lints what `request` names; `files` is where paths are looked up (the filesystem),
/// `state_dir` holds mirrors of repositories read by URL.
pub fn lint(
    request: &Request<'_>,
    files: &dyn Files,
    state_dir: Option<&Path>,
    warn: &dyn Fn(&str),
) -> Result<Linted, Failure> {
    let inputs = request.inputs;
    // Given only some files (as pre-commit does), compile the whole repository around
    // them, so cross-file rules are right, and report only the named files' problems.
    let (loaded, only) = match inputs.enclosing_repository(files) {
        Some(whole) => (load(&whole, files, state_dir, warn)?, Some(inputs.named_files())),
        None => (load(inputs, files, state_dir, warn)?, None),
    };
    let config = &loaded.config.lint;
    // berth.yaml's levels, then the flags over them.
    let levels = Levels::from_config(config).and_then(|mut levels| {
        levels.set(request.allow, Level::Allow)?;
        levels.set(request.warn, Level::Warn)?;
        levels.set(request.deny, Level::Deny)?;
        Ok(levels)
    });
    let levels = levels.map_err(|e| Failure::new(e).with_help("`berth lint --list-rules` lists them"))?;
    let nothing = only.is_none().then(|| loaded.nothing_read(inputs)).flatten();
    let mut problems = levels.apply(loaded.compiled.problems);
    // A folder with nothing berth reads passes no check: that is worth a warning.
    if let Some((message, help)) = nothing {
        problems.insert(
            0,
            Problem::new("berth::load::nothing-read", Severity::Warning, message).with_help(help),
        );
    }
    if let Some(only) = &only {
        problems.retain(|p| p.file.as_ref().is_none_or(|f| only.iter().any(|o| o == f.name())));
    }
    let files = only.as_ref().map_or(loaded.files, Vec::len);
    let max_warnings = request.max_warnings.or(config.max_warnings);
    let mut tally = Tally::default();
    problems.iter().for_each(|p| tally.add(p));
    let failed = tally.errors > 0 || max_warnings.is_some_and(|max| tally.warnings > max);
    Ok(Linted {
        problems,
        files,
        tally,
        failed,
    })
}

/// Counts by severity.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Tally {
    pub fn add(&mut self, problem: &Problem) {
        match problem.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Info => self.infos += 1,
        }
    }

    /// "2 errors, 1 warning in 5 files", or "no problems in 5 files".
    pub fn summary(&self, files: usize) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let parts: Vec<String> = [
            (self.errors, "error"),
            (self.warnings, "warning"),
            (self.infos, "note"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| plural(n, w))
        .collect();
        let what = if parts.is_empty() {
            "no problems".to_string()
        } else {
            parts.join(", ")
        };
        format!("{what} in {}", plural(files, "file"))
    }
}
