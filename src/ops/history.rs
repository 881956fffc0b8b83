//! The history use case: the journal of a project's applies, rollbacks and destroys,
//! newest first, optionally of one service.

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
