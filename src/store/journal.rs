//! A small journal of applies in berth's state directory (`journal/<project>.jsonl`, the
//! last 100 per project): when each ran, from which commit, and how it ended. `berth
//! status` shows the last one. Kept out of labels, which cannot change after creation.
//! Beside it, `journal/<project>.converged`: the desired state `berth watch` last saw the
//! engine match, so that a watcher started again can still tell drift from a new commit.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How many applies are kept per project.
const KEEP: usize = 100;

/// One apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub time: String,
    pub engine: String,
    pub commit: Option<String>,
    /// `complete` or `incomplete`.
    pub outcome: String,
    /// What was done, `3 created, 1 replaced`.
    pub done: String,
    /// Steps that failed: `container (action): why`.
    pub failed: Vec<String>,
    /// Why the apply ran when the configuration did not change: `image update by
    /// schedule: web` (a scheduled pull found a new image behind the tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn path(state: &Path, project: &str) -> PathBuf {
    state
        .join("journal")
        .join(format!("{}.jsonl", crate::engine::naming::clean(project)))
}

/// The time now, for an entry.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Appends an entry, keeping the last `KEEP`.
pub fn record(state: &Path, project: &str, entry: &Entry) -> std::io::Result<()> {
    let path = path(state, project);
    std::fs::create_dir_all(path.parent().unwrap_or(state))?;
    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .map(|t| t.lines().map(String::from).collect())
        .unwrap_or_default();
    lines.push(serde_json::to_string(entry).unwrap_or_default());
    let start = lines.len().saturating_sub(KEEP);
    // Written aside and renamed: a reader never sees half a journal.
    let temporary = path.with_extension("jsonl.tmp");
    let mut file = std::fs::File::create(&temporary)?;
    for line in &lines[start..] {
        writeln!(file, "{line}")?;
    }
    file.sync_all()?;
    std::fs::rename(temporary, path)
}

fn converged_path(state: &Path, project: &str) -> PathBuf {
    state
        .join("journal")
        .join(format!("{}.converged", crate::engine::naming::clean(project)))
}

/// The desired-state digest the engine was last seen matching.
pub fn converged(state: &Path, project: &str) -> Option<String> {
    let text = std::fs::read_to_string(converged_path(state, project)).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// Records that the engine matches the desired state with this digest.
pub fn set_converged(state: &Path, project: &str, digest: &str) -> std::io::Result<()> {
    let path = converged_path(state, project);
    std::fs::create_dir_all(path.parent().unwrap_or(state))?;
    let temporary = path.with_extension("converged.tmp");
    std::fs::write(&temporary, format!("{digest}\n"))?;
    std::fs::rename(temporary, path)
}

/// The last entry, if any.
pub fn last(state: &Path, project: &str) -> Option<Entry> {
    let text = std::fs::read_to_string(path(state, project)).ok()?;
    serde_json::from_str(text.lines().last()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_entries_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..(KEEP + 5) {
            let entry = Entry {
                time: now(),
                engine: "e".into(),
                commit: None,
                outcome: "complete".into(),
                done: format!("{i} created"),
                failed: Vec::new(),
                reason: None,
            };
            record(dir.path(), "p", &entry).unwrap();
        }
        assert_eq!(
            last(dir.path(), "p").unwrap().done,
            format!("{} created", KEEP + 4)
        );
        let lines = std::fs::read_to_string(path(dir.path(), "p"))
            .unwrap()
            .lines()
            .count();
        assert_eq!(lines, KEEP);
        assert!(last(dir.path(), "other").is_none());
    }

    #[test]
    fn the_converged_digest_is_kept_per_project() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(converged(dir.path(), "p"), None);
        set_converged(dir.path(), "p", "sha256:1").unwrap();
        set_converged(dir.path(), "p", "sha256:2").unwrap();
        assert_eq!(converged(dir.path(), "p").as_deref(), Some("sha256:2"));
        assert_eq!(converged(dir.path(), "q"), None);
    }
}
