//! berth's state directory: the secret key behind every keyed digest, and the
//! installation id derived from it that marks what this berth owns. Created on first use,
//! readable by its owner only. `BERTH_STATE_DIR` overrides the location.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::failure::{Failure, Result};
use crate::secret::Secret;
use hmac::{KeyInit, Mac};

/// The state directory found in the environment, or what to set.
pub fn dir(found: Option<&Path>) -> Result<PathBuf> {
    found
        .map(Path::to_path_buf)
        .ok_or_else(|| Failure::new("no state directory: set BERTH_STATE_DIR (or HOME)"))
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The opened state directory.
#[derive(Debug, Clone)]
pub struct State {
    pub dir: PathBuf,
    key: Secret<Vec<u8>>,
    /// The key was made by this berth and no plan has yet looked at an engine with it
    /// (`key.new` marks it): objects of a project made under another key then mean the
    /// old key was lost, not that a new installation begins.
    pub fresh: bool,
}

impl State {
    /// The state directory, from the environment `var` reads: `$BERTH_STATE_DIR`, else
    /// `$XDG_STATE_HOME/berth`, else `~/.local/state/berth`; `None` without any of them.
    pub fn default_dir(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
        let set = |name: &str| var(name).filter(|d| !d.is_empty());
        if let Some(dir) = set("BERTH_STATE_DIR") {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = set("XDG_STATE_HOME") {
            return Some(PathBuf::from(dir).join("berth"));
        }
        var("HOME").map(|home| PathBuf::from(home).join(".local/state/berth"))
    }

    /// Opens `dir`, creating it (mode 0700) and its key (mode 0600) on first use.
    pub fn open(dir: &Path) -> Result<State> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                super::io_failure(
                    format!("cannot create the state directory {}", dir.display()),
                    dir,
                    e,
                )
            })?;
        let key = read_or_create_key(&dir.join("key"))?;
        Ok(State {
            dir: dir.to_path_buf(),
            key: Secret::new(key),
            fresh: dir.join(FRESH).exists(),
        })
    }

    /// The id this installation labels its objects with: derived from the key, so it
    /// lives and dies with it.
    pub fn installation(&self) -> String {
        self.digest(b"installation")[..16].to_string()
    }

    /// The bearer token of the watcher's `POST /hooks/local`, which `berth hook`'s
    /// post-receive hook sends: derived from the key, so only who can read berth's state
    /// can poke.
    pub fn local_token(&self) -> String {
        self.digest(b"berth hook: local")
    }

    /// HMAC-SHA256 of `data` under the key, hex, truncated to 128 bits.
    pub fn digest(&self, data: &[u8]) -> String {
        // HMAC accepts keys of any length.
        let mut mac = HmacSha256::new_from_slice(self.key.expose()).expect("any key length");
        mac.update(data);
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

/// Beside a key berth made, until a plan has looked at an engine with it.
pub const FRESH: &str = "key.new";

/// A plan found nothing of its project made under another key: the key in the state
/// directory `dir` is this installation's from now on.
pub fn settle(dir: &Path) -> Result<()> {
    match std::fs::remove_file(dir.join(FRESH)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(super::io_failure(
            format!("cannot remove {}", dir.join(FRESH).display()),
            dir,
            e,
        )),
    }
}

fn read_or_create_key(path: &Path) -> Result<Vec<u8>> {
    let context = || format!("cannot read berth's key {}", path.display());
    let dir = path.parent().unwrap_or(path);
    // create_new: of two berths starting at once, one writes the key, the other reads it.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            let mut key = vec![0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut r| r.read_exact(&mut key))
                .map_err(|e| Failure::caused("cannot read /dev/urandom for a new key", e))?;
            // Marked before the key has a value: a key without its mark is never new.
            let written = std::fs::write(path.with_file_name(FRESH), b"")
                .and_then(|()| file.write_all(hex::encode(&key).as_bytes()))
                .and_then(|()| file.sync_all());
            if let Err(e) = written {
                // A key cut short (a full disk) would read as damaged next time: it never
                // named anything, so it goes, with its mark.
                let _ = std::fs::remove_file(path);
                let _ = std::fs::remove_file(path.with_file_name(FRESH));
                return Err(super::io_failure(
                    format!("cannot write berth's new key {}", path.display()),
                    dir,
                    e,
                ));
            }
            Ok(key)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let bytes = std::fs::read(path).map_err(|e| super::io_failure(context(), dir, e))?;
            std::str::from_utf8(&bytes)
                .ok()
                .and_then(|text| hex::decode(text.trim()).ok())
                .filter(|k| k.len() >= 16)
                .ok_or_else(|| Failure::new(format!("berth's key {} is damaged", path.display())).with_help("restore it from a backup; a new key would make berth disown every container it created"))
        }
        Err(e) => Err(super::io_failure(context(), dir, e)),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_key_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = State::open(&dir.path().join("state")).unwrap();
        let mode = std::fs::metadata(dir.path().join("state/key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = State::open(&dir.path().join("state")).unwrap();
        assert_eq!(a.installation(), b.installation());
        assert_eq!(a.digest(b"x"), b.digest(b"x"));
        let other = State::open(&dir.path().join("other")).unwrap();
        assert_ne!(a.digest(b"x"), other.digest(b"x"), "keys are random");
        // New until settled, then for good.
        assert!(a.fresh && b.fresh);
        settle(&b.dir).unwrap();
        assert!(!State::open(&dir.path().join("state")).unwrap().fresh);
        settle(&b.dir).unwrap();
    }
}
