//! berth's state directory when it is damaged: a lost or damaged key is a refusal, never
//! a new identity that disowns what the old one made; a garbage line in the journal
//! hides no entry before it; a garbage lock file holds nothing; a read-only or full disk
//! is said plainly and loses no entry.

use crate::engine::Project;

fn ids(p: &Project) -> Vec<String> {
    p.containers()
        .iter()
        .map(|c| crate::engine::docker(&["inspect", "-f", "{{.Id}}", c]).0)
        .collect()
}

#[test]
fn a_lost_key_is_a_refusal_until_it_is_restored() {
    let p = Project::new("berth-it-state-key");
    p.write("berth.yaml", &format!("project: {}\n", p.name));
    p.service("web", "info", 64);
    p.apply(&["--stable-for", "0s"]);
    let key = p.state.path().join("key");
    let saved = std::fs::read(&key).unwrap();
    assert!(
        !p.state.path().join("key.new").exists(),
        "the first plan settled the key"
    );
    let before = ids(&p);

    // The key is gone: berth makes a new one, but will not act as a new installation
    // while the engine holds what the old one made.
    std::fs::remove_file(&key).unwrap();
    for command in [&["plan"][..], &["apply", "--auto-approve"], &["status"]] {
        let (stdout, stderr, status) = p.berth(command);
        assert_eq!(status, 1, "{command:?}: {stdout}{stderr}");
        // As one line, whatever the report's wrapping.
        let said = stderr
            .split_whitespace()
            .filter(|w| *w != "│")
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            said.contains("is new, but the engine holds 1 object(s) of project"),
            "{said}"
        );
        assert!(said.contains("help: restore"), "{said}");
    }
    assert_eq!(ids(&p), before, "nothing was touched");

    // Restored: the same installation, nothing to do.
    std::fs::write(&key, &saved).unwrap();
    let (out, status) = p.plan(&[]);
    assert_eq!(status, 0, "{out}");
    assert!(!p.state.path().join("key.new").exists());
    assert_eq!(ids(&p), before);

    // Damaged (cut short, or garbage): refused as such, never replaced.
    for damaged in [&saved[..10], &b"\x00\xffnot a key"[..]] {
        std::fs::write(&key, damaged).unwrap();
        let (stdout, stderr, status) = p.berth(&["apply", "--auto-approve"]);
        assert_eq!(status, 1, "{stdout}{stderr}");
        let said = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            said.contains("is damaged") && said.contains("restore it from a backup"),
            "{said}"
        );
        assert_eq!(std::fs::read(&key).unwrap(), damaged, "left as it was");
        assert_eq!(ids(&p), before);
    }
    std::fs::write(&key, &saved).unwrap();
    assert_eq!(p.plan(&[]).1, 0);
}

#[test]
fn a_damaged_journal_line_hides_no_entry() {
    let p = Project::new("berth-it-state-journal");
    p.write("berth.yaml", &format!("project: {}\n", p.name));
    p.service("web", "info", 64);
    p.apply(&["--stable-for", "0s"]);
    let journal = p.state.path().join("journal").join(format!("{}.jsonl", p.name));
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str("{\"time\": \"cut off\n");
    std::fs::write(&journal, text).unwrap();
    let (stdout, stderr, status) = p.berth(&["status"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stdout.contains("Last apply: ") && stdout.contains("1 created"),
        "{stdout}"
    );
    let (stdout, stderr, status) = p.berth(&["history", "--format", "json"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stderr.contains("damaged line(s) 2"), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["damaged_lines"], serde_json::json!([2]));
    assert_eq!(doc["entries"].as_array().unwrap().len(), 1);
}

/// A small tmpfs of the test's own, unmounted on drop: a disk that can be filled, or
/// made read-only, without touching the machine's.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().display().to_string();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", &path])
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            let test = std::thread::current().name().unwrap_or("a test").to_string();
            crate::skip(&test, "cannot mount a tmpfs (needs root)");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn remount(&self, options: &str) {
        let path = self.path().display().to_string();
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{options}"), &path])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Fills the disk, then frees `left` bytes.
    fn fill(&self, left: u64) {
        let fill = self.path().join("fill");
        let mut file = std::fs::File::create(&fill).unwrap();
        let block = vec![0u8; 4096];
        while std::io::Write::write_all(&mut file, &block).is_ok() {}
        let len = file.metadata().unwrap().len();
        file.set_len(len.saturating_sub(left)).unwrap();
    }

    fn free(&self) {
        let _ = std::fs::remove_file(self.path().join("fill"));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let path = self.path().display().to_string();
        let _ = std::process::Command::new("umount").arg(&path).status();
    }
}

/// A state directory on a read-only or full disk: every command says what is wrong and
/// what to do; nothing on the engine changes when the lock cannot be taken; an apply
/// whose journal entry cannot be written keeps every entry already written (and says
/// so); and nothing half-written is left behind.
#[test]
fn a_read_only_or_full_state_directory_is_said_plainly_and_loses_nothing() {
    let Some(disk) = Tmpfs::mount("256k") else {
        return;
    };
    let p = Project::new("berth-it-state-disk");
    p.write("berth.yaml", &format!("project: {}\n", p.name));
    p.service("web", "info", 64);
    let state = disk.path();
    let berth = |args: &[&str]| crate::engine::berth_in(p.repo.path(), state, args);
    let flat = |text: &str| {
        text.split_whitespace()
            .filter(|w| *w != "│")
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (stdout, stderr, status) = berth(&["apply", "--auto-approve", "--stable-for", "0s"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    let journal = state.join("journal").join(format!("{}.jsonl", p.name));
    let written = std::fs::read(&journal).unwrap();
    let before = ids(&p);

    // Read-only: what only reads works; what writes is refused with what to do.
    disk.remount("ro");
    p.service("web", "debug", 64);
    for command in [&["plan"][..], &["status"], &["history"]] {
        let (stdout, stderr, status) = berth(command);
        assert_ne!(status, 1, "{command:?}: {stdout}{stderr}");
    }
    let (stdout, stderr, status) = berth(&["apply", "--auto-approve", "--stable-for", "0s"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    let said = flat(&stderr);
    assert!(said.contains("Read-only file system"), "{said}");
    assert!(
        said.contains("make it writable for this user, or point BERTH_STATE_DIR"),
        "{said}"
    );
    assert_eq!(ids(&p), before, "nothing was changed");
    disk.remount("rw");

    // Full: the lock cannot be written, so nothing starts, and no lock file is left.
    disk.fill(0);
    let (stdout, stderr, status) = berth(&["apply", "--auto-approve", "--stable-for", "0s"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    let said = flat(&stderr);
    assert!(said.contains("cannot write the lock"), "{said}");
    assert!(
        said.contains("is full: free some space, then run berth again"),
        "{said}"
    );
    assert_eq!(ids(&p), before, "nothing was changed");
    let locks: Vec<_> = std::fs::read_dir(state.join("locks")).unwrap().collect();
    assert!(locks.is_empty(), "{locks:?}");

    // Room for the lock but not for the journal: the apply happens, says that its entry
    // could not be written, and the journal keeps every entry it had, whole.
    disk.free();
    disk.fill(4096);
    let (stdout, stderr, status) = berth(&["apply", "--auto-approve", "--stable-for", "0s"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    let said = flat(&stderr);
    assert!(said.contains("cannot record this apply in the journal"), "{said}");
    assert!(said.contains("earlier entries are kept"), "{said}");
    assert_ne!(ids(&p), before, "the change was applied");
    assert_eq!(
        std::fs::read(&journal).unwrap(),
        written,
        "the journal is as it was"
    );
    let left: Vec<String> = std::fs::read_dir(state.join("journal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, [format!("{}.jsonl", p.name)], "no temporary file left");

    // Room again: in sync, and the history still has its entry.
    disk.free();
    let (stdout, stderr, status) = berth(&["plan", "--detailed-exitcode"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    let (stdout, _, status) = berth(&["history"]);
    assert_eq!(status, 0);
    assert!(stdout.contains("created   web"), "{stdout}");
}

/// A lock file left with garbage in it (a crash, a damaged disk) holds nothing: flock is
/// the lock, not the file's text, so the next apply takes it and goes on.
#[test]
fn a_garbage_lock_file_holds_nothing() {
    let p = Project::new("berth-it-state-lock");
    p.write("berth.yaml", &format!("project: {}\n", p.name));
    p.service("web", "info", 64);
    p.apply(&["--stable-for", "0s"]);
    let locks = p.state.path().join("locks");
    p.service("web", "debug", 64);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .current_dir(p.repo.path())
        .env("BERTH_STATE_DIR", p.state.path())
        .args(["apply", "--auto-approve", "--stable-for", "3s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Its name, from the apply that holds it.
    let start = std::time::Instant::now();
    let name = loop {
        if let Some(entry) = std::fs::read_dir(&locks).unwrap().next() {
            break entry.unwrap().file_name();
        }
        assert!(start.elapsed().as_secs() < 30, "no lock taken");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(child.wait_with_output().unwrap().status.success());
    std::fs::write(locks.join(&name), b"\x00\xffnot a holder{").unwrap();
    p.service("web", "warning", 64);
    let (stdout, stderr, status) = p.berth(&["apply", "--auto-approve", "--stable-for", "0s"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Apply complete: 1 replaced."), "{stdout}");
    assert!(!locks.join(&name).exists(), "let go as any lock is");
}
