//! berth's state directory when it is damaged: a lost key is a refusal, never a new
//! identity that disowns what the old one made; a garbage line in the journal hides no
//! entry before it.

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
