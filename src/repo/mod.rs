//! Where the desired state is read from: a folder on disk (`dir`) or a commit of a git
//! repository (`git`), behind one small read-only file interface, so that discovery and
//! reading do not care which.

pub mod dir;
pub mod git;
pub mod memory;

use std::ffi::OsString;
use std::io;
use std::path::Path;

/// The name of the repository at `location` (a URL, or a path made absolute): its last
/// path segment without `.git` (`ssh://host/org/fleet.git` and `/srv/git/fleet.git`
/// are `fleet`; a work tree's `/src/fleet/.git` is `fleet`). The same from every folder
/// and every machine, so a project read from git is named the same wherever berth runs.
pub fn repository_name(location: &str) -> Option<String> {
    let location = without_userinfo(location);
    let trimmed = location.trim_end_matches('/');
    // `git@host:org/fleet.git` separates the path with a colon.
    let mut segments = trimmed.rsplit(['/', ':']).filter(|s| !s.is_empty());
    let mut name = segments.next()?;
    if name == ".git" {
        name = segments.next()?;
    }
    let name = name.strip_suffix(".git").unwrap_or(name);
    (!name.is_empty() && !name.contains("..")).then(|| name.to_string())
}

/// `location` without the user and password a URL may carry (`https://user:token@host/…`
/// is `https://host/…`), so that neither reaches a name or a message.
pub fn without_userinfo(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => location.to_string(),
    }
}

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

#[cfg(test)]
mod tests {
    use super::repository_name;

    #[test]
    fn repositories_are_named_by_their_last_segment() {
        for (location, name) in [
            ("/srv/git/fleet.git", "fleet"),
            ("/srv/git/fleet.git/", "fleet"),
            ("/src/fleet/.git", "fleet"),
            ("/src/fleet", "fleet"),
            ("file:///srv/git/fleet.git", "fleet"),
            ("ssh://git@example.com:2222/org/fleet.git", "fleet"),
            ("https://example.com/org/fleet", "fleet"),
            ("git@example.com:org/fleet.git", "fleet"),
            ("git@example.com:fleet.git", "fleet"),
        ] {
            assert_eq!(repository_name(location).as_deref(), Some(name), "{location}");
        }
        assert_eq!(
            repository_name("https://user:t0ken@example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            repository_name("https://user:t0ken@example.com/org/fleet.git").as_deref(),
            Some("fleet")
        );
        assert_eq!(
            super::without_userinfo("ssh://git@example.com/a.git"),
            "ssh://example.com/a.git"
        );
        assert_eq!(repository_name("/"), None);
        assert_eq!(repository_name("/.git"), None);
    }
}
