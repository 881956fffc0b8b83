//! B7: a MICROSERVICE with a relative WORK_DIR whose folder has no files. Only checkable
//! when the plugin.txt sits in a plugin tree.

use crate::compile::cosmos::files::{WRAPPER_DIR, join};
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "work-dir-without-files",
    id: "B7",
    code: "berth::lint::work-dir-without-files",
    severity: Severity::Warning,
    summary: "relative WORK_DIR for a microservice folder with no files",
    docs: Docs {
        what: "Checks, when the plugin.txt is in a plugin's folder, that a MICROSERVICE with a relative WORK_DIR has at least one file under its `microservices/<folder>/`.",
        why: "COSMOS joins a relative WORK_DIR to the folder its files were downloaded to only when there was at least one file; otherwise the program starts in the folder of COSMOS's own wrapper (/openc3/lib/openc3/microservices), where its own files are not.",
        example: "# with microservices/empty/ empty\nMICROSERVICE empty example\n  WORK_DIR src\n  CMD ruby example.rb",
        instead: "# with microservices/example/example.rb\nMICROSERVICE example example\n  WORK_DIR .\n  CMD ruby example.rb",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for (block, folder, files) in c.microservice_folders() {
        // A missing folder is missing-microservice-folder's to report.
        if !files.is_some_and(<[_]>::is_empty) {
            continue;
        }
        for line in c.plugin.modifiers_named(block, "WORK_DIR") {
            let Some(dir) = line.params.first().filter(|d| !d.value.starts_with('/')) else {
                continue;
            };
            let p = c
                .problem(
                    dir.span,
                    format!(
                        "`microservices/{}/` has no files, so this WORK_DIR is taken from COSMOS's own folder: {}",
                        folder.value,
                        join(WRAPPER_DIR, &dir.value)
                    ),
                )
                .with_label("relative, with nothing to be relative to")
                .with_help("put the microservice's files in its folder, or give an absolute WORK_DIR");
            c.emit(p);
        }
    }
}
