//! B8: a MICROSERVICE's CMD naming a script that is not in its folder. Only checkable
//! when the plugin.txt sits in a plugin tree.

use crate::compile::cosmos::files::join;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

/// What a script an interpreter runs is named like.
const SCRIPTS: &[&str] = &[".py", ".rb", ".sh", ".js", ".pl"];

pub static RULE: Rule = Rule {
    name: "cmd-file-missing",
    id: "B8",
    code: "berth::lint::cmd-file-missing",
    severity: Severity::Warning,
    summary: "CMD names a script that is not in the microservice's folder",
    docs: Docs {
        what: "Checks, when the plugin.txt is in a plugin's folder, that every relative script a MICROSERVICE's CMD names (an argument ending in .py, .rb, .sh, .js or .pl) is a file of `microservices/<folder>/`, seen from its WORK_DIR.",
        why: "COSMOS starts CMD in the folder it downloaded the microservice's files to (joined with WORK_DIR). A script that is not there, or is there under another name or case, stops the program at once, and the operator restarts it every 5 seconds.",
        example: "# with microservices/example/example.py\nMICROSERVICE example example\n  CMD python Example.py",
        instead: "# with microservices/example/example.py\nMICROSERVICE example example\n  CMD python example.py",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for (block, folder, files) in c.microservice_folders() {
        // Without files nothing resolves: other rules say why.
        let Some(files) = files.filter(|f| !f.is_empty()) else {
            continue;
        };
        // The last WORK_DIR wins; an absolute one is outside the folder.
        let work_dir = c
            .plugin
            .modifiers_named(block, "WORK_DIR")
            .filter_map(|l| l.params.first())
            .last()
            .map_or(".", |t| t.value.as_str());
        if work_dir.starts_with('/') {
            continue;
        }
        // From the folder's root: `src/x.py` for `x.py` run in `WORK_DIR ./src`.
        let work_dir = join("", work_dir);
        // The last CMD is the one that runs.
        let Some(line) = c.plugin.modifiers_named(block, "CMD").last() else {
            continue;
        };
        for arg in &line.params {
            // `CMD "python x.py"` is one parameter holding both words.
            for word in arg.value.split_whitespace() {
                if word.starts_with(['/', '-']) || !SCRIPTS.iter().any(|s| word.ends_with(s)) {
                    continue;
                }
                let path = join(&work_dir, word);
                let path = path.trim_start_matches('/');
                if files.iter().any(|f| f.path == path) {
                    continue;
                }
                let close = crate::problem::closest(path, files.iter().map(|f| f.path.as_str()));
                let p = c
                    .problem(
                        arg.span,
                        format!(
                            "`{word}` is not a file of `microservices/{}/` (looked for `{path}`)",
                            folder.value
                        ),
                    )
                    .with_label("no such file")
                    .with_help(match close {
                        Some(name) => format!("the folder has `{name}`"),
                        None => "add the script to the folder, or fix its name or the WORK_DIR".into(),
                    });
                c.emit(p);
            }
        }
    }
}
