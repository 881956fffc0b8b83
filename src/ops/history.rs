//! The history use case: the journal of a project's applies, rollbacks and destroys,
//! newest first, optionally of one service; and the earlier commit `berth rollback
//! --steps N` returns to.

use serde::Serialize;

use crate::failure::Failure;
use crate::store::journal::{self, Entry};

/// `berth history`'s document (schemas/history.schema.json).
#[derive(Debug, Serialize)]
pub struct History {
    pub format_version: &'static str,
    pub project: String,
    /// Newest first.
    pub entries: Vec<Entry>,
    /// Lines of the journal that are not an entry (damaged), by number.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub damaged_lines: Vec<usize>,
}

/// The project's journal, newest first; with `service`, only entries that changed it.
pub fn history(
    project: &str,
    state_dir: &std::path::Path,
    service: Option<&str>,
) -> Result<History, Failure> {
    let (mut entries, damaged_lines) = journal::entries(state_dir, project)
        .map_err(|e| Failure::new(format!("cannot read the journal of `{project}`: {e}")))?;
    entries.reverse();
    if let Some(service) = service {
        entries.retain(|e| e.touches(service));
    }
    Ok(History {
        format_version: "1",
        project: project.to_string(),
        entries,
        damaged_lines,
    })
}

/// The commit `steps` applies back: the journal's commits, newest first, starting with
/// the one the last apply was made from, each counted once per run of applies, and
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

#[cfg(test)]
mod tests {
    use super::*;

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
