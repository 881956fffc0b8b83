//! A journal of applies in berth's state directory (`journal/<project>.jsonl`, the last
//! `history.keep` per project, 100 by default): when each ran, who ran it, from which
//! commit, what it did to each service and how it ended. `berth history` lists them,
//! `berth status` shows the last one and `berth rollback --steps N` finds earlier
//! commits in them. Kept out of labels, which cannot change after creation.
//! Beside it, `journal/<project>.converged`: the desired state `berth watch` last saw the
//! engine match, so that a watcher started again can still tell drift from a new commit;
//! and `journal/<project>.pin`: the commit `berth rollback` pinned the project (or some
//! of its services) to, until `berth unpin`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub time: String,
    /// `apply`, `rollback` or `destroy`; entries written before berth kept it were
    /// applies.
    #[serde(default = "apply")]
    pub kind: String,
    /// Who ran it: `user@host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
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
    /// Every step, in the plan's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

fn apply() -> String {
    "apply".into()
}

/// One step of an apply and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub service: String,
    pub container: String,
    /// What was done or tried: `created`, `replaced`, `updated`, `started`, `stopped`,
    /// `removed`.
    pub action: String,
    /// Why it failed; absent when it was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Entry {
    /// Whether it changed `service`.
    pub fn touches(&self, service: &str) -> bool {
        self.changes.iter().any(|c| c.service == service)
    }
}

fn path(state: &Path, project: &str) -> PathBuf {
    file(state, project, "jsonl")
}

fn file(state: &Path, project: &str, extension: &str) -> PathBuf {
    state
        .join("journal")
        .join(format!("{}.{extension}", crate::engine::naming::clean(project)))
}

/// A commit id's first seven characters, as git shows it (the whole text when it is
/// shorter, or not ASCII there: ids read back from files may be anything).
pub fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// The time now, for an entry.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Appends an entry, keeping the last `keep`.
pub fn record(state: &Path, project: &str, entry: &Entry, keep: usize) -> std::io::Result<()> {
    let path = path(state, project);
    std::fs::create_dir_all(path.parent().unwrap_or(state))?;
    // A journal that cannot be read is never replaced by one that forgot it.
    let mut lines: Vec<String> = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes)
            .lines()
            .map(String::from)
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    lines.push(serde_json::to_string(entry).unwrap_or_default());
    let start = lines.len().saturating_sub(keep.max(1));
    write_aside(&path, &lines[start..].join("\n"))
}

/// Writes a file aside and renames it: a reader never sees half of one.
fn write_aside(path: &Path, text: &str) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        writeln!(file, "{text}")?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    });
    if written.is_err() {
        // The file itself is as it was; what was cut short goes.
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// The project's entries, oldest first, and the numbers of the lines that are not an
/// entry (a damaged journal hides nothing that is still readable).
pub fn entries(state: &Path, project: &str) -> std::io::Result<(Vec<Entry>, Vec<usize>)> {
    let bytes = match std::fs::read(path(state, project)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut entries = Vec::new();
    let mut damaged = Vec::new();
    // Line by line: a damaged byte spoils its own line only.
    let lines = bytes.split(|b| *b == b'\n').enumerate();
    for (i, line) in lines.filter(|(_, l)| !l.trim_ascii().is_empty()) {
        match serde_json::from_slice(line) {
            Ok(entry) => entries.push(entry),
            Err(_) => damaged.push(i + 1),
        }
    }
    Ok((entries, damaged))
}

fn converged_path(state: &Path, project: &str) -> PathBuf {
    file(state, project, "converged")
}

/// The desired-state digest the engine was last seen matching. A damaged file reads as
/// none: the next steps then count as changes to the desired state, not as drift.
pub fn converged(state: &Path, project: &str) -> Option<String> {
    let bytes = std::fs::read(converged_path(state, project)).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?.trim();
    let hex = text.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| text.to_string())
}

/// Records that the engine matches the desired state with this digest.
pub fn set_converged(state: &Path, project: &str, digest: &str) -> std::io::Result<()> {
    let path = converged_path(state, project);
    std::fs::create_dir_all(path.parent().unwrap_or(state))?;
    write_aside(&path, digest)
}

/// The last readable entry, if any.
pub fn last(state: &Path, project: &str) -> Option<Entry> {
    entries(state, project).ok()?.0.pop()
}

/// What `berth rollback` pinned: the project, or some of its services, held at a commit
/// that `berth watch` and `berth apply` do not move on from until `berth unpin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub commit: String,
    /// The services pinned; empty: the whole project.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// RFC 3339, UTC.
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl Pin {
    /// Whether it holds `service`.
    pub fn holds(&self, service: &str) -> bool {
        self.services.is_empty() || self.services.iter().any(|s| s == service)
    }
}

/// The project's pin; an error when the file is there but not a pin (it is never taken
/// for "not pinned": that would let the next push undo a rollback).
pub fn pin(state: &Path, project: &str) -> Result<Option<Pin>, String> {
    let path = file(state, project, "pin");
    match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read the pin {}: {e}", path.display())),
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            format!(
                "the pin {} is damaged ({e}); `berth unpin` removes it",
                path.display()
            )
        }),
    }
}

/// Pins the project (or services) to a commit.
pub fn set_pin(state: &Path, project: &str, pin: &Pin) -> std::io::Result<()> {
    let path = file(state, project, "pin");
    std::fs::create_dir_all(path.parent().unwrap_or(state))?;
    write_aside(&path, &serde_json::to_string(pin).unwrap_or_default())
}

/// Removes the pin; whether there was one.
pub fn unpin(state: &Path, project: &str) -> std::io::Result<bool> {
    match std::fs::remove_file(file(state, project, "pin")) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEEP: usize = 100;

    fn entry(done: String) -> Entry {
        Entry {
            time: now(),
            kind: apply(),
            by: None,
            engine: "e".into(),
            commit: None,
            outcome: "complete".into(),
            done,
            failed: Vec::new(),
            reason: None,
            changes: Vec::new(),
        }
    }

    #[test]
    fn the_last_entries_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..(KEEP + 5) {
            record(dir.path(), "p", &entry(format!("{i} created")), KEEP).unwrap();
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
        // A smaller limit drops the oldest at the next apply.
        record(dir.path(), "p", &entry("last".into()), 3).unwrap();
        let (kept, damaged) = entries(dir.path(), "p").unwrap();
        assert_eq!(
            kept.iter().map(|e| e.done.as_str()).collect::<Vec<_>>(),
            [
                format!("{} created", KEEP + 3).as_str(),
                &format!("{} created", KEEP + 4),
                "last"
            ]
        );
        assert!(damaged.is_empty());
    }

    #[test]
    fn a_damaged_line_hides_no_entry() {
        let dir = tempfile::tempdir().unwrap();
        record(dir.path(), "p", &entry("1 created".into()), KEEP).unwrap();
        let journal = path(dir.path(), "p");
        let mut text = std::fs::read_to_string(&journal).unwrap();
        text.push_str("{\"time\": garbage\n");
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"\xff\xfe not UTF-8\n");
        std::fs::write(&journal, bytes).unwrap();
        assert_eq!(last(dir.path(), "p").unwrap().done, "1 created");
        let (kept, damaged) = entries(dir.path(), "p").unwrap();
        assert_eq!((kept.len(), damaged), (1, vec![2, 3]));
        assert_eq!(short("abcdef0123"), "abcdef0");
        assert_eq!(short("ab"), "ab");
        assert_eq!(short("abcdefé1"), "abcdefé1", "no panic inside a character");
        // An entry written before berth kept kind, who and changes reads as an apply.
        let old =
            r#"{"time":"t","engine":"e","commit":null,"outcome":"complete","done":"nothing","failed":[]}"#;
        let old: Entry = serde_json::from_str(old).unwrap();
        assert_eq!((old.kind.as_str(), old.changes.len()), ("apply", 0));
    }

    #[test]
    fn the_converged_digest_is_kept_per_project() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(converged(dir.path(), "p"), None);
        let (one, two) = (
            format!("sha256:{}", "1".repeat(64)),
            format!("sha256:{}", "2".repeat(64)),
        );
        set_converged(dir.path(), "p", &one).unwrap();
        set_converged(dir.path(), "p", &two).unwrap();
        assert_eq!(converged(dir.path(), "p"), Some(two.clone()));
        // Damaged: cut short, garbage, not UTF-8. Each reads as never converged.
        let file = converged_path(dir.path(), "p");
        for damaged in [&two.as_bytes()[..20], &b"garbage"[..], &b"\xff\xfe"[..]] {
            std::fs::write(&file, damaged).unwrap();
            assert_eq!(converged(dir.path(), "p"), None);
        }
        assert_eq!(converged(dir.path(), "q"), None);
    }

    #[test]
    fn a_pin_holds_until_removed_and_a_damaged_one_is_no_pin() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(pin(dir.path(), "p"), Ok(None));
        let held = Pin {
            commit: "abc".into(),
            services: vec!["web".into()],
            time: now(),
            by: Some("ops@host".into()),
        };
        set_pin(dir.path(), "p", &held).unwrap();
        let read = pin(dir.path(), "p").unwrap().unwrap();
        assert!(read.holds("web") && !read.holds("db"));
        assert_eq!(pin(dir.path(), "q"), Ok(None));
        std::fs::write(file(dir.path(), "p", "pin"), "{").unwrap();
        assert!(pin(dir.path(), "p").unwrap_err().contains("berth unpin"));
        assert!(unpin(dir.path(), "p").unwrap());
        assert!(!unpin(dir.path(), "p").unwrap());
        assert_eq!(pin(dir.path(), "p"), Ok(None));
    }
}
