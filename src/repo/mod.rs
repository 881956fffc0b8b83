//! Where the desired state is read from: a folder on disk (`dir`) or a commit of a git
//! repository (`git`), behind one small read-only file interface, so that discovery and
//! reading do not care which.

pub mod dir;
pub mod git;

use std::ffi::OsString;
use std::io;
use std::path::Path;

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    File,
    Dir,
}

/// Read-only access to a tree of files.
pub trait Files {
    /// What `path` is, `None` when nothing is there.
    fn entry(&self, path: &Path) -> Option<Entry>;
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The entries of a folder, by name.
    fn list(&self, dir: &Path) -> io::Result<Vec<(OsString, Entry)>>;

    fn is_file(&self, path: &Path) -> bool {
        self.entry(path) == Some(Entry::File)
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.entry(path) == Some(Entry::Dir)
    }
}
