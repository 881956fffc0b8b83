//! A tree of files held in memory, for tests of discovery and the use cases: the same
//! `Files` interface as a folder or a commit, with nothing on disk.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::{Entry, Files};

/// Files by path (relative, as given to `add`); every folder above a file exists.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl Memory {
    pub fn new() -> Memory {
        Memory::default()
    }

    /// Adds (or replaces) a file.
    pub fn add(self, path: &str, content: &str) -> Memory {
        self.add_bytes(path, content.as_bytes())
    }

    /// Adds (or replaces) a file that need not be UTF-8.
    pub fn add_bytes(mut self, path: &str, content: &[u8]) -> Memory {
        self.files.insert(normal(Path::new(path)), content.to_vec());
        self
    }
}

/// `path` without `.` components, so that `./a` and `a` are one file.
fn normal(path: &Path) -> PathBuf {
    path.components().filter(|c| *c != Component::CurDir).collect()
}

impl Files for Memory {
    fn entry(&self, path: &Path) -> Option<Entry> {
        let path = normal(path);
        if self.files.contains_key(&path) {
            return Some(Entry::File);
        }
        let is_dir = path.as_os_str().is_empty() || self.files.keys().any(|f| f.starts_with(&path));
        is_dir.then_some(Entry::Dir)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files.get(&normal(path)).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such file", path.display()),
            )
        })
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<(OsString, Entry)>> {
        let dir = normal(dir);
        let mut entries = BTreeMap::new();
        for file in self.files.keys() {
            let Ok(rest) = file.strip_prefix(&dir) else {
                continue;
            };
            let mut parts = rest.components();
            if let Some(first) = parts.next() {
                let kind = if parts.next().is_some() {
                    Entry::Dir
                } else {
                    Entry::File
                };
                entries.insert(first.as_os_str().to_os_string(), kind);
            }
        }
        Ok(entries.into_iter().collect())
    }
}
