//! One apply at a time per project and engine: a lock file in berth's state directory,
//! held with an OS file lock (released by the kernel when its holder dies, even by
//! SIGKILL) and carrying a record of its holder — id, user, host, pid, time, commit —
//! for the message a waiting apply prints. `berth unlock ID` deletes a record whose
//! holder is gone.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::io_failure;
use crate::failure::{Failure, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub id: String,
    pub project: String,
    pub engine: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// Seconds since the Unix epoch.
    pub since: u64,
    pub commit: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let age = now().saturating_sub(self.since);
        write!(
            f,
            "lock {} held by {}@{} (pid {}) for {age}s",
            self.id, self.user, self.host, self.pid
        )?;
        if let Some(commit) = &self.commit {
            write!(f, ", applying commit {commit}")?;
        }
        Ok(())
    }
}

/// A held lock; released when dropped (or when the process ends).
pub struct Lock {
    file: File,
    path: PathBuf,
    pub holder: Holder,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // The path goes while the lock is still held: a waiter that then locks this
        // (unlinked) file sees that the path no longer names it and starts over, so two
        // holders never hold two different files at once.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn locks_dir(state: &Path) -> PathBuf {
    state.join("locks")
}

/// The lock file of a project on an engine.
fn lock_path(state: &Path, project: &str, engine: &str) -> PathBuf {
    let key = hex::encode(&Sha256::digest(format!("{project}\0{engine}").as_bytes())[..8]);
    locks_dir(state).join(format!("{}-{key}.lock", crate::engine::naming::clean(project)))
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// Takes the lock of `project` on `engine`, waiting up to `timeout` for its holder, or
/// until `stopping` is set.
pub fn acquire(
    state: &Path,
    project: &str,
    engine: &str,
    commit: Option<&str>,
    timeout: Duration,
    stopping: Option<&AtomicBool>,
) -> Result<Lock> {
    std::fs::create_dir_all(locks_dir(state))
        .map_err(|e| io_failure(format!("cannot create {}", locks_dir(state).display()), state, e))?;
    let path = lock_path(state, project, engine);
    let started = Instant::now();
    loop {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_failure(format!("cannot open the lock {}", path.display()), state, e))?;
        match file.try_lock() {
            Ok(()) => {
                // The file may have been removed by the holder that just let go: only a
                // lock on the file that is at the path counts.
                if !same_file(&file, &path) {
                    continue;
                }
                let holder = Holder {
                    id: hex::encode(
                        &Sha256::digest(
                            format!("{}{}{}", std::process::id(), now(), path.display()).as_bytes(),
                        )[..4],
                    ),
                    project: project.to_string(),
                    engine: engine.to_string(),
                    user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
                    host: hostname(),
                    pid: std::process::id(),
                    since: now(),
                    commit: commit.map(String::from),
                };
                let written = file
                    .set_len(0)
                    .and_then(|()| file.rewind())
                    .and_then(|()| {
                        file.write_all(serde_json::to_string(&holder).unwrap_or_default().as_bytes())
                    })
                    .and_then(|()| file.sync_all());
                if let Err(e) = written {
                    // Held, so it is ours to remove, as a lock let go is.
                    let _ = std::fs::remove_file(&path);
                    return Err(io_failure(
                        format!("cannot write the lock {}", path.display()),
                        state,
                        e,
                    ));
                }
                return Ok(Lock { file, path, holder });
            }
            Err(TryLockError::WouldBlock) => {
                if stopping.is_some_and(|s| s.load(Ordering::SeqCst)) {
                    return Err(Failure::new(format!(
                        "stopped while waiting for the lock of project `{project}` on {engine}"
                    )));
                }
                if started.elapsed() >= timeout {
                    let who =
                        read_holder(&mut file).map_or_else(|| "another berth".to_string(), |h| h.to_string());
                    return Err(Failure::new(format!(
                        "project `{project}` on {engine} is being applied: {who}"
                    ))
                    .with_help("wait for it to finish, or raise --lock-timeout"));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).map_err(|e| Failure::caused(format!("cannot lock {}", path.display()), e));
            }
        }
    }
}

fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// `berth unlock ID`: removes the lock record `id` if no live process holds it.
pub fn unlock(state: &Path, id: &str) -> Result<Holder> {
    let entries = std::fs::read_dir(locks_dir(state)).map_err(|e| Failure::caused("no locks", e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(mut file) = OpenOptions::new().read(true).write(true).open(&path) else {
            continue;
        };
        let Some(holder) = read_holder(&mut file) else {
            continue;
        };
        if holder.id != id {
            continue;
        }
        return match file.try_lock() {
            Ok(()) => {
                std::fs::remove_file(&path)?;
                Ok(holder)
            }
            Err(_) => {
                return Err(Failure::new(format!("{holder}: still held"))
                    .with_help("its holder is alive; stop it instead"));
            }
        };
    }
    Err(Failure::new(format!("no lock with id `{id}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_fails_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "p", "unix:///s", Some("abc"), Duration::ZERO, None).unwrap();
        let err = acquire(
            dir.path(),
            "p",
            "unix:///s",
            None,
            Duration::from_millis(300),
            None,
        )
        .err()
        .unwrap();
        let text = format!("{err}");
        assert!(
            text.contains(&first.holder.id) && text.contains("commit abc"),
            "{text}"
        );
        // Another project, or the same one on another engine, is independent.
        let _other = acquire(dir.path(), "q", "unix:///s", None, Duration::ZERO, None).unwrap();
        let _elsewhere = acquire(dir.path(), "p", "tcp://h:1", None, Duration::ZERO, None).unwrap();
        assert!(
            unlock(dir.path(), &first.holder.id).is_err(),
            "a live holder is not unlocked"
        );
        drop(first);
        acquire(dir.path(), "p", "unix:///s", None, Duration::ZERO, None).expect("free again");
    }

    #[test]
    fn waiting_for_the_lock_ends_when_berth_is_stopping() {
        let dir = tempfile::tempdir().unwrap();
        let _first = acquire(dir.path(), "p", "unix:///s", None, Duration::ZERO, None).unwrap();
        let stopping = AtomicBool::new(true);
        let long = Duration::from_secs(3600);
        let err = acquire(dir.path(), "p", "unix:///s", None, long, Some(&stopping))
            .err()
            .unwrap();
        assert!(format!("{err}").starts_with("stopped while waiting"), "{err}");
    }
}
