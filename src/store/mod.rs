//! What berth keeps and reads on this machine, beside the repository and the engine:
//! its state directory (`state`: the key and the installation id; `lock`: one apply per
//! project and engine; `journal`: the applies and the last converged state) and secret
//! values (`secrets`, from berth.yaml's providers). Every module here is an edge.

#[allow(clippy::disallowed_methods)] // the edge: the journal file, the clock
pub mod journal;
#[allow(clippy::disallowed_methods)] // the edge: lock files, the clock, the host's name
pub mod lock;
#[allow(clippy::disallowed_methods)] // the edge: secret values from files and the environment
pub mod secrets;
#[allow(clippy::disallowed_methods)] // the edge: berth's state directory
pub mod state;

use std::io::{Error, ErrorKind};
use std::path::Path;

use crate::failure::Failure;

/// What to do when berth's state directory `dir` cannot be written, by why; `None` when
/// the error itself says enough.
pub fn io_help(e: &Error, dir: &Path) -> Option<String> {
    match e.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => Some(format!(
            "the disk that holds berth's state directory {} is full: free some space, then run berth again",
            dir.display()
        )),
        ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied => Some(format!(
            "berth keeps its key, locks and journal in {}: make it writable for this user, or point BERTH_STATE_DIR at a folder that is",
            dir.display()
        )),
        _ => None,
    }
}

/// A failure to use the state directory `dir`, with what to do about it.
pub fn io_failure(what: impl Into<String>, dir: &Path, e: Error) -> Failure {
    let help = io_help(&e, dir);
    let failure = Failure::caused(what, e);
    match help {
        Some(help) => failure.with_help(help),
        None => failure,
    }
}
