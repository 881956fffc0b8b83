//! The rollback use case: which earlier commit to return to (named, or N applies back
//! through the journal), the rollback's inputs, and the pin that holds the project (or
//! some services) there until `berth unpin` releases it.

use std::path::Path;

use super::load::Inputs;
use super::plan::{Located, Planned};
use crate::failure::Failure;
use crate::store::journal::{self, Entry, Pin};

/// What a rollback plans from: the inputs at the earlier commit, as the same project.
pub fn inputs(inputs: &Inputs, located: &Located, to: Option<&str>, steps: usize) -> Result<Inputs, Failure> {
    if inputs.repo.is_none() {
        return Err(Failure::new(
            "rollback needs git: this configuration is read from a folder, which keeps no earlier versions",
        )
        .with_help(
            "run it with --repo PATH|URL (the repository the folder comes from), as `berth watch` reads it",
        ));
    }
    let project = &located.identity.project;
    let commit = match to {
        Some(commit) => commit.to_string(),
        None => {
            let (entries, _) = journal::entries(&located.state_dir, project)
                .map_err(|e| Failure::new(format!("cannot read the journal of `{project}`: {e}")))?;
            earlier_commit(&entries, steps)?
        }
    };
    Ok(Inputs {
        reference: Some(commit),
        project: Some(project.clone()),
        ..inputs.clone()
    })
}

/// The commit `steps` applies back: the journal's commits, newest first, starting with
/// the one the last apply was made from, each counted once (its first time back), and
/// only from applies that completed (an incomplete one is no state to return to).
pub fn earlier_commit(entries: &[Entry], steps: usize) -> Result<String, Failure> {
    let mut applied = entries
        .iter()
        .rev()
        .filter(|e| e.kind != "destroy")
        .filter_map(|e| Some((e.commit.as_deref()?, e.outcome == "complete")));
    let Some((current, _)) = applied.next() else {
        return Err(Failure::new(
            "the journal records no apply from git, so there is nothing to roll back to",
        )
        .with_help("`berth rollback --to COMMIT` names the commit"));
    };
    let mut commits = vec![current];
    for (commit, complete) in applied {
        if complete && !commits.contains(&commit) {
            commits.push(commit);
        }
    }
    commits.get(steps).map(|c| c.to_string()).ok_or_else(|| {
        Failure::new(format!(
            "--steps {steps}: the journal holds {} earlier commit(s) applied completely",
            commits.len() - 1
        ))
        .with_help("`berth history` lists them; `berth rollback --to COMMIT` names any commit")
    })
}

/// Pins the planned project (or `services`) to the planned commit: written before any
/// step, so that a watcher waiting for the lock finds the pin, not the branch. Services
/// pinned to the same commit before stay pinned beside them; the pin it replaces, when
/// it was another.
pub fn pin(
    planned: &Planned,
    services: &[String],
    by: Option<String>,
    time: String,
) -> Result<(Pin, Option<Pin>), Failure> {
    let (state, project) = (&planned.state_dir, &planned.identity.project);
    let commit = planned.identity.commit.clone().unwrap_or_default();
    let before = journal::pin(state, project).ok().flatten();
    let mut pinned = services.to_vec();
    let mut replaced = before.clone();
    if let Some(before) = &before
        && before.commit == commit
        && !before.services.is_empty()
        && !services.is_empty()
    {
        pinned.extend(before.services.iter().filter(|s| !services.contains(s)).cloned());
        pinned.sort();
        replaced = None;
    }
    let pin = Pin {
        commit,
        services: pinned,
        time,
        by,
    };
    if before.as_ref() == Some(&pin) {
        replaced = None;
    }
    journal::set_pin(state, project, &pin).map_err(|e| Failure::caused("cannot write the pin", e))?;
    Ok((pin, replaced))
}

/// What `berth unpin` released.
#[derive(Debug, PartialEq, Eq)]
pub enum Released {
    /// Nothing was pinned (or only a damaged pin, now removed).
    Nothing,
    /// The whole pin.
    All,
    /// Some services; these stay pinned to `commit`.
    Some { left: Vec<String>, commit: String },
}

/// Releases the project's pin, or only `services` of a pin that names services.
pub fn release(state: &Path, project: &str, services: &[String]) -> Result<Released, Failure> {
    let cannot = |e: std::io::Error| Failure::caused("cannot remove the pin", e);
    // A damaged pin is removed like a good one.
    let Ok(Some(mut pin)) = journal::pin(state, project) else {
        journal::unpin(state, project).map_err(cannot)?;
        return Ok(Released::Nothing);
    };
    if !services.is_empty() {
        if pin.services.is_empty() {
            return Err(Failure::new(format!(
                "the whole project `{project}` is pinned, not single services"
            ))
            .with_help("`berth unpin` without services releases it"));
        }
        if let Some(unknown) = services.iter().find(|s| !pin.services.contains(s)) {
            return Err(Failure::new(format!(
                "`{unknown}` is not pinned; pinned: {}",
                pin.services.join(", ")
            )));
        }
        pin.services.retain(|s| !services.contains(s));
        if !pin.services.is_empty() {
            journal::set_pin(state, project, &pin).map_err(|e| Failure::caused("cannot write the pin", e))?;
            return Ok(Released::Some {
                left: pin.services,
                commit: pin.commit,
            });
        }
    }
    journal::unpin(state, project).map_err(cannot)?;
    Ok(Released::All)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned(services: &[&str]) -> Pin {
        Pin {
            commit: "abc".into(),
            services: services.iter().map(|s| s.to_string()).collect(),
            time: "t".into(),
            by: None,
        }
    }

    #[test]
    fn unpin_releases_all_or_some_services() {
        let dir = tempfile::tempdir().unwrap();
        let (state, names) = (dir.path(), |n: &[&str]| {
            n.iter().map(|s| s.to_string()).collect::<Vec<_>>()
        });
        assert_eq!(release(state, "p", &[]).unwrap(), Released::Nothing);
        journal::set_pin(state, "p", &pinned(&["web", "api"])).unwrap();
        assert!(
            release(state, "p", &names(&["db"]))
                .unwrap_err()
                .to_string()
                .contains("not pinned")
        );
        assert_eq!(
            release(state, "p", &names(&["web"])).unwrap(),
            Released::Some {
                left: names(&["api"]),
                commit: "abc".into()
            }
        );
        assert_eq!(release(state, "p", &names(&["api"])).unwrap(), Released::All);
        assert_eq!(journal::pin(state, "p"), Ok(None));
        journal::set_pin(state, "p", &pinned(&[])).unwrap();
        assert!(
            release(state, "p", &names(&["web"])).is_err(),
            "a whole pin is released whole"
        );
        assert_eq!(release(state, "p", &[]).unwrap(), Released::All);
    }

    fn entry(commit: &str, outcome: &str, kind: &str) -> Entry {
        Entry {
            time: "t".into(),
            kind: kind.into(),
            by: None,
            engine: "e".into(),
            commit: Some(commit.into()),
            outcome: outcome.into(),
            done: "nothing".into(),
            failed: Vec::new(),
            reason: None,
            changes: Vec::new(),
        }
    }

    #[test]
    fn steps_count_commits_not_applies() {
        // Oldest first: a, b twice (a heal), a failed c, d, then a rollback to b.
        let entries = [
            entry("a", "complete", "apply"),
            entry("b", "complete", "apply"),
            entry("b", "complete", "apply"),
            entry("c", "incomplete", "apply"),
            entry("d", "complete", "apply"),
            entry("b", "complete", "rollback"),
            entry("b", "complete", "destroy"),
        ];
        assert_eq!(earlier_commit(&entries, 0).unwrap(), "b");
        assert_eq!(earlier_commit(&entries, 1).unwrap(), "d");
        // c never completed; b is already counted.
        assert_eq!(earlier_commit(&entries, 2).unwrap(), "a");
        let too_far = earlier_commit(&entries, 3).unwrap_err().to_string();
        assert!(too_far.contains("2 earlier commit(s)"), "{too_far}");
        assert!(earlier_commit(&[], 1).is_err());
    }
}
