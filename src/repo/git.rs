//! A commit of a git repository as the source of the desired state: files are read
//! straight from the commit's tree — no checkout, no change to any working tree. A
//! remote URL is fetched into a bare mirror under berth's state directory, updated on
//! every run.

use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use git2::{ErrorCode, FetchOptions, ObjectType, Oid, Repository};
use sha2::{Digest as _, Sha256};

use super::{Entry, Files};
use crate::diff::Provenance;

/// One commit's tree.
pub struct GitTree {
    repo: Repository,
    tree: Oid,
    /// The commit's full id.
    pub commit: String,
}

/// Why a repository or ref could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot open the git repository {location}: {cause}")]
    Open { location: String, cause: String },
    #[error("cannot fetch {url}: {cause}")]
    Fetch { url: String, cause: String },
    #[error("`{reference}` names no commit in {location}")]
    UnknownRef { reference: String, location: String },
    #[error("cannot read {location}: {cause}")]
    Read { location: String, cause: String },
}

/// Whether a repository argument is a URL to mirror rather than a local path.
pub fn is_url(location: &str) -> bool {
    location.contains("://") || location.starts_with("git@")
}

/// The git directory of a local repository (the repository itself when bare, else its
/// `.git`): where its refs change.
pub fn git_dir(location: &str) -> Result<PathBuf, GitError> {
    Repository::open(location)
        .map(|repo| repo.path().to_path_buf())
        .map_err(|e| GitError::Open {
            location: location.into(),
            cause: e.message().to_string(),
        })
}

/// Where git looks for a repository's hooks: `core.hooksPath` when set (relative to the
/// repository, as git reads it in a bare one), else `<git dir>/hooks`.
pub fn hooks_dir(location: &str) -> Result<PathBuf, GitError> {
    let open = |e: git2::Error| GitError::Open {
        location: location.into(),
        cause: e.message().to_string(),
    };
    let repo = Repository::open(location).map_err(open)?;
    let configured = repo.config().map_err(open)?.get_path("core.hooksPath").ok();
    let base = repo.workdir().unwrap_or(repo.path()).to_path_buf();
    Ok(match configured {
        Some(path) => base.join(path),
        None => repo.path().join("hooks"),
    })
}

impl GitTree {
    /// Opens `location` (a local repository, bare or not, or a URL mirrored into
    /// `mirrors`) at `reference` (a branch, tag or commit id; default: HEAD, which for a
    /// mirror is the remote's default branch). With `offline`, a mirror is not fetched.
    /// Returns the tree and, with `offline`, a warning that the mirror may be stale. A
    /// failed fetch is an error: the cache is used only when asked for.
    pub fn open(
        location: &str,
        reference: Option<&str>,
        mirrors: &Path,
        offline: bool,
        ssh_key: Option<&Path>,
    ) -> Result<(GitTree, Option<String>), GitError> {
        let repo = if is_url(location) {
            let path = mirrors.join(format!(
                "{}.git",
                hex::encode(&Sha256::digest(location.as_bytes())[..8])
            ));
            match (Repository::open_bare(&path), offline) {
                (Ok(repo), true) => repo,
                (Ok(repo), false) => {
                    fetch(&repo, location, ssh_key)?;
                    repo
                }
                (Err(_), true) => {
                    return Err(GitError::Open {
                        location: location.into(),
                        cause: "--offline, and it was never fetched".into(),
                    });
                }
                (Err(_), false) => mirror(location, &path, ssh_key)?,
            }
        } else {
            Repository::open(location).map_err(|e| GitError::Open {
                location: location.into(),
                cause: e.message().to_string(),
            })?
        };
        let warning = (offline && is_url(location)).then(|| {
            format!("--offline: using the mirror of {location} as last fetched, which may be stale")
        });
        let (tree, id) = resolve(&repo, location, reference)?;
        Ok((
            GitTree {
                repo,
                tree,
                commit: id,
            },
            warning,
        ))
    }

    /// The tree entry at `path` (relative, `.` for the root).
    fn object(&self, path: &Path) -> io::Result<git2::Object<'_>> {
        let tree = self.repo.find_tree(self.tree).map_err(io::Error::other)?;
        let clean = normal(path);
        if clean.as_os_str().is_empty() {
            return Ok(tree.into_object());
        }
        let entry = tree
            .get_path(&clean)
            .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e.message().to_string()))?;
        entry.to_object(&self.repo).map_err(io::Error::other)
    }
}

impl GitTree {
    /// The commit that last changed line `line` (1-based) of `path`, looking no further
    /// back than `since` (the commit a container was made from): what a plan names as
    /// the reason for a change.
    pub fn blame(&self, path: &Path, line: usize, since: Option<&str>) -> Option<Provenance> {
        let mut options = git2::BlameOptions::new();
        options.newest_commit(Oid::from_str(&self.commit).ok()?);
        if let Some(since) = since.and_then(|s| Oid::from_str(s).ok()) {
            options.oldest_commit(since);
        }
        let blame = self.repo.blame_file(&normal(path), Some(&mut options)).ok()?;
        let commit = self
            .repo
            .find_commit(blame.get_line(line)?.final_commit_id())
            .ok()?;
        Some(provenance(&commit))
    }
}

impl GitTree {
    /// The commit that last changed the file at `path`, looking no further back than
    /// `since`: what a plan names as the reason a whole file (a microservice's) changed.
    pub fn last_change(&self, path: &Path, since: Option<&str>) -> Option<Provenance> {
        let path = normal(path);
        let blob = |commit: &git2::Commit| commit.tree().ok()?.get_path(&path).ok().map(|e| e.id());
        let since = since.and_then(|s| Oid::from_str(s).ok());
        let mut commit = self.repo.find_commit(Oid::from_str(&self.commit).ok()?).ok()?;
        // Along first parents: the newest commit whose file differs from its parent's.
        loop {
            let parent = commit.parent(0).ok();
            let changed = match &parent {
                Some(parent) => blob(&commit) != blob(parent),
                None => blob(&commit).is_some(),
            };
            if changed {
                return Some(provenance(&commit));
            }
            match parent {
                Some(parent) if Some(commit.id()) != since => commit = parent,
                _ => return None,
            }
        }
    }
}

impl GitTree {
    /// How many commits this one is ahead of `base` (a commit id, or a prefix of one):
    /// how far a branch has moved past a pinned commit.
    pub fn ahead_of(&self, base: &str) -> Option<usize> {
        let base = self.repo.revparse_single(base).ok()?.peel_to_commit().ok()?.id();
        let head = Oid::from_str(&self.commit).ok()?;
        Some(self.repo.graph_ahead_behind(head, base).ok()?.0)
    }
}

fn provenance(commit: &git2::Commit) -> Provenance {
    let author = commit.author();
    Provenance {
        commit: commit.id().to_string(),
        summary: commit.summary().ok().flatten().unwrap_or_default().to_string(),
        author: String::from_utf8_lossy(author.name_bytes()).into_owned(),
        email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
    }
}

/// The tree id and commit id of `reference` (default HEAD).
fn resolve(repo: &Repository, location: &str, reference: Option<&str>) -> Result<(Oid, String), GitError> {
    let unknown = || GitError::UnknownRef {
        reference: reference.unwrap_or("HEAD").into(),
        location: location.into(),
    };
    let read = |e: git2::Error| GitError::Read {
        location: location.into(),
        cause: e.message().to_string(),
    };
    let object = match reference {
        Some(r) => repo.revparse_single(r),
        None => repo.head().and_then(|h| h.peel(ObjectType::Commit)),
    };
    let commit = match object {
        Ok(o) => o.peel_to_commit().map_err(|_| unknown())?,
        Err(e)
            if matches!(
                e.code(),
                ErrorCode::NotFound | ErrorCode::UnbornBranch | ErrorCode::InvalidSpec | ErrorCode::Ambiguous
            ) =>
        {
            return Err(unknown());
        }
        Err(e) => return Err(read(e)),
    };
    let tree = commit.tree().map_err(read)?;
    Ok((tree.id(), commit.id().to_string()))
}

/// `./a/../b` → `b`: tree paths have no `.`, `..` or root.
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// A new bare mirror of `url` at `path`.
fn mirror(url: &str, path: &Path, ssh_key: Option<&Path>) -> Result<Repository, GitError> {
    let fail = |e: git2::Error| GitError::Fetch {
        url: url.into(),
        cause: e.message().to_string(),
    };
    std::fs::create_dir_all(path).map_err(|e| GitError::Fetch {
        url: url.into(),
        cause: e.to_string(),
    })?;
    let repo = Repository::init_bare(path).map_err(fail)?;
    repo.remote_with_fetch("origin", url, "+refs/*:refs/*")
        .map_err(fail)?;
    if let Err(e) = fetch(&repo, url, ssh_key) {
        // A mirror that never fetched is no cache: do not leave it for --offline.
        drop(repo);
        let _ = std::fs::remove_dir_all(path);
        return Err(e);
    }
    Ok(repo)
}

/// Updates a mirror from its remote, and its HEAD to the remote's default branch. Over
/// ssh it authenticates with `ssh_key`, else with the user's ssh agent; the server's key
/// must be in the user's known_hosts.
fn fetch(repo: &Repository, url: &str, ssh_key: Option<&Path>) -> Result<(), GitError> {
    let fail = |e: git2::Error| GitError::Fetch {
        url: url.into(),
        cause: e.message().to_string(),
    };
    let mut remote = repo.find_remote("origin").map_err(fail)?;
    let mut callbacks = git2::RemoteCallbacks::new();
    let mut tried_key = false;
    callbacks.credentials(move |_, username, allowed| {
        let user = username.unwrap_or("git");
        if allowed.contains(git2::CredentialType::USERNAME) {
            return git2::Cred::username(user);
        }
        if allowed.contains(git2::CredentialType::SSH_KEY) {
            // libgit2 asks again after a refusal: one key, then give up.
            if std::mem::replace(&mut tried_key, true) {
                return Err(git2::Error::from_str("the server refused the ssh key"));
            }
            match ssh_key {
                Some(key) => git2::Cred::ssh_key(user, None, key, None),
                None => git2::Cred::ssh_key_from_agent(user),
            }
        } else if allowed.contains(git2::CredentialType::DEFAULT) {
            git2::Cred::default()
        } else {
            Err(git2::Error::from_str(
                "the remote asks for a password; berth authenticates with ssh keys only",
            ))
        }
    });
    let mut options = FetchOptions::new();
    options.prune(git2::FetchPrune::On);
    options.remote_callbacks(callbacks);
    remote
        .fetch(&["+refs/*:refs/*"], Some(&mut options), None)
        .map_err(fail)?;
    if let Ok(Ok(head)) = remote.default_branch().map(|b| b.as_str().map(String::from)) {
        repo.set_head(&head).map_err(fail)?;
    }
    Ok(())
}

impl Files for GitTree {
    fn entry(&self, path: &Path) -> Option<Entry> {
        match self.object(path).ok()?.kind()? {
            ObjectType::Tree => Some(Entry::Dir),
            ObjectType::Blob => Some(Entry::File),
            _ => None,
        }
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let object = self.object(path)?;
        let blob = object
            .as_blob()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file"))?;
        Ok(blob.content().to_vec())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<(OsString, Entry)>> {
        let object = self.object(dir)?;
        let tree = object
            .as_tree()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a folder"))?;
        Ok(tree
            .iter()
            .filter_map(|e| {
                let kind = match e.kind()? {
                    ObjectType::Tree => Entry::Dir,
                    ObjectType::Blob => Entry::File,
                    _ => return None,
                };
                Some((OsString::from(e.name().ok()?), kind))
            })
            .collect())
    }
}
