//! A plain folder on disk as the source of the desired state.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use super::{Entry, Files};

/// The filesystem, paths as given (relative to the current folder).
pub struct Disk;

impl Files for Disk {
    fn entry(&self, path: &Path) -> Option<Entry> {
        let meta = std::fs::metadata(path).ok()?;
        if meta.is_dir() {
            Some(Entry::Dir)
        } else if meta.is_file() {
            Some(Entry::File)
        } else {
            None
        }
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<(OsString, Entry)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                out.push((entry.file_name(), Entry::Dir));
            } else if kind.is_file() {
                out.push((entry.file_name(), Entry::File));
            }
        }
        Ok(out)
    }
}

/// `path` made absolute with every link resolved, as the folder a project is named after.
pub fn canonical(path: &Path) -> io::Result<PathBuf> {
    std::fs::canonicalize(path)
}
